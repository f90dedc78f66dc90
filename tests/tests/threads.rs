#![cfg(not(target_family = "wasm"))] // no threads on wasm32-wasip1
//! Multi-threaded GEMM: bit-identical results for any thread count, safe inside
//! rayon tasks and from many threads at once, and batched GEMM.

use gemmkit::{MatMut, MatRef, Parallelism, gemm_with};
use std::sync::Arc;
use workspace_tests::Rng;

fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.unit() as f32).collect()
}

fn pool(threads: usize) -> Parallelism {
    Parallelism::Pool(Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool"),
    ))
}

/// C for `(m, n, k)` with the given parallelism, from fixed inputs.
fn product(par: &Parallelism, shape: (usize, usize, usize), beta: f32) -> Vec<f32> {
    product_t(par, shape, beta, false)
}

/// As [`product`], with A stored transposed when `ta` (so it is packed rather
/// than read in place).
fn product_t(par: &Parallelism, (m, n, k): (usize, usize, usize), beta: f32, ta: bool) -> Vec<f32> {
    let mut rng = Rng::new((m * 31 + n * 7 + k) as u64);
    let a = random(&mut rng, m * k);
    let b = random(&mut rng, k * n);
    let mut c = random(&mut rng, m * n);
    let t = gemmkit::best();
    gemm_with(
        t,
        par,
        0.7,
        if ta {
            MatRef::row_major(&a, k, m).t()
        } else {
            MatRef::row_major(&a, m, k)
        },
        MatRef::row_major(&b, k, n),
        beta,
        MatMut::row_major(&mut c, m, n),
    )
    .expect("gemm");
    c
}

/// Blocked shapes, and small ones (every dimension at most `Tuning::small`)
/// big enough to split their rows between threads.
const SHAPES: &[(usize, usize, usize)] = &[
    (300, 301, 302),
    (513, 257, 129),
    (200, 1100, 700),
    (1030, 60, 600),
    (128, 100, 90),
    (97, 128, 127),
    (256, 250, 255),
];

#[test]
fn results_are_bit_identical_for_any_thread_count() {
    for &shape in SHAPES {
        for ta in [false, true] {
            let one = product_t(&Parallelism::Sequential, shape, 0.5, ta);
            // 20 threads: more workers than lanes (MAX_LANES is 16).
            for par in [pool(1), pool(2), pool(3), pool(4), pool(20), Parallelism::Rayon] {
                let got = product_t(&par, shape, 0.5, ta);
                let same = one.iter().zip(&got).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(
                    same,
                    "{shape:?} (A transposed: {ta}) with {par:?}: results differ from one thread"
                );
            }
        }
    }
}

/// GEMV shapes (`m == 1`, and `n == 1` as its transpose) with W read in both
/// forms, long enough to share between threads, some (n at most 256, k long)
/// with k split into parts: bit-identical for any thread count.
#[test]
fn gemv_results_are_bit_identical_for_any_thread_count() {
    let gemv = |par: &Parallelism, (m, n, k): (usize, usize, usize), w_t: bool| {
        let mut rng = Rng::new((m * 31 + n * 7 + k) as u64);
        let a = random(&mut rng, m * k);
        let b = random(&mut rng, k * n);
        let mut c = random(&mut rng, m * n);
        // W stored the other way round: A column-major, or B column-major.
        let (av, bv) = match (w_t, m == 1) {
            (false, _) => (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n)),
            (true, true) => (MatRef::row_major(&a, m, k), MatRef::row_major(&b, n, k).t()),
            (true, false) => (MatRef::row_major(&a, k, m).t(), MatRef::row_major(&b, k, n)),
        };
        gemm_with(gemmkit::best(), par, 0.7, av, bv, 0.5, MatMut::row_major(&mut c, m, n)).expect("gemm");
        c
    };
    for shape in [
        (1, 4099, 700),
        (1, 200, 9001),
        (1, 5, 30000),
        (3001, 1, 1000),
        (250, 1, 12000),
    ] {
        for w_t in [false, true] {
            let one = gemv(&Parallelism::Sequential, shape, w_t);
            for par in [pool(2), pool(3), pool(4), pool(20), Parallelism::Rayon] {
                let got = gemv(&par, shape, w_t);
                let same = one.iter().zip(&got).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(
                    same,
                    "{shape:?} (W transposed: {w_t}) with {par:?}: results differ from one thread"
                );
            }
        }
    }
}

#[test]
fn safe_inside_rayon_tasks_without_deadlock() {
    // Every worker of a 2-thread pool runs a multi-threaded GEMM at once, so no
    // worker is free to help: the callers must do the work themselves.
    let shape = (257, 259, 261);
    let want = product(&Parallelism::Sequential, shape, 0.0);
    let outer = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
    let results: Vec<Vec<f32>> = outer.install(|| {
        use rayon::prelude::*;
        (0..8)
            .into_par_iter()
            .map(|_| product(&Parallelism::Rayon, shape, 0.0))
            .collect()
    });
    for r in results {
        assert!(r.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

#[test]
fn safe_from_many_threads_at_once() {
    let shape = (200, 190, 180);
    let want = product(&Parallelism::Sequential, shape, 1.0);
    let handles: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || product(&Parallelism::Rayon, shape, 1.0)))
        .collect();
    for h in handles {
        let got = h.join().expect("no panic");
        assert!(got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

#[test]
fn thread_cap_is_respected_and_results_do_not_change() {
    let shape = (300, 300, 300);
    let want = product(&Parallelism::Sequential, shape, 0.0);
    gemmkit::set_num_threads(1);
    assert_eq!(gemmkit::num_threads(), 1);
    let got = product(&Parallelism::Rayon, shape, 0.0);
    gemmkit::set_num_threads(0);
    assert!(gemmkit::num_threads() >= 1);
    assert!(got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()));
}

/// Shapes, then the A, B and C matrices of a batch.
type Batch = (Vec<(usize, usize, usize)>, Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<Vec<f32>>);

/// Inputs and outputs of a small batch with mixed shapes.
fn batch_data(count: usize) -> Batch {
    let mut rng = Rng::new(11);
    let shapes: Vec<_> = (0..count).map(|i| (150 + 13 * i, 170 - 7 * i, 190 + i)).collect();
    let a = shapes.iter().map(|&(m, _, k)| random(&mut rng, m * k)).collect();
    let b = shapes.iter().map(|&(_, n, k)| random(&mut rng, k * n)).collect();
    let c = shapes.iter().map(|&(m, n, _)| random(&mut rng, m * n)).collect();
    (shapes, a, b, c)
}

#[test]
fn batched_gemm_matches_one_call_per_problem_on_both_strategies() {
    for (count, par) in [
        (9, pool(2)),
        (3, pool(2)),
        (5, Parallelism::Sequential),
        (8, Parallelism::Rayon),
    ] {
        let (shapes, a, b, c0) = batch_data(count);
        let mut want = c0.clone();
        for (i, &(m, n, k)) in shapes.iter().enumerate() {
            let (av, bv) = (MatRef::row_major(&a[i], m, k), MatRef::row_major(&b[i], k, n));
            gemm_with(
                gemmkit::best(),
                &Parallelism::Sequential,
                0.5,
                av,
                bv,
                2.0,
                MatMut::row_major(&mut want[i], m, n),
            )
            .unwrap();
        }
        let mut got = c0.clone();
        let av: Vec<_> = shapes
            .iter()
            .zip(&a)
            .map(|(&(m, _, k), x)| MatRef::row_major(x, m, k))
            .collect();
        let bv: Vec<_> = shapes
            .iter()
            .zip(&b)
            .map(|(&(_, n, k), x)| MatRef::row_major(x, k, n))
            .collect();
        let mut cv: Vec<_> = shapes
            .iter()
            .zip(got.iter_mut())
            .map(|(&(m, n, _), x)| MatMut::row_major(x, m, n))
            .collect();
        gemmkit::gemm_batch(&par, 0.5, &av, &bv, 2.0, &mut cv).expect("batch");
        drop(cv);
        for i in 0..count {
            assert!(
                got[i].iter().zip(&want[i]).all(|(x, y)| x.to_bits() == y.to_bits()),
                "batch of {count}, problem {i}, {par:?}"
            );
        }
    }
}

#[test]
fn a_bad_problem_rejects_the_whole_batch_and_writes_nothing() {
    let (shapes, a, b, c0) = batch_data(4);
    let mut got = c0.clone();
    let av: Vec<_> = shapes
        .iter()
        .zip(&a)
        .map(|(&(m, _, k), x)| MatRef::row_major(x, m, k))
        .collect();
    let mut bv: Vec<_> = shapes
        .iter()
        .zip(&b)
        .map(|(&(_, n, k), x)| MatRef::row_major(x, k, n))
        .collect();
    let (_, n2, k2) = shapes[2];
    bv[2] = MatRef::row_major(&b[2], k2 - 1, n2);
    let mut cv: Vec<_> = shapes
        .iter()
        .zip(got.iter_mut())
        .map(|(&(m, n, _), x)| MatMut::row_major(x, m, n))
        .collect();
    let err = gemmkit::gemm_batch(&pool(2), 1.0, &av, &bv, 0.0, &mut cv)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("batch problem 2: b:"), "{err}");
    let err = gemmkit::gemm_batch(&pool(2), 1.0, &av[..3], &bv, 0.0, &mut cv)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("a:"), "{err}");
    drop(cv);
    assert_eq!(got, c0, "a rejected batch wrote C");
}

#[test]
fn strided_batch_matches_one_call_per_problem_and_checks_its_layout() {
    use gemmkit::BatchLayout;
    let (count, m, n, k) = (7, 130, 120, 110);
    let mut rng = Rng::new(21);
    let a = random(&mut rng, count * m * k);
    let b = random(&mut rng, k * n); // one B shared by every problem: batch stride 0
    let c0 = random(&mut rng, count * m * n + 5);
    let (la, lc) = (BatchLayout::row_major(count, m, k), BatchLayout::row_major(count, m, n));
    let lb = BatchLayout {
        batch_stride: 0,
        ..BatchLayout::row_major(count, k, n)
    };
    for par in [pool(2), Parallelism::Sequential] {
        let mut got = c0.clone();
        gemmkit::gemm_batch_strided(&par, 0.5, &a, la, &b, lb, -1.0, &mut got, lc).expect("strided batch");
        let mut want = c0.clone();
        for i in 0..count {
            let av = MatRef::row_major(&a[i * m * k..(i + 1) * m * k], m, k);
            let cv = MatMut::row_major(&mut want[i * m * n..(i + 1) * m * n], m, n);
            gemm_with(
                gemmkit::best(),
                &Parallelism::Sequential,
                0.5,
                av,
                MatRef::row_major(&b, k, n),
                -1.0,
                cv,
            )
            .unwrap();
        }
        assert!(
            got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{par:?}"
        );
    }
    // Outputs that overlap, and a C slice too short for the last problem.
    let mut got = c0.clone();
    let tight = BatchLayout {
        batch_stride: m * n - 1,
        ..lc
    };
    let err = gemmkit::gemm_batch_strided(&pool(2), 1.0, &a, la, &b, lb, 0.0, &mut got, tight)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("c:") && err.contains("share memory"), "{err}");
    let err = gemmkit::gemm_batch_strided(&pool(2), 1.0, &a, la, &b, lb, 0.0, &mut got[..count * m * n - 1], lc)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("batch problem {}: c:", count - 1)), "{err}");
    assert_eq!(got, c0, "a rejected batch wrote C");
}
