//! The dispatch tables, `generated/mod.rs`: every target compiled into a build,
//! with one typed table of kernels per element family.
//!
//! Per kernel, a function-pointer type alias generic over the scalar types of
//! its vector trait that its signature uses (`MicrokernelFn<Elem>`,
//! `MicrokernelDotFn<A, B, Acc>`), read from the signature as written
//! (`V::Elem` is `Elem`): one type for every target, instance and element type.
//! A kernel with an instance list has a struct of its instances named after it
//! (`Microkernel<Elem>`, a field per instance as the list names it), each an
//! `Instance`: the function and the values of its `const` parameters on the
//! target. Per vector trait, one table holds every kernel of the trait
//! (`FloatKernels<Elem>`, `DotKernels<A, B, Acc>`), and each `Target` holds one
//! table per element type of each trait (`f32`, `f64`, `u8i8`, `bf16`). So the
//! runtime names its kernels by what they are (`t.f32.microkernel`), never by
//! a generated function's name, and writes what a family does with them once.

use crate::api::{Api, TRAITS, TraitSpec};
use crate::diag::{Diagnostic, Error};
use crate::emit::shape_values;
use crate::kernel::{Instance, Kernel, VecParam};
use crate::lower::Lowered;
use crate::targets::{FALLBACK, Target};
use minijinja::Value;
use quote::{ToTokens, quote};
use std::collections::{BTreeMap, BTreeSet};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};

/// The fields of the runtime's `Tuning`, each a `tuning.<field>` entry of every
/// target (see `targets.rs`), with its type: `usize` (a threshold) or `bool`
/// (a choice).
pub const TUNING_FIELDS: &[(&str, &str)] = &[
    ("small", "usize"),
    ("small_split_volume", "usize"),
    ("gemv_small", "usize"),
    ("gemv_split_n", "usize"),
    ("gemv_k_part", "usize"),
    ("gemv_dot_item", "usize"),
    ("blocked_split_volume", "usize"),
    ("skinny_rows", "usize"),
    ("skinny_kc", "usize"),
    ("l2_percent_for_b", "usize"),
    ("pack_chunk", "usize"),
    ("max_lanes", "usize"),
    ("bf16_widen", "bool"),
    ("bf16_widen_packed", "bool"),
];

/// `Tuning::MAX_LANES`: the most lanes a block can have, the size of the
/// runtime scheduler's fixed arrays. Every target's `tuning.max_lanes` is at
/// most this.
pub const MAX_LANES: usize = 16;

/// The types the dispatch table defines whatever the kernels are; a kernel
/// whose types would take one of these names is an error.
const FIXED_TYPES: &[&str] = &["Shape", "Shapes", "Target", "Tuning", "Instance"];

/// One kernel as the tables hold it.
struct Entry<'k> {
    kernel: &'k Kernel,
    param: &'k VecParam,
    /// The function-pointer type alias, `MicrokernelFn`.
    alias: String,
    /// The scalar types of the trait the signature uses (`Elem`; `A`, `B`,
    /// `Acc`), in the trait's order: the generic parameters of the alias.
    generics: Vec<String>,
    /// `unsafe fn(k: usize, alpha: Elem, ..)`.
    fn_type: String,
    /// For a kernel with an instance list: its struct of instances
    /// (`Microkernel`) and of `const` values (`MicrokernelConsts`).
    set: Option<(String, String)>,
}

impl Entry<'_> {
    /// `MicrokernelFn<Elem>`.
    fn alias_type(&self) -> String {
        format!("{}{}", self.alias, generic_args(&self.generics))
    }

    /// What the family table holds of the kernel: its instance set or its
    /// function, in an `Option` where the kernel is instantiated for only some
    /// of the trait's element types (`V: FloatVec<Elem = f32>`).
    fn table_type(&self) -> String {
        let ty = match &self.set {
            Some((set, _)) => format!("{set}{}", generic_args(&self.generics)),
            None => self.alias_type(),
        };
        if self.partial() { format!("Option<{ty}>") } else { ty }
    }

    fn partial(&self) -> bool {
        self.param.elems.len() < self.param.spec.elems.len()
    }

    /// For the docs' examples: the first element type the kernel is
    /// instantiated for, and the expression, on a `Target` `t`, of its table
    /// entry (`t.f32.microkernel`) and of one function (`..microkernel.kernel`).
    fn example(&self) -> (&'static str, String, String) {
        let elem = self.param.elems.first().copied().unwrap_or("f32");
        let unwrap = if self.partial() { ".unwrap()" } else { "" };
        let entry = format!("t.{elem}.{}{unwrap}", self.kernel.name);
        let function = match self.kernel.variants.first() {
            Some(v) if self.set.is_some() => format!("{entry}.{}.kernel", v.name),
            _ => entry.clone(),
        };
        (elem, entry, function)
    }

    /// The generated function of each instance.
    fn functions(&self) -> Result<Functions, Error> {
        let elems = &self.param.elems;
        let mut out = BTreeMap::new();
        // `instances` lists each variant's element types in turn.
        for (i, inst) in self.kernel.instances().iter().enumerate() {
            let elem = elems[i % elems.len()];
            if inst.bindings.first().map(|b| b.2) != Some(elem) {
                return Err(Error::Target(format!(
                    "the instances of `base_{}` are not in variant then element order",
                    self.kernel.name
                )));
            }
            out.insert((i / elems.len(), elem), inst.fn_name.clone());
        }
        Ok(out)
    }
}

/// One vector trait's table: `FloatKernels<Elem>`.
struct Table {
    spec: TraitSpec,
    /// `FloatKernels`.
    name: String,
    /// The scalar types any of its kernels uses, in the trait's order.
    generics: Vec<String>,
    /// Its kernels, as indices into the entries.
    entries: Vec<usize>,
}

/// `<Elem>`, or nothing for no parameters.
fn generic_args(g: &[impl AsRef<str>]) -> String {
    if g.is_empty() {
        String::new()
    } else {
        let g: Vec<&str> = g.iter().map(AsRef::as_ref).collect();
        format!("<{}>", g.join(", "))
    }
}

/// `gemm_small` -> `GemmSmall`.
fn camel(name: &str) -> String {
    name.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The table of a trait: `FloatVec` -> `FloatKernels`.
fn table_name(trait_name: &str) -> String {
    format!("{}Kernels", trait_name.strip_suffix("Vec").unwrap_or(trait_name))
}

/// A kernel's `const` parameters, in the order it declares them: the fields
/// of its `..Consts` struct.
fn const_params(k: &Kernel) -> Vec<String> {
    k.item
        .sig
        .generics
        .params
        .iter()
        .filter_map(|g| match g {
            syn::GenericParam::Const(c) => Some(c.ident.to_string()),
            _ => None,
        })
        .collect()
}

/// Replaces `V::Elem` (any scalar type of the trait) with `Elem` in a
/// signature's types, noting which it met; any other mention of the vector
/// parameter or of a `const` parameter (`[V::Elem; V::LANES]`, `[f32; ROWS]`)
/// is a type that differs between targets or instances.
struct Generify<'a> {
    param: &'a str,
    scalars: &'a [&'static str],
    consts: &'a [String],
    used: BTreeSet<String>,
    bad: Vec<proc_macro2::Span>,
}

impl VisitMut for Generify<'_> {
    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::Path(tp) = ty
            && tp.qself.is_none()
            && let [v, s] = tp.path.segments.iter().collect::<Vec<_>>().as_slice()
            && v.ident == self.param
            && v.arguments.is_none()
            && s.arguments.is_none()
            && self.scalars.iter().any(|x| s.ident == x)
        {
            let name = s.ident.clone();
            self.used.insert(name.to_string());
            *ty = syn::parse_quote!(#name);
            return;
        }
        visit_mut::visit_type_mut(self, ty);
    }

    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        if let Some(first) = path.segments.first()
            && (first.ident == self.param || self.consts.iter().any(|c| first.ident == c))
        {
            self.bad.push(path.span());
            return;
        }
        visit_mut::visit_path_mut(self, path);
    }
}

const ONE_PARAM_HELP: &str = "the dispatch table holds each kernel in the table of its element family \
     (`FloatKernels`, `DotKernels`): bound one type parameter by one vector trait, `<V: FloatVec>`";

/// What the dispatch table holds of `k`: its alias, from the signature as
/// written, and its instance set.
fn entry(k: &Kernel) -> Result<Entry<'_>, Vec<Diagnostic>> {
    let [param] = k.params.as_slice() else {
        let span = k
            .item
            .sig
            .generics
            .params
            .iter()
            .filter(|g| matches!(g, syn::GenericParam::Type(_)))
            .nth(1)
            .map_or(k.item.sig.ident.span(), |g| g.span());
        let msg = if k.params.is_empty() {
            format!("kernel `base_{}` has no vector type parameter", k.name)
        } else {
            format!("kernel `base_{}` has more than one vector type parameter", k.name)
        };
        return Err(vec![Diagnostic::at(&k.source, span, msg).help(ONE_PARAM_HELP)]);
    };
    let consts = const_params(k);
    let mut g = Generify {
        param: &param.ident,
        scalars: param.spec.scalar_types,
        consts: &consts,
        used: BTreeSet::new(),
        bad: vec![],
    };
    let mut args = vec![];
    for input in &k.item.sig.inputs {
        // A receiver is reported where the kernel is read.
        let syn::FnArg::Typed(pt) = input else { continue };
        let mut ty = (*pt.ty).clone();
        g.visit_type_mut(&mut ty);
        args.push(match &*pt.pat {
            syn::Pat::Ident(p) => {
                let name = &p.ident;
                quote!(#name: #ty)
            }
            _ => quote!(_: #ty),
        });
    }
    let ret = match &k.item.sig.output {
        syn::ReturnType::Default => quote!(),
        syn::ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            g.visit_type_mut(&mut ty);
            quote!(-> #ty)
        }
    };
    if !g.bad.is_empty() {
        return Err(g
            .bad
            .iter()
            .map(|span| {
                Diagnostic::at(
                    &k.source,
                    *span,
                    "a kernel's signature cannot depend on the target or the instance",
                )
                .help(
                    "every instance of a kernel on every target has one function-pointer type in the \
                     dispatch table: use `V::LANES`, `V::MR` and `const` parameters in the body only",
                )
            })
            .collect());
    }
    let generics: Vec<String> = param
        .spec
        .scalar_types
        .iter()
        .filter(|s| g.used.contains(**s))
        .map(|s| s.to_string())
        .collect();
    let fn_type: syn::Type = syn::parse_quote!(unsafe fn(#(#args),*) #ret);
    let name = camel(&k.name);
    Ok(Entry {
        kernel: k,
        param,
        alias: format!("{name}Fn"),
        generics,
        fn_type: fn_type.to_token_stream().to_string(),
        set: (!k.variants.is_empty()).then(|| (name.clone(), format!("{name}Consts"))),
    })
}

/// Every type name the tables define is defined once: a kernel whose alias,
/// instance set or constants would take another's name is an error at the
/// kernel.
fn unique_names(entries: &[Entry<'_>]) -> Result<(), Error> {
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for name in FIXED_TYPES {
        taken.insert(name.to_string(), "one of the table's own types".to_string());
    }
    for t in TRAITS {
        taken.insert(table_name(t.name), format!("the table of `{}` kernels", t.name));
        for s in t.scalar_types {
            taken.insert(s.to_string(), format!("a type parameter of the `{}` tables", t.name));
        }
    }
    let mut diags = vec![];
    for e in entries {
        let mut names = vec![e.alias.clone()];
        if let Some((set, consts)) = &e.set {
            names.extend([set.clone(), consts.clone()]);
        }
        for name in names {
            let owner = format!("a type of `base_{}`", e.kernel.name);
            match taken.get(&name) {
                Some(other) => {
                    let msg = format!(
                        "kernel `base_{}` needs the type name `{name}` in the dispatch table, where it is already {other}",
                        e.kernel.name
                    );
                    diags.push(
                        Diagnostic::at(&e.kernel.source, e.kernel.item.sig.ident.span(), msg).help("rename the kernel"),
                    );
                    break;
                }
                None => {
                    taken.insert(name, owner);
                }
            }
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Error::Kernels(diags))
    }
}

/// The Rust type of a trait's scalar type `name` for one element type: the
/// element type itself for `Elem`, else the targets' `<elem>.<name>` entry
/// (`u8i8.A` is `u8`), which must be the same on every target.
fn scalar_type(spec: &TraitSpec, elem: &str, name: &str, targets: &[&Target]) -> Result<String, Error> {
    if spec.elem_type == Some(name) {
        return Ok(elem.to_string());
    }
    let key = format!("{elem}.{name}");
    let want = FALLBACK
        .entry(&key)
        .ok_or_else(|| Error::Target(format!("`{}` does not define `{key}`", FALLBACK.name)))?;
    for t in targets {
        if t.entry(&key) != Some(want) {
            return Err(Error::Target(format!(
                "`{}` defines `{key}` as `{}`, not `{want}` as `{}` does: a kernel's signature is the same on every target",
                t.name,
                t.entry(&key).unwrap_or("nothing"),
                FALLBACK.name
            )));
        }
    }
    Ok(want.to_string())
}

/// `name(A = 1, B = V::MR / 2)`'s `A = 1, B = V::MR / 2`, formatted.
fn settings(consts: &[(String, syn::Expr)]) -> String {
    let parts: Vec<String> = consts
        .iter()
        .map(|(c, e)| {
            let file: syn::File = syn::parse_quote!(const _: usize = #e;);
            let text = prettyplease::unparse(&file);
            let text = text
                .trim()
                .strip_prefix("const _: usize = ")
                .and_then(|t| t.strip_suffix(';'))
                .map_or_else(|| e.to_token_stream().to_string(), str::to_string);
            format!("{c} = {text}")
        })
        .collect();
    parts.join(", ")
}

/// The first paragraph of a kernel's docs, with intra-doc links made plain
/// code (the generated module cannot resolve them).
fn summary(attrs: &[syn::Attribute]) -> Vec<String> {
    let lines = attrs.iter().filter_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s), ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    });
    lines
        .map(|l| unlink(l.strip_prefix(' ').unwrap_or(&l).trim_end()))
        .take_while(|l| !l.is_empty())
        .collect()
}

/// `[`x`]` -> `` `x` `` where it is an intra-doc link (not `[`x`](..)`).
fn unlink(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
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
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn arch_of(t: &Target) -> &'static str {
    ["x86_64", "aarch64", "wasm32"]
        .into_iter()
        .find(|a| t.cfg.contains(&format!("target_arch = \"{a}\"")))
        .unwrap_or("any")
}

/// `(field, value)` for each of [`TUNING_FIELDS`] on `target`, the value a
/// literal of the field's type.
fn tuning_values(target: &Target) -> Result<Vec<(&'static str, String)>, Error> {
    TUNING_FIELDS
        .iter()
        .map(|&(field, ty)| {
            let key = format!("tuning.{field}");
            let text = target
                .entry(&key)
                .ok_or_else(|| Error::Target(format!("`{}` does not define `{key}`", target.name)))?;
            let bad = || Error::Target(format!("`{}`: `{key}` = `{text}` is not a {ty} literal", target.name));
            if ty == "bool" {
                return text.parse::<bool>().map(|v| (field, v.to_string())).map_err(|_| bad());
            }
            let value = text.parse::<usize>().map_err(|_| bad())?;
            if field == "max_lanes" && !(1..=MAX_LANES).contains(&value) {
                return Err(Error::Target(format!(
                    "`{}`: `{key}` = {value} is not between 1 and {MAX_LANES} (`Tuning::MAX_LANES`)",
                    target.name
                )));
            }
            if field == "l2_percent_for_b" && !(1..=100).contains(&value) {
                return Err(Error::Target(format!(
                    "`{}`: `{key}` = {value} is not a percentage between 1 and 100",
                    target.name
                )));
            }
            Ok((field, value.to_string()))
        })
        .collect()
}

/// The generated function of each instance of a kernel, by variant (0
/// without an instance list) and element type.
type Functions = BTreeMap<(usize, &'static str), String>;

/// What one target's table for `elem` holds of `e`: its function, or its
/// instances with their `const` values there, or nothing (`None`) where `e`
/// is not instantiated for `elem`.
fn kernel_value(
    e: &Entry<'_>,
    fns: &Functions,
    elem: &'static str,
    target: &Target,
    lowered: &BTreeMap<&str, &[(String, usize)]>,
) -> Result<Value, Error> {
    let present = e.param.elems.contains(&elem);
    let mut instances = vec![];
    if let (true, Some((_, consts))) = (present, &e.set) {
        for (vi, v) in e.kernel.variants.iter().enumerate() {
            let missing = |what: String| Error::Target(format!("`{}`: {what}", target.name));
            let f = fns.get(&(vi, elem)).ok_or_else(|| {
                missing(format!(
                    "`base_{}` has no instance `{}` for `{elem}`",
                    e.kernel.name, v.name
                ))
            })?;
            let l = lowered
                .get(f.as_str())
                .ok_or_else(|| missing(format!("`{f}` was not lowered")))?;
            let values = const_params(e.kernel)
                .into_iter()
                .map(|c| {
                    let value = l.iter().find(|(n, _)| *n == c).map(|(_, v)| *v);
                    let value = value.ok_or_else(|| missing(format!("`{f}` has no value for `{c}`")))?;
                    Ok(obj([("name", Value::from(c)), ("value", Value::from(value))]))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            instances.push(obj([
                ("name", Value::from(v.name.clone())),
                ("function", Value::from(f.clone())),
                ("consts", Value::from(consts.clone())),
                ("values", Value::from(values)),
            ]));
        }
    }
    Ok(obj([
        ("name", Value::from(e.kernel.name.clone())),
        ("option", Value::from(e.partial())),
        ("present", Value::from(present)),
        ("set", Value::from(e.set.as_ref().map(|(s, _)| s.clone()))),
        ("function", Value::from(fns.get(&(0, elem)).cloned())),
        ("instances", Value::from(instances)),
    ]))
}

fn obj<const N: usize>(pairs: [(&'static str, Value); N]) -> Value {
    Value::from(BTreeMap::from(pairs))
}

/// The `const` parameters' values of each instance lowered for one target,
/// by function name: what the dispatch tables read of a lowering.
pub type InstanceConsts = BTreeMap<String, Vec<(String, usize)>>;

/// The `const` parameters' values of `lowered`, by function name.
pub fn instance_consts(lowered: &[(Instance<'_>, Lowered)]) -> InstanceConsts {
    lowered
        .iter()
        .map(|(inst, l)| (inst.fn_name.clone(), l.consts.clone()))
        .collect()
}

/// The dispatch tables (`generated/mod.rs`) of `kernels`, from every target's
/// instance constants (`consts`, by target name, from [`instance_consts`]).
/// The types (aliases, instance sets, tables) are read from the kernels as
/// written, the same on every target.
pub fn dispatch_file(
    targets: &[&Target],
    kernels: &[Kernel],
    consts: &BTreeMap<&str, InstanceConsts>,
    api: &Api,
) -> Result<String, Error> {
    let mut entries = vec![];
    let mut diags = vec![];
    for k in kernels {
        match entry(k) {
            Ok(e) => entries.push(e),
            Err(mut d) => diags.append(&mut d),
        }
    }
    if !diags.is_empty() {
        return Err(Error::Kernels(diags));
    }
    unique_names(&entries)?;

    // Per trait, in `TRAITS` order: its table, even with no kernels.
    let mut tables = vec![];
    for spec in TRAITS {
        let members: Vec<usize> = (0..entries.len())
            .filter(|&i| entries[i].param.spec.name == spec.name)
            .collect();
        let generics = spec
            .scalar_types
            .iter()
            .filter(|s| members.iter().any(|&i| entries[i].generics.iter().any(|g| g == *s)))
            .map(|s| s.to_string())
            .collect();
        tables.push(Table {
            spec: *spec,
            name: table_name(spec.name),
            generics,
            entries: members,
        });
    }

    let aliases: Vec<Value> = entries
        .iter()
        .map(|e| {
            let (elem, entry, function) = e.example();
            let args = e
                .generics
                .iter()
                .map(|g| scalar_type(&e.param.spec, elem, g, targets))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(obj([
                (
                    "example_type",
                    Value::from(format!("{}{}", e.alias, generic_args(&args))),
                ),
                ("example_fn", Value::from(function)),
                ("example_entry", Value::from(entry)),
                ("name", Value::from(e.alias.clone())),
                ("generics", Value::from(generic_args(&e.generics))),
                ("params", Value::from(e.generics.clone())),
                ("fn_type", Value::from(e.fn_type.clone())),
                ("kernel", Value::from(e.kernel.name.clone())),
                ("instances", Value::from(e.set.is_some())),
            ]))
        })
        .collect::<Result<_, Error>>()?;
    let sets: Vec<Value> = entries
        .iter()
        .filter_map(|e| {
            let (set, consts) = e.set.as_ref()?;
            let instances: Vec<Value> = e
                .kernel
                .variants
                .iter()
                .map(|v| {
                    obj([
                        ("name", Value::from(v.name.clone())),
                        ("settings", Value::from(settings(&v.consts))),
                    ])
                })
                .collect();
            Some(obj([
                ("example_entry", Value::from(e.example().1)),
                ("first", Value::from(e.kernel.variants.first().map(|v| v.name.clone()))),
                ("name", Value::from(set.clone())),
                ("kernel", Value::from(e.kernel.name.clone())),
                ("generics", Value::from(generic_args(&e.generics))),
                ("alias", Value::from(e.alias_type())),
                ("consts", Value::from(consts.clone())),
                ("fields", Value::from(const_params(e.kernel))),
                ("instances", Value::from(instances)),
            ]))
        })
        .collect();
    let mut table_vals = vec![];
    let mut target_fields = vec![];
    for t in &tables {
        let kernels: Vec<Value> = t
            .entries
            .iter()
            .map(|&i| {
                let e = &entries[i];
                let only = if e.partial() {
                    format!(
                        "Only for {}; `None` in the other tables.",
                        e.param
                            .elems
                            .iter()
                            .map(|x| format!("`{x}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    String::new()
                };
                obj([
                    ("name", Value::from(e.kernel.name.clone())),
                    ("doc", Value::from(summary(&e.kernel.item.attrs))),
                    ("only", Value::from(only)),
                    ("ty", Value::from(e.table_type())),
                ])
            })
            .collect();
        let mut elems = vec![];
        let mut example = None;
        for elem in t.spec.elems {
            let args = t
                .generics
                .iter()
                .map(|g| scalar_type(&t.spec, elem, g, targets))
                .collect::<Result<Vec<_>, _>>()?;
            let binding: Vec<String> = t
                .generics
                .iter()
                .zip(&args)
                .map(|(g, a)| format!("{g} = {a}"))
                .collect();
            elems.push(obj([
                ("elem", Value::from(*elem)),
                ("binding", Value::from(binding.join(", "))),
            ]));
            let ty = format!("{}{}", t.name, generic_args(&args));
            example.get_or_insert_with(|| (*elem, ty.clone()));
            target_fields.push(obj([
                ("elem", Value::from(*elem)),
                ("trait", Value::from(t.spec.name)),
                ("ty", Value::from(ty)),
            ]));
        }
        table_vals.push(obj([
            ("example_elem", Value::from(example.as_ref().map(|e| e.0))),
            ("example_type", Value::from(example.map(|e| e.1))),
            ("name", Value::from(t.name.clone())),
            ("trait", Value::from(t.spec.name)),
            ("generics", Value::from(generic_args(&t.generics))),
            ("elems", Value::from(elems)),
            ("kernels", Value::from(kernels)),
        ]));
    }

    let mut elems: Vec<&str> = api.traits.values().flat_map(|t| t.spec.elems.iter().copied()).collect();
    elems.sort_unstable();
    // `Shape` holds the constants every trait has (LANES, MR, NR); the others
    // (`DEPTH`) are constants in each target module (`U8I8_DEPTH`).
    let first = api
        .traits
        .values()
        .next()
        .map(|t| t.usize_consts.clone())
        .unwrap_or_default();
    let shape_fields: Vec<String> = first
        .into_iter()
        .filter(|c| api.traits.values().all(|t| t.usize_consts.contains(c)))
        .collect();

    // The functions of each kernel's instances, by variant and element type.
    let functions: Vec<Functions> = entries.iter().map(Entry::functions).collect::<Result<_, _>>()?;
    let mut tvals = vec![];
    for target in targets {
        let lowered: BTreeMap<&str, &[(String, usize)]> = consts
            .get(target.name)
            .ok_or_else(|| Error::Target(format!("`{}` was not lowered", target.name)))?
            .iter()
            .map(|(f, c)| (f.as_str(), c.as_slice()))
            .collect();
        let mut shapes: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for (elem, name, value) in shape_values(target, api)? {
            let fields = shapes.entry(elem).or_default();
            if shape_fields.contains(&name) {
                fields.push(obj([("name", Value::from(name)), ("value", Value::from(value))]));
            }
        }
        let shapes: Vec<Value> = shapes
            .into_iter()
            .map(|(elem, values)| obj([("elem", Value::from(elem)), ("values", Value::from(values))]))
            .collect();
        let mut families = vec![];
        for t in &tables {
            for &elem in t.spec.elems {
                let mut kernels = vec![];
                for &i in &t.entries {
                    kernels.push(kernel_value(&entries[i], &functions[i], elem, target, &lowered)?);
                }
                families.push(obj([
                    ("elem", Value::from(elem)),
                    ("table", Value::from(t.name.clone())),
                    ("kernels", Value::from(kernels)),
                ]));
            }
        }
        let tuning: Vec<Value> = tuning_values(target)?
            .into_iter()
            .map(|(name, value)| obj([("name", Value::from(name)), ("value", Value::from(value))]))
            .collect();
        tvals.push(obj([
            ("tuning", Value::from(tuning)),
            ("families", Value::from(families)),
            ("name", Value::from(target.name)),
            ("summary", Value::from(target.summary)),
            ("cfg", Value::from(target.cfg)),
            ("arch", Value::from(arch_of(target))),
            ("features", Value::from(target.features.to_vec())),
            ("detect", Value::from(target.detect)),
            ("shapes", Value::from(shapes)),
        ]));
    }

    let mut env = minijinja::Environment::new();
    env.add_template("dispatch", include_str!("../templates/dispatch.rs.j2"))
        .map_err(|e| Error::Target(format!("dispatch template: {e}")))?;
    let ctx = minijinja::context! {
        targets => tvals,
        aliases => aliases,
        sets => sets,
        tables => table_vals,
        target_fields => target_fields,
        elems => elems,
        shape_fields => shape_fields,
        max_lanes => MAX_LANES,
    };
    let text = env
        .get_template("dispatch")
        .and_then(|t| t.render(ctx))
        .map_err(|e| Error::Target(format!("dispatch template: {e}")))?;
    let file: syn::File =
        syn::parse_file(&text).map_err(|e| Error::Target(format!("rendered dispatch table does not parse: {e}")))?;
    Ok(format!("{}\n{}", crate::emit::HEADER, prettyplease::unparse(&file)))
}
