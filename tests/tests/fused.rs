//! Fused epilogues on every target this machine runs, against the unfused
//! composition: the plain GEMM on the same target and threads, then the bias
//! added in `f32` (as an unfused caller adds it) and the activation computed in
//! `f64` (`workspace_tests::activation_f64`). Every path is met: the small
//! path (on one thread and split by rows), the blocked path with several
//! blocks of m, n and k (the epilogue once, on the last), its dot-product edge
//! and its transposed orientation (column-major C), the scale-only path
//! (`k == 0`, `alpha == 0`), a C with no unit stride, packed B, bf16; beta 0
//! with NaN in C; results bit-identical across threads; bad arguments named.
//! And int8 products dequantised to f32 (`gemm_u8s8f32` and the rest),
//! against the exact int8 GEMM, scaled, then the f32 epilogue alone.

use gemmkit::{Activation, Bias, Blocking, Epilogue, GemmError, MatMut, MatRef, PackedB, Parallelism, Target, Tuning};
use half::bf16;
use workspace_tests::{Rng, activation_f64, activation_tolerance};

/// The activations' relative accuracy, as `differential.rs` checks the kernel.
const REL: f64 = 2e-6;

const ACTIVATIONS: [Activation; 5] = [
    Activation::None,
    Activation::Relu,
    Activation::Silu,
    Activation::GeluTanh,
    Activation::GeluErf,
];

/// A matrix in a slice with strides: layout 0 row-major (padded rows), 1
/// column-major (padded columns), 2 neither stride 1; slack after the end.
#[derive(Clone)]
struct Stored<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<T: Copy> Stored<T> {
    fn new(rows: usize, cols: usize, layout: usize, mut fill: impl FnMut() -> T) -> Self {
        let (rs, cs) = match layout {
            0 => (cols + 2, 1),
            1 => (1, rows + 3),
            _ => (2 * cols + 1, 2),
        };
        let len = rows.max(1) * rs + cols.max(1) * cs + 3;
        Stored {
            data: (0..len).map(|_| fill()).collect(),
            rows,
            cols,
            rs,
            cs,
        }
    }
    fn view(&self) -> MatRef<'_, T> {
        MatRef::strided(&self.data, self.rows, self.cols, self.rs, self.cs)
    }
    fn view_mut(&mut self) -> MatMut<'_, T> {
        MatMut::strided(&mut self.data, self.rows, self.cols, self.rs, self.cs)
    }
    /// The same matrix with every stored value mapped.
    fn map<U>(&self, f: impl Fn(T) -> U) -> Stored<U> {
        Stored {
            data: self.data.iter().map(|&x| f(x)).collect(),
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
    /// For every offset of the slice, the element `(i, j)` of the view there, if any.
    fn elements(&self) -> Vec<Option<(usize, usize)>> {
        let mut at = vec![None; self.data.len()];
        for i in 0..self.rows {
            for j in 0..self.cols {
                at[i * self.rs + j * self.cs] = Some((i, j));
            }
        }
        at
    }
}

fn parallelism(threads: usize) -> Parallelism {
    if threads == 1 {
        return Parallelism::Sequential;
    }
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => Parallelism::Pool(std::sync::Arc::new(pool)),
        Err(_) => Parallelism::Sequential,
    }
}

/// Which product a case runs: f32 or bf16 inputs, B packed ahead or not.
#[derive(Clone, Copy, Debug)]
enum Kind {
    F32,
    F32Packed,
    Bf16,
    Bf16Packed,
}

/// One case: `fused` against `plain` then the epilogue, element by element,
/// with the slack untouched; returns the fused C for the thread comparison.
#[allow(clippy::too_many_arguments)]
fn case(
    t: &Target,
    kind: Kind,
    threads: usize,
    (m, n, k): (usize, usize, usize),
    layouts: (usize, usize, usize),
    (alpha, beta): (f32, f32),
    bias_kind: usize,
    act: usize,
    rng: &mut Rng,
) -> Vec<f32> {
    let a = Stored::new(m, k, layouts.0, || rng.unit() as f32);
    let b = Stored::new(k, n, layouts.1, || rng.unit() as f32);
    let mut c0 = Stored::new(m, n, layouts.2, || (4.0 * rng.unit()) as f32);
    if beta == 0.0 {
        c0.data.iter_mut().for_each(|x| *x = f32::NAN);
    }
    let bias: Vec<f32> = (0..[0, n, m][bias_kind]).map(|_| (2.0 * rng.unit()) as f32).collect();
    let epilogue = Epilogue::new(
        match bias_kind {
            0 => Bias::None,
            1 => Bias::PerColumn(&bias),
            _ => Bias::PerRow(&bias),
        },
        ACTIVATIONS[act],
    );
    let par = parallelism(threads);
    let what = format!(
        "{}: {kind:?} {m}x{n}x{k} layouts {layouts:?} alpha {alpha} beta {beta} bias {bias_kind} {:?} threads {threads}",
        t.name, ACTIVATIONS[act]
    );
    let (mut plain, mut fused) = (c0.clone(), c0.clone());
    let (a16, b16) = (a.map(bf16::from_f32), b.map(bf16::from_f32));
    let result = match kind {
        Kind::F32 => gemmkit::gemm_with(t, &par, alpha, a.view(), b.view(), beta, plain.view_mut()).and_then(|()| {
            gemmkit::gemm_fused_with(t, &par, alpha, a.view(), b.view(), beta, fused.view_mut(), &epilogue)
        }),
        Kind::F32Packed => PackedB::new_on(t, b.view()).and_then(|pb| {
            gemmkit::gemm_packed_with(t, &par, alpha, a.view(), &pb, beta, plain.view_mut())?;
            gemmkit::gemm_packed_fused_with(t, &par, alpha, a.view(), &pb, beta, fused.view_mut(), &epilogue)
        }),
        Kind::Bf16 => {
            gemmkit::gemm_bf16_with(t, &par, alpha, a16.view(), b16.view(), beta, plain.view_mut()).and_then(|()| {
                gemmkit::gemm_bf16_fused_with(
                    t,
                    &par,
                    alpha,
                    a16.view(),
                    b16.view(),
                    beta,
                    fused.view_mut(),
                    &epilogue,
                )
            })
        }
        Kind::Bf16Packed => PackedB::new_on(t, b16.view()).and_then(|pb| {
            gemmkit::gemm_bf16_packed_with(t, &par, alpha, a16.view(), &pb, beta, plain.view_mut())?;
            gemmkit::gemm_bf16_packed_fused_with(t, &par, alpha, a16.view(), &pb, beta, fused.view_mut(), &epilogue)
        }),
    };
    result.unwrap_or_else(|e| panic!("{what}: {e}"));
    let elements = c0.elements();
    for (off, (&got, &p)) in fused.data.iter().zip(&plain.data).enumerate() {
        let Some((i, j)) = elements[off] else {
            assert!(
                got.to_bits() == c0.data[off].to_bits(),
                "{what}: wrote outside C at {off}"
            );
            continue;
        };
        assert!(!p.is_nan(), "{what}: the plain product is NaN at ({i}, {j})");
        let x = match bias_kind {
            0 => p,
            1 => p + bias[j],
            _ => p + bias[i],
        };
        let want = activation_f64(act, f64::from(x));
        let tol = activation_tolerance(act, f64::from(x), want, REL);
        assert!(
            (f64::from(got) - want).abs() <= tol,
            "{what}: at ({i}, {j}): {got} vs {want} (x = {x})"
        );
    }
    fused.data
}

/// Held by the tests that override the (global) tuning and blocking.
static OVERRIDES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Every kind, shape, layout, bias and activation on every target, and the
/// same cases on 1 and 3 threads bit for bit; under the targets' own tuning
/// and then under tunings that force the other paths (in one test, holding
/// [`OVERRIDES`], because the overrides are global).
#[test]
fn fused_matches_the_unfused_composition() {
    let _overrides = OVERRIDES.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::new(77);
    let targets: Vec<&Target> = gemmkit::available().collect();
    // The targets' own thresholds: the small path (and, past `small`, the
    // blocked path with the model's blocks); then the small path split by rows
    // between threads; then the blocked path with small blocks (several of m,
    // n and k) shared by threads.
    let own = Tuning::of(gemmkit::best());
    let regimes: [(Option<Tuning>, Option<Blocking>); 3] = [
        (None, None),
        (
            Some(Tuning {
                small_split_volume: 0,
                ..own
            }),
            None,
        ),
        (
            Some(Tuning {
                small: 0,
                blocked_split_volume: 0,
                ..own
            }),
            Some(Blocking { kc: 40, mc: 24, nc: 64 }),
        ),
    ];
    let shapes = [
        (0, 5, 3),
        (5, 0, 3),
        (4, 6, 0),
        (1, 1, 1),
        (7, 13, 5),
        (37, 70, 45),
        (77, 150, 130),
        // The GEMV path: one row, one column, and a depth it splits.
        (1, 70, 45),
        (60, 1, 45),
        (1, 200, 4200),
    ];
    for (tuning, blocking) in regimes {
        gemmkit::set_tuning(tuning).expect("a valid tuning");
        gemmkit::set_blocking(blocking).expect("a valid blocking");
        for &t in &targets {
            for (s, &shape) in shapes.iter().enumerate() {
                for kind in [Kind::F32, Kind::F32Packed, Kind::Bf16, Kind::Bf16Packed] {
                    // Activations and biases in turn across the cases, every
                    // pair on the larger shapes.
                    let pairs: Vec<(usize, usize)> = if shape.0 * shape.1 >= 400 {
                        (0..3).flat_map(|b| (0..5).map(move |a| (b, a))).collect()
                    } else {
                        vec![(s % 3, s % 5), ((s + 1) % 3, (s + 2) % 5)]
                    };
                    for (bias_kind, act) in pairs {
                        let layouts = (rng.below(3), rng.below(3), rng.below(3));
                        let scalars = [(1.0, 0.0), (1.0, 1.0), (0.5, -0.75), (0.0, 2.0)][rng.below(4)];
                        let mut cases = [1, 3].map(|threads| {
                            let mut seed = Rng::new(1000 + s as u64);
                            case(t, kind, threads, shape, layouts, scalars, bias_kind, act, &mut seed)
                        });
                        let [one, three] = &mut cases;
                        assert!(
                            one.iter().zip(three.iter()).all(|(x, y)| x.to_bits() == y.to_bits()),
                            "{}: {kind:?} {shape:?} layouts {layouts:?}: 1 and 3 threads differ",
                            t.name
                        );
                    }
                }
            }
        }
    }
    gemmkit::set_tuning(None).expect("back to the targets'");
    gemmkit::set_blocking(None).expect("back to the model");
}

/// A bias of the wrong length is refused, naming it, and nothing is written.
#[test]
fn a_bias_of_the_wrong_length_is_named() {
    let (a, b) = ([1.0f32; 6], [1.0f32; 12]);
    let short = [0.0f32; 3];
    // 3 values where C has 4 columns and 2 rows.
    for (bias, expected) in [(Bias::PerColumn(&short[..]), 4), (Bias::PerRow(&short[..]), 2)] {
        let mut c = [7.0f32; 8];
        let epilogue = Epilogue::new(bias, Activation::Relu);
        let got = gemmkit::gemm_fused(
            1.0,
            MatRef::row_major(&a, 2, 3),
            MatRef::row_major(&b, 3, 4),
            0.0,
            MatMut::row_major(&mut c, 2, 4),
            &epilogue,
        );
        assert_eq!(
            got,
            Err(GemmError::LengthMismatch {
                arg: "bias",
                expected,
                found: 3
            })
        );
        assert_eq!(c, [7.0; 8], "nothing written");
        let msg = got.expect_err("refused").to_string();
        assert!(msg.contains("bias"), "{msg}");
    }
    // bf16 and packed B check it too.
    let a16 = [bf16::ONE; 6];
    let packed = PackedB::new(MatRef::row_major(&b, 3, 4)).expect("pack");
    let epilogue = Epilogue::new(Bias::PerRow(&short), Activation::None);
    let mut c = [0.0f32; 8];
    assert!(matches!(
        gemmkit::gemm_bf16_fused(
            1.0,
            MatRef::row_major(&a16, 2, 3),
            MatRef::row_major(&a16, 3, 2),
            0.0,
            MatMut::row_major(&mut c[..4], 2, 2),
            &epilogue
        ),
        Err(GemmError::LengthMismatch { arg: "bias", .. })
    ));
    assert!(matches!(
        gemmkit::gemm_packed_fused(
            1.0,
            MatRef::row_major(&a, 2, 3),
            &packed,
            0.0,
            MatMut::row_major(&mut c, 2, 4),
            &epilogue
        ),
        Err(GemmError::LengthMismatch { arg: "bias", .. })
    ));
}

/// Which int8 product a dequantising case runs.
#[derive(Clone, Copy, Debug)]
enum Int8 {
    U8S8,
    U8S8Packed,
    S8S8,
    S8S8Packed,
}

/// One dequantising case: the fused call against the unfused composition on
/// the same target (the exact `i32` GEMM; each sum converted and scaled in
/// `f32`; then the bias and activation by the `f32` epilogue alone, a fused
/// call with `k == 0` and `beta == 1`), bit for bit, with the slack
/// untouched; returns the fused C for the thread comparison.
#[allow(clippy::too_many_arguments)]
fn dequant_case(
    t: &Target,
    kind: Int8,
    threads: usize,
    (m, n, k): (usize, usize, usize),
    layouts: (usize, usize, usize),
    per_column: bool,
    bias_kind: usize,
    act: usize,
    rng: &mut Rng,
) -> Vec<f32> {
    let a = Stored::new(m, k, layouts.0, || rng.below(256) as u8);
    let a8 = a.map(|x| x as i8);
    let b = Stored::new(k, n, layouts.1, || rng.below(256) as u8 as i8);
    let (a_off, b_off) = (rng.below(256) as u8, rng.below(256) as u8 as i8);
    // NaN everywhere: C is only written.
    let c0 = Stored::new(m, n, layouts.2, || f32::NAN);
    let scales: Vec<f32> = (0..n.max(1)).map(|_| (rng.unit() * 1e-4) as f32).collect();
    let scale = if per_column {
        gemmkit::Scale::PerColumn(&scales[..n])
    } else {
        gemmkit::Scale::Single(scales[0])
    };
    let bias: Vec<f32> = (0..[0, n, m][bias_kind]).map(|_| (2.0 * rng.unit()) as f32).collect();
    let epilogue = Epilogue::new(
        match bias_kind {
            0 => Bias::None,
            1 => Bias::PerColumn(&bias),
            _ => Bias::PerRow(&bias),
        },
        ACTIVATIONS[act],
    );
    let par = parallelism(threads);
    let what = format!(
        "{}: {kind:?} {m}x{n}x{k} layouts {layouts:?} per column {per_column} bias {bias_kind} {:?} threads {threads}",
        t.name, ACTIVATIONS[act]
    );
    let mut sums = vec![0i32; m * n];
    let mut fused = c0.clone();
    let fixed = gemmkit::COffset::Fixed(0);
    let plain = MatMut::row_major(&mut sums, m, n);
    let result = match kind {
        Int8::U8S8 => gemmkit::gemm_u8s8s32_with(t, &par, 1.0, a.view(), a_off, b.view(), b_off, 0.0, plain, fixed)
            .and_then(|()| {
                let c = fused.view_mut();
                gemmkit::gemm_u8s8f32_with(t, &par, a.view(), a_off, b.view(), b_off, c, scale, &epilogue)
            }),
        Int8::S8S8 => {
            let a_off = a_off as i8;
            gemmkit::gemm_s8s8s32_with(t, &par, 1.0, a8.view(), a_off, b.view(), b_off, 0.0, plain, fixed).and_then(
                |()| {
                    let c = fused.view_mut();
                    gemmkit::gemm_s8s8f32_with(t, &par, a8.view(), a_off, b.view(), b_off, c, scale, &epilogue)
                },
            )
        }
        Int8::U8S8Packed => PackedB::new_on(t, b.view()).and_then(|pb| {
            gemmkit::gemm_u8s8s32_packed_with(t, &par, 1.0, a.view(), a_off, &pb, b_off, 0.0, plain, fixed)?;
            let c = fused.view_mut();
            gemmkit::gemm_u8s8f32_packed_with(t, &par, a.view(), a_off, &pb, b_off, c, scale, &epilogue)
        }),
        Int8::S8S8Packed => PackedB::new_on(t, b.view()).and_then(|pb| {
            let a_off = a_off as i8;
            gemmkit::gemm_s8s8s32_packed_with(t, &par, 1.0, a8.view(), a_off, &pb, b_off, 0.0, plain, fixed)?;
            let c = fused.view_mut();
            gemmkit::gemm_s8s8f32_packed_with(t, &par, a8.view(), a_off, &pb, b_off, c, scale, &epilogue)
        }),
    };
    result.unwrap_or_else(|e| panic!("{what}: {e}"));
    // The unfused composition.
    let mut want: Vec<f32> = (0..m * n)
        .map(|at| sums[at] as f32 * if per_column { scales[at % n] } else { scales[0] })
        .collect();
    let (none_a, none_b) = ([0.0f32; 0], [0.0f32; 0]);
    gemmkit::gemm_fused_with(
        t,
        &Parallelism::Sequential,
        1.0,
        MatRef::row_major(&none_a, m, 0),
        MatRef::row_major(&none_b, 0, n),
        1.0,
        MatMut::row_major(&mut want, m, n),
        &epilogue,
    )
    .unwrap_or_else(|e| panic!("{what}: the unfused epilogue: {e}"));
    let elements = c0.elements();
    for (off, &got) in fused.data.iter().enumerate() {
        match elements[off] {
            None => assert!(got.is_nan(), "{what}: wrote outside C at {off}"),
            Some((i, j)) => {
                let w = want[i * n + j];
                assert!(got.to_bits() == w.to_bits(), "{what}: at ({i}, {j}): {got} vs {w}");
            }
        }
    }
    fused.data
}

/// int8 products dequantised to f32 with the epilogue, on every target and
/// path (blocked, with several blocks of k; the GEMV for one row and B's
/// columns contiguous; packed B; `k == 0`), against the unfused composition
/// bit for bit, and the same on 1 and 3 threads.
#[test]
fn dequantised_int8_matches_the_unfused_composition() {
    let _overrides = OVERRIDES.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::new(78);
    let own = Tuning::of(gemmkit::best());
    let regimes: [(Option<Tuning>, Option<Blocking>); 2] = [
        (None, None),
        // Small blocks shared by threads, and the one-row GEMV split between
        // them.
        (
            Some(Tuning {
                small_split_volume: 0,
                blocked_split_volume: 0,
                ..own
            }),
            Some(Blocking { kc: 40, mc: 24, nc: 64 }),
        ),
    ];
    let shapes = [
        (0, 5, 3),
        (4, 6, 0),
        (1, 1, 1),
        (7, 13, 5),
        (37, 70, 45),
        (77, 150, 130),
        (1, 70, 45),
        (1, 200, 300),
    ];
    for (tuning, blocking) in regimes {
        gemmkit::set_tuning(tuning).expect("a valid tuning");
        gemmkit::set_blocking(blocking).expect("a valid blocking");
        for t in gemmkit::available() {
            for (s, &shape) in shapes.iter().enumerate() {
                for kind in [Int8::U8S8, Int8::U8S8Packed, Int8::S8S8, Int8::S8S8Packed] {
                    for (bias_kind, act) in [(s % 3, s % 5), ((s + 1) % 3, (s + 2) % 5), ((s + 2) % 3, (s + 4) % 5)] {
                        // B with its columns contiguous (layout 1) often: the GEMV's form.
                        let layouts = (rng.below(3), [1, rng.below(3)][rng.below(2)], rng.below(3));
                        let per_column = rng.below(2) == 0;
                        let [one, three] = [1, 3].map(|threads| {
                            let mut seed = Rng::new(2000 + s as u64);
                            dequant_case(t, kind, threads, shape, layouts, per_column, bias_kind, act, &mut seed)
                        });
                        assert!(
                            one.iter().zip(&three).all(|(x, y)| x.to_bits() == y.to_bits()),
                            "{}: {kind:?} {shape:?} layouts {layouts:?}: 1 and 3 threads differ",
                            t.name
                        );
                    }
                }
            }
        }
    }
    gemmkit::set_tuning(None).expect("back to the targets'");
    gemmkit::set_blocking(None).expect("back to the model");
}

/// A scale or bias of the wrong length is refused, naming it, and nothing is
/// written.
#[test]
fn a_dequantising_scale_of_the_wrong_length_is_named() {
    let (a, b) = ([1u8; 6], [1i8; 12]);
    let short = [0.5f32; 3];
    let packed = PackedB::new(MatRef::row_major(&b, 3, 4)).expect("pack");
    for (scale, bias, arg, expected) in [
        (gemmkit::Scale::PerColumn(&short[..]), Bias::None, "scale", 4),
        (gemmkit::Scale::Single(1.0), Bias::PerRow(&short[..]), "bias", 2),
    ] {
        let epilogue = Epilogue::new(bias, Activation::Relu);
        let mut c = [7.0f32; 8];
        let c_view = MatMut::row_major(&mut c, 2, 4);
        let got = gemmkit::gemm_u8s8f32(
            MatRef::row_major(&a, 2, 3),
            0,
            MatRef::row_major(&b, 3, 4),
            0,
            c_view,
            scale,
            &epilogue,
        );
        assert_eq!(
            got,
            Err(GemmError::LengthMismatch {
                arg,
                expected,
                found: 3
            })
        );
        let c_view = MatMut::row_major(&mut c, 2, 4);
        let got = gemmkit::gemm_u8s8f32_packed(MatRef::row_major(&a, 2, 3), 0, &packed, 0, c_view, scale, &epilogue);
        assert_eq!(
            got,
            Err(GemmError::LengthMismatch {
                arg,
                expected,
                found: 3
            })
        );
        assert_eq!(c, [7.0; 8], "nothing written");
    }
}
