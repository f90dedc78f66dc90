//! Element families: the types a GEMM reads, writes and packs, and the
//! generated kernels that compute it, bound from the target's dispatch table
//! once per call. The driver, the plan and the loops are written once, generic
//! over a [`Family`]; a family brings its types and kernels, and says which of
//! the driver's shortcuts its kernels support (A read in place, B packed by
//! the first tiles, the small path, the dot-product edge, the transposed
//! product).

use crate::generated::{Shape, Target};
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

/// One `Micro` set from its instances' names: the function pointers from the
/// table's kernels `k`, what the edge instances cover from its constants `c`.
macro_rules! micro {
    ($k:ident, $c:ident, $full:ident, $narrow:ident, $two:ident, $three:ident, $short:ident, $pack_b:ident) => {
        Micro {
            full: $k.$full,
            narrow: $k.$narrow,
            two: $k.$two,
            three: $k.$three,
            short: $k.$short,
            pack_b: Some($k.$pack_b),
            vecs: [$c.$narrow.vecs, $c.$two.vecs, $c.$three.vecs],
            short_rows: $c.$short.rows,
        }
    };
}

/// The family of one float type, from the names of its generated kernels (in
/// the order of the `Kernels` fields; instance sets in brackets).
macro_rules! float_family {
    ($t:ty, $pl:ident, $pr:ident, [$mk:ident, $mn:ident, $m2:ident, $m3:ident, $ms:ident, $mb:ident],
     [$pk:ident, $pn:ident, $p2:ident, $p3:ident, $ps:ident, $pb:ident], $ap:ident,
     [$($sm:ident),*], [$($st:ident),*], [$dt0:ident $(, $dt:ident)*], $shape:ident) => {
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
                let (k, c) = (&t.kernels, &t.consts);
                Kernels {
                    pack_lhs: k.$pl,
                    pack_rhs: k.$pr,
                    in_place: Some(micro!(k, c, $mk, $mn, $m2, $m3, $ms, $mb)),
                    packed: micro!(k, c, $pk, $pn, $p2, $p3, $ps, $pb),
                    apply: k.$ap,
                    small: Some(SmallSet {
                        rows: [$((c.$sm.rows, k.$sm)),*],
                        cols: [$((c.$st.rows, k.$st)),*],
                    }),
                    dot: Some(DotSet {
                        cols: [k.$dt0 $(, k.$dt)*],
                        rows: c.$dt0.rows,
                    }),
                }
            }
            #[inline(always)]
            fn shape(t: &Target) -> Shape {
                t.shapes.$shape
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

float_family!(
    f32,
    pack_lhs_f32,
    pack_rhs_f32,
    [
        microkernel_f32,
        microkernel_narrow_f32,
        microkernel_two_f32,
        microkernel_three_f32,
        microkernel_short_f32,
        microkernel_pack_b_f32
    ],
    [
        microkernel_packed_f32,
        microkernel_narrow_packed_f32,
        microkernel_two_packed_f32,
        microkernel_three_packed_f32,
        microkernel_short_packed_f32,
        microkernel_pack_b_packed_f32
    ],
    apply_packed_output_f32,
    [
        gemm_small_f32,
        gemm_small_mid_f32,
        gemm_small_low_f32,
        gemm_small_row_f32
    ],
    [
        gemm_small_t_f32,
        gemm_small_mid_t_f32,
        gemm_small_low_t_f32,
        gemm_small_row_f32
    ],
    [dot_edge_1_f32, dot_edge_2_f32, dot_edge_3_f32, dot_edge_4_f32],
    f32
);

float_family!(
    f64,
    pack_lhs_f64,
    pack_rhs_f64,
    [
        microkernel_f64,
        microkernel_narrow_f64,
        microkernel_two_f64,
        microkernel_three_f64,
        microkernel_short_f64,
        microkernel_pack_b_f64
    ],
    [
        microkernel_packed_f64,
        microkernel_narrow_packed_f64,
        microkernel_two_packed_f64,
        microkernel_three_packed_f64,
        microkernel_short_packed_f64,
        microkernel_pack_b_packed_f64
    ],
    apply_packed_output_f64,
    [
        gemm_small_f64,
        gemm_small_mid_f64,
        gemm_small_low_f64,
        gemm_small_row_f64
    ],
    [
        gemm_small_t_f64,
        gemm_small_mid_t_f64,
        gemm_small_low_t_f64,
        gemm_small_row_f64
    ],
    [dot_edge_1_f64, dot_edge_2_f64, dot_edge_3_f64, dot_edge_4_f64],
    f64
);

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
