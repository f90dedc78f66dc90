//! `generated/` must be exactly what the generator produces from `kernels/src`
//! (the same check as `cargo run -p generator -- --check`), so drift cannot land.
#![cfg(not(target_family = "wasm"))]

use generator::{Generated, Stale, Workspace};
use std::sync::OnceLock;

fn workspace() -> Workspace {
    Workspace::load(workspace_tests::workspace_root()).expect("kernel sources")
}

/// One generation, shared by the tests (a run is most of their time).
fn generated() -> &'static Generated {
    static ONCE: OnceLock<Generated> = OnceLock::new();
    ONCE.get_or_init(|| {
        workspace()
            .generate()
            .unwrap_or_else(|e| panic!("generator failed:\n{e}"))
    })
}

#[test]
fn generated_code_is_fresh() {
    let stale = workspace().stale(generated()).expect("read generated/");
    if !stale.is_empty() {
        let mut msg = String::from("generated/ is stale; run `cargo run -p generator` and commit:\n");
        for s in &stale {
            msg.push_str(&format!("  {}\n", s.path()));
            if let Stale::Changed { diff, .. } = s {
                msg.push_str(diff);
            }
        }
        panic!("{msg}");
    }
}

#[test]
fn every_generated_file_is_marked_and_deterministic() {
    let once = generated();
    assert_eq!(once, &workspace().generate().expect("generates"), "two runs differ");
    for (path, text) in &once.files {
        let header = generator::emit::header_for(path)
            .unwrap_or_else(|| panic!("{path}: not a kind of file the generator writes"));
        assert!(text.starts_with(&header), "{path} lacks the @generated header");
        assert!(
            !text.contains("/work/") && !text.contains("/home/"),
            "{path} contains an absolute path"
        );
    }
}
