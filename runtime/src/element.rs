//! The element types and the generated kernels GEMM needs for each: the
//! function-pointer types and the instance sets, bound from the target's
//! dispatch table once per call.

use crate::generated::{Shape, Target};
use crate::plan::Tile;
use std::ops::{Add, Mul};

/// The element types GEMM supports: `f32` and `f64`.
pub trait Element:
    Copy + PartialEq + Add<Output = Self> + Mul<Output = Self> + Send + Sync + 'static + sealed::Sealed
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// The target's kernels for this element type.
    #[doc(hidden)]
    fn kernels(t: &Target) -> ElemKernels<Self>;
    /// The target's micro-kernel tile for this element type.
    #[doc(hidden)]
    fn shape(t: &Target) -> Shape;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The generated kernels GEMM needs, for one element type.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct ElemKernels<T> {
    pub pack_lhs: unsafe fn(usize, usize, *const T, usize, usize, *mut T, usize),
    pub pack_rhs: unsafe fn(usize, usize, *const T, usize, usize, *mut T, usize),
    /// The micro-kernel instances for A read in place (strides given).
    pub in_place: Micro<T>,
    /// The same for a packed panel of A (strides fixed, arguments ignored).
    pub packed: Micro<T>,
    pub apply: unsafe fn(usize, usize, T, *const T, usize, T, *mut T, usize),
    /// The small kernel's instances with the rows each computes (its `ROWS`),
    /// tallest first, down to one row (see `small`).
    pub small: [(usize, SmallFn<T>); 4],
    /// The same for a column-major A (`rs_a == 1`, the argument ignored; the
    /// one-row block has no row stride and is `small`'s).
    pub small_t: [(usize, SmallFn<T>); 4],
    /// The dot-product edge kernel's instances for 1 to 4 columns (see
    /// `dot_edge`).
    pub dot: [DotFn<T>; 4],
    /// The rows of A each of them takes (their `ROWS`, the same for all four).
    pub dot_rows: usize,
}

/// One set of micro-kernel instances: the whole tile, its first vector of
/// columns, its first two and three vectors (the whole tile where it has no
/// more), its first `MR / 2` rows, and the whole tile packing B as it reads it;
/// with what the edge instances cover (their `VECS` and `ROWS`, from the
/// dispatch table).
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Micro<T> {
    pub full: MicroFn<T>,
    pub narrow: MicroFn<T>,
    pub two: MicroFn<T>,
    pub three: MicroFn<T>,
    pub short: MicroFn<T>,
    /// The whole tile, reading B in place while it packs it
    /// (`microkernel_pack_b`, see `five_loops`).
    pub pack_b: MicroFn<T>,
    /// The vectors of columns `narrow`, `two` and `three` compute.
    pub vecs: [usize; 3],
    /// The rows `short` computes.
    pub short_rows: usize,
}

impl<T> Micro<T> {
    /// The instance of a kind of tile (the plan's choice for an edge).
    #[inline(always)]
    pub(crate) fn get(&self, tile: Tile) -> MicroFn<T> {
        match tile {
            Tile::Full => self.full,
            Tile::Narrow => self.narrow,
            Tile::Two => self.two,
            Tile::Three => self.three,
            Tile::Short => self.short,
        }
    }
}

/// `micro(k, alpha, a, rs_a, cs_a, b, beta, c, ldc)`.
#[doc(hidden)]
pub type MicroFn<T> = unsafe fn(usize, T, *const T, usize, usize, *const T, usize, *mut T, T, *mut T, usize);

/// `gemm_small(skip, n, k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, rs_c)`: one
/// block of rows, the first `skip` not stored.
#[doc(hidden)]
pub type SmallFn<T> = unsafe fn(usize, usize, usize, T, *const T, usize, usize, *const T, usize, T, *mut T, usize);

/// `dot_edge(k, a, lda, bt, ldbt, out)`: rows of A by columns of B, lane by lane.
#[doc(hidden)]
pub type DotFn<T> = unsafe fn(usize, *const T, usize, *const T, usize, *mut T);

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
            pack_b: $k.$pack_b,
            vecs: [$c.$narrow.vecs, $c.$two.vecs, $c.$three.vecs],
            short_rows: $c.$short.rows,
        }
    };
}

/// `Element` for one type, from the names of its generated kernels (in the
/// order of the `ElemKernels` fields; instance sets in brackets).
macro_rules! element {
    ($t:ty, $pl:ident, $pr:ident, [$mk:ident, $mn:ident, $m2:ident, $m3:ident, $ms:ident, $mb:ident],
     [$pk:ident, $pn:ident, $p2:ident, $p3:ident, $ps:ident, $pb:ident], $ap:ident,
     [$($sm:ident),*], [$($st:ident),*], [$dt0:ident $(, $dt:ident)*], $shape:ident) => {
        impl Element for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn kernels(t: &Target) -> ElemKernels<Self> {
                let (k, c) = (&t.kernels, &t.consts);
                ElemKernels {
                    pack_lhs: k.$pl,
                    pack_rhs: k.$pr,
                    in_place: micro!(k, c, $mk, $mn, $m2, $m3, $ms, $mb),
                    packed: micro!(k, c, $pk, $pn, $p2, $p3, $ps, $pb),
                    apply: k.$ap,
                    small: [$((c.$sm.rows, k.$sm)),*],
                    small_t: [$((c.$st.rows, k.$st)),*],
                    dot: [k.$dt0 $(, k.$dt)*],
                    dot_rows: c.$dt0.rows,
                }
            }
            fn shape(t: &Target) -> Shape {
                t.shapes.$shape
            }
        }
    };
}

element!(
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

element!(
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
    use super::Element;

    /// What the loops assume of the instance constants they read (the dispatch
    /// table's `consts`; the differential test checks each against the
    /// instance's own): the small blocks shrink to one row; the edge instances
    /// `Micro::for_edge` picks cover 1 to 3 vectors in order and the short one
    /// fewer rows than the tile; the dot-product sums fit the edge tile.
    fn instances_fit_the_loops<T: Element>(t: &crate::Target) {
        let (k, s) = (T::kernels(t), T::shape(t));
        for blocks in [k.small, k.small_t] {
            let rows = blocks.map(|(r, _)| r);
            assert!(
                rows.windows(2).all(|w| w[0] >= w[1]) && rows[3] == 1,
                "{}: {rows:?}",
                t.name
            );
        }
        for m in [k.in_place, k.packed] {
            let [narrow, two, three] = m.vecs;
            assert!(
                1 <= narrow && narrow <= two && two <= three && three <= s.nr / s.lanes,
                "{}",
                t.name
            );
            assert!(m.short_rows < s.mr, "{}", t.name);
        }
        assert!(k.dot_rows >= 1 && k.dot_rows * 4 * s.lanes <= s.mr * s.nr, "{}", t.name);
    }

    #[test]
    fn instance_constants_fit_the_loops() {
        for t in crate::compiled() {
            instances_fit_the_loops::<f32>(t);
            instances_fit_the_loops::<f64>(t);
        }
    }
}
