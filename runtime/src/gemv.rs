//! The GEMV path: `y = alpha * x W + beta * y` for a product with `m == 1`
//! (x the row of A, W = B, y the row of C; a product with `n == 1` is planned
//! as its transpose), the matrix read once, in place, by the `gemv_*` kernels.
//!
//! Work items are ranges of y. Where the plan splits k, each part of k is
//! summed into its own row of partial sums first (one item per part and range
//! of y), and the parts are then added in order, part 0 first: the split
//! depends on the shape alone, and an element of y gets the same operations
//! whichever range holds it, so results are bit-identical for any thread
//! count.

use crate::blocking::CacheSizes;
use crate::family::{Family, GemvSet};
use crate::generated::Tuning;
use crate::parallel::par_phases;
use crate::plan::{Gemv, GemvForm};
use crate::problem::Problem;
use crate::scratch::with_scratch;

/// The most lane sums one call of a dot-form kernel leaves (its rows times
/// the lanes): four rows of 16.
pub(crate) const MAX_SUMS: usize = 64;

/// The fewest bytes of each row of W an axpy-form item reads: a page, as the
/// hardware prefetchers stop at page boundaries and a shorter piece of each
/// row would restart them row after row.
const MIN_ROW_BYTES: usize = 4 << 10;

/// The GEMV plan for `q` (already oriented: `q.m == 1`) on up to `threads`
/// workers.
pub(crate) fn plan<F: Family>(
    tuning: &Tuning,
    set: &GemvSet<F>,
    q: &Problem<F>,
    form: GemvForm,
    threads: usize,
) -> Gemv {
    let volume = q.n.saturating_mul(q.k);
    let split = volume >= tuning.small_split_volume;
    let threads = if split { threads.max(1) } else { 1 };
    // From the shape alone, never the thread count: it fixes the order of the sums.
    let k_part = tuning.gemv_k_part.max(1);
    let k_parts = if split && q.n <= tuning.gemv_split_n && q.k >= k_part.saturating_mul(2) {
        q.k.div_ceil(k_part)
    } else {
        1
    };
    // The most bytes of y an axpy-form item covers: a quarter of the L2, so
    // they stay there (each group of four rows of W loads and stores them
    // once) while the rows stream past.
    let y_bytes = CacheSizes::detect().l2 / 4;
    let size = size_of::<F::C>();
    // Whole lines of y per item (a multiple of every target's lanes), so that
    // no two workers write one line; about four items a worker where y is
    // long enough, and on one thread the longest pieces of W's rows (whole
    // rows, one stream where they are contiguous).
    let line = 64 / size;
    let even = if threads == 1 { q.n } else { q.n.div_ceil(4 * threads) };
    let chunk = match form {
        GemvForm::Axpy => even
            .clamp(MIN_ROW_BYTES / size, (y_bytes / size).max(MIN_ROW_BYTES / size))
            .next_multiple_of(line),
        GemvForm::Dot => (tuning.gemv_dot_item / q.k.max(1))
            .clamp(1, even.max(1))
            .next_multiple_of(line * set.rows),
    };
    Gemv {
        form,
        threads,
        chunk,
        k_parts,
        k_part,
    }
}

/// What the items of one call share: the problem, x (contiguous for the dot
/// form), y's stand-in where C's row is strided in the axpy form, and the
/// partial sums of a split k (`k_parts` rows of `n`).
struct Shared<F: Family> {
    p: Problem<F>,
    set: GemvSet<F>,
    plan: Gemv,
    x: *const F::A,
    incx: usize,
    ys: *mut F::C,
    parts: *mut F::C,
}

// SAFETY: see `gemm_raw`'s contract; the call waits for its items, which
// write distinct ranges of y and of the partial sums.
unsafe impl<F: Family> Sync for Shared<F> {}

impl<F: Family> Shared<F> {
    /// Itself; a method, so that a closure captures the whole (`Sync`) value.
    fn get(&self) -> &Self {
        self
    }

    /// Sums over `k0 .. k0 + kl` into `dst[j - j0]` for `j` in `j0 .. j1`:
    /// `dst += alpha * x W` in the axpy form (`dst` holds y's range), `dst =
    /// x W` in the dot form.
    ///
    /// # Safety
    /// The ranges are within the problem; `dst` writable for `j1 - j0`.
    unsafe fn sums(&self, alpha: F::Scalar, (k0, kl): (usize, usize), (j0, j1): (usize, usize), dst: *mut F::C) {
        let (p, set) = (&self.p, &self.set);
        let x = self.x.wrapping_add(k0 * self.incx);
        match self.plan.form {
            GemvForm::Axpy => unsafe { (set.axpy)(kl, j1 - j0, alpha, x, self.incx, p.b.at(k0, j0), p.b.rs, dst) },
            GemvForm::Dot => {
                let mut out = [F::C_ZERO; MAX_SUMS];
                let lanes = set.lanes;
                let mut j = j0;
                while j < j1 {
                    let (rows, f) = if j1 - j >= set.rows {
                        (set.rows, set.dot)
                    } else {
                        (1, set.dot_row)
                    };
                    unsafe { f(kl, p.b.at(k0, j), p.b.cs, x, out.as_mut_ptr()) };
                    for r in 0..rows {
                        unsafe { *dst.add(j - j0 + r) = F::sum(&out[r * lanes..][..lanes]) };
                    }
                    j += rows;
                }
            }
        }
    }

    /// y's range `j0 .. j1` where k is not split.
    ///
    /// # Safety
    /// The range is within y.
    unsafe fn whole(&self, j0: usize, j1: usize) {
        let p = &self.p;
        let (alpha, beta) = (p.alpha, p.beta);
        let y = |j: usize| p.c.at(0, j);
        match self.plan.form {
            GemvForm::Axpy => {
                // `beta * y` first (never reading y where beta is 0), then the
                // kernel adds to it, in y or in its contiguous stand-in.
                let (dst, direct) = if self.ys.is_null() {
                    (y(j0), true)
                } else {
                    (self.ys.wrapping_add(j0), false)
                };
                if !(direct && beta == F::ONE) {
                    for j in j0..j1 {
                        let v = if beta == F::ZERO {
                            F::C_ZERO
                        } else {
                            let c = unsafe { *y(j) };
                            if beta == F::ONE { c } else { F::scale(beta, c) }
                        };
                        unsafe { *dst.add(j - j0) = v };
                    }
                }
                unsafe { self.sums(alpha, (0, p.k), (j0, j1), dst) };
                if !direct {
                    for j in j0..j1 {
                        unsafe { *y(j) = *dst.add(j - j0) };
                    }
                }
            }
            GemvForm::Dot => {
                // The sums land in y, then take alpha and beta in place.
                let mut out = [F::C_ZERO; MAX_SUMS];
                let mut j = j0;
                while j < j1 {
                    let len = (j1 - j).min(MAX_SUMS);
                    unsafe { self.sums(alpha, (0, p.k), (j, j + len), out.as_mut_ptr()) };
                    for (i, &s) in out[..len].iter().enumerate() {
                        let c = unsafe { &mut *y(j + i) };
                        *c = F::combine(alpha, s, beta, (beta != F::ZERO).then_some(*c));
                    }
                    j += len;
                }
            }
        }
    }
}

/// Runs a GEMV plan on `p` (oriented: `p.m == 1`).
///
/// # Safety
/// As [`crate::gemm_raw`]; `plan` was made for `p` with these kernels.
pub(crate) unsafe fn gemv<F: Family>(set: &GemvSet<F>, plan: &Gemv, p: Problem<F>, pool: Option<&rayon::ThreadPool>) {
    let (n, k, parts) = (p.n, p.k, plan.k_parts);
    let copy_x = plan.form == GemvForm::Dot && p.a.cs != 1;
    let copy_y = plan.form == GemvForm::Axpy && p.c.cs != 1 && parts == 1;
    let region = |elems: usize, size: usize| (elems * size).div_ceil(64) * 64;
    let x_bytes = if copy_x { region(k, size_of::<F::A>()) } else { 0 };
    let y_bytes = if copy_y { region(n, size_of::<F::C>()) } else { 0 };
    let parts_bytes = if parts > 1 {
        region(parts * n, size_of::<F::C>())
    } else {
        0
    };
    with_scratch(x_bytes + y_bytes + parts_bytes, |buf| {
        let (xs, ys) = (buf.cast::<F::A>(), buf.wrapping_add(x_bytes).cast::<F::C>());
        let partial = buf.wrapping_add(x_bytes + y_bytes).cast::<F::C>();
        let (x, incx) = if copy_x {
            for q in 0..k {
                unsafe { *xs.add(q) = *p.a.at(0, q) };
            }
            (xs.cast_const(), 1)
        } else {
            (p.a.ptr, p.a.cs)
        };
        let shared = Shared {
            p,
            set: *set,
            plan: *plan,
            x,
            incx,
            ys: if copy_y { ys } else { std::ptr::null_mut() },
            parts: partial,
        };
        let chunks = n.div_ceil(plan.chunk);
        let range = |c: usize| (c * plan.chunk, ((c + 1) * plan.chunk).min(n));
        // A split k: first each part's sums over each range (the "pack"
        // items), then each range's parts added in order into y.
        let part = |_: usize, item: usize| {
            let s = shared.get();
            let (kp, (j0, j1)) = (item / chunks, range(item % chunks));
            let k0 = kp * s.plan.k_part;
            let dst = s.parts.wrapping_add(kp * n + j0);
            if s.plan.form == GemvForm::Axpy {
                for j in 0..j1 - j0 {
                    unsafe { *dst.add(j) = F::C_ZERO };
                }
            }
            unsafe { s.sums(F::ONE, (k0, s.plan.k_part.min(s.p.k - k0)), (j0, j1), dst) };
        };
        let compute = |_: usize, c: usize, _: usize| {
            let s = shared.get();
            let (j0, j1) = range(c);
            let (p, n) = (&s.p, s.p.n);
            if s.plan.k_parts == 1 {
                unsafe { s.whole(j0, j1) };
            } else {
                for j in j0..j1 {
                    let mut acc = unsafe { *s.parts.add(j) };
                    for kp in 1..s.plan.k_parts {
                        acc = F::sum(&[acc, unsafe { *s.parts.add(kp * n + j) }]);
                    }
                    let c = unsafe { &mut *p.c.at(0, j) };
                    *c = F::combine(p.alpha, acc, p.beta, (p.beta != F::ZERO).then_some(*c));
                }
            }
            // The epilogue on the range, whole now and just written: by the
            // thread that computed it, while it is in L1.
            if let Some(e) = &p.epi {
                unsafe { e.apply(1, j1 - j0, p.c.at(0, j0), p.c.rs, p.c.cs, 0, j0) };
            }
        };
        let packs = if parts > 1 { parts * chunks } else { 0 };
        par_phases(plan.threads, pool, 1, |_| packs, part, chunks, false, compute);
    });
}
