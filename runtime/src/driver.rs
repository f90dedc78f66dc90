//! The blocked driver: `C = alpha * A * B + beta * C` for f32 and f64.
//!
//! The BLIS structure (Van Zee and van de Geijn): five loops around a register
//! micro-kernel. Only packing, the micro-kernel and the output step are generated
//! per target; the loops, edge handling and the API below are plain Rust, written
//! once, and fetch the target's table once per call.
//!
//! The micro-kernel broadcasts A (MR rows) and loads B as vectors (NR columns),
//! so, mapped onto BLIS's analysis, A plays BLIS's B: its micro-panel stays in L1
//! and its block in L3, while B's block stays in L2 and its micro-panels stream:
//!
//! ```text
//! for ic in 0..m step MC            A block  MC x KC (L3): row-major A is read in
//!   for pc in 0..k step KC          place, a transposed one packed in MR-row panels
//!                                   (columns of MR contiguous)
//!     pack A[ic.., pc..]            (beta applies on the first K block only)
//!     for jc in 0..n step NC        B block  KC x NC, packed in NR-wide strips (L2,
//!                                   or L3 where 16 strips overflow the L2)
//!       pack B[pc.., jc..]
//!       for ir in 0..MC step MR     A micro-panel MR x KC (L1)
//!         for jr in 0..NC step NR   micro-kernel: MR x NR tile of C in registers
//! ```
//!
//! Interior tiles are stored straight into C; edge tiles (and C with no unit
//! stride) go through a packed tile and the output kernel. A last strip of B of
//! one, two or three vectors takes the micro-kernel instance that computes only
//! those vectors (with AVX-512 f32's 64-column strips, 160 columns are not
//! computed as 192), and a last panel of A of at most `MR / 2` rows the short
//! one, which computes only those rows; each has an instance for A in place and
//! one for a packed panel. Where A is read in place and the last strip is at most
//! half a vector (the 1 column of 257), its columns skip the loops: dot products
//! along the whole of k compute only those columns, after the loops
//! (`dot_edge`; 257^3 f32 went from 0.95-1.00 of the best peer to 1.03-1.08,
//! 2048x4x2048 from 0.97-1.14 of OpenBLAS to 2.3-2.4). Where all of B fits in
//! half the L2, B is not packed in a pass of its own: the first tile of each
//! whole strip reads the strip in place and packs it as it goes
//! (`microkernel_pack_b`, see `packs_b_in_first_tiles`); elsewhere, for a
//! row-major B, the micro-kernels fetch B's next block into L2 as they compute
//! this one, a line a step of k, so that its packing pass does not wait on
//! memory (32x4096x4096 f32 1.05-1.13x on one thread). Problems with
//! every dimension up to [`SMALL`] skip packing (`gemm_small`). Blocks are
//! balanced: no dimension ends in a sliver.
//!
//! Threads (rayon): each `(pc, jc)` block is one fork-join. B's block is one
//! lane per thread, each as wide as a single thread's block; each worker packs
//! its lane's strips and multiplies them by every A panel, claiming items in
//! shrinking runs from its lane's counter first and then from the others' (see
//! `par_phases`). Each tile of C is computed by one thread with the same
//! operations as on one thread, so results are bit-identical for any thread
//! count. Small problems from 80^3 split their rows between threads in blocks
//! of the small kernel's height (`small_par`); the blocked path shares blocks
//! from 160^3.

use crate::blocking::{Blocking, CacheSizes};
use crate::edge::{dot_edge, dot_edge_cols};
use crate::element::{ElemKernels, Element};
use crate::generated::{Shape, Target};
use crate::output::{apply_tile, scale};
use crate::parallel::{MAX_LANES, lanes_for, par_phases, part};
use crate::problem::Problem;
use crate::scratch::with_scratch;
use crate::small::{PARALLEL_SMALL_MIN_VOLUME, is_small, small, small_oriented, small_par};

/// The driver's cheap front: empty problems, scaling only, the orientation of C
/// and the small path. It is inlined into the API calls, so a tiny product runs
/// from values in registers. Only a product big enough to be blocked is stored
/// to memory and asks `threads` for its workers and pool (the calling thread
/// always works; without a pool, the rayon pool the caller is in helps).
#[inline(always)]
pub(crate) unsafe fn drive<'a, T: Element>(
    target: &Target,
    p: &Problem<T>,
    threads: impl FnOnce() -> (usize, Option<&'a rayon::ThreadPool>),
) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    if p.alpha == T::ZERO || p.k == 0 {
        unsafe { scale(*p) };
        return;
    }
    let kern = T::kernels(target);
    // Small problems big enough to split between threads take the small path
    // in `drive_blocked`, out of line: a call to it from here cost 8^3 and 16^3
    // f32 3-25%, whatever went into it.
    if is_small(p) && p.m.saturating_mul(p.n).saturating_mul(p.k) < PARALLEL_SMALL_MIN_VOLUME {
        small_oriented!(p, |m, n, a, rsa, csa, b, rsb, rsc| {
            // SAFETY: as for `drive`; `small` stays inside the m x n x k problem.
            unsafe { small(&kern, m, n, p.k, p.alpha, a, rsa, csa, b, rsb, p.beta, p.c, rsc) };
            return;
        });
    }
    // The micro-kernel writes rows of C with unit column stride; a column-major C
    // is the transposed product.
    let t = p.csc != 1 && p.rsc == 1;
    let (m, n, a, rsa, csa, b, rsb, csb, rsc, csc) = if t {
        (p.n, p.m, p.b, p.csb, p.rsb, p.a, p.csa, p.rsa, p.csc, p.rsc)
    } else {
        (p.m, p.n, p.a, p.rsa, p.csa, p.b, p.rsb, p.csb, p.rsc, p.csc)
    };
    let p = Problem {
        m,
        n,
        k: p.k,
        alpha: p.alpha,
        a,
        rsa,
        csa,
        b,
        rsb,
        csb,
        beta: p.beta,
        c: p.c,
        rsc,
        csc,
    };
    let (threads, pool) = threads();
    unsafe { drive_blocked(target, p, threads, pool) }
}

/// The blocked driver (`drive` after the small path): `threads` workers share
/// each block when the problem is worth it. Small problems that `drive` left
/// for their size take the small path here, on `threads` (`small_par`).
#[inline(never)]
pub(crate) unsafe fn drive_blocked<T: Element>(
    target: &Target,
    p: Problem<T>,
    threads: usize,
    pool: Option<&rayon::ThreadPool>,
) {
    let kern = T::kernels(target);
    if is_small(&p) {
        small_oriented!(p, |m, n, a, rsa, csa, b, rsb, rsc| {
            let q = Problem {
                m,
                n,
                a,
                rsa,
                csa,
                b,
                rsb,
                csb: 1,
                rsc,
                csc: 1,
                ..p
            };
            // SAFETY: as for `drive`; `q` is the same product, seen as the small
            // kernel computes it.
            unsafe { small_par(&kern, threads, pool, q) };
            return;
        });
    }
    let threads = if worth_threads(&p) { threads.max(1) } else { 1 };
    let shape = T::shape(target);
    let (mr, nr) = (shape.mr, shape.nr);
    // The last few columns by dot products (see `dot_edge_cols`); the five loops
    // take the rest.
    let edge = dot_edge_cols(&p, shape, kern.dot_rows);
    let (full, p) = (p, Problem { n: p.n - edge, ..p });
    let blk = Blocking::for_shape(shape, size_of::<T>());
    // Balanced blocks: k = 2049 with KC = 1024 is 2 blocks of 1025, not 2 of 1024
    // and a last one of depth 1 that would cost a whole pass over C. B's block is as
    // wide as one per lane: each worker keeps its own lane of it near its core
    // (see `five_loops`).
    let blk = Blocking {
        kc: balanced(p.k, blk.kc, 1),
        mc: balanced(p.m, blk.mc, mr),
        nc: balanced(p.n, blk.nc * threads.min(MAX_LANES), nr),
    };
    let (kc_max, mc_max, nc_max) = (blk.kc, blk.mc, blk.nc);
    // Room for the packed A block, or for one ragged panel when A is read in
    // place (see `five_loops`).
    let a_rows = if reads_a_in_place(&p) { mr } else { mc_max };
    let a_len = (a_rows * kc_max).div_ceil(16) * 16;
    let b_len = (kc_max * nc_max).div_ceil(16) * 16;
    let tile_len = (mr * nr).div_ceil(16) * 16;
    // The edge columns of a B that is not column-major, copied contiguous along k.
    let bt_len = if edge > 0 && full.rsb != 1 {
        (edge * full.k).div_ceil(16) * 16
    } else {
        0
    };
    let bytes = (a_len + b_len + threads * tile_len + bt_len) * size_of::<T>();
    with_scratch(bytes, |buf| {
        let buf = buf.cast::<T>();
        // A block, B block, one edge tile per worker, the edge columns of B, each
        // 64-byte aligned.
        let bufs = Buffers {
            a: buf,
            b: unsafe { buf.add(a_len) },
            tiles: unsafe { buf.add(a_len + b_len) },
            tile_len,
            bt: unsafe { buf.add(a_len + b_len + threads * tile_len) },
        };
        let ctx = Ctx {
            kern,
            shape,
            blk,
            p,
            bufs,
        };
        if p.n > 0 {
            unsafe { five_loops(&ctx, threads, pool) };
        }
        if edge > 0 {
            let ctx = Ctx { p: full, ..ctx };
            unsafe { dot_edge(&ctx, edge, threads, pool) };
        }
    });
}

/// Whether full panels of A are read in place rather than packed: A is
/// row-major (unit column stride). See `five_loops`.
///
/// Measured against packing every A (gemm-bench, paired ratio to the best of
/// OpenBLAS and faer, AVX-512 6 x 64 / 6 x 32 tiles, one thread): in place is
/// as fast or faster on square shapes from 256 to 2048 in both precisions (f32
/// 1024: 1.10-1.18 against 0.90-1.05; f64 2048: 0.98-1.03 against 0.90-0.95),
/// and on two threads the two are even. Packing won only where A is short and
/// B wide (64x4096x4096 f32: 1.40-1.44 packed, 1.26-1.39 in place). With the
/// 12 x 32 tile, whose in-place instance computes twice the row addresses,
/// packing had won from 512 columns of B on.
pub(crate) fn reads_a_in_place<T>(p: &Problem<T>) -> bool {
    p.csa == 1
}

/// Whether the first tile of each strip packs it (`microkernel_pack_b`, or its
/// `_packed` twin for a packed A) instead of a packing pass over B's block: B
/// row-major, C with unit column stride, and all of B within half the L2 cache.
/// Measured when the small path stopped at 128 (shapes up to 256 now skip
/// packing altogether; same process, alternating, 15-41 rounds, one thread,
/// AVX-512 f32, median speed fused over a packing pass), A read in place: 192^3 1.028, 255^3
/// 1.014, 256^3 1.019-1.023, 257^3 1.018-1.021, 320^3 1.012, 384^3 1.009, 512^3
/// 1.004; on two threads 256^3 1.042, 257^3 1.036, 512^3 1.025. A transposed
/// (packed): 192^3-384^3 1.006-1.021, two threads 256^3-512^3 1.013-1.031, f64
/// 160^3-320^3 0.998-1.030. Where B is far (L3 or memory) the first tiles wait
/// for it: 1024^3 0.974, 64x4096x4096 0.76, 128x2048x2048 0.82, 300x1000x1000
/// 0.91; with B's next block fetched ahead by the micro-kernels (in-process, one
/// thread, 15 rounds) still 1024^3 0.986, 2048^3 0.998, 64x4096x4096 0.991,
/// 128x2048x2048 0.975.
pub(crate) fn packs_b_in_first_tiles<T>(p: &Problem<T>) -> bool {
    let b_bytes = p.k as f64 * p.n as f64 * size_of::<T>() as f64;
    p.csb == 1 && p.csc == 1 && b_bytes <= (CacheSizes::detect().l2 / 2) as f64
}

/// Whether a problem is big enough to share between threads.
pub(crate) fn worth_threads<T>(p: &Problem<T>) -> bool {
    p.m as f64 * p.n as f64 * p.k as f64 >= PARALLEL_MIN_VOLUME
}

/// Problems smaller than this many multiply-adds stay on one thread: below it,
/// waking a second thread costs more than it saves. Chosen by measurement on
/// the 2-core development machine (gemm-bench --threads 2).
pub(crate) const PARALLEL_MIN_VOLUME: f64 = 160.0 * 160.0 * 160.0;

/// The packing buffers of one call (shared by its workers) and the per-worker
/// edge tiles.
#[derive(Clone, Copy)]
pub(crate) struct Buffers<T> {
    pub(crate) a: *mut T,
    pub(crate) b: *mut T,
    pub(crate) tiles: *mut T,
    pub(crate) tile_len: usize,
    /// The dot-product edge's columns of B, contiguous along k (see `dot_edge`).
    pub(crate) bt: *mut T,
}

/// Everything the loops share. Raw pointers into A, B, C and the buffers: the
/// workers write disjoint tiles of C and disjoint parts of the buffers.
pub(crate) struct Ctx<T> {
    pub(crate) kern: ElemKernels<T>,
    /// The tile: an edge strip takes the instance of its count of vectors
    /// (`lanes` columns each).
    pub(crate) shape: Shape,
    pub(crate) blk: Blocking,
    pub(crate) p: Problem<T>,
    pub(crate) bufs: Buffers<T>,
}

// SAFETY: the pointers are only dereferenced inside `five_loops`, where each work
// item touches its own part of C and of the packing buffers, and the phases are
// ordered: packing finishes (Release) before any compute item starts (Acquire),
// and each scope ends before the next block reuses the buffers.
unsafe impl<T: Send> Sync for Ctx<T> {}

/// Rows of B (or columns of A) per pack item, across all of a lane's strips (or
/// panels): enough for long reads, few enough that a lane's packing still splits
/// into items other workers can take.
pub(crate) const PACK_CHUNK: usize = 64;

/// Bytes in a cache line (the unit of the micro-kernels' fetch of B's next block).
pub(crate) const LINE: usize = 64;

/// The step that splits `total` into as few blocks of about `max` as possible,
/// all about equal, rounded up to a multiple of `unit` (`max` is one). A block
/// may exceed `max` by a sixteenth (rounded down to `unit`) rather than leave a
/// sliver: k = 2049 with KC = 1024 is two blocks of 1025, not three of 683 that
/// cost a third more passes over C (2049^3 was about 10% slower than 2048^3). The
/// blocking model leaves each block half its cache, so the slack still fits.
pub(crate) fn balanced(total: usize, max: usize, unit: usize) -> usize {
    let cap = ((max + max / 16) / unit * unit).max(max);
    let blocks = total.div_ceil(cap).max(1);
    (total.div_ceil(blocks).div_ceil(unit) * unit).clamp(unit, cap)
}

pub(crate) unsafe fn five_loops<T: Element>(ctx: &Ctx<T>, threads: usize, pool: Option<&rayon::ThreadPool>) {
    let (kern, mr, nr, blk) = (ctx.kern, ctx.shape.mr, ctx.shape.nr, ctx.blk);
    // Scalars copied out; the closures reach pointers only through `ctx` (Sync).
    // `a_in_place`: full MR-row panels of a row-major A are read in place, the
    // rows at their own stride; only a transposed A and edge panels are packed
    // (see `reads_a_in_place`). The micro-kernel streams each row of the panel,
    // which costs little over a packed panel once it is in L1, and saves a copy
    // of A per block.
    let (m, n, k) = (ctx.p.m, ctx.p.n, ctx.p.k);
    let (unit_cols, a_in_place) = (ctx.p.csc == 1, reads_a_in_place(&ctx.p));
    let fuse_b = packs_b_in_first_tiles(&ctx.p);
    for ic in (0..m).step_by(blk.mc) {
        let mc = blk.mc.min(m - ic);
        let panels = mc.div_ceil(mr);
        for pc in (0..k).step_by(blk.kc) {
            let kc = blk.kc.min(k - pc);
            let beta = if pc == 0 { ctx.p.beta } else { T::ONE };
            for jc in (0..n).step_by(blk.nc) {
                let nc = blk.nc.min(n - jc);
                let strips = nc.div_ceil(nr);
                // Lanes: lane `l` owns a part of B's strips, which it packs (with a
                // share of the A panels to pack, once per pc, with the first jc
                // block) and then multiplies by every A panel, one compute item per
                // panel. So a worker's strips stay near its core while A streams
                // from the shared L3, and each A panel stays in L1 across the strips.
                let lanes = lanes_for(threads, strips);
                // The A panels to pack: all, or with A in place only a ragged last
                // one, in the buffer's first slot.
                let a_first = if a_in_place { mc / mr } else { 0 };
                let a_slot = |pi: usize| (pi - a_first) * kc * mr;
                let a_packs = if jc == 0 { panels - a_first } else { 0 };
                // A lane's panels of A and its strips of B are each packed
                // together, a chunk of columns of A or rows of B per item, so each
                // read of a transposed A (a column) or of a row-major B (a row) is
                // as long as the lane's share is wide.
                let chunks = kc.div_ceil(PACK_CHUNK);
                // Chunk `c` of the depth: its first index and its length.
                let chunk = |c: usize| (c * PACK_CHUNK, PACK_CHUNK.min(kc - c * PACK_CHUNK));
                let a_items = |l: usize| if part(a_packs, lanes, l).is_empty() { 0 } else { chunks };
                // With `fuse`, the tile of the first panel of A (a whole one, in
                // place or packed by then) and each whole strip packs that strip as
                // it reads it (`micro.pack_b`), so B needs no pass of its own: only
                // a ragged last strip is packed here. The lane's other tiles wait
                // for that first item (`par_phases`).
                let fuse = fuse_b && mc >= mr;
                let whole = nc / nr;
                let b_strips = |l: usize| {
                    let lane = part(strips, lanes, l);
                    if fuse {
                        lane.start.max(whole)..lane.end.max(whole)
                    } else {
                        lane
                    }
                };
                let b_items = |l: usize| if b_strips(l).is_empty() { 0 } else { chunks };
                let packs = |l: usize| a_items(l) + b_items(l);
                let pack = |l: usize, j: usize| {
                    if j < a_items(l) {
                        let (p0, cols) = chunk(j);
                        let lane = part(a_packs, lanes, l);
                        let (ir, end) = ((a_first + lane.start) * mr, ((a_first + lane.end) * mr).min(mc));
                        let src = ctx.p.a.wrapping_add((ic + ir) * ctx.p.rsa + (pc + p0) * ctx.p.csa);
                        let dst = unsafe { ctx.bufs.a.add(a_slot(a_first + lane.start) + p0 * mr) };
                        unsafe { (kern.pack_lhs)(end - ir, cols, src, ctx.p.rsa, ctx.p.csa, dst, kc * mr) };
                    } else {
                        let (p0, rows) = chunk(j - a_items(l));
                        let lane = b_strips(l);
                        let (jr, end) = (lane.start * nr, (lane.end * nr).min(nc));
                        let src = ctx.p.b.wrapping_add((pc + p0) * ctx.p.rsb + (jc + jr) * ctx.p.csb);
                        let dst = unsafe { ctx.bufs.b.add(lane.start * kc * nr + p0 * nr) };
                        unsafe { (kern.pack_rhs)(rows, end - jr, src, ctx.p.rsb, ctx.p.csb, dst, kc * nr) };
                    }
                };
                // B's next block in the loop order (the first again after the
                // last, for the next A block; none after the call's last block),
                // fetched into L2 while this one is computed, where B is
                // row-major, so that its packing reads it from the caches, not
                // from memory (each row of a wide B starts a page, which the
                // hardware prefetchers do not cross). Each lane fetches the part
                // of it that it will pack: its `t`-th micro-kernel call (counted
                // panel by panel over the lane's strips) fetches the `t`-th line
                // of every row of that part, and calls past the part's width fetch
                // their own strip, which is there already. One thread, in-process
                // paired over 15-21 rounds: 32x4096x4096 1.05-1.13, 64x4096x4096
                // 1.07, square 512-2049 0.99-1.01.
                let far = if jc + nc < n {
                    Some((pc, jc + nc))
                } else if pc + kc < k {
                    Some((pc + kc, 0))
                } else if ic + mc < m {
                    Some((0, 0))
                } else {
                    None
                };
                let far = far.filter(|_| ctx.p.csb == 1);
                // Lane `l`'s part of the next block: its first line and its width
                // in lines (zero where the lane has none).
                let far_lane = |l: usize| {
                    let Some((far_pc, far_jc)) = far else {
                        return (ctx.p.b, 0);
                    };
                    let far_nc = blk.nc.min(n - far_jc);
                    let far_strips = far_nc.div_ceil(nr);
                    let far_lanes = lanes_for(threads, far_strips);
                    if l >= far_lanes {
                        return (ctx.p.b, 0);
                    }
                    let cols = part(far_strips, far_lanes, l);
                    let (j0, j1) = (cols.start * nr, (cols.end * nr).min(far_nc));
                    let first = ctx.p.b.wrapping_add(far_pc * ctx.p.rsb + far_jc + j0);
                    (first, ((j1 - j0) * size_of::<T>()).div_ceil(LINE))
                };
                let compute = |l: usize, pi: usize, worker: usize| {
                    let (ir, h) = (pi * mr, mr.min(mc - pi * mr));
                    // A's panel in place (rows at their stride) or packed (columns of
                    // MR), with the micro-kernel instances for each.
                    let (ap, rs_ap, cs_ap, micro) = if pi < a_first {
                        let ap = ctx.p.a.wrapping_add((ic + ir) * ctx.p.rsa + pc);
                        (ap, ctx.p.rsa, 1, &kern.in_place)
                    } else {
                        let ap = unsafe { ctx.bufs.a.add(a_slot(pi)) }.cast_const();
                        (ap, 1, mr, &kern.packed)
                    };
                    let tile = unsafe { ctx.bufs.tiles.add(worker * ctx.bufs.tile_len) };
                    let lane = part(strips, lanes, l);
                    let (far_first, far_lines) = far_lane(l);
                    for sj in lane.clone() {
                        let (jr, w) = (sj * nr, nr.min(nc - sj * nr));
                        let bp = unsafe { ctx.bufs.b.add(sj * kc * nr) };
                        let t = pi * lane.len() + sj - lane.start;
                        let (far, far_ld) = if t < far_lines {
                            (far_first.wrapping_add(t * LINE / size_of::<T>()).cast_mut(), ctx.p.rsb)
                        } else {
                            (bp, nr)
                        };
                        let cij = ctx.p.c.wrapping_add((ic + ir) * ctx.p.rsc + (jc + jr) * ctx.p.csc);
                        let (alpha, rsc, csc) = (ctx.p.alpha, ctx.p.rsc, ctx.p.csc);
                        if fuse && pi == 0 && w == nr {
                            let src = ctx.p.b.wrapping_add(pc * ctx.p.rsb + jc + jr);
                            let dst = unsafe { ctx.bufs.b.add(sj * kc * nr) };
                            unsafe { (micro.pack_b)(kc, alpha, ap, rs_ap, cs_ap, src, ctx.p.rsb, dst, beta, cij, rsc) };
                        } else if unit_cols && h == mr && w == nr {
                            unsafe { (micro.full)(kc, alpha, ap, rs_ap, cs_ap, bp, far_ld, far, beta, cij, rsc) };
                        } else {
                            let edge = micro.for_edge(h, w, ctx.shape.lanes);
                            unsafe { edge(kc, T::ONE, ap, rs_ap, cs_ap, bp, far_ld, far, T::ZERO, tile, nr) };
                            unsafe { apply_tile(&kern, h, w, alpha, tile, nr, beta, cij, rsc, csc) };
                        }
                    }
                };
                par_phases(threads, pool, lanes, packs, pack, panels, fuse, compute);
            }
        }
    }
}
