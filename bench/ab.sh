#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ab.sh: A/B of jr-benchmark builds (or options) against redis-benchmark, on
# one private redis-server, interleaved, in one run.
#
#   bench/ab.sh [--pin] [--secs S] [--reps R] [--depths "64 256"]
#               [--ops "GET SET"] [--sizes "3 1000"] NAME=SPEC ...
#
# SPEC is a jr-benchmark path, optionally preceded by extra arguments and
# VAR=value environment settings joined with '+' and a ':' (e.g.
# old=/tmp/base/build/bench/jr-benchmark new=build/bench/jr-benchmark
# hr=--client+hiredis:build/bench/jr-benchmark).
# Every cell runs each variant and redis-benchmark -c 1 -P depth in turn,
# --reps times (default 3) for --secs (default 0.5), and prints the medians
# on one line. --pin puts the server on CPU 0 and the clients on CPU 1.
# Use it to decide a change: the machine's noise is larger than most
# effects between runs, much smaller inside one interleaved run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/common.sh
. "$here/common.sh"

secs=0.5
reps=3
depths="64 256 1024"
ops="GET SET"
sizes="3"
pin=0
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pin) pin=1 ;;
    --secs) secs="$2"; shift ;;
    --reps) reps="$2"; shift ;;
    --depths) depths="$2"; shift ;;
    --ops) ops="$2"; shift ;;
    --sizes) sizes="$2"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *=*) variants+=("$1") ;;
    *) echo "ab.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ ${#variants[@]} -gt 0 ] || { echo "ab.sh: give at least one NAME=SPEC" >&2; exit 2; }

tmp="$(mktemp -d /tmp/jr-ab.XXXXXX)"
start_redis "$tmp"
port="$redis_port"
cpu=()
if [ "$pin" -eq 1 ]; then
  taskset -pc 0 "$redis_pid" >/dev/null
  cpu=(taskset -c 1)
fi


# run_variant <spec> <op> <size> <depth>: ops/s
run_variant() {
  local spec="$1" bin words=() envs=() extra=() w
  bin="${spec##*:}"
  if [ "$bin" != "$spec" ]; then
    IFS='+' read -r -a words <<<"${spec%:*}"
  fi
  for w in "${words[@]}"; do
    case "$w" in
      [A-Z_]*=*) envs+=("$w") ;;  # an environment variable for the run
      *) extra+=("$w") ;;
    esac
  done
  env "${envs[@]}" "${cpu[@]}" "$bin" "${extra[@]}" -p "$port" --op "$2" --size "$3" \
    --depth "$4" --duration "$secs" | sed -n 's/.* ops_per_s=\([^ ]*\).*/\1/p'
}

run_rb() {
  local lc n
  lc="$(tr '[:upper:]' '[:lower:]' <<<"$1")"
  # About --secs of work: ~40k requests/s per request in flight at low
  # depths (one round trip each), at most 2M/s.
  n="$(awk -v k="$3" -v s="$secs" 'BEGIN { n = 40000 * k * s; if (n > 2000000 * s) n = 2000000 * s
    if (n < 20 * k) n = 20 * k; printf "%d", n }')"
  timeout 120 "${cpu[@]}" redis-benchmark -p "$port" -c 1 -P "$3" -n "$n" -t "$lc" -d "$2" --csv -q |
    awk -F'","' 'NR==2 {print $2}'
}

for size in $sizes; do
  head -c "$size" /dev/zero | tr '\0' x | redis-cli -p "$port" -x set 'key:__rand_int__' >/dev/null
  for op in $ops; do
    for k in $depths; do
      declare -A res=()
      for _ in $(seq "$reps"); do
        for v in "${variants[@]}"; do
          res[${v%%=*}]+=" $(run_variant "${v#*=}" "$op" "$size" "$k")"
        done
        res[rb]+=" $(run_rb "$op" "$size" "$k")"
      done
      line="$op size=$size depth=$k"
      for v in "${variants[@]}" rb=; do
        name="${v%%=*}"
        # shellcheck disable=SC2086
        line+=" $name=$(median ${res[$name]})"
      done
      echo "$line"
      unset res
    done
  done
done
