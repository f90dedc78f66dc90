//! The low-precision GEMMs (u8s8s32, s8s8s32, bf16 -> f32) on every target this
//! machine runs, against a reference of their semantics: int8 exactly (an i64
//! sum, wrapped to i32; the f32 mode as the same f32 computation), bf16 on
//! small integers (exact in f32). Shapes, strides, transposes, offsets of every
//! kind, alpha/beta, extreme values, guards around C, errors, thread counts.

use gemmkit::{COffset, GemmError, MatMut, MatRef, Parallelism, Target};
use half::bf16;
use proptest::prelude::*;
use std::sync::Mutex;
use workspace_tests::Rng;

/// Held by the tests that set the global blocking or tuning, so that each
/// sees its own (the others here are exact whatever either is).
static GLOBALS: Mutex<()> = Mutex::new(());

/// A matrix with explicit strides and guard elements around it.
#[derive(Clone, Debug)]
struct Stored<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<T: Copy> Stored<T> {
    /// `layout`: 0 row-major (padded), 1 column-major (padded), 2 neither stride 1.
    fn new(rows: usize, cols: usize, layout: usize, mut fill: impl FnMut() -> T) -> Self {
        let (rs, cs) = match layout {
            0 => (cols + 3, 1),
            1 => (1, rows + 2),
            _ => (2 * cols + 1, 2),
        };
        let len = if rows == 0 || cols == 0 {
            3
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1 + 3
        };
        Stored {
            data: (0..len).map(|_| fill()).collect(),
            rows,
            cols,
            rs,
            cs,
        }
    }
    fn at(&self, i: usize, j: usize) -> T {
        self.data[i * self.rs + j * self.cs]
    }
    fn view(&self) -> MatRef<'_, T> {
        MatRef::strided(&self.data, self.rows, self.cols, self.rs, self.cs)
    }
    fn view_mut(&mut self) -> MatMut<'_, T> {
        MatMut::strided(&mut self.data, self.rows, self.cols, self.rs, self.cs)
    }
    /// The same matrix with each element converted.
    fn map<U>(&self, f: impl Fn(T) -> U) -> Stored<U> {
        Stored {
            data: self.data.iter().map(|&v| f(v)).collect(),
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
    /// Whether `(i, j)`'s offset is an element of the view.
    fn inside(&self, off: usize) -> bool {
        (0..self.rows).any(|i| (0..self.cols).any(|j| i * self.rs + j * self.cs == off))
    }
}

/// One thread, or a pool of `threads`.
/// A pool of `threads`, or the calling thread alone where there is one
/// thread or no threads at all (wasm32-wasip1 cannot spawn).
fn parallelism(threads: usize) -> Parallelism {
    if threads == 1 {
        return Parallelism::Sequential;
    }
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => Parallelism::Pool(std::sync::Arc::new(pool)),
        Err(_) => Parallelism::Sequential,
    }
}

fn targets() -> Vec<&'static Target> {
    gemmkit::available().collect()
}

/// The int8 reference: `alpha * (A - ao)(B - bo) + beta * C + co`, exact
/// (wrapping) where alpha is 1 and beta 0 or 1, else in f32 as documented.
#[allow(clippy::too_many_arguments)]
fn int_ref(
    alpha: f32,
    a: &Stored<i32>,
    ao: i32,
    b: &Stored<i8>,
    bo: i32,
    beta: f32,
    c: &Stored<i32>,
    co: &dyn Fn(usize, usize) -> i32,
) -> Vec<i32> {
    let mut out = c.data.clone();
    let exact = alpha == 1.0 && (beta == 0.0 || beta == 1.0);
    for i in 0..a.rows {
        for j in 0..b.cols {
            let s: i64 = (0..a.cols)
                .map(|p| (a.at(i, p) as i64 - ao as i64) * (b.at(p, j) as i64 - bo as i64))
                .sum();
            let s = s as i32;
            let old = (beta != 0.0).then(|| c.at(i, j));
            out[i * c.rs + j * c.cs] = if exact {
                old.unwrap_or(0).wrapping_add(s).wrapping_add(co(i, j))
            } else {
                let cv = old.map_or(0.0, |c| beta * c as f32);
                (alpha * s as f32 + cv + co(i, j) as f32).round_ties_even() as i32
            };
        }
    }
    out
}

#[derive(Clone, Copy, Debug)]
enum CoKind {
    Fixed,
    Rows,
    Cols,
}

/// One int8 case on one target: u8 A (`signed` false) or i8 A.
#[allow(clippy::too_many_arguments)]
fn int_case(
    t: &Target,
    threads: usize,
    signed: bool,
    (m, n, k): (usize, usize, usize),
    layouts: (usize, usize, usize),
    (alpha, beta): (f32, f32),
    (ao, bo): (i32, i8),
    co: CoKind,
    rng: &mut Rng,
    extreme: bool,
) {
    let lo = if signed { -128 } else { 0 };
    let a_vals = Stored::new(
        m,
        k,
        layouts.0,
        || {
            if extreme { lo } else { lo + rng.below(256) as i32 }
        },
    );
    let b = Stored::new(k, n, layouts.1, || {
        if extreme { -128i8 } else { rng.below(256) as u8 as i8 }
    });
    let mut c = Stored::new(m, n, layouts.2, || rng.below(2001) as i32 - 1000);
    let offs: Vec<i32> = (0..m.max(n)).map(|_| rng.below(201) as i32 - 100).collect();
    let fixed = offs.first().copied().unwrap_or(7);
    let (co_arg, co_fn): (COffset, Box<dyn Fn(usize, usize) -> i32 + '_>) = match co {
        CoKind::Fixed => (COffset::Fixed(fixed), Box::new(move |_, _| fixed)),
        CoKind::Rows => (COffset::PerRow(&offs[..m]), Box::new(|i, _| offs[i])),
        CoKind::Cols => (COffset::PerColumn(&offs[..n]), Box::new(|_, j| offs[j])),
    };
    let expected = int_ref(alpha, &a_vals, ao, &b, bo.into(), beta, &c, &co_fn);
    let par = parallelism(threads);
    let what = format!(
        "{}: signed {signed} {m}x{n}x{k} layouts {layouts:?} alpha {alpha} beta {beta} ao {ao} bo {bo} {co:?} threads {threads}",
        t.name
    );
    if signed {
        let a = a_vals.map(|v| v as i8);
        gemmkit::gemm_s8s8s32_with(
            t,
            &par,
            alpha,
            a.view(),
            ao as i8,
            b.view(),
            bo,
            beta,
            c.view_mut(),
            co_arg,
        )
    } else {
        let a = a_vals.map(|v| v as u8);
        gemmkit::gemm_u8s8s32_with(
            t,
            &par,
            alpha,
            a.view(),
            ao as u8,
            b.view(),
            bo,
            beta,
            c.view_mut(),
            co_arg,
        )
    }
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    for (off, (&got, &want)) in c.data.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "{what}: at offset {off} (inside: {})", c.inside(off));
    }
}

const SHAPES: [usize; 9] = [0, 1, 2, 3, 7, 15, 17, 33, 65];

fn arb_dim() -> impl Strategy<Value = usize> {
    prop_oneof![proptest::sample::select(SHAPES.to_vec()), 0usize..80]
}

fn arb_scalars() -> impl Strategy<Value = (f32, f32)> {
    prop_oneof![
        Just((1.0f32, 0.0f32)),
        Just((1.0, 1.0)),
        Just((0.0, 1.0)),
        Just((0.5, 0.0)),
        Just((-1.25, 2.0)),
        Just((1.0, -1.0)),
        Just((3.0, 0.5)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn int8_matches_the_reference(
        m in arb_dim(), n in arb_dim(), k in arb_dim(),
        layouts in (0usize..3, 0usize..3, 0usize..3),
        scalars in arb_scalars(),
        ao in 0i32..256, bo in -128i32..128,
        signed in any::<bool>(),
        co in prop_oneof![Just(CoKind::Fixed), Just(CoKind::Rows), Just(CoKind::Cols)],
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        let ao = if signed { ao - 128 } else { ao };
        for t in targets() {
            int_case(t, 1, signed, (m, n, k), layouts, scalars, (ao, bo as i8), co, &mut rng, false);
        }
    }
}

#[test]
fn int8_extreme_values_and_deep_k() {
    let mut rng = Rng::new(3);
    for t in targets() {
        for signed in [false, true] {
            for (m, n, k) in [(13, 35, 1000), (31, 17, 2049), (1, 1, 4097), (3, 40, 20000)] {
                for scalars in [(1.0, 0.0), (1.0, 1.0), (0.5, 0.25)] {
                    let ao = if signed { -128 } else { 255 };
                    int_case(
                        t,
                        1,
                        signed,
                        (m, n, k),
                        (0, 0, 0),
                        scalars,
                        (ao, 127),
                        CoKind::Fixed,
                        &mut rng,
                        true,
                    );
                    int_case(
                        t,
                        1,
                        signed,
                        (m, n, k),
                        (1, 1, 1),
                        scalars,
                        (0, 0),
                        CoKind::Rows,
                        &mut rng,
                        true,
                    );
                }
            }
        }
    }
}

#[test]
fn int8_results_do_not_depend_on_threads() {
    for t in targets() {
        for threads in [1, 2, 3, 8] {
            for signed in [false, true] {
                let mut rng = Rng::new(11);
                int_case(
                    t,
                    threads,
                    signed,
                    (300, 270, 520),
                    (0, 0, 0),
                    (1.0, 1.0),
                    (3, -5),
                    CoKind::Cols,
                    &mut rng,
                    false,
                );
                let mut rng = Rng::new(12);
                int_case(
                    t,
                    threads,
                    signed,
                    (129, 257, 300),
                    (1, 0, 0),
                    (0.75, 0.5),
                    (3, -5),
                    CoKind::Rows,
                    &mut rng,
                    false,
                );
            }
        }
    }
}

/// bf16 on small integers: every product and partial sum is exact in f32.
fn bf16_case(
    t: &Target,
    threads: usize,
    (m, n, k): (usize, usize, usize),
    layouts: (usize, usize, usize),
    (alpha, beta): (f32, f32),
    rng: &mut Rng,
) {
    let a = Stored::new(m, k, layouts.0, || bf16::from_f32(rng.below(9) as f32 - 4.0));
    let b = Stored::new(k, n, layouts.1, || bf16::from_f32(rng.below(9) as f32 - 4.0));
    let mut c = Stored::new(m, n, layouts.2, || rng.below(17) as f32 - 8.0);
    if beta == 0.0 {
        for v in &mut c.data {
            *v = f32::NAN;
        }
    }
    let mut expected = c.data.clone();
    for i in 0..m {
        for j in 0..n {
            let s: f32 = (0..k).map(|p| a.at(i, p).to_f32() * b.at(p, j).to_f32()).sum();
            let old = c.at(i, j);
            expected[i * c.rs + j * c.cs] = if beta == 0.0 { alpha * s } else { alpha * s + beta * old };
        }
    }
    let par = parallelism(threads);
    let what = format!(
        "{}: {m}x{n}x{k} layouts {layouts:?} alpha {alpha} beta {beta} threads {threads}",
        t.name
    );
    gemmkit::gemm_bf16_with(t, &par, alpha, a.view(), b.view(), beta, c.view_mut())
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    for (off, (&got, &want)) in c.data.iter().zip(&expected).enumerate() {
        assert!(
            got == want || (got.is_nan() && want.is_nan()),
            "{what}: at offset {off}: {got} != {want}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn bf16_matches_the_reference(
        m in arb_dim(), n in arb_dim(), k in arb_dim(),
        layouts in (0usize..3, 0usize..3, 0usize..3),
        scalars in prop_oneof![Just((1.0f32, 0.0f32)), Just((1.0, 1.0)), Just((2.0, -0.5)), Just((0.0, 2.0))],
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        for t in targets() {
            bf16_case(t, 1, (m, n, k), layouts, scalars, &mut rng);
        }
    }
}

#[test]
fn bf16_threads_and_deep_k() {
    for t in targets() {
        for threads in [1, 3] {
            let mut rng = Rng::new(5);
            bf16_case(t, threads, (200, 150, 700), (0, 0, 0), (1.0, 1.0), &mut rng);
            bf16_case(t, threads, (31, 47, 2500), (1, 1, 1), (1.0, 0.0), &mut rng);
        }
    }
}

#[test]
fn int8_bad_arguments_are_named() {
    let (a, b) = ([0u8; 6], [0i8; 6]);
    let mut c = [0i32; 4];
    let run = |alpha: f32, beta: f32, c: &mut [i32], co: COffset| {
        gemmkit::gemm_u8s8s32(
            alpha,
            MatRef::row_major(&a, 2, 3),
            0,
            MatRef::row_major(&b, 3, 2),
            0,
            beta,
            MatMut::row_major(c, 2, 2),
            co,
        )
    };
    assert_eq!(
        run(f32::NAN, 0.0, &mut c, COffset::Fixed(0)),
        Err(GemmError::NonFiniteScalar { arg: "alpha" })
    );
    assert_eq!(
        run(1.0, f32::INFINITY, &mut c, COffset::Fixed(0)),
        Err(GemmError::NonFiniteScalar { arg: "beta" })
    );
    assert_eq!(
        run(1.0, 0.0, &mut c, COffset::PerRow(&[1, 2, 3])),
        Err(GemmError::LengthMismatch {
            arg: "c_offset",
            expected: 2,
            found: 3
        })
    );
    assert_eq!(
        run(1.0, 0.0, &mut c, COffset::PerColumn(&[1])),
        Err(GemmError::LengthMismatch {
            arg: "c_offset",
            expected: 2,
            found: 1
        })
    );
    let bad = gemmkit::gemm_s8s8s32(
        1.0,
        MatRef::row_major(&[0i8; 6], 2, 3),
        0,
        MatRef::row_major(&[0i8; 4], 2, 2),
        0,
        0.0,
        MatMut::row_major(&mut c, 2, 2),
        COffset::Fixed(0),
    );
    assert!(
        matches!(bad, Err(GemmError::DimensionMismatch { arg: "b", .. })),
        "{bad:?}"
    );
    let bad = gemmkit::gemm_bf16(
        1.0,
        MatRef::row_major(&[bf16::ZERO; 5], 2, 3),
        MatRef::row_major(&[bf16::ZERO; 6], 3, 2),
        0.0,
        MatMut::row_major(&mut [0.0f32; 4], 2, 2),
    );
    assert!(matches!(bad, Err(GemmError::OutOfBounds { arg: "a", .. })), "{bad:?}");
}

/// Small blocks (`set_blocking`): several blocks of m, n and k, so the sums,
/// the compensation and the C offset meet every block boundary. (The override
/// is global; the other tests here run beside it unaffected: int8 is exact or
/// one block of k whatever the blocking, and bf16's small integers sum exactly
/// in any order.)
#[test]
fn int8_and_bf16_across_small_blocks() {
    let _globals = GLOBALS.lock().unwrap_or_else(|e| e.into_inner());
    let small = gemmkit::Blocking { kc: 40, mc: 24, nc: 64 };
    gemmkit::set_blocking(Some(small)).expect("a valid blocking");
    let mut rng = Rng::new(21);
    for t in targets() {
        for threads in [1, 3] {
            for signed in [false, true] {
                for scalars in [(1.0, 0.0), (1.0, 1.0), (0.5, 2.0)] {
                    for co in [CoKind::Fixed, CoKind::Rows, CoKind::Cols] {
                        int_case(
                            t,
                            threads,
                            signed,
                            (77, 150, 130),
                            (0, 0, 0),
                            scalars,
                            (3, -7),
                            co,
                            &mut rng,
                            false,
                        );
                        int_case(
                            t,
                            threads,
                            signed,
                            (50, 65, 97),
                            (1, 1, 1),
                            scalars,
                            (0, 0),
                            co,
                            &mut rng,
                            false,
                        );
                    }
                }
            }
            bf16_case(t, threads, (77, 150, 130), (0, 0, 0), (1.0, 1.0), &mut rng);
            bf16_case(t, threads, (50, 65, 97), (1, 1, 1), (2.0, 0.5), &mut rng);
        }
    }
    gemmkit::set_blocking(None).expect("back to the model");
}

/// The two forms of bf16 GEMM on every target, chosen by
/// `Tuning::bf16_widen`: in pairs through the bf16 dot-product micro-kernel,
/// and widened to f32 as it is packed through the f32 one, each packing a
/// block in items of whole pairs (and a ragged last one). Both match the
/// reference on small integers, and on random values they agree bit for bit
/// for the same blocks of k (odd ones included): the widened form keeps the
/// pairs' order (odd product first). So does a B packed ahead in either form
/// (owned, or as bytes read back), called in the form it was packed in
/// whatever the tuning is at the call. (Alpha 1 and beta 0 or 1, where both
/// forms write C from the kernel's sums alike; a column-major C, which the
/// widened form computes transposed, takes the same products in the same
/// order.)
#[test]
fn bf16_widened_and_in_pairs_agree() {
    let _globals = GLOBALS.lock().unwrap_or_else(|e| e.into_inner());
    gemmkit::set_blocking(Some(gemmkit::Blocking { kc: 37, mc: 48, nc: 96 })).expect("a valid blocking");
    let mut rng = Rng::new(77);
    for t in targets() {
        let own = gemmkit::tuning(t);
        // Pack items of 5 rows: whole pairs (6) but the block's last.
        let set = |widen: bool| {
            let tuning = gemmkit::Tuning {
                bf16_widen: widen,
                bf16_widen_packed: widen,
                pack_chunk: 5,
                ..own
            };
            gemmkit::set_tuning(Some(tuning)).expect("a valid tuning")
        };
        for (m, n, k) in [(2, 3, 1), (37, 45, 101), (64, 33, 74), (5, 130, 7)] {
            for layouts in [(0, 0, 0), (1, 1, 1), (0, 1, 0), (1, 0, 1)] {
                for beta in [0.0f32, 1.0] {
                    let mut random = || bf16::from_f32(rng.below(1 << 16) as f32 / 16384.0 - 2.0);
                    let a = Stored::new(m, k, layouts.0, &mut random);
                    let b = Stored::new(k, n, layouts.1, &mut random);
                    let c0 = Stored::new(m, n, layouts.2, || rng.below(1 << 12) as f32 / 64.0 - 32.0);
                    let what = format!("{}: {m}x{n}x{k} layouts {layouts:?} beta {beta}", t.name);
                    let run = |form: String, threads: usize, packed: Option<gemmkit::PackedBRef<'_, bf16>>| {
                        let mut c = c0.map(|v| v);
                        let par = parallelism(threads);
                        let done = match packed {
                            Some(p) => gemmkit::gemm_bf16_packed_with(t, &par, 1.0, a.view(), p, beta, c.view_mut()),
                            None => gemmkit::gemm_bf16_with(t, &par, 1.0, a.view(), b.view(), beta, c.view_mut()),
                        };
                        done.unwrap_or_else(|e| panic!("{what}: {form}: {e}"));
                        (form, c.data)
                    };
                    let mut results = vec![];
                    for widen in [false, true] {
                        set(widen);
                        let owned = gemmkit::PackedB::new_on(t, b.view()).expect("packs");
                        // Bytes at an odd address (`pack_into` aligns the data wherever they start).
                        let need = gemmkit::PackedB::<bf16>::bytes_needed(t, k, n).expect("fits");
                        let mut bytes = vec![0u8; need + 3];
                        gemmkit::PackedB::pack_into(t, b.view(), &mut bytes[3..]).expect("packs");
                        results.push(run(format!("widen {widen}"), 1 + widen as usize, None));
                        // Called in the form it was packed in, whatever the tuning.
                        for now in [widen, !widen] {
                            set(now);
                            let read = gemmkit::PackedBRef::<bf16>::from_bytes(&bytes[3..]).expect("reads back");
                            let form = format!("B packed with widen {widen}, called with {now}");
                            results.push(run(form.clone(), 2, Some((&owned).into())));
                            results.push(run(format!("{form}, from bytes"), 1, Some(read)));
                        }
                    }
                    let (first, want) = &results[0];
                    for (form, got) in &results[1..] {
                        for (off, (x, y)) in want.iter().zip(got).enumerate() {
                            assert_eq!(
                                x.to_bits(),
                                y.to_bits(),
                                "{what}: at offset {off}: {first} {x}, {form} {y}"
                            );
                        }
                    }
                }
            }
            for widen in [false, true] {
                set(widen);
                for layouts in [(0, 0, 0), (2, 1, 1)] {
                    bf16_case(t, 2, (m, n, k), layouts, (0.5, 2.0), &mut rng);
                }
            }
        }
    }
    gemmkit::set_tuning(None).expect("back to each target's own");
    gemmkit::set_blocking(None).expect("back to the model");
}

/// One row of A with B's columns contiguous along k (weights stored `n x k`,
/// PyTorch's layout): the GEMV path, which reads B in place. Column counts
/// around its blocks of four, depths around its vectors (and under one),
/// every offset kind and scalar mode, both A types, and threads.
#[test]
fn one_row_with_weights_in_place() {
    let mut rng = Rng::new(41);
    for t in targets() {
        for &(n, k) in &[(1, 1), (3, 63), (4, 64), (9, 65), (70, 300), (301, 1000)] {
            for (i, scalars) in [(1.0f32, 0.0f32), (1.0, 1.0), (0.5, -2.0)].into_iter().enumerate() {
                for (signed, offsets, co) in [
                    (false, (0, 0i8), CoKind::Fixed),
                    (true, (0, 0), CoKind::Cols),
                    (false, (200, -7), CoKind::Rows),
                    (true, (-128, 127), CoKind::Fixed),
                ] {
                    let threads = 1 + 2 * (i % 2);
                    let layouts = (i % 2 * 2, 1, (i + 1) % 2);
                    int_case(
                        t,
                        threads,
                        signed,
                        (1, n, k),
                        layouts,
                        scalars,
                        offsets,
                        co,
                        &mut rng,
                        false,
                    );
                }
                bf16_case(t, 1 + 2 * (i % 2), (1, n, k), (0, 1, 0), scalars, &mut rng);
                // x strided (copied to the scratch), or column-major (a
                // column of one row: A's row contiguous after all).
                bf16_case(t, 1 + 2 * (i % 2), (1, n, k), (2 - i % 2, 1, 0), scalars, &mut rng);
            }
            int_case(
                t,
                1,
                true,
                (1, n, k),
                (0, 1, 0),
                (1.0, 0.0),
                (-128, -128),
                CoKind::Fixed,
                &mut rng,
                true,
            );
        }
    }
}
