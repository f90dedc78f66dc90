//! insta snapshots of the emitted code of a small fixed corpus of test kernels,
//! `tests/fixtures/corpus/*.rs`, on every target: a change to the lowering, a
//! target's templates or the emitter shows up as a reviewable diff of a few
//! short files. Together the corpus kernels use every op, constant and type of
//! the vector API and every feature of the kernel language, and
//! [`corpus_covers_the_vector_api_and_the_language`] fails, saying what to add,
//! when they stop doing so (an op added to `kernels/src/vec.rs` needs a use in
//! the corpus).
//!
//! One snapshot per target and corpus kernel,
//! `snapshots/corpus__<target>__<kernel>.snap` (`base_corpus_tile` on `avx2` is
//! `corpus__avx2__tile.snap`), holding what that target's file in `generated/`
//! would hold for the kernel alone: the target's shape constants, each instance,
//! the `pub use` of an instance whose code is an earlier one's, the re-exports
//! of a feature level from its parent, and the helpers in `mod ops`. The file
//! header is left out (it says `@generated`, which review tools hide).
//!
//! The production kernels in `kernels/src` are not snapshotted: their emitted
//! code is `generated/`, checked in and reviewed as a diff, and `freshness.rs`
//! fails when it is stale.
//!
//! The corpus is also compiled here, against the vector traits of the `kernels`
//! crate, since every kernel is valid Rust.
//!
//! Accept changed snapshots after reading them with `just snapshots`
//! (`INSTA_UPDATE=always cargo test -p workspace-tests --test snapshots`) or
//! `cargo insta review`.
#![cfg(not(target_family = "wasm"))]

use generator::api::{Api, TRAITS};
use generator::emit;
use generator::kernel::Kernel;
use generator::targets::{TARGETS, Target};
use generator::{Parsed, Workspace};
use std::collections::BTreeSet;
use syn::visit::Visit;

/// The corpus, relative to the workspace root.
const CORPUS_DIR: &str = "tests/fixtures/corpus";

// The corpus compiled as Rust (each a module here, see
// `corpus_files_are_compiled`): compiled, never called, and a kernel body is one
// unsafe region, as in `kernels/src`.
#[path = "../fixtures/corpus/dot.rs"]
#[allow(dead_code, unsafe_op_in_unsafe_fn, clippy::too_many_arguments)]
mod corpus_dot;
#[path = "../fixtures/corpus/fold.rs"]
#[allow(dead_code, unsafe_op_in_unsafe_fn, clippy::too_many_arguments)]
mod corpus_fold;
#[path = "../fixtures/corpus/helper.rs"]
#[allow(dead_code, unsafe_op_in_unsafe_fn, clippy::too_many_arguments)]
mod corpus_helper;
#[path = "../fixtures/corpus/math.rs"]
#[allow(dead_code, unsafe_op_in_unsafe_fn, clippy::too_many_arguments)]
mod corpus_math;
#[path = "../fixtures/corpus/stream.rs"]
#[allow(dead_code, unsafe_op_in_unsafe_fn, clippy::too_many_arguments)]
mod corpus_stream;
#[path = "../fixtures/corpus/tile.rs"]
#[allow(dead_code, unsafe_op_in_unsafe_fn, clippy::too_many_arguments)]
mod corpus_tile;
const COMPILED: &[&str] = &["dot", "fold", "helper", "math", "stream", "tile"];

/// `(file stem, text)` of every corpus file, sorted.
fn corpus_files() -> Vec<(String, String)> {
    let dir = workspace_tests::workspace_root().join(CORPUS_DIR);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            let stem = p.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_string();
            (stem, std::fs::read_to_string(&p).expect("read corpus file"))
        })
        .collect();
    out.sort();
    out
}

/// The kernel sources (for the vector API) plus the corpus, parsed.
fn parse_with_corpus() -> Parsed {
    let mut ws = Workspace::load(workspace_tests::workspace_root()).expect("kernel sources");
    for (stem, text) in corpus_files() {
        ws = ws.with_source(format!("{CORPUS_DIR}/{stem}.rs"), text);
    }
    ws.parse()
        .unwrap_or_else(|e| panic!("the kernels or the corpus do not parse:\n{e}"))
}

/// The corpus kernels, in file then source order.
fn corpus_kernels(parsed: &Parsed) -> Vec<&Kernel> {
    let prefix = format!("{CORPUS_DIR}/");
    let out: Vec<&Kernel> = parsed
        .kernels
        .iter()
        .filter(|k| k.source.path.starts_with(&prefix))
        .collect();
    assert!(!out.is_empty(), "no kernels in {CORPUS_DIR}");
    out
}

/// What `generated/<target>/kernels.gen.rs` would hold for `kernel` alone, as
/// `Workspace::generate` builds it, without the `@generated` header line.
fn render(target: &Target, kernel: &Kernel, api: &Api) -> String {
    let one = std::slice::from_ref(kernel);
    let lower = |t: &Target| {
        emit::lower_all(one, t, api).unwrap_or_else(|e| panic!("`base_{}` on `{}`:\n{e}", kernel.name, t.name))
    };
    let lowered = lower(target);
    // A feature level's parent is lowered too (the base targets' parent,
    // `common`, is no target of its own).
    let parent = target
        .parent
        .filter(|p| TARGETS.iter().any(|t| t.name == p.name))
        .map(|p| (p, lower(p)));
    let file = emit::target_file(target, &lowered, parent.as_ref().map(|(p, l)| (*p, l.as_slice())), api)
        .unwrap_or_else(|e| panic!("`base_{}` on `{}`:\n{e}", kernel.name, target.name));
    file.strip_prefix(emit::HEADER)
        .unwrap_or(&file)
        .trim_start()
        .to_string()
}

#[test]
fn emitted_code_per_target_and_corpus_kernel() {
    let parsed = parse_with_corpus();
    let corpus = corpus_kernels(&parsed);
    for t in TARGETS {
        let mut codes = vec![];
        for k in &corpus {
            let code = render(t, k, &parsed.api);
            let name = k.name.strip_prefix("corpus_").unwrap_or(&k.name);
            insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_snapshot!(format!("corpus__{}__{name}", t.name), &code);
            });
            codes.push(code);
        }
        assert!(
            codes.iter().any(|c| c.contains("pub use self::")),
            "no corpus kernel has an instance that is another's code on `{}` (emitted as \
             `pub use self::..`): give one instance values that fold to another's",
            t.name
        );
        let level = t.parent.is_some_and(|p| TARGETS.iter().any(|t| t.name == p.name));
        assert!(
            !level || codes.iter().any(|c| c.contains("pub use super::")),
            "no corpus kernel on the feature level `{}` is its parent's code (a `pub use super::..`)",
            t.name
        );
    }
}

#[test]
fn corpus_files_are_compiled() {
    let files: Vec<String> = corpus_files().into_iter().map(|(stem, _)| stem).collect();
    assert_eq!(
        files, COMPILED,
        "every file in {CORPUS_DIR} is a `#[path]` module in tests/tests/snapshots.rs, listed in \
         COMPILED"
    );
}

/// Fails when the corpus stops using an op, constant or type of a vector trait,
/// an instantiation, or a feature of the kernel language, and lists them.
#[test]
fn corpus_covers_the_vector_api_and_the_language() {
    let parsed = parse_with_corpus();
    let corpus = corpus_kernels(&parsed);
    let mut seen = Seen::default();
    for k in &corpus {
        let mut walk = Walk {
            kernel: k,
            api: &parsed.api,
            seen: &mut seen,
            tiles: BTreeSet::new(),
            unroll_depth: 0,
            called: vec![],
        };
        walk.visit_item_fn(&k.item);
        // The helpers it calls, as written (they are inlined per call).
        let mut called: Vec<&str> = walk.called.clone();
        let mut done = BTreeSet::new();
        while let Some(name) = called.pop() {
            if !done.insert(name) {
                continue;
            }
            let Some(h) = k.helpers.get(name) else { continue };
            if h.item.sig.output != syn::ReturnType::Default {
                walk.seen.feature("a helper returning a value");
            }
            let before = walk.called.len();
            walk.visit_block(&h.item.block);
            if walk.called.len() > before {
                walk.seen.feature("a helper calling a helper");
            }
            called.extend(walk.called[before..].iter().copied());
        }
        for v in &k.variants {
            for (_, value) in &v.consts {
                walk.visit_expr(value);
            }
        }
        if k.variants.len() > 1 {
            seen.feature("a kernel with `const` parameters and several instances");
        }
        if k.params.iter().any(|p| p.elems.len() < p.spec.elems.len()) {
            seen.feature("a kernel with one instantiation (`V: FloatVec<Elem = f32>`)");
        }
        for inst in k.instances() {
            for (_, spec, elem) in &inst.bindings {
                seen.items.insert((spec.name.to_string(), format!("<{elem}>")));
            }
        }
    }

    let mut missing = vec![];
    for (name, t) in &parsed.api.traits {
        let items = t
            .ops
            .keys()
            .chain(&t.usize_consts)
            .chain(&t.elem_consts)
            .chain(&t.types)
            .cloned()
            .chain(t.spec.elem_type.map(str::to_string));
        for item in items {
            if !seen.items.contains(&(name.clone(), item.clone())) {
                missing.push(format!("`V::{item}` in a kernel bounded by `V: {name}`"));
            }
        }
    }
    for spec in TRAITS {
        for elem in spec.elems {
            if !seen.items.contains(&(spec.name.to_string(), format!("<{elem}>"))) {
                missing.push(format!("a kernel instantiated as `{}` for `{elem}`", spec.name));
            }
        }
    }
    for feature in FEATURES {
        if !seen.features.contains(feature) {
            missing.push(feature.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "the corpus ({CORPUS_DIR}) no longer covers:\n  - {}\nadd it to a corpus kernel (or a new \
         corpus file), read the new snapshots and accept them (`just snapshots`)",
        missing.join("\n  - ")
    );
}

/// The language features the corpus must use, as [`Walk`] names them.
const FEATURES: &[&str] = &[
    "a kernel with `const` parameters and several instances",
    "a kernel with one instantiation (`V: FloatVec<Elem = f32>`)",
    "a `while` loop",
    "an `if` decided at run time",
    "an `if` decided by constants, with an `else`",
    "a constant operand of `&&` next to a run-time one",
    "a constant operand of `||` next to a run-time one",
    "an `#[unroll]` loop inside another",
    "an `#[unroll]` loop over an inclusive range (`a..=b`)",
    "a register tile indexed `acc[(row, col)]`",
    "a register tile indexed by slot, `acc[s]`",
    "a vector-typed local (`let x: V = ..`)",
    "constant `+`",
    "constant `-`",
    "constant `*`",
    "constant `/`",
    "constant `%`",
    "constant `<<`",
    "constant `>>`",
    "constant `.div_ceil(..)`",
    "constant `.min(..)`",
    "constant `.max(..)`",
    "a call of a `#[kernel]` helper",
    "a helper calling a helper",
    "a helper returning a value",
];

#[derive(Default)]
struct Seen {
    /// `(trait, item)`: an op, constant or type used through a parameter bounded
    /// by the trait, or `<elem>` for an instantiation.
    items: BTreeSet<(String, String)>,
    features: BTreeSet<&'static str>,
}

impl Seen {
    fn feature(&mut self, name: &'static str) {
        debug_assert!(FEATURES.contains(&name), "{name} is not in FEATURES");
        self.features.insert(name);
    }
}

/// Walks one corpus kernel and records what it uses.
struct Walk<'a> {
    kernel: &'a Kernel,
    api: &'a Api,
    seen: &'a mut Seen,
    /// Locals bound to `V::zero_tile()`.
    tiles: BTreeSet<String>,
    unroll_depth: usize,
    /// The helpers called, in order.
    called: Vec<&'a str>,
}

impl Walk<'_> {
    /// The trait a vector parameter of this kernel is bounded by.
    fn param_trait(&self, ident: &syn::Ident) -> Option<&'static str> {
        self.kernel
            .params
            .iter()
            .find(|p| *ident == p.ident)
            .map(|p| p.spec.name)
    }

    fn is_const_param(&self, ident: &syn::Ident) -> bool {
        self.kernel.item.sig.generics.const_params().any(|c| c.ident == *ident)
    }

    /// Whether the generator folds `e` to a constant: literals, `const`
    /// parameters and the traits' constants, with operators and
    /// `div_ceil`/`min`/`max`.
    fn is_const(&self, e: &syn::Expr) -> bool {
        use syn::Expr;
        match e {
            Expr::Lit(_) => true,
            Expr::Paren(p) => self.is_const(&p.expr),
            Expr::Group(g) => self.is_const(&g.expr),
            Expr::Unary(u) => !matches!(u.op, syn::UnOp::Deref(_)) && self.is_const(&u.expr),
            Expr::Binary(b) => self.is_const(&b.left) && self.is_const(&b.right),
            Expr::Cast(c) => self.is_const(&c.expr),
            Expr::MethodCall(m) => {
                ["div_ceil", "min", "max"].iter().any(|n| m.method == n)
                    && self.is_const(&m.receiver)
                    && m.args.iter().all(|a| self.is_const(a))
            }
            Expr::Path(p) => match p.path.segments.len() {
                1 => self.is_const_param(&p.path.segments[0].ident),
                2 => self.param_trait(&p.path.segments[0].ident).is_some_and(|t| {
                    let item = p.path.segments[1].ident.to_string();
                    let api = &self.api.traits[t];
                    api.usize_consts.contains(&item) || api.elem_consts.contains(&item)
                }),
                _ => false,
            },
            _ => false,
        }
    }
}

impl<'ast> Visit<'ast> for Walk<'_> {
    fn visit_path(&mut self, p: &'ast syn::Path) {
        if let [first, second] = p.segments.iter().collect::<Vec<_>>()[..]
            && let Some(t) = self.param_trait(&first.ident)
        {
            self.seen.items.insert((t.to_string(), second.ident.to_string()));
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_local(&mut self, l: &'ast syn::Local) {
        if let syn::Pat::Type(pt) = &l.pat
            && let syn::Type::Path(tp) = &*pt.ty
            && let Some(ident) = tp.path.get_ident()
            && self.param_trait(ident).is_some()
        {
            self.seen.feature("a vector-typed local (`let x: V = ..`)");
        }
        if let (syn::Pat::Ident(pi), Some(init)) = (&l.pat, &l.init)
            && let syn::Expr::Call(call) = &*init.expr
            && let syn::Expr::Path(f) = &*call.func
            && f.path.segments.last().is_some_and(|s| s.ident == "zero_tile")
        {
            self.tiles.insert(pi.ident.to_string());
        }
        syn::visit::visit_local(self, l);
    }

    fn visit_expr(&mut self, e: &'ast syn::Expr) {
        use syn::{BinOp, Expr};
        if let Expr::Call(c) = e
            && let Expr::Path(p) = &*c.func
            && let [seg] = &p.path.segments.iter().collect::<Vec<_>>()[..]
            && let Some((name, _)) = self.kernel.helpers.get_key_value(&seg.ident.to_string())
        {
            self.seen.feature("a call of a `#[kernel]` helper");
            self.called.push(name);
        }
        match e {
            Expr::While(_) => self.seen.feature("a `while` loop"),
            Expr::If(i) if !self.is_const(&i.cond) => self.seen.feature("an `if` decided at run time"),
            Expr::If(i) if i.else_branch.is_some() => self.seen.feature("an `if` decided by constants, with an `else`"),
            Expr::Index(ix) => {
                if let Expr::Path(p) = &*ix.expr
                    && p.path.get_ident().is_some_and(|i| self.tiles.contains(&i.to_string()))
                {
                    self.seen.feature(match &*ix.index {
                        Expr::Tuple(_) => "a register tile indexed `acc[(row, col)]`",
                        _ => "a register tile indexed by slot, `acc[s]`",
                    });
                }
            }
            Expr::Binary(b) => {
                let (l, r) = (self.is_const(&b.left), self.is_const(&b.right));
                match b.op {
                    BinOp::And(_) if l != r => self.seen.feature("a constant operand of `&&` next to a run-time one"),
                    BinOp::Or(_) if l != r => self.seen.feature("a constant operand of `||` next to a run-time one"),
                    _ if l && r => {
                        if let Some(name) = match b.op {
                            BinOp::Add(_) => Some("constant `+`"),
                            BinOp::Sub(_) => Some("constant `-`"),
                            BinOp::Mul(_) => Some("constant `*`"),
                            BinOp::Div(_) => Some("constant `/`"),
                            BinOp::Rem(_) => Some("constant `%`"),
                            BinOp::Shl(_) => Some("constant `<<`"),
                            BinOp::Shr(_) => Some("constant `>>`"),
                            _ => None,
                        } {
                            self.seen.feature(name);
                        }
                    }
                    _ => {}
                }
            }
            Expr::MethodCall(m) if self.is_const(e) => match m.method.to_string().as_str() {
                "div_ceil" => self.seen.feature("constant `.div_ceil(..)`"),
                "min" => self.seen.feature("constant `.min(..)`"),
                _ => self.seen.feature("constant `.max(..)`"),
            },
            _ => {}
        }
        if let Expr::ForLoop(f) = e
            && f.attrs.iter().any(|a| a.path().is_ident("unroll"))
        {
            if self.unroll_depth > 0 {
                self.seen.feature("an `#[unroll]` loop inside another");
            }
            if let Expr::Range(r) = &*f.expr
                && matches!(r.limits, syn::RangeLimits::Closed(_))
            {
                self.seen
                    .feature("an `#[unroll]` loop over an inclusive range (`a..=b`)");
            }
            self.unroll_depth += 1;
            syn::visit::visit_expr(self, e);
            self.unroll_depth -= 1;
            return;
        }
        syn::visit::visit_expr(self, e);
    }
}
