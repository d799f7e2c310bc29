// SPDX-License-Identifier: MIT
//! Finds libjr: `JR_LIB_DIR` if set, otherwise the `-L` folders of
//! `pkg-config --libs jr` (`$PKG_CONFIG` overrides the binary). With
//! `PKG_CONFIG_PATH=<builddir>/meson-uninstalled` this is the build tree.
//!
//! Emits the link flags, an rpath for this crate's own tests, and
//! `cargo::metadata=libdir=<dir>` so that dependents (the `jr` crate) can read
//! `DEP_JR_LIBDIR` and add the rpath to their own tests and examples.
use std::env;
use std::process::Command;

fn pkg_config(args: &[&str]) -> Result<String, String> {
    let bin = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let out = Command::new(&bin)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {bin}: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo::rerun-if-env-changed=JR_LIB_DIR");
    println!("cargo::rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo::rerun-if-env-changed=PKG_CONFIG");
    println!("cargo::rerun-if-changed=build.rs");

    let dirs: Vec<String> = match env::var("JR_LIB_DIR") {
        Ok(d) if !d.is_empty() => vec![d],
        _ => match pkg_config(&["--libs-only-L", "jr"]) {
            // The libdir variable of meson's jr-uninstalled.pc is wrong, so
            // the folder comes from -L, never from --variable=libdir.
            Ok(flags) => flags
                .split_whitespace()
                .filter_map(|f| f.strip_prefix("-L"))
                .map(str::to_string)
                .collect(),
            Err(e) => panic!(
                "libjr not found ({e}): install it, or set PKG_CONFIG_PATH to the folder \
                 of jr.pc (for a build tree: <builddir>/meson-uninstalled), or set \
                 JR_LIB_DIR to the folder of libjr.so"
            ),
        },
    };
    for d in &dirs {
        println!("cargo::rustc-link-search=native={d}");
        println!("cargo::rustc-link-arg=-Wl,-rpath,{d}");
    }
    println!("cargo::rustc-link-lib=dylib=jr");
    if let Some(d) = dirs.first() {
        println!("cargo::metadata=libdir={d}");
    }
}
