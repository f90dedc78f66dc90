//! Target selection: best-first choice, lookup by name, forcing, and `HWY_TARGET`.

use gemmkit::{ALL_TARGETS, TargetError};

#[test]
fn fallback_is_compiled_last_and_always_available() {
    let last = gemmkit::compiled().last().expect("at least one target");
    assert_eq!(last.name, "fallback");
    assert!(last.is_supported());
    assert!(gemmkit::available().any(|t| t.name == "fallback"));
}

#[test]
fn best_is_the_first_available_target() {
    let first = gemmkit::available().next().expect("fallback at least");
    assert_eq!(gemmkit::best().name, first.name);
    // Compiled order is best first: everything before `best` is unsupported here.
    for t in gemmkit::compiled().iter().take_while(|t| t.name != first.name) {
        assert!(
            !t.is_supported(),
            "{} is supported but ranked above {}",
            t.name,
            first.name
        );
    }
}

#[test]
fn every_available_target_can_be_looked_up() {
    for t in gemmkit::available() {
        assert_eq!(gemmkit::target(t.name).map(|x| x.name), Ok(t.name));
    }
}

#[test]
fn unknown_name_is_an_error_listing_the_valid_names() {
    let err = gemmkit::target("avx9000").unwrap_err();
    let TargetError::Unknown { ref valid, .. } = err else {
        panic!("{err:?}")
    };
    let names: Vec<&str> = gemmkit::compiled().iter().map(|t| t.name).collect();
    assert_eq!(valid, &names);
    let msg = err.to_string();
    assert!(msg.contains("unknown target `avx9000`"), "{msg}");
    for n in names {
        assert!(msg.contains(n), "message does not list {n}: {msg}");
    }
}

#[test]
fn a_target_of_another_architecture_is_not_compiled() {
    let compiled: Vec<&str> = gemmkit::compiled().iter().map(|t| t.name).collect();
    let (name, arch) = ALL_TARGETS
        .iter()
        .find(|(n, _)| !compiled.contains(n))
        .expect("some target is foreign");
    let err = gemmkit::target(name).unwrap_err();
    assert!(matches!(err, TargetError::NotCompiled { .. }), "{err:?}");
    assert!(err.to_string().contains(arch), "{err}");
}

#[test]
fn an_unsupported_target_is_an_error_listing_what_is_available() {
    let Some(t) = gemmkit::compiled().iter().find(|t| !t.is_supported()) else {
        return; // this CPU runs every compiled target
    };
    let err = gemmkit::target(t.name).unwrap_err();
    let TargetError::Unsupported { ref available, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(available, &gemmkit::available().map(|t| t.name).collect::<Vec<_>>());
    assert!(err.to_string().contains("needs CPU features"), "{err}");
}

#[test]
fn set_active_forces_a_target_and_rejects_bad_names() {
    let before = gemmkit::active().expect("no HWY_TARGET in the test environment");
    assert!(gemmkit::set_active("no-such-target").is_err());
    assert_eq!(
        gemmkit::active().map(|t| t.name),
        Ok(before.name),
        "a failed set_active changed the target"
    );
    assert_eq!(gemmkit::set_active("fallback").map(|t| t.name), Ok("fallback"));
    assert_eq!(gemmkit::active().map(|t| t.name), Ok("fallback"));
    gemmkit::set_active(before.name).expect("restore");
}

/// Runs in a child process with `HWY_TARGET` set (see `hwy_target_env_var`).
#[test]
#[ignore = "run by hwy_target_env_var in a child process"]
fn hwy_target_child() {
    let expect = std::env::var("EXPECT_ACTIVE").expect("set by the parent");
    match gemmkit::active() {
        Ok(t) => assert_eq!(t.name, expect),
        Err(e) => assert_eq!("error", expect, "{e}"),
    }
}

/// `HWY_TARGET` is read once per process, so each case is a fresh process: this
/// test binary again, running only `hwy_target_child`. Needs to spawn a native
/// process, so not under qemu-user or wasmtime.
#[test]
#[cfg(target_arch = "x86_64")]
fn hwy_target_env_var() {
    let exe = std::env::current_exe().expect("test binary path");
    let best = gemmkit::best().name;
    for (value, expect) in [
        ("fallback", "fallback"),
        ("", best),
        (best, best),
        ("bogus", "error"),
        ("neon", "error"),
    ] {
        let out = std::process::Command::new(&exe)
            .args(["--exact", "hwy_target_child", "--ignored", "--nocapture"])
            .env("HWY_TARGET", value)
            .env("EXPECT_ACTIVE", expect)
            .output()
            .expect("spawn child");
        assert!(
            out.status.success(),
            "HWY_TARGET={value:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// The safe API runs a caller-chosen target only where this CPU supports it:
/// any compiled target can be passed, and one this CPU lacks is a typed error,
/// never an illegal instruction.
#[test]
fn the_safe_api_refuses_a_target_this_cpu_cannot_run() {
    assert!(gemmkit::compiled().len() < 63, "the support mask has 63 bits");
    let (a, b) = ([1.0f32, 2.0], [3.0f32, 4.0]);
    for t in gemmkit::compiled() {
        let mut c = [0.0f32; 4];
        let got = gemmkit::gemm_on(
            t,
            1.0,
            gemmkit::MatRef::col_major(&a, 2, 1),
            gemmkit::MatRef::row_major(&b, 1, 2),
            0.0,
            gemmkit::MatMut::row_major(&mut c, 2, 2),
        );
        if t.is_supported() {
            assert_eq!(got, Ok(()), "{}", t.name);
            assert_eq!(c, [3.0, 4.0, 6.0, 8.0], "{}", t.name);
        } else {
            assert!(
                matches!(got, Err(gemmkit::GemmError::Target(TargetError::Unsupported { .. }))),
                "{}: {got:?}",
                t.name
            );
            assert_eq!(c, [0.0; 4], "{}: C written", t.name);
        }
    }
}
