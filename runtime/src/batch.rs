//! Batched GEMM: slices of views, or strided batches in one slice each.

use crate::api::{check_shapes, checked, run, run_on};
use crate::error::GemmError;
use crate::family::Element;
use crate::generated::Target;
use crate::mat::{MatMut, MatRef};
use crate::parallel::Parallelism;
use crate::problem::{Operand, Problem, SharedProblem};

/// `C[i] = alpha * A[i] * B[i] + beta * C[i]` for every `i`, on the active target.
///
/// The problems may have different shapes. With at least twice as many problems
/// as threads the batch is split across threads, one problem per task on one
/// thread each; otherwise the problems run in turn, each split across the
/// threads. Results are bit-identical either way. Every problem is checked before
/// any is computed: on error nothing is written, and the error names the index.
///
/// ```
/// use gemmkit::{MatMut, MatRef, Parallelism, gemm_batch};
/// let (a0, a1) = ([1.0f32, 2.0], [1.0f32, 2.0, 3.0, 4.0]); // 1 x 2 and 2 x 2
/// let eye = [1.0f32, 0.0, 0.0, 1.0];
/// let (mut c0, mut c1) = ([0.0f32; 2], [0.0f32; 4]);
/// let a = [MatRef::row_major(&a0, 1, 2), MatRef::row_major(&a1, 2, 2)];
/// let b = [MatRef::row_major(&eye, 2, 2); 2];
/// let mut c = [MatMut::row_major(&mut c0, 1, 2), MatMut::row_major(&mut c1, 2, 2)];
/// gemm_batch(&Parallelism::Rayon, 1.0, &a, &b, 0.0, &mut c)?;
/// assert_eq!((c0, c1), (a0, a1));
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_batch<T: Element>(
    parallelism: &Parallelism,
    alpha: T,
    a: &[MatRef<'_, T>],
    b: &[MatRef<'_, T>],
    beta: T,
    c: &mut [MatMut<'_, T>],
) -> Result<(), GemmError> {
    let target = crate::active()?;
    for (arg, len) in [("a", a.len()), ("b", b.len())] {
        if len != c.len() {
            return Err(GemmError::CountMismatch {
                arg,
                expected: c.len(),
                found: len,
            });
        }
    }
    let mut problems = Vec::with_capacity(c.len());
    for (index, ((a, b), c)) in a.iter().zip(b).zip(c.iter_mut()).enumerate() {
        let p = checked(alpha, a, b, beta, c).map_err(|error| GemmError::InBatch {
            index,
            error: Box::new(error),
        })?;
        problems.push(SharedProblem(p));
    }
    // SAFETY: checked above; distinct C views cannot overlap (each is a distinct
    // `&mut` borrow), and the borrows outlive this call.
    unsafe { run_batch(target, parallelism, problems.len(), |i| *problems[i].get()) };
    Ok(())
}

/// Runs problems `0..count` (`problem(i)` builds the `i`-th): with at least
/// twice as many problems as threads, split across threads, one problem per
/// task on one thread each; otherwise in turn, each split across the threads.
///
/// # Safety
/// Every problem is valid as for [`crate::gemm_raw`], and no two write the same
/// element of C.
pub(crate) unsafe fn run_batch<T: Element>(
    target: &Target,
    parallelism: &Parallelism,
    count: usize,
    problem: impl Fn(usize) -> Problem<T> + Sync,
) {
    let (threads, pool) = parallelism.workers();
    if threads > 1 && count >= 2 * threads {
        let split = || {
            use rayon::prelude::*;
            // SAFETY: the caller's contract.
            (0..count)
                .into_par_iter()
                .for_each(|i| unsafe { run_on(target, problem(i), 1) });
        };
        match pool {
            Some(pool) => pool.install(split),
            None => split(),
        }
    } else {
        for i in 0..count {
            // SAFETY: the caller's contract.
            unsafe { run(target, parallelism, problem(i)) };
        }
    }
}

/// The layout of a strided batch: `count` matrices of `rows x cols` with the
/// given row and column strides, matrix `i` starting at element `i * batch_stride`.
///
/// ```
/// use gemmkit::BatchLayout;
/// // Three 4 x 2 row-major matrices, one after another...
/// assert_eq!(BatchLayout::row_major(3, 4, 2).batch_stride, 8);
/// // ...or each transposed in place, or one matrix reused by every problem.
/// let t = BatchLayout { count: 3, rows: 2, cols: 4, row_stride: 1, col_stride: 2, batch_stride: 8 };
/// let shared = BatchLayout { batch_stride: 0, ..BatchLayout::row_major(3, 4, 2) };
/// # let _ = (t, shared);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLayout {
    /// Matrices in the batch.
    pub count: usize,
    /// Rows of each.
    pub rows: usize,
    /// Columns of each.
    pub cols: usize,
    /// Elements between rows.
    pub row_stride: usize,
    /// Elements between columns.
    pub col_stride: usize,
    /// Elements between one matrix's start and the next's (0: one matrix for all).
    pub batch_stride: usize,
}

impl BatchLayout {
    /// `count` contiguous row-major `rows x cols` matrices, one after another.
    /// (A `rows x cols` past `usize` gives a batch stride of `usize::MAX`,
    /// which [`gemm_batch_strided`] refuses for a batch of more than one.)
    ///
    /// ```
    /// let l = gemmkit::BatchLayout::row_major(5, 3, 4);
    /// assert_eq!((l.row_stride, l.col_stride, l.batch_stride), (4, 1, 12));
    /// ```
    pub fn row_major(count: usize, rows: usize, cols: usize) -> Self {
        BatchLayout {
            count,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
            // Saturating: a shape past `usize` is then refused by the call
            // that uses the layout, rather than wrapping to a wrong stride.
            batch_stride: rows.saturating_mul(cols),
        }
    }

    /// Elements one matrix spans (0 when empty).
    fn extent(&self) -> Option<usize> {
        if self.rows == 0 || self.cols == 0 {
            return Some(0);
        }
        (self.rows - 1)
            .checked_mul(self.row_stride)?
            .checked_add((self.cols - 1).checked_mul(self.col_stride)?)?
            .checked_add(1)
    }
}

/// [`gemm_batch`] for strided batches: `C[i] = alpha * A[i] * B[i] + beta * C[i]`
/// where each operand is one slice holding equally shaped matrices at a fixed
/// stride. The output matrices must not overlap each other
/// (`batch_stride >= extent`), inputs may (a stride of 0 reuses one matrix).
///
/// ```
/// use gemmkit::{BatchLayout, Parallelism, gemm_batch_strided};
/// // Four 2 x 3 times 3 x 2 products; every problem shares one B.
/// let a: Vec<f32> = (0..4 * 6).map(|v| v as f32).collect();
/// let b = [1.0f32, 0.0, 0.0, 1.0, 0.0, 0.0]; // 3 x 2: the first two columns of A
/// let mut c = vec![0.0f32; 4 * 4];
/// let b_layout = BatchLayout { batch_stride: 0, ..BatchLayout::row_major(4, 3, 2) };
/// gemm_batch_strided(
///     &Parallelism::Rayon,
///     1.0, &a, BatchLayout::row_major(4, 2, 3),
///     &b, b_layout,
///     0.0, &mut c, BatchLayout::row_major(4, 2, 2),
/// )?;
/// assert_eq!(&c[4..8], &[6.0, 7.0, 9.0, 10.0]); // problem 1: A[1] = [[6, 7, 8], [9, 10, 11]]
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_batch_strided<T: Element>(
    parallelism: &Parallelism,
    alpha: T,
    a: &[T],
    a_layout: BatchLayout,
    b: &[T],
    b_layout: BatchLayout,
    beta: T,
    c: &mut [T],
    c_layout: BatchLayout,
) -> Result<(), GemmError> {
    let target = crate::active()?;
    let count = c_layout.count;
    for (arg, l) in [("a", &a_layout), ("b", &b_layout)] {
        if l.count != count {
            return Err(GemmError::CountMismatch {
                arg,
                expected: count,
                found: l.count,
            });
        }
    }
    let c_extent = c_layout.extent().ok_or(GemmError::StrideOverflow {
        arg: "c",
        rows: c_layout.rows,
        cols: c_layout.cols,
        strides: (c_layout.row_stride, c_layout.col_stride),
    })?;
    if count > 1 && c_layout.batch_stride < c_extent {
        return Err(GemmError::OverlappingOutput {
            arg: "c",
            strides: (c_layout.row_stride, c_layout.col_stride),
        });
    }
    if count == 0 {
        return Ok(());
    }
    // Matrix `i` starts at `i * batch_stride`; the starts grow with `i`, so
    // matrices 0 and `count - 1` in bounds put every one in bounds. Checked in
    // constant time and memory, whatever the count.
    let last = count - 1;
    fn view<'s, T>(data: &'s [T], l: &BatchLayout, i: usize, arg: &'static str) -> Result<MatRef<'s, T>, GemmError> {
        let start = i.checked_mul(l.batch_stride).ok_or(GemmError::BatchOverflow {
            arg,
            count: l.count,
            batch_stride: l.batch_stride,
        })?;
        let data = data.get(start..).ok_or(GemmError::OutOfBounds {
            arg,
            rows: l.rows,
            cols: l.cols,
            strides: (l.row_stride, l.col_stride),
            needed: start.saturating_add(1),
            len: data.len(),
        })?;
        Ok(MatRef::strided(data, l.rows, l.cols, l.row_stride, l.col_stride))
    }
    let in_batch = |index| {
        move |error| GemmError::InBatch {
            index,
            error: Box::new(error),
        }
    };
    for i in [0, last] {
        let check = || {
            let (a, b, c) = (
                view(a, &a_layout, i, "a")?,
                view(b, &b_layout, i, "b")?,
                view(&*c, &c_layout, i, "c")?,
            );
            check_shapes(&a, &b, c.rows, c.cols)?;
            a.check_bounds("a")?;
            b.check_bounds("b")?;
            c.check_bounds("c")
        };
        check().map_err(in_batch(i))?;
    }
    if c_extent == 0 {
        // No element of C: nothing to compute for any of the `count` problems.
        return Ok(());
    }
    let first = {
        let mut c0 = MatMut::strided(
            &mut c[..],
            c_layout.rows,
            c_layout.cols,
            c_layout.row_stride,
            c_layout.col_stride,
        );
        let (a0, b0) = (view(a, &a_layout, 0, "a"), view(b, &b_layout, 0, "b"));
        checked(alpha, &a0?, &b0?, beta, &mut c0).map_err(in_batch(0))?
    };
    let base = SharedProblem(first);
    let step = |l: &BatchLayout, i: usize| i * l.batch_stride;
    // SAFETY: every problem's views are in bounds (first and last checked
    // above); C's matrices do not overlap (`batch_stride >= extent`), and the
    // borrows of `a`, `b` and `c` outlive this call.
    unsafe {
        run_batch(target, parallelism, count, |i| {
            let p = base.get();
            Problem {
                a: Operand {
                    ptr: p.a.ptr.add(step(&a_layout, i)),
                    ..p.a
                },
                b: Operand {
                    ptr: p.b.ptr.add(step(&b_layout, i)),
                    ..p.b
                },
                c: Operand {
                    ptr: p.c.ptr.add(step(&c_layout, i)),
                    ..p.c
                },
                ..*p
            }
        })
    };
    Ok(())
}
