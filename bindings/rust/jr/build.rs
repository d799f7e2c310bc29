// SPDX-License-Identifier: MIT
//! jr-sys found libjr and exported its folder as DEP_JR_LIBDIR; link-arg
//! flags do not reach dependents, so add the rpath for this crate's own
//! tests and examples here.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_JR_LIBDIR");
    if let Ok(dir) = std::env::var("DEP_JR_LIBDIR") {
        if !dir.is_empty() {
            // Reaches this package's tests, examples and benches only.
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
