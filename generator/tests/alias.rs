//! An instance whose code comes out the same as an earlier one's on a target is
//! emitted once: the later name is a re-export of the earlier function.

use generator::Workspace;

const PROBE: &str = r#"
use crate::vec::FloatVec;
use kernel_macros::kernel;

#[kernel(alias_probe(N = 1), alias_probe_same(N = 2 - 1), alias_probe_other(N = 2))]
pub unsafe fn base_alias_probe<V: FloatVec, const N: usize>(c: *mut V::Elem) {
    V::store(c.add(N), V::zero());
}
"#;

#[test]
fn an_instance_with_the_same_code_is_a_re_export() {
    let generated = Workspace::load(root())
        .expect("kernel sources")
        // The vector API and the probe: the production kernels would only
        // make the run longer.
        .retain_sources(|p| p == "kernels/src/vec.rs")
        .with_source("kernels/src/alias_probe.rs", PROBE)
        .generate()
        .expect("generates");
    let code = &generated.files["generated/fallback/kernels.gen.rs"];
    for elem in ["f32", "f64"] {
        let alias = format!("pub use self::alias_probe_{elem} as alias_probe_same_{elem};");
        assert!(code.contains(&alias), "no `{alias}` in the fallback file");
        for f in ["alias_probe", "alias_probe_other"] {
            let def = format!("pub unsafe fn {f}_{elem}(");
            assert_eq!(code.matches(&def).count(), 1, "`{def}` not defined once");
        }
        let same = format!("pub unsafe fn alias_probe_same_{elem}(");
        assert!(!code.contains(&same), "`{same}` is defined again");
    }
}

/// This checkout's workspace root.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
