//! One row of A (`m = 1`, a decode step) for the dot-product families, with
//! B read in place where its columns are contiguous along k (B is `Wᵀ` for
//! weights W stored `n x k`, as PyTorch's `Linear` stores them): each column
//! of C is a dot product of A's row with a row of W (`gemv_dotprod`), so W is
//! streamed once and never packed. The blocked path would pack all of B on
//! every call to multiply it by one row.
//!
//! int8 follows the module doc of `dot.rs`: x is taken as the instruction's
//! A (`u8`; an `i8` x as `x + 128`), and the offsets and that shift come out
//! of the row sums of W the kernel leaves beside the dot products, wrapping:
//!
//! ```text
//! s_j = dot_j - (a_offset + shift) * wsum_j - b_offset * xsum + k * a_offset * b_offset
//! ```
//!
//! which is the exact sum the blocked path makes (so the result is the same,
//! exact or rounded once). bf16 sums in f32, lanes in order, then the
//! elements past the last whole vector.
//!
//! Threads take blocks of columns of C, each computed as on one thread, so
//! results are bit-identical for any thread count.

use crate::dot::{Bf16, IntFamily, int_out};
use crate::family::Family;
use crate::gemv::MAX_SUMS;
use crate::generated::{GemvDotprod, Target};
use crate::parallel::par_phases;
use crate::plan::tuning;
use crate::problem::{Problem, SharedProblem};
use crate::scratch::with_scratch;
use half::bf16;

/// Whether the GEMV path takes `p`: one row of A, a B whose columns are
/// contiguous along k, and something to compute (the scale-only cases stay
/// with `drive`).
pub(crate) fn applies<F: Family>(p: &Problem<F>) -> bool {
    p.m == 1 && p.b.rs == 1 && p.n > 0 && p.k > 0 && p.alpha != F::ZERO && p.packed.is_none()
}

/// Columns of C per work item: at least four (the kernel's rows), and enough
/// items for each thread to take several.
fn columns_per_item(n: usize, threads: usize) -> usize {
    (n / (threads * 8)).max(4).div_ceil(4) * 4
}

/// The call's workers and pool (`Parallelism::workers`), asked for only where
/// the product is worth several threads.
pub(crate) type Workers<'a> = &'a dyn Fn() -> (usize, Option<&'a rayon::ThreadPool>);

/// Runs `columns(j0, j1)` over all `n` columns, on the threads the problem's
/// size deserves.
fn split(target: &Target, workers: Workers<'_>, n: usize, k: usize, columns: impl Fn(usize, usize) + Sync) {
    // (The thread count asked for only where threads are worth it.)
    let (threads, pool) = if n.saturating_mul(k) >= tuning(target).small_split_volume {
        workers()
    } else {
        (1, None)
    };
    let per = columns_per_item(n, threads);
    let items = n.div_ceil(per);
    if threads == 1 {
        for i in 0..items {
            columns(i * per, ((i + 1) * per).min(n));
        }
    } else {
        par_phases(
            threads,
            pool,
            1,
            |_| 0,
            |_, _| {},
            items,
            false,
            |_, i, _| columns(i * per, ((i + 1) * per).min(n)),
        );
    }
}

/// Row `j0..j1` of W through the kernel, four at a time and then one:
/// `each(j, dots, sums)` with the lane sums of that column's dot products
/// (and its row sums of W, where `sums` asks for them).
///
/// # Safety
/// `x` readable for `kv * step` elements, W's rows `j0..j1` (each `ldw` apart,
/// from `w`) for `kv * step`.
#[allow(clippy::too_many_arguments)]
unsafe fn rows<A, B, Acc: Copy + Default>(
    kern: &GemvDotprod<A, B, Acc>,
    sums: bool,
    lanes: usize,
    kv: usize,
    x: *const A,
    w: *const B,
    ldw: usize,
    ones: *const A,
    (j0, j1): (usize, usize),
    mut each: impl FnMut(usize, &[Acc], &[Acc]),
) {
    let (four, one) = if sums {
        (kern.gemv_dotprod_sums.kernel, kern.gemv_dotprod_sums_row.kernel)
    } else {
        (kern.gemv_dotprod.kernel, kern.gemv_dotprod_row.kernel)
    };
    // (Four rows of lanes: at most 4 x 16, AVX-512's.)
    let mut out = [Acc::default(); MAX_SUMS];
    let mut total = [Acc::default(); MAX_SUMS];
    let mut j = j0;
    while j < j1 {
        let rows = if j + 4 <= j1 { 4 } else { 1 };
        let f = if rows == 4 { four } else { one };
        // SAFETY: the caller's; `out` and `total` hold four rows of lanes.
        unsafe { f(kv, x, w.add(j * ldw), ldw, ones, out.as_mut_ptr(), total.as_mut_ptr()) };
        for r in 0..rows {
            each(j + r, &out[r * lanes..][..lanes], &total[r * lanes..][..lanes]);
        }
        j += rows;
    }
}

/// int8 with one row of A (see the module).
///
/// # Safety
/// As `drive` for `p`, which [`applies`].
pub(crate) unsafe fn int8<F: IntFamily>(target: &Target, workers: Workers<'_>, p: &Problem<F>) {
    // x as the instruction takes it (`x + shift` in a byte), in the thread's
    // scratch.
    let (k, shift) = (p.k, F::SHIFT as u8);
    with_scratch(k, |x| {
        for q in 0..k {
            // SAFETY: the scratch holds k bytes.
            unsafe { *x.add(q) = F::byte(*p.a.at(0, q)) ^ shift };
        }
        // SAFETY: just written; the rest is the caller's.
        unsafe { int8_rows(target, workers, p, std::slice::from_raw_parts(x, k)) }
    })
}

/// [`int8`] with x as the instruction takes it, contiguous.
///
/// # Safety
/// As [`int8`].
unsafe fn int8_rows<F: IntFamily>(target: &Target, workers: Workers<'_>, p: &Problem<F>, x: &[u8]) {
    let (k, n, e) = (p.k, p.n, p.extra);
    let lanes = target.shapes.u8i8.lanes;
    let step = lanes * F::DEPTH;
    let kv = k / step;
    // x's true sum.
    let xsum = x
        .iter()
        .fold(0i32, |s, &v| s.wrapping_add(i32::from(v)).wrapping_sub(F::SHIFT));
    let a_off = e.a_offset.wrapping_add(F::SHIFT);
    let sums = a_off != 0;
    let kab = (k as i32).wrapping_mul(e.a_offset).wrapping_mul(e.b_offset);
    let base = kab.wrapping_sub(e.b_offset.wrapping_mul(xsum));
    let ones = [1u8; 4];
    let shared = SharedProblem(*p);
    let kern = &target.u8i8.gemv_dotprod;
    split(target, workers, n, k, |j0, j1| {
        let p = shared.get();
        let each = |j: usize, dots: &[i32], wsums: &[i32]| {
            let col = p.b.at(0, j);
            let lane_sum = |v: &[i32]| v.iter().fold(0i32, |s, &d| s.wrapping_add(d));
            let (mut dot, mut wsum) = (lane_sum(dots), if sums { lane_sum(wsums) } else { 0 });
            for (q, &xq) in x.iter().enumerate().skip(kv * step) {
                // SAFETY: element (q, j) of B.
                let wq = i32::from(unsafe { *col.add(q) });
                dot = dot.wrapping_add(i32::from(xq).wrapping_mul(wq));
                wsum = wsum.wrapping_add(wq);
            }
            let s = dot.wrapping_sub(a_off.wrapping_mul(wsum)).wrapping_add(base);
            // SAFETY: element (0, j) of C.
            let c = unsafe { &mut *p.c.at(0, j) };
            let old = (p.beta != 0.0).then_some(*c);
            *c = int_out(e.exact, p.alpha, s, p.beta, old, e.c_offset(0, j));
        };
        // SAFETY: x has k elements, each of these columns of B is k
        // contiguous elements (`applies`), `p.b.cs` apart.
        unsafe {
            rows(
                kern,
                sums,
                lanes,
                kv,
                x.as_ptr(),
                p.b.ptr,
                p.b.cs,
                ones.as_ptr(),
                (j0, j1),
                each,
            )
        };
        // SAFETY: columns `j0..j1` of C's row, as just written.
        unsafe { fused(p, j0, j1) };
    });
}

/// The fused epilogue, on columns `j0..j1` of C's row once they are written.
///
/// # Safety
/// Those columns are in C and this thread's alone.
unsafe fn fused<F: Family>(p: &Problem<F>, j0: usize, j1: usize) {
    if let Some(e) = &p.epi {
        unsafe { e.apply(1, j1 - j0, p.c.at(0, j0), p.c.rs, p.c.cs, 0, j0) };
    }
}

/// bf16 with one row of A (see the module).
///
/// # Safety
/// As `drive` for `p`, which [`applies`].
pub(crate) unsafe fn bf16(target: &Target, workers: Workers<'_>, p: &Problem<Bf16>) {
    let k = p.k;
    // x contiguous (the kernel's vectors), as raw bits: A's row itself where
    // it is contiguous, else a copy in the thread's scratch.
    if p.a.cs == 1 {
        // SAFETY: A's row is k contiguous bf16, transparent u16s.
        let x = unsafe { std::slice::from_raw_parts(p.a.ptr.cast::<u16>(), k) };
        unsafe { bf16_rows(target, workers, p, x) }
    } else {
        with_scratch(k * size_of::<u16>(), |buf| {
            let x = buf.cast::<u16>();
            for q in 0..k {
                // SAFETY: element (0, q) of A; the scratch holds k u16s.
                unsafe { *x.add(q) = (*p.a.at(0, q)).to_bits() };
            }
            // SAFETY: just written.
            unsafe { bf16_rows(target, workers, p, std::slice::from_raw_parts(x, k)) }
        })
    }
}

/// [`bf16`] with x as its bits, contiguous.
///
/// # Safety
/// As [`bf16`].
unsafe fn bf16_rows(target: &Target, workers: Workers<'_>, p: &Problem<Bf16>, x: &[u16]) {
    let (k, n) = (p.k, p.n);
    let lanes = target.shapes.bf16.lanes;
    let step = lanes * Bf16::DEPTH;
    let kv = k / step;
    let shared = SharedProblem(*p);
    let kern = &target.bf16.gemv_dotprod;
    let ones = [bf16::ONE.to_bits(); 2];
    split(target, workers, n, k, |j0, j1| {
        let p = shared.get();
        let each = |j: usize, dots: &[f32], _: &[f32]| {
            let col = p.b.at(0, j);
            let mut s = dots.iter().fold(0.0f32, |s, &d| s + d);
            for (q, &xq) in x.iter().enumerate().skip(kv * step) {
                // SAFETY: element (q, j) of B.
                s += bf16::from_bits(xq).to_f32() * unsafe { *col.add(q) }.to_f32();
            }
            // SAFETY: element (0, j) of C.
            let c = unsafe { &mut *p.c.at(0, j) };
            let old = (p.beta != 0.0).then_some(*c);
            *c = Bf16::combine(p.alpha, s, p.beta, old);
        };
        let w = p.b.ptr.cast::<u16>();
        // SAFETY: as in `int8`.
        unsafe {
            rows(
                kern,
                false,
                lanes,
                kv,
                x.as_ptr(),
                w,
                p.b.cs,
                ones.as_ptr(),
                (j0, j1),
                each,
            )
        };
        // SAFETY: as in `int8_rows`.
        unsafe { fused(p, j0, j1) };
    });
}
