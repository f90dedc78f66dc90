//! The dot-product edge: B's last few columns by dot products along the whole
//! of k, where a narrow strip would compute a whole vector of columns.

use crate::driver::{Ctx, reads_a_in_place};
use crate::element::Element;
use crate::generated::Shape;
use crate::output::apply_tile;
use crate::parallel::par_phases;
use crate::problem::Problem;

/// How many of B's last columns `drive_blocked` computes by dot products
/// (`base_dot_edge`) instead of in a narrow strip: the `n % NR` columns of the
/// last strip where they are at most half a vector and A is read in place, with
/// at least one block of rows. The narrow micro-kernel computes a whole vector
/// of columns (16 on AVX-512 f32 for the one column of 257), where the dot
/// products compute only the columns there are at the price of another pass
/// over A. Measured (gemm-bench, paired ratio to OpenBLAS, AVX-512 f32, narrow
/// strip -> dot products): 4096x2x512 0.94-0.97 -> 2.12-2.27,
/// 2048x6x2048 1.45-1.57 -> 2.12-2.18, 2048x8x2048 1.25-1.27 -> 1.51-1.58,
/// 257^3 0.95-1.00 -> 1.03-1.08 (against faer), 264^3 and
/// 1032^3 even; past half a vector the narrow strip wins again
/// (2048x12x2048 1.65 -> 1.37 with dot products).
pub(crate) fn dot_edge_cols<T>(p: &Problem<T>, shape: Shape, dot_rows: usize) -> usize {
    let w = p.n % shape.nr;
    let usable = reads_a_in_place(p) && p.m >= dot_rows;
    if usable && w > 0 && 2 * w <= shape.lanes { w } else { 0 }
}

/// C's last `w` columns by dot products along the whole of k: rows in blocks of
/// the instances' height, the last block moved up to end at row m (the rows it
/// overlaps are computed again but not stored), columns in chunks of up to four.
/// Each instance leaves its sums lane by lane in the worker's edge tile; they are
/// added here, lane 0 first, and go to C through the output step (`apply_tile`),
/// as an edge tile of the micro-kernel does. B's columns are read in place
/// when B is column-major, else copied into `bt` first (one pack item).
///
/// # Safety
/// As `five_loops`, with `ctx.p` the whole problem, A read in place, `m` at
/// least the instances' height, and `ctx.bufs.bt` writable for `w * k` elements
/// unless B is column-major.
pub(crate) unsafe fn dot_edge<T: Element>(ctx: &Ctx<T>, w: usize, threads: usize, pool: Option<&rayon::ThreadPool>) {
    let p = &ctx.p;
    let (m, k, j0, lanes) = (p.m, p.k, p.n - w, ctx.shape.lanes);
    let rows = ctx.kern.dot_rows;
    // The sums of the widest instance fill a quarter of the tile's slots times four.
    debug_assert!(
        rows * 4 * lanes <= ctx.bufs.tile_len,
        "edge tile too small for the sums"
    );
    let in_place = p.rsb == 1;
    // The closures reach pointers only through `ctx` (Sync).
    let copy = |_: usize, _: usize| {
        let (b, bt) = (ctx.p.b, ctx.bufs.bt);
        for q in 0..k {
            for c in 0..w {
                unsafe { *bt.add(c * k + q) = *b.add(q * ctx.p.rsb + (j0 + c) * ctx.p.csb) };
            }
        }
    };
    let compute = |_: usize, g: usize, worker: usize| {
        let p = &ctx.p;
        let (btp, ldbt) = if in_place {
            (p.b.wrapping_add(j0 * p.csb), p.csb)
        } else {
            (ctx.bufs.bt.cast_const(), k)
        };
        let start = (g * rows).min(m - rows);
        let out = unsafe { ctx.bufs.tiles.add(worker * ctx.bufs.tile_len) };
        let a = p.a.wrapping_add(start * p.rsa);
        let mut c0 = 0;
        while c0 < w {
            let cols = (w - c0).min(4);
            unsafe { (ctx.kern.dot[cols - 1])(k, a, p.rsa, btp.wrapping_add(c0 * ldbt), ldbt, out) };
            // Each slot's lanes added, lane 0 first, into slot `s` of `out` (read
            // from `s * lanes` on, at or past where it is written), so the sums form
            // a packed `rows x cols` tile for the output step.
            for s in 0..rows * cols {
                let parts = unsafe { std::slice::from_raw_parts(out.add(s * lanes), lanes) };
                let sum = parts.iter().fold(T::ZERO, |acc, &v| acc + v);
                unsafe { *out.add(s) = sum };
            }
            let skip = g * rows - start;
            let cij = p.c.wrapping_add((start + skip) * p.rsc + (j0 + c0) * p.csc);
            let sums = unsafe { out.add(skip * cols) };
            unsafe {
                apply_tile(
                    &ctx.kern,
                    rows - skip,
                    cols,
                    p.alpha,
                    sums,
                    cols,
                    p.beta,
                    cij,
                    p.rsc,
                    p.csc,
                )
            };
            c0 += cols;
        }
    };
    let packs = usize::from(!in_place);
    par_phases(threads, pool, 1, |_| packs, copy, m.div_ceil(rows), false, compute);
}
