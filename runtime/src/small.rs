//! The small path: problems with every dimension up to [`SMALL`] skip packing
//! (`gemm_small`), on one thread or with their rows split between threads.

use crate::element::{ElemKernels, Element, SmallFn};
use crate::parallel::par_phases;
use crate::problem::{Problem, SharedProblem};

/// Problems with every dimension at most this take the no-packing path (where
/// B and C have unit column stride): up to here packing costs more than it
/// saves. Chosen by measurement
/// (gemm-bench, alternating runs, paired ratio to faer or OpenBLAS, AVX-512 on
/// a Zen 4 core with 1 MiB of L2): one thread, f32 144^3-256^3 0.95-0.99 blocked
/// against 0.99-1.03 small (256^3 0.95-0.98 against 0.99-1.01), 256x256x32,
/// 32x256x256, 256x32x256 0.94-1.00 against 1.03-1.10, A transposed 160^3-256^3
/// 0.88-0.94 against 0.99-1.03; f64 144^3-256^3 even to 1.04 (255^3 0.96-0.97
/// against 0.98-1.00), 256x256x64 and 64x256x256 0.94-0.98 against 0.98-1.05;
/// two threads (`small_par`), f32 192^3-256^3 1.10x-1.72x against 1.78x-1.94x.
/// 257^3 loses 4% on the small path. An earlier Intel machine (2 MiB L2) had
/// the crossover at 128. Overridable for tuning through `GEMMKIT_SMALL`.
pub const SMALL: usize = 256;

/// Whether every dimension of `p` is within the small path's limit.
#[inline(always)]
pub(crate) fn is_small<T>(p: &Problem<T>) -> bool {
    let limit = small_limit();
    p.m <= limit && p.n <= limit && p.k <= limit
}

#[inline]
pub(crate) fn small_limit() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("GEMMKIT_SMALL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(SMALL)
    })
}

/// Runs `body` on the small kernel's view of `p` where it has one, with
/// `(m, n, a, rsa, csa, b, rsb, rsc)` bound to the product the kernel computes:
/// the kernel writes rows of C with unit column stride and reads rows of B, and
/// a column-major C is the transposed product (B^T A^T), which reads A's
/// columns as rows. `body` ends in a `return`. Two branches rather than one on
/// arguments swapped by conditional moves, which went through the stack (2-3%
/// of an 8^3 call).
macro_rules! small_oriented {
    ($p:expr, |$m:ident, $n:ident, $a:ident, $rsa:ident, $csa:ident, $b:ident, $rsb:ident, $rsc:ident| $body:block) => {{
        let p = $p;
        if p.csc == 1 && p.csb == 1 {
            let ($m, $n, $a, $rsa, $csa, $b, $rsb, $rsc) = (p.m, p.n, p.a, p.rsa, p.csa, p.b, p.rsb, p.rsc);
            $body
        }
        if p.rsc == 1 && p.rsa == 1 {
            let ($m, $n, $a, $rsa, $csa, $b, $rsb, $rsc) = (p.n, p.m, p.b, p.csb, p.rsb, p.a, p.csa, p.csc);
            $body
        }
    }};
}
pub(crate) use small_oriented;

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
/// As for `base_gemm_small`, for the whole `m x n x k` problem.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn small<T: Element>(
    kern: &ElemKernels<T>,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: *const T,
    rsa: usize,
    csa: usize,
    b: *const T,
    rsb: usize,
    beta: T,
    c: *mut T,
    rsc: usize,
) {
    // A column-major A has its own instances, which address it at constant
    // offsets (rows are adjacent elements) rather than a row stride.
    let blocks = if rsa == 1 { kern.small_t } else { kern.small };
    let [(tall, f_tall), (mid, f_mid), (low, f_low), (_, f_row)] = blocks;
    debug_assert!(low >= 1, "every instance has rows");
    // One block: rows `start .. start + rows` of A and C, stored from `i` on. (A
    // macro: as a closure it was not inlined, and its captures went through memory.)
    macro_rules! block {
        ($f:expr, $start:expr, $i:expr) => {{
            let (f, start, i): (SmallFn<T>, usize, usize) = ($f, $start, $i);
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
            }
        }};
    }
    let mut i = 0;
    // Straight-line choices on the four row counts rather than a search of the
    // table, which went through the stack (1-3% of an 8^3 call).
    loop {
        let left = m - i;
        if left > tall {
            block!(f_tall, i, i);
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
            block!(f, m - rows, i);
            return;
        }
        let (rows, f) = if left >= mid {
            (mid, f_mid)
        } else if left >= low {
            (low, f_low)
        } else {
            (1, f_row)
        };
        block!(f, i, i);
        i += rows;
    }
}

/// Small problems from this many multiply-adds split their rows between
/// threads (`small_par`). Measured in-process on two Zen 4 cores (AVX-512,
/// paired with one thread, 31 rounds): f32 80^3 / 96^3 / 112^3 / 128^3 ran
/// 1.62x / 1.75x / 1.79x / 1.81x (the gemm crate on two threads 0.90x / 1.63x
/// / 1.71x / 1.69x of our one), f64 1.67x-1.84x; 64^3 stays on one thread (the
/// issue's bound: no slowdown up to 64).
pub(crate) const PARALLEL_SMALL_MIN_VOLUME: usize = 80 * 80 * 80;

/// [`small`] on up to `threads` threads for a problem already in the small
/// kernel's orientation (see `small_oriented`): the rows of C in items of the
/// tallest block's height, claimed from a shared counter (`par_phases`, one
/// lane, no packing). Every element of C is computed by the same instance code
/// as on one thread, so results are bit-identical for any thread count.
///
/// # Safety
/// As for [`small`], for the whole problem.
#[inline(always)]
pub(crate) unsafe fn small_par<T: Element>(
    kern: &ElemKernels<T>,
    threads: usize,
    pool: Option<&rayon::ThreadPool>,
    p: Problem<T>,
) {
    let tall = if p.rsa == 1 { kern.small_t[0].0 } else { kern.small[0].0 };
    // Each item reads its own rows of A and writes its own rows of C; B is only
    // read.
    let shared = SharedProblem(p);
    let rows = |j: usize| {
        let (p, i) = (shared.get(), j * tall);
        // SAFETY: rows `i .. i + tall.min(m - i)` of A and C are in the problem.
        unsafe {
            small(
                kern,
                tall.min(p.m - i),
                p.n,
                p.k,
                p.alpha,
                p.a.add(i * p.rsa),
                p.rsa,
                p.csa,
                p.b,
                p.rsb,
                p.beta,
                p.c.add(i * p.rsc),
                p.rsc,
            )
        }
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
