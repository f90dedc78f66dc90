//! The dot-product edge: B's last few columns by dot products along the whole
//! of k, where a narrow strip would compute a whole vector of columns.

use crate::driver::Ctx;
use crate::family::{DotSet, Family};
use crate::output::apply_tile;
use crate::parallel::par_phases;

/// C's last `w` columns by dot products along the whole of k: rows in blocks of
/// the instances' height, the last block moved up to end at row m (the rows it
/// overlaps are computed again but not stored), columns in chunks of up to four.
/// Each instance leaves its sums lane by lane in the worker's edge tile; they are
/// added here, lane 0 first, and go to C through the output step (`apply_tile`),
/// as an edge tile of the micro-kernel does. (The plan chooses the columns:
/// [`crate::Blocked::dot_edge`].) B's columns are read in place
/// when B is column-major, else copied into `bt` first (one pack item).
///
/// # Safety
/// As `five_loops`, with `ctx.p` the whole problem, A read in place, `m` at
/// least the instances' height, and `ctx.bufs.bt` writable for `w * k` elements
/// unless B is column-major.
pub(crate) unsafe fn dot_edge<F: Family>(ctx: &Ctx<F>, set: &DotSet<F>, w: usize, pool: Option<&rayon::ThreadPool>) {
    let p = &ctx.p;
    let (m, k, j0, lanes) = (p.m, p.k, p.n - w, ctx.shape.lanes);
    let rows = set.rows;
    // The sums of the widest instance fill a quarter of the tile's slots times four.
    debug_assert!(
        rows * 4 * lanes <= ctx.bufs.tile_len,
        "edge tile too small for the sums"
    );
    let in_place = p.b.rs == 1;
    // The closures reach pointers only through `ctx` (Sync).
    let copy = |_: usize, _: usize| {
        let (b, bt) = (ctx.p.b, ctx.bufs.bt);
        for q in 0..k {
            for c in 0..w {
                unsafe { *bt.add(c * k + q) = *b.at(q, j0 + c) };
            }
        }
    };
    let compute = |_: usize, g: usize, worker: usize| {
        let p = &ctx.p;
        let (btp, ldbt) = if in_place {
            (p.b.at(0, j0), p.b.cs)
        } else {
            (ctx.bufs.bt.cast_const(), k)
        };
        let start = (g * rows).min(m - rows);
        let out = unsafe { ctx.bufs.tiles.add(worker * ctx.bufs.tile_len) };
        let a = p.a.at(start, 0);
        let mut c0 = 0;
        while c0 < w {
            let cols = (w - c0).min(4);
            unsafe { (set.cols[cols - 1])(k, a, p.a.rs, btp.wrapping_add(c0 * ldbt), ldbt, out) };
            // Each slot's lanes added, lane 0 first, into slot `s` of `out` (read
            // from `s * lanes` on, at or past where it is written), so the sums form
            // a packed `rows x cols` tile for the output step.
            for s in 0..rows * cols {
                let parts = unsafe { std::slice::from_raw_parts(out.add(s * lanes), lanes) };
                unsafe { *out.add(s) = F::sum(parts) };
            }
            let skip = g * rows - start;
            let cij = p.c.at(start + skip, j0 + c0);
            let sums = unsafe { out.add(skip * cols) };
            unsafe {
                apply_tile::<F>(
                    set.apply,
                    rows - skip,
                    cols,
                    p.alpha,
                    sums,
                    cols,
                    p.beta,
                    cij,
                    p.c.rs,
                    p.c.cs,
                )
            };
            if let Some(e) = &p.epi {
                // SAFETY: the block just stored (k is whole here).
                unsafe { e.apply(rows - skip, cols, cij, p.c.rs, p.c.cs, g * rows, j0 + c0) };
            }
            c0 += cols;
        }
    };
    let packs = usize::from(!in_place);
    par_phases(
        ctx.plan.threads,
        pool,
        1,
        |_| packs,
        copy,
        m.div_ceil(rows),
        false,
        compute,
    );
}
