#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# callgrind.sh: client instructions per GET, libjr vs hiredis (async, libuv
# adapter), at depth 64 against a private redis-server.
#
#   bench/callgrind.sh [--n1 N] [--n2 N] [--depth D] [--size S] [--top K]
#                      [--keep DIR] [--bin path/to/jr-benchmark] [--cluster]
#
# Runs jr-benchmark under valgrind --tool=callgrind for n1 and n2 GETs and
# prints (Ir(n2) - Ir(n1)) / (n2 - n1): user-space instructions of the whole
# client process (every thread) per command, with setup cost removed. Then
# the top functions by self cost of the libjr n2 run (callgrind_annotate), and
# those inside libjr itself. --keep DIR keeps the callgrind.out files.
# --cluster: the server is a one-node Redis Cluster (all slots) and only
# libjr runs (jr-benchmark --cluster: 16384 keys, routed by slot), to show
# what slot routing adds per command; hiredis has no cluster routing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=bench/common.sh
. "$here/common.sh"

n1=20000
n2=120000
depth=64
size=3
top=25
keep=""
bin=""
cluster=""
while [ $# -gt 0 ]; do
  case "$1" in
    --n1) n1="$2"; shift ;;
    --n2) n2="$2"; shift ;;
    --depth) depth="$2"; shift ;;
    --size) size="$2"; shift ;;
    --top) top="$2"; shift ;;
    --keep) keep="$2"; shift ;;
    --bin) bin="$2"; shift ;;
    --cluster) cluster=--cluster ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "callgrind.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$n2" -gt "$n1" ] || { echo "callgrind.sh: need n2 > n1" >&2; exit 2; }
[ -n "$bin" ] || bin="$(find_bin "$root")"
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "callgrind.sh: jr-benchmark not found (build it or pass --bin)" >&2
  exit 2
fi
for tool in valgrind callgrind_annotate redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "callgrind.sh: $tool not found" >&2; exit 2; }
done

tmp="$(mktemp -d /tmp/jr-callgrind.XXXXXX)"
start_redis "$tmp" $cluster
out="${keep:-$tmp}"
mkdir -p "$out"

# run <client> <n>: prints the total Ir of the run.
run() {
  local f="$out/callgrind.$1.$2.out"
  valgrind --tool=callgrind --callgrind-out-file="$f" \
    "$bin" -h 127.0.0.1 -p "$redis_port" --client "$1" --op GET --size "$size" \
    --depth "$depth" -n "$2" --timeout-ms 0 $cluster >"$out/run.$1.$2.txt" 2>"$out/valgrind.$1.$2.log" || {
    echo "callgrind.sh: run $1 n=$2 failed:" >&2
    cat "$out/run.$1.$2.txt" "$out/valgrind.$1.$2.log" >&2
    exit 1
  }
  grep -q ' errors=0' "$out/run.$1.$2.txt" || {
    echo "callgrind.sh: run $1 n=$2 had errors: $(cat "$out/run.$1.$2.txt")" >&2
    exit 1
  }
  sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$f" | head -1
}

clients="libjr hiredis"
where="a standalone server"
if [ -n "$cluster" ]; then clients=libjr; where="a one-node Redis Cluster (jr-benchmark --cluster)"; fi
echo "# client instructions per GET: valgrind callgrind, depth $depth, size $size, (Ir(n2)-Ir(n1))/(n2-n1), n1=$n1 n2=$n2, on $where"
printf '%-8s %16s %16s %12s\n' client "Ir(n1)" "Ir(n2)" "Ir/GET"
declare -A per
for client in $clients; do
  i1="$(run "$client" "$n1")"
  i2="$(run "$client" "$n2")"
  per[$client]="$(awk -v a="$i1" -v b="$i2" -v n1="$n1" -v n2="$n2" 'BEGIN { printf "%.0f", (b - a) / (n2 - n1) }')"
  printf '%-8s %16s %16s %12s\n' "$client" "$i1" "$i2" "${per[$client]}"
done
if [ -z "$cluster" ]; then
  awk -v a="${per[libjr]}" -v b="${per[hiredis]}" 'BEGIN { printf "libjr/hiredis instructions per GET: %.2f\n", a / b }'
fi

# Per-function cost per GET: self (or inclusive) Ir of each function in the
# n2 run minus the n1 run, over n2 - n1, so setup (dynamic linking, connect)
# cancels out as it does for the totals.
# profile <client> <yes|no> [filter-regex]
profile() {
  local f
  for n in "$n1" "$n2"; do
    callgrind_annotate --inclusive="$2" --threshold=100 "$out/callgrind.$1.$n.out" 2>/dev/null |
      awk -v n="$n" '!done && /file:function/ {on = 1; next} on && /^$/ {on = 0; done = 1} on && /^ *[0-9,]+ \(/ {
        v = $1; gsub(",", "", v); sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, ""); print n "\t" v "\t" $0 }'
  done | awk -F'\t' -v n1="$n1" -v n2="$n2" -v re="${3:-}" -v top="$top" -v total="${per[$1]}" '
    re != "" && $3 !~ re { next }
    { if ($1 == n1) a[$3] = $2; else b[$3] = $2 }
    END {
      for (k in b) {
        d = (b[k] - a[k]) / (n2 - n1)
        if (d >= 0.5) printf "%.1f\t%s\n", d, k
      }
    }' | sort -t$'\t' -k1,1gr | head -n "$top" | awk -F'\t' -v total="${per[$1]}" '{
      name = $2; obj = ""
      if (match(name, / \[[^]]*\]$/)) { obj = substr(name, RSTART + 2, RLENGTH - 3); name = substr(name, 1, RSTART - 1) }
      sub(/^[^:]*:/, "", name)                 # drop the source file
      sub(/.*\//, "", obj)                     # object basename
      if (length(name) > 78) name = substr(name, 1, 75) "..."
      printf "%8.1f %5.1f%%  %-78s %s\n", $1, 100 * $1 / total, name, obj }'
}

echo
echo "# libjr run: top $top functions by self Ir per GET (whole process; setup removed)"
printf '%8s %6s  %s\n' Ir/GET share function
profile libjr no
echo
echo "# libjr run: functions inside libjr by inclusive Ir per GET"
printf '%8s %6s  %s\n' Ir/GET share function
profile libjr yes 'libjr\.so'
if [ -z "$cluster" ]; then
  echo
  echo "# hiredis run: top functions by self Ir per GET"
  printf '%8s %6s  %s\n' Ir/GET share function
  top=12 profile hiredis no
fi
if [ -n "$keep" ]; then echo; echo "callgrind files kept in $keep"; fi
