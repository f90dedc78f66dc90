//! Register-blocked micro-kernels: one `MR` x `NR` tile of C per call.

use crate::vec::{DotVec, FloatVec};
use kernel_macros::kernel;

/// `C = alpha * A * B + beta * C` for one `MR` x `NR` tile, accumulated in registers.
///
/// A is `MR` rows of `k` with row stride `rs_a` (`a[i * rs_a + p]`): a packed
/// panel (`rs_a == k`, see `base_pack_lhs`) or rows of a row-major A read in
/// place. B is packed as `k` rows of `NR` (`b[p * NR + j]`, see `base_pack_rhs`). C is row-major with row stride `ldc`.
/// `beta == 0` never reads C. Per step of `k`: `NR / LANES` vector loads of B, `MR`
/// broadcasts of A, `MR * NR / LANES` fused multiply-adds.
///
/// # Safety
/// `a` readable at `i * rs_a + p` for `i < MR`, `p < k`; `b` readable for `k * NR`
/// elements; `c` readable and writable for the whole `MR` x `NR` tile.
#[kernel]
pub unsafe fn base_microkernel<V: FloatVec>(
    k: usize,
    alpha: V::Elem,
    a: *const V::Elem,
    rs_a: usize,
    b: *const V::Elem,
    beta: V::Elem,
    c: *mut V::Elem,
    ldc: usize,
) {
    // The C tile is read or written only after the k loop; start fetching it now.
    #[unroll]
    for i in 0..V::MR {
        #[unroll]
        for j in 0..V::NR / V::LANES {
            V::prefetch(c.wrapping_add(i * ldc + j * V::LANES));
        }
    }
    let mut acc = V::zero_tile();
    for p in 0..k {
        let ap = a.add(p);
        let bp = b.add(p * V::NR);
        #[unroll]
        for i in 0..V::MR {
            let ai = V::broadcast(ap.add(i * rs_a));
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

/// [`base_microkernel`] for a panel of A with at most `MR / 2` rows: an
/// `MR / 2` x `NR` tile.
///
/// For the last panel of an A block whose height is not a multiple of `MR` (64
/// rows with `MR` = 12 end in a panel of 4), where the full kernel would spend
/// twice the work or more on zero rows. A and B are as for [`base_microkernel`];
/// only the first `MR / 2` rows of A are read and of C written.
///
/// # Safety
/// `a` readable at `i * rs_a + p` for `i < MR / 2`, `p < k`; `b` readable for
/// `k * NR` elements; `c` readable and writable for `MR / 2` rows of `NR`.
#[kernel]
pub unsafe fn base_microkernel_short<V: FloatVec>(
    k: usize,
    alpha: V::Elem,
    a: *const V::Elem,
    rs_a: usize,
    b: *const V::Elem,
    beta: V::Elem,
    c: *mut V::Elem,
    ldc: usize,
) {
    #[unroll]
    for i in 0..V::MR / 2 {
        #[unroll]
        for j in 0..V::NR / V::LANES {
            V::prefetch(c.wrapping_add(i * ldc + j * V::LANES));
        }
    }
    let mut acc = V::zero_tile();
    for p in 0..k {
        let ap = a.add(p);
        let bp = b.add(p * V::NR);
        #[unroll]
        for i in 0..V::MR / 2 {
            let ai = V::broadcast(ap.add(i * rs_a));
            #[unroll]
            for j in 0..V::NR / V::LANES {
                acc[(i, j)] = V::mul_add(ai, V::load(bp.add(j * V::LANES)), acc[(i, j)]);
            }
        }
    }
    let va = V::splat(alpha);
    if beta == V::ZERO {
        #[unroll]
        for i in 0..V::MR / 2 {
            #[unroll]
            for j in 0..V::NR / V::LANES {
                V::store(c.add(i * ldc + j * V::LANES), V::mul(va, acc[(i, j)]));
            }
        }
    } else {
        let vb = V::splat(beta);
        #[unroll]
        for i in 0..V::MR / 2 {
            #[unroll]
            for j in 0..V::NR / V::LANES {
                let cij = c.add(i * ldc + j * V::LANES);
                V::store(cij, V::mul_add(vb, V::load(cij), V::mul(va, acc[(i, j)])));
            }
        }
    }
}

/// [`base_microkernel`] for a strip of B at most one vector wide: an `MR` x
/// `LANES` tile.
///
/// For the last strip of a B block whose width is not a multiple of `NR` (a
/// 257-column B ends in a strip of 1), where the full kernel would spend
/// `NR / LANES` times the work on zero padding. B is packed as for
/// [`base_microkernel`] (`b[p * NR + j]`); only its first `LANES` columns are
/// read, and only the first `LANES` columns of C are written. Per step of `k`:
/// one vector load of B, `MR` broadcasts of A, `MR` fused multiply-adds.
///
/// # Safety
/// `a` readable at `i * rs_a + p` for `i < MR`, `p < k`; `b` readable for `k * NR`
/// elements; `c` readable and writable for `MR` rows of `LANES`.
#[kernel]
pub unsafe fn base_microkernel_narrow<V: FloatVec>(
    k: usize,
    alpha: V::Elem,
    a: *const V::Elem,
    rs_a: usize,
    b: *const V::Elem,
    beta: V::Elem,
    c: *mut V::Elem,
    ldc: usize,
) {
    #[unroll]
    for i in 0..V::MR {
        V::prefetch(c.wrapping_add(i * ldc));
    }
    let mut acc = V::zero_tile();
    for p in 0..k {
        let ap = a.add(p);
        let b0 = V::load(b.add(p * V::NR));
        #[unroll]
        for i in 0..V::MR {
            acc[(i, 0)] = V::mul_add(V::broadcast(ap.add(i * rs_a)), b0, acc[(i, 0)]);
        }
    }
    let va = V::splat(alpha);
    if beta == V::ZERO {
        #[unroll]
        for i in 0..V::MR {
            V::store(c.add(i * ldc), V::mul(va, acc[(i, 0)]));
        }
    } else {
        let vb = V::splat(beta);
        #[unroll]
        for i in 0..V::MR {
            let ci = c.add(i * ldc);
            V::store(ci, V::mul_add(vb, V::load(ci), V::mul(va, acc[(i, 0)])));
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

/// `C = alpha * A * B + beta * C` for a whole small problem, without packing.
///
/// For sizes where packing would cost as much as the product (all dimensions up
/// to a few dozen). Blocks of `MR` rows x `2 * LANES` columns accumulate in
/// registers (part of the micro-kernel's tile); A is broadcast in place from any
/// strides, B and C are read and written in place and must have unit column
/// stride; ragged edges use partial loads and stores. `beta == 0` never reads C.
///
/// # Safety
/// A (`m x k` at `a + i * rs_a + p * cs_a`), B (`k x n` at `b + p * rs_b + j`) and
/// C (`m x n` at `c + i * rs_c + j`) must be valid; C must not overlap A or B.
#[kernel]
pub unsafe fn base_gemm_small<V: FloatVec>(
    m: usize,
    n: usize,
    k: usize,
    alpha: V::Elem,
    a: *const V::Elem,
    rs_a: usize,
    cs_a: usize,
    b: *const V::Elem,
    rs_b: usize,
    beta: V::Elem,
    c: *mut V::Elem,
    rs_c: usize,
) {
    let va = V::splat(alpha);
    let vb = V::splat(beta);
    let mut i = 0;
    while i < m {
        let rows = m - i;
        let mut j = 0;
        while j < n {
            let cols = (n - j).min(2 * V::LANES);
            let c0 = cols.min(V::LANES);
            let c1 = cols - c0;
            let mut acc = V::zero_tile();
            // Four variants of the same loop, so that neither a per-row test nor
            // a second vector of zero columns costs anything in the common cases.
            if c1 == 0 && rows >= V::MR {
                for p in 0..k {
                    let b0 = V::load_partial(b.add(p * rs_b + j), c0);
                    #[unroll]
                    for r in 0..V::MR {
                        let ar = V::broadcast(a.add((i + r) * rs_a + p * cs_a));
                        acc[(r, 0)] = V::mul_add(ar, b0, acc[(r, 0)]);
                    }
                }
            } else if c1 == 0 {
                for p in 0..k {
                    let b0 = V::load_partial(b.add(p * rs_b + j), c0);
                    #[unroll]
                    for r in 0..V::MR {
                        if r < rows {
                            let ar = V::broadcast(a.add((i + r) * rs_a + p * cs_a));
                            acc[(r, 0)] = V::mul_add(ar, b0, acc[(r, 0)]);
                        }
                    }
                }
            } else if rows >= V::MR {
                for p in 0..k {
                    let brow = b.add(p * rs_b + j);
                    let b0 = V::load_partial(brow, c0);
                    let b1 = V::load_partial(brow.wrapping_add(V::LANES), c1);
                    #[unroll]
                    for r in 0..V::MR {
                        let ar = V::broadcast(a.add((i + r) * rs_a + p * cs_a));
                        acc[(r, 0)] = V::mul_add(ar, b0, acc[(r, 0)]);
                        acc[(r, 1)] = V::mul_add(ar, b1, acc[(r, 1)]);
                    }
                }
            } else {
                for p in 0..k {
                    let brow = b.add(p * rs_b + j);
                    let b0 = V::load_partial(brow, c0);
                    let b1 = V::load_partial(brow.wrapping_add(V::LANES), c1);
                    #[unroll]
                    for r in 0..V::MR {
                        if r < rows {
                            let ar = V::broadcast(a.add((i + r) * rs_a + p * cs_a));
                            acc[(r, 0)] = V::mul_add(ar, b0, acc[(r, 0)]);
                            acc[(r, 1)] = V::mul_add(ar, b1, acc[(r, 1)]);
                        }
                    }
                }
            }
            // Stores split by beta outside the row loop, and the second vector
            // only where it has columns: tiny products are mostly this epilogue.
            if beta == V::ZERO {
                #[unroll]
                for r in 0..V::MR {
                    if r < rows {
                        let crow = c.add((i + r) * rs_c + j);
                        V::store_partial(crow, V::mul(va, acc[(r, 0)]), c0);
                        if c1 > 0 {
                            V::store_partial(crow.wrapping_add(V::LANES), V::mul(va, acc[(r, 1)]), c1);
                        }
                    }
                }
            } else {
                #[unroll]
                for r in 0..V::MR {
                    if r < rows {
                        let crow = c.add((i + r) * rs_c + j);
                        let x0 = V::mul_add(vb, V::load_partial(crow, c0), V::mul(va, acc[(r, 0)]));
                        V::store_partial(crow, x0, c0);
                        if c1 > 0 {
                            let crow1 = crow.wrapping_add(V::LANES);
                            let x1 = V::mul_add(vb, V::load_partial(crow1, c1), V::mul(va, acc[(r, 1)]));
                            V::store_partial(crow1, x1, c1);
                        }
                    }
                }
            }
            j += 2 * V::LANES;
        }
        i += V::MR;
    }
}
