// SPDX-License-Identifier: MIT
//! Finds libjr with `pkg-config jr` through the `pkg-config` crate, which
//! honours `PKG_CONFIG_PATH` (the folder of jr.pc: `$HOME/.local/lib/pkgconfig`
//! for a libjr installed there, `<builddir>/meson-uninstalled` for a build
//! tree), `PKG_CONFIG` and its other variables. Cargo's `links` override
//! (`[target.<triple>.jr]` in `.cargo/config.toml`) skips this script.
//!
//! Emits the link flags, an rpath for this crate's own tests (link-arg
//! flags reach no other package), `cargo:rustc-env=JR_SYS_INCLUDE_PATH`
//! (the folders of jr.h, for tests/abi.rs) and the metadata `cargo:libdir=<dir>`
//! so that direct dependents (the `jr` crate) read `DEP_JR_LIBDIR`.
//! The one-colon `cargo:` form: `cargo::` needs Rust 1.77, and the crates'
//! rust-version is older.
use std::env;
use std::process::exit;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Emits rustc-link-search and rustc-link-lib itself, and
    // rerun-if-env-changed for PKG_CONFIG_PATH and friends.
    let lib = match pkg_config::Config::new().atleast_version("0.1").probe("jr") {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!(
                "\nerror: libjr (jr.pc, version 0.1 or later) was not found by pkg-config.\n\
                 Install libjr first (README.md of libjr, section Install), then tell \
                 pkg-config where jr.pc is, e.g.\n    \
                 export PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig\n\
                 (for a build tree: <builddir>/meson-uninstalled).\n\n\
                 pkg-config said: {e}\n"
            );
            exit(1);
        }
    };
    for d in &lib.link_paths {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", d.display());
    }
    if let Some(d) = lib.link_paths.first() {
        println!("cargo:libdir={}", d.display());
    }
    // A path with ':' in it is left out (join_paths refuses it); the ABI
    // test then says jr.h was not found.
    let include: Vec<_> = lib
        .include_paths
        .iter()
        .filter(|p| env::join_paths([p]).is_ok())
        .collect();
    if let Ok(joined) = env::join_paths(include) {
        println!(
            "cargo:rustc-env=JR_SYS_INCLUDE_PATH={}",
            joined.to_string_lossy()
        );
    }
}
