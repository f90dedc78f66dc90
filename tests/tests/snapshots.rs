//! insta snapshots of the emitted code of every kernel instance on every target,
//! so a change to a kernel, a template or the lowering shows up as a reviewable
//! diff. Update with `INSTA_UPDATE=always cargo test -p workspace-tests --test snapshots`
//! (or `cargo insta review`).
#![cfg(not(target_family = "wasm"))]

use generator::Workspace;
use generator::targets::TARGETS;

#[test]
fn emitted_code_per_kernel_and_target() {
    let ws = Workspace::load(workspace_tests::workspace_root()).expect("kernel sources");
    let parsed = ws.parse().expect("kernels parse");
    let mut count = 0;
    for t in TARGETS {
        for k in &parsed.kernels {
            for inst in k.instances() {
                let code = ws.render_filtered(Some(&inst.fn_name), Some(t.name)).expect("lowers");
                insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
                    insta::assert_snapshot!(format!("{}__{}", t.name, inst.fn_name), code);
                });
                count += 1;
            }
        }
    }
    assert!(count >= TARGETS.len() * 7, "only {count} kernel instances");
}
