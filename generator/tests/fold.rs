//! Constant folding around run-time conditions: a constant operand of `&&` or
//! `||` folds away, and takes the whole `if` with it where it decides it.

use generator::Workspace;

const PROBE: &str = r#"
use crate::vec::FloatVec;
use kernel_macros::kernel;

#[kernel(fold_even(ROWS = 2), fold_odd(ROWS = 1))]
pub unsafe fn base_fold<V: FloatVec, const ROWS: usize>(n: usize, c: *mut V::Elem) {
    if ROWS / 2 * 2 == ROWS && n > 0 {
        V::store(c, V::zero());
    } else {
        V::store(c.add(1), V::zero());
    }
    if ROWS == 1 || n > 3 {
        V::store(c.add(2), V::zero());
    }
}
"#;

/// The probe's emitted code on the fallback target, split into its two
/// instances (f32 and f64 each).
fn render() -> (String, String) {
    let code = Workspace::load(root())
        .expect("kernel sources")
        .with_source("kernels/src/fold_probe.rs", PROBE)
        .render_filtered(Some("fold"), Some("fallback"))
        .expect("lowers");
    let (mut even, mut odd) = (String::new(), String::new());
    for f in code.split("pub unsafe fn ").skip(1) {
        if f.starts_with("fold_even") {
            even.push_str(f);
        } else if f.starts_with("fold_odd") {
            odd.push_str(f);
        }
    }
    assert!(!even.is_empty() && !odd.is_empty(), "instances missing:\n{code}");
    (even, odd)
}

#[test]
fn constant_operands_of_and_and_or_fold_away() {
    let (even, odd) = render();
    assert!(even.contains("if n > 0 {"), "`true && n > 0` is `n > 0`:\n{even}");
    assert!(even.contains("if n > 3 {"), "`false || n > 3` is `n > 3`:\n{even}");
    assert!(
        !even.contains("true") && !even.contains("false"),
        "a constant is left:\n{even}"
    );
    assert!(!odd.contains("n > 0"), "`false && n > 0` decides the `if`:\n{odd}");
    assert!(!odd.contains("n > 3"), "`true || n > 3` decides the `if`:\n{odd}");
    assert!(
        odd.contains("c.add(1)") && odd.contains("c.add(2)"),
        "the taken branches stay:\n{odd}"
    );
}

/// This checkout's workspace root.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn constant_arithmetic_is_checked_in_usize() {
    use generator::lower::{ArithError, USIZE_MAX, const_arith};
    let op = |s: &str| -> syn::BinOp { syn::parse_str(s).expect("an operator") };
    assert_eq!(const_arith(16, &op("-"), 4), Ok(Some(12)));
    assert_eq!(const_arith(4, &op("-"), 16), Err(ArithError::Underflow));
    assert_eq!(const_arith(USIZE_MAX, &op("+"), 1), Err(ArithError::Overflow));
    assert_eq!(const_arith(USIZE_MAX, &op("*"), USIZE_MAX), Err(ArithError::Overflow));
    assert_eq!(const_arith(16, &op("/"), 0), Err(ArithError::DivisionByZero));
    assert_eq!(const_arith(16, &op("%"), 0), Err(ArithError::DivisionByZero));
    // Shifts as in Rust: bits shifted out are lost, a shift by the width overflows.
    assert_eq!(const_arith(3, &op("<<"), 63), Ok(Some(1 << 63)));
    assert_eq!(const_arith(1, &op("<<"), 64), Err(ArithError::Overflow));
    assert_eq!(const_arith(1, &op(">>"), 64), Err(ArithError::Overflow));
    // A negative operand is signed arithmetic, as before.
    assert_eq!(const_arith(-1, &op("+"), 2), Ok(Some(1)));
    // Not arithmetic: left alone.
    assert_eq!(const_arith(1, &op("&"), 2), Ok(None));
}
