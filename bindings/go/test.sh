#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks and tests the Go binding:
#   bindings/go/test.sh <abs-builddir> <abs-junit-xml>
#
# libjr is found the way a user's build finds it, through `#cgo pkg-config:
# jr`: from $JR_PREFIX when it is set (an installed libjr, <prefix>/lib/
# pkgconfig/jr.pc; scripts/test exports it after `meson install`), else from
# the build tree (<builddir>/meson-uninstalled/jr-uninstalled.pc, which
# pkg-config takes for `jr`). The binaries get an rpath to that library.
#
# With the machine's go (1.26 here):
#   gofmt -l, LICENSE = ../../LICENSE, go vet, staticcheck (the pinned
#   $staticcheck_version, go-installed from the module proxy into
#   <builddir>/bindings-go-bin once), the example against the test server
#                                                      -> <xml>-checks.xml
#   go test -race, libjr's dispatcher goroutine        -> <xml>
#   go test -race, Options.LoopDelivery                -> <xml>-loop.xml
# With the oldest Go that go.mod declares (its `go` line: Debian's
# golang-1.19-go, /usr/lib/go-1.19/bin/go; JR_GO_OLDEST=/path/to/bin/go for
# another, JR_GO_OLDEST=skip to leave it out):
#   go vet, go test -race in both modes               -> <xml>-go1.19.xml
# A disposable redis-server on a free loopback port (stopped by PID on exit)
# is passed as JR_TEST_ENDPOINT. Every step runs; exits non-zero if any
# failed.
# JR_BINDINGS_RESP3=1 (scripts/test-bindings --resp3, against a libjr built
# with hiredis 1.2): only go test -race -run 'RESP3|ClientCache' (the RESP3
# kinds, client-side caching over RESP2 and RESP3) -> <xml>, with
# JR_EXPECT_RESP3=1, so a libjr without RESP3 fails them instead of
# skipping; no checks, no oldest Go.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
builddir=${1:?usage: test.sh <abs-builddir> <abs-junit-xml>}
xml=${2:?usage: test.sh <abs-builddir> <abs-junit-xml>}
builddir=$(cd "$builddir" && pwd)
base=${xml%.xml}
staticcheck_version=v0.8.2 # staticcheck 2026.2.2: analyses Go up to 1.26

command -v go >/dev/null || { echo "go not found (apt-get install golang-go)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not found" >&2; exit 1; }
command -v pkg-config >/dev/null || { echo "pkg-config not found" >&2; exit 1; }

if [ -n "${JR_PREFIX:-}" ]; then
  [ -f "$JR_PREFIX/lib/pkgconfig/jr.pc" ] ||
    { echo "JR_PREFIX=$JR_PREFIX has no lib/pkgconfig/jr.pc" >&2; exit 1; }
  pcdir=$JR_PREFIX/lib/pkgconfig
else
  [ -e "$builddir/libjr.so" ] || { echo "no $builddir/libjr.so: build libjr first" >&2; exit 1; }
  [ -f "$builddir/meson-uninstalled/jr-uninstalled.pc" ] ||
    { echo "no $builddir/meson-uninstalled/jr-uninstalled.pc" >&2; exit 1; }
  pcdir=$builddir/meson-uninstalled
fi
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# #cgo pkg-config adds no rpath; take the folder from -L (for a build tree
# the .pc's libdir variable names a folder that does not exist).
libdir=$(pkg-config --libs-only-L jr | sed 's/^ *-L//; s/ .*//')
[ -n "$libdir" ] && [ -d "$libdir" ] || { echo "pkg-config gives no -L for jr" >&2; exit 1; }
echo "libjr: $(pkg-config --modversion jr) from $pcdir (library in $libdir)"
export CGO_LDFLAGS="-Wl,-rpath,$libdir ${CGO_LDFLAGS:-}"
export GO111MODULE=on GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
export GOCACHE="${GOCACHE:-$builddir/bindings-go-cache}"

resp3_only=${JR_BINDINGS_RESP3:-0}
# The oldest Go the module declares.
[ "$resp3_only" = 1 ] && JR_GO_OLDEST=skip
min=$(sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' "$here/go.mod")
[ -n "$min" ] || { echo "no go line in $here/go.mod" >&2; exit 1; }
oldest=${JR_GO_OLDEST:-/usr/lib/go-$min/bin/go}
if [ "$oldest" != skip ]; then
  [ -x "$oldest" ] || {
    echo "no Go $min at $oldest: apt-get install golang-$min-go, or set JR_GO_OLDEST" >&2
    exit 1
  }
  v=$("$oldest" env GOVERSION)
  case "$v" in
  "go$min" | "go$min".*) ;;
  *) echo "$oldest is $v, go.mod declares go $min" >&2; exit 1 ;;
  esac
fi

# staticcheck, pinned, from the module proxy (the one step that downloads).
sc="$builddir/bindings-go-bin/staticcheck"
if [ "$resp3_only" != 1 ] && ! "$sc" -version 2>/dev/null | grep -q "(${staticcheck_version#v})"; then
  echo "== go install honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
  (cd "$here" && GOBIN="$builddir/bindings-go-bin" \
    go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version")
fi
# The module itself needs nothing from outside the standard library.
export GOPROXY=off

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
rm -f "$xml" "$base"-*.xml
status=0

if [ "$resp3_only" = 1 ]; then
  echo "== go $(go env GOVERSION): go test -race -run 'RESP3|ClientCache', JR_EXPECT_RESP3=1"
  JR_EXPECT_RESP3=1 go test -race -v -count=1 -run 'RESP3|ClientCache' . 2>&1 |
    python3 "$repo/scripts/junit_from.py" go go-resp3 "$xml" || status=1
  exit $status
fi

# check NAME CMD...: runs CMD and prints it as a `go test -v` case for
# junit_from.py. For gofmt -l, an output (the files it would change) fails.
check() {
  local name=$1 out t0 dt rc=0
  shift
  t0=${EPOCHREALTIME//[!0-9]/}
  out=$("$@" 2>&1) || rc=$?
  [ -n "$out" ] && printf '%s\n' "$out"
  [ "$name" = gofmt ] && [ -n "$out" ] && rc=1
  dt=$(((${EPOCHREALTIME//[!0-9]/} - t0) / 10000))
  printf -- '--- %s: %s (%d.%02ds)\n' "$([ $rc = 0 ] && echo PASS || echo FAIL)" "$name" \
    $((dt / 100)) $((dt % 100))
}
{
  echo "== go $(go env GOVERSION): gofmt, vet, staticcheck, example"
  check gofmt gofmt -l .
  check license cmp LICENSE ../../LICENSE # the module zip holds only this folder
  check go-vet go vet ./...
  check staticcheck "$sc" ./...
  check example env REDIS_URL="redis://$JR_TEST_ENDPOINT" go run ./example
} | python3 "$repo/scripts/junit_from.py" go go-checks "$base-checks.xml" || status=1

# The suite, on the dispatcher goroutine and with Options.LoopDelivery
# (callbacks on libjr's loop thread).
echo "== go $(go env GOVERSION): go test -race (dispatcher, loop delivery)"
go test -race -v -count=1 ./... 2>&1 | python3 "$repo/scripts/junit_from.py" go go "$xml" ||
  status=1
JR_TEST_LOOP_DELIVERY=1 go test -race -v -count=1 ./... 2>&1 |
  python3 "$repo/scripts/junit_from.py" go go-loop "$base-loop.xml" || status=1

if [ "$oldest" != skip ]; then
  echo "== $("$oldest" env GOVERSION) (go.mod: go $min): vet, go test -race (both modes)"
  # Test names get a go1.19- prefix; a run that fails without a failing
  # test (it did not build) is a failure of its own.
  oldtest() {
    local name=$1 rc=0
    shift
    env "$@" "$oldest" test -race -v -count=1 ./... 2>&1 | sed "s/^\(\s*--- [A-Z]*: \)/\1$name-/" ||
      rc=$?
    [ $rc = 0 ] || echo "--- FAIL: $name (go test exited $rc)"
  }
  {
    check "go$min-vet" "$oldest" vet ./...
    oldtest "go$min"
    oldtest "go$min-loop" JR_TEST_LOOP_DELIVERY=1
  } | python3 "$repo/scripts/junit_from.py" go "go$min" "$base-go$min.xml" || status=1
fi
exit $status
