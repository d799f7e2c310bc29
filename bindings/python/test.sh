#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the Python binding's tests against a libjr build tree:
#   bindings/python/test.sh <abs-builddir> <abs-junit-xml>
# Uses the extension meson built (-Dbindings=true) when it is up to date,
# otherwise compiles _jr.c with gcc against <builddir>/libjr.so. The tests
# start their own redis-server on a free loopback port.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
builddir=${1:?usage: test.sh <abs-builddir> <abs-junit-xml>}
xml=${2:?usage: test.sh <abs-builddir> <abs-junit-xml>}
builddir=$(cd "$builddir" && pwd)
PY=/usr/bin/python3

missing=()
for p in python3-dev python3-pytest python3-pytest-asyncio; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

[ -e "$builddir/libjr.so" ] || { echo "no $builddir/libjr.so: build libjr first" >&2; exit 1; }
suffix=$(/usr/bin/python3-config --extension-suffix)
ext="$builddir/bindings/python/_jr$suffix"
if [ -f "$ext" ] && [ "$ext" -nt "$here/_jr.c" ] && [ "$ext" -nt "$repo/include/jr/jr.h" ]; then
  extdir="$builddir/bindings/python"
else
  extdir="$builddir/bindings-python"
  out="$extdir/_jr$suffix"
  if [ ! -f "$out" ] || [ "$here/_jr.c" -nt "$out" ] || [ "$repo/include/jr/jr.h" -nt "$out" ]; then
    mkdir -p "$extdir"
    # shellcheck disable=SC2046
    gcc -std=c99 -O2 -g -Wall -Wextra -shared -fPIC $(/usr/bin/python3-config --includes) \
      -I"$repo/include" -I"$builddir/include" "$here/_jr.c" -o "$out.tmp" \
      -L"$builddir" -ljr -Wl,-rpath,"$builddir"
    mv "$out.tmp" "$out"
  fi
fi

export PYTHONPATH="$here:$extdir${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
cd "$here"
exec "$PY" -m pytest -q -p no:cacheprovider --junitxml="$xml" tests
