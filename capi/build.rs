//! Gives the shared library an ELF SONAME carrying the crate's major version,
//! `libgemmkit_blas.so.<major>`, so that programs linked against it load the
//! `.so.<major>` name that `scripts/install-blas.sh` installs (next to
//! `.so.<major>.<minor>.<patch>` and the `.so` development link). Linux only:
//! other targets keep the linker's default.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgemmkit_blas.so.{major}");
    }
}
