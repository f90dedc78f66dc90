//! Discovery and analysis: find every `pub fn base_*` in the kernel sources and
//! work out which instantiations (element types) it has.

use crate::api::{Api, TRAITS, TraitSpec};
use crate::diag::{Diagnostic, Source};
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
}

/// One concrete kernel: every vector parameter bound to an element type.
#[derive(Debug, Clone)]
pub struct Instance<'k> {
    pub kernel: &'k Kernel,
    /// The generated function's name, e.g. `microkernel_f32`.
    pub fn_name: String,
    /// `(param ident, trait, elem)` for each vector parameter.
    pub bindings: Vec<(String, TraitSpec, &'static str)>,
}

impl Kernel {
    /// Every element-type combination, in a stable order.
    pub fn instances(&self) -> Vec<Instance<'_>> {
        let mut out = vec![Instance {
            kernel: self,
            fn_name: self.name.clone(),
            bindings: vec![],
        }];
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
        for item in &file.items {
            let syn::Item::Fn(f) = item else { continue };
            let Some(name) = f.sig.ident.to_string().strip_prefix("base_").map(str::to_string) else {
                continue;
            };
            match analyze(src, f, api) {
                Ok(params) => kernels.push(Kernel {
                    name,
                    source: src.clone(),
                    item: f.clone(),
                    params,
                }),
                Err(mut d) => diags.append(&mut d),
            }
        }
    }
    if diags.is_empty() { Ok(kernels) } else { Err(diags) }
}

fn analyze(src: &Source, f: &syn::ItemFn, api: &Api) -> Result<Vec<VecParam>, Vec<Diagnostic>> {
    let mut diags = vec![];
    if !matches!(f.vis, syn::Visibility::Public(_)) {
        diags.push(
            Diagnostic::at(src, f.sig.ident.span(), "a kernel must be `pub`")
                .help("write `pub unsafe fn base_<name><V: ...>(..)`"),
        );
    }
    if let Some(w) = &f.sig.generics.where_clause {
        diags.push(
            Diagnostic::at(src, w.span(), "`where` clauses are not supported on kernels")
                .help("bound each parameter inline: `<V: FloatVec>`"),
        );
    }
    if f.sig.asyncness.is_some() || f.sig.variadic.is_some() || f.sig.abi.is_some() {
        diags.push(Diagnostic::at(
            src,
            f.sig.span(),
            "kernels are plain `unsafe fn`s: no `async`, `extern` or variadics",
        ));
    }
    let mut params = vec![];
    for g in &f.sig.generics.params {
        match g {
            syn::GenericParam::Type(tp) => match vec_param(tp, api) {
                Ok(p) => params.push(p),
                Err(msg) => diags.push(Diagnostic::at(src, tp.span(), msg).help(bound_help())),
            },
            other => diags
                .push(Diagnostic::at(src, other.span(), "kernels take only vector type parameters").help(bound_help())),
        }
    }
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
    if diags.is_empty() { Ok(params) } else { Err(diags) }
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
