//! Matrix-vector products of the dot-product families (int8, bf16): the
//! weights streamed once, read in place.

use crate::vec::DotVec;
use kernel_macros::kernel;

/// Dot products of `ROWS` rows of W with x, both contiguous along `k`, kept
/// lane by lane: `out[r * LANES + l]` is the sum over the vectors `v < kv` of
/// lane `l` of `dot(x[v], w_r[v])`, where a vector is `LANES * DEPTH`
/// elements and lane `l` holds its elements `l * DEPTH ..`: the "dot form" of
/// `y = W x` with W stored `n x k` (PyTorch's `Linear`), x as the
/// instruction's A operand (`u8`, or `bf16`) and W as its B (`i8`, or
/// `bf16`). With `SUMS = 1` the kernel also leaves each row's element sums of
/// W in `sums[r * LANES + l]` (the same lanes, as dot products with `ones`,
/// `DEPTH` ones of A's type), which int8 needs for its offsets. The runtime
/// adds the lanes, lane 0 first, and the `k % (LANES * DEPTH)` elements past
/// the last whole vector.
///
/// One accumulator a row (each step is one dot product a row for one load of
/// W, far more than memory delivers): four instances, `gemv_dotprod` (four
/// rows) and `gemv_dotprod_row` (one, for the rows left over), and their `_sums`
/// twins.
///
/// # Safety
/// `x` readable for `kv * LANES * DEPTH` elements, `w` at `r * ldw + e` for
/// `r < ROWS`, `e < kv * LANES * DEPTH`; `out` (and with `SUMS`, `sums`)
/// writable for `ROWS * LANES` elements; with `SUMS`, `ones` readable for
/// `DEPTH` elements.
#[kernel(
    gemv_dotprod(ROWS = 4, SUMS = 0),
    gemv_dotprod_row(ROWS = 1, SUMS = 0),
    gemv_dotprod_sums(ROWS = 4, SUMS = 1),
    gemv_dotprod_sums_row(ROWS = 1, SUMS = 1)
)]
pub unsafe fn base_gemv_dotprod<V: DotVec, const ROWS: usize, const SUMS: usize>(
    kv: usize,
    x: *const V::A,
    w: *const V::B,
    ldw: usize,
    ones: *const V::A,
    out: *mut V::Acc,
    sums: *mut V::Acc,
) {
    let step = V::LANES * V::DEPTH;
    // Row `r`'s dot products in slot `(r, 0)` of the register tile, its sums
    // in `(r, 1)` (every target's tile has at least four rows of two vectors).
    let mut acc = V::zero_tile();
    for v in 0..kv {
        let xv = V::load_a(x.add(v * step));
        #[unroll]
        for r in 0..ROWS {
            // The same place four groups of rows on (the caller's rows, in
            // order; past W's end it is only an address): rows of a few
            // hundred bytes are too short for the hardware's prefetchers to
            // reach full speed on.
            V::prefetch_far(w.wrapping_add((r + 4 * ROWS) * ldw + v * step));
            let wv = V::load_b(w.add(r * ldw + v * step));
            acc[(r, 0)] = V::dot(acc[(r, 0)], xv, wv);
            if SUMS == 1 {
                acc[(r, 1)] = V::dot(acc[(r, 1)], V::broadcast_a(ones), wv);
            }
        }
    }
    #[unroll]
    for r in 0..ROWS {
        V::store(out.add(r * V::LANES), acc[(r, 0)]);
        if SUMS == 1 {
            V::store(sums.add(r * V::LANES), acc[(r, 1)]);
        }
    }
}
