//! The small path: problems with every dimension up to [`crate::Tuning::small`]
//! skip packing (`gemm_small`), on one thread or with their rows split between
//! threads.

use crate::family::{Family, SmallFn, SmallSet};
use crate::parallel::par_phases;
use crate::problem::{Operand, Problem, SharedProblem};

/// The small path: `m` rows in blocks of the `gemm_small` instances (`R`, `2R/3`,
/// `R/3` and 1 rows for `R = MR * (NR / LANES) / 2`, see `base_gemm_small`; the
/// counts come from the dispatch table).
/// Whole blocks of the largest instance that fits the rows left; the last rows,
/// where an instance covers them and the problem is tall enough, take the
/// smallest such, moved up to end at row `m` and skipping the rows it overlaps.
/// (13 rows with `R` = 12: 12 + 1; 7 rows: 4, then 4 from row 3 skipping one;
/// 3 rows: three of one.) A column-major A (`rsa == 1`) takes the `_t`
/// instances, which read its rows at constant offsets.
///
/// # Safety
/// As for `base_gemm_small`, for the whole `m x n x k` problem, whose B and C
/// have unit column stride.
#[inline(always)]
pub(crate) unsafe fn small<F: Family>(set: &SmallSet<F>, p: &Problem<F>) {
    // Locals, as the kernels take them: B and C have unit column stride.
    let Problem {
        m, n, k, alpha, beta, ..
    } = *p;
    let (a, rsa, csa, b, rsb, c, rsc) = (p.a.ptr, p.a.rs, p.a.cs, p.b.ptr, p.b.rs, p.c.ptr, p.c.rs);
    // A column-major A has its own instances, which address it at constant
    // offsets (rows are adjacent elements) rather than a row stride.
    let blocks = if rsa == 1 { set.cols } else { set.rows };
    let [(tall, f_tall), (mid, f_mid), (low, f_low), (_, f_row)] = blocks;
    debug_assert!(low >= 1, "every instance has rows");
    let epi = p.epi;
    // One block: rows `start .. start + rows` of A and C, stored from `i` on,
    // then the epilogue on the rows stored. (A macro: as a closure it was not
    // inlined, and its captures went through memory.)
    macro_rules! block {
        ($f:expr, $rows:expr, $start:expr, $i:expr) => {{
            let (f, start, i): (SmallFn<F>, usize, usize) = ($f, $start, $i);
            // SAFETY: every block's rows are rows of A and C (`start + rows <= m`).
            unsafe {
                f(
                    i - start,
                    n,
                    k,
                    alpha,
                    a.add(start * rsa),
                    rsa,
                    csa,
                    b,
                    rsb,
                    beta,
                    c.add(start * rsc),
                    rsc,
                )
            };
            if let Some(e) = &epi {
                // SAFETY: the rows just stored, in C (unit column stride).
                unsafe { e.apply(start + $rows - i, n, c.add(i * rsc), rsc, 1, i, 0) };
            }
        }};
    }
    let mut i = 0;
    // Straight-line choices on the four row counts rather than a search of the
    // table, which went through the stack (BENCHMARKS.md, "inline front").
    loop {
        let left = m - i;
        if left > tall {
            block!(f_tall, tall, i, i);
            i += tall;
            continue;
        }
        // The smallest instance that covers the rows left, moved up to end at row
        // `m` if the problem is that tall; else the tallest that fits, and again.
        let (rows, f) = if left <= 1 {
            (1, f_row)
        } else if left <= low {
            (low, f_low)
        } else if left <= mid {
            (mid, f_mid)
        } else {
            (tall, f_tall)
        };
        if rows <= m {
            block!(f, rows, m - rows, i);
            return;
        }
        let (rows, f) = if left >= mid {
            (mid, f_mid)
        } else if left >= low {
            (low, f_low)
        } else {
            (1, f_row)
        };
        block!(f, rows, i, i);
        i += rows;
    }
}

/// [`small`] on up to `threads` threads for a problem already in the small
/// kernel's orientation (B and C with unit column stride): the rows of C in
/// items of `tall` rows (the plan's `rows_per_item`), claimed from a shared counter (`par_phases`, one
/// lane, no packing). Every element of C is computed by the same instance code
/// as on one thread, so results are bit-identical for any thread count.
///
/// # Safety
/// As for [`small`], for the whole problem.
#[inline(always)]
pub(crate) unsafe fn small_par<F: Family>(
    set: &SmallSet<F>,
    threads: usize,
    tall: usize,
    pool: Option<&rayon::ThreadPool>,
    p: Problem<F>,
) {
    // Each item reads its own rows of A and writes its own rows of C; B is only
    // read.
    let shared = SharedProblem(p);
    let rows = |j: usize| {
        let (p, i) = (shared.get(), j * tall);
        let rows = Problem {
            m: tall.min(p.m - i),
            a: Operand {
                ptr: p.a.at(i, 0),
                ..p.a
            },
            c: Operand {
                ptr: p.c.at(i, 0),
                ..p.c
            },
            epi: p.epi.map(|e| e.rows_from(i)),
            ..*p
        };
        // SAFETY: rows `i .. i + tall.min(m - i)` of A and C are in the problem.
        unsafe { small(set, &rows) }
    };
    par_phases(
        threads,
        pool,
        1,
        |_| 0,
        |_, _| {},
        p.m.div_ceil(tall),
        false,
        |_, j, _| rows(j),
    );
}
