#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bindings.sh: pipelined GET throughput at one depth through each binding
# next to the C benchmark, on one private redis-server, interleaved, in one
# run (issue 5's "Rust and Go >= 0.8x the C benchmark at 256").
#
#   bench/bindings.sh [--builddir build/test] [--depth 256] [--reps 3]
#                     [--n 2000000]
#
# Each repetition runs, in turn: jr-benchmark (callbacks resubmit on the
# loop thread), jr-benchmark --threads 1 (a worker thread resubmits), the Go
# benchmarks (Submit and Do, with the dispatcher goroutine and with
# LoopDelivery) and the Rust example (callbacks and futures) when go and
# cargo are there. Prints every sample and, per client, the median and its
# ratio to the median of the C benchmark.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bench/common.sh
. "$here/common.sh"

builddir="$repo/build/test"
depth=256
reps=3
n=2000000
while [ $# -gt 0 ]; do
  case "$1" in
    --builddir) builddir="$(cd "$2" && pwd)"; shift ;;
    --depth) depth="$2"; shift ;;
    --reps) reps="$2"; shift ;;
    --n) n="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bindings.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
bin="$builddir/bench/jr-benchmark"
[ -x "$bin" ] || { echo "no $bin: build with -Dbenchmarks=enabled" >&2; exit 1; }

tmp="$(mktemp -d /tmp/jr-bindings.XXXXXX)"
start_redis "$tmp"
port="$redis_port"
redis-cli -p "$port" set jr:bench:key xxx >/dev/null

export PKG_CONFIG_PATH="$builddir/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export CGO_LDFLAGS="-Wl,-rpath,$builddir" GOPROXY=off GOCACHE="$builddir/bindings-go-cache"
export CARGO_TARGET_DIR="$builddir/bindings-rust-bench" JR_LIB_DIR="$builddir"
export LD_LIBRARY_PATH="$builddir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
have_go=0
have_rust=0
if command -v go >/dev/null && [ "$depth" = 256 ]; then
  (cd "$repo/bindings/go" && go test -c -o "$tmp/go.test" .) && have_go=1
fi
if command -v cargo >/dev/null; then
  (cd "$repo/bindings/rust" &&
    cargo build --offline --release --quiet --example bench) && have_rust=1
fi

declare -A samples
add() { samples[$1]="${samples[$1]:-} $2"; }
c_run() {
  "$bin" -p "$port" -t get -d 3 -c 1 -P "$depth" -n "$n" "$@" --csv 2>/dev/null |
    awk -F, 'NR == 2 { gsub(/"/, "", $2); print $2 }'
}

order=(c-inline c-threads1)
[ "$have_go" = 1 ] && order+=(go-submit go-submit-loop go-do go-do-loop)
[ "$have_rust" = 1 ] && order+=(rust-callback rust-future)
for r in $(seq "$reps"); do
  add c-inline "$(c_run)"
  add c-threads1 "$(c_run --threads 1)"
  if [ "$have_go" = 1 ]; then
    while read -r name ops; do
      case "$name" in
        BenchmarkGetSubmit256-*) add go-submit "$ops" ;;
        BenchmarkGetSubmit256Loop-*) add go-submit-loop "$ops" ;;
        BenchmarkGetDo256-*) add go-do "$ops" ;;
        BenchmarkGetDo256Loop-*) add go-do-loop "$ops" ;;
      esac
    done < <(JR_TEST_ENDPOINT="127.0.0.1:$port" "$tmp/go.test" -test.run '^$' -test.bench . \
      -test.benchtime "${n}x" 2>/dev/null | awk '/^Benchmark/ { print $1, $(NF-1) }')
  fi
  if [ "$have_rust" = 1 ]; then
    while read -r client ops; do
      add "$client" "$ops"
    done < <("$CARGO_TARGET_DIR/release/examples/bench" --endpoint "127.0.0.1:$port" \
      --depth "$depth" --secs 1 --mode both 2>/dev/null |
      sed -n 's/.*client=\([a-z-]*\) .*ops_per_s=\([0-9.]*\).*/\1 \2/p')
  fi
  echo "rep $r done" >&2
done

base=$(median ${samples[c-inline]})
printf '%-16s %12s %8s   %s\n' client median "vs_C" samples
for k in "${order[@]}"; do
  [ -n "${samples[$k]:-}" ] || continue
  # shellcheck disable=SC2086
  m=$(median ${samples[$k]})
  printf '%-16s %12.0f %8.2f  %s\n' "$k" "$m" "$(echo "$m / $base" | bc -l)" "${samples[$k]}"
done
