//! Inputs that used to take minutes, gigabytes or the whole stack finish quickly
//! with an error at the code that caused it.

use generator::lower::MAX_UNROLLED_STMTS;
use generator::{Error, Workspace};
use std::sync::mpsc;
use std::time::Duration;

/// This checkout's workspace root.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const PROBE_PATH: &str = "kernels/src/limits_probe.rs";

/// The probe's kernels lowered for the fallback target, or the error, within
/// `secs` seconds (a hang or a blow-up fails the test instead of stalling it).
fn lower_probe(text: String, secs: u64) -> Result<String, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let ws = Workspace::load(root())
            .expect("kernel sources")
            .with_source(PROBE_PATH, text);
        let out = ws
            .render_filtered(Some("probe"), Some("fallback"))
            .map_err(|e| match e {
                Error::Kernels(_) => e.to_string(),
                e => panic!("expected a kernel diagnostic, got: {e}"),
            });
        let _ = tx.send(out);
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|e| panic!("the generator did not finish within {secs} s: {e}"))
}

fn kernel(body: &str) -> String {
    format!(
        "use crate::vec::FloatVec;\n\n#[kernel]\npub unsafe fn base_probe<V: FloatVec>(x: *mut V::Elem, n: usize) {{\n{body}}}\n"
    )
}

#[test]
fn nested_unrolling_past_the_budget_stops_at_the_outermost_loop() {
    // 256^3 copies: this used to run for minutes and take tens of gigabytes.
    let text = kernel(
        "    V::store(x, V::zero());
    #[unroll]
    for i in 0..256 {
        #[unroll]
        for j in 0..256 {
            #[unroll]
            for k in 0..256 {
                V::store(x.add((i * 256 + j) * 256 + k), V::zero());
            }
        }
    }
",
    );
    let msg = lower_probe(text, 20).expect_err("a 16-million-copy unroll");
    assert!(
        msg.contains(&format!(
            "`#[unroll]` would expand to more than {MAX_UNROLLED_STMTS} statements"
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("--> {PROBE_PATH}:7:5")),
        "not at the outer loop:\n{msg}"
    );
    assert!(msg.contains("for i in 0..256"), "{msg}");
}

#[test]
fn bounds_known_only_while_unrolling_are_counted_as_they_expand() {
    // The inner bound depends on `i`: nothing to multiply out beforehand, the
    // copies are counted as they are made (200 * 199 / 2 stores).
    let text = kernel(
        "    #[unroll]
    for i in 0..200 {
        #[unroll]
        for j in 0..i {
            V::store(x.add(i * 200 + j), V::zero());
        }
    }
",
    );
    let msg = lower_probe(text, 20).expect_err("19900 copies");
    assert!(msg.contains("more than"), "{msg}");
    assert!(
        msg.contains(&format!("--> {PROBE_PATH}:6:5")),
        "not at the outer loop:\n{msg}"
    );
    assert_eq!(msg.matches("error:").count(), 2, "one error and the summary:\n{msg}");
}

#[test]
fn empty_copies_count_too() {
    let text = kernel(
        "    #[unroll]
    for _ in 0..1000000000000 {}
",
    );
    let msg = lower_probe(text, 20).expect_err("a trillion empty copies");
    assert!(msg.contains(&format!("--> {PROBE_PATH}:6:5")), "{msg}");
}

#[test]
fn a_nest_within_the_budget_unrolls_fully() {
    // 1 + 4 copies of (1 + 1000) statements: 4005, under the budget.
    let text = kernel(
        "    #[unroll]
    for _ in 0..1 {
        #[unroll]
        for i in 0..4 {
            #[unroll]
            for j in 0..1000 {
                V::store(x.add(i * 1000 + j), V::zero());
            }
        }
    }
",
    );
    let code = lower_probe(text, 60).expect("within the budget");
    assert_eq!(
        code.matches("x.add(").count(),
        2 * 3999,
        "{}",
        &code[..2000.min(code.len())]
    );
}
