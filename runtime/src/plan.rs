//! The plan of a GEMM call: every decision the call makes, made once from the
//! problem, the target, the thread count and the [`Tuning`], then executed by
//! the driver without deciding anything again.
//!
//! The figures behind each threshold and choice are in BENCHMARKS.md, section
//! "Why the code decides as it does", under the name a comment quotes; the
//! comments here give the reasons.

use crate::blocking::{Blocking, CacheSizes};
use crate::error::GemmError;
use crate::family::{Family, Kernels, Micro};
use crate::generated::{Shape, Target, Tuning};
use crate::problem::Problem;
use std::sync::atomic::{AtomicPtr, Ordering};

/// `Ok` where the override `t` is usable: `pack_chunk` at least 1, `max_lanes`
/// between 1 and [`Tuning::MAX_LANES`], `l2_percent_for_b` between 1 and 100,
/// `gemv_k_part` at least 1.
fn check_tuning(t: &Tuning) -> Result<(), GemmError> {
    let bad = |field| Err(GemmError::InvalidTuning { field });
    if t.pack_chunk == 0 {
        return bad("pack_chunk");
    }
    if !(1..=Tuning::MAX_LANES).contains(&t.max_lanes) {
        return bad("max_lanes");
    }
    if !(1..=100).contains(&t.l2_percent_for_b) {
        return bad("l2_percent_for_b");
    }
    if t.gemv_k_part == 0 {
        return bad("gemv_k_part");
    }
    Ok(())
}

/// The override [`set_tuning`] installed, or null. Each installed value is
/// leaked: a call may still be reading the one before, and an atomic pointer
/// keeps the read on every call to one load.
static OVERRIDE: AtomicPtr<Tuning> = AtomicPtr::new(std::ptr::null_mut());

/// The thresholds the calls on `target` use: the override if one is set, else
/// the target's own.
///
/// ```
/// let t = gemmkit::tuning(gemmkit::best()); // the target's own, unless `set_tuning` overrode it
/// println!("small path up to {}, pack chunk {}", t.small, t.pack_chunk);
/// ```
#[inline(always)]
pub fn tuning(target: &Target) -> Tuning {
    // SAFETY: a non-null pointer is a leaked, never-freed `Tuning`.
    match unsafe { OVERRIDE.load(Ordering::Acquire).as_ref() } {
        Some(t) => *t,
        None => Tuning::of(target),
    }
}

/// Overrides the thresholds of every later GEMM call on every target (`None`
/// returns each to its own). `pack_chunk` must be at least 1, `max_lanes`
/// between 1 and [`Tuning::MAX_LANES`], `l2_percent_for_b` between 1 and
/// 100 and `gemv_k_part` at least 1. Results stay bit-identical for any
/// thread count whatever the tuning; they may change with the thresholds that
/// change the path or the blocks of k (`small`, whose path sums in another
/// order, `l2_percent_for_b`, `skinny_rows`, `skinny_kc`, and the GEMV's
/// split of k, `gemv_split_n` and `gemv_k_part`) and with the bf16 form (`bf16_widen`,
/// `bf16_widen_packed`: the same order within a block of k, but other
/// blocks).
///
/// ```
/// let target = gemmkit::best();
/// let mut t = gemmkit::tuning(target);
/// t.small = 64; // pack everything with a dimension over 64
/// gemmkit::set_tuning(Some(t))?;
/// assert_eq!(gemmkit::tuning(target).small, 64);
/// gemmkit::set_tuning(None)?; // back to the target's own
/// assert_eq!(gemmkit::tuning(target), gemmkit::Tuning::of(target));
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn set_tuning(tuning: Option<Tuning>) -> Result<(), GemmError> {
    let new = match tuning {
        Some(t) => {
            check_tuning(&t)?;
            Box::into_raw(Box::new(t))
        }
        None => std::ptr::null_mut(),
    };
    OVERRIDE.store(new, Ordering::Release);
    Ok(())
}

/// Every decision of one GEMM call. Build one with [`plan`] and print it to
/// see why a shape takes its path:
///
/// ```
/// use gemmkit::{MatMut, MatRef, Parallelism, Path};
/// let (a, b, mut c) = (vec![0.0f32; 300 * 200], vec![0.0f32; 200 * 100], vec![0.0f32; 300 * 100]);
/// let plan = gemmkit::plan(
///     gemmkit::best(),
///     &Parallelism::Sequential,
///     MatRef::row_major(&a, 300, 200),
///     MatRef::row_major(&b, 200, 100),
///     &MatMut::row_major(&mut c, 300, 100),
/// )?;
/// println!("{plan:#?}");
/// assert!(matches!(plan.path, Path::Blocked(_)));
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Whether the product is computed as `Cᵀ = Bᵀ Aᵀ`, so that C's unit stride
    /// runs along the rows the kernels write.
    pub transposed: bool,
    /// The dimensions of the product as computed (swapped when transposed).
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// How it is computed.
    pub path: Path,
}

/// The ways a product is computed.
///
/// ```
/// use gemmkit::{MatMut, MatRef, Parallelism, Path};
/// let (a, b, mut c) = ([1.0f64; 4], [1.0f64; 4], [0.0f64; 4]);
/// let (av, bv) = (MatRef::row_major(&a, 2, 2), MatRef::row_major(&b, 2, 2));
/// let small = gemmkit::plan(gemmkit::best(), &Parallelism::Sequential, av, bv, &MatMut::row_major(&mut c, 2, 2))?;
/// assert!(matches!(small.path, Path::Small { threads: 1, .. }));
/// let empty = gemmkit::plan(gemmkit::best(), &Parallelism::Sequential, av.submatrix(0, 0, 0, 2)?, bv, &MatMut::row_major(&mut c, 0, 2))?;
/// assert_eq!(empty.path, Path::Empty);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// `m` or `n` is zero: nothing to compute.
    Empty,
    /// `alpha` or `k` is zero: `C = beta * C`, A and B not read.
    Scale,
    /// Every dimension within [`Tuning::small`], B and C with unit column
    /// stride: no packing (the `gemm_small` kernels).
    Small {
        /// A is column-major: the `_t` instances, which read its rows at
        /// constant offsets.
        a_columns: bool,
        /// Workers sharing the rows (1: the calling thread alone).
        threads: usize,
        /// Rows per work item: the tallest instance's.
        rows_per_item: usize,
    },
    /// The five loops around the micro-kernel.
    Blocked(Blocked),
    /// A matrix-vector product (`m == 1`, `n == 1` as its transpose): the
    /// matrix streamed once, unpacked (the `gemv_*` kernels).
    Gemv(Gemv),
}

/// The decisions of the GEMV path, for `y = alpha * x W + beta * y` with x the
/// one row of A (`1 x k`), W = B (`k x n`) and y the one row of C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemv {
    /// How W is read.
    pub form: GemvForm,
    /// Workers sharing the items (1: the calling thread alone).
    pub threads: usize,
    /// Elements of y per work item.
    pub chunk: usize,
    /// Parts of k summed separately, then added in order (1: k is not split).
    /// Chosen from the shape alone, so results are bit-identical for any
    /// thread count.
    pub k_parts: usize,
    /// Elements of k in each part but the last ([`Tuning::gemv_k_part`]).
    pub k_part: usize,
}

/// The two ways the GEMV kernels read W.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemvForm {
    /// W has unit stride along `n`: rows of W scaled by elements of x and
    /// added into y (`gemv_axpy`).
    Axpy,
    /// W has unit stride along `k`: each element of y is a dot product of a
    /// column of W with x (`gemv_dot`), as for PyTorch's `Linear` weight.
    Dot,
}

/// The decisions of the blocked path.
///
/// ```
/// use gemmkit::{MatMut, MatRef, Parallelism, Path};
/// let (a, b, mut c) = (vec![0.0f32; 500 * 400], vec![0.0f32; 400 * 300], vec![0.0f32; 500 * 300]);
/// let plan = gemmkit::plan(
///     gemmkit::best(),
///     &Parallelism::Sequential,
///     MatRef::row_major(&a, 500, 400),
///     MatRef::row_major(&b, 400, 300),
///     &MatMut::row_major(&mut c, 500, 300),
/// )?;
/// let Path::Blocked(blocked) = plan.path else { panic!("{plan:#?}") };
/// assert_eq!(blocked.threads, 1); // Sequential
/// assert!(blocked.blocks.kc >= 1 && blocked.lanes >= 1);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// Workers sharing each block (1: the calling thread alone).
    pub threads: usize,
    /// Balanced block sizes: no dimension ends in a sliver.
    pub blocks: Blocking,
    /// Lanes of a block as wide as `blocks.nc` (fewer where a block has fewer
    /// strips): each worker's part of B's block.
    pub lanes: usize,
    /// Full panels of a row-major A are read in place; others are packed.
    pub a_in_place: bool,
    /// The first tile of each whole strip packs it as it reads it (where the
    /// block's first panel of A is whole), instead of a packing pass over B.
    pub pack_b_in_first_tiles: bool,
    /// The micro-kernels fetch B's next block into L2 as they compute.
    pub fetch_next_b: bool,
    /// C's last columns computed by dot products along the whole of k rather
    /// than in a narrow strip (0: none).
    pub dot_edge: usize,
    /// Interior tiles are stored straight into C (unit column stride); else
    /// every tile goes through the packed tile and the output kernel.
    pub direct: bool,
    /// The micro-kernel instance of each kind of edge tile.
    pub edges: Edges,
    /// Rows of B (columns of A) per pack item.
    pub pack_chunk: usize,
}

/// The micro-kernel instance for the tiles at the edges of C: the last strip
/// of B (`right`, `n % NR` columns), the last panel of A (`bottom`, `m % MR`
/// rows) and their corner. Each computes only the vectors and rows there are.
///
/// ```
/// use gemmkit::{MatMut, MatRef, Parallelism, Path};
/// let (a, b, mut c) = (vec![0.0f32; 500 * 400], vec![0.0f32; 400 * 300], vec![0.0f32; 500 * 300]);
/// let plan = gemmkit::plan(
///     gemmkit::best(),
///     &Parallelism::Sequential,
///     MatRef::row_major(&a, 500, 400),
///     MatRef::row_major(&b, 400, 300),
///     &MatMut::row_major(&mut c, 500, 300),
/// )?;
/// let Path::Blocked(blocked) = plan.path else { panic!("{plan:#?}") };
/// println!("edge tiles: {:?}", blocked.edges);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edges {
    /// The tiles of the last strip of B (`n % NR` columns).
    pub right: Tile,
    /// The tiles of the last panel of A (`m % MR` rows).
    pub bottom: Tile,
    /// The tile in both.
    pub corner: Tile,
}

/// A micro-kernel instance of the tile set (see `base_microkernel`).
///
/// ```
/// use gemmkit::{MatMut, MatRef, Parallelism, Path, Tile};
/// // m and n multiples of every target's tile (lcm 192): no edges, every tile whole.
/// let (a, b, mut c) = (vec![0.0f32; 384 * 256], vec![0.0f32; 256 * 384], vec![0.0f32; 384 * 384]);
/// let plan = gemmkit::plan(
///     gemmkit::best(),
///     &Parallelism::Sequential,
///     MatRef::row_major(&a, 384, 256),
///     MatRef::row_major(&b, 256, 384),
///     &MatMut::row_major(&mut c, 384, 384),
/// )?;
/// let Path::Blocked(blocked) = plan.path else { panic!("{plan:#?}") };
/// assert_eq!(blocked.edges.corner, Tile::Full);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tile {
    /// The whole tile.
    Full,
    /// One vector of columns.
    Narrow,
    /// Two vectors of columns.
    Two,
    /// Three vectors of columns.
    Three,
    /// The first `MR / 2` rows.
    Short,
}

/// The plan for `C = alpha * A * B + beta * C` on these views with this
/// parallelism, checked as [`crate::gemm_with`] checks them. (The plan does not
/// depend on alpha and beta, except that a zero alpha only scales C: it is
/// planned with alpha 1.)
///
/// ```
/// use gemmkit::{MatMut, MatRef, Parallelism, Path};
/// let (a, b, mut c) = (vec![0.0f32; 500 * 400], vec![0.0f32; 400 * 300], vec![0.0f32; 500 * 300]);
/// let plan = gemmkit::plan(
///     gemmkit::best(),
///     &Parallelism::Sequential,
///     MatRef::row_major(&a, 500, 400),
///     MatRef::row_major(&b, 400, 300),
///     &MatMut::row_major(&mut c, 500, 300),
/// )?;
/// println!("{plan:#?}"); // the path, the blocks, the threads, the edge tiles
/// assert!(matches!(plan.path, Path::Blocked(_)));
/// assert_eq!((plan.m, plan.n, plan.k), if plan.transposed { (300, 500, 400) } else { (500, 300, 400) });
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn plan<T: crate::Element>(
    target: &Target,
    parallelism: &crate::Parallelism,
    a: crate::MatRef<'_, T>,
    b: crate::MatRef<'_, T>,
    c: &crate::MatMut<'_, T>,
) -> Result<Plan, GemmError> {
    crate::api::validate(&a, &b, c)?;
    // C's address is only compared and offset here, never written through.
    let p = crate::api::problem(T::ONE, &a, &b, T::ZERO, c.data.as_ptr().cast_mut(), c.rs, c.cs).normalized();
    let tuning = tuning(target);
    let as_given = |path| Plan {
        transposed: false,
        m: p.m,
        n: p.n,
        k: p.k,
        path,
    };
    let kern = T::kernels(target);
    Ok(match front(&tuning, &kern, &p) {
        Front::Empty => as_given(Path::Empty),
        Front::Scale => as_given(Path::Scale),
        // `rest` plans a small problem as `front` does, with the thread count.
        Front::Small { .. } | Front::Gemv | Front::Rest => rest(target, &tuning, &kern, &p, parallelism.workers().0),
    })
}

/// The cheap part of a plan, decided inline on every call: everything a tiny
/// product needs, without asking for threads or reading the caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Front {
    Empty,
    Scale,
    /// The small path on this thread, transposed or not.
    Small {
        transposed: bool,
    },
    /// A matrix-vector product too small to share between threads: the GEMV
    /// path on this thread, planned out of line (see [`rest`]).
    Gemv,
    /// Anything else: see [`rest`].
    Rest,
}

/// The front of the plan. Inlined into every call: a tiny product is decided
/// from values in registers.
#[inline(always)]
pub(crate) fn front<F: Family>(tuning: &Tuning, kern: &Kernels<F>, p: &Problem<F>) -> Front {
    if p.m == 0 || p.n == 0 {
        return Front::Empty;
    }
    if p.alpha == F::ZERO || p.k == 0 {
        return Front::Scale;
    }
    // A matrix-vector product takes the GEMV path, which streams the matrix
    // once and reads it in either storage order (the small kernel would read
    // a column-major one element at a time); threads where it is worth them.
    if (p.m == 1 || p.n == 1) && gemv_route(tuning, kern, p).is_some() {
        return if p.n.saturating_mul(p.m).saturating_mul(p.k) < tuning.small_split_volume {
            Front::Gemv
        } else {
            Front::Rest
        };
    }
    // Small problems big enough to split between threads are planned by `rest`,
    // out of line, with the thread count.
    if kern.small.is_some()
        && p.packed.is_none()
        && is_small(tuning, p)
        && p.m.saturating_mul(p.n).saturating_mul(p.k) < tuning.small_split_volume
    {
        match small_orientation(p) {
            Some(transposed) => return Front::Small { transposed },
            None => return Front::Rest,
        }
    }
    Front::Rest
}

/// Whether every dimension is within the small path's limit.
#[inline(always)]
fn is_small<F: Family>(tuning: &Tuning, p: &Problem<F>) -> bool {
    p.m <= tuning.small && p.n <= tuning.small && p.k <= tuning.small
}

/// The small kernel writes rows of C with unit column stride and reads rows of
/// B: a product has that form as given (`Some(false)`), as `Cᵀ = Bᵀ Aᵀ`
/// (`Some(true)`: C column-major, and A's columns are `Bᵀ`'s rows), or not at
/// all (`None`: the blocked path packs it). The transposed form needs a
/// family whose A and B are one type.
#[inline(always)]
fn small_orientation<F: Family>(p: &Problem<F>) -> Option<bool> {
    if p.c.cs == 1 && p.b.cs == 1 {
        Some(false)
    } else if p.c.rs == 1 && p.a.rs == 1 && F::transposed(p).is_some() {
        Some(true)
    } else {
        None
    }
}

/// The GEMV path's orientation and form for `p`, where the plan takes it:
/// a matrix-vector product the GEMV kernels read in place (see
/// [`gemv_orientation`]), except one row by a B read by rows as given into a
/// row of C with unit stride, up to [`Tuning::gemv_small`] multiply-adds, which
/// the small path computes inline.
#[inline(always)]
fn gemv_route<F: Family>(tuning: &Tuning, kern: &Kernels<F>, p: &Problem<F>) -> Option<(bool, GemvForm)> {
    // (A B packed ahead has no B to read in place: the loops take its strips.)
    if p.packed.is_some() {
        return None;
    }
    let route = kern.gemv.and(gemv_orientation(p))?;
    let small = kern.small.is_some()
        && route == (false, GemvForm::Axpy)
        && p.c.cs == 1
        && p.n.saturating_mul(p.k) <= tuning.gemv_small
        && is_small(tuning, p);
    (!small).then_some(route)
}

/// Whether a problem (normalized) is a matrix-vector product the GEMV path
/// reads in place, and how: as given (`m == 1`) or as `Cᵀ = Bᵀ Aᵀ` (`n == 1`),
/// with the form W's unit stride allows (the dot form where it has both, a
/// column of W being contiguous then). `None` where W has no unit stride (the
/// blocked path packs it) or the family cannot transpose.
#[inline(always)]
fn gemv_orientation<F: Family>(p: &Problem<F>) -> Option<(bool, GemvForm)> {
    let form = |q: &Problem<F>| {
        if q.b.rs == 1 {
            Some(GemvForm::Dot)
        } else if q.b.cs == 1 {
            Some(GemvForm::Axpy)
        } else {
            None
        }
    };
    let swapped = || F::transposed(p);
    if p.m == 1 {
        // A dot product (`n == 1` too) with a strided B and a contiguous A
        // reads A as the contiguous W: the axpy form would take one element of
        // y per row.
        if p.b.rs != 1
            && p.n == 1
            && p.a.cs == 1
            && let Some(q) = swapped()
        {
            return form(&q).map(|f| (true, f));
        }
        return form(p).map(|f| (false, f));
    }
    if p.n == 1 {
        return form(&swapped()?).map(|f| (true, f));
    }
    None
}

/// The plan of a problem [`front`] left to the rest (`Front::Rest`), on up to
/// `threads` workers. Out of line: only products big enough to be worth
/// blocking or threading get here.
pub(crate) fn rest<F: Family>(
    target: &Target,
    tuning: &Tuning,
    kern: &Kernels<F>,
    p: &Problem<F>,
    threads: usize,
) -> Plan {
    let threads = threads.max(1);
    if let Some(set) = kern.gemv
        && let Some((transposed, form)) = gemv_route(tuning, kern, p)
    {
        let q = oriented(p, transposed);
        return Plan {
            transposed,
            m: q.m,
            n: q.n,
            k: q.k,
            path: Path::Gemv(crate::gemv::plan::<F>(tuning, &set, &q, form, threads)),
        };
    }
    if let Some(small) = kern.small
        && p.packed.is_none()
        && is_small(tuning, p)
        && let Some(transposed) = small_orientation(p)
    {
        let q = oriented(p, transposed);
        let a_columns = q.a.rs == 1;
        let split = q.m.saturating_mul(q.n).saturating_mul(q.k) >= tuning.small_split_volume;
        return Plan {
            transposed,
            m: q.m,
            n: q.n,
            k: q.k,
            path: Path::Small {
                a_columns,
                threads: if split { threads } else { 1 },
                rows_per_item: if a_columns { small.cols[0].0 } else { small.rows[0].0 },
            },
        };
    }
    // The micro-kernel writes rows of C with unit column stride; a column-major
    // C is the transposed product, where the family has one.
    // (Not with a packed B, whose strips are B's.)
    // A skinny product (a few rows of A) with B's columns contiguous (weights
    // stored `n x k`, as PyTorch's `Linear` stores them) is computed as
    // `Cᵀ = Bᵀ Aᵀ` too: B's transpose, by far the larger operand, is then a
    // row-major A read in place, and only the few rows of A are packed, where
    // as given the loops would pack all of B, a gather along its columns, on
    // every call (BENCHMARKS.md, "skinny: B read in place as A"). C is then
    // written through the edge tiles, which a skinny C makes cheap. (bf16
    // widened packs B's transpose as A: a row-major A, widened along its rows,
    // rather than B's columns gathered.)
    let skinny = p.m <= tuning.skinny_rows && p.n >= 4 * p.m && p.b.rs == 1 && p.b.cs != 1;
    let transposed = ((p.c.cs != 1 && p.c.rs == 1) || skinny) && p.packed.is_none() && F::transposed(p).is_some();
    let q = oriented(p, transposed);
    let threads = if q.volume() >= tuning.blocked_split_volume as f64 {
        threads
    } else {
        1
    };
    let shape = F::shape(target);
    // Full panels of a row-major A read in place: streaming each row of a panel
    // costs little over a packed panel once it is in L1, and saves a copy of A
    // per block ("a_in_place").
    let a_in_place = q.a.cs == 1 && kern.in_place.is_some();
    // The dot-product edge: the `n % NR` columns of the last strip where they
    // are at most half a vector, A is read in place and there is at least one
    // block of rows. The narrow micro-kernel computes a whole vector of columns
    // (16 on AVX-512 f32 for the one column of 257); dot products compute only
    // the columns there are, at the price of another pass over A ("dot_edge").
    let w = q.n % shape.nr;
    // (A packed B has every column in its strips, and no B to read in place.)
    let dot_edge = match kern.dot {
        Some(dot) if a_in_place && q.packed.is_none() && q.m >= dot.rows && w > 0 && 2 * w <= shape.lanes => w,
        _ => 0,
    };
    let n = q.n - dot_edge;
    let lanes = threads.min(tuning.max_lanes);
    // Balanced blocks: k = 2049 with KC = 1024 is 2 blocks of 1025, not 2 of
    // 1024 and a last one of depth 1 that would cost a whole pass over C
    // ("balanced"). B's block is one model-sized block per lane: each worker
    // keeps its own lane of it near its core.
    // A skinny product's weights, read in place as A, stream from memory: a
    // block of k as deep as the product (to `Tuning::skinny_kc`) reads each
    // of their rows in one run instead of in pieces a whole pass apart, and B
    // (A's transpose, at most `skinny_rows` columns) keeps a small block even
    // so (BENCHMARKS.md, "skinny: whole rows of the weights"). Weights packed
    // as A (bf16 widened) take the same depth: each block of k is a pass of
    // the transposed C through the edge tiles' output step. A blocking set
    // with `set_blocking` is kept as given.
    let min_kc = if skinny && transposed {
        q.k.min(tuning.skinny_kc)
    } else {
        0
    };
    let model = Blocking::for_shape(shape, size_of::<F::PackedB>(), n, tuning.l2_percent_for_b, min_kc);
    // Deeper than the model for the skinny rule, a packed A block keeps the
    // model's bytes in fewer rows (read in place, it takes no room).
    let model = if min_kc > 0 && !a_in_place {
        let base = Blocking::for_shape(shape, size_of::<F::PackedB>(), n, tuning.l2_percent_for_b, 0);
        let rows = (base.mc * base.kc / model.kc.max(1) / shape.mr * shape.mr).max(shape.mr);
        Blocking { mc: rows, ..model }
    } else {
        model
    };
    // A family that may not split k has it in one block; its blocks of A and
    // B keep the model's sizes in elements, in fewer rows and columns.
    // A packed B fixed the blocks of k when it was packed.
    let (kc, mc, nc) = if let Some(packed) = q.packed {
        (packed.kc, model.mc, model.nc * lanes)
    } else if F::split_k(&q) {
        (balanced(q.k, model.kc, 1), model.mc, model.nc * lanes)
    } else {
        // (A whole number of tiles, as `balanced` takes them.)
        let shrink = |max: usize, unit: usize| (max * model.kc / q.k.max(model.kc) / unit * unit).max(unit);
        (q.k, shrink(model.mc, shape.mr), shrink(model.nc * lanes, shape.nr))
    };
    let blocks = Blocking {
        kc,
        mc: balanced(q.m, mc, shape.mr),
        nc: balanced(n, nc, shape.nr),
    };
    // B packed by the first tiles where all of it fits half the L2: it is then
    // near, and a packing pass of its own would cost more than the first tiles
    // waiting for it ("pack_b_in_first_tiles"). B row-major, and C too (the
    // fused instance stores whole tiles straight).
    // (Only where both sets of instances can.)
    let b_bytes = q.k as f64 * n as f64 * size_of::<F::B>() as f64;
    let fusable =
        F::packed_set(kern).is_some_and(|m| m.pack_b.is_some()) && kern.in_place.is_none_or(|m| m.pack_b.is_some());
    let pack_b_in_first_tiles =
        fusable && q.packed.is_none() && q.b.cs == 1 && q.c.cs == 1 && b_bytes <= (CacheSizes::detect().l2 / 2) as f64;
    let (h, w) = (q.m % shape.mr, n % shape.nr);
    // The in-place and packed sets cover the same vectors and rows.
    // (A family without edge instances computes whole tiles.)
    let edge = |h: usize, w: usize| F::packed_set(kern).map_or(Tile::Full, |set| edge_tile(set, h, w, shape));
    Plan {
        transposed,
        m: q.m,
        n: q.n,
        k: q.k,
        path: Path::Blocked(Blocked {
            threads,
            blocks,
            lanes,
            a_in_place,
            pack_b_in_first_tiles,
            // Only a row-major B has rows to fetch a line of at a time; a B
            // packed ahead has its strips, contiguous.
            fetch_next_b: q.b.cs == 1 || q.packed.is_some(),
            dot_edge,
            direct: q.c.cs == 1,
            edges: Edges {
                right: edge(shape.mr, w),
                bottom: edge(h, shape.nr),
                corner: edge(h, w),
            },
            // A family that leaves sums packs a block's whole depth in one
            // item (each sum is over it); one that groups k packs whole
            // groups in each item but the last.
            pack_chunk: if F::SUMS {
                blocks.kc
            } else {
                F::packed_depth(tuning.pack_chunk)
            },
        }),
    }
}

/// The instance for an `h x w` edge tile (0 meaning none: the whole tile):
/// a strip of one, two or three vectors computes only those vectors, a panel
/// of at most half the rows (and a strip wider than one vector) only those
/// rows.
fn edge_tile<F: Family, AP>(set: &Micro<F, AP>, h: usize, w: usize, shape: Shape) -> Tile {
    let (h, w) = (if h == 0 { shape.mr } else { h }, if w == 0 { shape.nr } else { w });
    let vectors = w.div_ceil(shape.lanes);
    let [narrow, two, three] = set.vecs;
    if h == shape.mr && w == shape.nr {
        Tile::Full
    } else if vectors <= narrow {
        Tile::Narrow
    } else if h <= set.short_rows {
        Tile::Short
    } else if vectors <= two {
        Tile::Two
    } else if vectors <= three {
        Tile::Three
    } else {
        Tile::Full
    }
}

/// `p` as computed: as given, or transposed where the plan says so (and the
/// family can).
#[inline(always)]
pub(crate) fn oriented<F: Family>(p: &Problem<F>, transposed: bool) -> Problem<F> {
    match F::transposed(p) {
        Some(q) if transposed => q,
        _ => *p,
    }
}

/// The step that splits `total` into as few blocks of about `max` as possible,
/// all about equal, rounded up to a multiple of `unit` (`max` is one). A block
/// may exceed `max` by a sixteenth (rounded down to `unit`) rather than leave a
/// sliver that costs a whole pass over C; the blocking model leaves each block
/// half its cache, so the slack still fits.
pub(crate) fn balanced(total: usize, max: usize, unit: usize) -> usize {
    let cap = ((max + max / 16) / unit * unit).max(max);
    let blocks = total.div_ceil(cap).max(1);
    (total.div_ceil(blocks).div_ceil(unit) * unit).clamp(unit, cap)
}
