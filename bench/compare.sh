#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# compare.sh: libjr vs hiredis (async, libuv adapter) vs redis-benchmark, one
# connection, closed loop, on a private redis-server.
#
#   bench/compare.sh [--quick] [--secs S] [--reps R] [--depths "1 16 64"]
#                    [--bin path/to/jr-benchmark] [--socket] [--pin]
#
# For every depth K, op GET/SET and value size 3/1000 it prints the ops/s of
#   libjr      jr-benchmark --client libjr   --depth K (K in flight, closed loop)
#   hiredis    jr-benchmark --client hiredis --depth K (same loop, one thread)
#   redis-bm   redis-benchmark -c 1 -P K (batches of K: send K, wait for K)
# and the ratios libjr/hiredis and libjr/redis-benchmark, then a blocking
# round-trip line (jr_client_call vs hiredis redisCommand, p50).
# Every cell is measured --reps times (default 3, interleaved libjr, hiredis,
# redis-benchmark) for --secs each (default 0.5) and the median is shown: the
# full table takes about two minutes. --quick: one 0.3 s run per cell.
# --pin: the server on CPU 0 and every client on CPU 1 (taskset). On a small
# VM the scheduler otherwise puts the client and the server on one CPU in
# some runs and not in others, and the cells swing by 2x between runs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=bench/common.sh
. "$here/common.sh"

secs=0.5
reps=3
depths="1 16 64 256 1024"
ops="GET SET"
sizes="3 1000"
bin=""
use_socket=0
pin=0

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) secs=0.3; reps=1 ;;
    --secs) secs="$2"; shift ;;
    --reps) reps="$2"; shift ;;
    --depths) depths="$2"; shift ;;
    --bin) bin="$2"; shift ;;
    --socket) use_socket=1 ;;
    --pin) pin=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

[ -n "$bin" ] || bin="$(find_bin "$root")"
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "compare.sh: jr-benchmark not found (build it or pass --bin)" >&2
  exit 2
fi
for tool in redis-server redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool not found" >&2; exit 2; }
done

# ---- a private redis-server on a free port -------------------------------------
tmp="$(mktemp -d /tmp/jr-compare.XXXXXX)"
start_redis "$tmp"
port="$redis_port"
sock="$redis_sock"

cpu=()
if [ "$pin" -eq 1 ]; then
  [ "$(nproc)" -ge 2 ] || { echo "compare.sh: --pin needs 2 CPUs" >&2; exit 2; }
  taskset -pc 0 "$redis_pid" >/dev/null
  cpu=(taskset -c 1)
fi

if [ "$use_socket" -eq 1 ]; then
  target=(-s "$sock"); rb_target=(-s "$sock")
else
  target=(-h 127.0.0.1 -p "$port"); rb_target=(-h 127.0.0.1 -p "$port")
fi

# ---- helpers ---------------------------------------------------------------------
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# jr <client> <op> <size> <depth>: "ops_per_s p50_us"
jr() {
  local out
  out="$("${cpu[@]}" "$bin" "${target[@]}" --client "$1" --op "$2" --size "$3" --depth "$4" --duration "$secs")" || {
    echo "compare.sh: jr-benchmark --client $1 --op $2 --size $3 --depth $4 failed" >&2; exit 1; }
  echo "$(field ops_per_s <<<"$out") $(field p50_us <<<"$out")"
}

# rb <op> <size> <depth> <n>: ops/s of redis-benchmark -c 1 -P depth
rb() {
  if [ "$1" = GET ]; then
    redis-cli "${rb_target[@]}" -x set 'key:__rand_int__' < <(head -c "$2" /dev/zero | tr '\0' x) >/dev/null
  fi
  local lc
  lc="$(tr '[:upper:]' '[:lower:]' <<<"$1")"
  timeout 120 "${cpu[@]}" redis-benchmark "${rb_target[@]}" -c 1 -P "$3" -n "$4" -t "$lc" -d "$2" --csv -q |
    awk -F'","' 'NR==2 {print $2}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

transport=tcp
[ "$use_socket" -eq 1 ] && transport=unix
echo "# libjr vs hiredis-async vs redis-benchmark: one connection, $transport, redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), $(nproc) cpus"
echo "# ${secs}s per cell, median of $reps; depth = commands in flight (redis-bm: -c 1 -P depth)$([ "$pin" -eq 1 ] && echo "; server on CPU 0, clients on CPU 1")"
printf '%-4s %5s %5s | %10s %10s %10s | %10s %8s | %8s %8s\n' \
  op size depth libjr hiredis redis-bm jr/hiredis jr/rb jr_p50us hr_p50us
printf '%s\n' "-----------------+----------------------------------+---------------------+------------------"

for size in $sizes; do
  for op in $ops; do
    for k in $depths; do
      jv=(); hv=(); rv=(); jp=(); hp=()
      for _ in $(seq "$reps"); do
        res="$(jr libjr "$op" "$size" "$k")"; read -r a b <<<"$res"; jv+=("$a"); jp+=("$b")
        res="$(jr hiredis "$op" "$size" "$k")"; read -r a b <<<"$res"; hv+=("$a"); hp+=("$b")
        # Size redis-benchmark's -n to take about the same time.
        n="$(awk -v a="$a" -v b="${jv[-1]}" -v s="$secs" -v k="$k" 'BEGIN {
          r = (a > b ? a : b) * s; if (r < 20 * k) r = 20 * k; if (r < 2000) r = 2000; printf "%d", r }')"
        res="$(rb "$op" "$size" "$k" "$n")"; rv+=("${res:-0}")
      done
      j="$(median "${jv[@]}")"; h="$(median "${hv[@]}")"; r="$(median "${rv[@]}")"
      printf '%-4s %5s %5s | %10.0f %10.0f %10.0f | %10s %8s | %8.1f %8.1f\n' \
        "$op" "$size" "$k" "$j" "$h" "$r" "$(ratio "$j" "$h")" "$(ratio "$j" "$r")" \
        "$(median "${jp[@]}")" "$(median "${hp[@]}")"
    done
  done
done

# ---- blocking round trip ------------------------------------------------------------
jb=(); hb=()
for _ in $(seq "$reps"); do
  jb+=("$("${cpu[@]}" "$bin" "${target[@]}" --blocking --client libjr --op GET --size 3 --duration "$secs" | field p50_us)")
  hb+=("$("${cpu[@]}" "$bin" "${target[@]}" --blocking --client hiredis --op GET --size 3 --duration "$secs" | field p50_us)")
done
j="$(median "${jb[@]}")"; h="$(median "${hb[@]}")"
echo
printf 'blocking GET p50 round trip: libjr jr_client_call %.1f us, hiredis redisCommand %.1f us, libjr/hiredis %s\n' \
  "$j" "$h" "$(ratio "$j" "$h")"
