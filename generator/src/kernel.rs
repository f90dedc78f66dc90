//! Discovery and analysis: find every `pub fn base_*` in the kernel sources and
//! work out which instantiations (element types) it has, and every `#[kernel]`
//! helper the kernels may call.

use crate::api::{Api, TRAITS, TraitSpec};
use crate::diag::{Diagnostic, Source};
use std::collections::BTreeMap;
use std::rc::Rc;
use syn::spanned::Spanned;
use syn::visit::Visit;

/// A kernel's generic parameter: `V: FloatVec` or `V: FloatVec<Elem = f32>`.
#[derive(Debug, Clone)]
pub struct VecParam {
    pub ident: String,
    pub spec: TraitSpec,
    /// The element types this parameter is instantiated with.
    pub elems: Vec<&'static str>,
}

/// A kernel as written.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// The name without `base_`.
    pub name: String,
    pub source: Source,
    pub item: syn::ItemFn,
    pub params: Vec<VecParam>,
    /// The instances a kernel with `const` parameters lists in its `#[kernel(..)]`
    /// attribute; empty for a kernel without them (one instance, its own name).
    pub variants: Vec<Variant>,
    /// Every helper of the kernel sources, by name: the ones this kernel calls
    /// are inlined where it calls them.
    pub helpers: Rc<Helpers>,
}

/// A `#[kernel]` function that is not a kernel (its name does not start with
/// `base_`): code kernels share, such as the alpha/beta epilogue of a tile.
/// It is inlined at every call, after the call's generic arguments are
/// substituted, so that its `#[unroll]` loops, constants and register tiles
/// lower as if written in the kernel; it never reaches `generated/` on its own.
/// A call names every generic parameter: `store_tile::<V, ROWS, 4>(acc, ..)`.
#[derive(Debug, Clone)]
pub struct Helper {
    pub name: String,
    pub source: Source,
    pub item: syn::ItemFn,
    /// Its generic parameters in order: what a call's turbofish gives.
    pub generics: Vec<HelperParam>,
}

/// A helper's generic parameter.
#[derive(Debug, Clone)]
pub enum HelperParam {
    /// `V: FloatVec`: the call names one of the caller's vector parameters
    /// bound by the same trait.
    Vector { ident: String, trait_name: &'static str },
    /// `const N: usize`: the call gives a constant expression.
    Const { ident: String },
}

/// The helpers of a workspace, by name.
pub type Helpers = BTreeMap<String, Helper>;

/// One entry of `#[kernel(name(N = expr, ..), ..)]`: the generated function's
/// name (before the element suffix) and the value of every `const` parameter, an
/// expression over the vector constants (`V::MR / 2`) that folds per target.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub consts: Vec<(String, syn::Expr)>,
}

/// One concrete kernel: every vector parameter bound to an element type and
/// every `const` parameter to its value.
#[derive(Debug, Clone)]
pub struct Instance<'k> {
    pub kernel: &'k Kernel,
    /// The generated function's name, e.g. `microkernel_f32`.
    pub fn_name: String,
    /// `(param ident, trait, elem)` for each vector parameter.
    pub bindings: Vec<(String, TraitSpec, &'static str)>,
    /// `(param ident, value)` for each `const` parameter.
    pub consts: Vec<(String, syn::Expr)>,
}

impl Kernel {
    /// Every variant and element-type combination, in a stable order.
    pub fn instances(&self) -> Vec<Instance<'_>> {
        let base = |name: &str, consts: &[(String, syn::Expr)]| Instance {
            kernel: self,
            fn_name: name.to_string(),
            bindings: vec![],
            consts: consts.to_vec(),
        };
        let mut out: Vec<Instance<'_>> = if self.variants.is_empty() {
            vec![base(&self.name, &[])]
        } else {
            self.variants.iter().map(|v| base(&v.name, &v.consts)).collect()
        };
        for p in &self.params {
            let mut next = vec![];
            for inst in &out {
                for &elem in &p.elems {
                    let mut i = inst.clone();
                    if p.spec.elems.len() > 1 {
                        i.fn_name = format!("{}_{elem}", i.fn_name);
                    }
                    i.bindings.push((p.ident.clone(), p.spec, elem));
                    next.push(i);
                }
            }
            out = next;
        }
        out
    }
}

/// Finds and checks every kernel in the parsed sources, in file then source order.
pub fn discover(files: &[(Source, syn::File)], api: &Api) -> Result<Vec<Kernel>, Vec<Diagnostic>> {
    let mut kernels = vec![];
    let mut diags = vec![];
    for (src, file) in files {
        misplaced_kernel_attrs(src, file, &mut diags);
    }
    let helpers = Rc::new(helpers(files, api, &mut diags));
    // Every `base_*` function is a kernel, also one with errors of its own.
    let kernel_names: std::collections::BTreeSet<String> = files
        .iter()
        .flat_map(|(_, file)| &file.items)
        .filter_map(|item| match item {
            syn::Item::Fn(f) if is_kernel_name(&f.sig.ident) => Some(f.sig.ident.to_string()),
            _ => None,
        })
        .collect();
    for (src, file) in files {
        for item in &file.items {
            if let syn::Item::Fn(f) = item
                && (is_kernel_name(&f.sig.ident) || f.attrs.iter().any(is_kernel_attr))
            {
                kernel_calls(src, f, &kernel_names, &mut diags);
            }
        }
        for item in &file.items {
            let syn::Item::Fn(f) = item else { continue };
            let Some(name) = f.sig.ident.to_string().strip_prefix("base_").map(str::to_string) else {
                continue;
            };
            match analyze(src, f, api) {
                Ok((params, variants)) => kernels.push(Kernel {
                    name,
                    source: src.clone(),
                    item: f.clone(),
                    params,
                    variants,
                    helpers: helpers.clone(),
                }),
                Err(mut d) => diags.append(&mut d),
            }
        }
    }
    // Instances become functions of one module per target: their names must be
    // unique across all kernels (an instance list can reuse another's name).
    let mut seen: std::collections::BTreeMap<String, &str> = Default::default();
    for k in &kernels {
        for inst in k.instances() {
            if let Some(prev) = seen.insert(inst.fn_name.clone(), &k.name) {
                let msg = format!("`{}` is generated twice", inst.fn_name);
                let help = format!("`base_{prev}` generates it too: rename an instance or a kernel");
                diags.push(Diagnostic::at(&k.source, k.item.sig.ident.span(), msg).help(help));
                break;
            }
        }
    }
    if diags.is_empty() { Ok(kernels) } else { Err(diags) }
}

fn is_kernel_name(ident: &syn::Ident) -> bool {
    ident.to_string().starts_with("base_")
}

/// Every `#[kernel]` function whose name does not start with `base_`, checked:
/// plain `fn`s whose generic parameters are vector parameters and `usize`
/// constants, without an instance list (a call gives the constants).
fn helpers(files: &[(Source, syn::File)], api: &Api, diags: &mut Vec<Diagnostic>) -> Helpers {
    let mut out = Helpers::new();
    for (src, file) in files {
        for item in &file.items {
            let syn::Item::Fn(f) = item else { continue };
            if is_kernel_name(&f.sig.ident) || !f.attrs.iter().any(is_kernel_attr) {
                continue;
            }
            let name = f.sig.ident.to_string();
            let before = diags.len();
            if let Some(attr) = f.attrs.iter().find(|a| is_kernel_attr(a))
                && !matches!(attr.meta, syn::Meta::Path(_))
            {
                diags.push(
                    Diagnostic::at(src, attr.span(), format!("helper `{name}` takes no instance list"))
                        .help("a helper is inlined where it is called; the call gives its `const` parameters: `helper::<V, 4>(..)`"),
                );
            }
            let (params, consts) = check_generics(src, f, api, "helper", diags);
            // In declaration order: what a call's turbofish gives.
            let generics = f
                .sig
                .generics
                .params
                .iter()
                .filter_map(|g| match g {
                    syn::GenericParam::Type(tp) => {
                        params
                            .iter()
                            .find(|p| tp.ident == p.ident)
                            .map(|p| HelperParam::Vector {
                                ident: p.ident.clone(),
                                trait_name: p.spec.name,
                            })
                    }
                    syn::GenericParam::Const(c) => consts
                        .iter()
                        .find(|k| **k == c.ident)
                        .map(|k| HelperParam::Const { ident: k.to_string() }),
                    _ => None,
                })
                .collect();
            for input in &f.sig.inputs {
                match input {
                    syn::FnArg::Typed(pt) if matches!(&*pt.pat, syn::Pat::Ident(i) if i.by_ref.is_none() && i.subpat.is_none()) =>
                        {}
                    other => diags.push(
                        Diagnostic::at(src, other.span(), "a helper's parameters are plain names")
                            .help("write `name: Type` (or `mut name: Type`)"),
                    ),
                }
            }
            if let Some(prev) = out.get(&name) {
                let msg = format!("helper `{name}` is defined twice");
                let help = format!(
                    "the other is in {}; helpers of all kernel files share one namespace",
                    prev.source.path
                );
                diags.push(Diagnostic::at(src, f.sig.ident.span(), msg).help(help));
                continue;
            }
            if diags.len() == before {
                out.insert(
                    name.clone(),
                    Helper {
                        name,
                        source: src.clone(),
                        item: f.clone(),
                        generics,
                    },
                );
            }
        }
    }
    out
}

fn is_kernel_attr(attr: &syn::Attribute) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == "kernel")
}

/// `#[kernel]` anywhere but on a function at the top level of a file (a
/// `base_*` kernel or a helper): the generator only looks there, so the
/// attribute would be silently ignored.
fn misplaced_kernel_attrs(src: &Source, file: &syn::File, diags: &mut Vec<Diagnostic>) {
    struct Finder<'a> {
        src: &'a Source,
        diags: &'a mut Vec<Diagnostic>,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
            if is_kernel_attr(attr) {
                self.diags.push(
                    Diagnostic::at(
                        self.src,
                        attr.span(),
                        "`#[kernel]` marks only functions at the top level of a file",
                    )
                    .help(
                        "kernels are `pub unsafe fn base_<name><V: ...>(..)` items directly in a file under \
                         kernels/src, and helpers they call are `#[kernel] unsafe fn <name><V: ...>(..)` items \
                         beside them; remove the attribute here",
                    ),
                );
            }
        }
    }
    let mut finder = Finder { src, diags };
    for item in &file.items {
        match item {
            // The one place the attribute belongs: check the rest of the kernel
            // or helper.
            syn::Item::Fn(f) if is_kernel_name(&f.sig.ident) || f.attrs.iter().any(is_kernel_attr) => {
                finder.visit_signature(&f.sig);
                finder.visit_block(&f.block);
            }
            item => finder.visit_item(item),
        }
    }
}

/// A kernel that names a kernel (calls it, or takes it as a value): each kernel
/// becomes functions of other names per target and instance, so the call could
/// only fail to compile in `generated/`.
fn kernel_calls(
    src: &Source,
    f: &syn::ItemFn,
    kernels: &std::collections::BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) {
    struct Finder<'a> {
        src: &'a Source,
        this: &'a syn::Ident,
        kernels: &'a std::collections::BTreeSet<String>,
        diags: &'a mut Vec<Diagnostic>,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            if let Some(last) = p.path.segments.last()
                && self.kernels.contains(&last.ident.to_string())
            {
                let what = if is_kernel_name(self.this) { "kernel" } else { "helper" };
                let msg = if last.ident == *self.this {
                    format!("kernel `{}` calls itself", self.this)
                } else {
                    format!("{what} `{}` calls the kernel `{}`", self.this, last.ident)
                };
                self.diags.push(Diagnostic::at(self.src, p.span(), msg).help(
                    "kernels cannot call kernels: each one is generated on its own, per target and \
                     instance; write the code out in this kernel",
                ));
            }
            syn::visit::visit_expr_path(self, p);
        }
    }
    Finder {
        src,
        this: &f.sig.ident,
        kernels,
        diags,
    }
    .visit_block(&f.block);
}

/// What a kernel and a helper share: no `where` clause, a plain `fn`, and
/// generic parameters that are vector parameters and `usize` constants. Returns
/// the vector parameters and the `const` parameters' names (one with a wrong
/// type is reported and still returned, so the instance list can be checked).
fn check_generics(
    src: &Source,
    f: &syn::ItemFn,
    api: &Api,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<VecParam>, Vec<syn::Ident>) {
    if let Some(w) = &f.sig.generics.where_clause {
        diags.push(
            Diagnostic::at(src, w.span(), format!("`where` clauses are not supported on {what}s"))
                .help("bound each parameter inline: `<V: FloatVec>`"),
        );
    }
    if f.sig.asyncness.is_some() || f.sig.variadic.is_some() || f.sig.abi.is_some() {
        diags.push(Diagnostic::at(
            src,
            f.sig.span(),
            format!("{what}s are plain `unsafe fn`s: no `async`, `extern` or variadics"),
        ));
    }
    let (mut params, mut consts) = (vec![], vec![]);
    for g in &f.sig.generics.params {
        match g {
            syn::GenericParam::Type(tp) => match vec_param(tp, api) {
                Ok(p) => params.push(p),
                Err(msg) => diags.push(Diagnostic::at(src, tp.span(), msg).help(bound_help())),
            },
            syn::GenericParam::Const(c) if is_usize(&c.ty) && c.default.is_none() => consts.push(c.ident.clone()),
            syn::GenericParam::Const(c) => {
                let msg = format!("a {what}'s `const` parameters are `usize`s without defaults");
                let help = if what == "kernel" {
                    "write `const ROWS: usize` and give its value per instance in `#[kernel(..)]`"
                } else {
                    "write `const N: usize` and give its value at each call: `helper::<V, 4>(..)`"
                };
                diags.push(Diagnostic::at(src, c.span(), msg).help(help));
                consts.push(c.ident.clone());
            }
            other => diags.push(
                Diagnostic::at(
                    src,
                    other.span(),
                    format!("{what}s take only vector type and `const` parameters"),
                )
                .help(bound_help()),
            ),
        }
    }
    (params, consts)
}

fn analyze(src: &Source, f: &syn::ItemFn, api: &Api) -> Result<(Vec<VecParam>, Vec<Variant>), Vec<Diagnostic>> {
    let mut diags = vec![];
    if !matches!(f.vis, syn::Visibility::Public(_)) {
        diags.push(
            Diagnostic::at(src, f.sig.ident.span(), "a kernel must be `pub`")
                .help("write `pub unsafe fn base_<name><V: ...>(..)`"),
        );
    }
    let (params, consts) = check_generics(src, f, api, "kernel", &mut diags);
    let variants = variants(src, f, &consts, &mut diags);
    // Vector values live in registers inside one kernel; the dispatch table needs
    // signatures that are the same on every target.
    for input in &f.sig.inputs {
        match input {
            syn::FnArg::Typed(pt) => check_signature_type(src, &pt.ty, &params, &mut diags),
            syn::FnArg::Receiver(r) => diags.push(Diagnostic::at(
                src,
                r.span(),
                "kernels are free functions; `self` is not allowed",
            )),
        }
    }
    if let syn::ReturnType::Type(_, ty) = &f.sig.output {
        check_signature_type(src, ty, &params, &mut diags);
    }
    if diags.is_empty() {
        Ok((params, variants))
    } else {
        Err(diags)
    }
}

fn is_usize(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none() && p.path.is_ident("usize"))
}

const VARIANTS_HELP: &str = "list every instance with a value for each `const` parameter: \
     `#[kernel(name(ROWS = V::MR), name_short(ROWS = V::MR / 2))]`";

/// The instances listed in `#[kernel(..)]`, checked against the `const`
/// parameters: a kernel has an instance list exactly when it has `const`
/// parameters, and every instance gives each of them one value.
fn variants(src: &Source, f: &syn::ItemFn, consts: &[syn::Ident], diags: &mut Vec<Diagnostic>) -> Vec<Variant> {
    use syn::punctuated::Punctuated;
    let attr = f.attrs.iter().find(|a| a.path().is_ident("kernel"));
    let list = match attr.map(|a| &a.meta) {
        Some(syn::Meta::List(l)) if !l.tokens.is_empty() => l,
        _ => {
            if let Some(c) = consts.first() {
                diags.push(
                    Diagnostic::at(src, c.span(), format!("`const {c}` needs a value in every instance"))
                        .help(VARIANTS_HELP),
                );
            }
            return vec![];
        }
    };
    if consts.is_empty() {
        diags.push(
            Diagnostic::at(
                src,
                list.span(),
                "an instance list is only for kernels with `const` parameters",
            )
            .help("write `#[kernel]`, or add the `const` parameters the instances set"),
        );
        return vec![];
    }
    let entries = match list.parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated) {
        Ok(e) => e,
        Err(e) => {
            diags
                .push(Diagnostic::at(src, e.span(), format!("cannot read the instance list: {e}")).help(VARIANTS_HELP));
            return vec![];
        }
    };
    let mut out: Vec<Variant> = vec![];
    for entry in &entries {
        let syn::Meta::List(inst) = entry else {
            diags.push(
                Diagnostic::at(src, entry.span(), "an instance is `name(CONST = value, ..)`").help(VARIANTS_HELP),
            );
            continue;
        };
        let Some(name) = inst.path.get_ident().map(|i| i.to_string()) else {
            diags.push(
                Diagnostic::at(src, inst.path.span(), "an instance is named by one identifier").help(VARIANTS_HELP),
            );
            continue;
        };
        if out.iter().any(|v| v.name == name) {
            diags.push(Diagnostic::at(
                src,
                inst.path.span(),
                format!("instance `{name}` is listed twice"),
            ));
            continue;
        }
        let values = match inst.parse_args_with(Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated) {
            Ok(v) => v,
            Err(e) => {
                diags.push(Diagnostic::at(src, e.span(), format!("instance `{name}`: {e}")).help(VARIANTS_HELP));
                continue;
            }
        };
        let mut set: Vec<(String, syn::Expr)> = vec![];
        for nv in &values {
            let known = nv.path.get_ident().filter(|i| consts.contains(i));
            match known {
                Some(c) if set.iter().any(|(n, _)| c == n) => diags.push(Diagnostic::at(
                    src,
                    nv.path.span(),
                    format!("instance `{name}` sets `{c}` twice"),
                )),
                // Parsed from the attribute here, after the file's depth check.
                Some(_) if let Some(d) = crate::limits::expr_depth(src, &nv.value) => diags.push(d),
                Some(c) => set.push((c.to_string(), nv.value.clone())),
                None => diags.push(
                    Diagnostic::at(
                        src,
                        nv.path.span(),
                        format!("instance `{name}` sets an unknown `const` parameter"),
                    )
                    .help(format!("the kernel's `const` parameters: {}", names(consts))),
                ),
            }
        }
        let missing: Vec<&syn::Ident> = consts.iter().filter(|c| !set.iter().any(|(n, _)| *c == n)).collect();
        if !missing.is_empty() {
            diags.push(
                Diagnostic::at(
                    src,
                    inst.path.span(),
                    format!("instance `{name}` gives no value for {}", names(&missing)),
                )
                .help(VARIANTS_HELP),
            );
        }
        out.push(Variant { name, consts: set });
    }
    out
}

fn names<I: std::fmt::Display>(idents: &[I]) -> String {
    let v: Vec<String> = idents.iter().map(|i| format!("`{i}`")).collect();
    v.join(", ")
}

fn bound_help() -> String {
    let names: Vec<&str> = TRAITS.iter().map(|t| t.name).collect();
    format!(
        "bound each type parameter by one vector trait: {} (optionally `FloatVec<Elem = f32>`)",
        names.join(", ")
    )
}

fn vec_param(tp: &syn::TypeParam, api: &Api) -> Result<VecParam, String> {
    let ident = tp.ident.to_string();
    let bounds: Vec<&syn::TraitBound> = tp
        .bounds
        .iter()
        .filter_map(|b| match b {
            syn::TypeParamBound::Trait(t) => Some(t),
            _ => None,
        })
        .collect();
    let [bound] = bounds.as_slice() else {
        return Err(format!("type parameter `{ident}` needs exactly one vector-trait bound"));
    };
    let Some(last) = bound.path.segments.last() else {
        return Err(format!("type parameter `{ident}` has an empty bound"));
    };
    let trait_name = last.ident.to_string();
    let Some(tapi) = api.traits.get(&trait_name) else {
        return Err(format!("`{trait_name}` is not a vector trait of the kernel language"));
    };
    let spec = tapi.spec;
    let mut elems: Vec<&'static str> = spec.elems.to_vec();
    if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
        for arg in &args.args {
            let syn::GenericArgument::AssocType(at) = arg else {
                return Err(format!("unsupported argument in `{trait_name}<..>`"));
            };
            let ty = quote::ToTokens::to_token_stream(&at.ty).to_string();
            match (spec.elem_type, spec.elems.iter().find(|e| **e == ty)) {
                (Some(et), Some(e)) if at.ident == et => elems = vec![*e],
                _ => {
                    return Err(format!(
                        "`{trait_name}<{} = {ty}>` is not an instantiation the generator knows (element types: {})",
                        at.ident,
                        spec.elems.join(", ")
                    ));
                }
            }
        }
    }
    Ok(VecParam { ident, spec, elems })
}

/// Rejects any mention of a vector type in a signature, except `V::Elem`.
fn check_signature_type(src: &Source, ty: &syn::Type, params: &[VecParam], diags: &mut Vec<Diagnostic>) {
    struct Finder<'a> {
        params: &'a [VecParam],
        found: Vec<proc_macro2::Span>,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_type_path(&mut self, tp: &'ast syn::TypePath) {
            let segs = &tp.path.segments;
            if let Some(p) = segs
                .first()
                .and_then(|s| self.params.iter().find(|p| s.ident == p.ident))
            {
                let is_scalar = segs.len() == 2 && p.spec.scalar_types.iter().any(|t| segs[1].ident == t);
                if !is_scalar {
                    self.found.push(tp.span());
                }
                return;
            }
            syn::visit::visit_type_path(self, tp);
        }
    }
    let mut finder = Finder { params, found: vec![] };
    finder.visit_type(ty);
    for span in finder.found {
        diags.push(
            Diagnostic::at(src, span, "vector types cannot appear in a kernel's signature")
                .help("pass pointers to elements (`*const V::Elem`, `*const u8`) and load inside the kernel"),
        );
    }
}
