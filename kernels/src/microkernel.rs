//! Register-blocked micro-kernels: one `MR` x `NR` tile of C per call.

use crate::vec::{DotVec, FloatVec};
use kernel_macros::kernel;

/// `C = alpha * A * B + beta * C` for `ROWS` x `VECS` vectors of one `MR` x `NR`
/// tile, accumulated in registers.
///
/// Twelve instances. `microkernel` computes the whole tile; `microkernel_short`
/// the first `MR / 2` rows, for the last panel of an A block whose height is not
/// a multiple of `MR` (63 rows with AVX-512's `MR` = 6 end in a panel of 3);
/// `microkernel_narrow`, `microkernel_two` and `microkernel_three` the first one,
/// two and three vectors of columns (the whole tile where it has fewer), for the
/// last strip of a B block that is that many vectors wide (AVX-512 f32: 9 to 16,
/// 17 to 32 and 33 to 48 of the 64 columns; a strip of at most half a vector, as
/// 257's one column, takes [`base_dot_edge`] where A is read in place, and the
/// narrow one only for a packed A). Without them the full kernel would spend its
/// time on zero padding: 160 columns computed as 192 (figures: BENCHMARKS.md,
/// "Why the code decides as it does"). Each has a `_packed` twin (`PACKED = 1`)
/// for a packed panel of A, whose strides are fixed (`rs_a == 1`,
/// `cs_a == MR`, see `base_pack_lhs`; the arguments are ignored):
/// it reads A at constant offsets from one pointer, where the others, given the
/// strides at run time, spend an address computation per row and step of `k`
/// (6 of about 45 instructions a step with AVX-512's 6-row tile, 12 with the
/// 12-row tile it had before). The driver uses them for every packed panel (a
/// transposed A, and the ragged last panel of one read in place).
///
/// The last two, `microkernel_pack_b` and its packed twin (`PACK_B = 1`), pack B
/// while they compute the whole tile: they read a row-major B in place (row
/// stride `ldb`, unit column stride) and store each row of the strip they load
/// to `b_pack` as `base_pack_rhs` would, so that the first tile of a strip packs
/// it for the others without a pass of its own. The other instances read a
/// packed strip, write nothing but C, and take `b_pack` and `ldb` as data to
/// fetch for later: each step `p` of `k` fetches the line holding
/// `b_pack[p * ldb]` into L2 (`prefetch_far`; the driver points it at a column
/// of lines of B's next block, which its packing pass then reads from the
/// caches rather than memory). Any address will do (a fetch never faults); the strip itself, with
/// `ldb = NR`, when there is nothing to fetch.
///
/// Element `(i, p)` of A is at `a[i * rs_a + p * cs_a]`: a packed panel or rows of
/// a row-major A read in place (`cs_a == 1`). B is packed as `k` rows of `NR`
/// (`b[p * NR + j]`, see `base_pack_rhs`), or with `PACK_B` in place at
/// `b[p * ldb + j]`. C is row-major with row stride `ldc`.
/// `beta == 0` never reads C. Per step of `k`: `VECS` vector loads of B, `ROWS`
/// broadcasts of A, `ROWS * VECS` fused multiply-adds.
///
/// # Safety
/// `a` readable at `i * rs_a + p * cs_a` for `i < ROWS`, `p < k`; `b` readable for
/// `k * NR` elements (with `PACK_B`, `VECS * LANES` elements of each of `k` rows
/// `ldb` apart, and `b_pack` writable for `k * NR`; without it `b_pack` and
/// `ldb` may be anything); `c` readable and writable
/// for `ROWS` rows of `VECS * LANES`. `ROWS <= MR` and `VECS <= NR / LANES`.
#[kernel(
    microkernel(ROWS = V::MR, VECS = V::NR / V::LANES, PACKED = 0, PACK_B = 0),
    microkernel_short(ROWS = V::MR / 2, VECS = V::NR / V::LANES, PACKED = 0, PACK_B = 0),
    microkernel_narrow(ROWS = V::MR, VECS = 1, PACKED = 0, PACK_B = 0),
    microkernel_two(ROWS = V::MR, VECS = (V::NR / V::LANES).min(2), PACKED = 0, PACK_B = 0),
    microkernel_three(ROWS = V::MR, VECS = (V::NR / V::LANES).min(3), PACKED = 0, PACK_B = 0),
    microkernel_packed(ROWS = V::MR, VECS = V::NR / V::LANES, PACKED = 1, PACK_B = 0),
    microkernel_short_packed(ROWS = V::MR / 2, VECS = V::NR / V::LANES, PACKED = 1, PACK_B = 0),
    microkernel_narrow_packed(ROWS = V::MR, VECS = 1, PACKED = 1, PACK_B = 0),
    microkernel_two_packed(ROWS = V::MR, VECS = (V::NR / V::LANES).min(2), PACKED = 1, PACK_B = 0),
    microkernel_three_packed(ROWS = V::MR, VECS = (V::NR / V::LANES).min(3), PACKED = 1, PACK_B = 0),
    microkernel_pack_b(ROWS = V::MR, VECS = V::NR / V::LANES, PACKED = 0, PACK_B = 1),
    microkernel_pack_b_packed(ROWS = V::MR, VECS = V::NR / V::LANES, PACKED = 1, PACK_B = 1)
)]
pub unsafe fn base_microkernel<
    V: FloatVec,
    const ROWS: usize,
    const VECS: usize,
    const PACKED: usize,
    const PACK_B: usize,
>(
    k: usize,
    alpha: V::Elem,
    a: *const V::Elem,
    rs_a: usize,
    cs_a: usize,
    b: *const V::Elem,
    ldb: usize,
    b_pack: *mut V::Elem,
    beta: V::Elem,
    c: *mut V::Elem,
    ldc: usize,
) {
    let (rs_a, cs_a) = if PACKED == 1 { (1, V::MR) } else { (rs_a, cs_a) };
    // Without `PACK_B`, `b_pack` and `ldb` say what to fetch for later: one
    // line a step of `k`, `ldb` elements apart.
    let (far, far_ld) = (b_pack as *const V::Elem, ldb);
    let ldb = if PACK_B == 1 { ldb } else { V::NR };
    // The C tile is read or written only after the k loop; start fetching it now.
    #[unroll]
    for i in 0..ROWS {
        #[unroll]
        for j in 0..VECS {
            V::prefetch(c.wrapping_add(i * ldc + j * V::LANES));
        }
    }
    let mut acc = V::zero_tile();
    for p in 0..k {
        let ap = a.add(p * cs_a);
        let bp = b.add(p * ldb);
        #[unroll]
        for i in 0..ROWS {
            let ai = V::broadcast(ap.add(i * rs_a));
            #[unroll]
            for j in 0..VECS {
                acc[(i, j)] = V::mul_add(ai, V::load(bp.add(j * V::LANES)), acc[(i, j)]);
            }
        }
        if PACK_B == 0 {
            V::prefetch_far(far.wrapping_add(p * far_ld));
        }
        // After the loads above, so that these are the same loads.
        if PACK_B == 1 {
            #[unroll]
            for j in 0..VECS {
                V::store(b_pack.add(p * V::NR + j * V::LANES), V::load(bp.add(j * V::LANES)));
            }
        }
    }
    let width = V::NR / V::LANES;
    store_tile::<V>(acc, ROWS, VECS, width, alpha, beta, c, ldc, 0, 0, false, 0);
}

/// `C = alpha * acc + beta * C` for a block of `rows` rows of `vecs` vectors
/// laid over the register tile `acc`: vector `v` of row `r` is the tile's slot
/// `r * width + v` and goes to `c + (first + r) * ldc + v * LANES`. Rows with
/// `first + r < skip` are not stored. With `partial` the block is `cols`
/// columns wide (its last vectors partial or left out), otherwise whole.
/// `rows`, `vecs`, `width`, `first` and `partial` must be constants at the call
/// (they shape the unrolled code).
///
/// The epilogue of every kernel that holds its result in a tile. It branches
/// on `alpha` and `beta` once, outside the rows: `beta == 0` never reads C, and
/// `alpha == 1, beta == 0` stores the sums without a multiply (tiny products
/// are mostly this epilogue).
///
/// # Safety
/// `c` readable and writable where the stored rows and columns are.
#[kernel]
unsafe fn store_tile<V: FloatVec>(
    acc: V::Tile,
    rows: usize,
    vecs: usize,
    width: usize,
    alpha: V::Elem,
    beta: V::Elem,
    c: *mut V::Elem,
    ldc: usize,
    first: usize,
    skip: usize,
    partial: bool,
    cols: usize,
) {
    // Vector `v` of row `r` is `V::store(c.add((first + r) * ldc + v * V::LANES), ..)`,
    // or with `partial` the first `(cols - v * V::LANES).min(V::LANES)` lanes
    // of it where there are any (always in the first vector).
    let va = V::splat(alpha);
    if beta == V::ZERO && alpha == V::ONE {
        #[unroll]
        for r in 0..rows {
            if first + r >= skip {
                #[unroll]
                for v in 0..vecs {
                    let cv = c.add((first + r) * ldc + v * V::LANES);
                    if !partial {
                        V::store(cv, acc[r * width + v]);
                    } else if v == 0 || v * V::LANES < cols {
                        V::store_partial(cv, acc[r * width + v], (cols - v * V::LANES).min(V::LANES));
                    }
                }
            }
        }
    } else if beta == V::ZERO {
        #[unroll]
        for r in 0..rows {
            if first + r >= skip {
                #[unroll]
                for v in 0..vecs {
                    let cv = c.add((first + r) * ldc + v * V::LANES);
                    if !partial {
                        V::store(cv, V::mul(va, acc[r * width + v]));
                    } else if v == 0 || v * V::LANES < cols {
                        let n = (cols - v * V::LANES).min(V::LANES);
                        V::store_partial(cv, V::mul(va, acc[r * width + v]), n);
                    }
                }
            }
        }
    } else {
        let vb = V::splat(beta);
        #[unroll]
        for r in 0..rows {
            if first + r >= skip {
                #[unroll]
                for v in 0..vecs {
                    let cv = c.add((first + r) * ldc + v * V::LANES);
                    if !partial {
                        V::store(cv, V::mul_add(vb, V::load(cv), V::mul(va, acc[r * width + v])));
                    } else if v == 0 || v * V::LANES < cols {
                        let n = (cols - v * V::LANES).min(V::LANES);
                        let x = V::mul_add(vb, V::load_partial(cv, n), V::mul(va, acc[r * width + v]));
                        V::store_partial(cv, x, n);
                    }
                }
            }
        }
    }
}

/// `C = A * B + col_comp + row_comp` (or `C += ..` when `accumulate`) for one
/// `MR` x `NR` tile of widening dot products: int8 (u8 x i8 -> i32, exact) or
/// bf16 (-> f32), see [`DotVec`].
///
/// The depth is `kd` groups of `DEPTH` (4 bytes, or 2 bf16). A is packed as `kd`
/// groups of `MR` rows of `DEPTH` elements (`a[(p * MR + i) * DEPTH + q]`, see
/// `base_pack_dot_lhs`), B as `kd` groups of `NR` columns of `DEPTH` elements
/// (`b[(p * NR + j) * DEPTH + q]`, see `base_pack_dot_rhs`). C is row-major with
/// row stride `ldc`; without `accumulate` it is written without being read.
///
/// Four instances. `microkernel_dot_comp` (`COMP = 1`) adds compensation
/// vectors in its epilogue: element `(i, j)` of the tile is
/// `acc + col_comp[j] + row_comp[i]`, then `+ C` with `accumulate` (in that
/// order, which fixes the f32 rounding of `bf16`; `i32` wraps).
/// `microkernel_dot` (`COMP = 0`) adds none and reads neither pointer (any
/// value, null included, will do): its epilogue is a store, or a load, add and
/// store. The `k` loop is the same in both. Their `_row` twins (`ROWS = 1`)
/// compute and write the tile's first row only, from the same packed panel:
/// a one-row product (`m = 1`, a GEMV on a packed B) then streams B with one
/// dot product per vector of B, not `MR`.
///
/// For int8 with oneDNN's offsets, `C = (A - a_off) (B - b_off) + c_off` over
/// a block of `kb` steps of K packed with its sums (`base_pack_dot_lhs` with
/// `flip` 0x80 for s8 A, `base_pack_dot_rhs`) is this kernel with
/// `row_comp[i] = -b_off * rowsum(A)[i] + kb * a_off * b_off (+ c_off once)`
/// and `col_comp[j] = -(a_off + shift) * colsum(B)[j]`, `shift` 128 for s8 A
/// (its packed bytes are `A + 128`) and 0 for u8 A, all wrapping `i32`; a block
/// with no such terms (no offsets, u8 A, after the first) takes `COMP = 0`.
/// `tests/tests/differential.rs` builds a GEMM this way on every target.
///
/// # Safety
/// `a` readable for `kd * MR * DEPTH`, `b` for `kd * NR * DEPTH` elements; `c`
/// readable and writable for `ROWS` rows of the `MR` x `NR` tile; with
/// `COMP = 1` `row_comp` readable for `ROWS` and `col_comp` for `NR` elements.
#[kernel(
    microkernel_dot(COMP = 0, ROWS = V::MR),
    microkernel_dot_comp(COMP = 1, ROWS = V::MR),
    microkernel_dot_row(COMP = 0, ROWS = 1),
    microkernel_dot_comp_row(COMP = 1, ROWS = 1)
)]
pub unsafe fn base_microkernel_dot<V: DotVec, const COMP: usize, const ROWS: usize>(
    kd: usize,
    a: *const V::A,
    b: *const V::B,
    c: *mut V::Acc,
    ldc: usize,
    accumulate: bool,
    row_comp: *const V::Acc,
    col_comp: *const V::Acc,
) {
    let mut acc = V::zero_tile();
    for p in 0..kd {
        let ap = a.add(p * V::MR * V::DEPTH);
        let bp = b.add(p * V::NR * V::DEPTH);
        #[unroll]
        for i in 0..ROWS {
            let ai = V::broadcast_a(ap.add(i * V::DEPTH));
            #[unroll]
            for j in 0..V::NR / V::LANES {
                acc[(i, j)] = V::dot(acc[(i, j)], ai, V::load_b(bp.add(j * V::LANES * V::DEPTH)));
            }
        }
    }
    // The compensations, a column vector at a time (no store comes between
    // the loads, so each row's term is loaded once), then the stores.
    if COMP == 1 {
        #[unroll]
        for j in 0..V::NR / V::LANES {
            let col = V::load(col_comp.add(j * V::LANES));
            #[unroll]
            for i in 0..ROWS {
                acc[(i, j)] = V::add(V::add(acc[(i, j)], col), V::broadcast(row_comp.add(i)));
            }
        }
    }
    #[unroll]
    for i in 0..ROWS {
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

/// `C = alpha * A * B + beta * C` for one block of `ROWS` rows of a small
/// problem, without packing, storing all but the first `skip` rows.
///
/// For sizes where packing would cost as much as the product (all dimensions up
/// to a few dozen). A block is `ROWS` rows by two vectors of columns, held in the
/// micro-kernel's register tile (row `r`, vector `v` in the tile's slot
/// `2 * r + v`, counted row by row), so the tallest block uses the whole tile:
/// `MR * (NR / LANES) / 2` rows, 12 on AVX-512 (6 x 4 and 12 x 2 tiles alike).
/// The runtime walks the rows in blocks, with four instances: `gemm_small` (that
/// many rows), `gemm_small_mid` (two thirds), `gemm_small_low` (a third) and
/// `gemm_small_row` (one row), so that 8 rows on AVX-512 are one block and 64
/// are five blocks of 12 and one of 4. A remainder that no instance fits
/// exactly takes the next larger one, moved up to end at the last row, with
/// `skip` set to the rows it overlaps: those are computed again but not stored,
/// so no row count known only at run time reaches the `k` loop.
///
/// Columns go in blocks of `4 * LANES` while four whole vectors are left and
/// `ROWS` is even, each computed as two halves of `ROWS / 2` rows (slots
/// `4 * r + v`), so that each broadcast of A feeds four multiply-adds, then in
/// blocks of `2 * LANES`. A is broadcast in place from any strides,
/// B and C are read and written in place and must have unit column stride; the
/// ragged last column block uses partial loads and stores. `beta == 0` never
/// reads C.
///
/// The `_t` instances (`COL_A = 1`) are for a column-major A (`rs_a == 1`, the
/// argument ignored, as for a transposed A): a step of k broadcasts the block's
/// rows from adjacent elements at constant offsets, where the others compute a
/// row address per row and step. (A one-row block has no row stride; the
/// runtime uses `gemm_small_row` for both.)
///
/// # Safety
/// `skip < ROWS`; A (`ROWS x k` at `a + i * rs_a + p * cs_a`, `rs_a` 1 with
/// `COL_A`), B (`k x n` at `b + p * rs_b + j`) and C (rows `skip..ROWS` of `n`
/// at `c + i * rs_c + j`) must be valid; C must not overlap A or B.
#[kernel(
    gemm_small(ROWS = V::MR * (V::NR / V::LANES) / 2, COL_A = 0),
    gemm_small_mid(ROWS = V::MR * (V::NR / V::LANES) / 3, COL_A = 0),
    gemm_small_low(ROWS = V::MR * (V::NR / V::LANES) / 6, COL_A = 0),
    gemm_small_row(ROWS = 1, COL_A = 0),
    gemm_small_t(ROWS = V::MR * (V::NR / V::LANES) / 2, COL_A = 1),
    gemm_small_mid_t(ROWS = V::MR * (V::NR / V::LANES) / 3, COL_A = 1),
    gemm_small_low_t(ROWS = V::MR * (V::NR / V::LANES) / 6, COL_A = 1)
)]
pub unsafe fn base_gemm_small<V: FloatVec, const ROWS: usize, const COL_A: usize>(
    skip: usize,
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
    let rs_a = if COL_A == 1 { 1 } else { rs_a };
    let mut j = 0;
    while j < n {
        if ROWS / 2 * 2 == ROWS && ROWS / 2 * 4 + 5 <= V::REGS && n - j >= 4 * V::LANES {
            // Four whole vectors of columns: the block's rows in two halves of
            // `ROWS / 2`, so that a step of k broadcasts one element of A per four
            // multiply-adds instead of two (on AVX-512 6 broadcasts and 5 row
            // addresses per 24, not 12 and 11). Only where the half's
            // accumulators, four vectors of B and a broadcast fit the registers
            // (not AVX2's 16: 17 needed), since spilling costs more than the
            // broadcasts saved (BENCHMARKS.md, "small").
            #[unroll]
            for h in 0..2 {
                let mut acc = V::zero_tile();
                for p in 0..k {
                    let brow = b.add(p * rs_b + j);
                    let b0 = V::load(brow);
                    let b1 = V::load(brow.add(V::LANES));
                    let b2 = V::load(brow.add(2 * V::LANES));
                    let b3 = V::load(brow.add(3 * V::LANES));
                    #[unroll]
                    for r in 0..ROWS / 2 {
                        let ar = V::broadcast(a.add((h * (ROWS / 2) + r) * rs_a + p * cs_a));
                        acc[4 * r] = V::mul_add(ar, b0, acc[4 * r]);
                        acc[4 * r + 1] = V::mul_add(ar, b1, acc[4 * r + 1]);
                        acc[4 * r + 2] = V::mul_add(ar, b2, acc[4 * r + 2]);
                        acc[4 * r + 3] = V::mul_add(ar, b3, acc[4 * r + 3]);
                    }
                }
                let first = h * (ROWS / 2);
                store_tile::<V>(acc, ROWS / 2, 4, 4, alpha, beta, c.add(j), rs_c, first, skip, false, 0);
            }
            j += 4 * V::LANES;
        } else {
            let cols = (n - j).min(2 * V::LANES);
            let c0 = cols.min(V::LANES);
            let c1 = cols - c0;
            let mut acc = V::zero_tile();
            // Four variants of the same loop, so that neither a second vector of
            // zero columns nor a masked load where the vector is whole (masked
            // loads are slower than plain ones) costs anything.
            if c1 == V::LANES {
                for p in 0..k {
                    let brow = b.add(p * rs_b + j);
                    let b0 = V::load(brow);
                    let b1 = V::load(brow.add(V::LANES));
                    #[unroll]
                    for r in 0..ROWS {
                        let ar = V::broadcast(a.add(r * rs_a + p * cs_a));
                        acc[2 * r] = V::mul_add(ar, b0, acc[2 * r]);
                        acc[2 * r + 1] = V::mul_add(ar, b1, acc[2 * r + 1]);
                    }
                }
            } else if c1 > 0 {
                for p in 0..k {
                    let brow = b.add(p * rs_b + j);
                    let b0 = V::load(brow);
                    let b1 = V::load_partial(brow.add(V::LANES), c1);
                    #[unroll]
                    for r in 0..ROWS {
                        let ar = V::broadcast(a.add(r * rs_a + p * cs_a));
                        acc[2 * r] = V::mul_add(ar, b0, acc[2 * r]);
                        acc[2 * r + 1] = V::mul_add(ar, b1, acc[2 * r + 1]);
                    }
                }
            } else if c0 == V::LANES {
                for p in 0..k {
                    let b0 = V::load(b.add(p * rs_b + j));
                    #[unroll]
                    for r in 0..ROWS {
                        let ar = V::broadcast(a.add(r * rs_a + p * cs_a));
                        acc[2 * r] = V::mul_add(ar, b0, acc[2 * r]);
                    }
                }
            } else {
                for p in 0..k {
                    let b0 = V::load_partial(b.add(p * rs_b + j), c0);
                    #[unroll]
                    for r in 0..ROWS {
                        let ar = V::broadcast(a.add(r * rs_a + p * cs_a));
                        acc[2 * r] = V::mul_add(ar, b0, acc[2 * r]);
                    }
                }
            }
            // The second vector only where it has columns: tiny products are
            // mostly this epilogue.
            store_tile::<V>(acc, ROWS, 2, 2, alpha, beta, c.add(j), rs_c, 0, skip, true, cols);
            j += 2 * V::LANES;
        }
    }
}

/// Dot products of `ROWS` rows of A with `COLS` columns of B, both contiguous
/// along `k`, kept lane by lane: `out[(r * COLS + c) * LANES + l]` is the sum
/// over `p` with `p % LANES == l` of `a[r * lda + p] * bt[c * ldbt + p]`. The
/// runtime adds the lanes and applies alpha and beta.
///
/// For the last few columns of a wide B (`n % NR` of at most half a vector, 257
/// columns end in one): the narrow micro-kernel would compute a whole vector of
/// columns there, 16 for 1 with AVX-512 f32, and the dot products compute only
/// the columns there are, reading each row of A (in place) once per call. Four
/// instances, `dot_edge_1` to `dot_edge_4`, one per column count; `ROWS` is a
/// quarter of the tile's slots (6 on AVX-512), so that `ROWS * 4` accumulators
/// fit the tile. The last `k % LANES` elements use partial loads.
///
/// # Safety
/// `a` readable at `r * lda + p` and `bt` at `c * ldbt + p` for `r < ROWS`,
/// `c < COLS`, `p < k`; `out` writable for `ROWS * COLS * LANES` elements.
#[kernel(
    dot_edge_1(ROWS = V::MR * (V::NR / V::LANES) / 4, COLS = 1),
    dot_edge_2(ROWS = V::MR * (V::NR / V::LANES) / 4, COLS = 2),
    dot_edge_3(ROWS = V::MR * (V::NR / V::LANES) / 4, COLS = 3),
    dot_edge_4(ROWS = V::MR * (V::NR / V::LANES) / 4, COLS = 4)
)]
pub unsafe fn base_dot_edge<V: FloatVec, const ROWS: usize, const COLS: usize>(
    k: usize,
    a: *const V::Elem,
    lda: usize,
    bt: *const V::Elem,
    ldbt: usize,
    out: *mut V::Elem,
) {
    let mut acc = V::zero_tile();
    let whole = k / V::LANES;
    for q in 0..whole {
        let p = q * V::LANES;
        #[unroll]
        for r in 0..ROWS {
            let ar = V::load(a.add(r * lda + p));
            #[unroll]
            for c in 0..COLS {
                acc[r * COLS + c] = V::mul_add(ar, V::load(bt.add(c * ldbt + p)), acc[r * COLS + c]);
            }
        }
    }
    let p = whole * V::LANES;
    if p < k {
        let rest = k - p;
        #[unroll]
        for r in 0..ROWS {
            let ar = V::load_partial(a.add(r * lda + p), rest);
            #[unroll]
            for c in 0..COLS {
                let bc = V::load_partial(bt.add(c * ldbt + p), rest);
                acc[r * COLS + c] = V::mul_add(ar, bc, acc[r * COLS + c]);
            }
        }
    }
    #[unroll]
    for r in 0..ROWS {
        #[unroll]
        for c in 0..COLS {
            V::store(out.add((r * COLS + c) * V::LANES), acc[r * COLS + c]);
        }
    }
}
