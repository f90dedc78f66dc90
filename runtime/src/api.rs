//! The safe API: checked views in, typed errors out.

use crate::dispatch::Check;
use crate::driver::drive;
use crate::error::GemmError;
use crate::family::Element;
use crate::generated::Target;
use crate::mat::{MatMut, MatRef};
use crate::parallel::Parallelism;
use crate::problem::{Operand, Problem};

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
/// A target this CPU cannot run is a [`GemmError::Target`].
///
/// ```
/// use gemmkit::{MatMut, MatRef, gemm_on};
/// let (a, b) = ([1.0f32, 2.0, 3.0, 4.0], [1.0f32, 0.0, 0.0, 1.0]); // B = I
/// for target in gemmkit::available() {
///     let mut c = [0.0f32; 4];
///     gemm_on(target, 1.0, MatRef::row_major(&a, 2, 2), MatRef::row_major(&b, 2, 2), 0.0, MatMut::row_major(&mut c, 2, 2))?;
///     assert_eq!(c, a, "on {}", target.name);
/// }
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
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
///
/// ```
/// use gemmkit::{MatMut, MatRef, Parallelism, gemm_with};
/// let (m, n, k) = (64, 48, 32);
/// let (a, b) = (vec![1.0f64; m * k], vec![0.5f64; k * n]);
/// let (mut one, mut pooled) = (vec![0.0f64; m * n], vec![0.0f64; m * n]);
/// let (av, bv) = (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n));
/// let target = gemmkit::best();
/// gemm_with(target, &Parallelism::Sequential, 1.0, av, bv, 0.0, MatMut::row_major(&mut one, m, n))?;
/// // Two threads where threads can be started (not on wasm32-wasip1).
/// let par = match rayon::ThreadPoolBuilder::new().num_threads(2).build() {
///     Ok(pool) => Parallelism::Pool(std::sync::Arc::new(pool)),
///     Err(_) => Parallelism::Sequential,
/// };
/// gemm_with(target, &par, 1.0, av, bv, 0.0, MatMut::row_major(&mut pooled, m, n))?;
/// assert_eq!(one, pooled); // bit-identical for any thread count
/// assert_eq!(one[0], 16.0);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
// Inlined into the caller, with the checks, the plan's front and the small path
// (`drive`): the views arrive in registers, and the strides a caller's
// constructors fix (the unit column stride of `row_major`) fold the
// orientation tests away (BENCHMARKS.md, "inline front"). The rest stays out
// of line.
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
    target.check()?;
    let p = checked(alpha, &a, &b, beta, &mut c)?;
    // SAFETY: `checked` verified every view; the borrows keep A and B from
    // aliasing C until the call returns.
    unsafe { run(target, parallelism, p) };
    Ok(())
}

/// `C = alpha * A * B + beta * C` on raw pointers and element strides, without
/// any checks: the entry for callers that validated their arguments their own
/// way, such as the BLAS ABI (`gemmkit-blas`). Element `(i, j)` of A is at
/// `a + i * rsa + j * csa`, and likewise for B and C. BLAS semantics as for
/// [`gemm`]: `beta == 0` never reads C, `alpha == 0` or `k == 0` reads neither A
/// nor B.
///
/// # Safety
/// - Every element of A (`m x k`) and B (`k x n`) at the given strides is valid
///   to read, and every element of C (`m x n`) valid to read and write, for the
///   whole call (no other thread writes them meanwhile).
/// - No two elements of C share memory, and C does not overlap A or B.
/// - `target` is supported by this CPU (it came from [`crate::active`],
///   [`crate::best`] or [`crate::available`]).
///
/// ```
/// let (a, b, mut c) = ([1.0f64, 2.0, 3.0, 4.0], [1.0f64, 1.0], [0.0f64; 2]);
/// // A 2 x 2 column-major, B a 2 x 1 column, C a 2 x 1 column.
/// unsafe {
///     gemmkit::gemm_raw(
///         gemmkit::best(), &gemmkit::Parallelism::Sequential, 2, 1, 2,
///         1.0, a.as_ptr(), 1, 2, b.as_ptr(), 1, 1, 0.0, c.as_mut_ptr(), 1, 2,
///     )
/// };
/// assert_eq!(c, [4.0, 6.0]);
/// ```
#[allow(clippy::too_many_arguments)] // the BLAS argument list, strides apart
#[inline]
pub unsafe fn gemm_raw<T: Element>(
    target: &Target,
    parallelism: &Parallelism,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: *const T,
    rsa: usize,
    csa: usize,
    b: *const T,
    rsb: usize,
    csb: usize,
    beta: T,
    c: *mut T,
    rsc: usize,
    csc: usize,
) {
    let operand = |ptr, rs, cs| Operand { ptr, rs, cs };
    let p: Problem<T> = Problem {
        m,
        n,
        k,
        alpha,
        a: operand(a, rsa, csa),
        b: operand(b, rsb, csb),
        beta,
        c: Operand {
            ptr: c,
            rs: rsc,
            cs: csc,
        },
        extra: (),
        packed: None,
        epi: None,
    };
    // SAFETY: the caller's contract.
    unsafe { run(target, parallelism, p) }
}

/// Runs a problem with the requested parallelism.
///
/// # Safety
/// As [`gemm_raw`].
#[inline(always)]
pub(crate) unsafe fn run<T: Element>(target: &Target, parallelism: &Parallelism, p: Problem<T>) {
    unsafe { drive(target, &p, || parallelism.workers()) }
}

/// Runs a problem on up to `threads` workers of the pool the caller is in.
///
/// # Safety
/// As [`gemm_raw`].
#[inline(always)]
pub(crate) unsafe fn run_on<T: Element>(target: &Target, p: Problem<T>, threads: usize) {
    unsafe { drive(target, &p, || crate::parallel::usable(threads, None)) }
}

/// Checks that A, B and a `c_rows x c_cols` C agree on every dimension.
#[inline(always)]
pub(crate) fn check_shapes<TA, TB>(
    a: &MatRef<'_, TA>,
    b: &MatRef<'_, TB>,
    c_rows: usize,
    c_cols: usize,
) -> Result<(), GemmError> {
    check_dims((a.rows, a.cols), (b.rows, b.cols), (c_rows, c_cols))
}

/// Checks that an `m x k` A, a B and a C, given as `(rows, cols)`, agree on
/// every dimension.
#[inline(always)]
pub(crate) fn check_dims(
    (m, k): (usize, usize),
    b: (usize, usize),
    (c_rows, c_cols): (usize, usize),
) -> Result<(), GemmError> {
    let (b_rows, n) = b;
    let mismatch = |arg, dim, expected, found, because: String| {
        Err(GemmError::DimensionMismatch {
            arg,
            dim,
            expected,
            found,
            because,
        })
    };
    if b_rows != k {
        return mismatch("b", "rows", k, b_rows, format!("a (with {k} columns)"));
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
    validate(a, b, c)?;
    Ok(problem(alpha, a, b, beta, c.data.as_mut_ptr(), c.rs, c.cs))
}

/// Every check a product's views get: shapes, bounds, and an output without
/// overlap.
#[inline(always)]
pub(crate) fn validate<TA, TB, TC>(
    a: &MatRef<'_, TA>,
    b: &MatRef<'_, TB>,
    c: &MatMut<'_, TC>,
) -> Result<(), GemmError> {
    check_shapes(a, b, c.rows, c.cols)?;
    a.check_bounds("a")?;
    b.check_bounds("b")?;
    c.check_output("c")
}

/// The problem on these views, C given as its pointer and strides.
#[inline(always)]
pub(crate) fn problem<T: Element>(
    alpha: T,
    a: &MatRef<'_, T>,
    b: &MatRef<'_, T>,
    beta: T,
    c: *mut T,
    rsc: usize,
    csc: usize,
) -> Problem<T> {
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
            ptr: c,
            rs: rsc,
            cs: csc,
        },
        extra: (),
        packed: None,
        epi: None,
    }
}

/// `C = A * B` for contiguous row-major slices: A is `m x k`, B is `k x n`, C is
/// `m x n` (overwritten). A slice of the wrong length is an error naming it.
///
/// ```
/// let (a, b) = ([1.0f32, 2.0, 3.0], [4.0f32, 5.0, 6.0]); // 1 x 3 and 3 x 1
/// let mut c = [0.0f32; 1];
/// gemmkit::matmul(1, 1, 3, &a, &b, &mut c)?;
/// assert_eq!(c, [32.0]);
/// let err = gemmkit::matmul(1, 1, 3, &a, &b[..2], &mut c).unwrap_err();
/// assert!(err.to_string().contains("b"));
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
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
