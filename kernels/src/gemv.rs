//! Matrix-vector products (GEMV, `m == 1`): the matrix streamed once, in
//! either storage order.

use crate::vec::FloatVec;
use kernel_macros::kernel;

/// `y[j] += alpha * sum_p x[p * incx] * w[p * ldw + j]` for `j < n`, `p < k`:
/// the "axpy form" of `y += alpha * x W`, W stored `k x n` with unit stride
/// along `n` (a row-major weight, or a column-major one used transposed).
///
/// Rows of W go in groups of four, so that each vector of y is loaded and
/// stored once per four rows rather than once per row, then one at a time.
/// Each group adds its rows to y in order, row `p` first, by fused
/// multiply-adds: an element of y gets the same operations whatever range of
/// columns a call covers, so the runtime may split the columns between threads
/// without changing a bit of the result. The last `n % LANES` columns use
/// partial loads and stores, which touch nothing past `y + n` or a row's `n`
/// elements.
///
/// # Safety
/// `x` readable at `p * incx` for `p < k`; `w` readable at `p * ldw + j` for
/// `p < k`, `j < n`; `y` readable and writable for `n` elements, and
/// overlapping neither.
#[kernel]
pub unsafe fn base_gemv_axpy<V: FloatVec>(
    k: usize,
    n: usize,
    alpha: V::Elem,
    x: *const V::Elem,
    incx: usize,
    w: *const V::Elem,
    ldw: usize,
    y: *mut V::Elem,
) {
    let va = V::splat(alpha);
    let whole = n - n % V::LANES;
    let rest = n - whole;
    let mut p = 0;
    while p + 4 <= k {
        let x0 = V::mul(va, V::broadcast(x.add(p * incx)));
        let x1 = V::mul(va, V::broadcast(x.add((p + 1) * incx)));
        let x2 = V::mul(va, V::broadcast(x.add((p + 2) * incx)));
        let x3 = V::mul(va, V::broadcast(x.add((p + 3) * incx)));
        let w0 = w.add(p * ldw);
        let w1 = w0.add(ldw);
        let w2 = w1.add(ldw);
        let w3 = w2.add(ldw);
        let mut j = 0;
        while j < whole {
            let mut acc = V::load(y.add(j));
            acc = V::mul_add(x0, V::load(w0.add(j)), acc);
            acc = V::mul_add(x1, V::load(w1.add(j)), acc);
            acc = V::mul_add(x2, V::load(w2.add(j)), acc);
            acc = V::mul_add(x3, V::load(w3.add(j)), acc);
            V::store(y.add(j), acc);
            j += V::LANES;
        }
        if rest > 0 {
            let mut acc = V::load_partial(y.add(whole), rest);
            acc = V::mul_add(x0, V::load_partial(w0.add(whole), rest), acc);
            acc = V::mul_add(x1, V::load_partial(w1.add(whole), rest), acc);
            acc = V::mul_add(x2, V::load_partial(w2.add(whole), rest), acc);
            acc = V::mul_add(x3, V::load_partial(w3.add(whole), rest), acc);
            V::store_partial(y.add(whole), acc, rest);
        }
        p += 4;
    }
    while p < k {
        let x0 = V::mul(va, V::broadcast(x.add(p * incx)));
        let w0 = w.add(p * ldw);
        let mut j = 0;
        while j < whole {
            V::store(y.add(j), V::mul_add(x0, V::load(w0.add(j)), V::load(y.add(j))));
            j += V::LANES;
        }
        if rest > 0 {
            let acc = V::mul_add(
                x0,
                V::load_partial(w0.add(whole), rest),
                V::load_partial(y.add(whole), rest),
            );
            V::store_partial(y.add(whole), acc, rest);
        }
        p += 1;
    }
}

/// Dot products of `ROWS` rows of W with x, both contiguous along `k`, kept
/// lane by lane: `out[r * LANES + l]` is the sum over `p` with `p % LANES ==
/// l` of `w[r * ldw + p] * x[p]` (the "dot form" of `y = W x`, W stored `n x k`
/// with unit stride along `k`, as PyTorch's `Linear` stores its weight). The
/// runtime adds the lanes, lane 0 first, and applies alpha and beta.
///
/// Two accumulators a row, for the even and odd vectors of k (added at the
/// end), so that a step has `2 * ROWS` independent multiply-adds; each step
/// loads two vectors of x once for all rows. Two instances: `gemv_dot`, four
/// rows (fewer where the register tile has fewer than eight slots), and
/// `gemv_dot_row`, one, for the rows left over. The last `k % LANES`
/// elements use partial loads, which read nothing past a row's `k` elements.
///
/// # Safety
/// `w` readable at `r * ldw + p` and `x` at `p` for `r < ROWS`, `p < k`; `out`
/// writable for `ROWS * LANES` elements.
#[kernel(
    gemv_dot(ROWS = (V::MR * (V::NR / V::LANES) / 2).min(4)),
    gemv_dot_row(ROWS = 1)
)]
pub unsafe fn base_gemv_dot<V: FloatVec, const ROWS: usize>(
    k: usize,
    w: *const V::Elem,
    ldw: usize,
    x: *const V::Elem,
    out: *mut V::Elem,
) {
    let mut acc = V::zero_tile();
    let pairs = k - k % (2 * V::LANES);
    let mut p = 0;
    while p < pairs {
        let x0 = V::load(x.add(p));
        let x1 = V::load(x.add(p + V::LANES));
        #[unroll]
        for r in 0..ROWS {
            let wr = w.add(r * ldw + p);
            acc[2 * r] = V::mul_add(V::load(wr), x0, acc[2 * r]);
            acc[2 * r + 1] = V::mul_add(V::load(wr.add(V::LANES)), x1, acc[2 * r + 1]);
        }
        p += 2 * V::LANES;
    }
    if k - p >= V::LANES {
        let x0 = V::load(x.add(p));
        #[unroll]
        for r in 0..ROWS {
            acc[2 * r] = V::mul_add(V::load(w.add(r * ldw + p)), x0, acc[2 * r]);
        }
        p += V::LANES;
    }
    if p < k {
        let rest = k - p;
        let x1 = V::load_partial(x.add(p), rest);
        #[unroll]
        for r in 0..ROWS {
            let wr = V::load_partial(w.add(r * ldw + p), rest);
            acc[2 * r + 1] = V::mul_add(wr, x1, acc[2 * r + 1]);
        }
    }
    #[unroll]
    for r in 0..ROWS {
        V::store(out.add(r * V::LANES), V::add(acc[2 * r], acc[2 * r + 1]));
    }
}
