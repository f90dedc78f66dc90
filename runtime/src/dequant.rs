//! int8 products dequantised to `f32`, with the fused epilogue: what a
//! quantised linear layer computes,
//!
//! ```text
//! C := act(scale * (A - a_offset) * (B - b_offset) + bias)
//! ```
//!
//! for `u8` or `i8` A (activations), `i8` B (weights, in place or packed
//! ahead) and `f32` C, with one scale for all of C or one per column (a
//! per-channel weight scale times the activations' scale).
//!
//! The products run as the exact int8 GEMM does (`alpha == 1`, `beta == 0`:
//! wrapping `i32` sums, k split into blocks that add), with the sums held in
//! C's own elements; after each tile's last block of k, while it is in L1, the
//! generated epilogue kernel converts each sum to `f32` (rounded to nearest),
//! multiplies it by its scale, adds the bias and applies the activation, each
//! step rounded once, in that order. So C is written, never read (BLAS's
//! `beta == 0`), and the result is the same as the unfused composition, the
//! `i32` GEMM and then those steps, bit for bit, on every target and for any
//! thread count.

use crate::dispatch::Check;
use crate::dot::{IntFamily, S8S8, U8S8};
use crate::error::GemmError;
use crate::fused::{Epi, Epilogue};
use crate::generated::Target;
use crate::lowp::{COffset, int_packed, int_problem, run_int};
use crate::mat::{MatMut, MatRef};
use crate::packed::PackedBRef;
use crate::parallel::Parallelism;

/// The scale that turns an int8 product's `i32` sums into `f32` values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale<'a> {
    /// One scale for every element of C (per-tensor quantisation).
    Single(f32),
    /// `scale[j]` for column `j` of C, `n` values (per-channel weights, each
    /// output channel a column of C).
    PerColumn(&'a [f32]),
}

/// `C := act(scale * (A - a_offset) * (B - b_offset) + bias)` for `u8` A, `i8`
/// B and `f32` C, on the active target: a quantised linear layer.
///
/// The product is the exact int8 GEMM's (wrapping `i32` sums, as
/// [`gemm_u8s8s32`](crate::gemm_u8s8s32) with `alpha == 1` and `beta == 0`).
/// Then the fused epilogue, while each tile is in L1, converts each sum to
/// `f32`, multiplies it by its scale, adds the bias and applies the
/// activation, each step rounded once, in that order: the same bits as those
/// steps unfused, on every target and for any thread count. C is only
/// written, never read.
///
/// ```
/// use gemmkit::{Activation, Bias, Epilogue, MatMut, MatRef, Scale, gemm_u8s8f32};
/// let x = [130u8, 126, 128, 131]; // 1 x 4 activations, zero point 128
/// let w = [1i8, -1, 2, 0, 0, 3, -2, 1]; // 4 x 2 weights
/// let mut y = [0.0f32; 2];
/// let bias = [0.25f32, 1.0];
/// gemm_u8s8f32(
///     MatRef::row_major(&x, 1, 4), 128, MatRef::row_major(&w, 4, 2), 0,
///     MatMut::row_major(&mut y, 1, 2), Scale::PerColumn(&[0.5, 0.125]),
///     &Epilogue::new(Bias::PerColumn(&bias), Activation::Relu),
/// )?;
/// // Sums: 2 * 1 - 2 * 2 + 0 * 0 + 3 * -2 = -8 and 2 * -1 - 2 * 0 + 0 * 3 + 3 * 1 = 1.
/// assert_eq!(y, [0.0, 1.125]); // relu(0.5 * -8 + 0.25), relu(0.125 * 1 + 1)
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_u8s8f32(
    a: MatRef<'_, u8>,
    a_offset: u8,
    b: MatRef<'_, i8>,
    b_offset: i8,
    c: MatMut<'_, f32>,
    scale: Scale<'_>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    gemm_u8s8f32_with(
        crate::active()?,
        &Parallelism::Rayon,
        a,
        a_offset,
        b,
        b_offset,
        c,
        scale,
        epilogue,
    )
}

/// [`gemm_u8s8f32`] on an explicit target with explicit threading.
///
/// ```
/// use gemmkit::{Epilogue, MatMut, MatRef, Parallelism, Scale};
/// let (x, w) = ([3u8, 1], [2i8, -4]); // 1 x 2 and 2 x 1
/// for target in gemmkit::available() {
///     let mut y = [0.0f32];
///     gemmkit::gemm_u8s8f32_with(
///         target, &Parallelism::Sequential, MatRef::row_major(&x, 1, 2), 0,
///         MatRef::row_major(&w, 2, 1), 0, MatMut::row_major(&mut y, 1, 1),
///         Scale::Single(0.5), &Epilogue::default(),
///     )?;
///     assert_eq!(y, [1.0], "on {}", target.name);
/// }
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_u8s8f32_with(
    target: &Target,
    parallelism: &Parallelism,
    a: MatRef<'_, u8>,
    a_offset: u8,
    b: MatRef<'_, i8>,
    b_offset: i8,
    c: MatMut<'_, f32>,
    scale: Scale<'_>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    dequant::<U8S8>(target, parallelism, a, a_offset.into(), b, b_offset, c, scale, epilogue)
}

/// [`gemm_u8s8f32`] for `i8` A.
///
/// ```
/// use gemmkit::{Activation, Bias, Epilogue, MatMut, MatRef, Scale, gemm_s8s8f32};
/// let x = [-2i8, 5]; // 1 x 2
/// let w = [3i8, 1]; // 2 x 1
/// let mut y = [0.0f32];
/// let epilogue = Epilogue::new(Bias::PerColumn(&[1.0]), Activation::None);
/// gemm_s8s8f32(MatRef::row_major(&x, 1, 2), 0, MatRef::row_major(&w, 2, 1), 0, MatMut::row_major(&mut y, 1, 1), Scale::Single(0.25), &epilogue)?;
/// assert_eq!(y, [0.25 * -1.0 + 1.0]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_s8s8f32(
    a: MatRef<'_, i8>,
    a_offset: i8,
    b: MatRef<'_, i8>,
    b_offset: i8,
    c: MatMut<'_, f32>,
    scale: Scale<'_>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    gemm_s8s8f32_with(
        crate::active()?,
        &Parallelism::Rayon,
        a,
        a_offset,
        b,
        b_offset,
        c,
        scale,
        epilogue,
    )
}

/// [`gemm_s8s8f32`] on an explicit target with explicit threading.
#[allow(clippy::too_many_arguments)]
pub fn gemm_s8s8f32_with(
    target: &Target,
    parallelism: &Parallelism,
    a: MatRef<'_, i8>,
    a_offset: i8,
    b: MatRef<'_, i8>,
    b_offset: i8,
    c: MatMut<'_, f32>,
    scale: Scale<'_>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    dequant::<S8S8>(target, parallelism, a, a_offset.into(), b, b_offset, c, scale, epilogue)
}

/// [`gemm_u8s8f32`] with B packed ahead ([`PackedB<i8>`](crate::PackedB), or
/// its bytes, [`PackedBRef`]): a quantised linear layer's weights, packed once.
///
/// ```
/// use gemmkit::{Epilogue, MatMut, MatRef, PackedB, Scale, gemm_u8s8f32_packed};
/// let w = [1i8, -1, 2, 0]; // 2 x 2 weights
/// let packed = PackedB::new(MatRef::row_major(&w, 2, 2))?;
/// let x = [1u8, 2, 3, 4];
/// let mut y = [0.0f32; 4];
/// gemm_u8s8f32_packed(MatRef::row_major(&x, 2, 2), 0, &packed, 0, MatMut::row_major(&mut y, 2, 2), Scale::Single(2.0), &Epilogue::default())?;
/// assert_eq!(y, [10.0, -2.0, 22.0, -6.0]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_u8s8f32_packed<'b>(
    a: MatRef<'_, u8>,
    a_offset: u8,
    b: impl Into<PackedBRef<'b, i8>>,
    b_offset: i8,
    c: MatMut<'_, f32>,
    scale: Scale<'_>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    let (target, par) = (crate::active()?, Parallelism::Rayon);
    gemm_u8s8f32_packed_with(target, &par, a, a_offset, b, b_offset, c, scale, epilogue)
}

/// [`gemm_u8s8f32_packed`] on an explicit target with explicit threading.
#[allow(clippy::too_many_arguments)]
pub fn gemm_u8s8f32_packed_with<'b>(
    target: &Target,
    parallelism: &Parallelism,
    a: MatRef<'_, u8>,
    a_offset: u8,
    b: impl Into<PackedBRef<'b, i8>>,
    b_offset: i8,
    c: MatMut<'_, f32>,
    scale: Scale<'_>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    dequant_packed::<U8S8>(
        target,
        parallelism,
        a,
        a_offset.into(),
        b.into(),
        b_offset,
        c,
        scale,
        epilogue,
    )
}

/// [`gemm_s8s8f32`] with B packed ahead, as [`gemm_u8s8f32_packed`].
///
/// ```
/// use gemmkit::{Epilogue, MatMut, MatRef, PackedB, Scale, gemm_s8s8f32_packed};
/// let w = [3i8, -2, 1, 5]; // 4 x 1 weights
/// let packed = PackedB::new(MatRef::row_major(&w, 4, 1))?;
/// let x = [2i8, -2, 0, 1];
/// let mut y = [0.0f32];
/// gemm_s8s8f32_packed(MatRef::row_major(&x, 1, 4), 0, &packed, 0, MatMut::row_major(&mut y, 1, 1), Scale::Single(0.5), &Epilogue::default())?;
/// assert_eq!(y, [7.5]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_s8s8f32_packed<'b>(
    a: MatRef<'_, i8>,
    a_offset: i8,
    b: impl Into<PackedBRef<'b, i8>>,
    b_offset: i8,
    c: MatMut<'_, f32>,
    scale: Scale<'_>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    let (target, par) = (crate::active()?, Parallelism::Rayon);
    gemm_s8s8f32_packed_with(target, &par, a, a_offset, b, b_offset, c, scale, epilogue)
}

/// [`gemm_s8s8f32_packed`] on an explicit target with explicit threading.
#[allow(clippy::too_many_arguments)]
pub fn gemm_s8s8f32_packed_with<'b>(
    target: &Target,
    parallelism: &Parallelism,
    a: MatRef<'_, i8>,
    a_offset: i8,
    b: impl Into<PackedBRef<'b, i8>>,
    b_offset: i8,
    c: MatMut<'_, f32>,
    scale: Scale<'_>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    dequant_packed::<S8S8>(
        target,
        parallelism,
        a,
        a_offset.into(),
        b.into(),
        b_offset,
        c,
        scale,
        epilogue,
    )
}

/// C's elements as the `i32` sums they hold until the epilogue has run.
fn sums(c: MatMut<'_, f32>) -> MatMut<'_, i32> {
    let MatMut {
        data,
        rows,
        cols,
        rs,
        cs,
    } = c;
    // SAFETY: `i32` and `f32` have one size and alignment, and every bit
    // pattern is a value of each; the borrow moves into the new view.
    let data = unsafe { std::slice::from_raw_parts_mut(data.as_mut_ptr().cast::<i32>(), data.len()) };
    MatMut {
        data,
        rows,
        cols,
        rs,
        cs,
    }
}

/// One dequantising call, checked: the exact int8 product into C's elements,
/// then the epilogue (see the module).
#[allow(clippy::too_many_arguments)]
fn dequant<F: IntFamily>(
    target: &Target,
    parallelism: &Parallelism,
    a: MatRef<'_, F::A>,
    a_offset: i32,
    b: MatRef<'_, i8>,
    b_offset: i8,
    c: MatMut<'_, f32>,
    scale: Scale<'_>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    target.check()?;
    let mut c = sums(c);
    let mut p = int_problem::<F>(1.0, &a, a_offset, &b, b_offset, 0.0, &mut c, COffset::Fixed(0))?;
    p.epi = Some(Epi::dequant(target, &scale, epilogue, p.m, p.n)?);
    // SAFETY: the problem's views were checked by `int_problem`, the bias and
    // scale by `Epi::dequant`; `scale` lives until the call returns, and the
    // borrows keep the views alive and C unaliased.
    unsafe { run_int(target, parallelism, &p) };
    Ok(())
}

/// [`dequant`] with B packed ahead.
#[allow(clippy::too_many_arguments)]
fn dequant_packed<F: IntFamily>(
    target: &Target,
    parallelism: &Parallelism,
    a: MatRef<'_, F::A>,
    a_offset: i32,
    b: PackedBRef<'_, i8>,
    b_offset: i8,
    c: MatMut<'_, f32>,
    scale: Scale<'_>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    // The epilogue is checked after the operands, as the unpacked form does.
    let epi = |m, n| Epi::dequant(target, &scale, epilogue, m, n).map(Some);
    let (c, offset) = (sums(c), COffset::Fixed(0));
    int_packed::<F>(
        target,
        parallelism,
        (1.0, 0.0),
        a,
        a_offset,
        b,
        b_offset,
        c,
        offset,
        epi,
    )
}
