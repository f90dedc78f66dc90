//! The shared library against its C header, in `cargo test`: every exported
//! symbol must be declared in `include/gemmkit_blas.h` (and every declared
//! function exported), and the library carries its versioned SONAME. The check
//! itself is `scripts/check-blas-header.sh` (nm, cc), which CI also runs on the
//! release build.

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The cdylib cargo built next to this test binary (`target/<profile>/deps/`).
fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let lib = deps.join("libgemmkit_blas.so");
    assert!(lib.exists(), "{} not built", lib.display());
    lib
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn header_declares_every_exported_symbol() {
    let out = Command::new(root().join("scripts/check-blas-header.sh"))
        .arg(library())
        .arg(root().join("capi/include/gemmkit_blas.h"))
        .output()
        .expect("run scripts/check-blas-header.sh (needs nm and cc)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    println!("{text}");
}

#[test]
fn soname_carries_the_major_version() {
    let out = Command::new("objdump")
        .arg("-p")
        .arg(library())
        .output()
        .expect("run objdump -p");
    let text = String::from_utf8_lossy(&out.stdout);
    let soname = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("SONAME"))
        .map(str::trim);
    let want = format!("libgemmkit_blas.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(soname, Some(want.as_str()));
}
