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
