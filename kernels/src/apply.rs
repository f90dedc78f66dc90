//! Output kernels: move a packed result tile into C.

use crate::vec::FloatVec;
use kernel_macros::kernel;

/// `C = alpha * P + beta * C` for an `m` x `n` tile.
///
/// P is a packed tile with row stride `ldp`; C has row stride `ldc` and unit column
/// stride. BLAS semantics: `beta == 0` never reads C, so NaN or garbage in C cannot
/// leak into the result. The common cases take their own loop: `alpha == 1,
/// beta == 0` is a copy, `alpha == 1, beta == 1` an accumulate.
///
/// # Safety
/// `p` must be readable and `c` readable and writable at every `(i, j)` with
/// `i < m`, `j < n`.
#[kernel]
pub unsafe fn base_apply_packed_output<V: FloatVec>(
    m: usize,
    n: usize,
    alpha: V::Elem,
    p: *const V::Elem,
    ldp: usize,
    beta: V::Elem,
    c: *mut V::Elem,
    ldc: usize,
) {
    let full = n - n % V::LANES;
    let tail = n - full;
    let va = V::splat(alpha);
    let vb = V::splat(beta);
    if beta == V::ZERO && alpha == V::ONE {
        for i in 0..m {
            let (src, dst) = (p.add(i * ldp), c.add(i * ldc));
            let mut j = 0;
            while j < full {
                V::store(dst.add(j), V::load(src.add(j)));
                j += V::LANES;
            }
            if tail > 0 {
                V::store_partial(dst.add(full), V::load_partial(src.add(full), tail), tail);
            }
        }
    } else if beta == V::ZERO {
        for i in 0..m {
            let (src, dst) = (p.add(i * ldp), c.add(i * ldc));
            let mut j = 0;
            while j < full {
                V::store(dst.add(j), V::mul(va, V::load(src.add(j))));
                j += V::LANES;
            }
            if tail > 0 {
                let x = V::load_partial(src.add(full), tail);
                V::store_partial(dst.add(full), V::mul(va, x), tail);
            }
        }
    } else if alpha == V::ONE && beta == V::ONE {
        for i in 0..m {
            let (src, dst) = (p.add(i * ldp), c.add(i * ldc));
            let mut j = 0;
            while j < full {
                V::store(dst.add(j), V::add(V::load(dst.add(j)), V::load(src.add(j))));
                j += V::LANES;
            }
            if tail > 0 {
                let x = V::load_partial(src.add(full), tail);
                let y = V::load_partial(dst.add(full), tail);
                V::store_partial(dst.add(full), V::add(y, x), tail);
            }
        }
    } else {
        for i in 0..m {
            let (src, dst) = (p.add(i * ldp), c.add(i * ldc));
            let mut j = 0;
            while j < full {
                let x = V::mul(va, V::load(src.add(j)));
                V::store(dst.add(j), V::mul_add(vb, V::load(dst.add(j)), x));
                j += V::LANES;
            }
            if tail > 0 {
                let x = V::mul(va, V::load_partial(src.add(full), tail));
                let y = V::load_partial(dst.add(full), tail);
                V::store_partial(dst.add(full), V::mul_add(vb, y, x), tail);
            }
        }
    }
}
