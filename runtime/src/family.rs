//! Element families: the types a GEMM reads, writes and packs, and the
//! generated kernels that compute it, bound from the target's dispatch table
//! once per call. The driver, the plan and the loops are written once, generic
//! over a [`Family`]; a family brings its types and kernels, and says which of
//! the driver's shortcuts its kernels support (A read in place, B packed by
//! the first tiles, the small path, the dot-product edge, the transposed
//! product).

use crate::driver::Block;
use crate::generated::{self, Instance, MicrokernelConsts, Shape, Target};
use crate::output::apply_tile;
use crate::plan::Tile;
use crate::problem::Problem;
use std::ops::{Add, Mul};

/// The element types of the floating-point GEMM: `f32` and `f64`, each a
/// family whose inputs, output and scalars are that one type. Sealed: write
/// code generic over it, not new implementations.
///
/// ```
/// use gemmkit::{Element, GemmError};
/// fn square<T: Element>(x: &[T], n: usize) -> Result<Vec<T>, GemmError> {
///     let mut out = x.to_vec(); // any n x n values; overwritten
///     gemmkit::matmul(n, n, n, x, x, &mut out)?;
///     Ok(out)
/// }
/// assert_eq!(square(&[0.0f32, 1.0, 1.0, 0.0], 2)?, [1.0, 0.0, 0.0, 1.0]);
/// assert_eq!(square(&[2.0f64], 1)?, [4.0]);
/// # Ok::<(), GemmError>(())
/// ```
pub trait Element:
    Family<
        A = Self,
        B = Self,
        C = Self,
        Scalar = Self,
        PackedA = Self,
        PackedB = Self,
        Extra = (),
        Own = PackedKernels<Self>,
    > + PartialEq
    + Add<Output = Self>
    + Mul<Output = Self>
{
}

impl Element for f32 {}
impl Element for f64 {}

/// An element family, sealed: the crate's own families implement it.
///
/// Each type is what one pointer of the driver holds: A and B as the caller
/// gives them, their packed forms (a family packs to the format its
/// dot-product instructions want), and C, which the edge tiles hold too.
pub trait Family: Copy + Send + Sync + 'static {
    /// Elements of A.
    type A: Copy + Send + Sync + 'static;
    /// Elements of B.
    type B: Copy + Send + Sync + 'static;
    /// Elements of C, and of the packed edge tiles.
    type C: Copy + Send + Sync + 'static;
    /// `alpha` and `beta`.
    type Scalar: Copy + PartialEq + Send + Sync + 'static;
    /// Elements of a packed panel of A.
    type PackedA: Copy + Send + Sync + 'static;
    /// Elements of a packed strip of B.
    type PackedB: Copy + Send + Sync + 'static;
    /// The scalar 0.
    const ZERO: Self::Scalar;
    /// The scalar 1.
    const ONE: Self::Scalar;
    /// An element of C that is 0.
    const C_ZERO: Self::C;
    /// What a problem of this family holds beside the operands and scalars
    /// (int8: the offsets of A, B and C); `()` for the float families.
    type Extra: Copy + Send + Sync + 'static;
    /// The family's own kernels: its packers and the micro-kernels that
    /// compute a tile from packed operands (the generated table of its type).
    type Own: Copy + Send + Sync + 'static;
    /// The depth a packed panel or strip groups k by (the elements one lane of
    /// the family's dot-product instruction takes): 1 for the float families.
    /// A block of depth `kc` packs to [`Family::packed_depth`]`(kc)`.
    const DEPTH: usize;
    /// Whether the packers also leave the sums of each packed row of A and
    /// column of B (`i32`, one per row / column) for the family's tiles.
    const SUMS: bool;
    /// Whether a packed panel of A holds its rows contiguously (element
    /// `(i, p)` at `i * kp + p`, for micro-kernels that read A with strides)
    /// rather than its columns (at `p * MR + i`, or groups of the depth).
    const A_ROWS: bool = false;
    /// Whether the depth may be split into blocks (each adding into C): not
    /// where the family rounds each element of C once (int8 with a general
    /// alpha or beta).
    #[inline(always)]
    fn split_k(_: &Problem<Self>) -> bool {
        true
    }
    /// `C = beta * C` where `k == 0` or `alpha == 0` (and the family's part
    /// that does not depend on A and B): A and B are not read, and `beta == 0`
    /// writes without reading C.
    ///
    /// # Safety
    /// As [`crate::gemm_raw`], for C.
    unsafe fn scale_c(p: &Problem<Self>) {
        if p.beta == Self::ONE {
            return;
        }
        for i in 0..p.m {
            for j in 0..p.n {
                let dst = unsafe { &mut *p.c.at(i, j) };
                *dst = if p.beta == Self::ZERO {
                    Self::C_ZERO
                } else {
                    Self::scale(p.beta, *dst)
                };
            }
        }
    }
    /// `kc` rounded up to a whole number of groups of [`Family::DEPTH`].
    #[inline(always)]
    fn packed_depth(kc: usize) -> usize {
        kc.div_ceil(Self::DEPTH) * Self::DEPTH
    }
    /// Packs `rows x cols` of A (strides `rs`, `cs`), whose first element is
    /// `origin` (row, column) of the problem's A, into panels of the tile's
    /// rows, `panel_stride` elements apart, and (where [`Family::SUMS`]) what
    /// the family's tiles need of each row (int8: its compensation) into
    /// `sums`.
    ///
    /// # Safety
    /// As the family's packer, with `sums` writable for `rows` values where
    /// the family leaves sums.
    #[allow(clippy::too_many_arguments)]
    unsafe fn pack_a(
        kern: &Kernels<Self>,
        p: &Problem<Self>,
        rows: usize,
        cols: usize,
        src: *const Self::A,
        origin: (usize, usize),
        dst: *mut Self::PackedA,
        panel_stride: usize,
        sums: *mut i32,
    );
    /// Packs `rows x cols` of B, from `origin` of the problem's B, into strips
    /// of the tile's columns, `strip_stride` elements apart, and (where
    /// [`Family::SUMS`]) each column's sum into `sums`, which
    /// [`Family::b_terms`] turns into what the family's tiles need. (Only
    /// the strides of the problem's B are read: a B packed ahead of any call
    /// is packed by this too.)
    ///
    /// # Safety
    /// As [`Family::pack_a`], for B.
    #[allow(clippy::too_many_arguments)]
    unsafe fn pack_b(
        kern: &Kernels<Self>,
        p: &Problem<Self>,
        rows: usize,
        cols: usize,
        src: *const Self::B,
        origin: (usize, usize),
        dst: *mut Self::PackedB,
        strip_stride: usize,
        sums: *mut i32,
    );
    /// What the family's tiles need of each of `cols` columns of B (int8:
    /// their compensation and C offset), made in place from the column sums
    /// [`Family::pack_b`] left in `sums`; `origin` is the block's first
    /// (row, column) of B. Nothing for a family without sums.
    ///
    /// # Safety
    /// `sums` readable and writable for `cols` values where the family has sums.
    unsafe fn b_terms(_p: &Problem<Self>, _cols: usize, _origin: (usize, usize), _sums: *mut i32) {}
    /// Loop 2's body: panel `pi` of A against lane `l`'s strips of B (loop 1,
    /// [`Block::strips`]), each tile computed and written to C as the
    /// family's kernels do it.
    ///
    /// # Safety
    /// As `five_loops`, for this block's panel and lane.
    unsafe fn panel(b: &Block<'_, Self>, l: usize, pi: usize, worker: usize);
    /// The micro-kernel set of the family's packed tiles, where it has one
    /// with edge instances (the plan picks the edges' instances from it and
    /// fuses B's packing into the first tiles where it can).
    fn packed_set(kern: &Kernels<Self>) -> Option<&Micro<Self, Self::PackedA>>;
    /// The target's kernels for this family.
    fn kernels(t: &Target) -> Kernels<Self>;
    /// The target's micro-kernel tile for this family.
    fn shape(t: &Target) -> Shape;
    /// `beta * c`, where `beta` is neither 0 nor 1 (those never read C).
    fn scale(beta: Self::Scalar, c: Self::C) -> Self::C;
    /// `alpha * p + beta * c` for one element of a computed tile `p`; `c` is
    /// `None` where `beta == 0` (C is not read).
    fn combine(alpha: Self::Scalar, p: Self::C, beta: Self::Scalar, c: Option<Self::C>) -> Self::C;
    /// The sum of the lanes of a dot-product edge, lane 0 first.
    fn sum(parts: &[Self::C]) -> Self::C;
    /// The same product as `Cᵀ = Bᵀ Aᵀ`, where the family's A and B are one
    /// type (`None` otherwise: the plan then never transposes).
    fn transposed(p: &Problem<Self>) -> Option<Problem<Self>>;
}

/// The generated kernels the driver calls, for one family. The shortcuts a
/// family's kernels do not support are `None`, and the plan does not take them.
#[derive(Clone, Copy)]
pub struct Kernels<F: Family> {
    /// The family's own kernels: packers, micro-kernels on packed operands
    /// and output step ([`Family::Own`]).
    pub own: F::Own,
    /// The micro-kernel instances for A read in place (strides given).
    pub in_place: Option<Micro<F, F::A>>,
    /// The small path's instances, if the family has one.
    pub small: Option<SmallSet<F>>,
    /// The dot-product edge's instances, if the family has them.
    pub dot: Option<DotSet<F>>,
    /// The GEMV kernels, if the family has a GEMV path.
    pub gemv: Option<GemvSet<F>>,
}

/// The GEMV kernels (see `crate::gemv`): the axpy form for a matrix with unit
/// stride along the outputs, and the dot form, four rows at a time (`rows` of
/// them, from the dispatch table) and one.
#[derive(Clone, Copy)]
pub struct GemvSet<F: Family> {
    pub axpy: GemvAxpyFn<F>,
    pub dot: GemvDotFn<F>,
    pub dot_row: GemvDotFn<F>,
    pub rows: usize,
    /// The lanes of a vector, each leaving its own sum.
    pub lanes: usize,
}

/// The small kernel's instances with the rows each computes (its `ROWS`),
/// tallest first, down to one row (see `small`).
#[derive(Clone, Copy)]
pub struct SmallSet<F: Family> {
    /// For A with a row stride.
    pub rows: [(usize, SmallFn<F>); 4],
    /// For a column-major A (`rs_a == 1`, the argument ignored; the one-row
    /// block has no row stride and is `rows`').
    pub cols: [(usize, SmallFn<F>); 4],
}

/// The dot-product edge kernel's instances for 1 to 4 columns (see
/// `dot_edge`), with the rows of A each takes (their `ROWS`, one for all).
#[derive(Clone, Copy)]
pub struct DotSet<F: Family> {
    pub cols: [DotFn<F>; 4],
    pub rows: usize,
    /// The output step the sums go through (as an edge tile's do).
    pub apply: ApplyFn<F>,
}

/// One set of micro-kernel instances: the whole tile, its first vector of
/// columns, its first two and three vectors (the whole tile where it has no
/// more), its first `MR / 2` rows, and (where the family has it) the whole tile
/// packing B as it reads it; with what the edge instances cover (their `VECS`
/// and `ROWS`, from the dispatch table). `AP` is what the panel of A holds.
#[derive(Clone, Copy)]
pub struct Micro<F: Family, AP> {
    pub full: MicroFn<F, AP>,
    pub narrow: MicroFn<F, AP>,
    pub two: MicroFn<F, AP>,
    pub three: MicroFn<F, AP>,
    pub short: MicroFn<F, AP>,
    /// The whole tile, reading a row-major B in place while it packs it
    /// (`microkernel_pack_b`, see `five_loops`).
    pub pack_b: Option<PackBFn<F, AP>>,
    /// The vectors of columns `narrow`, `two` and `three` compute.
    pub vecs: [usize; 3],
    /// The rows `short` computes.
    pub short_rows: usize,
}

impl<F: Family, AP> Micro<F, AP> {
    /// A set from the instances for the whole tile, its first one, two and
    /// three vectors of columns and its short rows (in that order), reading
    /// what the edge ones cover from their constants; and `pack_b`.
    #[inline(always)]
    pub(crate) fn new(
        [full, narrow, two, three, short]: [Instance<MicroFn<F, AP>, MicrokernelConsts>; 5],
        pack_b: Option<PackBFn<F, AP>>,
    ) -> Self {
        Micro {
            full: full.kernel,
            narrow: narrow.kernel,
            two: two.kernel,
            three: three.kernel,
            short: short.kernel,
            pack_b,
            vecs: [narrow.consts.vecs, two.consts.vecs, three.consts.vecs],
            short_rows: short.consts.rows,
        }
    }

    /// The instance of a kind of tile (the plan's choice for an edge).
    #[inline(always)]
    pub(crate) fn get(&self, tile: Tile) -> MicroFn<F, AP> {
        match tile {
            Tile::Full => self.full,
            Tile::Narrow => self.narrow,
            Tile::Two => self.two,
            Tile::Three => self.three,
            Tile::Short => self.short,
        }
    }
}

// The kernels' types as the driver sees them, in a family's types. The
// generated aliases (`crate::generated::MicrokernelFn<Elem>`, ..) have one
// element type, as a `FloatVec` kernel's signature has; the driver's roles are
// several (A, its packed panel, B, C, the scalars), all the element type in a
// float family. `float_kernels` binds each generated alias to one of these, so
// the compiler checks that they agree.

/// `pack(rows, cols, src, rs, cs, dst, ld)`: `base_pack_lhs` / `base_pack_rhs`.
pub type PackFn<S, D> = unsafe fn(usize, usize, *const S, usize, usize, *mut D, usize);

/// `apply(h, w, alpha, p, ldp, beta, c, ldc)`: `base_apply_packed_output`.
pub type ApplyFn<F> = unsafe fn(
    usize,
    usize,
    <F as Family>::Scalar,
    *const <F as Family>::C,
    usize,
    <F as Family>::Scalar,
    *mut <F as Family>::C,
    usize,
);

/// A micro-kernel instance: `(k, alpha, a, rs_a, cs_a, b, ldb, b2, beta, c,
/// ldc)`, A's panel of `AP` and B of `BP`.
pub type TileFn<F, AP, BP> = unsafe fn(
    usize,
    <F as Family>::Scalar,
    *const AP,
    usize,
    usize,
    *const BP,
    usize,
    *mut <F as Family>::PackedB,
    <F as Family>::Scalar,
    *mut <F as Family>::C,
    usize,
);

/// B a packed strip; `b2 + p * ldb` the line to fetch for later at each step.
pub type MicroFn<F, AP> = TileFn<F, AP, <F as Family>::PackedB>;

/// B read in place (row stride `ldb`) and packed to `b2` as it goes.
pub type PackBFn<F, AP> = TileFn<F, AP, <F as Family>::B>;

/// `gemm_small(skip, n, k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, rs_c)`: one
/// block of rows, the first `skip` not stored.
pub type SmallFn<F> = unsafe fn(
    usize,
    usize,
    usize,
    <F as Family>::Scalar,
    *const <F as Family>::A,
    usize,
    usize,
    *const <F as Family>::B,
    usize,
    <F as Family>::Scalar,
    *mut <F as Family>::C,
    usize,
);

/// `dot_edge(k, a, lda, bt, ldbt, out)`: rows of A by columns of B, lane by
/// lane into `out`.
pub type DotFn<F> =
    unsafe fn(usize, *const <F as Family>::A, usize, *const <F as Family>::B, usize, *mut <F as Family>::C);

/// `gemv_axpy(k, n, alpha, x, incx, w, ldw, y)`: `y += alpha * x W`, W with
/// unit stride along `n`.
pub type GemvAxpyFn<F> = unsafe fn(
    usize,
    usize,
    <F as Family>::Scalar,
    *const <F as Family>::A,
    usize,
    *const <F as Family>::B,
    usize,
    *mut <F as Family>::C,
);

/// `gemv_dot(k, w, ldw, x, out)`: rows of W by x, both contiguous along `k`,
/// lane by lane into `out`.
pub type GemvDotFn<F> =
    unsafe fn(usize, *const <F as Family>::B, usize, *const <F as Family>::A, *mut <F as Family>::C);

/// A float family's own kernels: its packers, the micro-kernel instances on a
/// packed panel of A (strides fixed, arguments ignored) and the output step.
#[derive(Clone, Copy)]
pub struct PackedKernels<E: Element> {
    pub pack_lhs: PackFn<E, E>,
    pub pack_rhs: PackFn<E, E>,
    pub packed: Micro<E, E>,
    /// `C = alpha * P + beta * C` for a computed tile `P`, C with unit column
    /// stride.
    pub apply: ApplyFn<E>,
}

/// The micro-kernel's instances that read A with strides (A in place, or a
/// panel packed row by row): the whole tile, its first one, two and three
/// vectors of columns and its short rows, as [`Micro::new`] takes them.
#[inline(always)]
pub(crate) fn strided_a_instances<E>(
    m: &generated::Microkernel<E>,
) -> [Instance<generated::MicrokernelFn<E>, MicrokernelConsts>; 5] {
    [
        m.microkernel,
        m.microkernel_narrow,
        m.microkernel_two,
        m.microkernel_three,
        m.microkernel_short,
    ]
}

/// The float families' kernels, from their element type's generated table:
/// which instance of each kernel plays which part, written once for `f32` and
/// `f64` (the runtime names no generated function).
#[inline(always)]
fn float_kernels<E: Element>(k: &generated::FloatKernels<E>, shape: Shape) -> Kernels<E> {
    let (m, s, d, g) = (&k.microkernel, &k.gemm_small, &k.dot_edge, &k.gemv_dot);
    Kernels {
        own: PackedKernels {
            pack_lhs: k.pack_lhs,
            pack_rhs: k.pack_rhs,
            packed: Micro::new(
                [
                    m.microkernel_packed,
                    m.microkernel_narrow_packed,
                    m.microkernel_two_packed,
                    m.microkernel_three_packed,
                    m.microkernel_short_packed,
                ],
                Some(m.microkernel_pack_b_packed.kernel),
            ),
            apply: k.apply_packed_output,
        },
        in_place: Some(Micro::new(strided_a_instances(m), Some(m.microkernel_pack_b.kernel))),
        small: Some(SmallSet {
            rows: [s.gemm_small, s.gemm_small_mid, s.gemm_small_low, s.gemm_small_row]
                .map(|i| (i.consts.rows, i.kernel)),
            cols: [s.gemm_small_t, s.gemm_small_mid_t, s.gemm_small_low_t, s.gemm_small_row]
                .map(|i| (i.consts.rows, i.kernel)),
        }),
        dot: Some(DotSet {
            cols: [d.dot_edge_1, d.dot_edge_2, d.dot_edge_3, d.dot_edge_4].map(|i| i.kernel),
            rows: d.dot_edge_1.consts.rows,
            apply: k.apply_packed_output,
        }),
        gemv: Some(GemvSet {
            axpy: k.gemv_axpy,
            dot: g.gemv_dot.kernel,
            dot_row: g.gemv_dot_row.kernel,
            rows: g.gemv_dot.consts.rows,
            lanes: shape.lanes,
        }),
    }
}

/// A float family's loop 2 body: panel `pi` of A, read in place (rows at
/// their stride) or packed (columns of MR), by every strip of lane `l`.
#[inline(always)]
unsafe fn float_panel<E: Element>(b: &Block<'_, E>, l: usize, pi: usize, worker: usize) {
    let (ctx, p, mr) = (b.ctx, &b.ctx.p, b.ctx.shape.mr);
    match &ctx.kern.in_place {
        Some(micro) if pi < b.a_first => unsafe {
            float_strips(
                b,
                micro,
                ctx.kern.own.apply,
                p.a.at(b.ic + pi * mr, b.pc),
                p.a.rs,
                1,
                l,
                pi,
                worker,
            )
        },
        _ => unsafe {
            let ap = ctx.bufs.a.add(b.a_slot(pi)).cast_const();
            float_strips(b, &ctx.kern.own.packed, ctx.kern.own.apply, ap, 1, mr, l, pi, worker)
        },
    }
}

/// A family's tiles of one panel of A at `ap`, with strides `(rs_ap,
/// cs_ap)`, by the f32 or f64 micro-kernel instances `micro` (a float family,
/// or bf16 widened to f32 as it is packed): interior tiles stored straight
/// into C, the first tile of each whole strip packing it as it reads B where
/// the block says so, and edge tiles through the packed tile and the output
/// step `apply`. The micro-kernels run the block's packed depth (`kp`, the
/// depth itself for a float family).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn float_strips<F: Family, AP>(
    b: &Block<'_, F>,
    micro: &Micro<F, AP>,
    apply: ApplyFn<F>,
    ap: *const AP,
    rs_ap: usize,
    cs_ap: usize,
    l: usize,
    pi: usize,
    worker: usize,
) {
    let (p, plan, kp, nr) = (&b.ctx.p, &b.ctx.plan, b.kp, b.ctx.shape.nr);
    let (alpha, beta, rsc, csc) = (p.alpha, b.beta, p.c.rs, p.c.cs);
    unsafe {
        b.strips(l, pi, worker, |s| match micro.pack_b {
            Some(pack_b) if b.fuse && pi == 0 && s.w == nr => {
                let src = p.b.at(b.pc, b.jc + s.jr);
                pack_b(kp, alpha, ap, rs_ap, cs_ap, src, p.b.rs, s.bp, beta, s.c, rsc);
            }
            _ if plan.direct && s.whole => {
                (micro.full)(kp, alpha, ap, rs_ap, cs_ap, s.bp, s.far_ld, s.far, beta, s.c, rsc)
            }
            _ => {
                let f = micro.get(s.kind);
                f(kp, F::ONE, ap, rs_ap, cs_ap, s.bp, s.far_ld, s.far, F::ZERO, s.tile, nr);
                apply_tile::<F>(apply, s.h, s.w, alpha, s.tile, nr, beta, s.c, rsc, csc);
            }
        })
    }
}

/// The family of one float type, whose name is also its table's and its
/// shape's field of `Target` (`t.f32`, `t.shapes.f32`).
macro_rules! float_family {
    ($t:ident) => {
        impl Family for $t {
            type A = $t;
            type B = $t;
            type C = $t;
            type Scalar = $t;
            type PackedA = $t;
            type PackedB = $t;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const C_ZERO: Self = 0.0;
            type Extra = ();
            type Own = PackedKernels<Self>;
            const DEPTH: usize = 1;
            const SUMS: bool = false;
            #[inline(always)]
            unsafe fn pack_a(
                kern: &Kernels<Self>,
                p: &Problem<Self>,
                rows: usize,
                cols: usize,
                src: *const Self,
                _: (usize, usize),
                dst: *mut Self,
                panel_stride: usize,
                _: *mut i32,
            ) {
                unsafe { (kern.own.pack_lhs)(rows, cols, src, p.a.rs, p.a.cs, dst, panel_stride) }
            }
            #[inline(always)]
            unsafe fn pack_b(
                kern: &Kernels<Self>,
                p: &Problem<Self>,
                rows: usize,
                cols: usize,
                src: *const Self,
                _: (usize, usize),
                dst: *mut Self,
                strip_stride: usize,
                _: *mut i32,
            ) {
                unsafe { (kern.own.pack_rhs)(rows, cols, src, p.b.rs, p.b.cs, dst, strip_stride) }
            }
            unsafe fn panel(b: &Block<'_, Self>, l: usize, pi: usize, worker: usize) {
                unsafe { float_panel(b, l, pi, worker) }
            }
            #[inline(always)]
            fn packed_set(kern: &Kernels<Self>) -> Option<&Micro<Self, Self>> {
                Some(&kern.own.packed)
            }
            #[inline(always)]
            fn kernels(t: &Target) -> Kernels<Self> {
                float_kernels(&t.$t, t.shapes.$t)
            }
            #[inline(always)]
            fn shape(t: &Target) -> Shape {
                t.shapes.$t
            }
            #[inline(always)]
            fn scale(beta: Self, c: Self) -> Self {
                beta * c
            }
            #[inline(always)]
            fn combine(alpha: Self, p: Self, beta: Self, c: Option<Self>) -> Self {
                match c {
                    Some(c) => alpha * p + beta * c,
                    None => alpha * p,
                }
            }
            #[inline(always)]
            fn sum(parts: &[Self]) -> Self {
                parts.iter().fold(0.0, |acc, &v| acc + v)
            }
            #[inline(always)]
            fn transposed(p: &Problem<Self>) -> Option<Problem<Self>> {
                Some(p.transposed())
            }
        }
    };
}

float_family!(f32);
float_family!(f64);

#[cfg(test)]
mod tests {
    use super::Family;

    /// What the loops assume of the instance constants they read (the dispatch
    /// table's `consts`; the differential test checks each against the
    /// instance's own): the small blocks shrink to one row; the edge instances
    /// the plan picks cover 1 to 3 vectors in order and the short one
    /// fewer rows than the tile; the dot-product sums fit the edge tile.
    fn instances_fit_the_loops<F: Family>(t: &crate::Target) {
        let (k, s) = (F::kernels(t), F::shape(t));
        let small = k.small.expect("the float families have a small path");
        for blocks in [small.rows, small.cols] {
            let rows = blocks.map(|(r, _)| r);
            assert!(
                rows.windows(2).all(|w| w[0] >= w[1]) && rows[3] == 1,
                "{}: {rows:?}",
                t.name
            );
        }
        let in_place = k.in_place.expect("the float families read A in place");
        let packed = F::packed_set(&k).expect("the float families have edge instances");
        for (vecs, short_rows) in [(in_place.vecs, in_place.short_rows), (packed.vecs, packed.short_rows)] {
            let [narrow, two, three] = vecs;
            assert!(
                1 <= narrow && narrow <= two && two <= three && three <= s.nr / s.lanes,
                "{}",
                t.name
            );
            assert!(short_rows < s.mr, "{}", t.name);
        }
        let dot = k.dot.expect("the float families have a dot edge");
        assert!(dot.rows >= 1 && dot.rows * 4 * s.lanes <= s.mr * s.nr, "{}", t.name);
        let gemv = k.gemv.expect("the float families have a GEMV path");
        assert!(
            (1..=4).contains(&gemv.rows) && gemv.rows * s.lanes <= crate::gemv::MAX_SUMS,
            "{}",
            t.name
        );
    }

    #[test]
    fn instance_constants_fit_the_loops() {
        for t in crate::compiled() {
            instances_fit_the_loops::<f32>(t);
            instances_fit_the_loops::<f64>(t);
        }
    }
}
