//! The dispatch tables hold a kernel instantiated for only some of its trait's
//! element types (`V: FloatVec<Elem = f32>`) as an `Option`: `Some` in those
//! element types' tables, `None` in the others.

use generator::Workspace;

const PROBE: &str = r#"
use crate::vec::FloatVec;
use kernel_macros::kernel;

/// Zeroes a vector.
#[kernel]
pub unsafe fn base_only_f32<V: FloatVec<Elem = f32>>(c: *mut V::Elem) {
    V::store(c, V::zero());
}

/// Zeroes a vector at `N`.
#[kernel(only_f32_set(N = 1), only_f32_set_two(N = 2))]
pub unsafe fn base_only_f32_set<V: FloatVec<Elem = f32>, const N: usize>(c: *mut V::Elem) {
    V::store(c.add(N), V::zero());
}
"#;

#[test]
fn a_kernel_for_some_element_types_is_an_option() {
    let generated = Workspace::load(root())
        .expect("kernel sources")
        // The vector API and the probe: the production kernels would only
        // make the run longer.
        .retain_sources(|p| p == "kernels/src/vec.rs")
        .with_source("kernels/src/only_f32.rs", PROBE)
        .generate()
        .expect("generates");
    let code: String = generated.files["generated/mod.rs"]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for want in [
        "pub type OnlyF32Fn<Elem> = unsafe fn(c: *mut Elem);",
        "pub only_f32: Option<OnlyF32Fn<Elem>>,",
        "pub only_f32_set: Option<OnlyF32Set<Elem>>,",
        "only_f32: Some(fallback::only_f32_f32),",
        "only_f32_set: Some(OnlyF32Set { only_f32_set: Instance { kernel: fallback::only_f32_set_f32, consts: OnlyF32SetConsts { n: 1 },",
    ] {
        assert!(code.contains(want), "no `{want}` in generated/mod.rs");
    }
    // Once per target, in the `f64` table.
    let targets = code.matches("Target { name:").count();
    assert!(targets > 1);
    assert_eq!(code.matches("only_f32: None,").count(), targets);
    assert_eq!(code.matches("only_f32_set: None,").count(), targets);
}

/// This checkout's workspace root.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
