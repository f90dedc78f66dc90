//! The low-precision GEMMs with oneDNN 2.6's C signatures and row-major
//! conventions (`dnnl_gemm_u8s8s32`, `dnnl_gemm_s8s8s32`, and
//! `dnnl_gemm_bf16bf16f32`, which oneDNN exports without declaring it), so a
//! program written against oneDNN changes only the prefix.
//!
//! Row-major: C is `M x N` with leading dimension `ldc >= max(1, N)`; A is
//! `M x K` with `lda >= max(1, K)`, or stored `K x M` with `lda >= max(1, M)`
//! where `transa` is `'T'`; B likewise (`K x N`, or `N x K` where `transb` is
//! `'T'`). `offsetc` `'F'` adds `co[0]` to every element, `'C'` adds `co[i]` to
//! row `i` (M values: a column vector), `'R'` adds `co[j]` to column `j` (N
//! values: a row vector).
//!
//! The status is oneDNN's: 0 (`dnnl_success`), or 2 (`dnnl_invalid_arguments`)
//! with nothing written. oneDNN's checks are kept (transposes `N`/`T` in either
//! case, `offsetc` `F`/`C`/`R` in either case, non-negative dimensions, the
//! leading-dimension minimums above, which hold even where a dimension is 0,
//! and A, B and C not null, whatever the dimensions), and these are added where
//! oneDNN 2.6.3 crashes or computes garbage instead: `co` null (oneDNN reads
//! it), `transa`/`transb` `'P'` (oneDNN's internal pre-packed form, which it
//! accepts from this API and then reads as a packed buffer), a matrix whose
//! extent does not fit the address space, and, for the int8 GEMMs, a non-finite
//! alpha or beta (gemmkit's int8 API refuses them; oneDNN returns garbage).
//!
//! BLAS rules where oneDNN skips the work: with `K == 0` (oneDNN returns at once,
//! leaving C as it was, for the int8 and the bf16 GEMM alike) the result is
//! `beta * C + co`, and `beta == 0` never reads C.

use crate::{slice, slice_mut, span, target, usable};
use gemmkit::{COffset, GemmError, MatMut, MatRef, Parallelism};
use half::bf16;
use std::ffi::{c_char, c_int};

/// `dnnl_success`.
const SUCCESS: c_int = 0;
/// `dnnl_invalid_arguments`.
const INVALID_ARGUMENTS: c_int = 2;

/// `dnnl_dim_t`.
type Dim = i64;

/// oneDNN's transpose characters: `N` or `T`, either case (no `C`: these are
/// real GEMMs, and oneDNN refuses it too).
fn trans(c: c_char) -> Option<bool> {
    match c as u8 {
        b'N' | b'n' => Some(false),
        b'T' | b't' => Some(true),
        _ => None,
    }
}

/// A dimension: non-negative and a `usize`.
fn dim(x: Dim) -> Option<usize> {
    usize::try_from(x).ok()
}

/// The row-major operand `op(X)` of `rows x cols`, stored transposed (`cols x
/// rows`) where `t`, from a pointer oneDNN requires to be non-null; `None` where
/// an argument is invalid.
///
/// # Safety
/// `p` addresses the matrix the arguments describe (the caller's contract).
unsafe fn input<'a, T>(p: *const T, t: bool, rows: usize, cols: usize, ld: Dim) -> Option<MatRef<'a, T>> {
    let (srows, scols) = if t { (cols, rows) } else { (rows, cols) };
    let ld = dim(ld).filter(|&ld| ld >= scols.max(1))?;
    let len = span::<T>(srows, scols, ld)?;
    if p.is_null() || !usable(p, len) {
        return None;
    }
    let stored = MatRef::row_major_ld(unsafe { slice(p, len) }, srows, scols, ld);
    Some(if t { stored.t() } else { stored })
}

/// The row-major `rows x cols` output C; `None` where an argument is invalid.
///
/// # Safety
/// As [`input`], writable.
unsafe fn output<'a, T>(p: *mut T, rows: usize, cols: usize, ld: Dim) -> Option<MatMut<'a, T>> {
    let ld = dim(ld).filter(|&ld| ld >= cols.max(1))?;
    let len = span::<T>(rows, cols, ld)?;
    if p.is_null() || !usable(p.cast_const(), len) {
        return None;
    }
    Some(MatMut::row_major_ld(unsafe { slice_mut(p, len) }, rows, cols, ld))
}

/// oneDNN's status for a call whose checks gave `checked` and whose GEMM, if
/// it ran, gave the inner result.
fn status(checked: Option<Result<(), GemmError>>) -> c_int {
    match checked {
        Some(Ok(())) => SUCCESS,
        // gemmkit checks before it writes, so an error left C untouched.
        Some(Err(_)) | None => INVALID_ARGUMENTS,
    }
}

/// The two int8 entry points, alike but for A's type and gemmkit's function
/// (`gemm_u8s8s32_with` or `gemm_s8s8s32_with`): checks, views, then the GEMM.
macro_rules! int8_gemm {
    ($(#[$doc:meta])* $name:ident, $a:ty, $gemm:path) => {
        $(#[$doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            transa: c_char,
            transb: c_char,
            offsetc: c_char,
            m: Dim,
            n: Dim,
            k: Dim,
            alpha: f32,
            a: *const $a,
            lda: Dim,
            ao: $a,
            b: *const i8,
            ldb: Dim,
            bo: i8,
            beta: f32,
            c: *mut i32,
            ldc: Dim,
            co: *const i32,
        ) -> c_int {
            // oneDNN's contract: the pointers address the matrices and the
            // offsets the arguments describe; the checks refuse the rest.
            let checked = (|| {
                let (ta, tb) = (trans(transa)?, trans(transb)?);
                let (m, n, k) = (dim(m)?, dim(n)?, dim(k)?);
                // oneDNN's 'C' is a column vector (one value per row of C), 'R' a row vector.
                let kind = (offsetc as u8).to_ascii_uppercase();
                let co_len = match kind {
                    b'F' => 1,
                    b'C' => m,
                    b'R' => n,
                    _ => return None,
                };
                let (a, b) = unsafe { (input(a, ta, m, k, lda)?, input(b, tb, k, n, ldb)?) };
                let c = unsafe { output(c, m, n, ldc)? };
                // Every kind reads co, so null is refused whatever the dimensions.
                if co.is_null() || !usable(co, co_len) {
                    return None;
                }
                let co = unsafe { slice(co, co_len) };
                let c_offset = match kind {
                    b'F' => COffset::Fixed(co[0]),
                    b'C' => COffset::PerRow(co),
                    _ => COffset::PerColumn(co),
                };
                Some($gemm(
                    target(),
                    &Parallelism::Rayon,
                    alpha,
                    a,
                    ao,
                    b,
                    bo,
                    beta,
                    c,
                    c_offset,
                ))
            })();
            status(checked)
        }
    };
}

int8_gemm!(
    /// `C := alpha * (op(A) - ao) * (op(B) - bo) + beta * C + co` for `u8` A,
    /// `i8` B and `i32` C, with oneDNN's `dnnl_gemm_u8s8s32` signature (see the
    /// module documentation). Exact where `alpha == 1` and `beta` is 0 or 1
    /// (integer arithmetic, wrapping in `i32`); otherwise `alpha * s + beta * C +
    /// co` in `f32` from the exact sum `s`, rounded to nearest even and saturated.
    gemmkit_gemm_u8s8s32,
    u8,
    gemmkit::gemm_u8s8s32_with
);

int8_gemm!(
    /// [`gemmkit_gemm_u8s8s32`] with `i8` A and `ao` (oneDNN's `dnnl_gemm_s8s8s32`).
    gemmkit_gemm_s8s8s32,
    i8,
    gemmkit::gemm_s8s8s32_with
);

/// `C := alpha * op(A) * op(B) + beta * C` for bf16 A and B (their raw 16 bits,
/// `uint16_t` in C) and f32 C, with oneDNN's `dnnl_gemm_bf16bf16f32` signature
/// and the checks of the module documentation. Products and sums in f32.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gemmkit_gemm_bf16bf16f32(
    transa: c_char,
    transb: c_char,
    m: Dim,
    n: Dim,
    k: Dim,
    alpha: f32,
    a: *const bf16,
    lda: Dim,
    b: *const bf16,
    ldb: Dim,
    beta: f32,
    c: *mut f32,
    ldc: Dim,
) -> c_int {
    let checked = (|| {
        let (ta, tb) = (trans(transa)?, trans(transb)?);
        let (m, n, k) = (dim(m)?, dim(n)?, dim(k)?);
        let (a, b) = unsafe { (input(a, ta, m, k, lda)?, input(b, tb, k, n, ldb)?) };
        let c = unsafe { output(c, m, n, ldc)? };
        Some(gemmkit::gemm_bf16_with(
            target(),
            &Parallelism::Rayon,
            alpha,
            a,
            b,
            beta,
            c,
        ))
    })();
    status(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extents: empty matrices span nothing, whatever `ld`; a product past
    /// `usize` or a byte count past `isize::MAX` is refused, not wrapped.
    #[test]
    fn span_refuses_what_does_not_fit() {
        assert_eq!(span::<i32>(0, 5, usize::MAX), Some(0));
        assert_eq!(span::<i32>(5, 0, usize::MAX), Some(0));
        assert_eq!(span::<i32>(3, 4, 8), Some(2 * 8 + 4));
        assert_eq!(span::<u8>(usize::MAX / 2, 2, 3), None);
        assert_eq!(span::<u8>(2, 1, isize::MAX as usize), None);
        assert_eq!(span::<i32>(2, 1, isize::MAX as usize / 4), None);
        assert_eq!(span::<u8>(2, 1, isize::MAX as usize - 1), Some(isize::MAX as usize));
    }

    /// K == 0 follows BLAS, not oneDNN (which leaves C as it was):
    /// C = beta * C + co, here exact (alpha 1, beta 1) with per-column offsets.
    #[test]
    fn k_zero_is_beta_c_plus_offset() {
        let (a, b) = ([0u8; 1], [0i8; 1]);
        let mut c = [10, 20, 30, 40, 50, 60];
        let co = [1, 2, 3];
        let st = unsafe {
            gemmkit_gemm_u8s8s32(
                b'N' as c_char,
                b'N' as c_char,
                b'r' as c_char,
                2,
                3,
                0,
                1.0,
                a.as_ptr(),
                1,
                7,
                b.as_ptr(),
                3,
                -3,
                1.0,
                c.as_mut_ptr(),
                3,
                co.as_ptr(),
            )
        };
        assert_eq!(st, SUCCESS);
        assert_eq!(c, [11, 22, 33, 41, 52, 63]);
    }

    /// A null `co` (which oneDNN reads, and crashes on) is an invalid argument,
    /// and C is left as it was.
    #[test]
    fn null_offset_is_refused() {
        let (a, b) = ([1i8; 4], [1i8; 4]);
        let mut c = [5i32; 4];
        let st = unsafe {
            gemmkit_gemm_s8s8s32(
                b'N' as c_char,
                b'N' as c_char,
                b'F' as c_char,
                2,
                2,
                2,
                1.0,
                a.as_ptr(),
                2,
                0,
                b.as_ptr(),
                2,
                0,
                0.0,
                c.as_mut_ptr(),
                2,
                std::ptr::null(),
            )
        };
        assert_eq!(st, INVALID_ARGUMENTS);
        assert_eq!(c, [5; 4]);
    }
}
