//! The vector API, read from the kernels crate's own trait definitions.
//!
//! The generator does not keep a second list of ops: it parses `pub trait FloatVec`
//! and friends from `kernels/src` and learns each op's arity and whether it yields
//! a vector. What the generator itself must know is only which element types each
//! trait is instantiated for ([`TRAITS`]) and the two names it treats specially:
//! the `Tile` type and its `zero_tile` constructor.

use crate::diag::{Error, Source};
use std::collections::BTreeMap;

/// A vector trait of the kernel language and the element types it is instantiated for.
#[derive(Debug, Clone, Copy)]
pub struct TraitSpec {
    pub name: &'static str,
    /// Element types, in output order. A trait with more than one names its
    /// instantiations `<kernel>_<elem>`.
    pub elems: &'static [&'static str],
    /// Associated type that stands for the element type (`V::Elem`), if any.
    pub elem_type: Option<&'static str>,
    /// Associated scalar types a kernel signature may use (`*const V::Elem`). They
    /// must be the same on every target, so the dispatch table has one signature;
    /// in this order they are the type parameters of its function-pointer
    /// aliases and tables (`DotKernels<A, B, Acc>`).
    pub scalar_types: &'static [&'static str],
}

/// The traits a kernel's type parameters may be bounded by.
pub const TRAITS: &[TraitSpec] = &[
    TraitSpec {
        name: "FloatVec",
        elems: &["f32", "f64"],
        elem_type: Some("Elem"),
        scalar_types: &["Elem"],
    },
    TraitSpec {
        name: "DotVec",
        elems: &["u8i8", "bf16"],
        elem_type: None,
        scalar_types: &["A", "B", "Acc"],
    },
];

/// The register-tile type and its constructor, replaced by separate locals.
pub const TILE_TYPE: &str = "Tile";
pub const TILE_INIT: &str = "zero_tile";

/// One op of a trait.
#[derive(Debug, Clone)]
pub struct Op {
    pub arity: usize,
    /// Returns `Self` or an associated vector type (so its result is a vector).
    pub returns_vector: bool,
}

/// What one trait offers.
#[derive(Debug, Clone)]
pub struct TraitApi {
    pub spec: TraitSpec,
    /// Associated consts of type `usize`: target parameters such as `LANES`, `MR`, `NR`.
    pub usize_consts: Vec<String>,
    /// Other associated consts (`ZERO`, `ONE`): values of the element type.
    pub elem_consts: Vec<String>,
    /// Associated types other than the element type and the tile.
    pub types: Vec<String>,
    pub ops: BTreeMap<String, Op>,
}

impl TraitApi {
    pub fn has_tile(&self) -> bool {
        self.ops.contains_key(TILE_INIT)
    }

    /// Op names for diagnostics, without the tile constructor.
    pub fn op_list(&self) -> String {
        self.ops
            .keys()
            .filter(|k| *k != TILE_INIT)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The whole vector API.
#[derive(Debug, Clone, Default)]
pub struct Api {
    pub traits: BTreeMap<String, TraitApi>,
}

impl Api {
    /// Reads every trait in [`TRAITS`] from the parsed kernel sources.
    pub fn from_sources(files: &[(Source, syn::File)]) -> Result<Api, Error> {
        let mut api = Api::default();
        for (_, file) in files {
            for item in &file.items {
                let syn::Item::Trait(t) = item else { continue };
                let Some(spec) = TRAITS.iter().find(|s| t.ident == s.name) else {
                    continue;
                };
                api.traits.insert(spec.name.to_string(), read_trait(*spec, t));
            }
        }
        match TRAITS.iter().find(|s| !api.traits.contains_key(s.name)) {
            None => Ok(api),
            Some(missing) => Err(Error::Api(format!(
                "the vector trait `{}` is not defined in kernels/src (the generator reads the vector API from its `pub trait` items)",
                missing.name
            ))),
        }
    }
}

fn read_trait(spec: TraitSpec, t: &syn::ItemTrait) -> TraitApi {
    let mut api = TraitApi {
        spec,
        usize_consts: vec![],
        elem_consts: vec![],
        types: vec![],
        ops: BTreeMap::new(),
    };
    for item in &t.items {
        match item {
            syn::TraitItem::Const(c) => {
                let is_usize = matches!(&c.ty, syn::Type::Path(p) if p.path.is_ident("usize"));
                let list = if is_usize {
                    &mut api.usize_consts
                } else {
                    &mut api.elem_consts
                };
                list.push(c.ident.to_string());
            }
            syn::TraitItem::Type(ty) => {
                let name = ty.ident.to_string();
                if Some(name.as_str()) != spec.elem_type && name != TILE_TYPE {
                    api.types.push(name);
                }
            }
            syn::TraitItem::Fn(f) => {
                let returns_vector = match &f.sig.output {
                    syn::ReturnType::Type(_, ty) => match &**ty {
                        syn::Type::Path(p) => {
                            let first = p.path.segments.first().map(|s| s.ident.to_string());
                            first.as_deref() == Some("Self") && !is_elem_path(&p.path, spec)
                        }
                        _ => false,
                    },
                    syn::ReturnType::Default => false,
                };
                api.ops.insert(
                    f.sig.ident.to_string(),
                    Op {
                        arity: f.sig.inputs.len(),
                        returns_vector,
                    },
                );
            }
            _ => {}
        }
    }
    api
}

fn is_elem_path(path: &syn::Path, spec: TraitSpec) -> bool {
    path.segments.len() == 2 && Some(path.segments[1].ident.to_string().as_str()) == spec.elem_type
}
