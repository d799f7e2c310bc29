#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tests the Rust crates against an installed libjr, as a user builds them:
#   bindings/rust/test.sh <abs-builddir> <abs-junit-xml>
# libjr: $JR_PREFIX/lib/pkgconfig/jr.pc when JR_PREFIX is set (scripts/test
# installs build/test there), else <builddir>/meson-uninstalled.
# Starts a redis-server on a free loopback port (stopped by PID on exit),
# passes it as JR_TEST_ENDPOINT, and runs, each a JUnit test case:
#   - the LICENSE copies in the crates equal the root LICENSE; rustfmt
#   - cargo test --all-features (every test, tests/abi.rs checks jr-sys
#     against jr.h, tests/aio.rs the `tokio` feature's async API,
#     tests/observe.rs the statistics and logs, tests/resp3.rs RESP3 or its
#     refusal, tests/sentinel.rs a sentinel of its own), and the README
#     examples (examples/readme.rs with the default features;
#     examples/aio_readme.rs, which README.md must show verbatim); built
#     without debug info (the build is most of the step)
#   - cargo clippy --all-targets --all-features -D warnings; cargo doc
#     --all-features with -D warnings
#   - cargo package --workspace --offline (packs and builds both .crate
#     files with the crates cargo test fetched; where cargo cannot, the
#     listed files are built by hand, and an "environment:" note says why)
#   - cargo check --all-targets --all-features with the toolchain of the
#     declared rust-version (rustup installs it; JR_RUST_SKIP_MSRV=1 skips
#     it, and says so): every crate, test and example, the `tokio` feature
#     too (tokio 1.38 LTS), compiles with it, against Cargo.lock. A check,
#     not a second test run: the tests ran above, and the same code built
#     by an older compiler differs in what it accepts, not in what it does
#   - only with JR_RUST_RELEASE=1: the `tokio` feature's tests again in a
#     release build (other timings for a dropped future against its
#     completion; ~1 min, so not by default)
#   - only with JR_RUST_MIRI=1: the async API's state machine under Miri
#     (rustup installs nightly with miri; ~3 min, so not by default)
# Crates come from crates.io (pkg-config). Exits non-zero on any failure.
# JR_BINDINGS_RESP3=1 (scripts/test-bindings --resp3, against a libjr built
# with hiredis 1.2): only the protocol-dependent tests, tests/resp3.rs (but
# the refusal that is for hiredis 0.14) and the client-side caching tests of
# tests/observe.rs, with JR_EXPECT_RESP3=1 (a libjr without RESP3 fails them
# instead of skipping). Built in <builddir>'s own target dir against
# $JR_PREFIX; or, with JR_RUST_REUSE_TARGET=<the target dir of a normal run>
# (scripts/test: build/test's), no build at all: that run's tests, as built
# against its libjr (the same jr.h), load $JR_PREFIX's libjr at run time
# (LD_LIBRARY_PATH comes before their RUNPATH).
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

if [ -n "${JR_PREFIX:-}" ]; then
  pc="$JR_PREFIX/lib/pkgconfig"
  [ -f "$pc/jr.pc" ] || { echo "JR_PREFIX=$JR_PREFIX has no lib/pkgconfig/jr.pc: install libjr there" >&2; exit 1; }
else
  pc="$builddir/meson-uninstalled"
  [ -f "$pc/jr-uninstalled.pc" ] || { echo "no $pc/jr-uninstalled.pc: build libjr first" >&2; exit 1; }
fi
export PKG_CONFIG_PATH="$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export CARGO_TARGET_DIR="$builddir/bindings-rust-target"
# What the crates are built with, for a --resp3 run that reuses this build
# (cargo rebuilds jr-sys, and all after it, when PKG_CONFIG_PATH changes).
if [ "${JR_BINDINGS_RESP3:-0}" != 1 ]; then
  mkdir -p "$CARGO_TARGET_DIR" && printf '%s\n' "$PKG_CONFIG_PATH" >"$CARGO_TARGET_DIR/jr-pkg-config-path"
fi
export CARGO_TERM_COLOR=never
# No debug info in the test builds: faster to build and link; a failed
# assertion still names its file and line.
export CARGO_PROFILE_DEV_DEBUG=0
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' "$here/Cargo.toml")
[ -n "$msrv" ] || { echo "no rust-version in $here/Cargo.toml" >&2; exit 1; }

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
log="$tmp/cargo.log"
: >"$log"
# The RUST*/CARGO* variables set, without secrets.
cargo_env() {
  env | grep -E '^(RUST|CARGO)[A-Z_]*=' | grep -v -E 'TOKEN|PASSWORD|SECRET' | sort
}
# What the toolchain is and which of its variables the environment sets
# (a CI failure is read from this log).
{
  echo "== rust: $(cargo --version), $(rustc --version)"
  cargo_env | sed 's/^/   /'
} | tee -a "$log"
# step NAME CMD...: runs CMD, and records "test rust::NAME ... ok|FAILED"
# (the cargo test line format that junit_from.py reads).
step() {
  local name=$1; shift
  local t0=$SECONDS r=ok
  echo "== rust: $name" | tee -a "$log"
  "$@" >"$tmp/step.log" 2>&1 || r=FAILED
  cat "$tmp/step.log" >>"$log"
  [ "$r" = ok ] || tail -60 "$tmp/step.log"
  echo "test rust::$name ... $r ($((SECONDS - t0)) s)" | tee -a "$log"
}

if [ "${JR_BINDINGS_RESP3:-0}" = 1 ]; then
  echo "== rust: cargo test --test resp3 --test observe (RESP3, client cache), JR_EXPECT_RESP3=1"
  t0=$SECONDS r=ok
  sel=(-p jr)
  reuse=${JR_RUST_REUSE_TARGET:-}
  if [ -n "$reuse" ] && [ -n "${JR_PREFIX:-}" ] && [ -f "$reuse/jr-pkg-config-path" ]; then
    # The same PKG_CONFIG_PATH and features as that run: nothing to build.
    CARGO_TARGET_DIR=$reuse PKG_CONFIG_PATH=$(cat "$reuse/jr-pkg-config-path")
    export LD_LIBRARY_PATH="$JR_PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    sel=(--workspace --all-features)
    echo "reusing the tests built in $reuse (PKG_CONFIG_PATH=$PKG_CONFIG_PATH); libjr from $JR_PREFIX/lib"
  fi
  JR_EXPECT_RESP3=1 cargo test --locked "${sel[@]}" --test resp3 --test observe --no-fail-fast -- \
    resp3 client_cache --skip without_resp3 2>&1 | tee -a "$log" || r=FAILED
  echo "test rust::cargo-test-resp3 ... $r ($((SECONDS - t0)) s)" | tee -a "$log"
  python3 "$repo/scripts/junit_from.py" cargo rust-resp3 "$xml" <"$log" >/dev/null
  exit
fi

licenses_match() {
  local ok=0
  for c in jr jr-sys; do
    cmp "$repo/LICENSE" "$c/LICENSE" || { echo "$c/LICENSE differs from LICENSE: copy it"; ok=1; }
  done
  return $ok
}
step license licenses_match
if cargo fmt --version >/dev/null 2>&1; then
  step rustfmt cargo fmt --all --check
fi

# Every test, each its own case; the run as a whole is one more (a build
# that fails runs no test).
echo "== rust: cargo test"
t0=$SECONDS r=ok
cargo test --locked --workspace --all-features --no-fail-fast 2>&1 | tee -a "$log" || r=FAILED
echo "test rust::cargo-test ... $r ($((SECONDS - t0)) s)" | tee -a "$log"

# The async API once more, optimised: other timings for drop vs completion
# (no debug info: the build is most of the step). Opt-in: ~1 min of CI.
if [ "${JR_RUST_RELEASE:-0}" = 1 ]; then
  echo "== rust: cargo test --release (feature tokio)"
  t0=$SECONDS r=ok
  CARGO_PROFILE_RELEASE_DEBUG=0 cargo test --release --locked -p jr --features tokio --lib --test aio --no-fail-fast 2>&1 |
    sed "s/^test \([^ ]*\) \.\.\. /test release::\1 ... /" | tee -a "$log" || r=FAILED
  echo "test rust::release-aio ... $r ($((SECONDS - t0)) s)" | tee -a "$log"
fi

# The README example, against the test server (cargo test built it).
step example-readme env REDIS_URL="redis://$JR_TEST_ENDPOINT" cargo run --locked --example readme
# The async example: README.md shows the file, and it runs.
aio_readme_block() {
  diff <(grep -v '^//' jr/examples/aio_readme.rs) \
    <(awk '/^`jr\/examples\/aio_readme.rs`/ { f = 1 } f && /^```rust$/ { p = 1; next }
           p && /^```$/ { exit } p' README.md) ||
    { echo "README.md's async example differs from jr/examples/aio_readme.rs"; return 1; }
}
step example-aio-block aio_readme_block
step example-aio env REDIS_URL="redis://$JR_TEST_ENDPOINT" cargo run --locked --features tokio --example aio_readme
step clippy cargo clippy --locked --workspace --all-targets --all-features -- -D warnings
step doc env RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --all-features --no-deps

# Both .crate files must hold LICENSE and README.md, and the packaged
# crates must build with their default features, without a warning, as a
# user's project builds them (clippy checks all features). Offline: cargo
# test above fetched every crate the lock file names, and the packaged
# crates are verified against those, not against whatever the index serves
# today.
#
# `cargo package --workspace` packs jr against a temporary registry that
# holds the packed jr-sys (see package_home for what that cost in CI). Some
# cargo configurations refuse that registry (crates-io replaced by a mirror
# or a vendored directory: "no matching package named `jr-sys`"). So when
# cargo package itself fails, the step says why (its error and the cargo
# configuration in effect, also as an "environment:" note at the end of
# scripts/test's output) and checks the same two things by hand: the files
# `cargo package --list` names, copied into a workspace of their own, must
# build the same way. A failure of that check fails the step.
package_checks_built() { # LOG: no "generated N warning(s)" line for our crates
  if grep -q '^warning: `[^`]*` (.*) generated [0-9]* warning' "$1"; then
    echo "the packaged crates build with warnings (above)"
    return 1
  fi
}
cargo_config_in_effect() {
  local d f
  d=$PWD
  for f in "${CARGO_HOME:-$HOME/.cargo}"/config "${CARGO_HOME:-$HOME/.cargo}"/config.toml; do
    [ -f "$f" ] && { echo "--- $f"; grep -v -i -E 'token|password|secret' "$f"; }
  done
  while :; do
    for f in "$d/.cargo/config" "$d/.cargo/config.toml"; do
      [ -f "$f" ] && { echo "--- $f"; grep -v -i -E 'token|password|secret' "$f"; }
    done
    [ "$d" = / ] && break
    d=$(dirname "$d")
  done
  cargo_env
}
package_by_hand() {
  local d="$tmp/packaged" c f want
  rm -rf "$d" && mkdir -p "$d" || return 1
  cp Cargo.toml Cargo.lock README.md "$d/" || return 1
  for c in jr-sys jr; do
    cargo package --locked --offline --allow-dirty --list -p "$c" >"$tmp/files-$c" || return 1
    for want in LICENSE README.md Cargo.toml; do
      grep -qx "$want" "$tmp/files-$c" || { echo "the $c crate would have no $want"; return 1; }
    done
    mkdir -p "$d/$c" && cp "$c/Cargo.toml" "$d/$c/" || return 1
    while read -r f; do
      case $f in
        Cargo.toml | Cargo.toml.orig | Cargo.lock | .cargo_vcs_info.json) continue ;;
      esac
      # jr's README.md is the workspace's (readme = "../README.md").
      [ "$c/$f" = jr/README.md ] && continue
      mkdir -p "$d/$c/$(dirname "$f")" && cp "$c/$f" "$d/$c/$f" || return 1
    done <"$tmp/files-$c"
  done
  (cd "$d" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/packaged" cargo build --locked --offline --workspace) \
    >"$tmp/packaged.log" 2>&1
  f=$?
  cat "$tmp/packaged.log"
  [ "$f" = 0 ] || return 1
  package_checks_built "$tmp/packaged.log"
}
# Three CI runs failed this step while every test passed. The cause:
# cargo unpacks the packed jr-sys from the temporary registry into
# $CARGO_HOME/registry/src/<a hash of the registry's path>/jr-sys-<version>
# and reuses that folder when it exists. Every later run at the same path
# (a CI checkout is always at the same place) verified jr against the
# jr-sys of the first run, which lacked the functions added since ("cannot
# find function `jr_client_submit_many` in crate `sys`"). So cargo package
# runs with a CARGO_HOME of its own: the index and the downloaded crates of
# the real one (links), its configuration, and an empty registry/src.
package_home() {
  local real=${CARGO_HOME:-$HOME/.cargo} home="$tmp/cargo-home" x
  rm -rf "$home" && mkdir -p "$home/registry/src" || return 1
  for x in registry/index registry/cache git config config.toml credentials credentials.toml; do
    [ -e "$real/$x" ] && ln -s "$real/$x" "$home/$x"
  done
  echo "$home"
}
package() {
  local v f c want home
  rm -rf "$CARGO_TARGET_DIR/package"
  home=$(package_home) || return 1
  if ! CARGO_HOME=$home cargo package --locked --offline --workspace --allow-dirty >"$tmp/package.log" 2>&1; then
    cat "$tmp/package.log"
    echo "== cargo package failed (above); the cargo configuration in effect:"
    cargo_config_in_effect
    f=$(grep -m1 -A3 '^error' "$tmp/package.log" | tr -s ' \n' ' ' | cut -c1-240)
    echo "environment: cargo package failed here (${f:-no error line}); checked the packaged files by hand" \
      >"$tmp/package-note"
    echo "== the packaged files, built in a workspace of their own"
    package_by_hand
    return
  fi
  cat "$tmp/package.log"
  package_checks_built "$tmp/package.log" || return 1
  v=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml)
  for c in jr jr-sys; do
    f="$CARGO_TARGET_DIR/package/$c-$v.crate"
    tar tzf "$f" >"$tmp/files" || return 1
    for want in LICENSE README.md Cargo.toml; do
      grep -qx "$c-$v/$want" "$tmp/files" || { echo "$f has no $want"; return 1; }
    done
  done
}
step package package
# Why cargo package could not run, as a skipped case whose message
# scripts/tally.py prints at the end of the run.
if [ -f "$tmp/package-note" ]; then
  echo "test rust::cargo-package ... ignored, $(cat "$tmp/package-note")" | tee -a "$log"
fi

# The declared rust-version: everything compiles with that toolchain.
msrv_test() {
  if ! cargo "+$msrv" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null || { echo "rustup not found: cannot install Rust $msrv"; return 1; }
    timeout 600 rustup toolchain install "$msrv" --profile minimal || {
      echo "rustup could not install Rust $msrv (JR_RUST_SKIP_MSRV=1 skips this check)"
      return 1
    }
  fi
  # cargo before 1.70 reads the git index (GitHub) unless told sparse.
  CARGO_REGISTRIES_CRATES_IO_PROTOCOL=sparse CARGO_TARGET_DIR="$CARGO_TARGET_DIR/msrv" \
    cargo "+$msrv" check --locked --workspace --all-targets --all-features
}
if [ "${JR_RUST_SKIP_MSRV:-0}" = 1 ]; then
  echo "JR_RUST_SKIP_MSRV=1: NOT testing the declared rust-version $msrv" | tee -a "$log"
  echo "test rust::msrv-$msrv ... ignored" >>"$log"
else
  echo "== rust: cargo +$msrv check"
  t0=$SECONDS r=ok
  msrv_test 2>&1 | tee -a "$log" || r=FAILED
  echo "test rust::msrv-$msrv ... $r ($((SECONDS - t0)) s)" | tee -a "$log"
fi

# The slot state machine of jr::aio under Miri (data races, use after free).
miri_test() {
  if ! cargo +nightly miri --version >/dev/null 2>&1; then
    timeout 600 rustup toolchain install nightly --profile minimal --component miri,rust-src || {
      echo "rustup could not install nightly with miri"
      return 1
    }
  fi
  CARGO_TARGET_DIR="$CARGO_TARGET_DIR/miri" cargo +nightly miri test --locked -p jr --features tokio --lib slot 2>&1 |
    sed "s/^test \([^ ]*\) \.\.\. /test miri::\1 ... /"
}
if [ "${JR_RUST_MIRI:-0}" = 1 ]; then
  echo "== rust: cargo +nightly miri test"
  t0=$SECONDS r=ok
  miri_test 2>&1 | tee -a "$log" || r=FAILED
  echo "test rust::miri ... $r ($((SECONDS - t0)) s)" | tee -a "$log"
fi

python3 "$repo/scripts/junit_from.py" cargo rust "$xml" <"$log" >/dev/null
