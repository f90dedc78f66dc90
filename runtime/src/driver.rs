//! The driver: executes a [`Plan`], and holds the five loops of the blocked
//! path.
//!
//! The BLIS structure (Van Zee and van de Geijn): five loops around a register
//! micro-kernel. Only packing, the micro-kernel and the output step are generated
//! per target; the loops, edge handling and the API are plain Rust, written once,
//! and fetch the target's table once per call.
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
//! stride) go through a packed tile and the output kernel, computed by the
//! instance the plan chose for that edge ([`crate::Edges`]). Where the plan says
//! so, C's last few columns skip the loops and are computed by dot products
//! after them (`dot_edge`), B is packed by the first tile of each strip instead
//! of a pass of its own, and the micro-kernels fetch B's next block into L2 as
//! they compute this one.
//!
//! Threads are an adapter around each block (`par_phases`): B's block is one
//! lane per worker; each worker packs its lane's strips and multiplies them by
//! every A panel, claiming items from its lane's counter first and then from the
//! others'. Each tile of C is computed by one thread with the same operations
//! as on one thread, so results are bit-identical for any thread count.

use crate::edge::dot_edge;
use crate::family::{Family, Kernels};
use crate::gemv::gemv;
use crate::generated::{Shape, Target};
use crate::output::scale;
use crate::parallel::{par_phases, part};
use crate::plan::{Blocked, Front, Path, Plan, Tile, front, oriented, rest, tuning};
use crate::problem::Problem;
use crate::scratch::with_scratch;
use crate::small::{small, small_par};

/// Plans and runs one call. The plan's front and the small path are inlined
/// into the API calls, so a tiny product runs from values in registers; only a
/// product the front leaves to the rest asks `workers` for its threads and pool
/// (the calling thread always works; without a pool, the rayon pool the caller
/// is in helps) and is planned and run out of line.
///
/// # Safety
/// As [`crate::gemm_raw`].
#[inline(always)]
pub(crate) unsafe fn drive<'a, F: Family>(
    target: &Target,
    p: &Problem<F>,
    workers: impl FnOnce() -> (usize, Option<&'a rayon::ThreadPool>),
) {
    let (tuning, kern) = (tuning(target), F::kernels(target));
    let p = &p.normalized();
    match front(&tuning, &kern, p) {
        Front::Empty => {}
        Front::Scale => unsafe { scale(p) },
        // Two call sites rather than one on a problem swapped by conditional
        // moves, which went through the stack. (`front` plans the small path
        // only for a family that has one, transposed only where it can be.)
        Front::Small { transposed: false } => {
            if let Some(set) = kern.small {
                unsafe { small(&set, p) }
            }
        }
        Front::Small { transposed: true } => {
            if let (Some(set), Some(q)) = (kern.small, F::transposed(p)) {
                unsafe { small(&set, &q) }
            }
        }
        // (Not worth a thread: no need to ask for them.)
        Front::Gemv => unsafe { drive_rest(target, p, 1, None) },
        Front::Rest => {
            let (threads, pool) = workers();
            unsafe { drive_rest(target, p, threads, pool) }
        }
    }
}

/// The rest of the plan and its execution, out of line. It reads the tuning
/// and binds the kernels again rather than take the front's: passing them by
/// reference puts them in memory on every call, tiny ones included
/// (BENCHMARKS.md, "inline front"), where the front keeps only what it uses in
/// registers.
#[inline(never)]
unsafe fn drive_rest<F: Family>(target: &Target, p: &Problem<F>, threads: usize, pool: Option<&rayon::ThreadPool>) {
    let kern = F::kernels(target);
    let plan = rest(target, &tuning(target), &kern, p, threads);
    unsafe { execute(target, &kern, &plan, p, pool) }
}

/// Runs `plan`, made for `p`, on its threads (spawned into `pool`, or the
/// rayon pool the caller is in).
///
/// # Safety
/// As [`crate::gemm_raw`]; `plan` was made for `p` on this target.
unsafe fn execute<F: Family>(
    target: &Target,
    kern: &Kernels<F>,
    plan: &Plan,
    p: &Problem<F>,
    pool: Option<&rayon::ThreadPool>,
) {
    let q = oriented(p, plan.transposed);
    match plan.path {
        Path::Empty => {}
        Path::Scale => unsafe { scale(&q) },
        Path::Small {
            threads, rows_per_item, ..
        } => {
            if let Some(set) = &kern.small {
                unsafe { small_par(set, threads, rows_per_item, pool, q) }
            }
        }
        Path::Blocked(b) => unsafe { blocked(target, *kern, &b, q, pool) },
        Path::Gemv(g) => {
            // (The GEMV applies the epilogue to each range of y it finishes.)
            if let Some(set) = &kern.gemv {
                unsafe { gemv(set, &g, q, pool) };
            }
        }
    }
}

/// The blocked path: scratch for the plan's blocks, then the five loops over
/// all but the dot-product edge's columns, then that edge.
unsafe fn blocked<F: Family>(
    target: &Target,
    kern: Kernels<F>,
    plan: &Blocked,
    p: Problem<F>,
    pool: Option<&rayon::ThreadPool>,
) {
    let shape = F::shape(target);
    let (mr, nr, blk, threads) = (shape.mr, shape.nr, plan.blocks, plan.threads);
    let edge = plan.dot_edge;
    let (full, p) = (p, Problem { n: p.n - edge, ..p });
    // Room for the packed A block, or for one ragged panel when A is read in
    // place; the packed B block; one edge tile per worker; and the edge columns
    // of a B that is not column-major, copied contiguous along k. Each region
    // starts on a 64-byte boundary.
    let a_rows = if plan.a_in_place { mr } else { blk.mc };
    let tile_len = (mr * nr).div_ceil(16) * 16;
    let bt_len = if edge > 0 && full.b.rs != 1 { edge * full.k } else { 0 };
    let region = |elems: usize, size: usize| (elems * size).div_ceil(64) * 64;
    let kp = F::packed_depth(blk.kc);
    let a_bytes = region(a_rows * kp, size_of::<F::PackedA>());
    let b_bytes = if p.packed.is_some() {
        0
    } else {
        region(kp * blk.nc, size_of::<F::PackedB>())
    };
    let tiles_bytes = region(threads * tile_len, size_of::<F::C>());
    let bt_bytes = region(bt_len, size_of::<F::B>());
    let sums = |len: usize| if F::SUMS { region(len, size_of::<i32>()) } else { 0 };
    let (a_sums_bytes, b_sums_bytes) = (sums(blk.mc), sums(blk.nc));
    let total = a_bytes + b_bytes + tiles_bytes + bt_bytes + a_sums_bytes + b_sums_bytes;
    with_scratch(total, |buf| {
        // SAFETY: the regions above, in order, within the scratch.
        let at = |offset: usize| unsafe { buf.add(offset) };
        let bufs = Buffers {
            a: at(0).cast(),
            b: at(a_bytes).cast(),
            tiles: at(a_bytes + b_bytes).cast(),
            tile_len,
            bt: at(a_bytes + b_bytes + tiles_bytes).cast(),
            a_sums: at(a_bytes + b_bytes + tiles_bytes + bt_bytes).cast(),
            b_sums: at(a_bytes + b_bytes + tiles_bytes + bt_bytes + a_sums_bytes).cast(),
        };
        let ctx = Ctx {
            kern,
            shape,
            plan: *plan,
            p,
            bufs,
        };
        if p.n > 0 {
            unsafe { five_loops(&ctx, pool) };
        }
        // (The plan leaves no dot edge to a family without one.)
        if let (true, Some(set)) = (edge > 0, ctx.kern.dot) {
            let ctx = Ctx { p: full, ..ctx };
            unsafe { dot_edge(&ctx, &set, edge, pool) };
        }
    });
}

/// The packing buffers of one call (shared by its workers) and the per-worker
/// edge tiles.
#[derive(Clone, Copy)]
pub(crate) struct Buffers<F: Family> {
    pub(crate) a: *mut F::PackedA,
    pub(crate) b: *mut F::PackedB,
    pub(crate) tiles: *mut F::C,
    pub(crate) tile_len: usize,
    /// The sums of the packed block's rows of A and columns of B (where the
    /// family's packers leave them, [`Family::SUMS`]), by row / column in the block.
    pub(crate) a_sums: *mut i32,
    pub(crate) b_sums: *mut i32,
    /// The dot-product edge's columns of B, contiguous along k (see `dot_edge`).
    pub(crate) bt: *mut F::B,
}

/// Everything the loops share. Raw pointers into A, B, C and the buffers: the
/// workers write disjoint tiles of C and disjoint parts of the buffers.
pub(crate) struct Ctx<F: Family> {
    pub(crate) kern: Kernels<F>,
    /// The tile: an edge strip takes the instance of its count of vectors
    /// (`lanes` columns each).
    pub(crate) shape: Shape,
    pub(crate) plan: Blocked,
    pub(crate) p: Problem<F>,
    pub(crate) bufs: Buffers<F>,
}

// SAFETY: the pointers are only dereferenced inside `five_loops`, where each work
// item touches its own part of C and of the packing buffers, and the phases are
// ordered: packing finishes (Release) before any compute item starts (Acquire),
// and each scope ends before the next block reuses the buffers.
unsafe impl<F: Family> Sync for Ctx<F> {}

/// Bytes in a cache line (the unit of the micro-kernels' fetch of B's next block).
const LINE: usize = 64;

/// The five loops. Each `(ic, pc, jc)` block is one fork-join on the plan's
/// threads (`par_phases`, the threading adapter): its pack items, then one
/// compute item per panel of A (loop 2), which runs loop 1 over a lane's
/// strips of B. Lane `l` owns a part of B's strips, which it packs (with a
/// share of the A panels to pack, once per pc, with the first jc block) and
/// then multiplies by every A panel: a worker's strips stay near its core
/// while A streams from the shared L3, and each A panel stays in L1 across
/// the strips.
unsafe fn five_loops<F: Family>(ctx: &Ctx<F>, pool: Option<&rayon::ThreadPool>) {
    let (p, blk) = (&ctx.p, ctx.plan.blocks);
    // Loop 5 (ic): blocks of MC rows of A and C.
    for ic in (0..p.m).step_by(blk.mc) {
        // Loop 4 (pc): blocks of KC of the depth; beta applies on the first only.
        for pc in (0..p.k).step_by(blk.kc) {
            // Loop 3 (jc): blocks of NC columns of B and C, packed and shared.
            for jc in (0..p.n).step_by(blk.nc) {
                let b = Block::new(ctx, ic, pc, jc);
                par_phases(
                    ctx.plan.threads,
                    pool,
                    b.lanes,
                    |l| b.pack_items(l),
                    |l, j| unsafe { b.pack(l, j) },
                    b.panels,
                    b.fuse,
                    // Loop 2 (ir): panel `pi` of A, by loop 1 over lane `l`'s strips.
                    |l, pi, worker| unsafe { F::panel(&b, l, pi, worker) },
                );
            }
        }
    }
}

/// One `(ic, pc, jc)` block of the five loops: its sizes, how it splits into
/// lanes and pack items, and what its micro-kernel calls fetch for the next.
pub struct Block<'c, F: Family> {
    pub(crate) ctx: &'c Ctx<F>,
    pub(crate) ic: usize,
    pub(crate) pc: usize,
    pub(crate) jc: usize,
    pub(crate) mc: usize,
    pub(crate) kc: usize,
    /// `kc` as packed: rounded up to the family's depth groups.
    pub(crate) kp: usize,
    pub(crate) nc: usize,
    pub(crate) beta: F::Scalar,
    pub(crate) panels: usize,
    pub(crate) strips: usize,
    pub(crate) lanes: usize,
    /// The first panel of A that is packed: all, or with A read in place only
    /// a ragged last one (in the buffer's first slot).
    pub(crate) a_first: usize,
    /// The A panels packed in this block (with the first jc block only).
    pub(crate) a_packs: usize,
    /// Pack items per lane's share of A or B: chunks of `pack_chunk` columns
    /// of A or rows of B, so each read is as long as the lane's share.
    pub(crate) chunks: usize,
    /// The tile of the first (whole) panel of A and each whole strip packs that
    /// strip as it reads it; only a ragged last strip is packed by a pack item,
    /// and the lane's other tiles wait for that first item (`par_phases`).
    pub(crate) fuse: bool,
    /// B's next block in the loop order (the first again after the last, for
    /// the next A block; none after the call's last block), fetched into L2
    /// while this one is computed, so that its packing reads it from the
    /// caches, not from memory (each row of a wide B starts a page, which the
    /// hardware prefetchers do not cross).
    pub(crate) next: Option<(usize, usize)>,
}

impl<'c, F: Family> Block<'c, F> {
    fn new(ctx: &'c Ctx<F>, ic: usize, pc: usize, jc: usize) -> Self {
        let (p, plan, blk, mr, nr) = (&ctx.p, &ctx.plan, ctx.plan.blocks, ctx.shape.mr, ctx.shape.nr);
        let (mc, kc, nc) = (blk.mc.min(p.m - ic), blk.kc.min(p.k - pc), blk.nc.min(p.n - jc));
        let (panels, strips) = (mc.div_ceil(mr), nc.div_ceil(nr));
        let a_first = if plan.a_in_place { mc / mr } else { 0 };
        let next = if jc + nc < p.n {
            Some((pc, jc + nc))
        } else if pc + kc < p.k {
            Some((pc + kc, 0))
        } else if ic + mc < p.m {
            Some((0, 0))
        } else {
            None
        };
        let kp = F::packed_depth(kc);
        Block {
            ctx,
            ic,
            pc,
            jc,
            mc,
            kc,
            kp,
            nc,
            beta: if pc == 0 { p.beta } else { F::ONE },
            panels,
            strips,
            lanes: plan.lanes.min(strips),
            a_first,
            a_packs: if jc == 0 { panels - a_first } else { 0 },
            chunks: kc.div_ceil(plan.pack_chunk),
            fuse: plan.pack_b_in_first_tiles && mc >= mr,
            next: next.filter(|_| plan.fetch_next_b),
        }
    }

    /// Where panel `pi` of A is packed (and its rows' sums are, divided by
    /// the packed depth).
    pub(crate) fn a_slot(&self, pi: usize) -> usize {
        (pi - self.a_first) * self.kp * self.ctx.shape.mr
    }

    /// The block's first packed strip: in the call's buffer, or in a B
    /// packed ahead of the call (whose strips the block only reads).
    fn b_base(&self) -> *mut F::PackedB {
        match self.ctx.p.packed {
            // Block `pc / kc` of the packed B, from its strip holding column
            // `jc` (blocks of k start `block` apart, strips `kp * NR`).
            Some(b) => b
                .data
                .wrapping_add(self.pc / b.kc * b.block + self.jc * self.kp)
                .cast_mut(),
            None => self.ctx.bufs.b,
        }
    }

    /// Chunk `c` of the depth: its first column of A (row of B) and length.
    fn chunk(&self, c: usize) -> (usize, usize) {
        let size = self.ctx.plan.pack_chunk;
        (c * size, size.min(self.kc - c * size))
    }

    fn a_items(&self, l: usize) -> usize {
        if part(self.a_packs, self.lanes, l).is_empty() {
            0
        } else {
            self.chunks
        }
    }

    /// The strips of B lane `l` packs in pack items.
    fn b_strips(&self, l: usize) -> std::ops::Range<usize> {
        let lane = part(self.strips, self.lanes, l);
        let whole = self.nc / self.ctx.shape.nr;
        if self.fuse {
            lane.start.max(whole)..lane.end.max(whole)
        } else {
            lane
        }
    }

    fn pack_items(&self, l: usize) -> usize {
        // (A B packed ahead is packed; only its sums' terms are left, where
        // the family has sums.)
        let b = if self.b_strips(l).is_empty() || (self.ctx.p.packed.is_some() && !F::SUMS) {
            0
        } else {
            self.chunks
        };
        self.a_items(l) + b
    }

    /// Pack item `j` of lane `l`: a chunk of its panels of A, then of its strips of B.
    unsafe fn pack(&self, l: usize, j: usize) {
        let (ctx, p, kp) = (self.ctx, &self.ctx.p, self.kp);
        let (mr, nr) = (ctx.shape.mr, ctx.shape.nr);
        if j < self.a_items(l) {
            let (p0, cols) = self.chunk(j);
            let lane = part(self.a_packs, self.lanes, l);
            let (ir, end) = (
                (self.a_first + lane.start) * mr,
                ((self.a_first + lane.end) * mr).min(self.mc),
            );
            // (Column `p0` of a panel: along its rows, or `p0` columns of MR.)
            let at = if F::A_ROWS { p0 } else { p0 * mr };
            let dst = unsafe { ctx.bufs.a.add(self.a_slot(self.a_first + lane.start) + at) };
            let src = p.a.at(self.ic + ir, self.pc + p0);
            let sums = unsafe { ctx.bufs.a_sums.add(ir) };
            let origin = (self.ic + ir, self.pc + p0);
            unsafe { F::pack_a(&ctx.kern, p, end - ir, cols, src, origin, dst, kp * mr, sums) };
        } else {
            let (p0, rows) = self.chunk(j - self.a_items(l));
            let lane = self.b_strips(l);
            let (jr, end) = (lane.start * nr, (lane.end * nr).min(self.nc));
            let sums = unsafe { ctx.bufs.b_sums.add(jr) };
            let origin = (self.pc + p0, self.jc + jr);
            match p.packed {
                // Packed ahead: only its column sums, for this call's terms.
                Some(b) => unsafe {
                    let from = b.sums.add(self.pc / b.kc * b.width + self.jc + jr);
                    std::ptr::copy_nonoverlapping(from, sums, end - jr)
                },
                None => {
                    let dst = unsafe { ctx.bufs.b.add(lane.start * kp * nr + p0 * nr) };
                    let src = p.b.at(self.pc + p0, self.jc + jr);
                    unsafe { F::pack_b(&ctx.kern, p, rows, end - jr, src, origin, dst, kp * nr, sums) };
                }
            }
            if F::SUMS {
                unsafe { F::b_terms(p, end - jr, origin, sums) };
            }
        }
    }

    /// What lane `l`'s micro-kernel calls fetch of the next block of B (its
    /// `t`-th call, counted panel by panel over its strips, fetches from
    /// `first + t * step` bytes on, one line per step of k, `ld` elements
    /// apart; calls past `calls` fetch their own strip, which is there
    /// already). A B read in place: call `t` fetches the `t`-th line of every
    /// row of the lane's part of the next block (each row of a wide B starts a
    /// page, which the hardware prefetchers do not cross). A B packed ahead:
    /// the lane's strips of the next block are contiguous, and each call
    /// fetches the next lines of them, one per step of k.
    fn next_lane(&self, l: usize) -> Fetch {
        let (p, nr) = (&self.ctx.p, self.ctx.shape.nr);
        let none = Fetch {
            first: p.b.ptr.cast(),
            calls: 0,
            step: 0,
            ld: 0,
        };
        let Some((next_pc, next_jc)) = self.next else {
            return none;
        };
        let next_nc = self.ctx.plan.blocks.nc.min(p.n - next_jc);
        let next_strips = next_nc.div_ceil(nr);
        let next_lanes = self.ctx.plan.lanes.min(next_strips);
        if l >= next_lanes {
            return none;
        }
        let cols = part(next_strips, next_lanes, l);
        let (j0, j1) = (cols.start * nr, (cols.end * nr).min(next_nc));
        match p.packed {
            Some(b) => {
                let kp = F::packed_depth(self.ctx.plan.blocks.kc.min(p.k - next_pc));
                let first = b.data.wrapping_add(next_pc / b.kc * b.block + (next_jc + j0) * kp);
                let bytes = cols.len() * kp * nr * size_of::<F::PackedB>();
                let step = self.kc * LINE;
                Fetch {
                    first: first.cast(),
                    calls: bytes.div_ceil(step),
                    step,
                    ld: LINE / size_of::<F::PackedB>(),
                }
            }
            None => Fetch {
                first: p.b.at(next_pc, next_jc + j0).cast(),
                calls: ((j1 - j0) * size_of::<F::B>()).div_ceil(LINE),
                step: LINE,
                ld: p.b.rs,
            },
        }
    }

    /// Loop 1 (jr): the strips of lane `l` against panel `pi` of A, each tile
    /// handed to `tile` (the family's, see [`Family::panel`]) with where it is
    /// and what its micro-kernel call fetches for the next block; on the last
    /// block of k, the problem's epilogue follows each tile (in L1 then).
    #[inline(always)]
    pub(crate) unsafe fn strips(&self, l: usize, pi: usize, worker: usize, mut tile: impl FnMut(&Strip<F>)) {
        let (ctx, p, plan, kp) = (self.ctx, &self.ctx.p, &self.ctx.plan, self.kp);
        let (mr, nr) = (ctx.shape.mr, ctx.shape.nr);
        let (ir, h) = (pi * mr, mr.min(self.mc - pi * mr));
        let tile_buf = unsafe { ctx.bufs.tiles.add(worker * ctx.bufs.tile_len) };
        let lane = part(self.strips, self.lanes, l);
        let next = self.next_lane(l);
        let b_base = self.b_base();
        // The epilogue goes with the last block of k, once per tile.
        let epi = p.epi.filter(|_| self.pc + self.kc == p.k);
        for sj in lane.clone() {
            let (jr, w) = (sj * nr, nr.min(self.nc - sj * nr));
            let bp = b_base.wrapping_add(sj * kp * nr);
            let t = pi * lane.len() + sj - lane.start;
            let (far, far_ld) = if t < next.calls {
                (next.first.wrapping_add(t * next.step).cast_mut().cast(), next.ld)
            } else {
                (bp, nr)
            };
            // An edge tile takes the plan's instance for its edge (the whole
            // tile's too, where no narrower one covers it).
            let (whole, kind) = match (h == mr, w == nr) {
                (true, true) => (true, Tile::Full),
                (true, false) => (false, plan.edges.right),
                (false, true) => (false, plan.edges.bottom),
                (false, false) => (false, plan.edges.corner),
            };
            let c = p.c.at(self.ic + ir, self.jc + jr);
            tile(&Strip {
                jr,
                h,
                w,
                bp,
                far,
                far_ld,
                c,
                whole,
                kind,
                tile: tile_buf,
            });
            if let Some(e) = &epi {
                // SAFETY: the tile is in C, which this worker alone writes.
                unsafe { e.apply(h, w, c, p.c.rs, p.c.cs, self.ic + ir, self.jc + jr) };
            }
        }
    }
}

/// What a lane's micro-kernel calls fetch of the next block (see
/// [`Block::next_lane`]).
struct Fetch {
    first: *const u8,
    calls: usize,
    /// Bytes from one call's first line to the next call's.
    step: usize,
    /// Elements (of the micro-kernel's B) from one step of k's line to the next.
    ld: usize,
}

/// One tile of loop 1, as [`Block::strips`] hands it to the family: `h` rows
/// of the panel and columns `jr .. jr + w` of the block.
pub struct Strip<F: Family> {
    pub(crate) jr: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    /// The packed strip of B.
    pub(crate) bp: *mut F::PackedB,
    /// What the micro-kernel fetches for later, line `p` at `far + p * far_ld`.
    pub(crate) far: *mut F::PackedB,
    pub(crate) far_ld: usize,
    /// The tile's first element of C.
    pub(crate) c: *mut F::C,
    /// Whether the tile is whole (`MR x NR`).
    pub(crate) whole: bool,
    /// The plan's instance for it.
    pub(crate) kind: Tile,
    /// The worker's packed edge tile.
    pub(crate) tile: *mut F::C,
}
