//! Packing kernels: copy operand panels into the layout the micro-kernels stream.

use crate::vec::FloatVec;
use kernel_macros::kernel;

/// Packs a `k` x `n` strip of B (`n <= NR`) into the micro-kernel layout: `k` rows
/// of `NR` contiguous elements, columns `n..NR` zero-filled.
///
/// Element `(p, j)` of B is read from `b + p * rs_b + j * cs_b`, so a row-major B
/// (`cs_b == 1`) and a column-major B (`rs_b == 1`) are both packed without a copy
/// beforehand. Full row-major strips move whole vectors; a ragged row-major strip
/// uses partial loads; other strides copy element by element.
///
/// # Safety
/// `b` must be readable at every `(p, j)` with `p < k`, `j < n`; `dst` must be
/// writable for `k * NR` elements; `n <= NR`.
#[kernel]
pub unsafe fn base_pack_rhs<V: FloatVec>(
    k: usize,
    n: usize,
    b: *const V::Elem,
    rs_b: usize,
    cs_b: usize,
    dst: *mut V::Elem,
) {
    if cs_b == 1 && n == V::NR {
        for p in 0..k {
            let src = b.add(p * rs_b);
            let out = dst.add(p * V::NR);
            #[unroll]
            for v in 0..V::NR / V::LANES {
                V::store(out.add(v * V::LANES), V::load(src.add(v * V::LANES)));
            }
        }
    } else if cs_b == 1 {
        for p in 0..k {
            let src = b.add(p * rs_b);
            let out = dst.add(p * V::NR);
            #[unroll]
            for v in 0..V::NR / V::LANES {
                let col = v * V::LANES;
                let take = if n > col { (n - col).min(V::LANES) } else { 0 };
                // `wrapping_add`: past the ragged edge the pointer may leave B; nothing is read there.
                V::store(out.add(col), V::load_partial(src.wrapping_add(col), take));
            }
        }
    } else {
        for p in 0..k {
            for j in 0..V::NR {
                *dst.add(p * V::NR + j) = if j < n { *b.add(p * rs_b + j * cs_b) } else { V::ZERO };
            }
        }
    }
}

/// Packs an `m` x `k` block of A (`m <= MR`) into the micro-kernel layout: `k`
/// columns of `MR` contiguous elements (`dst[p * MR + i]`), rows `m..MR`
/// zero-filled.
///
/// Element `(i, p)` of A is read from `a + i * rs_a + p * cs_a`, so row-major,
/// column-major and transposed sources are packed the same way. A column-major
/// source with a full panel copies whole columns at a time.
///
/// # Safety
/// `a` must be readable at every `(i, p)` with `i < m`, `p < k`; `dst` must be
/// writable for `k * MR` elements; `m <= MR`.
#[kernel]
pub unsafe fn base_pack_lhs<V: FloatVec>(
    m: usize,
    k: usize,
    a: *const V::Elem,
    rs_a: usize,
    cs_a: usize,
    dst: *mut V::Elem,
) {
    if rs_a == 1 && m == V::MR {
        for p in 0..k {
            let src = a.add(p * cs_a);
            let out = dst.add(p * V::MR);
            #[unroll]
            for i in 0..V::MR {
                *out.add(i) = *src.add(i);
            }
        }
    } else if m == V::MR {
        for p in 0..k {
            let out = dst.add(p * V::MR);
            #[unroll]
            for i in 0..V::MR {
                *out.add(i) = *a.add(i * rs_a + p * cs_a);
            }
        }
    } else {
        for p in 0..k {
            for i in 0..V::MR {
                *dst.add(p * V::MR + i) = if i < m { *a.add(i * rs_a + p * cs_a) } else { V::ZERO };
            }
        }
    }
}
