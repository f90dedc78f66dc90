//! Register-blocked micro-kernels: one `MR` x `NR` tile of C per call.

use crate::vec::{DotVec, FloatVec};
use kernel_macros::kernel;

/// `C = alpha * A * B + beta * C` for one `MR` x `NR` tile, accumulated in registers.
///
/// A is packed as `k` columns of `MR` (`a[p * MR + i]`), B as `k` rows of `NR`
/// (`b[p * NR + j]`, see `base_pack_rhs`). C is row-major with row stride `ldc`.
/// `beta == 0` never reads C. Per step of `k`: `NR / LANES` vector loads of B, `MR`
/// broadcasts of A, `MR * NR / LANES` fused multiply-adds.
///
/// # Safety
/// `a` readable for `k * MR`, `b` for `k * NR` elements; `c` readable and writable
/// for the whole `MR` x `NR` tile.
#[kernel]
pub unsafe fn base_microkernel<V: FloatVec>(
    k: usize,
    alpha: V::Elem,
    a: *const V::Elem,
    b: *const V::Elem,
    beta: V::Elem,
    c: *mut V::Elem,
    ldc: usize,
) {
    let mut acc = V::zero_tile();
    for p in 0..k {
        let ap = a.add(p * V::MR);
        let bp = b.add(p * V::NR);
        #[unroll]
        for i in 0..V::MR {
            let ai = V::broadcast(ap.add(i));
            #[unroll]
            for j in 0..V::NR / V::LANES {
                acc[(i, j)] = V::mul_add(ai, V::load(bp.add(j * V::LANES)), acc[(i, j)]);
            }
        }
    }
    let va = V::splat(alpha);
    if beta == V::ZERO {
        #[unroll]
        for i in 0..V::MR {
            #[unroll]
            for j in 0..V::NR / V::LANES {
                V::store(c.add(i * ldc + j * V::LANES), V::mul(va, acc[(i, j)]));
            }
        }
    } else {
        let vb = V::splat(beta);
        #[unroll]
        for i in 0..V::MR {
            #[unroll]
            for j in 0..V::NR / V::LANES {
                let cij = c.add(i * ldc + j * V::LANES);
                V::store(cij, V::mul_add(vb, V::load(cij), V::mul(va, acc[(i, j)])));
            }
        }
    }
}

/// `C = A * B` (or `C += A * B` when `accumulate`) for one `MR` x `NR` tile of
/// widening dot products: int8 (u8 x i8 -> i32, exact) or bf16 (-> f32), see
/// [`DotVec`].
///
/// The depth is `kd` groups of `DEPTH` (4 bytes, or 2 bf16). A is packed as `kd`
/// groups of `MR` rows of `DEPTH` elements (`a[(p * MR + i) * DEPTH + q]`), B as
/// `kd` groups of `NR` columns of `DEPTH` elements (`b[(p * NR + j) * DEPTH + q]`).
/// C is row-major with row stride `ldc`; without `accumulate` it is written
/// without being read.
///
/// # Safety
/// `a` readable for `kd * MR * DEPTH`, `b` for `kd * NR * DEPTH` elements; `c`
/// readable and writable for the whole `MR` x `NR` tile.
#[kernel]
pub unsafe fn base_microkernel_dot<V: DotVec>(
    kd: usize,
    a: *const V::A,
    b: *const V::B,
    c: *mut V::Acc,
    ldc: usize,
    accumulate: bool,
) {
    let mut acc = V::zero_tile();
    for p in 0..kd {
        let ap = a.add(p * V::MR * V::DEPTH);
        let bp = b.add(p * V::NR * V::DEPTH);
        #[unroll]
        for i in 0..V::MR {
            let ai = V::broadcast_a(ap.add(i * V::DEPTH));
            #[unroll]
            for j in 0..V::NR / V::LANES {
                acc[(i, j)] = V::dot(acc[(i, j)], ai, V::load_b(bp.add(j * V::LANES * V::DEPTH)));
            }
        }
    }
    #[unroll]
    for i in 0..V::MR {
        #[unroll]
        for j in 0..V::NR / V::LANES {
            let cij = c.add(i * ldc + j * V::LANES);
            if accumulate {
                V::store(cij, V::add(V::load(cij), acc[(i, j)]));
            } else {
                V::store(cij, acc[(i, j)]);
            }
        }
    }
}
