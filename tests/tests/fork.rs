//! A forked child computes threaded GEMMs: rayon's threads are not copied into
//! it, and a call that waited on them would never return. Python's
//! `multiprocessing` forks this way after numpy has used our threads.
//!
//! One test per binary: the fork happens with no other test running. Not run
//! under qemu-user, which aborts when a forked child of a threaded guest starts
//! threads (see .ci/run).
#![cfg(unix)]

use gemmkit::{MatMut, MatRef, Parallelism, gemm_batch, gemm_with};
use std::time::{Duration, Instant};
use workspace_tests::Rng;

/// Blocked (every dimension over the small path's limit, checked below) and
/// big enough to share.
const N: usize = 301;

struct Inputs {
    a: Vec<f32>,
    b: Vec<f32>,
}

fn inputs() -> Inputs {
    let mut rng = Rng::new(17);
    let mut v = |len| (0..len).map(|_| rng.unit() as f32).collect::<Vec<_>>();
    Inputs {
        a: v(N * N),
        b: v(N * N),
    }
}

fn product(x: &Inputs, par: &Parallelism) -> Vec<f32> {
    let mut c = vec![f32::NAN; N * N];
    let (a, b) = (MatRef::row_major(&x.a, N, N), MatRef::row_major(&x.b, N, N));
    gemm_with(gemmkit::best(), par, 1.0, a, b, 0.0, MatMut::row_major(&mut c, N, N)).expect("gemm");
    c
}

/// What a child checks: a threaded product and a threaded batch, each equal to
/// the sequential product (results are bit-identical for any thread count).
fn child_ok(x: &Inputs, expected: &[f32]) -> bool {
    if product(x, &Parallelism::Rayon) != expected {
        return false;
    }
    let (a, b) = (MatRef::row_major(&x.a, N, N), MatRef::row_major(&x.b, N, N));
    let mut cs = vec![vec![0.0f32; N * N]; 4];
    let mut views: Vec<MatMut<'_, f32>> = cs.iter_mut().map(|c| MatMut::row_major(c, N, N)).collect();
    if gemm_batch(&Parallelism::Rayon, 1.0, &[a; 4], &[b; 4], 0.0, &mut views).is_err() {
        return false;
    }
    cs.iter().all(|c| c == expected)
}

/// Forks; the child runs `body` and exits with 0 if it returns true. Waits at
/// most `limit` for it: `Err` says why it failed.
fn in_child(limit: Duration, body: impl FnOnce() -> bool) -> Result<(), String> {
    // SAFETY: the child only computes with this library and exits with `_exit`
    // (no unwinding, no atexit handlers of the parent's).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(false);
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: `pid` is our child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                Ok(())
            } else {
                Err(format!("child failed (wait status {status:#x})"))
            };
        }
        if start.elapsed() > limit {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            unsafe { libc::waitpid(pid, &mut status, 0) };
            return Err(format!("child hung: no result after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn forked_children_compute_threaded_gemms() {
    // Three threads, whatever the machine, so the calls below do spawn helpers.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(3).build_global();
    assert!(gemmkit::num_threads() >= 2, "the global pool must be threaded");
    assert!(
        N > gemmkit::tuning(gemmkit::best()).small,
        "N must take the blocked path"
    );
    let x = inputs();
    let expected = product(&x, &Parallelism::Sequential);
    // The parent's helpers run (and so exist) before the fork.
    assert!(product(&x, &Parallelism::Rayon) == expected);
    // qemu-user runs the child about 50x slower than a core: a generous limit,
    // still far below "forever".
    let limit = Duration::from_secs(120);
    in_child(limit, || {
        // The child threads too, and a grandchild (forked from a child that has
        // built its own pool) must manage as well.
        child_ok(&x, &expected) && in_child(limit, || child_ok(&x, &expected)).is_ok()
    })
    .expect("forked child");
    // And the parent's pool still works.
    assert!(product(&x, &Parallelism::Rayon) == expected);
}
