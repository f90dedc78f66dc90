//! The safe API: checked views in, typed errors out.

use crate::driver::drive;
use crate::element::Element;
use crate::error::GemmError;
use crate::generated::Target;
use crate::mat::{MatMut, MatRef};
use crate::parallel::Parallelism;
use crate::problem::Problem;

/// `C = alpha * A * B + beta * C` on the active target (see [`crate::active`]).
///
/// BLAS semantics: `beta == 0` never reads C (NaN or garbage in C is
/// overwritten), `alpha == 0` or `k == 0` does not read A or B and only scales C,
/// and any dimension may be zero. A, B and C may be any strided views
/// (transposes and sub-matrices included).
///
/// ```
/// use gemmkit::{MatMut, MatRef, gemm};
/// let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3, row-major
/// let b = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0]; // 3 x 2, row-major
/// let mut c = [0.0f32; 4];
/// gemm(1.0, MatRef::row_major(&a, 2, 3), MatRef::row_major(&b, 3, 2), 0.0, MatMut::row_major(&mut c, 2, 2))?;
/// assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[inline]
pub fn gemm<T: Element>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    gemm_on(crate::active()?, alpha, a, b, beta, c)
}

/// [`gemm`] on an explicit target (from [`crate::target`] or [`crate::available`]).
#[inline]
pub fn gemm_on<T: Element>(
    target: &Target,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    gemm_with(target, &Parallelism::Rayon, alpha, a, b, beta, c)
}

/// [`gemm`] on an explicit target with explicit threading.
///
/// Results are bit-identical whatever the parallelism: every tile of C is
/// computed by one thread with the same sequence of operations (K is never
/// split). Safe to call from inside a rayon task (the calling thread works too
/// and nothing waits on a busy pool) and from many threads at once.
// Inlined into the caller, with the checks and the small path (`drive`): the
// views arrive in registers, and the strides a caller's constructors fix (the
// unit column stride of `row_major`) fold the orientation tests away. Measured
// (gemm-bench, paired ratio to OpenBLAS, AVX-512 f32, three alternating runs
// each): 8^3 0.95-0.96 -> 1.05-1.08, 16^3 0.99-1.05 -> 1.06-1.18, 32^3
// 0.99-1.02 -> 1.02-1.08; A transposed (in-process, 150 rounds) 16^3
// 0.88-0.92 -> 0.94-0.98. The blocked driver stays out of line.
#[inline]
pub fn gemm_with<T: Element>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    let p = checked(alpha, &a, &b, beta, &mut c)?;
    // SAFETY: `checked` verified every view; the borrows keep A and B from
    // aliasing C until the call returns.
    unsafe { run(target, parallelism, p) };
    Ok(())
}

/// Runs a checked problem with the requested parallelism.
///
/// # Safety
/// As [`gemm_unchecked`].
#[doc(hidden)]
#[inline(always)]
pub unsafe fn run<T: Element>(target: &Target, parallelism: &Parallelism, p: Problem<T>) {
    unsafe { drive(target, &p, || parallelism.workers()) }
}

/// The GEMM driver, without any checks.
///
/// # Safety
/// Every element of A (`m x k`), B (`k x n`) and C (`m x n`) at the given strides
/// must be valid to read (and C to write); C must not overlap A, B or itself;
/// the target must be supported by this CPU.
#[doc(hidden)]
#[inline(always)]
pub unsafe fn gemm_unchecked<T: Element>(target: &Target, p: Problem<T>, threads: usize) {
    unsafe { drive(target, &p, || crate::parallel::usable(threads, None)) }
}

/// Checks that A, B and a `c_rows x c_cols` C agree on every dimension.
#[inline(always)]
pub(crate) fn check_shapes<T>(
    a: &MatRef<'_, T>,
    b: &MatRef<'_, T>,
    c_rows: usize,
    c_cols: usize,
) -> Result<(), GemmError> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mismatch = |arg, dim, expected, found, because: String| {
        Err(GemmError::DimensionMismatch {
            arg,
            dim,
            expected,
            found,
            because,
        })
    };
    if b.rows != k {
        return mismatch("b", "rows", k, b.rows, format!("a (with {k} columns)"));
    }
    if c_rows != m {
        return mismatch("c", "rows", m, c_rows, format!("a (with {m} rows)"));
    }
    if c_cols != n {
        return mismatch("c", "cols", n, c_cols, format!("b (with {n} columns)"));
    }
    Ok(())
}

/// Validates one product's shapes and views and turns it into a [`Problem`]
/// whose pointers stay valid while the borrows do.
#[inline(always)]
pub(crate) fn checked<T: Element>(
    alpha: T,
    a: &MatRef<'_, T>,
    b: &MatRef<'_, T>,
    beta: T,
    c: &mut MatMut<'_, T>,
) -> Result<Problem<T>, GemmError> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    check_shapes(a, b, c.rows, c.cols)?;
    a.check_bounds("a")?;
    b.check_bounds("b")?;
    c.check_output("c")?;
    Ok(Problem {
        m,
        n,
        k,
        alpha,
        a: a.data.as_ptr(),
        rsa: a.rs,
        csa: a.cs,
        b: b.data.as_ptr(),
        rsb: b.rs,
        csb: b.cs,
        beta,
        c: c.data.as_mut_ptr(),
        rsc: c.rs,
        csc: c.cs,
    })
}

/// `C = A * B` for contiguous row-major slices: A is `m x k`, B is `k x n`, C is
/// `m x n` (overwritten).
pub fn matmul<T: Element>(m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &mut [T]) -> Result<(), GemmError> {
    for (arg, len, (rows, cols)) in [("a", a.len(), (m, k)), ("b", b.len(), (k, n)), ("c", c.len(), (m, n))] {
        // (Built only on failure: an error built eagerly is dropped on every call.)
        let Some(need) = rows.checked_mul(cols) else {
            return Err(GemmError::ShapeOverflow { arg, rows, cols });
        };
        if len != need {
            return Err(GemmError::LengthMismatch {
                arg,
                expected: need,
                found: len,
            });
        }
    }
    gemm(
        T::ONE,
        MatRef::row_major(a, m, k),
        MatRef::row_major(b, k, n),
        T::ZERO,
        MatMut::row_major(c, m, n),
    )
}
