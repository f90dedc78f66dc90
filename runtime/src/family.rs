//! Element families: the types a GEMM reads, writes and packs, and the
//! generated kernels that compute it, bound from the target's dispatch table
//! once per call. The driver, the plan and the loops are written once, generic
//! over a [`Family`]; a family brings its types and kernels, and says which of
//! the driver's shortcuts its kernels support (A read in place, B packed by
//! the first tiles, the small path, the dot-product edge, the transposed
//! product).

use crate::generated::{FloatKernels, Instance, MicrokernelConsts, Shape, Target};
use crate::plan::Tile;
use crate::problem::Problem;
use std::ops::{Add, Mul};

/// The element types of the floating-point GEMM: `f32` and `f64`, each a
/// family whose inputs, output and scalars are that one type.
pub trait Element:
    Family<A = Self, B = Self, C = Self, Scalar = Self, PackedA = Self, PackedB = Self>
    + PartialEq
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
    pub pack_lhs: PackFn<F::A, F::PackedA>,
    pub pack_rhs: PackFn<F::B, F::PackedB>,
    /// The micro-kernel instances for A read in place (strides given).
    pub in_place: Option<Micro<F, F::A>>,
    /// The same for a packed panel of A (strides fixed, arguments ignored).
    pub packed: Micro<F, F::PackedA>,
    /// `C = alpha * P + beta * C` for a computed tile `P`, C with unit column
    /// stride.
    pub apply: ApplyFn<F>,
    /// The small path's instances, if the family has one.
    pub small: Option<SmallSet<F>>,
    /// The dot-product edge's instances, if the family has them.
    pub dot: Option<DotSet<F>>,
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
    fn new(
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

/// The float families' kernels, from their element type's generated table:
/// which instance of each kernel plays which part, written once for `f32` and
/// `f64` (the runtime names no generated function).
#[inline(always)]
fn float_kernels<E: Element>(k: &FloatKernels<E>) -> Kernels<E> {
    let (m, s, d) = (&k.microkernel, &k.gemm_small, &k.dot_edge);
    Kernels {
        pack_lhs: k.pack_lhs,
        pack_rhs: k.pack_rhs,
        in_place: Some(Micro::new(
            [
                m.microkernel,
                m.microkernel_narrow,
                m.microkernel_two,
                m.microkernel_three,
                m.microkernel_short,
            ],
            Some(m.microkernel_pack_b.kernel),
        )),
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
        small: Some(SmallSet {
            rows: [s.gemm_small, s.gemm_small_mid, s.gemm_small_low, s.gemm_small_row]
                .map(|i| (i.consts.rows, i.kernel)),
            cols: [s.gemm_small_t, s.gemm_small_mid_t, s.gemm_small_low_t, s.gemm_small_row]
                .map(|i| (i.consts.rows, i.kernel)),
        }),
        dot: Some(DotSet {
            cols: [d.dot_edge_1, d.dot_edge_2, d.dot_edge_3, d.dot_edge_4].map(|i| i.kernel),
            rows: d.dot_edge_1.consts.rows,
        }),
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
            #[inline(always)]
            fn kernels(t: &Target) -> Kernels<Self> {
                float_kernels(&t.$t)
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
        for (vecs, short_rows) in [
            (in_place.vecs, in_place.short_rows),
            (k.packed.vecs, k.packed.short_rows),
        ] {
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
    }

    #[test]
    fn instance_constants_fit_the_loops() {
        for t in crate::compiled() {
            instances_fit_the_loops::<f32>(t);
            instances_fit_the_loops::<f64>(t);
        }
    }
}
