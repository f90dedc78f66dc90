//! GEMM on every target this machine runs, against an f64 reference with a
//! tolerance scaled by K: square shapes up to 257, random shapes, strides,
//! transposes and alpha/beta, the BLAS edge semantics, and the typed errors.

use gemmkit::{Element, GemmError, MatMut, MatRef, Target, gemm_on};
use proptest::prelude::*;
use workspace_tests::{Float, Rng};

/// A matrix stored with explicit strides (and slack after the last element).
#[derive(Clone, Debug)]
struct Stored<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// The layouts a test matrix can have.
#[derive(Clone, Copy, Debug)]
enum Layout {
    RowMajor {
        pad: usize,
    },
    ColMajor {
        pad: usize,
    },
    /// Neither stride is 1.
    General,
}

/// GEMM's element types, with the tests' f64 conversions.
trait Num: Element + Float {}
impl<T: Element + Float> Num for T {}

impl<T: Num> Stored<T> {
    fn new(rng: &mut Rng, rows: usize, cols: usize, layout: Layout) -> Self {
        let (rs, cs) = match layout {
            Layout::RowMajor { pad } => (cols + pad, 1),
            Layout::ColMajor { pad } => (1, rows + pad),
            Layout::General => (2 * cols + 1, 2),
        };
        let len = if rows == 0 || cols == 0 {
            3
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1 + 3
        };
        Stored {
            data: (0..len).map(|_| T::of(rng.unit())).collect(),
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
    /// The transposed matrix, stored with swapped strides (same data).
    fn transposed(self) -> Self {
        Stored {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }
}

/// Runs `gemm_on` and compares every element of C (and the slack around it)
/// with the f64 reference.
#[allow(clippy::too_many_arguments)]
fn check<T: Num>(target: &Target, alpha: f64, a: &Stored<T>, b: &Stored<T>, beta: f64, c0: &Stored<T>, what: &str) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let mut c = c0.clone();
    gemm_on(target, T::of(alpha), a.view(), b.view(), T::of(beta), c.view_mut())
        .unwrap_or_else(|e| panic!("{}: {what}: {e}", target.name));
    let mut inside = vec![false; c.data.len()];
    for i in 0..m {
        for j in 0..n {
            inside[i * c.rs + j * c.cs] = true;
            let (mut dot, mut mag) = (0.0f64, 0.0f64);
            for p in 0..k {
                let x = a.at(i, p).f() * b.at(p, j).f();
                dot += x;
                mag += x.abs();
            }
            let old = c0.at(i, j).f();
            let (want, scale) = if beta == 0.0 {
                (alpha * dot, alpha.abs() * mag)
            } else {
                (alpha * dot + beta * old, alpha.abs() * mag + (beta * old).abs())
            };
            let got = c.at(i, j).f();
            let tol = 2.0 * (k as f64 + 2.0) * T::EPS * scale;
            assert!(
                (got - want).abs() <= tol,
                "{}: {what}: C({i},{j}) = {got} but the reference is {want} (tol {tol:e}); m={m} n={n} k={k} alpha={alpha} beta={beta}",
                target.name
            );
        }
    }
    for (idx, (g, o)) in c.data.iter().zip(&c0.data).enumerate() {
        if !inside[idx] {
            assert!(
                g.f().to_bits() == o.f().to_bits(),
                "{}: {what}: wrote outside C at offset {idx}",
                target.name
            );
        }
    }
}

fn targets() -> Vec<&'static Target> {
    gemmkit::available().collect()
}

/// The square sizes the issue lists up to 257, in both precisions, with every
/// alpha/beta case, on every target.
fn squares<T: Num>() {
    for t in targets() {
        let mut rng = Rng::new(7);
        for n in [1, 2, 3, 7, 8, 16, 17, 32, 33, 64, 128, 255, 256, 257] {
            let a = Stored::<T>::new(&mut rng, n, n, Layout::RowMajor { pad: 0 });
            let b = Stored::<T>::new(&mut rng, n, n, Layout::RowMajor { pad: 0 });
            let c = Stored::<T>::new(&mut rng, n, n, Layout::RowMajor { pad: 0 });
            let cases: &[(f64, f64)] = if n > 128 {
                &[(0.7, -1.0)]
            } else {
                &[(1.0, 0.0), (-1.0, 1.0), (0.7, 0.7), (0.0, -1.0)]
            };
            for &(alpha, beta) in cases {
                check(t, alpha, &a, &b, beta, &c, &format!("square {n}"));
            }
        }
    }
}

#[test]
fn squares_f32() {
    squares::<f32>();
}

#[test]
fn squares_f64() {
    squares::<f64>();
}

/// Every row count the small path splits into instance blocks (whole blocks,
/// exact remainders, remainders moved up over rows already stored, and one-row
/// blocks), with ragged and whole column vectors, beta zero and not, in both
/// precisions, with A row- and column-major and in both orientations of C.
#[test]
fn small_path_every_row_count() {
    for t in targets() {
        let mut rng = Rng::new(9);
        for m in 1..=40 {
            for (n, k) in [(1, 3), (5, 9), (16, 1), (17, 16), (33, 7), (64, 2)] {
                let a = Stored::<f32>::new(&mut rng, m, k, Layout::RowMajor { pad: 0 });
                let b = Stored::<f32>::new(&mut rng, k, n, Layout::RowMajor { pad: 1 });
                let c = Stored::<f32>::new(&mut rng, m, n, Layout::RowMajor { pad: 3 });
                for (alpha, beta) in [(1.0, 0.0), (0.7, 0.0), (-1.0, 0.7)] {
                    check(t, alpha, &a, &b, beta, &c, &format!("small {m}x{n}x{k}"));
                }
                // A column-major: the instances that address it at constant offsets.
                let a = Stored::<f32>::new(&mut rng, m, k, Layout::ColMajor { pad: 1 });
                check(t, -1.0, &a, &b, 0.7, &c, &format!("small {m}x{n}x{k}, A column-major"));
                let a = Stored::<f64>::new(&mut rng, m, k, Layout::ColMajor { pad: 2 });
                let b = Stored::<f64>::new(&mut rng, k, n, Layout::RowMajor { pad: 0 });
                let c = Stored::<f64>::new(&mut rng, m, n, Layout::RowMajor { pad: 0 });
                check(t, 1.0, &a, &b, 1.0, &c, &format!("small f64 {m}x{n}x{k}"));
                // C column-major: the transposed product, so n becomes the rows.
                let b = Stored::<f64>::new(&mut rng, k, m, Layout::RowMajor { pad: 0 });
                let c = Stored::<f64>::new(&mut rng, n, m, Layout::ColMajor { pad: 1 });
                let a = Stored::<f64>::new(&mut rng, n, k, Layout::ColMajor { pad: 0 });
                check(
                    t,
                    0.7,
                    &a,
                    &b,
                    0.0,
                    &c,
                    &format!("small f64 {n}x{m}x{k}, C column-major"),
                );
            }
        }
    }
}

/// Small problems big enough to split their rows between the threads of the
/// test's rayon pool (`small_par`), in every orientation the small path takes:
/// A row- and column-major, C row-major and column-major (the transposed
/// product, whose rows are C's columns), with row counts that end in a partial
/// item.
#[test]
fn small_path_split_between_threads() {
    fn case<T: Num>(t: &Target, rng: &mut Rng, (m, n, k): (usize, usize, usize), la: Layout, lc: Layout) {
        let a = Stored::<T>::new(rng, m, k, la);
        let b = Stored::<T>::new(rng, k, n, Layout::RowMajor { pad: 0 });
        let c = Stored::<T>::new(rng, m, n, lc);
        let what = format!("small split {m}x{n}x{k} {la:?} {lc:?}");
        check(t, 0.7, &a, &b, -1.0, &c, &what);
        check(t, 1.0, &a, &b, 0.0, &c, &what);
    }
    for t in targets() {
        let mut rng = Rng::new(11);
        for shape in [(100, 97, 128), (128, 128, 128), (85, 120, 99), (250, 256, 201)] {
            for (la, lc) in [
                (Layout::RowMajor { pad: 1 }, Layout::RowMajor { pad: 2 }),
                (Layout::ColMajor { pad: 0 }, Layout::RowMajor { pad: 0 }),
                (Layout::ColMajor { pad: 3 }, Layout::ColMajor { pad: 1 }),
            ] {
                case::<f32>(t, &mut rng, shape, la, lc);
                case::<f64>(t, &mut rng, shape, la, lc);
            }
        }
    }
}

/// Matrix-vector products (the GEMV path): `m == 1`, and `n == 1` as its
/// transpose, with n and k of 0, 1, odd, 2^n and 2^n +- 1, and lengths that
/// split k; W (B, or A for `n == 1`) row-major, column-major and with no unit
/// stride; the vectors contiguous, strided and (their length-1 dimension)
/// with any stride; alpha and beta in every BLAS case, NaN in y with beta 0.
fn gemv_cases<T: Num>(t: &Target) {
    let mut rng = Rng::new(17);
    let lengths = [0, 1, 2, 7, 15, 16, 17, 63, 64, 65, 200];
    let layouts = [
        Layout::RowMajor { pad: 0 },
        Layout::ColMajor { pad: 3 },
        Layout::General,
    ];
    let scalars = [(1.0, 0.0), (0.7, 0.0), (-1.0, 1.0), (0.7, -0.3), (0.0, 2.0)];
    let mut case = 0usize;
    let mut run = |rng: &mut Rng, (m, n, k): (usize, usize, usize), lw: Layout, lv: Layout, lc: Layout| {
        case += 1;
        let (alpha, beta) = scalars[case % scalars.len()];
        // The matrix is A where n == 1 (and m > 1), B otherwise.
        let (la, lb) = if n == 1 && m > 1 { (lw, lv) } else { (lv, lw) };
        let a = Stored::<T>::new(rng, m, k, la);
        let b = Stored::<T>::new(rng, k, n, lb);
        let mut c = Stored::<T>::new(rng, m, n, lc);
        if beta == 0.0 {
            c.data.iter_mut().for_each(|x| *x = T::of(f64::NAN));
        }
        let what = format!("gemv {m}x{n}x{k} W {lw:?} vector {lv:?} C {lc:?}");
        check(t, alpha, &a, &b, beta, &c, &what);
    };
    for &n in &lengths {
        for &k in &lengths {
            for &lw in &layouts {
                for &lv in &layouts {
                    run(&mut rng, (1, n, k), lw, lv, layouts[(n + k) % 3]);
                    run(&mut rng, (n, 1, k), lw, lv, layouts[(n + 2 * k) % 3]);
                }
            }
        }
    }
    // Long enough to thread, and (n at most 256, k long) to split k.
    for shape in [
        (1, 1000, 700),
        (700, 1, 1000),
        (1, 100, 9000),
        (1, 3, 20000),
        (5000, 1, 4500),
        (1, 1, 10000),
    ] {
        for &lw in &layouts[..2] {
            run(
                &mut rng,
                shape,
                lw,
                Layout::RowMajor { pad: 0 },
                Layout::RowMajor { pad: 0 },
            );
            run(&mut rng, shape, lw, Layout::General, Layout::ColMajor { pad: 1 });
        }
    }
}

#[test]
fn gemv_shapes_strides_and_scalars() {
    // Every product with one row on the GEMV path, small ones by a row-major
    // W included (the small path is tested on its own). Other tests may run
    // meanwhile: they take other paths, as correct.
    let own = gemmkit::tuning(gemmkit::best());
    gemmkit::set_tuning(Some(gemmkit::Tuning { gemv_small: 0, ..own })).expect("valid tuning");
    for t in targets() {
        gemv_cases::<f32>(t);
        gemv_cases::<f64>(t);
    }
    gemmkit::set_tuning(None).expect("the targets' own");
}

/// A vector's length-1 dimension may have any stride: the plan is the same
/// (the GEMV path, one form) whichever the caller gives, so no choice is
/// slower than another.
#[test]
fn gemv_plan_ignores_the_stride_of_a_length_1_dimension() {
    use gemmkit::{GemvForm, Parallelism, Path};
    let t = gemmkit::best();
    let (n, k) = (300, 500);
    let w = vec![0.0f32; n * k];
    let x = vec![0.0f32; 4 * k * n];
    let mut y = vec![0.0f32; 4 * k * n];
    let plan = |a: MatRef<'_, f32>, b: MatRef<'_, f32>, c: &MatMut<'_, f32>| {
        gemmkit::plan(t, &Parallelism::Sequential, a, b, c).expect("plan")
    };
    for (wv, form) in [
        (MatRef::row_major(&w, k, n), GemvForm::Axpy),
        (MatRef::row_major(&w, n, k).t(), GemvForm::Dot),
    ] {
        // x as 1 x k and y as 1 x n with row strides that are meaningless.
        let mut plans = Vec::new();
        for (rsx, rsy) in [(k, n), (1, 1), (7, 1), (1, 3 * n)] {
            let xv = MatRef::strided(&x, 1, k, rsx, 1);
            plans.push(plan(xv, wv, &MatMut::strided(&mut y, 1, n, rsy, 1)));
        }
        assert!(
            matches!(plans[0].path, Path::Gemv(g) if g.form == form),
            "{:?}",
            plans[0]
        );
        assert!(plans.iter().all(|p| *p == plans[0]), "{plans:?}");
        // The same product as `Cᵀ = Wᵀ xᵀ`: x as a k x 1 column, y as n x 1.
        let mut plans = Vec::new();
        for (csx, csy) in [(1, 1), (k, n), (9, 2)] {
            let xv = MatRef::strided(&x, k, 1, 1, csx);
            plans.push(plan(wv.t(), xv, &MatMut::strided(&mut y, n, 1, 1, csy)));
        }
        assert!(
            matches!(plans[0].path, Path::Gemv(g) if g.form == form),
            "{:?}",
            plans[0]
        );
        assert!(plans.iter().all(|p| *p == plans[0]), "{plans:?}");
    }
}

/// B's last few columns by dot products (`dot_edge`): every column count up to
/// half a vector after zero, one and two whole strips; row counts that are one
/// block, end in a block moved up over rows already stored, or in a whole one;
/// k with and without a partial last vector; B row-major (copied) and
/// column-major (read in place); C row- and column-major; beta zero and not.
fn dot_edge_cases<T: Num>(t: &Target, s: gemmkit::Shape) {
    let mut rng = Rng::new(10);
    let rows = s.mr * (s.nr / s.lanes) / 4;
    for w in 1..=(s.lanes / 2).max(1) {
        for strips in [0, 1, 2] {
            let n = strips * s.nr + w;
            // k past the small path's limit, so every case takes the blocked path.
            let s = gemmkit::tuning(gemmkit::best()).small;
            for (m, k) in [
                (rows, s + 1),
                (rows + 1, s + 16),
                (2 * rows - 1, s + 15),
                (3 * rows, s + 2),
            ] {
                let cases = [
                    (Layout::RowMajor { pad: 1 }, Layout::RowMajor { pad: 0 }, 1.0, 0.0),
                    (Layout::ColMajor { pad: 2 }, Layout::RowMajor { pad: 3 }, 0.7, -1.0),
                    (Layout::RowMajor { pad: 0 }, Layout::ColMajor { pad: 1 }, -1.0, 0.7),
                ];
                for (b_layout, c_layout, alpha, beta) in cases {
                    let a = Stored::<T>::new(&mut rng, m, k, Layout::RowMajor { pad: 2 });
                    let b = Stored::<T>::new(&mut rng, k, n, b_layout);
                    let c = Stored::<T>::new(&mut rng, m, n, c_layout);
                    check(
                        t,
                        alpha,
                        &a,
                        &b,
                        beta,
                        &c,
                        &format!("dot edge {m}x{n}x{k} B {b_layout:?} C {c_layout:?}"),
                    );
                }
            }
        }
    }
}

/// Skinny products (a few rows of A) with B's columns contiguous, which the
/// plan computes as `Cᵀ = Bᵀ Aᵀ` with B read in place: rows around the tile
/// heights and the skinny limit, every layout of A and C, all scalars.
#[test]
fn skinny_products_with_b_stored_by_columns() {
    let mut rng = Rng::new(29);
    let layouts = [
        Layout::RowMajor { pad: 1 },
        Layout::ColMajor { pad: 2 },
        Layout::General,
    ];
    let scalars = [(1.0, 0.0), (0.7, -0.3), (-1.0, 1.0)];
    for t in targets() {
        for (case, &m) in [2usize, 5, 13, 64, 127, 128].iter().enumerate() {
            let (n, k) = (4 * m + 300 + case, 260 + 7 * case);
            let (alpha, beta) = scalars[case % scalars.len()];
            let a = Stored::<f32>::new(&mut rng, m, k, layouts[case % 3]);
            let b = Stored::<f32>::new(&mut rng, k, n, Layout::ColMajor { pad: case % 2 });
            let mut c = Stored::<f32>::new(&mut rng, m, n, layouts[(case + 1) % 3]);
            if beta == 0.0 {
                c.data.iter_mut().for_each(|x| *x = f32::NAN);
            }
            check(t, alpha, &a, &b, beta, &c, &format!("skinny {m}x{n}x{k}"));
        }
    }
}

#[test]
fn dot_edge_columns() {
    for t in targets() {
        dot_edge_cases::<f32>(t, t.shapes.f32);
        dot_edge_cases::<f64>(t, t.shapes.f64);
    }
}

/// Sizes that cross KC/MC/NC blocks (and a power-of-two leading dimension), each
/// with A row-major (read in place, edge panels packed) and transposed (packed).
#[test]
fn crosses_every_block_boundary() {
    for t in targets() {
        let mut rng = Rng::new(8);
        for (m, n, k) in [(300, 70, 1100), (1030, 40, 40), (20, 9000, 3), (150, 530, 600)] {
            let a = Stored::<f32>::new(&mut rng, m, k, Layout::RowMajor { pad: 0 });
            let b = Stored::<f32>::new(&mut rng, k, n, Layout::RowMajor { pad: 0 });
            let c = Stored::<f32>::new(&mut rng, m, n, Layout::RowMajor { pad: 2048 - n % 2048 });
            check(t, 0.7, &a, &b, 1.0, &c, &format!("blocks {m}x{n}x{k}"));
            // A transposed: packed rather than read in place.
            let at = Stored::<f32>::new(&mut rng, k, m, Layout::RowMajor { pad: 0 }).transposed();
            check(t, 0.7, &at, &b, 1.0, &c, &format!("blocks {m}x{n}x{k}, A transposed"));
        }
    }
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        (0usize..4).prop_map(|pad| Layout::RowMajor { pad }),
        (0usize..4).prop_map(|pad| Layout::ColMajor { pad }),
        Just(Layout::General),
    ]
}

fn scalar() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), Just(-1.0), Just(0.7)]
}

fn dim() -> impl Strategy<Value = usize> {
    // Up to and past the small path's limit.
    prop_oneof![
        Just(0usize),
        Just(1),
        1usize..70,
        Just(127),
        Just(gemmkit::tuning(gemmkit::best()).small),
        Just(gemmkit::tuning(gemmkit::best()).small + 1)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_shapes_strides_transposes_and_scalars(
        m in dim(), n in dim(), k in dim(),
        la in layout(), lb in layout(), lc in layout(),
        ta in any::<bool>(), tb in any::<bool>(),
        alpha in scalar(), beta in scalar(), double in any::<bool>(), seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        for t in targets() {
            if double {
                let a = if ta { Stored::<f64>::new(&mut rng, k, m, la).transposed() } else { Stored::new(&mut rng, m, k, la) };
                let b = if tb { Stored::<f64>::new(&mut rng, n, k, lb).transposed() } else { Stored::new(&mut rng, k, n, lb) };
                let c = Stored::<f64>::new(&mut rng, m, n, lc);
                check(t, alpha, &a, &b, beta, &c, "random f64");
            } else {
                let a = if ta { Stored::<f32>::new(&mut rng, k, m, la).transposed() } else { Stored::new(&mut rng, m, k, la) };
                let b = if tb { Stored::<f32>::new(&mut rng, n, k, lb).transposed() } else { Stored::new(&mut rng, k, n, lb) };
                let c = Stored::<f32>::new(&mut rng, m, n, lc);
                check(t, alpha, &a, &b, beta, &c, "random f32");
            }
        }
    }
}

#[test]
fn beta_zero_overwrites_nan_and_alpha_zero_ignores_a_and_b() {
    for t in targets() {
        let (m, n, k) = (37, 45, 19);
        let nan_a = vec![f32::NAN; m * k];
        let nan_b = vec![f32::NAN; k * n];
        let ones = vec![1.0f32; m * k.max(n)];
        // beta = 0: NaN in C must not leak.
        let mut c = vec![f32::NAN; m * n];
        gemm_on(
            t,
            1.0,
            MatRef::row_major(&ones[..m * k], m, k),
            MatRef::row_major(&ones[..k * n], k, n),
            0.0,
            MatMut::row_major(&mut c, m, n),
        )
        .unwrap();
        assert!(c.iter().all(|&x| x == k as f32), "{}: beta = 0 leaked C", t.name);
        // alpha = 0: A and B (NaN) are not read; C = beta * C.
        let mut c = vec![2.0f32; m * n];
        gemm_on(
            t,
            0.0,
            MatRef::row_major(&nan_a, m, k),
            MatRef::row_major(&nan_b, k, n),
            0.5,
            MatMut::row_major(&mut c, m, n),
        )
        .unwrap();
        assert!(c.iter().all(|&x| x == 1.0), "{}: alpha = 0 read A or B", t.name);
        // alpha = 0, beta = 0: zeros, even over NaN.
        let mut c = vec![f32::NAN; m * n];
        gemm_on(
            t,
            0.0,
            MatRef::row_major(&nan_a, m, k),
            MatRef::row_major(&nan_b, k, n),
            0.0,
            MatMut::row_major(&mut c, m, n),
        )
        .unwrap();
        assert!(c.iter().all(|&x| x == 0.0), "{}: alpha = beta = 0", t.name);
        // k = 0 scales C by beta.
        let mut c = vec![3.0f64; m * n];
        gemm_on(
            t,
            1.0,
            MatRef::<f64>::row_major(&[], m, 0),
            MatRef::row_major(&[], 0, n),
            -2.0,
            MatMut::row_major(&mut c, m, n),
        )
        .unwrap();
        assert!(c.iter().all(|&x| x == -6.0), "{}: k = 0", t.name);
        // m = 0 or n = 0: nothing to do, nothing touched.
        let mut c: Vec<f64> = vec![];
        gemm_on(
            t,
            1.0,
            MatRef::<f64>::row_major(&[], 0, 3),
            MatRef::row_major(&[1.0; 6], 3, 2),
            1.0,
            MatMut::row_major(&mut c, 0, 2),
        )
        .unwrap();
    }
}

#[test]
fn matmul_contiguous_row_major() {
    let (m, n, k) = (5, 3, 4);
    let a: Vec<f64> = (0..m * k).map(|x| x as f64).collect();
    let b: Vec<f64> = (0..k * n).map(|x| (x % 3) as f64).collect();
    let mut c = vec![f64::NAN; m * n];
    gemmkit::matmul(m, n, k, &a, &b, &mut c).unwrap();
    for i in 0..m {
        for j in 0..n {
            let want: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            assert_eq!(c[i * n + j], want);
        }
    }
}

fn err(r: Result<(), GemmError>) -> String {
    r.expect_err("should be rejected").to_string()
}

#[test]
fn bad_shapes_strides_and_lengths_are_typed_errors_naming_the_argument() {
    let t = gemmkit::best();
    let x = vec![0.0f32; 64];
    let mut y = vec![1.0f32; 64];
    let msg = err(gemm_on(
        t,
        1.0,
        MatRef::row_major(&x[..12], 3, 4),
        MatRef::row_major(&x[..15], 5, 3),
        0.0,
        MatMut::row_major(&mut y[..9], 3, 3),
    ));
    assert!(
        msg.starts_with("b:") && msg.contains("5 rows") && msg.contains("4"),
        "{msg}"
    );
    let msg = err(gemm_on(
        t,
        1.0,
        MatRef::row_major(&x[..12], 3, 4),
        MatRef::row_major(&x[..12], 4, 3),
        0.0,
        MatMut::row_major(&mut y[..6], 2, 3),
    ));
    assert!(msg.starts_with("c:") && msg.contains("rows"), "{msg}");
    let msg = err(gemm_on(
        t,
        1.0,
        MatRef::row_major(&x[..12], 3, 4),
        MatRef::row_major(&x[..12], 4, 3),
        0.0,
        MatMut::row_major(&mut y[..12], 3, 4),
    ));
    assert!(msg.starts_with("c:") && msg.contains("cols"), "{msg}");
    let msg = err(gemm_on(
        t,
        1.0,
        MatRef::row_major(&x[..11], 3, 4),
        MatRef::row_major(&x[..12], 4, 3),
        0.0,
        MatMut::row_major(&mut y[..9], 3, 3),
    ));
    assert!(
        msg.starts_with("a:") && msg.contains("needs 12 elements but the slice has 11"),
        "{msg}"
    );
    let msg = err(gemm_on(
        t,
        1.0,
        MatRef::row_major(&x[..12], 3, 4),
        MatRef::strided(&x, 4, 3, usize::MAX, 1),
        0.0,
        MatMut::row_major(&mut y[..9], 3, 3),
    ));
    assert!(msg.starts_with("b:") && msg.contains("overflows"), "{msg}");
    // Offsets whose sum overflows however wide the arithmetic: every dimension
    // and stride at its maximum.
    let huge = usize::MAX;
    let msg = err(gemm_on(
        t,
        1.0,
        MatRef::strided(&x, huge, huge, huge, huge),
        MatRef::strided(&x, huge, 3, 0, 0),
        0.0,
        MatMut::strided(&mut y, huge, 3, 0, 0),
    ));
    assert!(msg.starts_with("a:") && msg.contains("overflows"), "{msg}");
    let msg = err(gemm_on(
        t,
        1.0,
        MatRef::row_major(&x[..12], 3, 4),
        MatRef::row_major(&x[..12], 4, 3),
        0.0,
        MatMut::strided(&mut y, 3, 3, 1, 1),
    ));
    assert!(msg.starts_with("c:") && msg.contains("share memory"), "{msg}");
    let before = y.clone();
    let msg = err(gemmkit::matmul(3, 3, 4, &x[..12], &x[..11], &mut y[..9]));
    assert!(msg.starts_with("b:") && msg.contains("11"), "{msg}");
    assert_eq!(y, before, "a rejected call wrote C");
    // Broadcast inputs (stride 0) are fine to read.
    let mut c = vec![0.0f32; 9];
    gemm_on(
        t,
        1.0,
        MatRef::strided(&x[..1], 3, 4, 0, 0),
        MatRef::row_major(&x[..12], 4, 3),
        0.0,
        MatMut::row_major(&mut c, 3, 3),
    )
    .unwrap();
}

#[test]
fn blocking_override_is_validated_and_used() {
    assert!(gemmkit::set_blocking(Some(gemmkit::Blocking { kc: 0, mc: 8, nc: 8 })).is_err());
    // Tiny blocks put every block boundary inside a small problem. Other tests in
    // this process may run meanwhile with the override: still correct, only slower.
    gemmkit::set_blocking(Some(gemmkit::Blocking { kc: 7, mc: 13, nc: 5 })).expect("valid blocking");
    let mut rng = Rng::new(9);
    // m past the small path's limit, so the blocked path takes it.
    let (m, n, k) = (gemmkit::tuning(gemmkit::best()).small + 3, 150, 97);
    for t in targets() {
        let a = Stored::<f64>::new(&mut rng, m, k, Layout::ColMajor { pad: 1 });
        let b = Stored::<f64>::new(&mut rng, k, n, Layout::RowMajor { pad: 3 });
        let c = Stored::<f64>::new(&mut rng, m, n, Layout::RowMajor { pad: 0 });
        check(t, -1.0, &a, &b, 0.7, &c, "tiny blocking override");
    }
    gemmkit::set_blocking(None).expect("back to the model");
}

/// Inputs a hostile caller tried: each is a typed error naming its argument, or
/// is computed correctly, and none panics.
#[test]
fn hostile_inputs_are_typed_errors_not_panics() {
    use gemmkit::{BatchLayout, Blocking, Parallelism};
    // A block size whose rounding or per-thread multiple would overflow.
    for (field, b) in [
        (
            "nc",
            Blocking {
                kc: 64,
                mc: 64,
                nc: usize::MAX,
            },
        ),
        (
            "kc",
            Blocking {
                kc: Blocking::MAX + 1,
                mc: 64,
                nc: 64,
            },
        ),
        (
            "mc",
            Blocking {
                kc: 64,
                mc: usize::MAX,
                nc: 64,
            },
        ),
    ] {
        let msg = err(gemmkit::set_blocking(Some(b)));
        assert!(msg.starts_with(&format!("blocking: {field} =")), "{msg}");
    }
    // The largest accepted blocks still compute (the blocks shrink to the problem).
    let (m, n, k) = (gemmkit::tuning(gemmkit::best()).small + 5, 33, 41);
    let t = gemmkit::best();
    let mut rng = Rng::new(33);
    let a = Stored::<f64>::new(&mut rng, m, k, Layout::RowMajor { pad: 0 });
    let b = Stored::<f64>::new(&mut rng, k, n, Layout::RowMajor { pad: 0 });
    let c = Stored::<f64>::new(&mut rng, m, n, Layout::RowMajor { pad: 0 });
    let max = Blocking::MAX;
    gemmkit::set_blocking(Some(Blocking {
        kc: max,
        mc: max,
        nc: max,
    }))
    .expect("largest blocks");
    check(t, 1.0, &a, &b, 0.5, &c, "largest blocking override");
    gemmkit::set_blocking(None).expect("back to the model");

    // A strided batch of usize::MAX empty problems: nothing to do, in no time
    // and no memory.
    let empty = BatchLayout {
        count: usize::MAX,
        rows: 0,
        cols: 0,
        row_stride: 0,
        col_stride: 0,
        batch_stride: 0,
    };
    let seq = Parallelism::Sequential;
    let mut none: [f32; 0] = [];
    gemmkit::gemm_batch_strided(&seq, 1.0f32, &[], empty, &[], empty, 0.0, &mut none, empty).expect("empty batch");
    // ... and of usize::MAX real ones: their last matrix is past any slice.
    let ones = BatchLayout::row_major(usize::MAX, 1, 1);
    let (x, mut y) = ([1.0f32; 4], [0.0f32; 4]);
    let msg = err(gemmkit::gemm_batch_strided(
        &seq, 1.0, &x, ones, &x, ones, 0.0, &mut y, ones,
    ));
    assert!(msg.contains(&format!("batch problem {}: a:", usize::MAX - 1)), "{msg}");
    let far = BatchLayout {
        batch_stride: usize::MAX / 2,
        ..BatchLayout::row_major(4, 1, 1)
    };
    let msg = err(gemmkit::gemm_batch_strided(
        &seq, 1.0, &x, far, &x, far, 0.0, &mut y, far,
    ));
    assert!(
        msg.contains("a: 4 matrices at a batch stride") && msg.contains("past usize"),
        "{msg}"
    );
    assert_eq!(y, [0.0; 4], "a rejected batch wrote C");
    // A shape past usize saturates its batch stride, which is then refused.
    let side = 1usize << (usize::BITS / 2 + 1);
    let l = BatchLayout::row_major(2, side, side);
    assert_eq!(l.batch_stride, usize::MAX);
    let msg = err(gemmkit::gemm_batch_strided(&seq, 1.0, &x, l, &x, l, 0.0, &mut y, l));
    assert!(msg.starts_with("c:") && msg.contains("overflows usize"), "{msg}");

    // An interleaved C (2 x 3, strides (3, 2): offsets 0, 2, 4, 3, 5, 7) has
    // no two elements in one place: accepted, and computed.
    let a = Stored::<f64>::new(&mut rng, 2, 5, Layout::RowMajor { pad: 0 });
    let b = Stored::<f64>::new(&mut rng, 5, 3, Layout::RowMajor { pad: 0 });
    let mut c = vec![7.0f64; 8];
    gemm_on(t, 1.0, a.view(), b.view(), 0.0, MatMut::strided(&mut c, 2, 3, 3, 2)).expect("interleaved C");
    for (i, j) in (0..2).flat_map(|i| (0..3).map(move |j| (i, j))) {
        let want: f64 = (0..5).map(|p| a.at(i, p) * b.at(p, j)).sum();
        assert!((c[3 * i + 2 * j] - want).abs() < 1e-12, "({i}, {j})");
    }
    assert_eq!((c[1], c[6]), (7.0, 7.0), "wrote outside the view");
    // Rows that overlap (strides (2, 1): row 1 starts at row 0's last element).
    let msg = err(gemm_on(
        t,
        1.0,
        a.view(),
        b.view(),
        0.0,
        MatMut::strided(&mut c, 2, 3, 2, 1),
    ));
    assert!(msg.starts_with("c:") && msg.contains("share memory"), "{msg}");

    // Messages that say what is wrong.
    let huge = usize::MAX / 2;
    let msg = err(gemmkit::matmul(huge, 1, 3, &[0.0f32], &[0.0; 3], &mut [0.0]));
    assert_eq!(
        msg,
        format!("a: a {huge} x 3 matrix has more elements than usize can count")
    );
    let one = [MatRef::row_major(&x[..1], 1, 1)];
    let msg = err(gemmkit::gemm_batch(&seq, 1.0, &one, &one, 0.0, &mut []));
    assert_eq!(msg, "a: 1 matrices in the batch but c has 0");
}
