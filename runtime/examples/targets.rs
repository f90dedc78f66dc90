//! Prints the active target and every target this build knows about.
//!
//! ```text
//! cargo run -p gemmkit --example targets
//! HWY_TARGET=avx2 cargo run -p gemmkit --example targets
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let active = match gemmkit::active() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: HWY_TARGET: {e}");
            return ExitCode::from(2);
        }
    };
    let forced = std::env::var("HWY_TARGET").is_ok_and(|v| !v.trim().is_empty());
    println!(
        "active: {} ({})",
        active.name,
        if forced {
            "forced by HWY_TARGET"
        } else {
            "best for this CPU"
        }
    );
    println!("\ncompiled in (best first):");
    for t in gemmkit::compiled() {
        let mark = if std::ptr::eq(t, active) { '*' } else { ' ' };
        let state = if t.is_supported() {
            "available"
        } else {
            "not supported by this CPU"
        };
        let s = &t.shapes;
        println!(
            "{mark} {:<13} {:<26} f32 {}x{}, f64 {}x{}, i32 {}x{}  {}",
            t.name, state, s.f32.mr, s.f32.nr, s.f64.mr, s.f64.nr, s.i32.mr, s.i32.nr, t.summary
        );
    }
    let others: Vec<String> = gemmkit::ALL_TARGETS
        .iter()
        .filter(|(n, _)| gemmkit::compiled().iter().all(|t| t.name != *n))
        .map(|(n, arch)| format!("{n} ({arch})"))
        .collect();
    if !others.is_empty() {
        println!("\nnot in this build: {}", others.join(", "));
    }
    ExitCode::SUCCESS
}
