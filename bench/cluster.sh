#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cluster.sh: libjr throughput on a 1-master vs a 3-master Redis Cluster.
#
#   bench/cluster.sh [--quick] [--secs S] [--reps R] [--depths "64 256"]
#                    [--size N] [--no-rb] [--bin path/to/jr-benchmark]
#
# Starts two private clusters on free loopback ports (no replicas, no
# persistence): A = one master holding all 16384 slots (CLUSTER ADDSLOTSRANGE),
# B = three masters (redis-cli --cluster create). For every op GET/SET and
# depth K it runs
#   jr-benchmark --cluster --op OP --depth K   (K in flight over all keys
#                jrbench:{0..16383}, routed by slot: one connection per master)
# against A and B, interleaved, --reps times (default 5) for --secs each
# (default 1), and prints the medians, the B/A ratio, and the client's CPU
# (100% = one core). As a reference, redis-benchmark --cluster with one
# client per master and K/masters pipelined each (K in flight, one connection
# per master; on A without --cluster, which redis-benchmark refuses for one
# node) is run on the same clusters (--no-rb skips it). All servers are
# stopped by PID on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=bench/common.sh
. "$here/common.sh"

secs=1
reps=5
depths="64 256"
ops="GET SET"
size=3
bin=""
use_rb=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) secs=0.3; reps=1 ;;
    --secs) secs="$2"; shift ;;
    --reps) reps="$2"; shift ;;
    --depths) depths="$2"; shift ;;
    --size) size="$2"; shift ;;
    --no-rb) use_rb=0 ;;
    --bin) bin="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

[ -n "$bin" ] || bin="$(find_bin "$root")"
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "cluster.sh: jr-benchmark not found (build it or pass --bin)" >&2
  exit 2
fi
for tool in redis-server redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "cluster.sh: $tool not found" >&2; exit 2; }
done

# ---- private clusters ---------------------------------------------------------------
tmp="$(mktemp -d /tmp/jr-cluster.XXXXXX)"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

used=" "
# free_port: a port p with p and its cluster bus port p+10000 free.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    case "$used" in *" $p "*|*" $((p + 10000)) "*) continue ;; esac
    if port_free "$p" && port_free $((p + 10000)); then
      used+="$p $((p + 10000)) "
      echo "$p"
      return
    fi
  done
  echo "cluster.sh: no free port" >&2
  return 1
}

# start_node <port>: a cluster-enabled redis-server; its PID joins pids.
# --cluster-announce-ip: a node that never met a peer (cluster A) does not
# know its own address and reports an empty host in CLUSTER SLOTS ("use the
# address you asked"); libjr skips such ranges (see bench/RESULTS.md), so the
# address is announced explicitly.
start_node() {
  local port="$1" dir="$tmp/$1"
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-announce-ip 127.0.0.1 \
    --cluster-config-file "$dir/nodes.conf" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >/dev/null
  for _ in $(seq 100); do
    [ -s "$dir/redis.pid" ] && redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.05
  done
  local pid
  pid="$(cat "$dir/redis.pid" 2>/dev/null || true)"
  [ -n "$pid" ] && pids+=("$pid")
  if [ -z "$pid" ] || ! redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
    echo "cluster.sh: redis-server on $port did not start" >&2
    cat "$dir/redis.log" >&2 || true
    return 1
  fi
}

# wait_ok <port...>: every node reports cluster_state:ok and knows all masters.
wait_ok() {
  local n=$# p ok
  for _ in $(seq 200); do
    ok=1
    for p in "$@"; do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
      [ "$(redis-cli -p "$p" cluster nodes 2>/dev/null | grep -c master)" -eq "$n" ] || ok=0
    done
    [ "$ok" -eq 1 ] && return 0
    sleep 0.1
  done
  echo "cluster.sh: cluster on ports $* did not become ok" >&2
  return 1
}

a_port="$(free_port)"
start_node "$a_port"
redis-cli -p "$a_port" cluster addslotsrange 0 16383 >/dev/null
b_ports=()
for _ in 1 2 3; do
  p="$(free_port)"
  start_node "$p"
  b_ports+=("$p")
done
redis-cli --cluster create "${b_ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes \
  >"$tmp/create.log" 2>&1 || { cat "$tmp/create.log" >&2; exit 1; }
wait_ok "$a_port"
wait_ok "${b_ports[@]}"

# ---- helpers ---------------------------------------------------------------------------
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

# jr <port> <op> <depth>: "ops_per_s cpu_pct masters"
jr() {
  local out
  out="$("$bin" -h 127.0.0.1 -p "$1" --cluster --op "$2" --size "$size" --depth "$3" \
    --duration "$secs")" || {
    echo "cluster.sh: jr-benchmark -p $1 --op $2 --depth $3 failed" >&2; exit 1; }
  echo "$(field ops_per_s <<<"$out") $(field cpu_pct <<<"$out") $(field masters <<<"$out")"
}

# rb <port> <masters> <op> <depth> <n>: ops/s of redis-benchmark, one client
# per master, depth/masters pipelined each. redis-benchmark --cluster refuses
# clusters of fewer than 3 nodes; the 1-master cluster owns every slot, so it
# is run without --cluster there.
rb() {
  local lc mode=()
  lc="$(tr '[:upper:]' '[:lower:]' <<<"$3")"
  [ "$2" -gt 1 ] && mode=(--cluster)
  timeout 120 redis-benchmark -h 127.0.0.1 -p "$1" "${mode[@]}" -c "$2" -P $(($4 / $2)) -n "$5" \
    -r 16384 -t "$lc" -d "$size" --csv -q 2>/dev/null | awk -F'","' '$1 ~ /^"(GET|SET)$/ {print $2}' || true
}

echo "# libjr on Redis Cluster: 1 master (A) vs 3 masters (B), no replicas, tcp loopback,"
echo "# redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), $(nproc) cpus, ${secs}s per cell, median of $reps;"
echo "# keys jrbench:{0..16383} (GET keys SET first), size $size; cpu = jr-benchmark process CPU (100 = one core)"
if [ "$use_rb" -eq 1 ]; then
  echo "# rb = redis-benchmark [--cluster] -c <masters> -P <depth/masters> -r 16384 (same depth in flight;"
  echo "#      --cluster only for 3 masters: redis-benchmark refuses a 1-node cluster)"
fi
printf '%-4s %5s | %10s %10s %6s | %6s %6s | %10s %10s %6s\n' \
  op depth "libjr 1m" "libjr 3m" "3m/1m" "cpu 1m" "cpu 3m" "rb 1m" "rb 3m" "3m/1m"
printf '%s\n' "-----------+-------------------------------+---------------+------------------------------"
for op in $ops; do
  for k in $depths; do
    a=(); b=(); ac=(); bc=(); ra=(); rbv=()
    for _ in $(seq "$reps"); do
      read -r v c m <<<"$(jr "$a_port" "$op" "$k")"
      [ "$m" = 1 ] || { echo "cluster.sh: A has $m masters, expected 1" >&2; exit 1; }
      a+=("$v"); ac+=("$c")
      read -r v c m <<<"$(jr "${b_ports[0]}" "$op" "$k")"
      [ "$m" = 3 ] || { echo "cluster.sh: B has $m masters, expected 3" >&2; exit 1; }
      b+=("$v"); bc+=("$c")
      if [ "$use_rb" -eq 1 ]; then
        n="$(awk -v a="${a[-1]}" -v b="$v" -v s="$secs" 'BEGIN { r = (a > b ? a : b) * s; if (r < 20000) r = 20000; printf "%d", r }')"
        r1="$(rb "$a_port" 1 "$op" "$k" "$n")"; ra+=("${r1:-0}")
        r3="$(rb "${b_ports[0]}" 3 "$op" "$k" "$n")"; rbv+=("${r3:-0}")
      fi
    done
    ja="$(median "${a[@]}")"; jb="$(median "${b[@]}")"
    if [ "$use_rb" -eq 1 ]; then
      xa="$(median "${ra[@]}")"; xb="$(median "${rbv[@]}")"
      xs="$(printf '%10.0f %10.0f %6s' "$xa" "$xb" "$(ratio "$xb" "$xa")")"
    else
      xs=""
    fi
    printf '%-4s %5s | %10.0f %10.0f %6s | %5.0f%% %5.0f%% | %s\n' "$op" "$k" "$ja" "$jb" \
      "$(ratio "$jb" "$ja")" "$(median "${ac[@]}")" "$(median "${bc[@]}")" "$xs"
  done
done
