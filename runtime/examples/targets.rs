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
        let tile = |x: &gemmkit::Shape| format!("{}x{}", x.mr, x.nr);
        println!(
            "{mark} {:<13} {:<26} tiles f32 {:<6} f64 {:<6} u8i8 {:<6} bf16 {:<6} {}",
            t.name,
            state,
            tile(&s.f32),
            tile(&s.f64),
            tile(&s.u8i8),
            tile(&s.bf16),
            t.summary
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
