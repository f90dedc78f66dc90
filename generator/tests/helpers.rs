//! `#[kernel]` helpers: inlined where they are called, and an error in a
//! helper's code is reported in the helper's file, not the caller's.

use generator::{Error, Workspace};

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const CALLER: &str = "\
use crate::vec::FloatVec;

/// Stores zero.
#[kernel]
pub unsafe fn base_zero_it<V: FloatVec>(x: *mut V::Elem) {
    put::<V>(x, 1);
}
";

#[test]
fn an_error_in_a_helper_is_located_in_its_own_file() {
    let helper = "\
use crate::vec::FloatVec;

#[kernel]
unsafe fn put<V: FloatVec>(x: *mut V::Elem, lanes: usize) {
    V::stor(x, V::zero());
}
";
    let ws = Workspace::load(root())
        .expect("kernels")
        // The vector API and the probe: the production kernels would only
        // make the run longer.
        .retain_sources(|p| p == "kernels/src/vec.rs")
        .with_source("kernels/src/zz_caller.rs", CALLER)
        .with_source("kernels/src/zz_helper.rs", helper);
    let msg = match ws.generate() {
        Err(e @ Error::Kernels(_)) => e.to_string(),
        Err(e) => panic!("expected a kernel diagnostic, got {e}"),
        Ok(_) => panic!("a misspelled op in a helper was accepted"),
    };
    assert!(msg.contains("--> kernels/src/zz_helper.rs:5:5"), "{msg}");
    assert!(msg.contains("V::stor(x, V::zero());"), "{msg}");
    assert!(!msg.contains("zz_caller.rs"), "{msg}");
}

#[test]
fn a_helper_is_inlined_with_its_arguments() {
    let helper = "\
use crate::vec::FloatVec;

#[kernel]
unsafe fn put<W: FloatVec>(x: *mut W::Elem, lanes: usize) {
    #[unroll]
    for i in 0..lanes {
        W::store(x.add(i * W::LANES), W::zero());
    }
}
";
    let ws = Workspace::load(root())
        .expect("kernels")
        // The vector API and the probe: the production kernels would only
        // make the run longer.
        .retain_sources(|p| p == "kernels/src/vec.rs")
        .with_source("kernels/src/zz_caller.rs", CALLER)
        .with_source("kernels/src/zz_helper.rs", helper);
    let out = ws
        .render_filtered(Some("zero_it_f32"), Some("avx2"))
        .expect("generates");
    // `lanes` = 1 unrolls to one store; the helper's `W` is the caller's `V`.
    assert!(out.contains("_mm256_storeu_ps(x, _mm256_setzero_ps());"), "{out}");
    assert!(!out.contains("put"), "{out}");
}
