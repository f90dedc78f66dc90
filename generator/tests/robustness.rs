//! Random well-formed kernels, from the kernel language's grammar: nested `if`,
//! `while` and `for`, `#[unroll]` loops with small and very large bounds,
//! `const` parameters and instances, op calls nested to random depths. The
//! generator finishes each within a time bound, with output that parses or with
//! located diagnostics, and never panics.

use generator::{Error, Workspace};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

const PROBE: &str = "kernels/src/probe.rs";
/// A case takes at most about two seconds in a debug build on a busy machine
/// (most take a fraction of one); a blow-up takes minutes.
const TIME_BOUND: Duration = Duration::from_secs(10);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The workspace with only the vector API and the probe, so a case lowers one
/// kernel (for every target), not the whole library.
fn workspace(probe: String) -> Workspace {
    let mut ws = Workspace::load(root()).expect("kernel sources");
    let dir = root().join("kernels/src");
    for entry in std::fs::read_dir(&dir).expect("kernels/src") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".rs") && name != "vec.rs" {
            ws = ws.with_source(format!("kernels/src/{name}"), "");
        }
    }
    ws.with_source(PROBE, probe)
}

/// A statement of the kernel body.
#[derive(Debug, Clone)]
enum Stmt {
    /// `V::store(x.add(..), value)`, at slot `k` of the innermost loop's block.
    Store(usize, String),
    /// `let v = value;` then a store of it.
    Let(String),
    If(String, Vec<Stmt>, Vec<Stmt>),
    While(Vec<Stmt>),
    For(Vec<Stmt>),
    Unroll(String, Vec<Stmt>),
}

/// A vector value: ops nested as proptest's recursion makes them, or a chain
/// of `V::add`s of any depth up to past the generator's nesting limit.
fn value() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        Just("V::zero()".to_string()),
        Just("V::splat(s)".to_string()),
        Just("V::load(x)".to_string()),
        (0usize..4).prop_map(|k| format!("V::load(x.add({k} * V::LANES))")),
        Just("V::broadcast(x)".to_string()),
    ];
    let tree = leaf.prop_recursive(6, 48, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("V::add({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("V::mul({a}, {b})")),
            (inner.clone(), inner.clone(), inner).prop_map(|(a, b, c)| format!("V::mul_add({a}, {b}, {c})")),
        ]
    });
    let chain = (0usize..160).prop_map(|d| format!("{}V::zero(){}", "V::add(".repeat(d), ", V::splat(s))".repeat(d)));
    prop_oneof![8 => tree, 1 => chain].boxed()
}

fn condition(has_const: bool) -> BoxedStrategy<String> {
    let mut conds = vec![
        (0usize..8).prop_map(|k| format!("n > {k}")).boxed(),
        (0usize..20).prop_map(|k| format!("V::LANES >= {k}")).boxed(),
        (0usize..8)
            .prop_map(|k| format!("V::MR / 2 * 2 == V::MR && n > {k}"))
            .boxed(),
    ];
    if has_const {
        conds.push((0usize..4).prop_map(|k| format!("N == {k} || n < {k}")).boxed());
    }
    proptest::strategy::Union::new(conds).boxed()
}

fn unroll_bound(has_const: bool) -> BoxedStrategy<String> {
    let mut bounds = vec![
        (0usize..6).prop_map(|k| k.to_string()).boxed(),
        Just("V::LANES".to_string()).boxed(),
        Just("V::MR".to_string()).boxed(),
        Just("V::NR / V::LANES".to_string()).boxed(),
        prop_oneof![Just(300), Just(5000), Just(100_000), Just(1 << 40)]
            .prop_map(|k: u64| k.to_string())
            .boxed(),
    ];
    if has_const {
        bounds.push(Just("N".to_string()).boxed());
    }
    proptest::strategy::Union::new(bounds).boxed()
}

fn statements(has_const: bool) -> BoxedStrategy<Vec<Stmt>> {
    let leaf = prop_oneof![
        ((0usize..4), value()).prop_map(|(k, v)| Stmt::Store(k, v)),
        value().prop_map(Stmt::Let),
    ];
    let stmt = leaf.prop_recursive(5, 40, 4, move |inner| {
        let block = prop::collection::vec(inner, 0..4);
        prop_oneof![
            (condition(has_const), block.clone(), block.clone()).prop_map(|(c, t, e)| Stmt::If(c, t, e)),
            block.clone().prop_map(Stmt::While),
            block.clone().prop_map(Stmt::For),
            (unroll_bound(has_const), block).prop_map(|(b, body)| Stmt::Unroll(b, body)),
        ]
    });
    prop::collection::vec(stmt, 1..5).boxed()
}

/// Renders statements; `depth` names each loop's variable uniquely.
fn render(stmts: &[Stmt], depth: usize, var: Option<&str>, out: &mut String) {
    let pad = "    ".repeat(depth + 1);
    for s in stmts {
        match s {
            Stmt::Store(k, v) => {
                let at = match var {
                    Some(i) => format!("x.add(({i} * 4 + {k}) * V::LANES)"),
                    None => format!("x.add({k} * V::LANES)"),
                };
                out.push_str(&format!("{pad}V::store({at}, {v});\n"));
            }
            Stmt::Let(v) => {
                out.push_str(&format!("{pad}let v{depth} = {v};\n{pad}V::store(x, v{depth});\n"));
            }
            Stmt::If(c, t, e) => {
                out.push_str(&format!("{pad}if {c} {{\n"));
                render(t, depth + 1, var, out);
                out.push_str(&format!("{pad}}} else {{\n"));
                render(e, depth + 1, var, out);
                out.push_str(&format!("{pad}}}\n"));
            }
            Stmt::While(body) => {
                let w = format!("w{depth}");
                out.push_str(&format!("{pad}let mut {w} = 0;\n{pad}while {w} < n {{\n"));
                render(body, depth + 1, Some(&w), out);
                out.push_str(&format!("{pad}    {w} += 1;\n{pad}}}\n"));
            }
            Stmt::For(body) => {
                let j = format!("j{depth}");
                out.push_str(&format!("{pad}for {j} in 0..n {{\n"));
                render(body, depth + 1, Some(&j), out);
                out.push_str(&format!("{pad}}}\n"));
            }
            Stmt::Unroll(bound, body) => {
                let u = format!("u{depth}");
                out.push_str(&format!("{pad}#[unroll]\n{pad}for {u} in 0..{bound} {{\n"));
                render(body, depth + 1, Some(&u), out);
                out.push_str(&format!("{pad}}}\n"));
            }
        }
    }
}

const INSTANCE_VALUES: &[&str] = &[
    "1",
    "V::LANES",
    "V::MR / 2",
    "V::NR / V::LANES",
    "(V::NR / V::LANES).min(2)",
    "V::LANES - 1",
    // Negative where there are fewer than 4 lanes: a located error there.
    "V::LANES - 4",
];

/// A whole kernel: with or without a `const` parameter and its instances.
fn kernel() -> impl Strategy<Value = String> {
    any::<bool>().prop_flat_map(|has_const| {
        let instances = prop::collection::vec(prop::sample::select(INSTANCE_VALUES), 1..3);
        (statements(has_const), instances).prop_map(move |(stmts, values)| {
            let mut body = String::new();
            render(&stmts, 0, None, &mut body);
            let (attr, generics) = if has_const {
                let list: Vec<String> = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| format!("probe_{i}(N = {v})"))
                    .collect();
                (format!("#[kernel({})]", list.join(", ")), ", const N: usize")
            } else {
                ("#[kernel]".to_string(), "")
            };
            format!(
                "use crate::vec::FloatVec;\n\n{attr}\npub unsafe fn base_probe<V: FloatVec{generics}>(n: usize, x: *mut V::Elem, s: V::Elem) {{\n{body}}}\n"
            )
        })
    })
}

/// Generates on a thread of its own, so a case that does not finish fails
/// the test instead of hanging it.
fn generate_within_bound(text: String) -> Result<generator::Generated, Error> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(workspace(text).generate());
    });
    match rx.recv_timeout(TIME_BOUND) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the generator took over {TIME_BOUND:?}"),
        // The generator panicked (its thread dropped the sender).
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the generator panicked"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn well_formed_kernels_generate_or_get_located_errors(text in kernel()) {
        match generate_within_bound(text.clone()) {
            Ok(generated) => {
                // The Rust files; the crate's manifest and README are fixed text.
                for (path, code) in generated.files.iter().filter(|(p, _)| p.ends_with(".rs")) {
                    prop_assert!(syn::parse_file(code).is_ok(), "{path} does not parse; kernel:\n{text}");
                }
            }
            Err(Error::Kernels(diags)) => {
                let msg = Error::Kernels(diags.clone()).to_string();
                for d in &diags {
                    prop_assert_eq!(&d.path, PROBE, "{}", msg);
                    prop_assert!(d.line >= 1 && d.col >= 1, "{}", msg);
                    prop_assert!(msg.contains(&format!("{}:{}:{}", d.path, d.line, d.col)), "{}", msg);
                    prop_assert!(d.help.is_some(), "no help in\n{}\nkernel:\n{}", msg, text);
                }
            }
            Err(e) => prop_assert!(false, "not a kernel diagnostic: {}\nkernel:\n{}", e, text),
        }
    }
}
