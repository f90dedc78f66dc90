//! The fused epilogue: a scale (turning an int8 product's `i32` sums into
//! values), a bias and an activation applied to a block of C after its last
//! block of k, while the block is still in L1.
//!
//! The activations are built from the vector API's basic ops: `exp` from a
//! rounding by the `1.5 * 2^23` trick, a Cody-Waite reduction, a degree-6
//! polynomial (Cephes' `expf`) and [`FloatVec::exp2i`]; every activation that
//! needs more goes through the logistic function `sigmoid(t) = 1 / (1 +
//! exp(-t))`, computed from `exp(-|t|)`, which never overflows:
//!
//! - SiLU: `x * sigmoid(x)`;
//! - GELU, tanh form: `0.5 x (1 + tanh(u)) = x * sigmoid(2u)` with `u =
//!   sqrt(2 / pi) (x + 0.044715 x^3)` (no cancellation in `1 + tanh` for
//!   negative `x`);
//! - GELU, erf form: `x * Phi(x)`, `Phi(x) = 0.5 erfc(-x / sqrt 2)`, with
//!   `erfc` for a non-negative argument from Numerical Recipes' `erfcc`
//!   (Chebyshev fit, relative error under 1.2e-7 for every argument) and
//!   `erfc(-z) = 2 - erfc(z)`, so both tails keep their relative accuracy.
//!
//! NaN in C (or in the bias) stays NaN through every activation, ReLU included
//! (as PyTorch's `relu`). `exp` is 0 below -87 (where its result would leave
//! the normal numbers), so a result below `|x| exp(-87)` (about `|x| *
//! 1.6e-38`) in magnitude may be 0. SiLU and the GELUs of `-inf` are NaN
//! (`-inf * 0`), as their formulas are.

use crate::vec::FloatVec;
use kernel_macros::kernel;

/// `C = act(scale * C + bias)` for an `m x n` block of C, row stride `ldc`,
/// unit column stride; reads and writes nothing outside the block.
///
/// `scale_kind`: 0 none (C holds values, and `scale` is not read), or C holds
/// `i32` sums (an int8 product's, in the bits of its `f32` elements), each
/// converted to `f32` and multiplied by a scale: 1 one for all (`scale[0]`),
/// 2 one per column (`scale[j]`, `n` values), 3 one per row (`scale[i]`, `m`
/// values). `bias_kind`: 0 none, 1 one per column (`bias[j]`, `n` values), 2
/// one per row (`bias[i]`, `m` values). `act`: 0 none, 1 ReLU (`max(0, x)`,
/// NaN stays NaN), 2 SiLU, 3 GELU (tanh form), 4 GELU (erf form); any other
/// is none. Each step rounds once, in this order: the conversion, the
/// product, the sum (none without a bias, so `-0` stays `-0`), the activation.
///
/// # Safety
/// `c` readable and writable at every `(i, j)` with `i < m`, `j < n`; `bias`
/// and `scale` readable for the values `bias_kind` and `scale_kind` read.
#[allow(clippy::too_many_arguments)]
#[kernel]
pub unsafe fn base_epilogue<V: FloatVec<Elem = f32>>(
    m: usize,
    n: usize,
    c: *mut f32,
    ldc: usize,
    bias: *const f32,
    bias_kind: usize,
    act: usize,
    scale: *const f32,
    scale_kind: usize,
) {
    // One loop per activation, its code a constant in each (the helper is
    // inlined with it): the branch on `act` leaves the loop, which on a
    // cheap activation cost more than the activation.
    if act == 1 {
        epilogue_rows::<V>(m, n, c, ldc, bias, bias_kind, 1, scale, scale_kind);
    } else if act == 2 {
        epilogue_rows::<V>(m, n, c, ldc, bias, bias_kind, 2, scale, scale_kind);
    } else if act == 3 {
        epilogue_rows::<V>(m, n, c, ldc, bias, bias_kind, 3, scale, scale_kind);
    } else if act == 4 {
        epilogue_rows::<V>(m, n, c, ldc, bias, bias_kind, 4, scale, scale_kind);
    } else {
        epilogue_rows::<V>(m, n, c, ldc, bias, bias_kind, 0, scale, scale_kind);
    }
}

/// [`base_epilogue`]'s loops, for one activation code.
#[allow(clippy::too_many_arguments)]
#[kernel]
unsafe fn epilogue_rows<V: FloatVec<Elem = f32>>(
    m: usize,
    n: usize,
    c: *mut f32,
    ldc: usize,
    bias: *const f32,
    bias_kind: usize,
    act: usize,
    scale: *const f32,
    scale_kind: usize,
) {
    let full = n - n % V::LANES;
    let tail = n - full;
    for i in 0..m {
        let row = c.add(i * ldc);
        let row_bias = if bias_kind == 2 {
            V::broadcast(bias.add(i))
        } else {
            V::zero()
        };
        let row_scale = if scale_kind == 1 {
            V::broadcast(scale)
        } else if scale_kind == 3 {
            V::broadcast(scale.add(i))
        } else {
            V::zero()
        };
        let mut j = 0;
        while j < full {
            let mut x = V::load(row.add(j));
            if scale_kind != 0 {
                let s = if scale_kind == 2 {
                    V::load(scale.add(j))
                } else {
                    row_scale
                };
                x = V::mul(V::from_int_bits(x), s);
            }
            if bias_kind != 0 {
                let b = if bias_kind == 1 { V::load(bias.add(j)) } else { row_bias };
                x = V::add(x, b);
            }
            V::store(row.add(j), activate::<V>(x, act));
            j += V::LANES;
        }
        if tail > 0 {
            let mut x = V::load_partial(row.add(full), tail);
            if scale_kind != 0 {
                let s = if scale_kind == 2 {
                    V::load_partial(scale.add(full), tail)
                } else {
                    row_scale
                };
                x = V::mul(V::from_int_bits(x), s);
            }
            if bias_kind != 0 {
                let b = if bias_kind == 1 {
                    V::load_partial(bias.add(full), tail)
                } else {
                    row_bias
                };
                x = V::add(x, b);
            }
            V::store_partial(row.add(full), activate::<V>(x, act), tail);
        }
    }
}

/// Activation `act` (as [`base_epilogue`] numbers them) of every lane of `x`.
/// The product with `x` last, so a NaN in `x` is NaN in the result.
#[kernel]
unsafe fn activate<V: FloatVec<Elem = f32>>(x: V, act: usize) -> V {
    if act == 1 {
        // `x` second: a NaN in `x` propagates on every target.
        V::max(V::zero(), x)
    } else if act == 2 {
        V::mul(x, sigmoid::<V>(x))
    } else if act == 3 {
        // 2u = 2 sqrt(2 / pi) x (1 + 0.044715 x^2).
        let poly = V::mul_add(V::mul(x, x), V::splat(0.044715), V::splat(1.0));
        let two_u = V::mul(V::mul(x, V::splat(1.595_769)), poly);
        V::mul(x, sigmoid::<V>(two_u))
    } else if act == 4 {
        V::mul(x, phi::<V>(x))
    } else {
        x
    }
}

/// `1 / (1 + exp(-t))` from `e = exp(-|t|)`: `1 / (1 + e)` for `t >= 0`,
/// `e / (1 + e)` for `t < 0`; accurate in both tails.
#[kernel]
unsafe fn sigmoid<V: FloatVec<Elem = f32>>(t: V) -> V {
    let neg_abs = V::neg(V::max(t, V::neg(t)));
    let e = exp_nonpositive::<V>(neg_abs);
    let s = V::div(V::splat(1.0), V::add(e, V::splat(1.0)));
    V::select_neg(t, V::mul(e, s), s)
}

/// The standard normal distribution function: `0.5 erfc(-x / sqrt 2)`, as
/// `h = 0.5 erfc(|x| / sqrt 2)` for `x < 0` and `1 - h` otherwise.
#[kernel]
unsafe fn phi<V: FloatVec<Elem = f32>>(x: V) -> V {
    let z = V::mul(V::max(x, V::neg(x)), V::splat(core::f32::consts::FRAC_1_SQRT_2));
    let t = V::div(V::splat(1.0), V::mul_add(z, V::splat(0.5), V::splat(1.0)));
    // Numerical Recipes' `erfcc`: erfc(z) = t exp(-z^2 + P(t)), its
    // coefficients rounded to f32 (written as the shortest f32 literals).
    let mut p = V::splat(0.170_872_76);
    p = V::mul_add(p, t, V::splat(-0.822_152_26));
    p = V::mul_add(p, t, V::splat(1.488_515_9));
    p = V::mul_add(p, t, V::splat(-1.135_204));
    p = V::mul_add(p, t, V::splat(0.278_868_08));
    p = V::mul_add(p, t, V::splat(-0.186_288_06));
    p = V::mul_add(p, t, V::splat(0.096_784_18));
    p = V::mul_add(p, t, V::splat(0.374_091_95));
    p = V::mul_add(p, t, V::splat(1.000_023_7));
    p = V::mul_add(p, t, V::splat(-1.265_512_2));
    // The argument is at most about 3e-8 (at z = 0), where `exp` is still exact
    // enough; `exp_nonpositive` needs no more.
    let arg = V::mul_add(z, V::neg(z), p);
    let h = V::mul(V::mul(t, V::splat(0.5)), exp_nonpositive::<V>(arg));
    V::select_neg(x, h, V::add(V::neg(h), V::splat(1.0)))
}

/// `exp(y)` for `y <= 0` (or barely above), 0 below -87: `y` clamped at -87, `n =
/// round(y / ln 2)` by adding and subtracting `1.5 * 2^23`, `r = y - n ln 2`
/// in two steps (Cody-Waite: `n * 0.693359375` is exact), Cephes' `expf`
/// polynomial on `r` in `[-ln 2 / 2, ln 2 / 2]`, times `2^n`.
#[kernel]
unsafe fn exp_nonpositive<V: FloatVec<Elem = f32>>(y: V) -> V {
    let yc = V::max(V::splat(-87.0), y);
    let shifted = V::mul_add(yc, V::splat(core::f32::consts::LOG2_E), V::splat(12_582_912.0));
    let nf = V::add(shifted, V::splat(-12_582_912.0));
    // -0.693359375 = -355 / 512 (exact in f32, its shortest literal here).
    let r_hi = V::mul_add(nf, V::splat(-0.693_359_4), yc);
    let r = V::mul_add(nf, V::splat(2.121_944_4e-4), r_hi);
    // Cephes' coefficients rounded to f32 (its 0.50000001 is 0.5 in f32).
    let mut q = V::splat(1.987_569_1e-4);
    q = V::mul_add(q, r, V::splat(1.398_199_9e-3));
    q = V::mul_add(q, r, V::splat(8.333_452e-3));
    q = V::mul_add(q, r, V::splat(4.166_579_6e-2));
    q = V::mul_add(q, r, V::splat(0.166_666_66));
    q = V::mul_add(q, r, V::splat(0.5));
    let p = V::mul_add(q, V::mul(r, r), V::add(r, V::splat(1.0)));
    // Below -87 the result is 0 rather than the clamp's `exp(-87)`.
    V::select_neg(V::add(y, V::splat(87.0)), V::zero(), V::mul(p, V::exp2i(nf)))
}
