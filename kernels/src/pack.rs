//! Packing kernels: copy operand panels into the layout the micro-kernels stream.

use crate::vec::FloatVec;
use kernel_macros::kernel;

/// Packs a `k` x `n` block of B into the micro-kernel layout: strips of `NR`
/// columns, strip `s` at `dst + s * strip_stride`, each `k` rows of `NR`
/// contiguous elements; the columns of the last strip past `n` are zero-filled.
///
/// Element `(p, j)` of B is read from `b + p * rs_b + j * cs_b`, so a row-major B
/// (`cs_b == 1`) and a column-major B (`rs_b == 1`) are both packed without a copy
/// beforehand. A row-major B is read row by row across all the strips, so each
/// read is as long as the block is wide (a strip at a time reads `NR` elements
/// per row, one row per page when B is wide, where the hardware prefetchers
/// stop; see BENCHMARKS.md, "Why the code decides as it does"). Full strips move whole vectors, the last one partial
/// loads; other strides copy element by element.
///
/// # Safety
/// `b` must be readable at every `(p, j)` with `p < k`, `j < n`; `dst` must be
/// writable at `s * strip_stride + p * NR + j` for `s < n.div_ceil(NR)`, `p < k`,
/// `j < NR`.
#[kernel]
pub unsafe fn base_pack_rhs<V: FloatVec>(
    k: usize,
    n: usize,
    b: *const V::Elem,
    rs_b: usize,
    cs_b: usize,
    dst: *mut V::Elem,
    strip_stride: usize,
) {
    let full = n / V::NR;
    if cs_b == 1 {
        for p in 0..k {
            let src = b.add(p * rs_b);
            let out = dst.add(p * V::NR);
            for s in 0..full {
                #[unroll]
                for v in 0..V::NR / V::LANES {
                    let col = s * V::NR + v * V::LANES;
                    V::store(out.add(s * strip_stride + v * V::LANES), V::load(src.add(col)));
                }
            }
            if full * V::NR < n {
                let last = out.add(full * strip_stride);
                #[unroll]
                for v in 0..V::NR / V::LANES {
                    let col = full * V::NR + v * V::LANES;
                    let take = if n > col { (n - col).min(V::LANES) } else { 0 };
                    // `wrapping_add`: past the ragged edge the pointer may leave B; nothing is read there.
                    V::store(last.add(v * V::LANES), V::load_partial(src.wrapping_add(col), take));
                }
            }
        }
    } else {
        for s in 0..n.div_ceil(V::NR) {
            let out = dst.add(s * strip_stride);
            for p in 0..k {
                for j in 0..V::NR {
                    let col = s * V::NR + j;
                    *out.add(p * V::NR + j) = if col < n {
                        *b.add(p * rs_b + col * cs_b)
                    } else {
                        V::ZERO
                    };
                }
            }
        }
    }
}

/// Packs an `m` x `k` block of A into the micro-kernel layout: panels of `MR`
/// rows, panel `q` at `dst + q * panel_stride`, each `k` columns of `MR`
/// contiguous elements (`(i, p)` of the panel at `p * MR + i`, as BLIS packs);
/// the rows of the last panel past `m` are zero-filled.
///
/// Element `(i, p)` of A is read from `a + i * rs_a + p * cs_a`. A column-major
/// source (`rs_a == 1`: a transposed A, the common case, since a row-major A is
/// read in place) is copied a column of a panel at a time, as vectors, down a
/// tile of `LANES` columns at a time, so both the reads and the writes stream.
/// Other sources (the ragged last panel of a row-major A, general strides) are
/// copied element by element.
///
/// # Safety
/// `a` must be readable at every `(i, p)` with `i < m`, `p < k`; `dst` must be
/// writable at `q * panel_stride + p * MR + i` for `q < m.div_ceil(MR)`,
/// `p < k`, `i < MR`.
#[kernel]
pub unsafe fn base_pack_lhs<V: FloatVec>(
    m: usize,
    k: usize,
    a: *const V::Elem,
    rs_a: usize,
    cs_a: usize,
    dst: *mut V::Elem,
    panel_stride: usize,
) {
    let panels = m.div_ceil(V::MR);
    if rs_a == 1 {
        let mut p0 = 0;
        while p0 < k {
            let cols = (k - p0).min(V::LANES);
            for q in 0..panels {
                let rows = (m - q * V::MR).min(V::MR);
                for p in p0..p0 + cols {
                    let (src, out) = (a.add(p * cs_a + q * V::MR), dst.add(q * panel_stride + p * V::MR));
                    #[unroll]
                    for v in 0..V::MR.div_ceil(V::LANES) {
                        let row = v * V::LANES;
                        let take = if rows > row { (rows - row).min(V::LANES) } else { 0 };
                        let room = (V::MR - row).min(V::LANES);
                        // `wrapping_add`: past the last row the pointer may leave A; nothing is read there.
                        V::store_partial(out.add(row), V::load_partial(src.wrapping_add(row), take), room);
                    }
                }
            }
            p0 += V::LANES;
        }
    } else {
        for q in 0..panels {
            let rows = (m - q * V::MR).min(V::MR);
            let out = dst.add(q * panel_stride);
            for p in 0..k {
                for i in 0..V::MR {
                    *out.add(p * V::MR + i) = if i < rows {
                        *a.add((q * V::MR + i) * rs_a + p * cs_a)
                    } else {
                        V::ZERO
                    };
                }
            }
        }
    }
}
