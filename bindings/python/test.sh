#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tests the Python binding as a user gets it, against an installed libjr:
#   bindings/python/test.sh <abs-builddir> <abs-junit-xml>
# 1. builds the wheel (pip, meson-python from PyPI) against the libjr of
#    $JR_PREFIX (an installed libjr: lib/pkgconfig/jr.pc; scripts/test sets
#    it), or else the build tree's meson-uninstalled jr.pc; checks that it is
#    tagged cp311-abi3 and holds _jr.abi3.so;
# 2. installs it in a fresh venv with pytest, pytest-asyncio and mypy from
#    PyPI; mypy --strict on the installed package and stubtest of the
#    extension's stub;
# 3. runs the suite from a copy outside the source tree (the tests start
#    their own redis-server on free loopback ports), JUnit XML to $2;
# 4. imports the same wheel in every other CPython >= 3.11 found (pyenv).
# JR_BINDINGS_RESP3=1 (scripts/test-bindings --resp3, against a libjr built
# with hiredis 1.2): steps 1 and 2 without mypy, then only the
# protocol-dependent tests (test_resp3.py, the client-side caching tests)
# with JR_EXPECT_RESP3=1, so a libjr without RESP3 fails them.
# Interpreter: $JR_PYTHON, else the first of python3 (pyenv), python3.11,
# /usr/bin/python3 that is >= 3.11 with venv, ensurepip and Python.h
# (Debian's needs python3-venv and python3-dev: scripts/deps).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
builddir=${1:?usage: test.sh <abs-builddir> <abs-junit-xml>}
xml=${2:?usage: test.sh <abs-builddir> <abs-junit-xml>}
builddir=$(cd "$builddir" && pwd)
work=$builddir/python
t0=$SECONDS

if [ -n "${JR_PREFIX:-}" ]; then
  pcdir=$JR_PREFIX/lib/pkgconfig
  [ -f "$pcdir/jr.pc" ] || { echo "JR_PREFIX=$JR_PREFIX: no $pcdir/jr.pc" >&2; exit 1; }
else
  pcdir=$builddir/meson-uninstalled
  [ -f "$pcdir/jr-uninstalled.pc" ] || {
    echo "no $pcdir/jr-uninstalled.pc: build libjr first, or set JR_PREFIX" >&2; exit 1; }
fi

usable() {  # a CPython >= 3.11 that can make a venv with pip and build extensions
  "$1" - <<'PY' 2>/dev/null
import ensurepip, os, sys, sysconfig, venv
ok = sys.version_info >= (3, 11) and sys.implementation.name == 'cpython'
sys.exit(0 if ok and os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')) else 1)
PY
}
py=
for c in ${JR_PYTHON:-} python3 python3.11 /usr/bin/python3; do
  p=$(command -v "$c" 2>/dev/null) || continue
  if usable "$p"; then py=$p; break; fi
done
[ -n "$py" ] || { echo "no CPython >= 3.11 with venv, ensurepip and Python.h (apt-get install python3-venv python3-dev)" >&2; exit 1; }

step() { echo "== $* ($((SECONDS - t0)) s)"; }
rm -rf "$work"
mkdir -p "$work/dist" "$work/tests"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1
# new_venv <python> <dir>: a fresh venv; sets pip=(the command that installs
# into it). The interpreter's own pip does (pip --python: no copy of pip in
# the venv, ~4 s of CPU saved); without one, the venv gets its own.
new_venv() {
  if "$1" -m pip --version >/dev/null 2>&1; then
    "$1" -m venv --without-pip "$2" && pip=("$1" -m pip --python "$2/bin/python")
  else
    "$1" -m venv "$2" && pip=("$2/bin/python" -m pip)
  fi
}
venv=$work/venv
new_venv "$py" "$venv"
main_pip=("${pip[@]}")
echo "python: $("$venv/bin/python" -VV | head -1) ($py); libjr from $pcdir"

step "wheel"
# The wheel, as `pip install ./bindings/python` builds it (isolated build
# environment: meson-python, meson and ninja from PyPI).
PKG_CONFIG_PATH=$pcdir "${main_pip[@]}" wheel -q --no-deps -w "$work/dist" "$here" \
  >"$work/wheel.log" 2>&1 || { cat "$work/wheel.log"; exit 1; }
wheel=$(ls "$work"/dist/*.whl)
"$venv/bin/python" - "$wheel" <<'PY'
import os, sys, zipfile
whl = sys.argv[1]
name = os.path.basename(whl)
so = [n for n in zipfile.ZipFile(whl).namelist() if n.endswith('.so')]
print('wheel:', name, so)
if not name.endswith('-cp311-abi3-linux_x86_64.whl') or so != ['jr/_jr.abi3.so']:
    sys.exit('the wheel is not a cp311-abi3 wheel holding jr/_jr.abi3.so')
PY

status=0
resp3_only=${JR_BINDINGS_RESP3:-0}
if [ "$resp3_only" = 1 ]; then
  step "install it, pytest and pytest-asyncio"
  "${main_pip[@]}" install -q "$wheel" pytest pytest-asyncio
else
  step "install it, pytest, pytest-asyncio and mypy"
  "${main_pip[@]}" install -q "$wheel" pytest pytest-asyncio mypy
fi
cd "$work"  # nothing here is the source tree: `import jr` is the installed one
"$venv/bin/python" - "$venv" <<'PY'
import os, sys
import jr, jr._jr
where = os.path.realpath(jr._jr.__file__)
print('imported', where, 'libjr', jr.libjr_version)
if not where.startswith(os.path.realpath(sys.argv[1]) + '/') or not where.endswith('/_jr.abi3.so'):
    sys.exit('jr was not imported from the venv')
PY
cp -r "$here/tests" "$here/pytest.ini" "$here/README.md" "$work/tests/"
if [ "$resp3_only" = 1 ]; then
  step "pytest: the RESP3 and client-side caching tests, JR_EXPECT_RESP3=1"
  (cd "$work/tests" && JR_EXPECT_RESP3=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    -o junit_suite_name=bindings-python-resp3 --junitxml="$xml" -k '(test_resp3 and not without_resp3) or client_cache' tests) ||
    status=1
  echo "python binding (RESP3 tests): $((SECONDS - t0)) s"
  exit $status
fi
step "pytest; meanwhile mypy --strict -p jr and stubtest jr._jr"
# The type checks run beside the suite (which mostly waits on its servers).
("$venv/bin/mypy" --strict --no-incremental -p jr && "$venv/bin/python" -m mypy.stubtest jr._jr) \
  >"$work/mypy.log" 2>&1 &
mypy_pid=$!
(cd "$work/tests" && "$venv/bin/python" -m pytest -q -p no:cacheprovider --junitxml="$xml" tests) ||
  status=1
wait $mypy_pid || { status=1; echo "mypy or stubtest FAILED:"; }
cat "$work/mypy.log"

# The stable ABI: the same cp311-abi3 wheel imports in each other CPython
# >= 3.11 found (pyenv's versions, python3.N on PATH), in a fresh venv each,
# and runs a command (tests/smoke.py).
step "other CPython versions"
minor() { "$1" -c 'import sys; v = sys.version_info; print("%d.%d" % v[:2] if v >= (3, 11) else "")' 2>/dev/null; }
main=$(minor "$venv/bin/python")
others=()
for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*/bin/python3 $(compgen -c python3. | sort -u); do
  p=$(command -v "$p" 2>/dev/null) || continue
  v=$(minor "$p") || continue
  if [ -z "$v" ] || [ "$v" = "$main" ]; then continue; fi
  [[ " ${others[*]} " == *" $v="* ]] || others+=("$v=$p")
done
[ ${#others[@]} -gt 0 ] || echo "no CPython >= 3.11 other than $main found: the abi3 wheel was imported on $main only"
for o in "${others[@]}"; do
  v=${o%%=*} p=${o#*=}
  if ! { new_venv "$p" "$work/venv-$v" &&
         "${pip[@]}" install -q --no-deps "$wheel" &&
         "$work/venv-$v/bin/python" "$work/tests/tests/smoke.py"; }; then
    echo "CPython $v ($p): FAILED"
    status=1
  fi
done
echo "python binding: $((SECONDS - t0)) s"
exit $status
