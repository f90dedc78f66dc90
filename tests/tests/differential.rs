//! Every generated kernel, on every target this machine can run, against the same
//! kernel executed on the scalar reference with the same lane count and tile shape:
//! exact for integers and copies, a K-scaled tolerance for floating-point sums.
//!
//! One test module per compiled-in target (`avx512::microkernel`, ...). A target the
//! CPU cannot run prints `NOT EXECUTED` on stderr (outside the output capture) and
//! passes: it is still compiled here.

use gemmkit::generated::{
    ApplyPackedOutputFn, DotEdge, DotEdgeConsts, DotEdgeFn, DotKernels, Instance, Microkernel, MicrokernelConsts,
    MicrokernelDotFn, MicrokernelFn, PackLhsFn, PackRhsFn,
};
use gemmkit::{Target, TargetError};
use kernels::{DotVec, FloatVec, Ref, bf16_to_f32};
use workspace_tests::{Float, Rng, not_executed};

const SENTINEL: f64 = 12345.0;
/// Scalar-with-NaN alpha/beta pairs: copy, scale, accumulate, general, and beta = 0
/// with NaN in C.
const ALPHA_BETA: &[(f64, f64)] = &[(1.0, 0.0), (0.7, 0.0), (1.0, 1.0), (-1.0, 1.0), (0.7, -0.3), (0.0, 1.5)];

/// `vecs`, or `tile` where the tile has fewer vectors (`(NR / LANES).min(vecs)`,
/// in a const context).
const fn upto(tile: usize, vecs: usize) -> usize {
    if tile < vecs { tile } else { vecs }
}

fn random<E: Float>(rng: &mut Rng, n: usize) -> Vec<E> {
    (0..n).map(|_| E::of(rng.unit())).collect()
}

fn same<E: Float>(a: E, b: E) -> bool {
    a == b || (a.f().is_nan() && b.f().is_nan())
}

/// The target `name`, or `None` (after saying so) when this CPU cannot run it.
fn table(name: &str) -> Option<&'static Target> {
    match gemmkit::target(name) {
        Ok(t) => Some(t),
        Err(e @ TargetError::Unsupported { .. }) => {
            not_executed(name, &e.to_string());
            None
        }
        Err(e) => panic!("target `{name}` is compiled in but cannot be looked up: {e}"),
    }
}

/// Packs with `reference` and with `kern` into sentinel-filled buffers of
/// `blocks` blocks of `used` elements, `stride` apart (strips of B, panels of
/// A): the same values everywhere, and nothing written between the blocks.
fn check_packed<E: Float>(
    ctx: &str,
    (blocks, used, stride): (usize, usize, usize),
    reference: &dyn Fn(*mut E),
    kern: &dyn Fn(*mut E),
) {
    let run = |f: &dyn Fn(*mut E)| {
        let mut dst = vec![E::of(SENTINEL); blocks * stride];
        f(dst.as_mut_ptr());
        dst
    };
    let (want, got) = (run(reference), run(kern));
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if i % stride >= used {
            assert!(g.f() == SENTINEL, "{ctx} at {i}: wrote between blocks");
        }
        assert!(same(*g, *w), "{ctx} at {i}: {g:?} != {w:?}");
    }
}

fn check_pack_rhs<V: FloatVec>(target: &str, kern: PackRhsFn<V::Elem>)
where
    V::Elem: Float,
{
    let nr = V::NR;
    let mut rng = Rng::new(1);
    for k in [0, 1, 3, 17, 64] {
        // Every width of one strip, then several strips with ragged ends.
        for n in (1..=nr).chain([2 * nr, 2 * nr + 1, 3 * nr + nr / 2 + 1]) {
            let strips = n.div_ceil(nr);
            // Strips spaced apart, as in a block packed in row chunks.
            let stride = k * nr + 5;
            // Row-major (padded rows), column-major (padded columns), general strides.
            for (rs, cs) in [(n + 3, 1), (1, k + 2), (2 * n + 1, 2)] {
                let b: Vec<V::Elem> = random(&mut rng, k.max(1) * rs + n * cs + 1);
                check_packed(
                    &format!("{target}: pack_rhs k={k} n={n} rs={rs} cs={cs}"),
                    (strips, k * nr, stride),
                    &|d| unsafe { kernels::base_pack_rhs::<V>(k, n, b.as_ptr(), rs, cs, d, stride) },
                    &|d| unsafe { kern(k, n, b.as_ptr(), rs, cs, d, stride) },
                );
            }
        }
    }
}

fn check_pack_lhs<V: FloatVec>(target: &str, kern: PackLhsFn<V::Elem>)
where
    V::Elem: Float,
{
    let mr = V::MR;
    let mut rng = Rng::new(6);
    for k in [0, 1, 3, 17, 64] {
        // Every height of one panel, then several panels with ragged ends.
        for m in (1..=mr).chain([2 * mr, 2 * mr + 1, 3 * mr + mr / 2 + 1]) {
            let panels = m.div_ceil(mr);
            // Panels spaced apart, as in a block packed in chunks of columns.
            let stride = mr * k + 5;
            // Column-major (padded columns), row-major (padded rows), general strides.
            for (rs, cs) in [(1, m + 2), (k + 3, 1), (2 * k + 1, 2)] {
                let a: Vec<V::Elem> = random(&mut rng, m * rs + k.max(1) * cs + 1);
                check_packed(
                    &format!("{target}: pack_lhs m={m} k={k} rs={rs} cs={cs}"),
                    (panels, mr * k, stride),
                    &|d| unsafe { kernels::base_pack_lhs::<V>(m, k, a.as_ptr(), rs, cs, d, stride) },
                    &|d| unsafe { kern(m, k, a.as_ptr(), rs, cs, d, stride) },
                );
            }
        }
    }
}

fn check_apply<V: FloatVec>(target: &str, kern: ApplyPackedOutputFn<V::Elem>)
where
    V::Elem: Float,
{
    let l = V::LANES;
    let mut rng = Rng::new(2);
    for m in [1, 3, V::MR] {
        for n in [1, l.saturating_sub(1).max(1), l, l + 1, 2 * l + 3, 37] {
            for &(alpha, beta) in ALPHA_BETA {
                let (ldp, ldc) = (n + 2, n + 5);
                let p: Vec<V::Elem> = random(&mut rng, m * ldp);
                let mut c0: Vec<V::Elem> = random(&mut rng, m * ldc);
                if beta == 0.0 {
                    c0.iter_mut().for_each(|x| *x = V::Elem::of(f64::NAN));
                }
                let run = |f: &dyn Fn(*mut V::Elem)| {
                    let mut c = c0.clone();
                    f(c.as_mut_ptr());
                    c
                };
                let (a, b) = (V::Elem::of(alpha), V::Elem::of(beta));
                let want =
                    run(&|c| unsafe { kernels::base_apply_packed_output::<V>(m, n, a, p.as_ptr(), ldp, b, c, ldc) });
                let got = run(&|c| unsafe { kern(m, n, a, p.as_ptr(), ldp, b, c, ldc) });
                for i in 0..m {
                    for j in 0..ldc {
                        let (g, w, old) = (got[i * ldc + j], want[i * ldc + j], c0[i * ldc + j]);
                        let ctx = format!("{target}: apply m={m} n={n} alpha={alpha} beta={beta} ({i},{j})");
                        if j >= n {
                            assert!(same(g, old), "{ctx}: wrote outside the tile");
                        } else {
                            assert!(!g.f().is_nan(), "{ctx}: NaN leaked (beta = {beta})");
                            let old_term = if beta == 0.0 { 0.0 } else { (beta * old.f()).abs() };
                            let tol = 4.0 * V::Elem::EPS * (alpha.abs() * p[i * ldp + j].f().abs() + old_term);
                            assert!((g.f() - w.f()).abs() <= tol, "{ctx}: {g:?} vs reference {w:?}");
                        }
                    }
                }
            }
        }
    }
}

/// The micro-kernel instance computing `ROWS` x `VECS` vectors of the tile
/// (`microkernel`, `microkernel_short`, `microkernel_narrow`, `microkernel_two`,
/// `microkernel_three`, `microkernel_pack_b` (`PACK_B = 1`), and their
/// `_packed` twins, `PACKED = 1`) against
/// `base_microkernel::<V, ROWS, VECS, PACKED, PACK_B>` on the reference: that
/// part of the tile within a K-scaled tolerance, and nothing written outside
/// it; with `PACK_B`, B read in place at a padded row stride and its packed
/// copy exactly B's rows, nothing written past them.
///
/// The instance's constants in the dispatch table must hold those values: what
/// the runtime reads of the instance is what it computes.
fn check_microkernel<V: FloatVec, const ROWS: usize, const VECS: usize, const PACKED: usize, const PACK_B: usize>(
    target: &str,
    Instance { kernel: kern, consts }: Instance<MicrokernelFn<V::Elem>, MicrokernelConsts>,
) where
    V::Elem: Float,
{
    let want = MicrokernelConsts {
        rows: ROWS,
        vecs: VECS,
        packed: PACKED,
        pack_b: PACK_B,
    };
    assert_eq!(consts, want, "{target}: the dispatch table's constants");
    let (mr, nr) = (V::MR, V::NR);
    let (rows, cols) = (ROWS, VECS * V::LANES);
    let reference: MicrokernelFn<V::Elem> = kernels::base_microkernel::<V, ROWS, VECS, PACKED, PACK_B>;
    // B's row stride: a packed strip's, or in place a padded row-major B's.
    let ldb = if PACK_B == 1 { nr + 5 } else { nr };
    let ldc = nr + 3;
    let mut rng = Rng::new(3);
    for k in [0, 1, 2, 7, 33, 257] {
        // A's rows at a stride past k, as when A is read in place, and A packed
        // as columns (padded past MR here); a packed instance's fixed strides.
        let layouts = if PACKED == 1 {
            vec![(1, mr)]
        } else {
            vec![(k + 3, 1), (1, mr + 1)]
        };
        for (rs_a, cs_a) in layouts {
            let a: Vec<V::Elem> = random(&mut rng, mr * rs_a + k * cs_a + 1);
            let b: Vec<V::Elem> = random(&mut rng, k * ldb);
            for &(alpha, beta) in ALPHA_BETA {
                let mut c0: Vec<V::Elem> = random(&mut rng, mr * ldc);
                if beta == 0.0 {
                    c0.iter_mut().for_each(|x| *x = V::Elem::of(f64::NAN));
                }
                let run = |f: &dyn Fn(*mut V::Elem)| {
                    let mut c = c0.clone();
                    f(c.as_mut_ptr());
                    c
                };
                let (al, be) = (V::Elem::of(alpha), V::Elem::of(beta));
                let mut b_pack = vec![V::Elem::of(SENTINEL); k * nr + nr];
                let b_pack_ptr = b_pack.as_mut_ptr();
                let want = run(&|c| unsafe {
                    let mut scratch = vec![V::Elem::of(SENTINEL); k * nr];
                    reference(
                        k,
                        al,
                        a.as_ptr(),
                        rs_a,
                        cs_a,
                        b.as_ptr(),
                        ldb,
                        scratch.as_mut_ptr(),
                        be,
                        c,
                        ldc,
                    )
                });
                let got =
                    run(&|c| unsafe { kern(k, al, a.as_ptr(), rs_a, cs_a, b.as_ptr(), ldb, b_pack_ptr, be, c, ldc) });
                for (i, x) in b_pack.iter().enumerate() {
                    let (p, j) = (i / nr, i % nr);
                    let ctx = format!("{target}: microkernel {ROWS}x{VECS} pack_b={PACK_B} k={k}: packed B at {i}");
                    if PACK_B == 1 && p < k && j < cols {
                        assert!(same(*x, b[p * ldb + j]), "{ctx}: {x:?} is not B({p},{j})");
                    } else {
                        assert!(x.f() == SENTINEL, "{ctx}: written");
                    }
                }
                for i in 0..mr {
                    for j in 0..ldc {
                        let (g, w, old) = (got[i * ldc + j], want[i * ldc + j], c0[i * ldc + j]);
                        let ctx = format!(
                            "{target}: microkernel {ROWS}x{VECS} k={k} A strides ({rs_a}, {cs_a}) alpha={alpha} beta={beta} ({i},{j})"
                        );
                        if i >= rows || j >= cols {
                            assert!(same(g, old), "{ctx}: wrote outside the tile");
                            continue;
                        }
                        assert!(!g.f().is_nan(), "{ctx}: NaN leaked (beta = {beta})");
                        let mag: f64 = (0..k)
                            .map(|p| (a[i * rs_a + p * cs_a].f() * b[p * ldb + j].f()).abs())
                            .sum();
                        let old_term = if beta == 0.0 { 0.0 } else { (beta * old.f()).abs() };
                        let tol = (k as f64 + 4.0) * V::Elem::EPS * (alpha.abs() * mag + old_term);
                        assert!(
                            (g.f() - w.f()).abs() <= tol,
                            "{ctx}: {g:?} vs reference {w:?} (tol {tol:e})"
                        );
                    }
                }
            }
        }
    }
}

/// The dot-product edge instance for `ROWS` rows and `COLS` columns against
/// `base_dot_edge::<V, ROWS, COLS>` on the reference: every lane's partial sum
/// within a K-scaled tolerance, every sum (over the lanes) likewise against the
/// f64 dot product, and nothing written past `ROWS * COLS` vectors; its
/// constants in the dispatch table must be `ROWS` and `COLS`.
fn check_dot_edge<V: FloatVec, const ROWS: usize, const COLS: usize>(
    target: &str,
    Instance { kernel: kern, consts }: Instance<DotEdgeFn<V::Elem>, DotEdgeConsts>,
) where
    V::Elem: Float,
{
    let want = DotEdgeConsts { rows: ROWS, cols: COLS };
    assert_eq!(consts, want, "{target}: the dispatch table's constants");
    let l = V::LANES;
    let mut rng = Rng::new(11);
    for k in [0, 1, l - 1, l, l + 1, 3 * l + 2, 257] {
        let (lda, ldbt) = (k + 3, k + 1);
        let a: Vec<V::Elem> = random(&mut rng, ROWS * lda);
        let bt: Vec<V::Elem> = random(&mut rng, COLS * ldbt);
        let len = ROWS * COLS * l;
        let run = |f: &dyn Fn(*mut V::Elem)| {
            let mut out = vec![V::Elem::of(SENTINEL); len + 2 * l];
            f(out.as_mut_ptr());
            out
        };
        let want =
            run(&|o| unsafe { kernels::base_dot_edge::<V, ROWS, COLS>(k, a.as_ptr(), lda, bt.as_ptr(), ldbt, o) });
        let got = run(&|o| unsafe { kern(k, a.as_ptr(), lda, bt.as_ptr(), ldbt, o) });
        let ctx = format!("{target}: dot_edge {ROWS}x{COLS} k={k}");
        assert!(
            got[len..].iter().all(|x| x.f() == SENTINEL),
            "{ctx}: wrote past the sums"
        );
        for r in 0..ROWS {
            for c in 0..COLS {
                let (mut dot, mut mag) = (0.0, 0.0);
                for p in 0..k {
                    let x = a[r * lda + p].f() * bt[c * ldbt + p].f();
                    dot += x;
                    mag += x.abs();
                }
                let tol = (k as f64 + 4.0) * V::Elem::EPS * mag;
                let lanes = &got[(r * COLS + c) * l..][..l];
                for (i, (g, w)) in lanes.iter().zip(&want[(r * COLS + c) * l..]).enumerate() {
                    assert!(
                        (g.f() - w.f()).abs() <= tol,
                        "{ctx} ({r},{c}) lane {i}: {g:?} vs reference {w:?}"
                    );
                }
                let sum: f64 = lanes.iter().map(|x| x.f()).sum();
                assert!(
                    (sum - dot).abs() <= tol,
                    "{ctx} ({r},{c}): lanes add to {sum}, the dot product is {dot}"
                );
            }
        }
    }
}

fn check_microkernel_dot_u8i8<V: DotVec<Acc = i32, A = u8, B = i8>>(target: &str, kern: MicrokernelDotFn<u8, i8, i32>) {
    let (mr, nr) = (V::MR, V::NR);
    let ldc = nr + 2;
    let mut rng = Rng::new(4);
    for kq in [0, 1, 5, 33, 130] {
        // Every third byte at the extremes (255, -128): saturating emulations fail there.
        let a: Vec<u8> = (0..kq * mr * 4)
            .map(|i| if i % 3 == 0 { 255 } else { rng.next_u64() as u8 })
            .collect();
        let b: Vec<i8> = (0..kq * nr * 4)
            .map(|i| if i % 3 == 1 { -128 } else { rng.next_u64() as i8 })
            .collect();
        for accumulate in [false, true] {
            let c0: Vec<i32> = (0..mr * ldc)
                .map(|_| (rng.next_u64() >> 40) as i32 - (1 << 23))
                .collect();
            let run = |f: &dyn Fn(*mut i32)| {
                let mut c = c0.clone();
                f(c.as_mut_ptr());
                c
            };
            let want =
                run(&|c| unsafe { kernels::base_microkernel_dot::<V>(kq, a.as_ptr(), b.as_ptr(), c, ldc, accumulate) });
            let got = run(&|c| unsafe { kern(kq, a.as_ptr(), b.as_ptr(), c, ldc, accumulate) });
            assert_eq!(
                got, want,
                "{target}: microkernel_dot_u8i8 kq={kq} accumulate={accumulate}"
            );
        }
    }
}

/// bf16 bits of a random value in [-1, 1) (truncated, which is a valid bf16).
fn bf16(rng: &mut Rng) -> u16 {
    ((rng.unit() as f32).to_bits() >> 16) as u16
}

fn check_microkernel_dot_bf16<V: DotVec<Acc = f32, A = u16, B = u16>>(
    target: &str,
    kern: MicrokernelDotFn<u16, u16, f32>,
) {
    let (mr, nr) = (V::MR, V::NR);
    let ldc = nr + 3;
    let mut rng = Rng::new(5);
    for kp in [0, 1, 6, 65, 200] {
        let a: Vec<u16> = (0..kp * mr * 2).map(|_| bf16(&mut rng)).collect();
        let b: Vec<u16> = (0..kp * nr * 2).map(|_| bf16(&mut rng)).collect();
        for accumulate in [false, true] {
            let c0: Vec<f32> = (0..mr * ldc).map(|_| rng.unit() as f32).collect();
            let run = |f: &dyn Fn(*mut f32)| {
                let mut c = c0.clone();
                f(c.as_mut_ptr());
                c
            };
            let want =
                run(&|c| unsafe { kernels::base_microkernel_dot::<V>(kp, a.as_ptr(), b.as_ptr(), c, ldc, accumulate) });
            let got = run(&|c| unsafe { kern(kp, a.as_ptr(), b.as_ptr(), c, ldc, accumulate) });
            for i in 0..mr {
                for j in 0..ldc {
                    let (g, w, old) = (got[i * ldc + j], want[i * ldc + j], c0[i * ldc + j]);
                    let ctx = format!("{target}: microkernel_dot_bf16 kp={kp} accumulate={accumulate} ({i},{j})");
                    if j >= nr {
                        assert_eq!(g.to_bits(), old.to_bits(), "{ctx}: wrote outside the tile");
                        continue;
                    }
                    let mag: f64 = (0..kp * 2)
                        .map(|d| {
                            let (p, q) = (d / 2, d % 2);
                            let x = bf16_to_f32(a[(p * mr + i) * 2 + q]) * bf16_to_f32(b[(p * nr + j) * 2 + q]);
                            x.abs() as f64
                        })
                        .sum::<f64>()
                        + if accumulate { old.abs() as f64 } else { 0.0 };
                    let tol = (2.0 * kp as f64 + 4.0) * f32::EPSILON as f64 * mag;
                    assert!(
                        (g as f64 - w as f64).abs() <= tol,
                        "{ctx}: {g} vs reference {w} (tol {tol:e})"
                    );
                }
            }
        }
    }
}

/// Every instance listed in `base_microkernel`'s `#[kernel(..)]`, of the table
/// `$m` (a `Microkernel`) of the float type whose reference vector is `$V`, on
/// a target with tiles of `$mr` rows and `$vecs` vectors: each against
/// `check_microkernel` with the list's values for it. The set is taken apart
/// field by field, so an instance added without a check does not compile.
macro_rules! check_microkernels {
    ($name:expr, $V:ty, $m:expr, $mr:expr, $vecs:expr) => {{
        let Microkernel {
            microkernel,
            microkernel_short,
            microkernel_narrow,
            microkernel_two,
            microkernel_three,
            microkernel_packed,
            microkernel_short_packed,
            microkernel_narrow_packed,
            microkernel_two_packed,
            microkernel_three_packed,
            microkernel_pack_b,
            microkernel_pack_b_packed,
        } = $m;
        check_microkernel::<$V, { $mr }, { $vecs }, 0, 0>($name, microkernel);
        check_microkernel::<$V, { $mr / 2 }, { $vecs }, 0, 0>($name, microkernel_short);
        check_microkernel::<$V, { $mr }, 1, 0, 0>($name, microkernel_narrow);
        // `two` and `three`: that many vectors, or the whole tile where it has fewer.
        check_microkernel::<$V, { $mr }, { upto($vecs, 2) }, 0, 0>($name, microkernel_two);
        check_microkernel::<$V, { $mr }, { upto($vecs, 3) }, 0, 0>($name, microkernel_three);
        check_microkernel::<$V, { $mr }, { $vecs }, 1, 0>($name, microkernel_packed);
        check_microkernel::<$V, { $mr / 2 }, { $vecs }, 1, 0>($name, microkernel_short_packed);
        check_microkernel::<$V, { $mr }, 1, 1, 0>($name, microkernel_narrow_packed);
        check_microkernel::<$V, { $mr }, { upto($vecs, 2) }, 1, 0>($name, microkernel_two_packed);
        check_microkernel::<$V, { $mr }, { upto($vecs, 3) }, 1, 0>($name, microkernel_three_packed);
        check_microkernel::<$V, { $mr }, { $vecs }, 0, 1>($name, microkernel_pack_b);
        check_microkernel::<$V, { $mr }, { $vecs }, 1, 1>($name, microkernel_pack_b_packed);
    }};
}

/// Every instance listed in `base_dot_edge`'s `#[kernel(..)]`, of the table
/// `$d` (a `DotEdge`), `$rows` rows each (a quarter of the tile's slots), as
/// `check_microkernels!` does.
macro_rules! check_dot_edges {
    ($name:expr, $V:ty, $d:expr, $rows:expr) => {{
        let DotEdge {
            dot_edge_1,
            dot_edge_2,
            dot_edge_3,
            dot_edge_4,
        } = $d;
        check_dot_edge::<$V, { $rows }, 1>($name, dot_edge_1);
        check_dot_edge::<$V, { $rows }, 2>($name, dot_edge_2);
        check_dot_edge::<$V, { $rows }, 3>($name, dot_edge_3);
        check_dot_edge::<$V, { $rows }, 4>($name, dot_edge_4);
    }};
}

macro_rules! target_tests {
    ($t:ident) => {
        mod $t {
            use super::*;
            use gemmkit::generated::$t as g;

            type F32 = Ref<f32, { g::F32_LANES }, { g::F32_MR }, { g::F32_NR / g::F32_LANES }>;
            type F64 = Ref<f64, { g::F64_LANES }, { g::F64_MR }, { g::F64_NR / g::F64_LANES }>;
            type U8I8 = Ref<i32, { g::U8I8_LANES }, { g::U8I8_MR }, { g::U8I8_NR / g::U8I8_LANES }>;
            type BF16 = Ref<f32, { g::BF16_LANES }, { g::BF16_MR }, { g::BF16_NR / g::BF16_LANES }>;
            const NAME: &str = stringify!($t);

            #[test]
            fn shapes_match_the_dispatch_table() {
                let t = gemmkit::compiled()
                    .iter()
                    .find(|t| t.name == NAME)
                    .expect("compiled in");
                assert_eq!(
                    (t.shapes.f32.lanes, t.shapes.f32.mr, t.shapes.f32.nr),
                    (g::F32_LANES, g::F32_MR, g::F32_NR)
                );
                assert_eq!(
                    (t.shapes.f64.lanes, t.shapes.f64.mr, t.shapes.f64.nr),
                    (g::F64_LANES, g::F64_MR, g::F64_NR)
                );
                assert_eq!(
                    (t.shapes.u8i8.lanes, t.shapes.u8i8.mr, t.shapes.u8i8.nr),
                    (g::U8I8_LANES, g::U8I8_MR, g::U8I8_NR)
                );
                assert_eq!(
                    (t.shapes.bf16.lanes, t.shapes.bf16.mr, t.shapes.bf16.nr),
                    (g::BF16_LANES, g::BF16_MR, g::BF16_NR)
                );
            }

            #[test]
            fn pack_rhs() {
                if let Some(t) = table(NAME) {
                    check_pack_rhs::<F32>(NAME, t.f32.pack_rhs);
                    check_pack_rhs::<F64>(NAME, t.f64.pack_rhs);
                }
            }

            #[test]
            fn pack_lhs() {
                if let Some(t) = table(NAME) {
                    check_pack_lhs::<F32>(NAME, t.f32.pack_lhs);
                    check_pack_lhs::<F64>(NAME, t.f64.pack_lhs);
                }
            }

            #[test]
            fn apply_packed_output() {
                if let Some(t) = table(NAME) {
                    check_apply::<F32>(NAME, t.f32.apply_packed_output);
                    check_apply::<F64>(NAME, t.f64.apply_packed_output);
                }
            }

            #[test]
            fn microkernel() {
                if let Some(t) = table(NAME) {
                    check_microkernels!(NAME, F32, t.f32.microkernel, g::F32_MR, g::F32_NR / g::F32_LANES);
                    check_microkernels!(NAME, F64, t.f64.microkernel, g::F64_MR, g::F64_NR / g::F64_LANES);
                }
            }

            #[test]
            fn dot_edge() {
                if let Some(t) = table(NAME) {
                    check_dot_edges!(
                        NAME,
                        F32,
                        t.f32.dot_edge,
                        g::F32_MR * (g::F32_NR / g::F32_LANES) / 4
                    );
                    check_dot_edges!(
                        NAME,
                        F64,
                        t.f64.dot_edge,
                        g::F64_MR * (g::F64_NR / g::F64_LANES) / 4
                    );
                }
            }

            #[test]
            fn microkernel_dot_u8i8() {
                if let Some(t) = table(NAME) {
                    let DotKernels { microkernel_dot } = t.u8i8;
                    check_microkernel_dot_u8i8::<U8I8>(NAME, microkernel_dot);
                }
            }

            #[test]
            fn microkernel_dot_bf16() {
                if let Some(t) = table(NAME) {
                    let DotKernels { microkernel_dot } = t.bf16;
                    check_microkernel_dot_bf16::<BF16>(NAME, microkernel_dot);
                }
            }
        }
    };
}

gemmkit::for_each_target!(target_tests);
