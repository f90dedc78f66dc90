//! The `generator` binary: exit codes and output of `--check`, the filters, and
//! diagnostics, run on temporary copies of the workspace.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// This checkout's workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the generator from the workspace root.
fn run(args: &[&str]) -> Output {
    run_in(&root(), args)
}

fn run_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_generator"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run generator")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A scratch directory, empty.
fn empty_scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("generator-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The kernel sources a scratch workspace holds: the vector API and one small
/// kernel (whose AVX2 code has `_mm256_fmadd_ps`), so that each run on it is
/// quick. What the generator makes of the production kernels is checked on
/// the workspace itself (`check_passes_on_the_workspace`, the freshness test).
const SCRATCH_KERNELS: &[&str] = &["vec.rs", "apply.rs"];

/// A scratch workspace: a workspace manifest, `kernels/src` with
/// [`SCRATCH_KERNELS`] and its `generated/`, written by the generator.
fn scratch(name: &str) -> PathBuf {
    let dir = empty_scratch(name);
    fs::write(dir.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    fs::create_dir_all(dir.join("kernels/src")).unwrap();
    for f in SCRATCH_KERNELS {
        fs::copy(root().join("kernels/src").join(f), dir.join("kernels/src").join(f)).unwrap();
    }
    let out = run(&["--root", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    dir
}

#[test]
fn check_passes_on_the_workspace() {
    let out = run(&["--check"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("up to date"));
}

#[test]
fn check_lists_stale_files_with_a_diff_and_writing_fixes_them() {
    let dir = scratch("stale");
    let victim = dir.join("generated/avx2/kernels.gen.rs");
    let original = fs::read_to_string(&victim).unwrap();
    fs::write(&victim, original.replace("_mm256_fmadd_ps", "_mm256_fmsub_ps")).unwrap();
    fs::remove_file(dir.join("generated/neon/kernels.gen.rs")).unwrap();
    fs::write(
        dir.join("generated/old.gen.rs"),
        format!("{}\n", generator::emit::HEADER),
    )
    .unwrap();
    let d = dir.to_str().unwrap();

    let out = run(&["--check", "--root", d]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("changed: generated/avx2/kernels.gen.rs"), "{msg}");
    assert!(msg.contains("missing: generated/neon/kernels.gen.rs"), "{msg}");
    assert!(msg.contains("no longer generated: generated/old.gen.rs"), "{msg}");
    assert!(
        msg.contains("-") && msg.contains("+") && msg.contains("_mm256_fmsub_ps"),
        "no diff in\n{msg}"
    );

    let out = run(&["--root", d]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fs::read_to_string(&victim).unwrap(), original);
    assert!(!dir.join("generated/old.gen.rs").exists());
    let out = run(&["--check", "--root", d]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["--root", d]);
    assert!(
        text(&out).contains("0 of"),
        "regenerating twice changed files: {}",
        text(&out)
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn filters_print_one_kernel_on_one_target() {
    let out = run(&["--kernel", "microkernel_f32", "--target", "avx512"]);
    let msg = text(&out);
    assert!(out.status.success(), "{msg}");
    assert!(
        msg.contains("pub unsafe fn microkernel_f32(") && msg.contains("_mm512_fmadd_ps"),
        "{msg}"
    );
    assert!(!msg.contains("fn pack_rhs") && !msg.contains("target `avx2`"), "{msg}");

    let out = run(&["--kernel", "base_pack_rhs"]);
    assert!(out.status.success());
    assert!(text(&out).contains("target `neon`") && text(&out).contains("fn pack_rhs_f64("));
}

#[test]
fn unknown_filters_are_errors_that_list_the_names() {
    let out = run(&["--kernel", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no kernel named `nope`; kernels: "),
        "{}",
        text(&out)
    );
    let out = run(&["--target", "sse9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no target named `sse9`; targets: "),
        "{}",
        text(&out)
    );
}

#[test]
fn a_bad_kernel_fails_with_its_location_and_writes_nothing() {
    let dir = scratch("bad");
    let before = fs::read_to_string(dir.join("generated/mod.rs")).unwrap();
    fs::write(
        dir.join("kernels/src/bad.rs"),
        "pub unsafe fn base_bad<V: FloatVec>(x: *mut V::Elem) {\n    V::store(x, V::shuffle(V::load(x)));\n}\n",
    )
    .unwrap();
    let out = run(&["--root", dir.to_str().unwrap()]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("error: unknown vector op `V::shuffle`"), "{msg}");
    assert!(msg.contains("--> kernels/src/bad.rs:2:17"), "{msg}");
    assert!(!msg.contains("panicked"), "{msg}");
    assert_eq!(fs::read_to_string(dir.join("generated/mod.rs")).unwrap(), before);
    let _ = fs::remove_dir_all(&dir);
}

/// Without `--root` the generator works on the workspace that holds the current
/// directory, found at run time, not on the one it was built in.
#[test]
fn the_default_root_is_the_workspace_around_the_working_directory() {
    let dir = scratch("cwd");
    let inside = dir.join("kernels/src");
    let out = run_in(&inside, &["--check"]);
    assert!(out.status.success(), "{}", text(&out));

    // Stale in the copy only: a check from inside it must see that.
    let victim = dir.join("generated/avx2/kernels.gen.rs");
    let original = fs::read_to_string(&victim).unwrap();
    fs::write(&victim, original.replace("_mm256_fmadd_ps", "_mm256_fmsub_ps")).unwrap();
    let out = run_in(&inside, &["--check"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("changed: generated/avx2/kernels.gen.rs"), "{msg}");

    // Regenerating from inside the copy repairs the copy.
    let out = run_in(&dir.join("generated"), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fs::read_to_string(&victim).unwrap(), original);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn outside_a_workspace_the_generator_asks_for_a_root() {
    let dir = empty_scratch("nowhere");
    // A workspace manifest without kernels is not a generator workspace.
    fs::write(dir.join("Cargo.toml"), "[workspace]\n").unwrap();
    fs::create_dir_all(dir.join("sub")).unwrap();
    let out = run_in(&dir.join("sub"), &["--check"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("error: no workspace found in"), "{msg}");
    assert!(msg.contains("--root"), "{msg}");
    assert!(!msg.contains("panicked"), "{msg}");

    // `--root` still works from anywhere.
    let ws = scratch("elsewhere");
    let out = run_in(&dir, &["--check", "--root", ws.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&ws);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let dir = scratch("deep");
    let n = 1300;
    fs::write(
        dir.join("kernels/src/deep.rs"),
        format!(
            "pub unsafe fn base_deep<V: FloatVec>(x: *mut V::Elem, n: usize) {{\n{}V::store(x, V::zero());\n{}}}\n",
            "if n > 0 {\n".repeat(n),
            "}\n".repeat(n)
        ),
    )
    .unwrap();
    let out = run(&["--check", "--root", dir.to_str().unwrap()]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("error: nested too deeply"), "{msg}");
    assert!(msg.contains("--> kernels/src/deep.rs:"), "{msg}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_source_that_is_not_utf8_is_an_error_at_its_first_bad_byte() {
    let dir = scratch("latin1");
    fs::write(dir.join("kernels/src/latin1.rs"), b"// ok\n// caf\xe9 au lait\n").unwrap();
    let out = run(&["--check", "--root", dir.to_str().unwrap()]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("error: kernel source is not valid UTF-8"), "{msg}");
    assert!(msg.contains("--> kernels/src/latin1.rs:2:7"), "{msg}");
    let _ = fs::remove_dir_all(&dir);
}
