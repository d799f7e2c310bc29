#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the Go binding's tests against a libjr build tree:
#   bindings/go/test.sh <abs-builddir> <abs-junit-xml>
# Starts a redis-server on a free loopback port (stopped by PID on exit),
# passes it as JR_TEST_ENDPOINT, runs `go test -race -v -count=1` with
# PKG_CONFIG_PATH=<builddir>/meson-uninstalled and an rpath to the build
# tree, and writes JUnit XML through scripts/junit_from.py. Exits non-zero
# on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
builddir=${1:?usage: test.sh <abs-builddir> <abs-junit-xml>}
xml=${2:?usage: test.sh <abs-builddir> <abs-junit-xml>}
builddir=$(cd "$builddir" && pwd)

command -v go >/dev/null || { echo "go not found (apt-get install golang-go)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not found" >&2; exit 1; }
[ -e "$builddir/libjr.so" ] || { echo "no $builddir/libjr.so: build libjr first" >&2; exit 1; }
[ -f "$builddir/meson-uninstalled/jr-uninstalled.pc" ] ||
  { echo "no $builddir/meson-uninstalled/jr-uninstalled.pc" >&2; exit 1; }

export PKG_CONFIG_PATH="$builddir/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# #cgo pkg-config adds no rpath; take the folder from -L (the .pc's libdir
# variable is wrong for a build tree).
libdir=$(pkg-config --libs-only-L jr | sed 's/^ *-L//; s/ .*//')
export CGO_LDFLAGS="-Wl,-rpath,${libdir:-$builddir} ${CGO_LDFLAGS:-}"
export GOPROXY=off GO111MODULE=on
export GOCACHE="${GOCACHE:-$builddir/bindings-go-cache}"

# A disposable redis-server on a free loopback port.
tmp=$(mktemp -d /tmp/jr-go-test.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" \
  --logfile "$tmp/redis.log" --daemonize no --enable-debug-command yes &
pid=$!
for _ in $(seq 200); do
  redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
  sleep 0.05
done
redis-cli -p "$port" ping 2>/dev/null | grep -q PONG || { echo "redis-server did not start" >&2; exit 1; }
export JR_TEST_ENDPOINT="127.0.0.1:$port"

cd "$here"
go vet ./...
rm -f "${xml%.xml}-loop.xml"
go test -race -v -count=1 ./... 2>&1 | python3 "$repo/scripts/junit_from.py" go go "$xml"
# Again with Options.LoopDelivery (callbacks on libjr's loop thread).
JR_TEST_LOOP_DELIVERY=1 go test -race -v -count=1 ./... 2>&1 |
  python3 "$repo/scripts/junit_from.py" go go-loop "${xml%.xml}-loop.xml"
