//! Bad kernels get compiler-quality errors (`path:line:col`, the line, a caret,
//! what is allowed instead), snapshotted; and no input makes the generator panic.
#![cfg(not(target_family = "wasm"))]

use generator::{Error, Source, Workspace};
use std::path::Path;

/// Every fixture's name and bytes (one is not UTF-8 on purpose).
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = workspace_tests::workspace_root().join("tests/fixtures/bad");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            let name = p.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_string();
            (name, std::fs::read(&p).expect("read fixture"))
        })
        .collect();
    out.sort();
    out
}

/// The file that defines the vector API.
const API_SOURCE: &str = "kernels/src/vec.rs";

/// Fixtures whose mistake involves a production kernel (a name it takes, a
/// kernel it calls).
const NEEDS_KERNELS: &[&str] = &["instance_name_taken", "kernel_calls_kernel"];

/// The generator's error for the real kernels plus one bad file, read as
/// `Workspace::load` reads a kernel source.
fn error_for(name: &str, bytes: &[u8]) -> String {
    let text = match Source::from_bytes(format!("tests/fixtures/bad/{name}.rs"), bytes.to_vec()) {
        Ok(src) => src.text,
        Err(d) => return Error::Kernels(vec![d]).to_string(),
    };
    let ws = Workspace::load(workspace_tests::workspace_root()).expect("kernel sources");
    // The vector API and the bad file alone, unless the mistake is about the
    // production kernels: generating those for every fixture took most of
    // this test's time.
    let ws = if NEEDS_KERNELS.contains(&name) {
        ws
    } else {
        ws.retain_sources(|p| p == API_SOURCE)
    };
    let ws = ws.with_source(format!("tests/fixtures/bad/{name}.rs"), text);
    match ws.generate() {
        Ok(_) => panic!("{name}: the generator accepted a bad kernel"),
        Err(e @ Error::Kernels(_)) => e.to_string(),
        Err(e) => panic!("{name}: expected a kernel diagnostic, got: {e}"),
    }
}

#[test]
fn bad_kernels_get_located_diagnostics() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 10, "fixtures missing");
    for (name, text) in fixtures {
        let msg = error_for(&name, &text);
        let location = format!("--> tests/fixtures/bad/{name}.rs:");
        assert!(msg.contains(&location), "{name}: no file:line:col in\n{msg}");
        assert!(
            msg.contains("help:") || name == "syntax_error",
            "{name}: no help in\n{msg}"
        );
        insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("diagnostic__{name}"), msg);
        });
    }
}

/// Every prefix of every kernel file (cut at many points, so most are broken
/// Rust) and every fixture: the generator returns, it never panics.
#[test]
fn generator_never_panics_on_truncated_or_bad_input() {
    let root = workspace_tests::workspace_root();
    let mut inputs: Vec<(String, String)> = fixtures()
        .into_iter()
        .map(|(name, bytes)| (name, String::from_utf8_lossy(&bytes).into_owned()))
        .collect();
    for entry in std::fs::read_dir(root.join("kernels/src")).expect("kernels/src") {
        let p = entry.expect("entry").path();
        let text = std::fs::read_to_string(&p).expect("read");
        let name = Path::new(&p)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("x")
            .to_string();
        let cuts: Vec<usize> = (1..40)
            .map(|i| i * text.len() / 40)
            .filter(|&c| text.is_char_boundary(c))
            .collect();
        for c in cuts {
            inputs.push((format!("{name}@{c}"), text[..c].to_string()));
            // Also drop one line: unbalanced blocks, missing lets, dangling names.
            let line_start = text[..c].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[c..].find('\n').map_or(text.len(), |i| c + i);
            inputs.push((
                format!("{name}-line@{c}"),
                format!("{}{}", &text[..line_start], &text[line_end..]),
            ));
        }
    }
    // With the vector API only: the production kernels are generated and
    // checked by the freshness test; here each input is what varies. The
    // inputs are independent: shared out between the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let panicked: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (root, inputs, next) = (&root, &inputs, &next);
                scope.spawn(move || {
                    let mut panicked = vec![];
                    // One input at a time, as each worker is free: a few take
                    // most of the time (whole kernels with one line dropped).
                    while let Some((name, text)) = inputs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                        let ws = Workspace::load(root)
                            .expect("sources")
                            .retain_sources(|p| p == API_SOURCE)
                            .with_source("kernels/src/fuzzed.rs", text.clone());
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            let _ = ws.render_filtered(None, Some("avx512"));
                        }));
                        if result.is_err() {
                            panicked.push(name.clone());
                        }
                    }
                    panicked
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a worker")).collect()
    });
    assert!(panicked.is_empty(), "the generator panicked on {panicked:?}");
}
