#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the Rust binding's tests against a libjr build tree:
#   bindings/rust/test.sh <abs-builddir> <abs-junit-xml>
# Starts a redis-server on a free loopback port (stopped by PID on exit),
# passes it as JR_TEST_ENDPOINT, runs `cargo test --offline` with
# PKG_CONFIG_PATH=<builddir>/meson-uninstalled, and writes JUnit XML through
# scripts/junit_from.py. Exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
builddir=${1:?usage: test.sh <abs-builddir> <abs-junit-xml>}
xml=${2:?usage: test.sh <abs-builddir> <abs-junit-xml>}
builddir=$(cd "$builddir" && pwd)

if ! command -v cargo >/dev/null 2>&1; then
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:/root/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || { echo "cargo not found (rustup installs it)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not found" >&2; exit 1; }
[ -e "$builddir/libjr.so" ] || { echo "no $builddir/libjr.so: build libjr first" >&2; exit 1; }

if [ -f "$builddir/meson-uninstalled/jr-uninstalled.pc" ]; then
  export PKG_CONFIG_PATH="$builddir/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
else
  export JR_LIB_DIR="$builddir"
fi
export CARGO_TARGET_DIR="$builddir/bindings-rust-target"

# A disposable redis-server on a free loopback port.
tmp=$(mktemp -d /tmp/jr-rust-test.XXXXXX)
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
cargo test --offline --workspace --no-fail-fast 2>&1 | python3 "$repo/scripts/junit_from.py" cargo rust "$xml"
