//! Inputs that used to take minutes, gigabytes or the whole stack finish quickly
//! with an error at the code that caused it.

use generator::lower::{MAX_UNROLLED_EXPRS, MAX_UNROLLED_STMTS};
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

/// The error for the probe, from [`Workspace::generate`] on this test thread
/// (a 2 MiB stack): the library must not overflow its caller's stack.
fn generate_err(text: &str) -> String {
    let ws = Workspace::load(root())
        .expect("kernel sources")
        .with_source(PROBE_PATH, text);
    match ws.generate() {
        Ok(_) => panic!("the generator accepted the probe"),
        Err(e @ Error::Kernels(_)) => e.to_string(),
        Err(e) => panic!("expected a kernel diagnostic, got: {e}"),
    }
}

/// `n` nested `if`s, one per line.
fn nested_ifs(n: usize) -> String {
    kernel(&format!(
        "{}V::store(x, V::zero());\n{}",
        "if n > 0 {\n".repeat(n),
        "}\n".repeat(n)
    ))
}

#[test]
fn deep_nesting_is_a_located_error_not_a_stack_overflow() {
    // Each of these overflowed the stack, and so aborted the process.
    let ifs = nested_ifs(1300);
    let calls = kernel(&format!(
        "V::store(x, {}V::zero(){});\n",
        "V::add(\n".repeat(2200),
        ", V::zero())\n".repeat(2200)
    ));
    let sum = kernel(&format!(
        "let t = n{};\nV::store(x.add(t), V::zero());\n",
        " + n\n".repeat(5000)
    ));
    for (what, text) in [("ifs", &ifs), ("calls", &calls), ("sum", &sum)] {
        let msg = generate_err(text);
        assert!(
            msg.contains(&format!("--> {PROBE_PATH}:")),
            "{what}: no location in\n{msg}"
        );
        assert!(msg.contains("help: bind parts of it to `let`s"), "{what}:\n{msg}");
        assert_eq!(
            msg.matches("error:").count(),
            2,
            "{what}: one error and the summary:\n{msg}"
        );
    }
    // The tree depth limit stops the `if`s in the 63rd: two levels each (the
    // `if` and its block) under the function and its body make its `n > 0`
    // level 128 and the `n` in it level 129.
    let msg = generate_err(&ifs);
    assert!(msg.contains("more than 128 levels"), "{msg}");
    assert!(msg.contains(&format!("--> {PROBE_PATH}:67:4")), "{msg}");
    // The calls have more open tokens than the parser may recurse into (five
    // per call: `V`, `:`, `:`, `add`, `(..)`).
    let msg = generate_err(&calls);
    assert!(msg.contains("more than 8192 tokens of it are open here"), "{msg}");
}

#[test]
fn the_tree_depth_limit_stops_a_long_sum() {
    // 1,000 terms: few enough tokens to parse, 1,000 levels of left-nested `+`.
    let sum = kernel(&format!(
        "let t = n{};\nV::store(x.add(t), V::zero());\n",
        " + n".repeat(1000)
    ));
    let msg = generate_err(&sum);
    assert!(msg.contains("nested too deeply: more than 128 levels"), "{msg}");
    assert!(msg.contains(&format!("--> {PROBE_PATH}:5:9")), "{msg}");
}

#[test]
fn nesting_deeper_than_even_the_big_stack_is_refused_before_parsing() {
    // 200,000 nested blocks would overflow syn's parser on a 256 MiB stack.
    let n = 200_000;
    let text = kernel(&format!("{}{}\n", "{".repeat(n), "}".repeat(n)));
    let msg = lower_probe(text, 60).expect_err("200,000 nested blocks");
    assert!(msg.contains("tokens of it are open here"), "{msg}");
    assert!(msg.contains(&format!("--> {PROBE_PATH}:5:")), "{msg}");
}

#[test]
fn a_deep_const_value_is_an_error_at_the_value() {
    let text = format!(
        "use crate::vec::FloatVec;\n\n#[kernel(probe(N = {}1{}))]\npub unsafe fn base_probe<V: FloatVec, const N: usize>(x: *mut V::Elem) {{\n    V::store(x.add(N), V::zero());\n}}\n",
        "(".repeat(500),
        ")".repeat(500)
    );
    let msg = generate_err(&text);
    assert!(msg.contains("more than 128 levels"), "{msg}");
    assert!(msg.contains(&format!("--> {PROBE_PATH}:3:")), "{msg}");
}

#[test]
fn parse_on_the_callers_thread_is_safe_too() {
    let ws = Workspace::load(root())
        .expect("kernel sources")
        .with_source(PROBE_PATH, nested_ifs(1300));
    match ws.parse() {
        Err(e @ Error::Kernels(_)) => assert!(e.to_string().contains("more than 128 levels"), "{e}"),
        Err(e) => panic!("expected a kernel diagnostic, got: {e}"),
        Ok(_) => panic!("parsed 1,300 nested `if`s"),
    }
}

#[test]
fn unrolled_deep_expressions_lower_in_linear_time() {
    // 50 copies of a call nested 120 deep (600 expressions each), for every
    // target: lowering each level used to copy (and measure) everything below
    // it, quadratic in the depth, and took about a minute; now a few seconds.
    let chain = format!("{}V::zero(){}", "V::add(".repeat(120), ", V::splat(s))".repeat(120));
    let text = format!(
        "use crate::vec::FloatVec;\n\n#[kernel]\npub unsafe fn base_probe<V: FloatVec>(x: *mut V::Elem, s: V::Elem) {{\n    #[unroll]\n    for i in 0..50 {{\n        V::store(x.add(i * V::LANES), {chain});\n    }}\n}}\n"
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Only the vector API and the probe: the probe's time is what counts.
        let mut ws = Workspace::load(root()).expect("kernel sources");
        for entry in std::fs::read_dir(root().join("kernels/src")).expect("kernels/src") {
            let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
            if name.ends_with(".rs") && name != "vec.rs" {
                ws = ws.with_source(format!("kernels/src/{name}"), "");
            }
        }
        let ws = ws.with_source(PROBE_PATH, text);
        let _ = tx.send(ws.generate().map(|g| g.files.len()).map_err(|e| e.to_string()));
    });
    let files = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the generator did not finish within 30 s");
    assert!(files.is_ok(), "{files:?}");
}

#[test]
fn unrolled_expressions_past_their_budget_are_an_error() {
    // Few statements, each a big expression: 1000 * 241 expressions.
    let chain = format!("{}V::zero(){}", "V::add(".repeat(120), ", V::splat(s))".repeat(120));
    let text = format!(
        "use crate::vec::FloatVec;\n\n#[kernel]\npub unsafe fn base_probe<V: FloatVec>(x: *mut V::Elem, s: V::Elem) {{\n    #[unroll]\n    for i in 0..1000 {{\n        V::store(x.add(i * V::LANES), {chain});\n    }}\n}}\n"
    );
    let msg = lower_probe(text, 20).expect_err("over the expression budget");
    assert!(
        msg.contains(&format!(
            "`#[unroll]` would expand to more than {MAX_UNROLLED_EXPRS} expressions"
        )),
        "{msg}"
    );
    assert!(msg.contains(&format!("--> {PROBE_PATH}:6:5")), "{msg}");
}
