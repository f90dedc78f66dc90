//! The target descriptions are complete and well-formed: every op, type and
//! constant of the vector API has an entry on every target, every template parses,
//! uses each argument exactly once, and names only helpers the target defines.

use generator::Workspace;
use generator::lower::{helper_names, instantiate};
use generator::targets::TARGETS;
use std::collections::BTreeSet;

#[test]
fn every_target_lowers_every_op_type_and_constant() {
    let api = Workspace::load(root()).expect("sources").parse().expect("parse").api;
    for t in TARGETS {
        for tapi in api.traits.values() {
            for elem in tapi.spec.elems {
                let mut keys = vec![format!("{elem}.vec")];
                keys.extend(
                    tapi.usize_consts
                        .iter()
                        .chain(&tapi.elem_consts)
                        .chain(&tapi.types)
                        .map(|n| format!("{elem}.{n}")),
                );
                keys.extend(
                    tapi.ops
                        .keys()
                        .filter(|o| *o != generator::api::TILE_INIT)
                        .map(|o| format!("{elem}.{o}")),
                );
                for key in keys {
                    assert!(t.entry(&key).is_some(), "target `{}` has no entry for `{key}`", t.name);
                }
                for (op, sig) in &tapi.ops {
                    let Some(template) = t.entry(&format!("{elem}.{op}")) else {
                        continue;
                    };
                    let args: Vec<syn::Expr> = (0..sig.arity)
                        .map(|i| syn::parse_str(&format!("arg{i}")).unwrap())
                        .collect();
                    let refs: Vec<&syn::Expr> = args.iter().collect();
                    let e = instantiate(template, &refs).unwrap_or_else(|e| panic!("{}: {elem}.{op}: {e}", t.name));
                    let text = quote::quote!(#e).to_string();
                    for i in 0..sig.arity {
                        let uses = text
                            .split(|c: char| !c.is_alphanumeric() && c != '_')
                            .filter(|w| *w == format!("arg{i}"))
                            .count();
                        assert_eq!(
                            uses, 1,
                            "{}: `{elem}.{op}` = `{template}` uses ${i} {uses} times",
                            t.name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn helpers_parse_and_every_named_helper_exists() {
    for t in TARGETS {
        let mut names = BTreeSet::new();
        let mut target = Some(*t);
        while let Some(cur) = target {
            for (key, template) in cur.entries {
                for name in helper_names(template) {
                    assert!(
                        t.helper(&name).is_some(),
                        "{}: `{key}` calls ops::{name}, which is not defined",
                        t.name
                    );
                    names.insert(name);
                }
            }
            target = cur.parent;
        }
        for name in names {
            let src = t.helper(&name).expect("checked above");
            let f: syn::ItemFn = syn::parse_str(src).unwrap_or_else(|e| panic!("{}: helper {name}: {e}", t.name));
            assert_eq!(
                f.sig.ident, name,
                "{}: helper registered as {name} defines {}",
                t.name, f.sig.ident
            );
        }
    }
}

#[test]
fn names_are_unique_and_fallback_is_last() {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "duplicate target names: {names:?}");
    assert_eq!(names.last(), Some(&"fallback"));
    for t in TARGETS {
        assert!(
            t.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{} is not a module name",
            t.name
        );
    }
}

#[test]
fn scalar_types_are_the_same_on_every_target() {
    let api = Workspace::load(root()).expect("sources").parse().expect("parse").api;
    let fallback = TARGETS.last().expect("targets");
    for tapi in api.traits.values() {
        for elem in tapi.spec.elems {
            for ty in tapi
                .spec
                .scalar_types
                .iter()
                .filter(|t| Some(**t) != tapi.spec.elem_type)
            {
                let key = format!("{elem}.{ty}");
                for t in TARGETS {
                    assert_eq!(
                        t.entry(&key),
                        fallback.entry(&key),
                        "`{key}` differs on `{}`: signatures must not",
                        t.name
                    );
                }
            }
        }
    }
}

/// This checkout's workspace root.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
