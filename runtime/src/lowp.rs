//! The low-precision API: int8 (`u8 x i8` and `i8 x i8` to `i32`, with
//! oneDNN/MKL's offsets) and bf16 (`bf16 x bf16` to `f32`), on the same checked
//! views, targets and threads as [`crate::gemm`].

use crate::dispatch::Check;
use crate::dot::{Bf16, Bf16Wide, COff, IntExtra, IntFamily, S8S8, U8S8, int_out};
use crate::dot_gemv;
use crate::driver::drive;
use crate::error::{GemmError, check_len};
use crate::family::Family;
use crate::fused::Epi;
use crate::generated::Target;
use crate::mat::{MatMut, MatRef};
use crate::packed::PackedBRef;
use crate::parallel::Parallelism;
use crate::problem::{Operand, Problem};
use half::bf16;

/// The offset added to each element of C by an int8 GEMM.
///
/// oneDNN and MKL name the kinds by the shape of the offset vector: their
/// `'F'` is [`COffset::Fixed`], their `'C'` (a column vector, one value per
/// row of C) is [`COffset::PerRow`], their `'R'` (a row vector, one value per
/// column of C) is [`COffset::PerColumn`].
///
/// ```
/// use gemmkit::{COffset, MatMut, MatRef, gemm_s8s8s32};
/// let (a, b) = ([1i8, 2, 3, 4], [1i8, 0, 0, 1]); // B = I
/// let mut c = [0i32; 4];
/// let rows = [100, 200]; // one offset per row of C
/// gemm_s8s8s32(
///     1.0, MatRef::row_major(&a, 2, 2), 0, MatRef::row_major(&b, 2, 2), 0,
///     0.0, MatMut::row_major(&mut c, 2, 2), COffset::PerRow(&rows),
/// )?;
/// assert_eq!(c, [101, 102, 203, 204]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum COffset<'a> {
    /// One value for every element.
    Fixed(i32),
    /// `m` values: element `(i, j)` gets `offsets[i]` (oneDNN's `'C'`).
    PerRow(&'a [i32]),
    /// `n` values: element `(i, j)` gets `offsets[j]` (oneDNN's `'R'`).
    PerColumn(&'a [i32]),
}

/// `C := alpha * (A - a_offset) * (B - b_offset) + beta * C + c_offset` for
/// `u8` A, `i8` B and `i32` C (oneDNN's `gemm_u8s8s32`), on the active target.
///
/// Where `alpha == 1` and `beta` is 0 or 1 the result is exact: integer
/// arithmetic, wrapping in `i32`. Otherwise each element is
/// `alpha * s + beta * C + c_offset` computed in `f32` from the exact `i32` sum
/// `s`, rounded to nearest (ties to even) and saturated to `i32`. BLAS rules:
/// `beta == 0` never reads C, `k == 0` or `alpha == 0` still gives
/// `beta * C + c_offset`, and nothing outside the `m x n` of C is written.
///
/// ```
/// use gemmkit::{COffset, MatMut, MatRef, gemm_u8s8s32};
/// let a = [1u8, 2, 3, 4]; // 2 x 2
/// let b = [1i8, -1, 2, 0]; // 2 x 2
/// let mut c = [0i32; 4];
/// gemm_u8s8s32(
///     1.0, MatRef::row_major(&a, 2, 2), 0, MatRef::row_major(&b, 2, 2), 0,
///     0.0, MatMut::row_major(&mut c, 2, 2), COffset::Fixed(10),
/// )?;
/// assert_eq!(c, [15, 9, 21, 7]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[allow(clippy::too_many_arguments)] // oneDNN's argument list, typed
pub fn gemm_u8s8s32(
    alpha: f32,
    a: MatRef<'_, u8>,
    a_offset: u8,
    b: MatRef<'_, i8>,
    b_offset: i8,
    beta: f32,
    c: MatMut<'_, i32>,
    c_offset: COffset<'_>,
) -> Result<(), GemmError> {
    let target = crate::active()?;
    gemm_u8s8s32_with(
        target,
        &Parallelism::Rayon,
        alpha,
        a,
        a_offset,
        b,
        b_offset,
        beta,
        c,
        c_offset,
    )
}

/// [`gemm_u8s8s32`] on an explicit target with explicit threading. Results
/// are bit-identical whatever the parallelism.
///
/// ```
/// use gemmkit::{COffset, MatMut, MatRef, Parallelism};
/// let (a, b) = ([200u8, 100], [-3i8, 5]); // 1 x 2 and 2 x 1
/// for target in gemmkit::available() {
///     let mut c = [0i32];
///     gemmkit::gemm_u8s8s32_with(
///         target, &Parallelism::Sequential,
///         1.0, MatRef::row_major(&a, 1, 2), 0, MatRef::row_major(&b, 2, 1), 0,
///         0.0, MatMut::row_major(&mut c, 1, 1), COffset::Fixed(0),
///     )?;
///     assert_eq!(c, [-100], "on {}", target.name); // exact on every target
/// }
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_u8s8s32_with(
    target: &Target,
    parallelism: &Parallelism,
    alpha: f32,
    a: MatRef<'_, u8>,
    a_offset: u8,
    b: MatRef<'_, i8>,
    b_offset: i8,
    beta: f32,
    mut c: MatMut<'_, i32>,
    c_offset: COffset<'_>,
) -> Result<(), GemmError> {
    target.check()?;
    let p = int_problem::<U8S8>(alpha, &a, a_offset.into(), &b, b_offset, beta, &mut c, c_offset)?;
    // SAFETY: `int_problem` checked every view and the offsets; the borrows
    // keep them alive and C unaliased for the call.
    unsafe { run_int(target, parallelism, &p) };
    Ok(())
}

/// `C := alpha * (A - a_offset) * (B - b_offset) + beta * C + c_offset` for
/// `i8` A and B and `i32` C (oneDNN's `gemm_s8s8s32`), on the active target;
/// as [`gemm_u8s8s32`] in every other way.
///
/// ```
/// use gemmkit::{COffset, MatMut, MatRef, gemm_s8s8s32};
/// let a = [-1i8, 2]; // 1 x 2
/// let b = [3i8, -4]; // 2 x 1
/// let mut c = [100i32];
/// gemm_s8s8s32(
///     1.0, MatRef::row_major(&a, 1, 2), 1, MatRef::row_major(&b, 2, 1), 0,
///     1.0, MatMut::row_major(&mut c, 1, 1), COffset::PerRow(&[5]),
/// )?;
/// // (-1 - 1) * 3 + (2 - 1) * -4 + 100 + 5
/// assert_eq!(c, [95]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_s8s8s32(
    alpha: f32,
    a: MatRef<'_, i8>,
    a_offset: i8,
    b: MatRef<'_, i8>,
    b_offset: i8,
    beta: f32,
    c: MatMut<'_, i32>,
    c_offset: COffset<'_>,
) -> Result<(), GemmError> {
    let target = crate::active()?;
    gemm_s8s8s32_with(
        target,
        &Parallelism::Rayon,
        alpha,
        a,
        a_offset,
        b,
        b_offset,
        beta,
        c,
        c_offset,
    )
}

/// [`gemm_s8s8s32`] on an explicit target with explicit threading.
///
/// ```
/// use gemmkit::{COffset, MatMut, MatRef, Parallelism};
/// let (a, b) = ([-128i8, 127], [-128i8, -128]); // 1 x 2 and 2 x 1
/// let mut c = [0i32];
/// gemmkit::gemm_s8s8s32_with(
///     gemmkit::best(), &Parallelism::Sequential,
///     1.0, MatRef::row_major(&a, 1, 2), 0, MatRef::row_major(&b, 2, 1), 0,
///     0.0, MatMut::row_major(&mut c, 1, 1), COffset::Fixed(0),
/// )?;
/// assert_eq!(c, [128]); // 16384 - 16256, exact
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_s8s8s32_with(
    target: &Target,
    parallelism: &Parallelism,
    alpha: f32,
    a: MatRef<'_, i8>,
    a_offset: i8,
    b: MatRef<'_, i8>,
    b_offset: i8,
    beta: f32,
    mut c: MatMut<'_, i32>,
    c_offset: COffset<'_>,
) -> Result<(), GemmError> {
    target.check()?;
    // A is packed as `a + 128` (the u8 x s8 instruction's form, `S8S8::SHIFT`).
    let p = int_problem::<S8S8>(alpha, &a, a_offset.into(), &b, b_offset, beta, &mut c, c_offset)?;
    // SAFETY: as in `gemm_u8s8s32_with`.
    unsafe { run_int(target, parallelism, &p) };
    Ok(())
}

/// `C := alpha * A * B + beta * C` for `bf16` A and B and `f32` C, products and
/// sums in `f32` (in the order of VDPBF16PS on every target), on the active
/// target. BLAS rules as for [`crate::gemm`].
///
/// ```
/// use gemmkit::{MatMut, MatRef, gemm_bf16};
/// use half::bf16;
/// let a = [1.0f32, 2.0, 3.0, 4.0].map(bf16::from_f32); // 2 x 2
/// let b = [0.5f32, 0.25].map(bf16::from_f32); // 2 x 1
/// let mut c = [0.0f32; 2];
/// gemm_bf16(1.0, MatRef::row_major(&a, 2, 2), MatRef::row_major(&b, 2, 1), 0.0, MatMut::row_major(&mut c, 2, 1))?;
/// assert_eq!(c, [1.0, 2.5]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_bf16(
    alpha: f32,
    a: MatRef<'_, bf16>,
    b: MatRef<'_, bf16>,
    beta: f32,
    c: MatMut<'_, f32>,
) -> Result<(), GemmError> {
    gemm_bf16_with(crate::active()?, &Parallelism::Rayon, alpha, a, b, beta, c)
}

/// [`gemm_bf16`] on an explicit target with explicit threading.
///
/// ```
/// use gemmkit::{MatMut, MatRef, Parallelism};
/// use half::bf16;
/// let a: Vec<bf16> = [1.0f32, 2.0, 3.0, 4.0].map(bf16::from_f32).to_vec(); // 2 x 2
/// let b: Vec<bf16> = [0.5f32, 0.0, 0.0, 0.5].map(bf16::from_f32).to_vec(); // I / 2
/// let mut c = [0.0f32; 4];
/// gemmkit::gemm_bf16_with(
///     gemmkit::best(), &Parallelism::Sequential,
///     1.0, MatRef::row_major(&a, 2, 2), MatRef::row_major(&b, 2, 2),
///     0.0, MatMut::row_major(&mut c, 2, 2),
/// )?;
/// assert_eq!(c, [0.5, 1.0, 1.5, 2.0]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_bf16_with(
    target: &Target,
    parallelism: &Parallelism,
    alpha: f32,
    a: MatRef<'_, bf16>,
    b: MatRef<'_, bf16>,
    beta: f32,
    mut c: MatMut<'_, f32>,
) -> Result<(), GemmError> {
    target.check()?;
    crate::api::validate(&a, &b, &c)?;
    let p: Problem<Bf16> = problem(alpha, &a, &b, beta, &mut c, ());
    // SAFETY: as in `gemm_u8s8s32_with`.
    unsafe { run_bf16(target, parallelism, &p) };
    Ok(())
}

/// Runs an int8 problem: one row of A against B's columns contiguous along k
/// through the GEMV (`dot_gemv`), anything else through the loops.
///
/// # Safety
/// As `drive`.
pub(crate) unsafe fn run_int<F: IntFamily>(target: &Target, parallelism: &Parallelism, p: &Problem<F>) {
    if dot_gemv::applies(p) {
        unsafe { dot_gemv::int8(target, &|| parallelism.workers(), p) };
    } else {
        unsafe { drive(target, p, || parallelism.workers()) };
    }
}

/// Runs a bf16 problem: one row of A against B's columns contiguous along k
/// through the GEMV (`dot_gemv`), anything else through the loops, widened
/// to f32 where the target's tuning says so (`Bf16Wide`).
///
/// # Safety
/// As `drive`.
pub(crate) unsafe fn run_bf16(target: &Target, parallelism: &Parallelism, p: &Problem<Bf16>) {
    if dot_gemv::applies(p) {
        unsafe { dot_gemv::bf16(target, &|| parallelism.workers(), p) };
    } else if p.packed.is_none() && Bf16Wide::chosen(target, false) {
        unsafe { drive(target, &p.widened(), || parallelism.workers()) };
    } else {
        unsafe { drive(target, p, || parallelism.workers()) };
    }
}

/// The problem on these checked views.
pub(crate) fn problem<F: Family>(
    alpha: F::Scalar,
    a: &MatRef<'_, F::A>,
    b: &MatRef<'_, F::B>,
    beta: F::Scalar,
    c: &mut MatMut<'_, F::C>,
    extra: F::Extra,
) -> Problem<F> {
    Problem {
        m: a.rows,
        n: b.cols,
        k: a.cols,
        alpha,
        a: Operand {
            ptr: a.data.as_ptr(),
            rs: a.rs,
            cs: a.cs,
        },
        b: Operand {
            ptr: b.data.as_ptr(),
            rs: b.rs,
            cs: b.cs,
        },
        beta,
        c: Operand {
            ptr: c.data.as_mut_ptr(),
            rs: c.rs,
            cs: c.cs,
        },
        extra,
        packed: None,
        epi: None,
    }
}

/// Checks an int8 call's views, scalars and C offset, and makes its problem.
#[allow(clippy::too_many_arguments)]
pub(crate) fn int_problem<F: IntFamily>(
    alpha: f32,
    a: &MatRef<'_, F::A>,
    a_offset: i32,
    b: &MatRef<'_, i8>,
    b_offset: i8,
    beta: f32,
    c: &mut MatMut<'_, i32>,
    c_offset: COffset<'_>,
) -> Result<Problem<F>, GemmError> {
    crate::api::validate(a, b, c)?;
    let extra = int_extra(alpha, a_offset, b_offset, beta, c, c_offset)?;
    Ok(problem(alpha, a, b, beta, c, extra))
}

/// Checks an int8 call's scalars and C offset (for a C of `c`'s shape), and
/// makes its per-call data.
fn int_extra(
    alpha: f32,
    a_offset: i32,
    b_offset: i8,
    beta: f32,
    c: &MatMut<'_, i32>,
    c_offset: COffset<'_>,
) -> Result<IntExtra, GemmError> {
    for (arg, v) in [("alpha", alpha), ("beta", beta)] {
        if !v.is_finite() {
            return Err(GemmError::NonFiniteScalar { arg });
        }
    }
    let c_offset = match c_offset {
        COffset::Fixed(v) => COff::Fixed(v),
        COffset::PerRow(v) => check_len("c_offset", v.len(), c.rows).map(|()| COff::Rows(v.as_ptr()))?,
        COffset::PerColumn(v) => check_len("c_offset", v.len(), c.cols).map(|()| COff::Cols(v.as_ptr()))?,
    };
    Ok(IntExtra {
        a_offset,
        b_offset: b_offset.into(),
        c_offset,
        exact: alpha == 1.0 && (beta == 0.0 || beta == 1.0),
    })
}

/// `C := alpha * (A - a_offset) * (B - b_offset) + beta * C + c_offset` for
/// `u8` A, an `i8` B packed ahead ([`PackedB<i8>`](crate::PackedB), or its
/// bytes, [`PackedBRef`]) and `i32` C, as
/// [`gemm_u8s8s32`] (B's compensation comes from the column sums kept when
/// it was packed, so any `a_offset` and `b_offset` may be used with it).
///
/// ```
/// use gemmkit::{COffset, MatMut, MatRef, PackedB, gemm_u8s8s32_packed};
/// let w = [1i8, -1, 2, 0]; // 2 x 2 weights
/// let packed = PackedB::new(MatRef::row_major(&w, 2, 2))?;
/// let x = [1u8, 2, 3, 4];
/// let mut y = [0i32; 4];
/// gemm_u8s8s32_packed(
///     1.0, MatRef::row_major(&x, 2, 2), 0, &packed, 0,
///     0.0, MatMut::row_major(&mut y, 2, 2), COffset::Fixed(10),
/// )?;
/// assert_eq!(y, [15, 9, 21, 7]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[allow(clippy::too_many_arguments)] // oneDNN's argument list, typed
pub fn gemm_u8s8s32_packed<'b>(
    alpha: f32,
    a: MatRef<'_, u8>,
    a_offset: u8,
    b: impl Into<PackedBRef<'b, i8>>,
    b_offset: i8,
    beta: f32,
    c: MatMut<'_, i32>,
    c_offset: COffset<'_>,
) -> Result<(), GemmError> {
    let target = crate::active()?;
    let par = Parallelism::Rayon;
    gemm_u8s8s32_packed_with(target, &par, alpha, a, a_offset, b, b_offset, beta, c, c_offset)
}

/// [`gemm_u8s8s32_packed`] on an explicit target with explicit threading.
///
/// ```
/// use gemmkit::{COffset, MatMut, MatRef, Parallelism, PackedB};
/// let target = gemmkit::best();
/// let w = [3i8, -2, 1, 5]; // 4 x 1 weights
/// let packed = PackedB::new_on(target, MatRef::row_major(&w, 4, 1))?;
/// let x = [130u8, 126, 128, 129]; // zero point 128
/// let mut y = [0i32];
/// gemmkit::gemm_u8s8s32_packed_with(
///     target, &Parallelism::Sequential, 1.0, MatRef::row_major(&x, 1, 4), 128, &packed, 0,
///     0.0, MatMut::row_major(&mut y, 1, 1), COffset::Fixed(0),
/// )?;
/// assert_eq!(y, [15]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_u8s8s32_packed_with<'b>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: f32,
    a: MatRef<'_, u8>,
    a_offset: u8,
    b: impl Into<PackedBRef<'b, i8>>,
    b_offset: i8,
    beta: f32,
    c: MatMut<'_, i32>,
    c_offset: COffset<'_>,
) -> Result<(), GemmError> {
    let a_offset = a_offset.into();
    int_packed::<U8S8>(
        target,
        parallelism,
        (alpha, beta),
        a,
        a_offset,
        b,
        b_offset,
        c,
        c_offset,
        |_, _| Ok(None),
    )
}

/// [`gemm_s8s8s32`] with B packed ahead, as [`gemm_u8s8s32_packed`].
///
/// ```
/// use gemmkit::{COffset, MatMut, MatRef, PackedB};
/// let w = [3i8, -2, 1, 5]; // 4 x 1 weights
/// let packed = PackedB::new(MatRef::row_major(&w, 4, 1))?;
/// let x = [2i8, -2, 0, 1];
/// let mut y = [0i32];
/// gemmkit::gemm_s8s8s32_packed(1.0, MatRef::row_major(&x, 1, 4), 0, &packed, 0, 0.0, MatMut::row_major(&mut y, 1, 1), COffset::Fixed(1))?;
/// assert_eq!(y, [16]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_s8s8s32_packed<'b>(
    alpha: f32,
    a: MatRef<'_, i8>,
    a_offset: i8,
    b: impl Into<PackedBRef<'b, i8>>,
    b_offset: i8,
    beta: f32,
    c: MatMut<'_, i32>,
    c_offset: COffset<'_>,
) -> Result<(), GemmError> {
    let target = crate::active()?;
    let par = Parallelism::Rayon;
    gemm_s8s8s32_packed_with(target, &par, alpha, a, a_offset, b, b_offset, beta, c, c_offset)
}

/// [`gemm_s8s8s32_packed`] on an explicit target with explicit threading.
///
/// ```
/// use gemmkit::{COffset, MatMut, MatRef, Parallelism, PackedB};
/// let target = gemmkit::best();
/// let w = [3i8, -2, 1, 5]; // 4 x 1 weights
/// let packed = PackedB::new_on(target, MatRef::row_major(&w, 4, 1))?;
/// let x = [-2i8, 2, 0, -1];
/// let mut y = [0i32];
/// gemmkit::gemm_s8s8s32_packed_with(
///     target, &Parallelism::Sequential, 1.0, MatRef::row_major(&x, 1, 4), 0, &packed, 0,
///     0.0, MatMut::row_major(&mut y, 1, 1), COffset::Fixed(0),
/// )?;
/// assert_eq!(y, [-15]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_s8s8s32_packed_with<'b>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: f32,
    a: MatRef<'_, i8>,
    a_offset: i8,
    b: impl Into<PackedBRef<'b, i8>>,
    b_offset: i8,
    beta: f32,
    c: MatMut<'_, i32>,
    c_offset: COffset<'_>,
) -> Result<(), GemmError> {
    let a_offset = a_offset.into();
    int_packed::<S8S8>(
        target,
        parallelism,
        (alpha, beta),
        a,
        a_offset,
        b,
        b_offset,
        c,
        c_offset,
        |_, _| Ok(None),
    )
}

/// One int8 call with a packed B, checked, and the epilogue `epi` makes
/// (checked after the operands, for C's shape) after it. A rounded result (general alpha or beta)
/// must see each element's whole sum: where B was packed in several blocks of
/// k, the exact sums are made first (the blocks add in `i32`), in a buffer of
/// C's size, and then rounded once each.
#[allow(clippy::too_many_arguments)]
pub(crate) fn int_packed<'b, F: IntFamily>(
    target: &Target,
    parallelism: &Parallelism,
    (alpha, beta): (f32, f32),
    a: MatRef<'_, F::A>,
    a_offset: i32,
    b: impl Into<PackedBRef<'b, i8>>,
    b_offset: i8,
    c: MatMut<'_, i32>,
    c_offset: COffset<'_>,
    epi: impl FnOnce(usize, usize) -> Result<Option<Epi<i32>>, GemmError>,
) -> Result<(), GemmError> {
    target.check()?;
    let b = b.into();
    let packed = b.for_call(target, (a.rows, a.cols), (c.rows, c.cols))?;
    a.check_bounds("a")?;
    c.check_output("c")?;
    let extra = int_extra(alpha, a_offset, b_offset, beta, &c, c_offset)?;
    let (m, n) = (c.rows, c.cols);
    let epi = epi(m, n)?;
    let run = |alpha: f32, beta: f32, c: (*mut i32, usize, usize), extra: IntExtra, epi| {
        let p: Problem<F> = Problem {
            m,
            n,
            k: b.k(),
            alpha,
            a: Operand {
                ptr: a.data.as_ptr(),
                rs: a.rs,
                cs: a.cs,
            },
            // Not read: the loops take B's strips from `packed`.
            b: Operand {
                ptr: std::ptr::null(),
                rs: 0,
                cs: 0,
            },
            beta,
            c: Operand {
                ptr: c.0,
                rs: c.1,
                cs: c.2,
            },
            extra,
            packed: Some(packed),
            epi,
        };
        // SAFETY: A, C and the offsets checked, B's strips and sums cover
        // its blocks (`for_call`); the borrows keep them alive and C
        // unaliased for the call.
        unsafe { drive(target, &p, || parallelism.workers()) };
    };
    if extra.exact || b.k() <= b.kc() {
        run(alpha, beta, (c.data.as_mut_ptr(), c.rs, c.cs), extra, epi);
    } else {
        // Only the dequantising calls have an epilogue, and they are exact.
        debug_assert!(epi.is_none(), "an epilogue on a rounded int8 product");
        let mut sums = vec![0i32; m * n];
        let exact = IntExtra {
            c_offset: COff::Fixed(0),
            exact: true,
            ..extra
        };
        run(1.0, 0.0, (sums.as_mut_ptr(), n, 1), exact, None);
        for i in 0..m {
            for j in 0..n {
                let dst = &mut c.data[i * c.rs + j * c.cs];
                let old = (beta != 0.0).then_some(*dst);
                *dst = int_out(false, alpha, sums[i * n + j], beta, old, extra.c_offset(i, j));
            }
        }
    }
    Ok(())
}
