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
/// stop: packing a 4096-wide f64 B ran at 4.5 GB/s that way, 45% of a
/// sequential read). Full strips move whole vectors, the last one partial
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

/// Packs an `m` x `k` block of A (`m <= MR`) into the micro-kernel layout: `MR`
/// rows of `k` contiguous elements (`dst[i * k + p]`), rows `m..MR` zero-filled.
///
/// Element `(i, p)` of A is read from `a + i * rs_a + p * cs_a`. Rows of a
/// row-major source (`cs_a == 1`: row-major A, and the Fortran column-major case,
/// which runs as the transposed product) are copied as whole vectors with a
/// partial tail. A column-major source (`rs_a == 1`: a transposed A) is read a
/// column at a time, its `m` elements side by side: read a row at a time, every
/// element would come from another line (and, for a tall A, another page).
/// Other strides are copied element by element.
///
/// # Safety
/// `a` must be readable at every `(i, p)` with `i < m`, `p < k`; `dst` must be
/// writable for `MR * k` elements; `m <= MR`.
#[kernel]
pub unsafe fn base_pack_lhs<V: FloatVec>(
    m: usize,
    k: usize,
    a: *const V::Elem,
    rs_a: usize,
    cs_a: usize,
    dst: *mut V::Elem,
) {
    let full = k - k % V::LANES;
    for i in m..V::MR {
        let out = dst.add(i * k);
        for p in 0..k {
            *out.add(p) = V::ZERO;
        }
    }
    if cs_a == 1 {
        for i in 0..m {
            let (src, out) = (a.add(i * rs_a), dst.add(i * k));
            let mut p = 0;
            while p < full {
                V::store(out.add(p), V::load(src.add(p)));
                p += V::LANES;
            }
            if full < k {
                V::store_partial(out.add(full), V::load_partial(src.add(full), k - full), k - full);
            }
        }
    } else if rs_a == 1 {
        for p in 0..k {
            let src = a.add(p * cs_a);
            #[unroll]
            for i in 0..V::MR {
                if i < m {
                    *dst.add(i * k + p) = *src.add(i);
                }
            }
        }
    } else {
        for i in 0..m {
            for p in 0..k {
                *dst.add(i * k + p) = *a.add(i * rs_a + p * cs_a);
            }
        }
    }
}
