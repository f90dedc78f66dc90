//! Lowering: one kernel instance to one plain-intrinsics function for one target.
//!
//! Passes, in order, each a small AST walk (after a kernel's `const` parameters
//! are replaced by the instance's values on the target, each evaluated first:
//! `V::MR / 2` becomes `3`, and the dispatch table lists it):
//! 0. **helpers**: each call of a `#[kernel]` helper becomes its body, its
//!    generic arguments and arguments substituted (see [`Helper`]);
//! 1. **check**: reject what the generator cannot see through (macros, closures,
//!    nested items, `#[unroll]` on anything but a `for` loop);
//! 2. **consts**: `V::LANES`, `V::MR`, `V::ZERO`, .. become literals from the target;
//! 3. **fold + unroll**: constant arithmetic and constant `if`s fold, and
//!    `#[unroll] for i in a..b` loops are replaced by one copy per value of `i`
//!    (at most [`MAX_UNROLLED_STMTS`] statements and [`MAX_UNROLLED_EXPRS`]
//!    expressions per instance, counted before each copy is made);
//! 4. **tiles**: `let mut acc = V::zero_tile()` becomes `MR * NR / LANES` locals
//!    `acc_<row>_<col>`, and every `acc[(row, col)]` or `acc[slot]` (constant now,
//!    `slot = row * cols + col`) names one;
//! 5. **ops**: `V::op(args)` becomes the target's template, vector types become the
//!    target's types;
//! 6. **leftovers**: any remaining mention of a vector type parameter is an error,
//!    so no trait call can reach the output.
//!
//! Every error is a [`Diagnostic`] at the offending code; nothing here panics.

use crate::api::{Api, TILE_INIT, TraitApi};
use crate::diag::{Diagnostic, Source, closest};
use crate::kernel::{Helper, HelperParam, Helpers, Instance};
use crate::targets::Target;
use proc_macro2::Span;
use quote::ToTokens;
use std::collections::{BTreeMap, BTreeSet};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Stmt};

/// The most statements the `#[unroll]` loops of one kernel instance may expand to,
/// counted at every depth of every copy. A register-blocked kernel needs a few
/// hundred; the cap keeps a mistaken bound (three nested loops over `0..256`)
/// from taking minutes and gigabytes, and is checked before each copy is made.
pub const MAX_UNROLLED_STMTS: usize = 4096;

/// The most expressions (every node, at every depth) the `#[unroll]` loops of
/// one kernel instance may expand to, checked with [`MAX_UNROLLED_STMTS`]:
/// statements alone do not bound the output when each is a deep expression.
pub const MAX_UNROLLED_EXPRS: usize = 65536;

/// A lowered kernel, the target helpers (`ops::name`) it calls, and the value of
/// each of its instance's `const` parameters on the target, in the kernel's
/// order (`("ROWS", 6)`), for the dispatch table.
pub struct Lowered {
    pub item: syn::ItemFn,
    pub helpers: BTreeSet<String>,
    pub consts: Vec<(String, usize)>,
}

/// What a vector type parameter is bound to in this instance.
struct Binding<'a> {
    api: &'a TraitApi,
    elem: &'static str,
}

struct Ctx<'a> {
    src: &'a Source,
    target: &'a Target,
    /// The instance being lowered (`microkernel_f32`), for messages.
    instance: &'a str,
    bindings: BTreeMap<String, Binding<'a>>,
    diags: Vec<Diagnostic>,
    helpers: BTreeSet<String>,
    /// Each helper's source, with a span of its own to tell the code inlined
    /// from it (two spans join only within one file).
    helper_sources: Vec<(Span, &'a Source)>,
    /// The kernel's `usize` parameters that its body never binds again: the
    /// comparisons folding knows are unsigned.
    usize_params: BTreeSet<String>,
}

impl<'a> Ctx<'a> {
    fn error(&mut self, span: Span, msg: impl Into<String>, help: impl Into<String>) {
        self.diags
            .push(Diagnostic::at(self.source_of(span), span, msg).help(help));
    }

    /// The file `span` is in: the kernel's, or that of a helper inlined into it.
    fn source_of(&self, span: Span) -> &'a Source {
        self.helper_sources
            .iter()
            .find(|(anchor, _)| anchor.join(span).is_some())
            .map_or(self.src, |(_, src)| *src)
    }

    /// `V::NAME` with `V` a vector parameter of this kernel.
    fn assoc<'p>(&self, path: &'p syn::Path) -> Option<(&Binding<'a>, &'p syn::Ident)> {
        if path.leading_colon.is_some() || path.segments.len() != 2 {
            return None;
        }
        let b = self.bindings.get(&path.segments[0].ident.to_string())?;
        Some((b, &path.segments[1].ident))
    }

    /// The target's source for `<elem>.<name>`, parsed.
    fn entry<T: syn::parse::Parse>(&mut self, elem: &str, name: &str, span: Span) -> Option<T> {
        let key = format!("{elem}.{name}");
        let Some(text) = self.target.entry(&key) else {
            self.error(
                span,
                format!("target `{}` does not define `{key}`", self.target.name),
                "add it to the target's entries in generator/src/targets.rs",
            );
            return None;
        };
        match syn::parse_str::<T>(text) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(
                    span,
                    format!("target `{}`: `{key}` = `{text}` does not parse: {e}", self.target.name),
                    "fix the entry in generator/src/targets.rs",
                );
                None
            }
        }
    }

    /// The source text `span` covers, if it is on one line.
    fn source_text(&self, span: Span) -> Option<String> {
        let (start, end) = (span.start(), span.end());
        if start.line != end.line || end.column <= start.column {
            return None;
        }
        let line = self.source_of(span).text.lines().nth(start.line.checked_sub(1)?)?;
        let text: String = line
            .chars()
            .skip(start.column)
            .take(end.column - start.column)
            .collect();
        (!text.is_empty()).then_some(text)
    }

    /// A usize entry such as `f32.MR`.
    fn usize_entry(&mut self, elem: &str, name: &str, span: Span) -> Option<usize> {
        let e: Expr = self.entry(elem, name, span)?;
        const_int(&e).and_then(|v| usize::try_from(v).ok())
    }
}

/// Lowers one kernel instance for one target.
pub fn lower(inst: &Instance<'_>, target: &Target, api: &Api) -> Result<Lowered, Vec<Diagnostic>> {
    let kernel = inst.kernel;
    let mut bindings = BTreeMap::new();
    for (ident, spec, elem) in &inst.bindings {
        if let Some(tapi) = api.traits.get(spec.name) {
            bindings.insert(ident.clone(), Binding { api: tapi, elem });
        }
    }
    let mut cx = Ctx {
        src: &kernel.source,
        target,
        instance: &inst.fn_name,
        bindings,
        diags: vec![],
        helpers: BTreeSet::new(),
        helper_sources: kernel
            .helpers
            .values()
            .filter(|h| h.source.path != kernel.source.path)
            .map(|h| (h.item.sig.fn_token.span, &h.source))
            .collect(),
        usize_params: BTreeSet::new(),
    };
    let mut body = (*kernel.item.block).clone();
    // `const` parameters first: each value is an expression over `V::..`
    // constants, evaluated here for the target (the dispatch table lists the
    // values) and substituted into the body as its literal.
    let consts = const_values(&mut cx, inst);
    for (var, value) in &consts {
        SubstVar {
            var,
            value: *value as i128,
        }
        .visit_block_mut(&mut body);
    }
    // Helpers next, so that every later pass sees their code as the kernel's.
    Inline {
        cx: &mut cx,
        helpers: &kernel.helpers,
        stack: vec![],
    }
    .visit_block_mut(&mut body);

    let mut names = Names::default();
    names.visit_block(&body);
    cx.usize_params = kernel
        .item
        .sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            syn::FnArg::Typed(pt) if matches!(&*pt.ty, syn::Type::Path(t) if t.path.is_ident("usize")) => {
                match &*pt.pat {
                    syn::Pat::Ident(pi) => Some(pi.ident.to_string()),
                    _ => None,
                }
            }
            _ => None,
        })
        .filter(|n| !names.bound.contains(n))
        .collect();

    Check {
        cx: &mut cx,
        unroll_depth: 0,
        loop_depth: Vec::new(),
    }
    .visit_block(&body);
    if !cx.diags.is_empty() {
        return Err(cx.diags);
    }
    Consts { cx: &mut cx }.visit_block_mut(&mut body);
    Fold::new(&mut cx).visit_block_mut(&mut body);
    scalarize_tiles(&mut cx, &mut body);
    let mut ops = Ops {
        cx: &mut cx,
        vectors: BTreeSet::new(),
        templates: BTreeMap::new(),
    };
    ops.visit_block_mut(&mut body);
    let mut sig = kernel.item.sig.clone();
    sig.generics = syn::Generics::default();
    ops.visit_signature_mut(&mut sig);
    Fold::refold(&mut cx).visit_block_mut(&mut body);
    // An op that failed to lower is still in the tree; report it once, not twice.
    if cx.diags.is_empty() {
        Leftovers { cx: &mut cx }.visit_block(&body);
    }
    if !cx.diags.is_empty() {
        return Err(cx.diags);
    }

    // A parameter an instance does not use (a packed panel's fixed strides)
    // keeps its place in the signature, named as unused.
    let mut used = BTreeSet::new();
    Reads(&mut used).visit_block(&body);
    for input in sig.inputs.iter_mut() {
        if let syn::FnArg::Typed(pt) = input
            && let syn::Pat::Ident(pi) = &mut *pt.pat
            && !used.contains(&pi.ident.to_string())
        {
            pi.ident = syn::Ident::new(&format!("_{}", pi.ident), pi.ident.span());
        }
    }
    sig.ident = syn::Ident::new(&inst.fn_name, sig.ident.span());
    sig.unsafety = Some(Default::default());
    let mut attrs: Vec<syn::Attribute> = kernel.item.attrs.iter().filter_map(unlinked_doc).collect();
    let settings = inst
        .consts
        .iter()
        .map(|(c, v)| format!("{c} = {}", v.to_token_stream().to_string().replace(" :: ", "::")));
    let elems: Vec<String> = inst
        .bindings
        .iter()
        .map(|(i, _, e)| format!("{i} = {e}"))
        .chain(settings)
        .collect();
    let origin = format!(
        " Generated for `{}` from `base_{}` in `{}`{}.",
        target.name,
        kernel.name,
        kernel.source.path,
        if elems.is_empty() {
            String::new()
        } else {
            format!(" with {}", elems.join(", "))
        }
    );
    attrs.push(syn::parse_quote!(#[doc = ""]));
    attrs.push(syn::parse_quote!(#[doc = #origin]));
    if !target.features.is_empty() {
        let features = target.features.join(",");
        attrs.push(syn::parse_quote!(#[target_feature(enable = #features)]));
    }
    let item = syn::ItemFn {
        attrs,
        vis: syn::parse_quote!(pub),
        sig,
        block: Box::new(body),
    };
    Ok(Lowered {
        item,
        helpers: cx.helpers,
        consts,
    })
}

/// The value of each of the instance's `const` parameters on the target. A value
/// that is not a constant, or not a `usize` there, is an error at the value.
fn const_values(cx: &mut Ctx<'_>, inst: &Instance<'_>) -> Vec<(String, usize)> {
    const HELP: &str = "a `const` value is an integer expression over the vector constants, \
                        such as `V::MR / 2` or `(V::NR / V::LANES).min(2)`";
    let mut out = vec![];
    for (var, value) in &inst.consts {
        let mut e = value.clone();
        Consts { cx: &mut *cx }.visit_expr_mut(&mut e);
        let text = value.to_token_stream().to_string().replace(" :: ", "::");
        match const_int_signed(&e).map(|v| (v, usize::try_from(v))) {
            Some((_, Ok(v))) => out.push((var.clone(), v)),
            Some((v, Err(_))) => {
                let msg = format!("`{var} = {text}` is {v} on `{}`, not a `usize`", cx.target.name);
                cx.error(value.span(), msg, HELP)
            }
            None => cx.error(value.span(), format!("`{var} = {text}` is not a constant"), HELP),
        }
    }
    out
}

/// A doc attribute with its intra-doc links turned into plain code spans: they
/// name items of the kernels crate, which the generated code cannot link to.
fn unlinked_doc(attr: &syn::Attribute) -> Option<syn::Attribute> {
    let syn::Meta::NameValue(nv) = &attr.meta else {
        return None;
    };
    if !nv.path.is_ident("doc") {
        return None;
    }
    let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(text),
        ..
    }) = &nv.value
    else {
        return Some(attr.clone());
    };
    let mut out = String::new();
    let mut rest = text.value();
    while let Some(start) = rest.find("[`") {
        let Some(len) = rest[start + 2..].find("`]") else { break };
        let end = start + 2 + len + 2;
        let linked = rest[end..].starts_with('(') || rest[end..].starts_with('[');
        out.push_str(&rest[..start]);
        out.push_str(if linked {
            &rest[start..end]
        } else {
            &rest[start + 1..end - 1]
        });
        rest = rest[end..].to_string();
    }
    out.push_str(&rest);
    Some(syn::parse_quote!(#[doc = #out]))
}

// ---------------------------------------------------------------------------------
// 0. helpers

/// How deep helpers may call helpers: far more than any kernel needs, and a
/// bound on a chain that `stack` does not catch as a cycle.
const MAX_HELPER_DEPTH: usize = 16;

/// Replaces every call of a `#[kernel]` helper by its body: the call's generic
/// arguments substituted, its arguments bound to the parameters. An argument
/// that is a plain name, a literal or pure arithmetic on them (the common case:
/// `acc`, `alpha`, `ldc`, `4`) replaces the parameter where the helper uses it,
/// so that constants fold across the call; any other is evaluated once, before
/// the body, in a `let`.
struct Inline<'c, 'a> {
    cx: &'c mut Ctx<'a>,
    helpers: &'a Helpers,
    /// The helpers being inlined, outermost first.
    stack: Vec<String>,
}

impl Inline<'_, '_> {
    fn call(&mut self, call: &syn::ExprCall) -> Option<Expr> {
        let Expr::Path(p) = &*call.func else { return None };
        if p.qself.is_some() || p.path.leading_colon.is_some() || p.path.segments.len() != 1 {
            return None;
        }
        let seg = &p.path.segments[0];
        let helper = self.helpers.get(&seg.ident.to_string())?;
        let span = call.span();
        let name = &helper.name;
        if self.stack.contains(name) || self.stack.len() >= MAX_HELPER_DEPTH {
            let chain = self.stack.join("` -> `");
            self.cx.error(
                span,
                format!("helper `{name}` is called recursively (`{chain}` -> `{name}`)"),
                "a helper is inlined where it is called, so it cannot call itself, directly or through others",
            );
            return Some(Expr::Verbatim(Default::default()));
        }
        let params = &helper.item.sig.inputs;
        if params.len() != call.args.len() {
            self.cx.error(
                span,
                format!(
                    "helper `{name}` takes {} argument{}, {} given",
                    params.len(),
                    if params.len() == 1 { "" } else { "s" },
                    call.args.len()
                ),
                format!("its signature: {}", helper.item.sig.to_token_stream()),
            );
            return Some(Expr::Verbatim(Default::default()));
        }
        let mut body = (*helper.item.block).clone();
        let consts = self.generic_args(helper, seg, span, &mut body)?;
        let mut names = Names::default();
        names.visit_block(&body);
        // Each parameter with its argument, and whether the argument can stand
        // in for it; an argument that names a parameter bound by `let` cannot
        // (the binding would shadow the caller's variable).
        let mut binds: Vec<(&syn::PatIdent, &Expr, bool)> = vec![];
        for (param, arg) in params.iter().zip(&call.args) {
            let syn::FnArg::Typed(pt) = param else { continue };
            let syn::Pat::Ident(pi) = &*pt.pat else { continue };
            let var = pi.ident.to_string();
            let in_place = pi.mutability.is_none()
                && is_pure_place(arg)
                && !names.assigned.contains(&var)
                && !names.bound.contains(&var)
                && free_idents(arg).iter().all(|f| !names.bound.contains(f));
            binds.push((pi, arg, in_place));
        }
        loop {
            let bound: BTreeSet<String> = binds.iter().filter(|b| !b.2).map(|b| b.0.ident.to_string()).collect();
            let mut changed = false;
            for b in binds.iter_mut().filter(|b| b.2) {
                if free_idents(b.1).iter().any(|f| bound.contains(f)) {
                    b.2 = false;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // The generic arguments and the parameters replaced at once: an
        // argument may name a variable spelled like another parameter.
        let mut subst = consts;
        let mut lets: Vec<(syn::PatIdent, Expr)> = vec![];
        for (pi, arg, in_place) in binds {
            if in_place {
                subst.insert(pi.ident.to_string(), arg.clone());
            } else {
                let mut pi = pi.clone();
                pi.attrs.clear();
                lets.push((pi, arg.clone()));
            }
        }
        SubstExpr { vars: &subst }.visit_block_mut(&mut body);
        if let Some(ret) = find_return(&body) {
            self.cx.error(
                ret,
                format!("`return` in helper `{name}`"),
                "a helper is inlined into the kernel that calls it: end it with its value instead",
            );
            return Some(Expr::Verbatim(Default::default()));
        }
        self.stack.push(name.clone());
        self.visit_block_mut(&mut body);
        self.stack.pop();
        // One `let` for all: an argument may name a variable that an earlier
        // parameter's binding would shadow.
        let bind: Option<Stmt> = match lets.len() {
            0 => None,
            1 => {
                let (pat, init) = lets.pop()?;
                Some(syn::parse_quote!(let #pat = #init;))
            }
            _ => {
                let (pats, inits): (Vec<_>, Vec<_>) = lets.into_iter().unzip();
                Some(syn::parse_quote!(let (#(#pats),*) = (#(#inits),*);))
            }
        };
        body.stmts.splice(0..0, bind);
        Some(match body.stmts.as_slice() {
            [Stmt::Expr(e, None)] if is_pure(e) => Expr::Paren(syn::ExprParen {
                attrs: vec![],
                paren_token: Default::default(),
                expr: Box::new(e.clone()),
            }),
            _ => Expr::Block(syn::ExprBlock {
                attrs: vec![],
                label: None,
                block: body,
            }),
        })
    }

    /// Renames the helper's vector parameters in `body` to the caller's, and
    /// returns the value of each `const` parameter, to substitute with the
    /// arguments.
    fn generic_args(
        &mut self,
        helper: &Helper,
        seg: &syn::PathSegment,
        span: Span,
        body: &mut Block,
    ) -> Option<BTreeMap<String, Expr>> {
        let given: Vec<&syn::GenericArgument> = match &seg.arguments {
            syn::PathArguments::AngleBracketed(a) => a.args.iter().collect(),
            _ => vec![],
        };
        let wanted: Vec<&str> = helper
            .generics
            .iter()
            .map(|g| match g {
                HelperParam::Vector { ident, .. } | HelperParam::Const { ident } => ident.as_str(),
            })
            .collect();
        let usage = format!("`{}::<{}>(..)`", helper.name, wanted.join(", "));
        if given.len() != wanted.len() {
            self.cx.error(
                span,
                format!(
                    "helper `{}` has {} generic parameter{}, {} given",
                    helper.name,
                    wanted.len(),
                    if wanted.len() == 1 { "" } else { "s" },
                    given.len()
                ),
                format!("name every one at the call: {usage}"),
            );
            return None;
        }
        let (mut renames, mut consts) = (BTreeMap::new(), BTreeMap::new());
        for (g, arg) in helper.generics.iter().zip(given) {
            match g {
                HelperParam::Vector { ident, trait_name } => {
                    let caller = match arg {
                        syn::GenericArgument::Type(syn::Type::Path(tp)) if tp.qself.is_none() => tp.path.get_ident(),
                        _ => None,
                    };
                    let bound = caller.and_then(|c| self.cx.bindings.get(&c.to_string()).map(|b| (c, b)));
                    match bound {
                        Some((c, b)) if b.api.spec.name == *trait_name => {
                            renames.insert(ident.clone(), c.clone());
                        }
                        _ => {
                            self.cx.error(
                                arg.span(),
                                format!(
                                    "`{}` for `{ident}: {trait_name}` of helper `{}` is not a vector parameter bound by `{trait_name}`",
                                    arg.to_token_stream(),
                                    helper.name
                                ),
                                format!("pass the calling kernel's own: {usage}"),
                            );
                            return None;
                        }
                    }
                }
                HelperParam::Const { ident } => {
                    let value: Expr = match arg {
                        syn::GenericArgument::Const(e) => e.clone(),
                        // `ROWS` and `V::MR` parse as types in a turbofish.
                        syn::GenericArgument::Type(syn::Type::Path(tp)) => Expr::Path(syn::ExprPath {
                            attrs: vec![],
                            qself: tp.qself.clone(),
                            path: tp.path.clone(),
                        }),
                        other => {
                            self.cx.error(
                                other.span(),
                                format!(
                                    "`const {ident}` of helper `{}` needs a constant expression",
                                    helper.name
                                ),
                                format!("write it as `{{ V::MR / 2 }}`, a literal or a `const` parameter: {usage}"),
                            );
                            return None;
                        }
                    };
                    let value = match value {
                        Expr::Block(b) if b.block.stmts.len() == 1 => match &b.block.stmts[0] {
                            Stmt::Expr(e, None) => e.clone(),
                            _ => Expr::Block(b),
                        },
                        v => v,
                    };
                    consts.insert(ident.clone(), value);
                }
            }
        }
        RenameParams { map: &renames }.visit_block_mut(body);
        Some(consts)
    }
}

impl VisitMut for Inline<'_, '_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        visit_mut::visit_expr_mut(self, e);
        if let Expr::Call(call) = e
            && let Some(inlined) = self.call(call)
        {
            *e = inlined;
        }
    }

    fn visit_block_mut(&mut self, block: &mut Block) {
        visit_mut::visit_block_mut(self, block);
        // A call as a statement whose body declares nothing becomes its
        // statements; one that declares locals stays a block, its scope.
        let mut out = Vec::with_capacity(block.stmts.len());
        for stmt in std::mem::take(&mut block.stmts) {
            match stmt {
                Stmt::Expr(Expr::Block(mut b), semi) if b.attrs.is_empty() && b.label.is_none() => {
                    if semi.is_none() && has_value(&b.block) {
                        // The block's value is the enclosing block's.
                        out.push(Stmt::Expr(Expr::Block(b), None));
                    } else if b.block.stmts.iter().any(|s| matches!(s, Stmt::Local(_))) {
                        // A value the call discards ends in `;` inside the block.
                        if let Some(last) = b.block.stmts.pop() {
                            b.block.stmts.push(terminate(last));
                        }
                        out.push(Stmt::Expr(Expr::Block(b), None));
                    } else {
                        out.extend(b.block.stmts.into_iter().map(terminate));
                    }
                }
                s => out.push(s),
            }
        }
        block.stmts = out;
    }
}

/// An argument that may replace its parameter at every use: a literal, a
/// name, pure arithmetic on them, or a tile or array element with such an index.
fn is_pure_place(e: &Expr) -> bool {
    match e {
        Expr::Index(ix) => is_pure_place(&ix.expr) && is_pure_place(&ix.index),
        Expr::Tuple(t) => t.elems.iter().all(is_pure_place),
        Expr::Paren(p) => is_pure_place(&p.expr),
        e => is_pure(e),
    }
}

/// The plain names an expression reads (`a` in `a * 2`; not `V` in `V::MR`).
fn free_idents(e: &Expr) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    Reads(&mut names).visit_expr(e);
    names
}

/// Collects the plain names the code it visits reads.
struct Reads<'r>(&'r mut BTreeSet<String>);

impl<'ast> Visit<'ast> for Reads<'_> {
    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        if let Some(i) = p.path.get_ident() {
            self.0.insert(i.to_string());
        }
    }
}

/// The names a block binds (`let`, `for` and closure patterns) and assigns.
#[derive(Default)]
struct Names {
    bound: BTreeSet<String>,
    assigned: BTreeSet<String>,
}

impl<'ast> Visit<'ast> for Names {
    fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
        self.bound.insert(p.ident.to_string());
        syn::visit::visit_pat_ident(self, p);
    }

    fn visit_expr(&mut self, e: &'ast Expr) {
        let target = match e {
            Expr::Assign(a) => Some(&*a.left),
            Expr::Binary(b) if is_compound_assign(&b.op) => Some(&*b.left),
            Expr::Reference(r) if r.mutability.is_some() => Some(&*r.expr),
            _ => None,
        };
        if let Some(Expr::Path(p)) = target
            && let Some(i) = p.path.get_ident()
        {
            self.assigned.insert(i.to_string());
        }
        syn::visit::visit_expr(self, e);
    }
}

fn is_compound_assign(op: &syn::BinOp) -> bool {
    use syn::BinOp::*;
    matches!(
        op,
        AddAssign(_)
            | SubAssign(_)
            | MulAssign(_)
            | DivAssign(_)
            | RemAssign(_)
            | BitXorAssign(_)
            | BitAndAssign(_)
            | BitOrAssign(_)
            | ShlAssign(_)
            | ShrAssign(_)
    )
}

/// Where the first `return` in a block is.
fn find_return(b: &Block) -> Option<Span> {
    struct Find(Option<Span>);
    impl<'ast> Visit<'ast> for Find {
        fn visit_expr_return(&mut self, r: &'ast syn::ExprReturn) {
            self.0.get_or_insert(r.span());
        }
    }
    let mut f = Find(None);
    f.visit_block(b);
    f.0
}

/// Replaces variables by expressions (parenthesized unless atomic), all in
/// one walk.
struct SubstExpr<'v> {
    vars: &'v BTreeMap<String, Expr>,
}

impl VisitMut for SubstExpr<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        if let Expr::Path(p) = e
            && p.qself.is_none()
            && let Some(value) = p.path.get_ident().and_then(|i| self.vars.get(&i.to_string()))
        {
            *e = if is_atomic(value) {
                value.clone()
            } else {
                Expr::Paren(syn::ExprParen {
                    attrs: vec![],
                    paren_token: Default::default(),
                    expr: Box::new(value.clone()),
                })
            };
            return;
        }
        visit_mut::visit_expr_mut(self, e);
    }
}

/// Renames a helper's vector parameters to the caller's: `W::load` ->
/// `V::load`, `W::Elem` -> `V::Elem`, and `W` in the turbofish of a nested call.
struct RenameParams<'v> {
    map: &'v BTreeMap<String, syn::Ident>,
}

impl VisitMut for RenameParams<'_> {
    fn visit_path_mut(&mut self, p: &mut syn::Path) {
        if let Some(first) = p.segments.first_mut()
            && let Some(to) = self.map.get(&first.ident.to_string())
        {
            first.ident = syn::Ident::new(&to.to_string(), first.ident.span());
        }
        visit_mut::visit_path_mut(self, p);
    }
}

// ---------------------------------------------------------------------------------
// 1. check

fn is_unroll(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("unroll")
}

struct Check<'c, 'a> {
    cx: &'c mut Ctx<'a>,
    unroll_depth: usize,
    /// For each enclosing loop: is it an `#[unroll]` loop?
    loop_depth: Vec<bool>,
}

impl Check<'_, '_> {
    fn unsupported(&mut self, span: Span, what: &str, help: &str) {
        self.cx
            .error(span, format!("{what} not supported inside a kernel"), help.to_string());
    }
}

impl<'ast> Visit<'ast> for Check<'_, '_> {
    fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
        if is_unroll(attr) && !matches!(attr.meta, syn::Meta::Path(_)) {
            self.cx.error(
                attr.span(),
                "`#[unroll]` takes no arguments",
                "`#[unroll]` makes one copy of the body per iteration; to unroll by a factor, loop over \
                 blocks at run time and `#[unroll]` an inner `for j in 0..4`",
            );
        }
    }

    fn visit_expr(&mut self, e: &'ast Expr) {
        let attrs: &[syn::Attribute] = match e {
            Expr::ForLoop(f) => &f.attrs,
            Expr::While(w) => &w.attrs,
            Expr::Loop(l) => &l.attrs,
            Expr::Block(b) => &b.attrs,
            Expr::If(i) => &i.attrs,
            Expr::Call(c) => &c.attrs,
            Expr::MethodCall(m) => &m.attrs,
            Expr::Assign(a) => &a.attrs,
            _ => &[],
        };
        if let Some(attr) = attrs.iter().find(|a| is_unroll(a))
            && !matches!(e, Expr::ForLoop(_))
        {
            self.cx.error(
                attr.span(),
                "`#[unroll]` applies only to `for` loops",
                "put it on a `for i in A..B` loop with constant bounds",
            );
        }
        match e {
            Expr::Macro(m) => self.unsupported(
                m.span(),
                &format!("the macro `{}!`", m.mac.path.to_token_stream()),
                "the generator cannot see inside macro calls; write the code out",
            ),
            Expr::Closure(c) => self.unsupported(c.span(), "a closure is", "write a loop or a plain block instead"),
            Expr::Async(a) => self.unsupported(a.span(), "`async` is", "kernels are synchronous straight-line code"),
            Expr::Await(a) => self.unsupported(a.span(), "`.await` is", "kernels are synchronous straight-line code"),
            Expr::TryBlock(t) => self.unsupported(
                t.span(),
                "a `try` block is",
                "kernels cannot fail; check inputs in the caller",
            ),
            Expr::Try(t) => self.unsupported(
                t.span(),
                "the `?` operator is",
                "kernels cannot fail; check inputs in the caller",
            ),
            Expr::Yield(y) => self.unsupported(y.span(), "`yield` is", "kernels are plain functions"),
            Expr::Return(r) if self.unroll_depth > 0 => self.unsupported(
                r.span(),
                "`return` inside an `#[unroll]` loop is",
                "unrolled copies run in sequence; compute a flag and branch after the loop",
            ),
            Expr::Break(b) if self.loop_depth.last() == Some(&true) => self.unsupported(
                b.span(),
                "`break` out of an `#[unroll]` loop is",
                "unrolled loops always run every iteration",
            ),
            Expr::Continue(c) if self.loop_depth.last() == Some(&true) => self.unsupported(
                c.span(),
                "`continue` in an `#[unroll]` loop is",
                "use an `if` around the rest of the body",
            ),
            _ => {}
        }
        match e {
            Expr::ForLoop(f) => {
                let unroll = f.attrs.iter().any(is_unroll);
                self.unroll_depth += usize::from(unroll);
                self.loop_depth.push(unroll);
                syn::visit::visit_expr(self, e);
                self.loop_depth.pop();
                self.unroll_depth -= usize::from(unroll);
            }
            Expr::While(_) | Expr::Loop(_) => {
                self.loop_depth.push(false);
                syn::visit::visit_expr(self, e);
                self.loop_depth.pop();
            }
            _ => syn::visit::visit_expr(self, e),
        }
    }

    fn visit_stmt(&mut self, s: &'ast Stmt) {
        match s {
            Stmt::Item(item) => self.unsupported(
                item.span(),
                "an item (fn, struct, use, ..) is",
                "define helpers outside the kernel crate's kernels, or inline them",
            ),
            Stmt::Macro(m) => self.unsupported(
                m.span(),
                &format!("the macro `{}!`", m.mac.path.to_token_stream()),
                "the generator cannot see inside macro calls; write the code out",
            ),
            Stmt::Local(l) => {
                if let Some(attr) = l.attrs.iter().find(|a| is_unroll(a)) {
                    self.cx.error(
                        attr.span(),
                        "`#[unroll]` applies only to `for` loops",
                        "put it on a `for i in A..B` loop with constant bounds",
                    );
                }
                syn::visit::visit_stmt(self, s)
            }
            _ => syn::visit::visit_stmt(self, s),
        }
    }
}

// ---------------------------------------------------------------------------------
// 2. consts

struct Consts<'c, 'a> {
    cx: &'c mut Ctx<'a>,
}

impl VisitMut for Consts<'_, '_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        // Leave `V::op` in call position to the ops pass.
        if let Expr::Call(call) = e
            && let Expr::Path(p) = &*call.func
            && self.cx.assoc(&p.path).is_some()
        {
            for arg in &mut call.args {
                self.visit_expr_mut(arg);
            }
            return;
        }
        if let Expr::Path(p) = e
            && let Some((b, name)) = self.cx.assoc(&p.path)
        {
            let (api, elem, name_s, span) = (b.api, b.elem, name.to_string(), p.span());
            if api.usize_consts.contains(&name_s) || api.elem_consts.contains(&name_s) {
                if let Some(value) = self.cx.entry::<Expr>(elem, &name_s, span) {
                    // At the constant's place, for errors about the arithmetic on it.
                    *e = syn::parse2(respan(value.to_token_stream(), span)).unwrap_or(value);
                }
            } else if !api.ops.contains_key(&name_s) && !api.types.contains(&name_s) {
                let consts: Vec<&str> = api
                    .usize_consts
                    .iter()
                    .chain(&api.elem_consts)
                    .map(String::as_str)
                    .collect();
                let items = consts.iter().copied().chain(api.types.iter().map(String::as_str));
                let guess = closest(&name_s, items)
                    .map(|c| format!("did you mean `{}::{c}`? ", p.path.segments[0].ident))
                    .unwrap_or_default();
                self.cx.error(
                    span,
                    format!("`{}` has no associated item `{name_s}`", api.spec.name),
                    format!("{guess}constants: {}; ops: {}", consts.join(", "), api.op_list()),
                );
            }
            return;
        }
        visit_mut::visit_expr_mut(self, e);
    }
}

/// `tokens` with every span set to `span` (target entries are a few tokens).
fn respan(tokens: proc_macro2::TokenStream, span: Span) -> proc_macro2::TokenStream {
    use proc_macro2::TokenTree;
    tokens
        .into_iter()
        .map(|mut t| {
            if let TokenTree::Group(g) = &t {
                let mut inner = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                inner.set_span(span);
                t = TokenTree::Group(inner);
            } else {
                t.set_span(span);
            }
            t
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// 3. fold + unroll

/// The largest `usize` of every target the generated code is built for (64-bit
/// x86-64 and AArch64; wasm32 is narrower, and its builds check the rest).
pub const USIZE_MAX: i128 = u64::MAX as i128;

/// Why constant arithmetic has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithError {
    /// Above `usize::MAX`, or a shift by at least its width.
    Overflow,
    /// Below zero.
    Underflow,
    DivisionByZero,
}

/// `l op r` as the kernel language computes constants: in `usize` when both
/// operands are non-negative (the vector constants and `const` parameters are
/// `usize`s), as signed integers when one is negative. `Ok(None)` for an
/// operator that is not arithmetic.
pub fn const_arith(l: i128, op: &syn::BinOp, r: i128) -> Result<Option<i128>, ArithError> {
    use syn::BinOp::*;
    if !matches!(op, Add(_) | Sub(_) | Mul(_) | Div(_) | Rem(_) | Shl(_) | Shr(_)) {
        return Ok(None);
    }
    if matches!(op, Div(_) | Rem(_)) && r == 0 {
        return Err(ArithError::DivisionByZero);
    }
    if l < 0 || r < 0 {
        let v = match op {
            Add(_) => l.checked_add(r),
            Sub(_) => l.checked_sub(r),
            Mul(_) => l.checked_mul(r),
            Div(_) => l.checked_div(r),
            Rem(_) => l.checked_rem(r),
            Shl(_) => u32::try_from(r).ok().and_then(|r| l.checked_shl(r)),
            _ => u32::try_from(r).ok().and_then(|r| l.checked_shr(r)),
        };
        return v.map(Some).ok_or(ArithError::Overflow);
    }
    let bits = USIZE_MAX.count_ones() as i128;
    let v = match op {
        Add(_) => l.checked_add(r),
        Sub(_) if l < r => return Err(ArithError::Underflow),
        Sub(_) => Some(l - r),
        Mul(_) => l.checked_mul(r),
        Div(_) => Some(l / r),
        Rem(_) => Some(l % r),
        // As in Rust: bits shifted out are lost; a shift by the width or more overflows.
        Shl(_) if r < bits => Some((l << r) & USIZE_MAX),
        Shr(_) if r < bits => Some(l >> r),
        _ => None,
    };
    match v {
        Some(v) if v <= USIZE_MAX => Ok(Some(v)),
        _ => Err(ArithError::Overflow),
    }
}

/// The value of an integer literal of the kernel language's constant arithmetic:
/// unsuffixed or `usize`, and within `usize`. Other suffixes are left to rustc
/// (folding would drop the type).
fn int_value(i: &syn::LitInt) -> Option<i128> {
    if !matches!(i.suffix(), "" | "usize") {
        return None;
    }
    i.base10_parse::<i128>().ok().filter(|v| *v <= USIZE_MAX)
}

/// The value of a constant integer expression, computed as [`const_arith`]
/// does; `None` where it is not constant or has no value (an overflow).
pub fn const_int(e: &Expr) -> Option<i128> {
    eval_int(e, &|l, op, r| const_arith(l, op, r).ok().flatten())
}

/// [`const_int`] in plain signed arithmetic, to say what a negative value is.
fn const_int_signed(e: &Expr) -> Option<i128> {
    eval_int(e, &|l, op, r| match const_arith(l, op, r) {
        Err(ArithError::Underflow) => l.checked_sub(r),
        v => v.ok().flatten(),
    })
}

fn eval_int(e: &Expr, arith: &dyn Fn(i128, &syn::BinOp, i128) -> Option<i128>) -> Option<i128> {
    match e {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i), ..
        }) => int_value(i),
        Expr::Paren(p) => eval_int(&p.expr, arith),
        Expr::Group(g) => eval_int(&g.expr, arith),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => eval_int(expr, arith).and_then(i128::checked_neg),
        // `x.div_ceil(y)`, `x.min(y)`, `x.max(y)` on constants (`V::MR.div_ceil(V::LANES)`).
        Expr::MethodCall(m) if m.args.len() == 1 && m.turbofish.is_none() => {
            let (l, r) = (eval_int(&m.receiver, arith)?, eval_int(&m.args[0], arith)?);
            match m.method.to_string().as_str() {
                "div_ceil" if l >= 0 && r > 0 => l.checked_add(r - 1).map(|x| x / r),
                "min" => Some(l.min(r)),
                "max" => Some(l.max(r)),
                _ => None,
            }
        }
        Expr::Binary(b) => {
            let (l, r) = (eval_int(&b.left, arith)?, eval_int(&b.right, arith)?);
            arith(l, &b.op, r)
        }
        _ => None,
    }
}

/// The value of a folded integer constant: a literal, perhaps negated or in
/// parentheses. Folding works bottom-up, so by the time an expression is folded
/// each constant operand is one of these; looking no deeper keeps folding
/// linear (evaluating the whole operand at every level would be quadratic).
fn folded_int(e: &Expr) -> Option<i128> {
    match e {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i), ..
        }) => int_value(i),
        Expr::Paren(p) => folded_int(&p.expr),
        Expr::Group(g) => folded_int(&g.expr),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => folded_int(expr).and_then(i128::checked_neg),
        _ => None,
    }
}

/// The value of a folded boolean constant: a literal, perhaps negated or in
/// parentheses.
fn folded_bool(e: &Expr) -> Option<bool> {
    match e {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Bool(b), ..
        }) => Some(b.value),
        Expr::Paren(p) => folded_bool(&p.expr),
        Expr::Group(g) => folded_bool(&g.expr),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Not(_),
            expr,
            ..
        }) => folded_bool(expr).map(|v| !v),
        _ => None,
    }
}

/// The integer `e` folds to, its operands folded already.
fn fold_int(e: &Expr) -> Option<i128> {
    match e {
        Expr::Binary(b) => const_arith(folded_int(&b.left)?, &b.op, folded_int(&b.right)?)
            .ok()
            .flatten(),
        Expr::MethodCall(m) if m.args.len() == 1 && m.turbofish.is_none() => {
            let (l, r) = (folded_int(&m.receiver)?, folded_int(&m.args[0])?);
            match m.method.to_string().as_str() {
                "div_ceil" if l >= 0 && r > 0 => l.checked_add(r - 1).map(|x| x / r),
                "min" => Some(l.min(r)),
                "max" => Some(l.max(r)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The boolean `e` folds to, its operands folded already.
fn fold_bool(e: &Expr) -> Option<bool> {
    use syn::BinOp::*;
    let Expr::Binary(b) = e else { return None };
    match b.op {
        And(_) => Some(folded_bool(&b.left)? && folded_bool(&b.right)?),
        Or(_) => Some(folded_bool(&b.left)? || folded_bool(&b.right)?),
        _ => {
            let (l, r) = (folded_int(&b.left)?, folded_int(&b.right)?);
            match b.op {
                Eq(_) => Some(l == r),
                Ne(_) => Some(l != r),
                Lt(_) => Some(l < r),
                Le(_) => Some(l <= r),
                Gt(_) => Some(l > r),
                Ge(_) => Some(l >= r),
                _ => None,
            }
        }
    }
}

fn int_lit(v: i128) -> Expr {
    int_lit_at(v, Span::call_site())
}

/// An integer literal that keeps the span of the code it replaces, so that
/// errors about the expressions around it still point at the source.
fn int_lit_at(v: i128, span: Span) -> Expr {
    let lit = Expr::Lit(syn::ExprLit {
        attrs: vec![],
        lit: syn::Lit::Int(syn::LitInt::new(&v.unsigned_abs().to_string(), span)),
    });
    if v < 0 {
        Expr::Unary(syn::ExprUnary {
            attrs: vec![],
            op: syn::UnOp::Neg(syn::Token![-](span)),
            expr: Box::new(lit),
        })
    } else {
        lit
    }
}

fn bool_lit_at(v: bool, span: Span) -> Expr {
    Expr::Lit(syn::ExprLit {
        attrs: vec![],
        lit: syn::Lit::Bool(syn::LitBool::new(v, span)),
    })
}

/// No calls, no assignments: safe to drop (`x * 0`) or duplicate.
fn is_pure(e: &Expr) -> bool {
    match e {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Paren(p) => is_pure(&p.expr),
        Expr::Binary(b) => !is_compound_assign(&b.op) && is_pure(&b.left) && is_pure(&b.right),
        Expr::Unary(u) => !matches!(u.op, syn::UnOp::Deref(_)) && is_pure(&u.expr),
        _ => false,
    }
}

/// The names and values a `let` gives that may replace the names in `rest`,
/// the statements after it: literals and plain names bound to immutable plain
/// names (`let x = 4;`, `let (a, b) = (1, b);`), where neither the name nor the
/// variable it copies is bound or assigned again; and a pure value that `rest`
/// reads once (`let cv = c.add(16);` before one store), so that no work is
/// repeated. `let x = x;` gives `x` itself.
fn propagated(local: &syn::Local, rest: &std::collections::VecDeque<Stmt>) -> Option<Vec<(String, Expr)>> {
    if !local.attrs.is_empty() || local.init.as_ref()?.diverge.is_some() {
        return None;
    }
    let init = &*local.init.as_ref()?.expr;
    let plain = |p: &syn::Pat| match p {
        syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.mutability.is_none() && pi.subpat.is_none() => {
            Some(pi.ident.to_string())
        }
        _ => None,
    };
    let atomic = |e: &Expr| match e {
        Expr::Lit(_) => true,
        Expr::Path(p) => p.qself.is_none() && p.path.get_ident().is_some(),
        _ => false,
    };
    let pairs: Vec<(String, Expr)> = match (&local.pat, init) {
        (syn::Pat::Tuple(pt), Expr::Tuple(t)) if pt.elems.len() == t.elems.len() => pt
            .elems
            .iter()
            .zip(&t.elems)
            .map(|(p, e)| plain(p).zip(atomic(e).then(|| e.clone())))
            .collect::<Option<_>>()?,
        (p, e) if atomic(e) || is_pure_value(e) => vec![(plain(p)?, e.clone())],
        _ => return None,
    };
    let mut names = Names::default();
    rest.iter().for_each(|s| names.visit_stmt(s));
    let stable = |n: &String| !names.bound.contains(n) && !names.assigned.contains(n);
    let ok = pairs
        .iter()
        .all(|(n, v)| stable(n) && free_idents(v).iter().all(stable) && (atomic(v) || reads_of(n, rest) <= 1));
    // `let (a, b) = (b, a)`: a value that names another of the pattern's names
    // reads the variable before this `let`, which substitution would not.
    let swaps = pairs.iter().any(|(n, v)| {
        free_idents(v)
            .iter()
            .any(|f| f != n && pairs.iter().any(|(m, _)| m == f))
    });
    (ok && !swaps).then_some(pairs)
}

/// How many times `rest` reads the plain name `name`.
fn reads_of(name: &str, rest: &std::collections::VecDeque<Stmt>) -> usize {
    struct Count<'n>(&'n str, usize);
    impl<'ast> Visit<'ast> for Count<'_> {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            if p.path.is_ident(self.0) {
                self.1 += 1;
            }
        }
    }
    let mut c = Count(name, 0);
    rest.iter().for_each(|s| c.visit_stmt(s));
    c.1
}

/// Drops `let x = <pure>;` where nothing after it in the block reads `x`: a
/// constant of the instance can leave a value unused (`PACK_B` uses `ldb` for
/// one thing, the other instances for another).
fn drop_dead_lets(stmts: &mut Vec<Stmt>) {
    let mut read: BTreeSet<String> = BTreeSet::new();
    let mut keep = vec![true; stmts.len()];
    for (i, s) in stmts.iter().enumerate().rev() {
        if let Stmt::Local(l) = s
            && l.attrs.is_empty()
            && let Some(init) = &l.init
            && init.diverge.is_none()
            && is_pure_value(&init.expr)
        {
            let mut bound = Names::default();
            bound.visit_pat(&l.pat);
            if bound.bound.iter().all(|n| !read.contains(n)) {
                keep[i] = false;
                continue;
            }
        }
        Reads(&mut read).visit_stmt(s);
    }
    let mut k = keep.into_iter();
    stmts.retain(|_| k.next().unwrap_or(true));
}

/// A value without effects: pure arithmetic, casts, tuples and pointer
/// offsets of them.
fn is_pure_value(e: &Expr) -> bool {
    match e {
        Expr::Cast(c) => is_pure_value(&c.expr),
        Expr::MethodCall(m) if ["add", "wrapping_add", "min", "max"].contains(&m.method.to_string().as_str()) => {
            is_pure_value(&m.receiver) && m.args.iter().all(is_pure_value)
        }
        Expr::Tuple(t) => t.elems.iter().all(is_pure_value),
        Expr::Paren(p) => is_pure_value(&p.expr),
        e => is_pure(e),
    }
}

struct Fold<'c, 'a> {
    cx: &'c mut Ctx<'a>,
    /// What the `#[unroll]` loops may still produce in this instance.
    budget: Cost,
    /// Set once the budget is spent: the error is reported, nothing more unrolls.
    exhausted: bool,
    /// Where each `#[unroll]` loop being expanded starts, outermost first.
    nest: Vec<Span>,
    /// Report constant arithmetic without a `usize` value. The pass after the
    /// ops pass only folds what the templates leave.
    check: bool,
}

impl<'c, 'a> Fold<'c, 'a> {
    fn new(cx: &'c mut Ctx<'a>) -> Self {
        Fold {
            cx,
            budget: Cost {
                stmts: MAX_UNROLLED_STMTS,
                exprs: MAX_UNROLLED_EXPRS,
            },
            exhausted: false,
            nest: vec![],
            check: true,
        }
    }

    fn refold(cx: &'c mut Ctx<'a>) -> Self {
        Fold {
            check: false,
            ..Fold::new(cx)
        }
    }

    /// An error for `e` itself if it is constant arithmetic with no `usize`
    /// value (its operands are folded already; one that had an error is not
    /// constant, so an error is reported once, where it arises).
    fn check_const(&mut self, e: &Expr) {
        let (l, op, r, result) = match e {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i), ..
            }) if matches!(i.suffix(), "" | "usize") && int_value(i).is_none() => {
                self.cx.error(
                    i.span(),
                    format!("integer literal `{i}` is too big for `usize`"),
                    format!("`usize` holds at most {USIZE_MAX}"),
                );
                return;
            }
            Expr::Binary(b) => match (folded_int(&b.left), folded_int(&b.right)) {
                (Some(l), Some(r)) => (l, b.op.to_token_stream().to_string(), r, const_arith(l, &b.op, r)),
                _ => return,
            },
            Expr::MethodCall(m) if m.method == "div_ceil" && m.args.len() == 1 => {
                match (folded_int(&m.receiver), folded_int(&m.args[0])) {
                    (Some(l), Some(0)) => (l, "div_ceil".to_string(), 0, Err(ArithError::DivisionByZero)),
                    _ => return,
                }
            }
            _ => return,
        };
        let Err(why) = result else { return };
        let span = e.span();
        let folded = if op == "div_ceil" {
            format!("{l}.div_ceil({r})")
        } else {
            format!("{l} {op} {r}")
        };
        // Say what the source's constants came to on this target, where they differ.
        let what = match self.cx.source_text(span) {
            Some(text) if text.split_whitespace().ne(folded.split_whitespace()) => {
                format!(
                    "`{text}` is `{folded}` in `{}` on `{}`",
                    self.cx.instance, self.cx.target.name
                )
            }
            _ => format!("`{folded}`"),
        };
        let (msg, help) = match why {
            ArithError::Overflow => (
                format!("constant arithmetic overflows `usize`: {what}"),
                format!(
                    "the vector constants and `const` parameters are `usize`s, and so is the arithmetic on \
                     them: each step must stay within 0..={USIZE_MAX}, and a shift must be by less than {}",
                    USIZE_MAX.count_ones()
                ),
            ),
            ArithError::Underflow => (
                format!("constant arithmetic underflows `usize` (goes below zero): {what}"),
                "the vector constants and `const` parameters are `usize`s, and so is the arithmetic on them: \
                 no step may go below zero (compare before subtracting, or reorder the terms)"
                    .to_string(),
            ),
            ArithError::DivisionByZero => (
                format!("division by zero in constant arithmetic: {what}"),
                "the divisor is zero here; guard the division with a constant `if`, or fix the divisor".to_string(),
            ),
        };
        self.cx.error(span, msg, help);
    }

    /// Reports the spent budget once, at the outermost loop of the nest that
    /// spent it: that is the loop to shrink or turn back into a run-time loop.
    fn over_budget(&mut self, here: Span, wanted: Cost) {
        self.exhausted = true;
        let at = self.nest.first().copied().unwrap_or(here);
        let what = if wanted.stmts > self.budget.stmts {
            format!("{MAX_UNROLLED_STMTS} statements")
        } else {
            format!("{MAX_UNROLLED_EXPRS} expressions")
        };
        self.cx.error(
            at,
            format!("`#[unroll]` would expand to more than {what}"),
            "unroll only the innermost, register-blocked loops; keep the outer ones as run-time loops",
        );
    }

    /// Replaces an `#[unroll]` loop by its copies, appended to `out`.
    fn unroll(&mut self, mut f: syn::ExprForLoop, out: &mut Vec<Stmt>) {
        if self.exhausted {
            return;
        }
        let reported = self.cx.diags.len();
        self.visit_expr_mut(&mut f.expr);
        if self.cx.diags.len() > reported {
            // The bounds had an error of their own (a division by zero).
            return;
        }
        let var = match &*f.pat {
            syn::Pat::Ident(var) => Some(var.ident.to_string()),
            syn::Pat::Wild(_) => None,
            _ => {
                self.cx.error(
                    f.pat.span(),
                    "an `#[unroll]` loop needs a plain loop variable",
                    "write `for i in A..B` (or `for _ in A..B`)",
                );
                return;
            }
        };
        let Some((start, end)) = unroll_bounds(&f.expr) else {
            self.cx.error(
                f.expr.span(),
                format!(
                    "`#[unroll]` loop bounds must be compile-time constants, found `{}`",
                    f.expr.to_token_stream()
                ),
                "use integer literals and the trait's constants (`V::LANES`, `V::MR`, `V::NR`) with + - * / %, div_ceil, min, max; \
                 remove `#[unroll]` to keep a runtime loop",
            );
            return;
        };
        let header = f.for_token.span.join(f.expr.span()).unwrap_or(f.for_token.span);
        // Before any copy: the trip counts of this loop and of the constant-bound
        // loops inside it, multiplied out, must fit what is left.
        let cost = UnrollCost::of(&f.body);
        let all = cost.per_copy().times(trip_count(start, end));
        if !all.fits(self.budget) {
            self.over_budget(header, all);
            return;
        }
        self.nest.push(header);
        let per_copy = cost.own();
        let mut v = start;
        while v < end {
            // Inner loops whose bounds depend on `var` charge for themselves.
            if !per_copy.fits(self.budget) {
                self.over_budget(header, per_copy);
                break;
            }
            self.budget = self.budget.minus(per_copy);
            let mut body = f.body.clone();
            if let Some(var) = &var {
                SubstVar { var, value: v }.visit_block_mut(&mut body);
            }
            self.visit_block_mut(&mut body);
            if self.exhausted {
                break;
            }
            if body.stmts.iter().any(|s| matches!(s, Stmt::Local(_))) {
                out.push(Stmt::Expr(
                    Expr::Block(syn::ExprBlock {
                        attrs: vec![],
                        label: None,
                        block: body,
                    }),
                    None,
                ));
            } else {
                out.extend(body.stmts.into_iter().map(terminate));
            }
            v += 1;
        }
        self.nest.pop();
    }
}

/// `(start, end)` of a constant `A..B` or `A..=B` range, end exclusive.
fn unroll_bounds(e: &Expr) -> Option<(i128, i128)> {
    let Expr::Range(r) = e else { return None };
    let (a, b) = (const_int(r.start.as_deref()?)?, const_int(r.end.as_deref()?)?);
    Some(match r.limits {
        syn::RangeLimits::Closed(_) => (a, b.saturating_add(1)),
        syn::RangeLimits::HalfOpen(_) => (a, b),
    })
}

fn trip_count(start: i128, end: i128) -> usize {
    usize::try_from(end.saturating_sub(start).max(0)).unwrap_or(usize::MAX)
}

/// An amount of unrolled code.
#[derive(Debug, Default, Clone, Copy)]
struct Cost {
    stmts: usize,
    exprs: usize,
}

impl Cost {
    fn plus(self, o: Cost) -> Cost {
        Cost {
            stmts: self.stmts.saturating_add(o.stmts),
            exprs: self.exprs.saturating_add(o.exprs),
        }
    }

    /// `self` less `o`, which fits in it.
    fn minus(self, o: Cost) -> Cost {
        Cost {
            stmts: self.stmts.saturating_sub(o.stmts),
            exprs: self.exprs.saturating_sub(o.exprs),
        }
    }

    fn times(self, n: usize) -> Cost {
        Cost {
            stmts: self.stmts.saturating_mul(n),
            exprs: self.exprs.saturating_mul(n),
        }
    }

    fn fits(self, budget: Cost) -> bool {
        self.stmts <= budget.stmts && self.exprs <= budget.exprs
    }
}

/// What one copy of an `#[unroll]` body costs: its own statements and
/// expressions, at any depth, at least one statement (so that a long loop of
/// empty copies is bounded too), plus at least what the `#[unroll]` loops in it
/// expand to (their trip counts multiplied out where the bounds are constant
/// before substitution; bounds that depend on an outer loop variable count
/// nothing here, and are charged when those loops expand).
#[derive(Default)]
struct UnrollCost {
    own: Cost,
    inner: Cost,
}

impl UnrollCost {
    fn of(block: &Block) -> Self {
        let mut c = UnrollCost::default();
        c.visit_block(block);
        c
    }

    /// What a copy charges itself; its inner loops charge as they expand.
    fn own(&self) -> Cost {
        Cost {
            stmts: self.own.stmts.max(1),
            exprs: self.own.exprs,
        }
    }

    fn per_copy(&self) -> Cost {
        self.own().plus(self.inner)
    }
}

impl<'ast> Visit<'ast> for UnrollCost {
    fn visit_stmt(&mut self, s: &'ast Stmt) {
        // An `#[unroll]` loop is replaced by its copies; the copies are what count.
        if !matches!(s, Stmt::Expr(Expr::ForLoop(f), _) if f.attrs.iter().any(is_unroll)) {
            self.own.stmts = self.own.stmts.saturating_add(1);
        }
        syn::visit::visit_stmt(self, s);
    }

    fn visit_expr(&mut self, e: &'ast Expr) {
        match e {
            Expr::ForLoop(f) if f.attrs.iter().any(is_unroll) => {
                let trip = unroll_bounds(&f.expr).map_or(0, |(a, b)| trip_count(a, b));
                let body = UnrollCost::of(&f.body);
                self.inner = self.inner.plus(body.per_copy().times(trip));
            }
            e => {
                self.own.exprs = self.own.exprs.saturating_add(1);
                syn::visit::visit_expr(self, e);
            }
        }
    }
}

/// `if a { if b { .. } }`, neither with an `else` (a target's partial store
/// inside a kernel's column test), as `if a && b { .. }`.
fn collapse_if(e: &mut Expr) {
    if let Expr::If(outer) = e
        && outer.else_branch.is_none()
        && let [Stmt::Expr(Expr::If(inner), _)] = outer.then_branch.stmts.as_slice()
        && inner.else_branch.is_none()
        && !matches!(&*outer.cond, Expr::Let(_))
        && !matches!(&*inner.cond, Expr::Let(_))
    {
        let operand = |c: &Expr| match c {
            Expr::Binary(b) if matches!(b.op, syn::BinOp::Or(_)) => Expr::Paren(syn::ExprParen {
                attrs: vec![],
                paren_token: Default::default(),
                expr: Box::new(c.clone()),
            }),
            c => c.clone(),
        };
        let (a, b) = (operand(&outer.cond), operand(&inner.cond));
        let then_branch = inner.then_branch.clone();
        *e = syn::parse_quote!(if #a && #b #then_branch);
    }
}

/// Whether a block ends in a value (a tail expression that is not a block-like
/// statement such as an `if` or a loop).
fn has_value(b: &Block) -> bool {
    matches!(b.stmts.last(), Some(Stmt::Expr(e, None)) if !is_block_like(e))
}

/// A statement that can stand in the middle of a block.
fn terminate(s: Stmt) -> Stmt {
    match s {
        Stmt::Expr(e, None) if !is_block_like(&e) => Stmt::Expr(e, Some(Default::default())),
        s => s,
    }
}

fn is_block_like(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Block(_)
            | Expr::If(_)
            | Expr::ForLoop(_)
            | Expr::While(_)
            | Expr::Loop(_)
            | Expr::Match(_)
            | Expr::Unsafe(_)
    )
}

impl Fold<'_, '_> {
    /// Replaces an `if` whose condition is constant by its taken branch: the
    /// branch's value where it is one plain value, else the branch as a block
    /// (empty where nothing is taken).
    fn fold_constant_if(&mut self, e: &mut Expr) {
        if let Expr::If(i) = e
            && let Some(c) = folded_bool(&i.cond)
        {
            let taken = if c {
                Some(Expr::Block(syn::ExprBlock {
                    attrs: vec![],
                    label: None,
                    block: i.then_branch.clone(),
                }))
            } else {
                i.else_branch.as_ref().map(|(_, e)| (**e).clone())
            };
            *e = match taken {
                // `if PACKED == 1 { 4 } else { ldb }` is `4` or `ldb`, not `{ ldb }`.
                Some(Expr::Block(b))
                    if b.attrs.is_empty()
                        && matches!(b.block.stmts.as_slice(), [Stmt::Expr(v, None)] if is_pure_value(v)) =>
                {
                    match b.block.stmts.into_iter().next() {
                        Some(Stmt::Expr(v, None)) => v,
                        _ => Expr::Block(syn::parse_quote!({})),
                    }
                }
                taken => taken.unwrap_or_else(|| Expr::Block(syn::parse_quote!({}))),
            };
        }
    }
}

impl VisitMut for Fold<'_, '_> {
    fn visit_block_mut(&mut self, block: &mut Block) {
        let mut out = Vec::with_capacity(block.stmts.len());
        let mut rest: std::collections::VecDeque<Stmt> = std::mem::take(&mut block.stmts).into();
        while let Some(mut stmt) = rest.pop_front() {
            if let Stmt::Expr(Expr::ForLoop(f), _) = &stmt
                && f.attrs.iter().any(is_unroll)
            {
                let Stmt::Expr(Expr::ForLoop(f), _) = stmt else {
                    continue;
                };
                self.unroll(f, &mut out);
                continue;
            }
            self.visit_stmt_mut(&mut stmt);
            match stmt {
                // A constant `if` at statement level leaves its taken branch:
                // nothing, or its statements where it declares nothing.
                Stmt::Expr(Expr::Block(b), semi)
                    if b.attrs.is_empty() && b.label.is_none() && !(semi.is_none() && has_value(&b.block)) =>
                {
                    if b.block.stmts.iter().any(|s| matches!(s, Stmt::Local(_))) {
                        out.push(Stmt::Expr(Expr::Block(b), semi));
                    } else {
                        out.extend(b.block.stmts.into_iter().map(terminate));
                    }
                }
                // `let _ = p.wrapping_add(1);`: a target's no-op (a prefetch
                // where it has none) leaves its argument unused.
                Stmt::Local(local)
                    if matches!(local.pat, syn::Pat::Wild(_))
                        && local
                            .init
                            .as_ref()
                            .is_some_and(|i| i.diverge.is_none() && is_pure_value(&i.expr)) => {}
                Stmt::Local(local) => {
                    // `let x = 4;` or `let x = y;` (which an instance's constants
                    // leave of `let x = if PACKED == 1 { 4 } else { y };`): the
                    // value replaces `x` in what follows, so that it folds there.
                    match propagated(&local, &rest) {
                        Some(values) => {
                            let subst: BTreeMap<String, Expr> = values.into_iter().collect();
                            rest.iter_mut()
                                .for_each(|s| SubstExpr { vars: &subst }.visit_stmt_mut(s));
                        }
                        None => out.push(Stmt::Local(local)),
                    }
                }
                stmt => out.push(stmt),
            }
        }
        drop_dead_lets(&mut out);
        // A block's value needs no parentheses (a substituted value gets them).
        if let Some(Stmt::Expr(tail, None)) = out.last_mut()
            && let Expr::Paren(p) = tail
        {
            let inner = std::mem::replace(&mut *p.expr, Expr::Verbatim(Default::default()));
            *tail = inner;
        }
        block.stmts = out;
    }

    fn visit_expr_mut(&mut self, e: &mut Expr) {
        // A constant `if` is replaced by its taken branch before the branches
        // are folded: the other may not hold on this instance (`cols - LANES`
        // where the block is whole and `cols` is 0).
        if let Expr::If(i) = e {
            self.visit_expr_mut(&mut i.cond);
            if folded_bool(&i.cond).is_some() {
                self.fold_constant_if(e);
                self.visit_expr_mut(e);
            } else {
                self.visit_block_mut(&mut i.then_branch);
                if let Some((_, els)) = &mut i.else_branch {
                    self.visit_expr_mut(els);
                }
                collapse_if(e);
            }
            return;
        }
        visit_mut::visit_expr_mut(self, e);
        if self.check {
            self.check_const(e);
        }
        if matches!(e, Expr::Binary(_) | Expr::MethodCall(_)) {
            if let Some(v) = fold_int(e) {
                *e = int_lit_at(v, e.span());
                return;
            }
            if let Some(v) = fold_bool(e) {
                *e = bool_lit_at(v, e.span());
                return;
            }
        }
        // An argument needs no parentheses (a substituted value gets them),
        // nor the blocks around a lone value (an inlined helper's body, or a
        // constant `if`'s taken branch, around one call).
        if let Expr::Call(syn::ExprCall { args, .. }) | Expr::MethodCall(syn::ExprMethodCall { args, .. }) = e {
            for a in args.iter_mut() {
                loop {
                    match a {
                        Expr::Paren(p) => *a = (*p.expr).clone(),
                        Expr::Block(b)
                            if b.attrs.is_empty()
                                && b.label.is_none()
                                && matches!(b.block.stmts.as_slice(), [Stmt::Expr(_, None)]) =>
                        {
                            let Some(Stmt::Expr(v, None)) = b.block.stmts.pop() else {
                                break;
                            };
                            *a = v;
                        }
                        _ => break,
                    }
                }
            }
        }
        match e {
            Expr::Binary(b) => {
                use syn::BinOp::*;
                let (l, r) = (folded_int(&b.left), folded_int(&b.right));
                let keep = match (b.op, l, r) {
                    (Add(_), Some(0), _) | (Mul(_), Some(1), _) => Some((*b.right).clone()),
                    (Add(_) | Sub(_), _, Some(0)) | (Mul(_) | Div(_), _, Some(1)) => Some((*b.left).clone()),
                    (Mul(_), Some(0), _) if is_pure(&b.right) => Some(int_lit(0)),
                    (Mul(_), _, Some(0)) if is_pure(&b.left) => Some(int_lit(0)),
                    (Rem(_), _, Some(1)) if is_pure(&b.left) => Some(int_lit(0)),
                    _ => None,
                };
                // Boolean identities, so that a constant condition next to a run-time
                // one (`ROWS / 2 * 2 == ROWS && n - j >= ..`) leaves just the latter.
                let (bl, br) = (folded_bool(&b.left), folded_bool(&b.right));
                let keep = keep.or(match (b.op, bl, br) {
                    (And(_), Some(true), _) | (Or(_), Some(false), _) => Some((*b.right).clone()),
                    (And(_), _, Some(true)) | (Or(_), _, Some(false)) => Some((*b.left).clone()),
                    (And(_), Some(false), _) => Some(syn::parse_quote!(false)),
                    (Or(_), Some(true), _) => Some(syn::parse_quote!(true)),
                    (And(_), _, Some(false)) if is_pure(&b.left) => Some(syn::parse_quote!(false)),
                    (Or(_), _, Some(true)) if is_pure(&b.left) => Some(syn::parse_quote!(true)),
                    _ => None,
                });
                // `0 >= n` for a `usize` parameter `n` (a row index `r >= skip` at
                // `r = 0`) is `n == 0`; `n >= 0` always holds.
                let unsigned = |x: &Expr| matches!(x, Expr::Path(p) if p.path.get_ident().is_some_and(|i| self.cx.usize_params.contains(&i.to_string())));
                let keep = keep.or(match (b.op, l, r) {
                    (Ge(_), Some(0), _) if unsigned(&b.right) => {
                        let n = &b.right;
                        Some(syn::parse_quote!(#n == 0))
                    }
                    (Le(_), _, Some(0)) if unsigned(&b.left) => {
                        let n = &b.left;
                        Some(syn::parse_quote!(#n == 0))
                    }
                    (Ge(_), _, Some(0)) if unsigned(&b.left) => Some(syn::parse_quote!(true)),
                    (Le(_), Some(0), _) if unsigned(&b.right) => Some(syn::parse_quote!(true)),
                    _ => None,
                });
                // `n - n` and `k < k`, which one-lane targets leave of
                // `n - n % V::LANES` and `whole * V::LANES < k`.
                let same =
                    is_pure(&b.left) && b.left.to_token_stream().to_string() == b.right.to_token_stream().to_string();
                let keep = keep.or(match b.op {
                    Sub(_) if same && unsigned(&b.left) => Some(int_lit(0)),
                    Lt(_) | Gt(_) if same => Some(syn::parse_quote!(false)),
                    _ => None,
                });
                if let Some(k) = keep {
                    *e = k;
                }
            }
            Expr::Paren(p) if matches!(&*p.expr, Expr::Lit(_) | Expr::Path(_)) => *e = (*p.expr).clone(),
            // `acc = a * b + acc` (a target's multiply-add without FMA) is
            // `acc += a * b`.
            Expr::Assign(a) if !self.check => {
                use syn::BinOp::*;
                if let Expr::Binary(b) = &*a.right {
                    let unparen = |x: &Expr| match x {
                        Expr::Paren(p) => p.expr.to_token_stream().to_string(),
                        x => x.to_token_stream().to_string(),
                    };
                    let place = unparen(&a.left);
                    let is_place = |x: &Expr| unparen(x) == place;
                    let commutes = matches!(b.op, Add(_) | Mul(_) | BitAnd(_) | BitOr(_) | BitXor(_));
                    let op: Option<syn::BinOp> = match b.op {
                        Add(_) => Some(syn::parse_quote!(+=)),
                        Sub(_) => Some(syn::parse_quote!(-=)),
                        Mul(_) => Some(syn::parse_quote!(*=)),
                        Div(_) => Some(syn::parse_quote!(/=)),
                        BitAnd(_) => Some(syn::parse_quote!(&=)),
                        BitOr(_) => Some(syn::parse_quote!(|=)),
                        BitXor(_) => Some(syn::parse_quote!(^=)),
                        _ => None,
                    };
                    let operand = if is_place(&b.left) {
                        Some(&b.right)
                    } else if commutes && is_place(&b.right) {
                        Some(&b.left)
                    } else {
                        None
                    };
                    if let (Some(op), Some(x)) = (op, operand) {
                        // An assignment's right side needs no parentheses.
                        let x = match &**x {
                            Expr::Paren(p) => &p.expr,
                            _ => x,
                        };
                        let left = &a.left;
                        *e = Expr::Binary(syn::ExprBinary {
                            attrs: vec![],
                            left: left.clone(),
                            op,
                            right: x.clone(),
                        });
                    }
                }
            }
            // `ptr.add(0)` and `ptr.wrapping_add(0)`, left behind by unrolling, are `ptr`.
            Expr::MethodCall(m)
                if (m.method == "add" || m.method == "wrapping_add")
                    && m.args.len() == 1
                    && folded_int(&m.args[0]) == Some(0) =>
            {
                *e = (*m.receiver).clone()
            }
            _ => {}
        }
    }
}

/// Replaces a variable by its value, a literal at the variable's place.
struct SubstVar<'v> {
    var: &'v str,
    value: i128,
}

impl VisitMut for SubstVar<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        if let Expr::Path(p) = e
            && p.qself.is_none()
            && p.path.is_ident(self.var)
        {
            *e = int_lit_at(self.value, p.span());
            return;
        }
        visit_mut::visit_expr_mut(self, e);
    }
}

// ---------------------------------------------------------------------------------
// 4. tiles

struct TileDecl {
    rows: usize,
    cols: usize,
}

fn scalarize_tiles(cx: &mut Ctx<'_>, body: &mut Block) {
    let mut tiles = BTreeMap::new();
    DeclareTiles {
        cx: &mut *cx,
        tiles: &mut tiles,
    }
    .visit_block_mut(body);
    if tiles.is_empty() {
        return;
    }
    let mut used = BTreeSet::new();
    UseTiles {
        cx,
        tiles: &tiles,
        used: &mut used,
    }
    .visit_block_mut(body);
    // A kernel may use part of the tile (a smaller register block): drop the
    // locals it never names.
    let declared: BTreeSet<String> = tiles
        .iter()
        .flat_map(|(name, t)| (0..t.rows).flat_map(move |r| (0..t.cols).map(move |c| format!("{name}_{r}_{c}"))))
        .collect();
    DropLocals {
        unused: declared.difference(&used).cloned().collect(),
    }
    .visit_block_mut(body);
}

/// Removes `let` statements that bind one of `unused`.
struct DropLocals {
    unused: BTreeSet<String>,
}

impl VisitMut for DropLocals {
    fn visit_block_mut(&mut self, block: &mut Block) {
        block.stmts.retain(|s| match s {
            Stmt::Local(l) => match strip_pat_type(&l.pat) {
                syn::Pat::Ident(pi) => !self.unused.contains(&pi.ident.to_string()),
                _ => true,
            },
            _ => true,
        });
        visit_mut::visit_block_mut(self, block);
    }
}

/// Replaces `let mut acc = V::zero_tile();` with one `let mut acc_r_c = V::zero();` per vector.
struct DeclareTiles<'c, 'a> {
    cx: &'c mut Ctx<'a>,
    tiles: &'c mut BTreeMap<String, TileDecl>,
}

impl DeclareTiles<'_, '_> {
    fn tile_decl(&mut self, local: &syn::Local) -> Option<Vec<Stmt>> {
        let init = local.init.as_ref()?;
        let Expr::Call(call) = &*init.expr else { return None };
        let Expr::Path(fp) = &*call.func else { return None };
        let (b, op) = self.cx.assoc(&fp.path)?;
        if op != TILE_INIT {
            return None;
        }
        let (elem, v) = (b.elem, fp.path.segments[0].ident.clone());
        let syn::Pat::Ident(pi) = strip_pat_type(&local.pat) else {
            self.cx.error(
                local.pat.span(),
                "a tile must be bound to a plain name",
                "write `let mut acc = V::zero_tile();`",
            );
            return Some(vec![]);
        };
        let span = fp.span();
        let (Some(rows), Some(nr), Some(lanes)) = (
            self.cx.usize_entry(elem, "MR", span),
            self.cx.usize_entry(elem, "NR", span),
            self.cx.usize_entry(elem, "LANES", span),
        ) else {
            return Some(vec![]);
        };
        if lanes == 0 || nr % lanes != 0 {
            self.cx.error(
                span,
                format!(
                    "target `{}`: {elem}.NR = {nr} is not a multiple of {elem}.LANES = {lanes}",
                    self.cx.target.name
                ),
                "fix generator/src/targets.rs",
            );
            return Some(vec![]);
        }
        let cols = nr / lanes;
        let name = pi.ident.to_string();
        self.tiles.insert(name.clone(), TileDecl { rows, cols });
        let mut out = vec![];
        for r in 0..rows {
            for c in 0..cols {
                let ident = syn::Ident::new(&format!("{name}_{r}_{c}"), pi.ident.span());
                out.push(syn::parse_quote!(let mut #ident = #v::zero();));
            }
        }
        Some(out)
    }
}

fn strip_pat_type(p: &syn::Pat) -> &syn::Pat {
    match p {
        syn::Pat::Type(t) => &t.pat,
        p => p,
    }
}

impl VisitMut for DeclareTiles<'_, '_> {
    fn visit_block_mut(&mut self, block: &mut Block) {
        let mut out = Vec::with_capacity(block.stmts.len());
        for mut stmt in std::mem::take(&mut block.stmts) {
            if let Stmt::Local(local) = &stmt
                && let Some(decls) = self.tile_decl(local)
            {
                out.extend(decls);
                continue;
            }
            self.visit_stmt_mut(&mut stmt);
            out.push(stmt);
        }
        block.stmts = out;
    }
}

/// Replaces `acc[(r, c)]` with `acc_r_c`; any other use of a tile is an error.
struct UseTiles<'c, 'a> {
    cx: &'c mut Ctx<'a>,
    tiles: &'c BTreeMap<String, TileDecl>,
    /// The tile locals named so far.
    used: &'c mut BTreeSet<String>,
}

impl UseTiles<'_, '_> {
    fn tile_name(&self, e: &Expr) -> Option<String> {
        let Expr::Path(p) = e else { return None };
        let name = p.path.get_ident()?.to_string();
        self.tiles.contains_key(&name).then_some(name)
    }
}

impl VisitMut for UseTiles<'_, '_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        if let Expr::Index(ix) = e
            && let Some(name) = self.tile_name(&ix.expr)
        {
            let tile = &self.tiles[&name];
            let (rows, cols) = (tile.rows as i128, tile.cols as i128);
            // `(row, col)`, or a row-major slot: a register block of another
            // shape laid over the tile.
            let (index, slot) = match &*ix.index {
                Expr::Tuple(t) if t.elems.len() == 2 => (const_int(&t.elems[0]).zip(const_int(&t.elems[1])), None),
                Expr::Tuple(_) => (None, None),
                e => {
                    let s = const_int(e);
                    (
                        s.filter(|_| cols > 0).map(|s| (s.div_euclid(cols), s.rem_euclid(cols))),
                        s,
                    )
                }
            };
            // The folded index has lost its span; the tile's name keeps it.
            let at = ix.expr.span();
            let shape = format!(
                "{} x {} tile `{name}` of target `{}`",
                tile.rows, tile.cols, self.cx.target.name
            );
            match (index, slot) {
                (Some((r, c)), _) if (0..rows).contains(&r) && (0..cols).contains(&c) => {
                    let local = format!("{name}_{r}_{c}");
                    *e = Expr::Path(syn::ExprPath {
                        attrs: vec![],
                        qself: None,
                        path: syn::Ident::new(&local, at).into(),
                    });
                    self.used.insert(local);
                }
                (Some(_), Some(s)) => self.cx.error(
                    at,
                    format!("tile slot {s} is outside the {shape}"),
                    "slots run over 0..V::MR * (V::NR / V::LANES), row by row",
                ),
                (Some((r, c)), None) => self.cx.error(
                    at,
                    format!("tile index ({r}, {c}) is outside the {shape}"),
                    "rows run over 0..V::MR and columns over 0..V::NR / V::LANES",
                ),
                (None, _) => self.cx.error(
                    ix.index.span(),
                    format!(
                        "tile `{name}` indexed with `{}`, which is not constant after unrolling",
                        ix.index.to_token_stream()
                    ),
                    "a tile lives in registers: index it as `acc[(i, j)]` or `acc[slot]` inside `#[unroll]` loops over constant ranges",
                ),
            }
            return;
        }
        if let Some(name) = self.tile_name(e) {
            self.cx.error(
                e.span(),
                format!("tile `{name}` can only be used as `{name}[(row, col)]` or `{name}[slot]`"),
                "tiles are not values: they become separate register locals",
            );
            return;
        }
        visit_mut::visit_expr_mut(self, e);
    }
}

// ---------------------------------------------------------------------------------
// 5. ops

struct Ops<'c, 'a> {
    cx: &'c mut Ctx<'a>,
    /// Locals known to hold vectors (bound to an op that returns one).
    vectors: BTreeSet<String>,
    /// Each op's template, parsed (by `elem.op`).
    templates: BTreeMap<String, Expr>,
}

impl Ops<'_, '_> {
    fn is_vector_call(&self, e: &Expr) -> bool {
        let Expr::Call(call) = e else { return false };
        let Expr::Path(p) = &*call.func else { return false };
        self.cx
            .assoc(&p.path)
            .is_some_and(|(b, op)| b.api.ops.get(&op.to_string()).is_some_and(|o| o.returns_vector))
    }

    /// The op call's lowering; it takes the (lowered) arguments out of `call`.
    fn lower_call(&mut self, call: &mut syn::ExprCall, span: Span) -> Option<Expr> {
        let Expr::Path(p) = &*call.func else { return None };
        let (b, op) = self.cx.assoc(&p.path)?;
        let (api, elem, op) = (b.api, b.elem, op.to_string());
        let Some(sig) = api.ops.get(&op) else {
            let v = &p.path.segments[0].ident;
            let ops = api.ops.keys().map(String::as_str).filter(|o| *o != TILE_INIT);
            let guess = closest(&op, ops)
                .map(|o| format!("did you mean `{v}::{o}`? "))
                .unwrap_or_default();
            self.cx.error(
                span,
                format!("unknown vector op `{v}::{op}`"),
                format!("{guess}`{}` ops are: {}", api.spec.name, api.op_list()),
            );
            return None;
        };
        if call.args.len() != sig.arity {
            self.cx.error(
                span,
                format!(
                    "`{}::{op}` takes {} argument{} but {} {} given",
                    api.spec.name,
                    sig.arity,
                    if sig.arity == 1 { "" } else { "s" },
                    call.args.len(),
                    if call.args.len() == 1 { "was" } else { "were" }
                ),
                "see the op's signature in kernels/src/vec.rs",
            );
            return None;
        }
        if op == TILE_INIT {
            self.cx.error(
                span,
                "`zero_tile()` must initialise a `let mut` binding",
                "write `let mut acc = V::zero_tile();`",
            );
            return None;
        }
        let key = format!("{elem}.{op}");
        let Some(template) = self.cx.target.entry(&key) else {
            self.cx.error(
                span,
                format!("target `{}` has no lowering for `{key}`", self.cx.target.name),
                "every op needs a template on every target (generator/src/targets.rs)",
            );
            return None;
        };
        for helper in helper_names(template) {
            if self.cx.target.helper(&helper).is_none() {
                self.cx.error(
                    span,
                    format!(
                        "target `{}`: `{key}` calls `ops::{helper}`, which it does not define",
                        self.cx.target.name
                    ),
                    "add the helper in generator/src/targets.rs",
                );
                return None;
            }
            self.cx.helpers.insert(helper);
        }
        // Parsed once per op and instance: a kernel can make thousands of calls.
        let parsed = match self.templates.get(&key) {
            Some(t) => Ok(t.clone()),
            None => parse_template(template, sig.arity).inspect(|t| {
                self.templates.insert(key.clone(), t.clone());
            }),
        };
        let args = std::mem::take(&mut call.args).into_iter().collect();
        match parsed.and_then(|t| fill(template, t, args)) {
            Ok(e) => Some(e),
            Err(msg) => {
                self.cx.error(
                    span,
                    format!("target `{}`: template for `{key}`: {msg}", self.cx.target.name),
                    "fix generator/src/targets.rs",
                );
                None
            }
        }
    }
}

impl VisitMut for Ops<'_, '_> {
    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        if let (Some(init), syn::Pat::Ident(pi)) = (&local.init, strip_pat_type(&local.pat))
            && self.is_vector_call(&init.expr)
        {
            self.vectors.insert(pi.ident.to_string());
        }
        visit_mut::visit_local_mut(self, local);
    }

    fn visit_expr_mut(&mut self, e: &mut Expr) {
        if let Expr::MethodCall(m) = e
            && let Expr::Path(p) = &*m.receiver
            && let Some(name) = p
                .path
                .get_ident()
                .map(|i| i.to_string())
                .filter(|n| self.vectors.contains(n))
        {
            self.cx.error(
                m.span(),
                format!("method-call syntax on the vector `{name}`"),
                format!("call ops as associated functions: `V::{}({name}, ..)`", m.method),
            );
            return;
        }
        visit_mut::visit_expr_mut(self, e);
        if let Expr::Call(call) = e {
            // From the op's name to its closing parenthesis: both keep their
            // source spans when the arguments are lowered. (`e.span()` would
            // walk the whole call, at every level of nested calls: quadratic.)
            let span = call
                .func
                .span()
                .join(call.paren_token.span.close())
                .unwrap_or_else(|| call.func.span());
            if let Some(lowered) = self.lower_call(call, span) {
                *e = lowered;
            }
        }
    }

    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::Path(tp) = ty {
            let segs = &tp.path.segments;
            if tp.qself.is_none()
                && !segs.is_empty()
                && let Some(b) = self.cx.bindings.get(&segs[0].ident.to_string())
            {
                let (api, elem, span) = (b.api, b.elem, tp.span());
                let name = match segs.len() {
                    1 => Some("vec".to_string()),
                    2 => Some(segs[1].ident.to_string()),
                    _ => None,
                };
                match name {
                    Some(n) if api.spec.elem_type == Some(n.as_str()) => {
                        *ty = syn::parse_str(elem).unwrap_or_else(|_| ty.clone())
                    }
                    Some(n) if n == "vec" || api.types.contains(&n) => {
                        if let Some(t) = self.cx.entry::<syn::Type>(elem, &n, span) {
                            *ty = t;
                        }
                    }
                    _ => {} // reported by the leftovers pass
                }
                return;
            }
        }
        visit_mut::visit_type_mut(self, ty);
    }
}

/// `ops::name` helpers a template calls.
pub fn helper_names(template: &str) -> Vec<String> {
    template
        .match_indices("ops::")
        .map(|(i, _)| {
            template[i + 5..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// Substitutes the arguments for `$0`, `$1`, .. in `template`.
///
/// The template is parsed with placeholder identifiers and the arguments are put
/// into the syntax tree, parenthesised only where the template's operator binds
/// tighter than the argument (`$0 * $1` with `$0 = a + b`).
pub fn instantiate(template: &str, args: &[&Expr]) -> Result<Expr, String> {
    instantiate_owned(template, args.iter().map(|a| (*a).clone()).collect())
}

/// [`instantiate`] moving the arguments in: each is used once, so nothing is
/// copied (copying every argument at every level of nested op calls would be
/// quadratic in their depth). A template that uses an argument twice is an error.
fn instantiate_owned(template: &str, args: Vec<Expr>) -> Result<Expr, String> {
    fill(template, parse_template(template, args.len())?, args)
}

/// A template parsed, with placeholder identifiers for its arguments.
fn parse_template(template: &str, arity: usize) -> Result<Expr, String> {
    let mut text = String::with_capacity(template.len() + 16);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            text.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let i: usize = digits
            .parse()
            .map_err(|_| "`$` not followed by an argument number".to_string())?;
        if i >= arity {
            return Err(format!("`${i}` but the op has {arity} arguments"));
        }
        text.push_str(&format!("{PLACEHOLDER}{i}"));
    }
    syn::parse_str::<Expr>(&text).map_err(|e| format!("`{template}` does not parse: {e}"))
}

/// The arguments put into a parsed template (`template` is its text, for errors).
fn fill(template: &str, mut e: Expr, args: Vec<Expr>) -> Result<Expr, String> {
    let mut subst = Subst {
        args: args.into_iter().map(Some).collect(),
        reused: None,
    };
    subst.visit_expr_mut(&mut e);
    match subst.reused {
        Some(i) => Err(format!("`{template}` uses `${i}` more than once")),
        None => Ok(e),
    }
}

const PLACEHOLDER: &str = "__hwy_arg";

struct Subst {
    /// Each argument until its placeholder takes it.
    args: Vec<Option<Expr>>,
    /// An argument whose placeholder appears again after it was taken.
    reused: Option<usize>,
}

impl Subst {
    fn placeholder(&mut self, e: &Expr) -> Option<Expr> {
        let Expr::Path(p) = e else { return None };
        let i: usize = p
            .path
            .get_ident()?
            .to_string()
            .strip_prefix(PLACEHOLDER)?
            .parse()
            .ok()?;
        let arg = self.args.get_mut(i)?.take();
        if arg.is_none() {
            self.reused = Some(i);
        }
        arg
    }

    /// Fills `slot`; `tight` when the parent is an operator the argument must not split.
    fn put(&mut self, slot: &mut Expr, tight: bool) {
        match self.placeholder(slot) {
            Some(arg) if tight && !is_atomic(&arg) => {
                *slot = Expr::Paren(syn::ExprParen {
                    attrs: vec![],
                    paren_token: Default::default(),
                    expr: Box::new(arg),
                })
            }
            Some(arg) => *slot = arg,
            None => self.visit_expr_mut(slot),
        }
    }
}

impl VisitMut for Subst {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        match e {
            Expr::Binary(b) => {
                self.put(&mut b.left, true);
                self.put(&mut b.right, true);
            }
            Expr::Unary(u) => self.put(&mut u.expr, true),
            Expr::Cast(c) => self.put(&mut c.expr, true),
            Expr::Reference(r) => self.put(&mut r.expr, true),
            Expr::Field(f) => self.put(&mut f.base, true),
            Expr::MethodCall(m) => {
                self.put(&mut m.receiver, true);
                m.args.iter_mut().for_each(|a| self.put(a, false));
            }
            _ => match self.placeholder(e) {
                Some(arg) => *e = arg,
                None => visit_mut::visit_expr_mut(self, e),
            },
        }
    }
}

/// Binds tighter than any operator a template can put around it.
fn is_atomic(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Path(_)
            | Expr::Lit(_)
            | Expr::Call(_)
            | Expr::MethodCall(_)
            | Expr::Field(_)
            | Expr::Index(_)
            | Expr::Paren(_)
            | Expr::Tuple(_)
            | Expr::Array(_)
            | Expr::Block(_)
    )
}

// ---------------------------------------------------------------------------------
// 6. leftovers

struct Leftovers<'c, 'a> {
    cx: &'c mut Ctx<'a>,
}

impl Leftovers<'_, '_> {
    fn check(&mut self, path: &syn::Path, span: Span) {
        let Some(first) = path.segments.first() else { return };
        if path.leading_colon.is_some() || !self.cx.bindings.contains_key(&first.ident.to_string()) {
            return;
        }
        let b = &self.cx.bindings[&first.ident.to_string()];
        let what = path.to_token_stream().to_string().replace(' ', "");
        let help = format!(
            "call ops as `{}::op(args)` ({}); only its constants and types may appear elsewhere",
            first.ident,
            b.api.op_list()
        );
        self.cx.error(span, format!("unsupported use of `{what}`"), help);
    }
}

impl<'ast> Visit<'ast> for Leftovers<'_, '_> {
    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        self.check(&p.path, p.span());
    }
    fn visit_type_path(&mut self, p: &'ast syn::TypePath) {
        self.check(&p.path, p.span());
        syn::visit::visit_type_path(self, p);
    }
}
