//! Pre-packed B ([`gemmkit::PackedB`]) on every target this machine runs:
//! against an f64 reference over shapes (several blocks of k included),
//! layouts of A, B and C, alpha/beta (a NaN C with beta 0); reused across
//! calls and row counts; never reading B again after packing; bit-identical
//! for any threads; and refused on another target or with mismatched shapes.
//! Packed into caller memory ([`PackedB::pack_into`]) and read back from its
//! bytes ([`gemmkit::PackedBRef`]): the same results as the owned packing,
//! from a copy at another address too, and every damaged buffer refused.

use gemmkit::{
    GemmError, MatMut, MatRef, PackedB, PackedBRef, Parallelism, Target, gemm_bf16_packed_with, gemm_packed_with,
};
use half::bf16;
use std::sync::Arc;
use workspace_tests::Rng;

/// Small integers, so that every product and most sums are exact and the
/// tolerance only has to cover the order of additions in long sums.
fn fill<T>(rng: &mut Rng, len: usize, of: impl Fn(f64) -> T) -> Vec<T> {
    (0..len).map(|_| of(rng.below(9) as f64 - 4.0)).collect()
}

/// Strides for a `rows x cols` view: 0 row-major, 1 column-major, 2 padded
/// with neither stride 1. Returns (row stride, column stride, length).
fn layout(rows: usize, cols: usize, kind: usize) -> (usize, usize, usize) {
    let (rs, cs) = match kind {
        0 => (cols, 1),
        1 => (1, rows),
        _ => (2 * cols + 1, 2),
    };
    let len = if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    };
    (rs, cs, len)
}

#[allow(clippy::too_many_arguments)]
fn reference(
    m: usize,
    n: usize,
    k: usize,
    alpha: f64,
    a: impl Fn(usize, usize) -> f64,
    b: impl Fn(usize, usize) -> f64,
    beta: f64,
    c: impl Fn(usize, usize) -> f64,
) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let s: f64 = (0..k).map(|p| a(i, p) * b(p, j)).sum();
            out[i * n + j] = alpha * s + if beta == 0.0 { 0.0 } else { beta * c(i, j) };
        }
    }
    out
}

fn targets() -> Vec<&'static Target> {
    gemmkit::available().collect()
}

macro_rules! float_case {
    ($name:ident, $t:ty, $tol:expr) => {
        #[test]
        fn $name() {
            let mut rng = Rng::new(17);
            let shapes = [
                (0, 5, 3),
                (3, 0, 4),
                (2, 3, 0),
                (1, 1, 1),
                (1, 37, 19),
                (7, 33, 300),
                (13, 100, 1100),
                (65, 65, 2500),
                (4, 129, 64),
                (3, 2100, 700),
            ];
            for target in targets() {
                for (case, &(m, n, k)) in shapes.iter().enumerate() {
                    let (b_kind, a_kind, c_kind) = (case % 3, (case / 3) % 3, case % 2);
                    let (rsb, csb, lb) = layout(k, n, b_kind);
                    let (rsa, csa, la) = layout(m, k, a_kind);
                    let (rsc, csc, lc) = layout(m, n, c_kind);
                    let b: Vec<$t> = fill(&mut rng, lb, |x| x as $t);
                    let a: Vec<$t> = fill(&mut rng, la, |x| x as $t);
                    let c0: Vec<$t> = fill(&mut rng, lc, |x| x as $t);
                    let mut bad_b = b.clone();
                    let packed = PackedB::new_on(target, MatRef::strided(&b, k, n, rsb, csb)).unwrap();
                    assert_eq!((packed.k(), packed.n(), packed.target()), (k, n, target.name));
                    // Packed once: B itself is not read again.
                    bad_b.iter_mut().for_each(|x| *x = <$t>::NAN);
                    drop(bad_b);
                    for (alpha, beta) in [(1.0, 0.0), (0.5, 2.0), (-1.0, 1.0), (0.0, 0.5)] {
                        let mut c = c0.clone();
                        if beta == 0.0 {
                            c.iter_mut().for_each(|x| *x = <$t>::NAN);
                        }
                        let cv = MatMut::strided(&mut c, m, n, rsc, csc);
                        let av = MatRef::strided(&a, m, k, rsa, csa);
                        gemm_packed_with(
                            target,
                            &Parallelism::Rayon,
                            alpha as $t,
                            av,
                            &packed,
                            beta as $t,
                            cv,
                        )
                        .unwrap();
                        let want = reference(
                            m,
                            n,
                            k,
                            alpha,
                            |i, p| a[i * rsa + p * csa] as f64,
                            |p, j| b[p * rsb + j * csb] as f64,
                            beta,
                            |i, j| c0[i * rsc + j * csc] as f64,
                        );
                        for i in 0..m {
                            for j in 0..n {
                                let (got, want) = (c[i * rsc + j * csc] as f64, want[i * n + j]);
                                assert!(
                                    (got - want).abs() <= $tol * (1.0 + want.abs()),
                                    "{} {m}x{n}x{k} alpha {alpha} beta {beta} ({i}, {j}): {got} vs {want}",
                                    target.name
                                );
                            }
                        }
                    }
                }
            }
        }
    };
}

float_case!(f32_packed_matches_the_reference, f32, 1e-5);
float_case!(f64_packed_matches_the_reference, f64, 1e-12);

#[test]
fn bf16_packed_matches_the_reference() {
    let mut rng = Rng::new(5);
    for target in targets() {
        for &(m, n, k) in &[(1, 1, 1), (5, 40, 7), (33, 70, 513), (2, 17, 3000), (3, 1200, 40)] {
            let (rsb, csb, lb) = layout(k, n, m % 3);
            let b: Vec<bf16> = fill(&mut rng, lb, bf16::from_f64);
            let a: Vec<bf16> = fill(&mut rng, m * k, bf16::from_f64);
            let packed = PackedB::new_on(target, MatRef::strided(&b, k, n, rsb, csb)).unwrap();
            let mut c = vec![f32::NAN; m * n];
            let av = MatRef::row_major(&a, m, k);
            gemm_bf16_packed_with(
                target,
                &Parallelism::Rayon,
                1.0,
                av,
                &packed,
                0.0,
                MatMut::row_major(&mut c, m, n),
            )
            .unwrap();
            let want = reference(
                m,
                n,
                k,
                1.0,
                |i, p| a[i * k + p].to_f64(),
                |p, j| b[p * rsb + j * csb].to_f64(),
                0.0,
                |_, _| 0.0,
            );
            // Small integers: every sum is exact in f32.
            let got: Vec<f64> = c.iter().map(|&x| x as f64).collect();
            assert_eq!(got, want, "{} {m}x{n}x{k}", target.name);
        }
    }
}

/// One packed B, many calls: row counts from 1 to past a block of rows, and
/// thread counts from one to a pool of three, all bit-identical to the
/// sequential call's rows.
#[test]
fn one_packing_serves_any_rows_and_threads() {
    let (k, n) = (1500, 300);
    let mut rng = Rng::new(3);
    let w: Vec<f32> = (0..k * n).map(|_| rng.unit() as f32 - 0.5).collect();
    let a: Vec<f32> = (0..200 * k).map(|_| rng.unit() as f32 - 0.5).collect();
    let target = gemmkit::active().unwrap();
    let packed = PackedB::new_on(target, MatRef::row_major(&w, k, n)).unwrap();
    let run = |m: usize, par: &Parallelism| {
        let mut c = vec![0.0f32; m * n];
        let av = MatRef::row_major(&a[..m * k], m, k);
        gemm_packed_with(target, par, 1.0, av, &packed, 0.0, MatMut::row_major(&mut c, m, n)).unwrap();
        c
    };
    // (No pool where threads cannot start: wasm32-wasip1.)
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .ok()
        .map(Arc::new);
    let full = run(200, &Parallelism::Sequential);
    for m in [1, 2, 7, 64, 200] {
        let pool = pool.iter().map(|p| Parallelism::Pool(p.clone()));
        for par in [Parallelism::Sequential, Parallelism::Rayon].into_iter().chain(pool) {
            assert_eq!(run(m, &par)[..], full[..m * n], "m = {m}, {par:?}");
        }
    }
}

#[test]
fn a_packed_b_is_refused_elsewhere_and_checked() {
    let b = vec![1.0f32; 6];
    let targets = targets();
    let packed = PackedB::new_on(targets[0], MatRef::row_major(&b, 2, 3)).unwrap();
    let a = vec![1.0f32; 4];
    let mut c = vec![0.0f32; 6];
    for &other in &targets[1..] {
        let err = gemm_packed_with(
            other,
            &Parallelism::Sequential,
            1.0,
            MatRef::row_major(&a, 2, 2),
            &packed,
            0.0,
            MatMut::row_major(&mut c, 2, 3),
        )
        .unwrap_err();
        assert_eq!(
            err,
            GemmError::PackedForAnotherTarget {
                packed_for: targets[0].name,
                target: other.name
            }
        );
        assert!(err.to_string().contains(targets[0].name), "{err}");
    }
    // A with 3 columns against a B of 2 rows, and a C of the wrong width.
    let run = |a: MatRef<'_, f32>, c: MatMut<'_, f32>| {
        gemm_packed_with(targets[0], &Parallelism::Sequential, 1.0, a, &packed, 0.0, c).unwrap_err()
    };
    let mut c6 = vec![0.0f32; 6];
    assert!(matches!(
        run(MatRef::row_major(&[0.0; 6], 2, 3), MatMut::row_major(&mut c6, 2, 3)),
        GemmError::DimensionMismatch { arg: "b", .. }
    ));
    let mut c4 = vec![0.0f32; 4];
    assert!(matches!(
        run(MatRef::row_major(&a, 2, 2), MatMut::row_major(&mut c4, 2, 2)),
        GemmError::DimensionMismatch { arg: "c", .. }
    ));
    assert!(matches!(
        PackedB::new_on(targets[0], MatRef::row_major(&b, 2, 4)),
        Err(GemmError::OutOfBounds { arg: "b", .. })
    ));
    assert_eq!(c, vec![0.0; 6], "nothing written on error");
}

/// int8 with a packed B against the same call with B in place (whose exact
/// semantics tests/tests/lowp.rs checks): both are exact sums rounded once,
/// so they agree bit for bit, for every offset kind, alpha/beta (exact or
/// rounded, B in one block of k or several) and layout.
#[test]
fn int8_packed_matches_the_unpacked_call() {
    use gemmkit::{COffset, gemm_s8s8s32_packed_with, gemm_s8s8s32_with, gemm_u8s8s32_packed_with, gemm_u8s8s32_with};
    let mut rng = Rng::new(11);
    let par = Parallelism::Rayon;
    for target in targets() {
        for (case, &(m, n, k)) in [(1, 1, 1), (5, 33, 7), (17, 70, 300), (13, 40, 2500), (2, 600, 64)]
            .iter()
            .enumerate()
        {
            let (rsb, csb, lb) = layout(k, n, case % 3);
            let (rsa, csa, la) = layout(m, k, (case + 1) % 2);
            let b: Vec<i8> = (0..lb).map(|_| rng.next_u64() as i8).collect();
            let au: Vec<u8> = (0..la).map(|_| rng.next_u64() as u8).collect();
            let a_s: Vec<i8> = au.iter().map(|&x| x as i8).collect();
            let c0: Vec<i32> = (0..m * n).map(|_| rng.below(1000) as i32 - 500).collect();
            let packed = PackedB::new_on(target, MatRef::strided(&b, k, n, rsb, csb)).unwrap();
            let rows: Vec<i32> = (0..m as i32).collect();
            let cols: Vec<i32> = (0..n as i32).map(|j| -3 * j).collect();
            for (alpha, beta) in [(1.0f32, 0.0f32), (1.0, 1.0), (0.5, -2.0), (2.0, 0.0)] {
                for (ao, bo, co) in [
                    (0u8, 0i8, COffset::Fixed(0)),
                    (255, -128, COffset::Fixed(7)),
                    (3, 5, COffset::PerRow(&rows)),
                    (128, -1, COffset::PerColumn(&cols)),
                ] {
                    let bv = MatRef::strided(&b, k, n, rsb, csb);
                    let (mut want, mut got) = (c0.clone(), c0.clone());
                    let av = MatRef::strided(&au, m, k, rsa, csa);
                    gemm_u8s8s32_with(
                        target,
                        &par,
                        alpha,
                        av,
                        ao,
                        bv,
                        bo,
                        beta,
                        MatMut::row_major(&mut want, m, n),
                        co,
                    )
                    .unwrap();
                    gemm_u8s8s32_packed_with(
                        target,
                        &par,
                        alpha,
                        av,
                        ao,
                        &packed,
                        bo,
                        beta,
                        MatMut::row_major(&mut got, m, n),
                        co,
                    )
                    .unwrap();
                    assert_eq!(
                        got, want,
                        "u8 {} {m}x{n}x{k} {alpha} {beta} {ao} {bo} {co:?}",
                        target.name
                    );
                    let (mut want, mut got) = (c0.clone(), c0.clone());
                    let av = MatRef::strided(&a_s, m, k, rsa, csa);
                    let ao = ao as i8;
                    gemm_s8s8s32_with(
                        target,
                        &par,
                        alpha,
                        av,
                        ao,
                        bv,
                        bo,
                        beta,
                        MatMut::row_major(&mut want, m, n),
                        co,
                    )
                    .unwrap();
                    gemm_s8s8s32_packed_with(
                        target,
                        &par,
                        alpha,
                        av,
                        ao,
                        &packed,
                        bo,
                        beta,
                        MatMut::row_major(&mut got, m, n),
                        co,
                    )
                    .unwrap();
                    assert_eq!(
                        got, want,
                        "s8 {} {m}x{n}x{k} {alpha} {beta} {ao} {bo} {co:?}",
                        target.name
                    );
                }
            }
        }
    }
}

/// One row (a decode step) through the one-row dot micro-kernels, whole
/// strips written in place and the ragged last one through the tile: int8
/// exactly, bf16 on small integers (exact in f32), against plain sums.
#[test]
fn one_row_dot_products_match_plain_sums() {
    use gemmkit::{COffset, gemm_u8s8s32_packed_with};
    let (n, k) = (300, 700);
    let mut rng = Rng::new(23);
    let w: Vec<i8> = (0..n * k).map(|_| rng.next_u64() as i8).collect();
    let x: Vec<u8> = (0..k).map(|_| rng.next_u64() as u8).collect();
    let wb: Vec<bf16> = fill(&mut rng, n * k, bf16::from_f64);
    let xb: Vec<bf16> = fill(&mut rng, k, bf16::from_f64);
    for target in targets() {
        let par = Parallelism::Sequential;
        let packed = PackedB::new_on(target, MatRef::row_major(&w, n, k).t()).unwrap();
        let mut y = vec![7i32; n];
        let (xv, yv) = (MatRef::row_major(&x, 1, k), MatMut::row_major(&mut y, 1, n));
        gemm_u8s8s32_packed_with(target, &par, 1.0, xv, 0, &packed, 0, 1.0, yv, COffset::Fixed(0)).unwrap();
        for j in 0..n {
            let want: i64 = 7 + (0..k).map(|p| i64::from(x[p]) * i64::from(w[j * k + p])).sum::<i64>();
            assert_eq!(i64::from(y[j]), want, "{} int8 column {j}", target.name);
        }
        let packed = PackedB::new_on(target, MatRef::row_major(&wb, n, k).t()).unwrap();
        let mut y = vec![f32::NAN; n];
        let (xv, yv) = (MatRef::row_major(&xb, 1, k), MatMut::row_major(&mut y, 1, n));
        gemm_bf16_packed_with(target, &par, 1.0, xv, &packed, 0.0, yv).unwrap();
        for j in 0..n {
            let want: f64 = (0..k).map(|p| xb[p].to_f64() * wb[j * k + p].to_f64()).sum();
            assert_eq!(f64::from(y[j]), want, "{} bf16 column {j}", target.name);
        }
    }
}

/// Packed into caller memory at several alignments, and read back from the
/// bytes and from copies of them at other addresses (modulo 64, so the data
/// is not 64-byte aligned there): bit-identical to the owned packing, for f32
/// and f64, B in one block of k or several, on every target.
macro_rules! bytes_case {
    ($name:ident, $t:ty) => {
        #[test]
        fn $name() {
            let mut rng = Rng::new(23);
            let sz = size_of::<$t>();
            for target in targets() {
                for &(m, n, k) in &[
                    (1, 1, 1),
                    (3, 0, 4),
                    (2, 3, 0),
                    (7, 33, 300),
                    (9, 70, 2500),
                    (2, 600, 40),
                ] {
                    let (rsb, csb, lb) = layout(k, n, (m + n) % 3);
                    let b: Vec<$t> = fill(&mut rng, lb, |x| x as $t);
                    let a: Vec<$t> = fill(&mut rng, m * k, |x| x as $t);
                    let bv = MatRef::strided(&b, k, n, rsb, csb);
                    let owned = PackedB::new_on(target, bv).unwrap();
                    let run = |packed: PackedBRef<'_, $t>| {
                        let mut c = vec![<$t>::NAN; m * n];
                        let (av, cv) = (MatRef::row_major(&a, m, k), MatMut::row_major(&mut c, m, n));
                        gemm_packed_with(target, &Parallelism::Rayon, 0.5, av, packed, 0.0, cv).unwrap();
                        c
                    };
                    let want = run(owned.as_packed_ref());
                    // Unpacked, it is B again, in any layout.
                    for kind in 0..3 {
                        let (rs, cs, len) = layout(k, n, kind);
                        let mut back = vec![<$t>::NAN; len];
                        owned
                            .as_packed_ref()
                            .unpack(MatMut::strided(&mut back, k, n, rs, cs))
                            .unwrap();
                        for p in 0..k {
                            for j in 0..n {
                                assert_eq!(
                                    back[p * rs + j * cs],
                                    b[p * rsb + j * csb],
                                    "{} unpack ({p}, {j})",
                                    target.name
                                );
                            }
                        }
                    }
                    let need = PackedB::<$t>::bytes_needed(target, k, n).unwrap();
                    for shift in [0, sz, 3 * sz, 64 - sz] {
                        let mut store = vec![0u8; need + 128];
                        let dest = &mut store[shift..shift + need];
                        let packed = PackedB::pack_into(target, bv, dest).unwrap();
                        assert_eq!(
                            (packed.k(), packed.n(), packed.target(), packed.kc()),
                            (k, n, target.name, owned.kc())
                        );
                        assert_eq!(
                            run(packed).iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                            "{} {m}x{n}x{k} packed at +{shift}",
                            target.name
                        );
                        // A copy elsewhere: the bytes are all there is to it.
                        let bytes = store[shift..shift + need].to_vec();
                        drop(store);
                        let mut other = vec![0u8; need + 128];
                        for to in [sz, 2 * sz, 32] {
                            other[to..to + need].copy_from_slice(&bytes);
                            let copy = PackedBRef::<$t>::from_bytes(&other[to..to + need]).unwrap();
                            assert_eq!(
                                run(copy).iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                                "{} {m}x{n}x{k} copied to +{to}",
                                target.name
                            );
                        }
                    }
                }
            }
        }
    };
}

bytes_case!(f32_packed_bytes_match_the_owned_packing, f32);
bytes_case!(f64_packed_bytes_match_the_owned_packing, f64);

/// Every way a buffer can be wrong is refused with a typed error, and
/// nothing is written to C.
#[test]
fn packed_bytes_are_checked() {
    let targets = targets();
    let t0 = targets[0];
    let (k, n) = (1100, 19);
    let b = vec![1.0f32; k * n];
    let bv = MatRef::row_major(&b, k, n);
    let need = PackedB::<f32>::bytes_needed(t0, k, n).unwrap();
    // Too short a destination: nothing packed.
    let mut short = vec![7u8; need - 1];
    assert_eq!(
        PackedB::pack_into(t0, bv, &mut short).unwrap_err(),
        GemmError::LengthMismatch {
            arg: "dest",
            expected: need,
            found: need - 1
        }
    );
    assert!(short.iter().all(|&x| x == 7), "nothing written on error");
    let mut good = vec![0u8; need];
    PackedB::pack_into(t0, bv, &mut good).unwrap();
    let invalid = |bytes: &[u8]| match PackedBRef::<f32>::from_bytes(bytes) {
        Err(GemmError::InvalidPackedBuffer { reason }) => reason,
        other => panic!("accepted a bad buffer: {other:?}"),
    };
    let damaged = |at: usize, value: u8| {
        let mut v = good.clone();
        v[at] = value;
        v
    };
    invalid(&good[..100]);
    invalid(&damaged(0, b'G')); // magic
    invalid(&damaged(8, 9)); // version
    invalid(&damaged(16, b'?')); // target name
    invalid(&damaged(48, 0)); // k: its blocks no longer match
    invalid(&damaged(56, 200)); // n: the width no longer matches
    invalid(&damaged(64 + 7, 1)); // kc past k
    invalid(&good[..need - 200]); // truncated data
    // Another element type.
    assert!(matches!(
        PackedBRef::<f64>::from_bytes(&good),
        Err(GemmError::InvalidPackedBuffer { .. })
    ));
    // Copied to an address not aligned for f32.
    let mut odd = vec![0u8; need + 1];
    odd[1..].copy_from_slice(&good);
    if !odd[1..].as_ptr().cast::<f32>().is_aligned() {
        invalid(&odd[1..]);
    }
    // Another target, and shapes that do not match.
    let packed = PackedBRef::<f32>::from_bytes(&good).unwrap();
    let a = vec![1.0f32; 2 * k];
    let mut c = vec![0.0f32; 2 * n];
    for &other in &targets[1..] {
        let err = gemm_packed_with(
            other,
            &Parallelism::Sequential,
            1.0,
            MatRef::row_major(&a, 2, k),
            packed,
            0.0,
            MatMut::row_major(&mut c, 2, n),
        )
        .unwrap_err();
        assert_eq!(
            err,
            GemmError::PackedForAnotherTarget {
                packed_for: t0.name,
                target: other.name
            }
        );
    }
    let err = gemm_packed_with(
        t0,
        &Parallelism::Sequential,
        1.0,
        MatRef::row_major(&a[..2 * (k - 1)], 2, k - 1),
        packed,
        0.0,
        MatMut::row_major(&mut c, 2, n),
    )
    .unwrap_err();
    assert!(matches!(err, GemmError::DimensionMismatch { arg: "b", .. }), "{err:?}");
    assert!(c.iter().all(|&x| x == 0.0), "nothing written on error");
    // And the good one computes: every element of C is k.
    gemm_packed_with(
        t0,
        &Parallelism::Sequential,
        1.0,
        MatRef::row_major(&a, 2, k),
        packed,
        0.0,
        MatMut::row_major(&mut c, 2, n),
    )
    .unwrap();
    assert!(c.iter().all(|&x| x == k as f32));
}
