//! Every generated kernel, on every target this machine can run, against the same
//! kernel executed on the scalar reference with the same lane count and tile shape:
//! exact for integers and copies, a K-scaled tolerance for floating-point sums.
//!
//! One test module per compiled-in target (`avx512::microkernel`, ...). A target the
//! CPU cannot run prints `NOT EXECUTED` on stderr (outside the output capture) and
//! passes: it is still compiled here.

use gemmkit::generated::{
    ApplyPackedOutputFn, DotEdge, DotEdgeConsts, DotEdgeFn, DotKernels, EpilogueFn, GemvAxpyFn, GemvDot, GemvDotConsts,
    GemvDotFn, GemvDotprod, GemvDotprodConsts, GemvDotprodFn, Instance, Microkernel, MicrokernelConsts, MicrokernelDot,
    MicrokernelDotConsts, MicrokernelDotFn, MicrokernelFn, PackDotLhsFn, PackDotRhsFn, PackLhsFn, PackRhsFn,
};
use gemmkit::{Target, TargetError};
use kernels::{DotVec, FloatVec, Ref};
use workspace_tests::{Float, Rng, activation_f64, activation_tolerance, not_executed};

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

/// The relative accuracy of the `f32` activations (times one plus the
/// condition number, see `activation_tolerance`), on every target.
const ACTIVATION_REL: f64 = 2e-6;

/// `base_epilogue` on blocks of every width around the lanes, each scale
/// kind (C's `i32` sums converted and scaled, or none), bias kind and
/// activation: against the reference kernel (same lanes; a few roundings
/// apart where the target has no FMA), against `f64` within
/// [`ACTIVATION_REL`], NaN kept, and nothing written outside the block.
fn check_epilogue<V: FloatVec<Elem = f32>>(target: &str, kern: EpilogueFn) {
    let l = V::LANES;
    let mut rng = Rng::new(12);
    for m in [1, 3] {
        for n in [1, l.saturating_sub(1).max(1), l, l + 1, 2 * l + 3, 37] {
            let ldc = n + 5;
            for (scale_kind, kind, act) in (0..4).flat_map(|s| (0..3).flat_map(move |k| (0..5).map(move |a| (s, k, a))))
            {
                // Values across the activations' interesting range, a NaN and
                // an infinity; or sums, up to 2^28 (past f32's exact integers)
                // in magnitude, which a scale brings back to that range.
                let mut c0: Vec<f32> = if scale_kind == 0 {
                    (0..m * ldc).map(|_| (12.0 * rng.unit()) as f32).collect()
                } else {
                    (0..m * ldc)
                        .map(|_| f32::from_bits(((rng.unit() * f64::from(1u32 << 28)) as i32) as u32))
                        .collect()
                };
                if scale_kind == 0 {
                    c0[0] = f32::NAN;
                    if m * ldc > 2 {
                        c0[2] = f32::INFINITY;
                    }
                }
                let bias: Vec<f32> = (0..n.max(m)).map(|_| rng.unit() as f32).collect();
                let scale: Vec<f32> = (0..n.max(m))
                    .map(|_| (rng.unit() * 12.0 / f64::from(1u32 << 28)) as f32)
                    .collect();
                let run = |f: &dyn Fn(*mut f32)| {
                    let mut c = c0.clone();
                    f(c.as_mut_ptr());
                    c
                };
                let (b, sc) = (bias.as_ptr(), scale.as_ptr());
                let want = run(&|c| unsafe { kernels::base_epilogue::<V>(m, n, c, ldc, b, kind, act, sc, scale_kind) });
                let got = run(&|c| unsafe { kern(m, n, c, ldc, b, kind, act, sc, scale_kind) });
                for i in 0..m {
                    for j in 0..ldc {
                        let at = i * ldc + j;
                        let (g, w, old) = (got[at], want[at], c0[at]);
                        let ctx = format!(
                            "{target}: epilogue m={m} n={n} scale={scale_kind} bias={kind} act={act} ({i},{j})"
                        );
                        if j >= n {
                            assert!(same(g, old), "{ctx}: wrote outside the block");
                            continue;
                        }
                        // The steps before the activation, each rounded to f32.
                        let value = match scale_kind {
                            0 => old,
                            1 => old.to_bits() as i32 as f32 * scale[0],
                            2 => old.to_bits() as i32 as f32 * scale[j],
                            _ => old.to_bits() as i32 as f32 * scale[i],
                        };
                        let x = match kind {
                            1 => value + bias[j],
                            2 => value + bias[i],
                            _ => value,
                        };
                        let x = f64::from(x);
                        let exact = activation_f64(act, x);
                        if exact.is_nan() {
                            assert!(g.is_nan() && w.is_nan(), "{ctx}: {g} / {w} for NaN");
                            continue;
                        }
                        if exact.is_infinite() {
                            assert!(g == exact as f32, "{ctx}: {g} for {exact}");
                            continue;
                        }
                        if act == 0 {
                            assert_eq!(g.to_bits(), (x as f32).to_bits(), "{ctx}: {g} vs {x}");
                        }
                        let tol = activation_tolerance(act, x, exact, ACTIVATION_REL);
                        assert!((f64::from(g) - exact).abs() <= tol, "{ctx}: {g} vs {exact} (x = {x})");
                        assert!(
                            (f64::from(g) - f64::from(w)).abs() <= 2.0 * tol,
                            "{ctx}: {g} vs reference {w}"
                        );
                    }
                }
            }
        }
    }
}

/// The activations over a dense sweep of inputs, one lane-wide block at a time:
/// the largest error against `f64` in units of the tolerance stays at most 1
/// (printed, for the accuracy stated in `gemmkit::Epilogue`'s docs).
fn check_activation_accuracy(target: &str, kern: EpilogueFn) {
    let xs: Vec<f32> = (-400_000..=400_000)
        .map(|i| i as f32 * 5e-5)
        .chain([0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 1e30, -1e30])
        .collect();
    for act in 1..5 {
        let mut c = xs.clone();
        unsafe {
            kern(
                1,
                c.len(),
                c.as_mut_ptr(),
                0,
                std::ptr::null(),
                0,
                act,
                std::ptr::null(),
                0,
            )
        };
        let (mut worst, mut at, mut rel) = (0.0f64, 0.0f64, 0.0f64);
        for (&x, &g) in xs.iter().zip(&c) {
            let exact = activation_f64(act, f64::from(x));
            let err = (f64::from(g) - exact).abs();
            let units = err / activation_tolerance(act, f64::from(x), exact, ACTIVATION_REL);
            if units > worst {
                (worst, at) = (units, f64::from(x));
            }
            if (-1.0..=10.0).contains(&x) && exact.abs() > 1e-30 {
                rel = rel.max(err / exact.abs());
            }
        }
        eprintln!(
            "{target}: activation {act}: worst {worst:.3} of the tolerance (x = {at}), max relative error {rel:.2e} on [-1, 10]"
        );
        assert!(
            worst <= 1.0,
            "{target}: activation {act}: {worst} tolerances at x = {at}"
        );
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

/// An i32 for C: a few million either side, so sums never overflow unless a
/// test means them to.
fn c_value(rng: &mut Rng) -> i32 {
    (rng.next_u64() >> 40) as i32 - (1 << 23)
}

/// u8 with every third byte 255 (the extreme that saturating emulations get wrong).
fn u8_extreme(rng: &mut Rng, i: usize) -> u8 {
    if i.is_multiple_of(3) { 255 } else { rng.next_u64() as u8 }
}

/// i8 with a third of the bytes -128 (every third) and two in fifteen 127.
fn i8_extreme(rng: &mut Rng, i: usize) -> i8 {
    match i % 15 {
        1 | 4 | 7 | 10 | 13 => -128,
        0 | 5 => 127,
        _ => rng.next_u64() as i8,
    }
}

/// bf16 bits of a value of either sign with an exponent in [-60, 60), so no
/// product is denormal or overflows: there every target computes what
/// VDPBF16PS does (it flushes denormals), bit for bit.
fn bf16(rng: &mut Rng) -> u16 {
    let sign = (rng.next_u64() & 1) as u16;
    let exp = 127 - 60 + rng.below(120) as u16;
    let mantissa = (rng.next_u64() & 0x7f) as u16;
    (sign << 15) | (exp << 7) | mantissa
}

/// An instance of `base_microkernel_dot` in the table of `V`'s instantiation.
type DotInstance<V> =
    Instance<MicrokernelDotFn<<V as DotVec>::A, <V as DotVec>::B, <V as DotVec>::Acc>, MicrokernelDotConsts>;

/// The micro-kernel instance `COMP`, `ROWS` (`microkernel_dot`,
/// `microkernel_dot_comp` and their one-row `_row` twins) of the `u8i8` or
/// `bf16` table against `base_microkernel_dot::<V, COMP, ROWS>` on the
/// reference: bit-identical over its rows of the tile, nothing written
/// outside them (a padded `ldc`, and rows around them), the compensation
/// vectors added by the `COMP = 1` instances and not read (null) by the
/// others; its constants in the dispatch table must be `COMP` and `ROWS`.
fn check_microkernel_dot<V: DotVec, const COMP: usize, const ROWS: usize>(
    target: &str,
    Instance { kernel: kern, consts }: DotInstance<V>,
    a_of: &dyn Fn(&mut Rng, usize) -> V::A,
    b_of: &dyn Fn(&mut Rng, usize) -> V::B,
    acc_of: &dyn Fn(&mut Rng) -> V::Acc,
    bits: &dyn Fn(V::Acc) -> u32,
) {
    assert_eq!(
        consts,
        MicrokernelDotConsts { comp: COMP, rows: ROWS },
        "{target}: the dispatch table's constants"
    );
    let (mr, nr, depth) = (V::MR, V::NR, V::DEPTH);
    let ldc = nr + 3;
    // One row of sentinels above and below the tile.
    let (rows, off) = (mr + 2, ldc);
    let mut rng = Rng::new(4 + COMP as u64);
    for kd in [0, 1, 2, 5, 33, 130] {
        let a: Vec<V::A> = (0..kd * mr * depth).map(|i| a_of(&mut rng, i)).collect();
        let b: Vec<V::B> = (0..kd * nr * depth).map(|i| b_of(&mut rng, i)).collect();
        let row_comp: Vec<V::Acc> = (0..mr).map(|_| acc_of(&mut rng)).collect();
        let col_comp: Vec<V::Acc> = (0..nr).map(|_| acc_of(&mut rng)).collect();
        let (rc, cc) = if COMP == 1 {
            (row_comp.as_ptr(), col_comp.as_ptr())
        } else {
            (std::ptr::null(), std::ptr::null())
        };
        for accumulate in [false, true] {
            let c0: Vec<V::Acc> = (0..rows * ldc).map(|_| acc_of(&mut rng)).collect();
            let run = |f: &dyn Fn(*mut V::Acc)| {
                let mut c = c0.clone();
                f(unsafe { c.as_mut_ptr().add(off) });
                c
            };
            let reference: MicrokernelDotFn<V::A, V::B, V::Acc> = kernels::base_microkernel_dot::<V, COMP, ROWS>;
            let want = run(&|c| unsafe { reference(kd, a.as_ptr(), b.as_ptr(), c, ldc, accumulate, rc, cc) });
            let got = run(&|c| unsafe { kern(kd, a.as_ptr(), b.as_ptr(), c, ldc, accumulate, rc, cc) });
            for (at, (g, w)) in got.iter().zip(&want).enumerate() {
                let (i, j) = (at / ldc, at % ldc);
                let ctx = format!(
                    "{target}: microkernel_dot comp={COMP} rows={ROWS} kd={kd} accumulate={accumulate} at ({i},{j})"
                );
                if i == 0 || i > ROWS || j >= nr {
                    assert_eq!(bits(*g), bits(c0[at]), "{ctx}: wrote outside the tile");
                }
                assert_eq!(bits(*g), bits(*w), "{ctx}: differs from the reference");
            }
        }
    }
}

/// An instance of `base_gemv_dotprod` in the table of `V`'s instantiation.
type GemvInstance<V> =
    Instance<GemvDotprodFn<<V as DotVec>::A, <V as DotVec>::B, <V as DotVec>::Acc>, GemvDotprodConsts>;

/// The GEMV instance `ROWS`, `SUMS` (`gemv_dotprod`, `_row`, `_sums`,
/// `_sums_row`) of the `u8i8` or `bf16` table against `base_gemv_dotprod` on
/// the reference: bit-identical lanes (dot products, and row sums of W with
/// `SUMS`), nothing written past `ROWS * LANES` of either output, the sums not
/// written without `SUMS`; its constants in the table must be `ROWS`, `SUMS`.
fn check_gemv_dotprod<V: DotVec, const ROWS: usize, const SUMS: usize>(
    target: &str,
    Instance { kernel: kern, consts }: GemvInstance<V>,
    a_of: &dyn Fn(&mut Rng, usize) -> V::A,
    b_of: &dyn Fn(&mut Rng, usize) -> V::B,
    one: V::A,
    sentinel: V::Acc,
    bits: &dyn Fn(V::Acc) -> u32,
) {
    assert_eq!(
        consts,
        GemvDotprodConsts { rows: ROWS, sums: SUMS },
        "{target}: the dispatch table's constants"
    );
    let (lanes, step) = (V::LANES, V::LANES * V::DEPTH);
    let mut rng = Rng::new(8 + ROWS as u64 + SUMS as u64);
    for kv in [0, 1, 3, 17] {
        let ldw = kv * step + 5;
        let x: Vec<V::A> = (0..kv * step).map(|i| a_of(&mut rng, i)).collect();
        let w: Vec<V::B> = (0..ROWS * ldw).map(|i| b_of(&mut rng, i)).collect();
        let ones = vec![one; V::DEPTH];
        let run = |f: GemvDotprodFn<V::A, V::B, V::Acc>| {
            let (mut out, mut sums) = (vec![sentinel; (ROWS + 1) * lanes], vec![sentinel; (ROWS + 1) * lanes]);
            unsafe {
                f(
                    kv,
                    x.as_ptr(),
                    w.as_ptr(),
                    ldw,
                    ones.as_ptr(),
                    out.as_mut_ptr(),
                    sums.as_mut_ptr(),
                )
            };
            (out, sums)
        };
        let (want, got) = (run(kernels::base_gemv_dotprod::<V, ROWS, SUMS>), run(kern));
        let ctx = format!("{target}: gemv_dotprod rows={ROWS} sums={SUMS} kv={kv}");
        for (which, (g, w)) in [(&got.0, &want.0), (&got.1, &want.1)].into_iter().enumerate() {
            for (at, (&gv, &wv)) in g.iter().zip(w).enumerate() {
                assert_eq!(bits(gv), bits(wv), "{ctx}: output {which} lane {at}");
                if at >= ROWS * lanes || (which == 1 && SUMS == 0) {
                    assert_eq!(bits(gv), bits(sentinel), "{ctx}: output {which} written at {at}");
                }
            }
        }
    }
}

/// Every u8 x i8 pair through the `u8i8` micro-kernel against the reference:
/// tiles of `MR` values of A by `NR` values of B cover all 256 x 256, each pair
/// once as all four products of a quad (`4 a b`, down to -130560) and once
/// beside the extremes (255 x -128 and 255 x 127 in the same quad). Emulations
/// that saturate in 16 bits, or a relaxed wasm dot fed an operand outside its
/// 7-bit range, fail here.
fn check_dot_every_byte_pair<V: DotVec<A = u8, B = i8, Acc = i32>, const MR: usize>(
    target: &str,
    kern: MicrokernelDotFn<u8, i8, i32>,
) {
    let (mr, nr) = (V::MR, V::NR);
    let null = std::ptr::null();
    for a0 in (0..256).step_by(mr) {
        for b0 in (0..256).step_by(nr) {
            let av = |i: usize| ((a0 + i) % 256) as u8;
            let bv = |j: usize| ((b0 + j) % 256) as u8 as i8;
            let mut a = vec![0u8; 2 * mr * 4];
            let mut b = vec![0i8; 2 * nr * 4];
            for i in 0..mr {
                a[i * 4..][..4].copy_from_slice(&[av(i); 4]);
                a[(mr + i) * 4..][..4].copy_from_slice(&[av(i), 255 - av(i), 255, av(i) ^ 0x55]);
            }
            for j in 0..nr {
                b[j * 4..][..4].copy_from_slice(&[bv(j); 4]);
                b[(nr + j) * 4..][..4].copy_from_slice(&[bv(j), !bv(j), -128, 127]);
            }
            for kd in [1, 2] {
                let run = |f: MicrokernelDotFn<u8, i8, i32>| {
                    let mut c = vec![0i32; mr * nr];
                    unsafe { f(kd, a.as_ptr(), b.as_ptr(), c.as_mut_ptr(), nr, false, null, null) };
                    c
                };
                let want = run(kernels::base_microkernel_dot::<V, 0, MR>);
                let got = run(kern);
                assert_eq!(got, want, "{target}: u8 {a0}.. x i8 {b0}.. (as u8), kd={kd}");
            }
        }
    }
}

/// The dot-product packers' sentinel (a value no test input holds at every
/// place, so a write shows).
const PACK_SENTINEL: u8 = 0x5a;

/// `pack_dot_lhs` against `base_pack_dot_lhs` on the reference: ragged `m` and
/// `k` (every height of a panel, several panels, `k` around multiples of
/// `DEPTH`), row-major, column-major and general strides, each `flip`, with
/// and without sums; panels spaced apart and sums with room past them, all
/// sentinel-filled: the same packed panels and sums, and nothing written
/// between panels, past the last one or past the sums (nor to the sums
/// without `want_sums`).
fn check_pack_dot_lhs<V: DotVec>(
    target: &str,
    kern: PackDotLhsFn<V::A>,
    flips: &[V::A],
    a_of: &dyn Fn(&mut Rng, usize) -> V::A,
    sentinel: V::A,
) where
    V::A: PartialEq + std::fmt::Debug,
{
    let (mr, depth) = (V::MR, V::DEPTH);
    let mut rng = Rng::new(12);
    for k in [0, 1, depth - 1, depth, depth + 1, 3 * depth + depth / 2 + 1, 64, 67] {
        for m in (1..=mr).chain([2 * mr, 2 * mr + 1, 3 * mr + mr / 2 + 1]) {
            let panels = m.div_ceil(mr);
            let used = k.div_ceil(depth) * mr * depth;
            let stride = used + 5;
            for (rs, cs) in [(k + 3, 1), (1, m + 2), (1, m), (2 * k + 1, 2)] {
                let a: Vec<V::A> = (0..m * rs + k.max(1) * cs + 1).map(|i| a_of(&mut rng, i)).collect();
                for &flip in flips {
                    for want_sums in [true, false] {
                        let run = |f: &dyn Fn(*mut V::A, *mut i32)| {
                            let mut dst = vec![sentinel; panels * stride + 3];
                            let mut sums = vec![-7i32; panels * mr + 3];
                            f(dst.as_mut_ptr(), sums.as_mut_ptr());
                            (dst, sums)
                        };
                        let reference: PackDotLhsFn<V::A> = kernels::base_pack_dot_lhs::<V>;
                        let (wd, ws) =
                            run(&|d, s| unsafe { reference(m, k, a.as_ptr(), rs, cs, d, stride, flip, s, want_sums) });
                        let (gd, gs) =
                            run(&|d, s| unsafe { kern(m, k, a.as_ptr(), rs, cs, d, stride, flip, s, want_sums) });
                        let ctx = format!(
                            "{target}: pack_dot_lhs m={m} k={k} rs={rs} cs={cs} flip={flip:?} sums={want_sums}"
                        );
                        for (at, (g, w)) in gd.iter().zip(&wd).enumerate() {
                            if at % stride >= used || at >= panels * stride {
                                assert_eq!(*g, sentinel, "{ctx}: wrote between or past the panels at {at}");
                            }
                            assert_eq!(g, w, "{ctx}: at {at}");
                        }
                        let written = if want_sums { panels * mr } else { 0 };
                        assert!(gs[written..].iter().all(|x| *x == -7), "{ctx}: wrote past the sums");
                        assert_eq!(gs, ws, "{ctx}: sums");
                    }
                }
            }
        }
    }
}

/// `pack_dot_rhs` against `base_pack_dot_rhs` on the reference, as
/// `check_pack_dot_lhs` for B: ragged `k` and `n`, row-major, column-major and
/// general strides, with and without sums, sentinels around every output.
fn check_pack_dot_rhs<V: DotVec>(
    target: &str,
    kern: PackDotRhsFn<V::B>,
    b_of: &dyn Fn(&mut Rng, usize) -> V::B,
    sentinel: V::B,
) where
    V::B: PartialEq + std::fmt::Debug,
{
    let (nr, depth) = (V::NR, V::DEPTH);
    let mut rng = Rng::new(13);
    for k in [0, 1, depth - 1, depth, depth + 1, 3 * depth + depth / 2 + 1, 64, 67] {
        for n in (1..=nr).chain([2 * nr, 2 * nr + 1, 3 * nr + nr / 2 + 1]) {
            let strips = n.div_ceil(nr);
            let used = k.div_ceil(depth) * nr * depth;
            let stride = used + 5;
            for (rs, cs) in [(n + 3, 1), (1, k + 2), (1, k), (2 * n + 1, 2)] {
                let b: Vec<V::B> = (0..k.max(1) * rs + n * cs + 1).map(|i| b_of(&mut rng, i)).collect();
                for want_sums in [true, false] {
                    let run = |f: &dyn Fn(*mut V::B, *mut i32)| {
                        let mut dst = vec![sentinel; strips * stride + 3];
                        let mut sums = vec![-7i32; strips * nr + 3];
                        f(dst.as_mut_ptr(), sums.as_mut_ptr());
                        (dst, sums)
                    };
                    let reference: PackDotRhsFn<V::B> = kernels::base_pack_dot_rhs::<V>;
                    let (wd, ws) = run(&|d, s| unsafe { reference(k, n, b.as_ptr(), rs, cs, d, stride, s, want_sums) });
                    let (gd, gs) = run(&|d, s| unsafe { kern(k, n, b.as_ptr(), rs, cs, d, stride, s, want_sums) });
                    let ctx = format!("{target}: pack_dot_rhs k={k} n={n} rs={rs} cs={cs} sums={want_sums}");
                    for (at, (g, w)) in gd.iter().zip(&wd).enumerate() {
                        if at % stride >= used || at >= strips * stride {
                            assert_eq!(*g, sentinel, "{ctx}: wrote between or past the strips at {at}");
                        }
                        assert_eq!(g, w, "{ctx}: at {at}");
                    }
                    let written = if want_sums { strips * nr } else { 0 };
                    assert!(gs[written..].iter().all(|x| *x == -7), "{ctx}: wrote past the sums");
                    assert_eq!(gs, ws, "{ctx}: sums");
                }
            }
        }
    }
}

/// A buffer whose last element ends where an inaccessible page begins, so
/// that a kernel reading or writing one element past it faults (and the test
/// process dies with SIGSEGV): the packers' tails are checked against exactly
/// sized operands, panels and sums.
#[cfg(all(unix, not(target_family = "wasm")))]
struct Guarded {
    map: *mut libc::c_void,
    map_len: usize,
    data: *mut u8,
}

#[cfg(all(unix, not(target_family = "wasm")))]
impl Guarded {
    fn new<T: Copy>(values: &[T]) -> Guarded {
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let bytes = std::mem::size_of_val(values);
        let map_len = bytes.div_ceil(page) * page + page;
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED, "mmap");
        let guard = unsafe { map.cast::<u8>().add(map_len - page) };
        assert_eq!(
            unsafe { libc::mprotect(guard.cast(), page, libc::PROT_NONE) },
            0,
            "mprotect"
        );
        let data = unsafe { guard.sub(bytes) };
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr().cast::<u8>(), data, bytes) };
        Guarded { map, map_len, data }
    }

    fn ptr<T>(&self) -> *mut T {
        self.data.cast()
    }

    fn read<T: Copy>(&self, n: usize) -> Vec<T> {
        (0..n).map(|i| unsafe { self.ptr::<T>().add(i).read() }).collect()
    }
}

#[cfg(all(unix, not(target_family = "wasm")))]
impl Drop for Guarded {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.map, self.map_len) };
    }
}

/// Both packers of one instantiation on operands, panels, strips and sums
/// that each end at an inaccessible page (`Guarded`): ragged `m`, `n` and `k`,
/// row- and column-major with the tightest strides, panels packed without
/// gaps; the packed data and sums must also equal the reference's.
#[cfg(all(unix, not(target_family = "wasm")))]
fn check_pack_dot_bounds<V: DotVec>(
    target: &str,
    (lhs, rhs): (PackDotLhsFn<V::A>, PackDotRhsFn<V::B>),
    flips: &[V::A],
    a_of: &dyn Fn(&mut Rng, usize) -> V::A,
    b_of: &dyn Fn(&mut Rng, usize) -> V::B,
) where
    V::A: PartialEq + std::fmt::Debug,
    V::B: PartialEq + std::fmt::Debug,
{
    let (mr, nr, depth) = (V::MR, V::NR, V::DEPTH);
    let mut rng = Rng::new(15);
    for k in [1, depth - 1, depth + 1, 2 * depth, 4 * depth + 3] {
        for m in [1, mr - 1, mr, mr + 1, 2 * mr + mr / 2 + 1] {
            let (panels, used) = (m.div_ceil(mr), k.div_ceil(depth) * mr * depth);
            let a: Vec<V::A> = (0..m * k).map(|i| a_of(&mut rng, i)).collect();
            for (rs, cs) in [(k, 1), (1, m)] {
                for &flip in flips {
                    let src = Guarded::new(&a);
                    let zero_a = vec![V::ZERO_A; panels * used];
                    let (dst, sums) = (Guarded::new(&zero_a), Guarded::new(&vec![0i32; panels * mr]));
                    unsafe { lhs(m, k, src.ptr(), rs, cs, dst.ptr(), used, flip, sums.ptr(), true) };
                    let (mut want, mut want_sums) = (zero_a.clone(), vec![0i32; panels * mr]);
                    let (wp, ws) = (want.as_mut_ptr(), want_sums.as_mut_ptr());
                    unsafe { kernels::base_pack_dot_lhs::<V>(m, k, a.as_ptr(), rs, cs, wp, used, flip, ws, true) };
                    let ctx = format!("{target}: pack_dot_lhs at a guard page, m={m} k={k} rs={rs} cs={cs}");
                    assert_eq!(dst.read::<V::A>(panels * used), want, "{ctx}");
                    assert_eq!(sums.read::<i32>(panels * mr), want_sums, "{ctx}: sums");
                }
            }
        }
        for n in [1, nr - 1, nr, nr + 1, 2 * nr + nr / 2 + 1] {
            let (strips, used) = (n.div_ceil(nr), k.div_ceil(depth) * nr * depth);
            let b: Vec<V::B> = (0..k * n).map(|i| b_of(&mut rng, i)).collect();
            for (rs, cs) in [(n, 1), (1, k)] {
                let src = Guarded::new(&b);
                let zero_b = vec![V::ZERO_B; strips * used];
                let (dst, sums) = (Guarded::new(&zero_b), Guarded::new(&vec![0i32; strips * nr]));
                unsafe { rhs(k, n, src.ptr(), rs, cs, dst.ptr(), used, sums.ptr(), true) };
                let (mut want, mut want_sums) = (zero_b.clone(), vec![0i32; strips * nr]);
                let (wp, ws) = (want.as_mut_ptr(), want_sums.as_mut_ptr());
                unsafe { kernels::base_pack_dot_rhs::<V>(k, n, b.as_ptr(), rs, cs, wp, used, ws, true) };
                let ctx = format!("{target}: pack_dot_rhs at a guard page, k={k} n={n} rs={rs} cs={cs}");
                assert_eq!(dst.read::<V::B>(strips * used), want, "{ctx}");
                assert_eq!(sums.read::<i32>(strips * nr), want_sums, "{ctx}: sums");
            }
        }
    }
}

/// The int8 GEMM the runtime will build from these kernels, on one target's
/// table, against exact integer arithmetic: oneDNN's
/// `C = (A - a_off) (B - b_off) + c_off` for u8 x s8 and for s8 x s8 (A's
/// bytes flipped by `pack_dot_lhs`, the `+128` taken back through B's column
/// sums), with ragged `m`, `n` and `k`, all-extreme operands, and A and B in
/// both layouts, with and without offsets. K goes in blocks, each packed with
/// its sums; a block's tiles go through `microkernel_dot_comp` with that
/// block's offset terms (`c_off` in the first), or, with no offsets and u8 A,
/// the blocks after the first through `microkernel_dot`, accumulating. Checks
/// that the packers' layout and sums and the kernels' epilogue fit together.
fn check_int8_gemm(target: &str, t: &DotKernels<u8, i8, i32>, (mr, nr): (usize, usize)) {
    let mut rng = Rng::new(14);
    // The K block: the first one carries the compensations.
    let kc = 48;
    for (m, n, k) in [
        (1, 1, 1),
        (mr, nr, 4),
        (mr + 1, nr - 1, 7),
        (2 * mr + 3, 2 * nr + 5, 101),
        (5, 3 * nr, 130),
    ] {
        for signed_a in [false, true] {
            for (extreme, offsets) in [(false, false), (false, true), (true, false), (true, true)] {
                let a: Vec<u8> = (0..m * k)
                    .map(|_| match (extreme, signed_a) {
                        (true, false) => 255,
                        (true, true) => 0x80, // -128
                        _ => rng.next_u64() as u8,
                    })
                    .collect();
                let b: Vec<i8> = (0..k * n)
                    .map(|i| {
                        if extreme {
                            [-128, 127][i % 2]
                        } else {
                            rng.next_u64() as i8
                        }
                    })
                    .collect();
                let (a_off, b_off, c_off) = match (offsets, extreme) {
                    (false, _) => (0, 0, 0),
                    (true, false) => (3, -5, -11),
                    (true, true) => (-128, 127, 1 << 20),
                };
                let a_val = |i: usize, p: usize| -> i32 {
                    let x = a[i * k + p];
                    if signed_a { i32::from(x as i8) } else { i32::from(x) }
                };
                let mut want = vec![0i32; m * n];
                for i in 0..m {
                    for j in 0..n {
                        let mut s = 0i32;
                        for p in 0..k {
                            s = s.wrapping_add((a_val(i, p) - a_off).wrapping_mul(i32::from(b[p * n + j]) - b_off));
                        }
                        want[i * n + j] = s.wrapping_add(c_off);
                    }
                }
                for (a_rowmajor, b_rowmajor) in [(true, true), (false, false)] {
                    // A as given (m x k row-major) or copied column-major; B likewise.
                    let at: Vec<u8> = (0..m * k).map(|x| a[(x % m) * k + x / m]).collect();
                    let bt: Vec<i8> = (0..k * n).map(|x| b[(x % k) * n + x / k]).collect();
                    let (ap, rs_a, cs_a) = if a_rowmajor {
                        (a.as_ptr(), k, 1)
                    } else {
                        (at.as_ptr(), 1, m)
                    };
                    let (bp, rs_b, cs_b) = if b_rowmajor {
                        (b.as_ptr(), n, 1)
                    } else {
                        (bt.as_ptr(), 1, k)
                    };
                    let panels = m.div_ceil(mr);
                    let strips = n.div_ceil(nr);
                    let mut c = vec![i32::MIN; m * n];
                    let mut p0 = 0;
                    while p0 < k {
                        let kb = (k - p0).min(kc);
                        let kd = kb.div_ceil(4);
                        let (pstride, sstride) = (kd * mr * 4, kd * nr * 4);
                        let mut pa = vec![0u8; panels * pstride];
                        let mut pb = vec![0i8; strips * sstride];
                        let mut rsum = vec![0i32; panels * mr];
                        let mut csum = vec![0i32; strips * nr];
                        let flip = if signed_a { 0x80 } else { 0 };
                        unsafe {
                            (t.pack_dot_lhs)(
                                m,
                                kb,
                                ap.add(p0 * cs_a),
                                rs_a,
                                cs_a,
                                pa.as_mut_ptr(),
                                pstride,
                                flip,
                                rsum.as_mut_ptr(),
                                true,
                            );
                            (t.pack_dot_rhs)(
                                kb,
                                n,
                                bp.add(p0 * rs_b),
                                rs_b,
                                cs_b,
                                pb.as_mut_ptr(),
                                sstride,
                                csum.as_mut_ptr(),
                                true,
                            );
                        }
                        // Every block's offsets terms, added in its own pass
                        // (sums are per block); `c_off` once.
                        let shift = if signed_a { 128 } else { 0 };
                        let first = p0 == 0;
                        let row_comp: Vec<i32> = rsum
                            .iter()
                            .map(|s| {
                                let x = (-b_off).wrapping_mul(*s).wrapping_add(kb as i32 * a_off * b_off);
                                if first { x.wrapping_add(c_off) } else { x }
                            })
                            .collect();
                        let col_comp: Vec<i32> = csum.iter().map(|s| (-(a_off + shift)).wrapping_mul(*s)).collect();
                        for q in 0..panels {
                            for s in 0..strips {
                                // Every tile through a padded one, copied into C.
                                let mut tile = vec![0i32; mr * nr];
                                let rows = (m - q * mr).min(mr);
                                let cols = (n - s * nr).min(nr);
                                for i in 0..rows {
                                    for j in 0..cols {
                                        tile[i * nr + j] = c[(q * mr + i) * n + s * nr + j];
                                    }
                                }
                                let kern = if first || offsets || signed_a {
                                    t.microkernel_dot.microkernel_dot_comp.kernel
                                } else {
                                    t.microkernel_dot.microkernel_dot.kernel
                                };
                                unsafe {
                                    kern(
                                        kd,
                                        pa.as_ptr().add(q * pstride),
                                        pb.as_ptr().add(s * sstride),
                                        tile.as_mut_ptr(),
                                        nr,
                                        !first,
                                        row_comp.as_ptr().add(q * mr),
                                        col_comp.as_ptr().add(s * nr),
                                    )
                                };
                                for i in 0..rows {
                                    for j in 0..cols {
                                        c[(q * mr + i) * n + s * nr + j] = tile[i * nr + j];
                                    }
                                }
                            }
                        }
                        p0 += kc;
                    }
                    assert_eq!(
                        c, want,
                        "{target}: int8 GEMM m={m} n={n} k={k} s8 A={signed_a} extreme={extreme} offsets={offsets} row-major={a_rowmajor}"
                    );
                }
            }
        }
    }
}
/// `gemv_axpy` against `base_gemv_axpy::<V>` on the reference over every tail
/// of `n` and a strided x: each element of y within a K-scaled tolerance of the
/// reference and of the f64 product, nothing written past `n`.
fn check_gemv_axpy<V: FloatVec>(target: &str, kern: GemvAxpyFn<V::Elem>)
where
    V::Elem: Float,
{
    let l = V::LANES;
    let mut rng = Rng::new(21);
    for k in [0, 1, 3, 4, 5, 9] {
        for n in [1, l.saturating_sub(1).max(1), l, l + 1, 3 * l + 2, 37] {
            for incx in [1, 2] {
                let ldw = n + 3;
                let x: Vec<V::Elem> = random(&mut rng, k * incx);
                let w: Vec<V::Elem> = random(&mut rng, k * ldw);
                let y0: Vec<V::Elem> = random(&mut rng, n + l);
                let alpha = V::Elem::of(0.7);
                let run = |f: &dyn Fn(*mut V::Elem)| {
                    let mut y = y0.clone();
                    f(y.as_mut_ptr());
                    y
                };
                let (xp, wp) = (x.as_ptr(), w.as_ptr());
                let want = run(&|y| unsafe { kernels::base_gemv_axpy::<V>(k, n, alpha, xp, incx, wp, ldw, y) });
                let got = run(&|y| unsafe { kern(k, n, alpha, xp, incx, wp, ldw, y) });
                let ctx = format!("{target}: gemv_axpy k={k} n={n} incx={incx}");
                assert!(got[n..] == y0[n..], "{ctx}: wrote past y");
                for j in 0..n {
                    let terms = (0..k).map(|p| 0.7 * x[p * incx].f() * w[p * ldw + j].f());
                    let (exact, mag) = terms.fold((y0[j].f(), y0[j].f().abs()), |(s, m), t| (s + t, m + t.abs()));
                    let tol = (k as f64 + 4.0) * V::Elem::EPS * mag;
                    let (g, r) = (got[j].f(), want[j].f());
                    assert!(
                        (g - r).abs() <= tol && (g - exact).abs() <= tol,
                        "{ctx} ({j}): {g} vs reference {r}, exact {exact}"
                    );
                }
            }
        }
    }
}

/// The dot-form instance for `ROWS` rows against `base_gemv_dot::<V, ROWS>`
/// on the reference, as `check_dot_edge` checks the edge's: every lane within a
/// K-scaled tolerance, the lanes adding up to the f64 dot product, nothing
/// written past the sums; its constants must be `ROWS`.
fn check_gemv_dot<V: FloatVec, const ROWS: usize>(
    target: &str,
    Instance { kernel: kern, consts }: Instance<GemvDotFn<V::Elem>, GemvDotConsts>,
) where
    V::Elem: Float,
{
    assert_eq!(
        consts,
        GemvDotConsts { rows: ROWS },
        "{target}: the dispatch table's constants"
    );
    let l = V::LANES;
    let mut rng = Rng::new(23);
    for k in [0, 1, l - 1, l, l + 1, 2 * l, 2 * l + 1, 3 * l + 2, 257] {
        let ldw = k + 3;
        let w: Vec<V::Elem> = random(&mut rng, ROWS * ldw);
        let x: Vec<V::Elem> = random(&mut rng, k);
        let len = ROWS * l;
        let run = |f: &dyn Fn(*mut V::Elem)| {
            let mut out = vec![V::Elem::of(SENTINEL); len + 2 * l];
            f(out.as_mut_ptr());
            out
        };
        let want = run(&|o| unsafe { kernels::base_gemv_dot::<V, ROWS>(k, w.as_ptr(), ldw, x.as_ptr(), o) });
        let got = run(&|o| unsafe { kern(k, w.as_ptr(), ldw, x.as_ptr(), o) });
        let ctx = format!("{target}: gemv_dot {ROWS} rows k={k}");
        assert!(
            got[len..].iter().all(|v| v.f() == SENTINEL),
            "{ctx}: wrote past the sums"
        );
        for r in 0..ROWS {
            let terms = (0..k).map(|p| w[r * ldw + p].f() * x[p].f());
            let (dot, mag) = terms.fold((0.0, 0.0), |(s, m), t| (s + t, m + f64::abs(t)));
            let tol = (k as f64 + 4.0) * V::Elem::EPS * mag;
            let lanes = &got[r * l..][..l];
            for (i, (g, w)) in lanes.iter().zip(&want[r * l..]).enumerate() {
                assert!(
                    (g.f() - w.f()).abs() <= tol,
                    "{ctx} row {r} lane {i}: {g:?} vs reference {w:?}"
                );
            }
            let sum: f64 = lanes.iter().map(|v| v.f()).sum();
            assert!(
                (sum - dot).abs() <= tol,
                "{ctx} row {r}: lanes add to {sum}, the dot product is {dot}"
            );
        }
    }
}

/// Every instance listed in `base_gemv_dot`'s `#[kernel(..)]`, of the table
/// `$g` (a `GemvDot`), as `check_microkernels!` does.
macro_rules! check_gemv_dots {
    ($name:expr, $V:ty, $g:expr, $slots:expr) => {{
        let GemvDot { gemv_dot, gemv_dot_row } = $g;
        check_gemv_dot::<$V, { upto($slots / 2, 4) }>($name, gemv_dot);
        check_gemv_dot::<$V, 1>($name, gemv_dot_row);
    }};
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
            fn epilogue() {
                if let Some(t) = table(NAME) {
                    let kern = t.f32.epilogue.expect("every f32 table has the epilogue");
                    check_epilogue::<F32>(NAME, kern);
                    check_activation_accuracy(NAME, kern);
                }
                assert!(
                    gemmkit::compiled().iter().all(|t| t.f64.epilogue.is_none()),
                    "the epilogue is f32 only"
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
            fn gemv() {
                if let Some(t) = table(NAME) {
                    check_gemv_axpy::<F32>(NAME, t.f32.gemv_axpy);
                    check_gemv_axpy::<F64>(NAME, t.f64.gemv_axpy);
                    check_gemv_dots!(NAME, F32, t.f32.gemv_dot, g::F32_MR * (g::F32_NR / g::F32_LANES));
                    check_gemv_dots!(NAME, F64, t.f64.gemv_dot, g::F64_MR * (g::F64_NR / g::F64_LANES));
                }
            }

            #[test]
            fn microkernel_dot_u8i8() {
                if let Some(t) = table(NAME) {
                    let MicrokernelDot {
                        microkernel_dot,
                        microkernel_dot_comp,
                        microkernel_dot_row,
                        microkernel_dot_comp_row,
                    } = t.u8i8.microkernel_dot;
                    let (a, b) = (&u8_extreme, &i8_extreme);
                    let bits = |x: i32| x as u32;
                    const MR: usize = g::U8I8_MR;
                    check_microkernel_dot::<U8I8, 0, MR>(NAME, microkernel_dot, a, b, &c_value, &bits);
                    check_microkernel_dot::<U8I8, 1, MR>(NAME, microkernel_dot_comp, a, b, &c_value, &bits);
                    check_microkernel_dot::<U8I8, 0, 1>(NAME, microkernel_dot_row, a, b, &c_value, &bits);
                    check_microkernel_dot::<U8I8, 1, 1>(NAME, microkernel_dot_comp_row, a, b, &c_value, &bits);
                }
            }

            #[test]
            fn gemv_dotprod() {
                if let Some(t) = table(NAME) {
                    let GemvDotprod {
                        gemv_dotprod,
                        gemv_dotprod_row,
                        gemv_dotprod_sums,
                        gemv_dotprod_sums_row,
                    } = t.u8i8.gemv_dotprod;
                    let (a, b, s) = (&u8_extreme, &i8_extreme, i32::MIN + 5);
                    let bits = |x: i32| x as u32;
                    check_gemv_dotprod::<U8I8, 4, 0>(NAME, gemv_dotprod, a, b, 1, s, &bits);
                    check_gemv_dotprod::<U8I8, 1, 0>(NAME, gemv_dotprod_row, a, b, 1, s, &bits);
                    check_gemv_dotprod::<U8I8, 4, 1>(NAME, gemv_dotprod_sums, a, b, 1, s, &bits);
                    check_gemv_dotprod::<U8I8, 1, 1>(NAME, gemv_dotprod_sums_row, a, b, 1, s, &bits);
                    let GemvDotprod {
                        gemv_dotprod,
                        gemv_dotprod_row,
                        gemv_dotprod_sums,
                        gemv_dotprod_sums_row,
                    } = t.bf16.gemv_dotprod;
                    let x = |rng: &mut Rng, _: usize| bf16(rng);
                    let (one, s) = (0x3f80u16, f32::from_bits(0x7fc0_1234));
                    check_gemv_dotprod::<BF16, 4, 0>(NAME, gemv_dotprod, &x, &x, one, s, &f32::to_bits);
                    check_gemv_dotprod::<BF16, 1, 0>(NAME, gemv_dotprod_row, &x, &x, one, s, &f32::to_bits);
                    check_gemv_dotprod::<BF16, 4, 1>(NAME, gemv_dotprod_sums, &x, &x, one, s, &f32::to_bits);
                    check_gemv_dotprod::<BF16, 1, 1>(NAME, gemv_dotprod_sums_row, &x, &x, one, s, &f32::to_bits);
                }
            }

            #[test]
            fn microkernel_dot_u8i8_every_byte_pair() {
                if let Some(t) = table(NAME) {
                    check_dot_every_byte_pair::<U8I8, { g::U8I8_MR }>(
                        NAME,
                        t.u8i8.microkernel_dot.microkernel_dot.kernel,
                    );
                }
            }

            #[test]
            fn microkernel_dot_bf16() {
                if let Some(t) = table(NAME) {
                    let MicrokernelDot {
                        microkernel_dot,
                        microkernel_dot_comp,
                        microkernel_dot_row,
                        microkernel_dot_comp_row,
                    } = t.bf16.microkernel_dot;
                    let x = |rng: &mut Rng, _: usize| bf16(rng);
                    let acc = |rng: &mut Rng| rng.unit() as f32 * 1e6;
                    let bits = f32::to_bits;
                    const MR: usize = g::BF16_MR;
                    check_microkernel_dot::<BF16, 0, MR>(NAME, microkernel_dot, &x, &x, &acc, &bits);
                    check_microkernel_dot::<BF16, 1, MR>(NAME, microkernel_dot_comp, &x, &x, &acc, &bits);
                    check_microkernel_dot::<BF16, 0, 1>(NAME, microkernel_dot_row, &x, &x, &acc, &bits);
                    check_microkernel_dot::<BF16, 1, 1>(NAME, microkernel_dot_comp_row, &x, &x, &acc, &bits);
                }
            }

            #[test]
            fn pack_dot_lhs() {
                if let Some(t) = table(NAME) {
                    let sentinel = PACK_SENTINEL;
                    check_pack_dot_lhs::<U8I8>(NAME, t.u8i8.pack_dot_lhs, &[0, 0x80], &u8_extreme, sentinel);
                    let x = |rng: &mut Rng, _: usize| bf16(rng);
                    check_pack_dot_lhs::<BF16>(NAME, t.bf16.pack_dot_lhs, &[0], &x, u16::from(sentinel));
                }
            }

            #[test]
            fn pack_dot_rhs() {
                if let Some(t) = table(NAME) {
                    let sentinel = PACK_SENTINEL;
                    check_pack_dot_rhs::<U8I8>(NAME, t.u8i8.pack_dot_rhs, &i8_extreme, sentinel as i8);
                    let x = |rng: &mut Rng, _: usize| bf16(rng);
                    check_pack_dot_rhs::<BF16>(NAME, t.bf16.pack_dot_rhs, &x, u16::from(sentinel));
                }
            }

            #[test]
            #[cfg(all(unix, not(target_family = "wasm")))]
            fn pack_dot_stays_inside_its_buffers() {
                if let Some(t) = table(NAME) {
                    let u8i8 = (t.u8i8.pack_dot_lhs, t.u8i8.pack_dot_rhs);
                    check_pack_dot_bounds::<U8I8>(NAME, u8i8, &[0, 0x80], &u8_extreme, &i8_extreme);
                    let x = |rng: &mut Rng, _: usize| bf16(rng);
                    let bf16 = (t.bf16.pack_dot_lhs, t.bf16.pack_dot_rhs);
                    check_pack_dot_bounds::<BF16>(NAME, bf16, &[0], &x, &x);
                }
            }

            #[test]
            fn int8_gemm_from_the_packers_and_micro_kernels() {
                if let Some(t) = table(NAME) {
                    check_int8_gemm(NAME, &t.u8i8, (g::U8I8_MR, g::U8I8_NR));
                }
            }
        }
    };
}

gemmkit::generated::for_each_target!(target_tests);
