# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Sourced by the bench scripts: locate jr-benchmark, take a median, and run
# a private redis-server on a free port (stopped by PID on exit).

# find_bin <root>: prints the jr-benchmark path ($JR_BENCHMARK wins).
find_bin() {
  if [ -n "${JR_BENCHMARK:-}" ]; then echo "$JR_BENCHMARK"; return; fi
  local b
  for b in "$1/build-bench/bench/jr-benchmark" "$1/build/bench/jr-benchmark"; do
    if [ -x "$b" ]; then echo "$b"; return; fi
  done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# median <numbers...>: prints their median.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# start_redis <dir> [--cluster]: sets redis_port, redis_sock, redis_pid;
# installs an EXIT trap that stops the server and removes <dir>. --cluster:
# a one-node Redis Cluster that owns all 16384 slots (its address announced:
# a node that never met a peer reports an empty host in CLUSTER SLOTS).
start_redis() {
  local dir="$1" p extra=()
  if [ "${2:-}" = --cluster ]; then
    extra=(--cluster-enabled yes --cluster-config-file "$dir/nodes.conf"
      --cluster-announce-ip 127.0.0.1)
  fi
  redis_port=0
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    if [ "$p" -ne 6379 ] && port_free "$p" && port_free $((p + 10000)); then redis_port=$p; break; fi
  done
  [ "$redis_port" -ne 0 ] || { echo "no free port" >&2; return 1; }
  redis_sock="$dir/redis.sock"
  redis_pid=""
  _redis_dir="$dir"
  trap stop_redis EXIT
  trap 'exit 130' INT TERM
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
    --unixsocket "$redis_sock" --unixsocketperm 700 "${extra[@]}" >/dev/null
  for _ in $(seq 100); do
    [ -s "$dir/redis.pid" ] && redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.05
  done
  redis_pid="$(cat "$dir/redis.pid" 2>/dev/null || true)"
  if [ -z "$redis_pid" ] || ! redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; then
    echo "redis-server did not start" >&2
    cat "$dir/redis.log" >&2 || true
    return 1
  fi
  if [ "${#extra[@]}" -gt 0 ]; then
    redis-cli -p "$redis_port" cluster addslotsrange 0 16383 >/dev/null
    for _ in $(seq 100); do
      redis-cli -p "$redis_port" cluster info | grep -q '^cluster_state:ok' && return 0
      sleep 0.1
    done
    echo "one-node cluster did not become ok" >&2
    return 1
  fi
}

stop_redis() {
  if [ -n "${redis_pid:-}" ]; then
    kill "$redis_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
    redis_pid=""
  fi
  [ -n "${_redis_dir:-}" ] && rm -rf "$_redis_dir"
  return 0
}
