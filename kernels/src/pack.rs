//! Packing kernels: copy operand panels into the layout the micro-kernels stream.

use crate::vec::{DotVec, FloatVec};
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

/// Packs an `m` x `k` block of A for the dot-product micro-kernel
/// (`base_microkernel_dot`): panels of `MR` rows, panel `q` at
/// `dst + q * panel_stride`, each `k.div_ceil(DEPTH)` groups of `MR` rows of
/// `DEPTH` elements: element `(i, p)` of the panel at
/// `(p / DEPTH * MR + i) * DEPTH + p % DEPTH`. Rows past `m` and the last
/// group's elements past `k` are zero (`ZERO_A`), so a panel is
/// `k.div_ceil(DEPTH) * MR * DEPTH` elements.
///
/// Element `(i, p)` of A is read from `a + i * rs_a + p * cs_a` and stored as
/// `x ^ flip` (padding stays zero). For s8 x s8 int8 GEMM on the u8 x s8
/// instruction, A's s8 bytes are passed as u8 with `flip = 0x80`, which stores
/// `x + 128` (the runtime compensates with `-128 * colsum(B)`); `flip = 0`
/// copies (u8 A, and bf16).
///
/// With `want_sums`, `sums[q * MR + i]` receives the sum over `p < k` of row
/// `i` of panel `q`'s *true* values as `i32`: `(x ^ flip) - flip` (as `i32`),
/// so the s8 value for `flip = 0x80` and the u8 value for `flip = 0`; rows
/// past `m` get 0, so `m.div_ceil(MR) * MR` sums are written (the runtime's
/// `-b_offset * rowsum(A)` term). Without it `sums` is not touched.
///
/// In whole panels, a row-major A (`cs_a == 1`, the common case) is copied a
/// group of `DEPTH` contiguous elements (32 bits) at a time and then flipped
/// in one contiguous pass, a column-major one (`rs_a == 1`) a group at a time
/// down the panel's `MR` rows; the last panel of a ragged `m` and other
/// layouts go element by element. The sums of a row-major A are taken along
/// its rows, the others' along the packed rows (in L1). Nothing is read
/// outside the `m` x `k` block (figures: BENCHMARKS.md, "Why the code
/// decides as it does", "kernels: dot-product packers").
///
/// # Safety
/// `a` readable at every `(i, p)` with `i < m`, `p < k`; `dst` writable at
/// `q * panel_stride + j` for `q < m.div_ceil(MR)`,
/// `j < k.div_ceil(DEPTH) * MR * DEPTH`; with `want_sums`, `sums` writable for
/// `m.div_ceil(MR) * MR` elements.
#[kernel]
pub unsafe fn base_pack_dot_lhs<V: DotVec>(
    m: usize,
    k: usize,
    a: *const V::A,
    rs_a: usize,
    cs_a: usize,
    dst: *mut V::A,
    panel_stride: usize,
    flip: V::A,
    sums: *mut i32,
    want_sums: bool,
) {
    // Groups of `DEPTH` elements with all of them in `k`, and all groups.
    let whole = k / V::DEPTH;
    let groups = k.div_ceil(V::DEPTH);
    let step = V::MR * V::DEPTH;
    let shift: i32 = flip.into();
    for q in 0..m.div_ceil(V::MR) {
        let rows = (m - q * V::MR).min(V::MR);
        let out = dst.add(q * panel_stride);
        let first = a.add(q * V::MR * rs_a);
        if rs_a == 1 && cs_a != 1 && rows == V::MR {
            // Column-major, a whole panel: each group is `DEPTH` columns of
            // `MR` contiguous rows.
            for g in 0..whole {
                #[unroll]
                for d in 0..V::DEPTH {
                    let col = first.add((g * V::DEPTH + d) * cs_a);
                    #[unroll]
                    for i in 0..V::MR {
                        *out.add(g * step + i * V::DEPTH + d) = *col.add(i) ^ flip;
                    }
                }
            }
        } else if cs_a == 1 && rows == V::MR {
            // Row-major, a whole panel: each group of a row is `DEPTH`
            // contiguous elements, one move (32 bits), then the flip over the
            // groups written, contiguous (so vectorised).
            for g in 0..whole {
                #[unroll]
                for i in 0..V::MR {
                    let src = first.add(i * rs_a + g * V::DEPTH);
                    core::ptr::copy_nonoverlapping(src, out.add(g * step + i * V::DEPTH), V::DEPTH);
                }
            }
            if shift != 0 {
                for x in 0..whole * step {
                    *out.add(x) = *out.add(x) ^ flip;
                }
            }
        } else {
            for i in 0..rows {
                let row = first.add(i * rs_a);
                let po = out.add(i * V::DEPTH);
                if cs_a == 1 {
                    for g in 0..whole {
                        #[unroll]
                        for d in 0..V::DEPTH {
                            *po.add(g * step + d) = *row.add(g * V::DEPTH + d) ^ flip;
                        }
                    }
                } else {
                    for g in 0..whole {
                        #[unroll]
                        for d in 0..V::DEPTH {
                            *po.add(g * step + d) = *row.add((g * V::DEPTH + d) * cs_a) ^ flip;
                        }
                    }
                }
            }
        }
        // The last group's elements past `k`, and the rows past `m`.
        for i in 0..V::MR {
            let po = out.add(i * V::DEPTH);
            let row = first.wrapping_add(i * rs_a);
            let from = if i < rows { whole } else { 0 };
            for g in from..groups {
                #[unroll]
                for d in 0..V::DEPTH {
                    let p = g * V::DEPTH + d;
                    *po.add(g * step + d) = if i < rows && p < k {
                        *row.add(p * cs_a) ^ flip
                    } else {
                        V::ZERO_A
                    };
                }
            }
        }
        if want_sums {
            for i in 0..V::MR {
                let mut sum: i32 = 0;
                if i < rows {
                    if cs_a == 1 {
                        // Along the row of A, which vectorises.
                        let row = first.add(i * rs_a);
                        for p in 0..k {
                            let x: i32 = (*row.add(p * cs_a) ^ flip).into();
                            sum = sum.wrapping_add(x);
                        }
                    } else {
                        // Along the packed row (in L1), not across A's lines.
                        let po = out.add(i * V::DEPTH);
                        for g in 0..groups {
                            #[unroll]
                            for d in 0..V::DEPTH {
                                let x: i32 = (*po.add(g * step + d)).into();
                                sum = sum.wrapping_add(x);
                            }
                        }
                    }
                    sum = sum.wrapping_sub(shift.wrapping_mul(k as i32));
                }
                *sums.add(q * V::MR + i) = sum;
            }
        }
    }
}

/// Packs a `k` x `n` block of B for the dot-product micro-kernel
/// (`base_microkernel_dot`): strips of `NR` columns, strip `s` at
/// `dst + s * strip_stride`, each `k.div_ceil(DEPTH)` groups of `NR` columns of
/// `DEPTH` elements: element `(p, j)` of the strip at
/// `(p / DEPTH * NR + j) * DEPTH + p % DEPTH`. Columns past `n` and the last
/// group's elements past `k` are zero (`ZERO_B`), so a strip is
/// `k.div_ceil(DEPTH) * NR * DEPTH` elements.
///
/// With `want_sums`, `sums[s * NR + j]` receives the sum over `p < k` of
/// column `j` of strip `s` as `i32` (columns past `n` get 0, so
/// `n.div_ceil(NR) * NR` sums are written: the runtime's
/// `-(a_offset) * colsum(B)` term, and `-128 * colsum(B)` for s8 x s8). Without
/// it `sums` is not touched.
///
/// A row-major B (`cs_b == 1`) is read `DEPTH` rows at a time across all the
/// whole strips (and summed along those rows while they are in L1), a
/// column-major one (`rs_b == 1`, as a transposed B or weights stored `n` x
/// `k`) a group of `DEPTH` contiguous elements (32 bits) at a time; the last
/// strip of a ragged `n`, the last group of a ragged `k` and other layouts go
/// element by element. Nothing is read outside the `k` x `n` block (figures:
/// BENCHMARKS.md, "kernels: dot-product packers").
///
/// # Safety
/// `b` readable at every `(p, j)` with `p < k`, `j < n`; `dst` writable at
/// `s * strip_stride + j` for `s < n.div_ceil(NR)`,
/// `j < k.div_ceil(DEPTH) * NR * DEPTH`; with `want_sums`, `sums` writable for
/// `n.div_ceil(NR) * NR` elements.
#[kernel]
pub unsafe fn base_pack_dot_rhs<V: DotVec>(
    k: usize,
    n: usize,
    b: *const V::B,
    rs_b: usize,
    cs_b: usize,
    dst: *mut V::B,
    strip_stride: usize,
    sums: *mut i32,
    want_sums: bool,
) {
    let whole = k / V::DEPTH;
    let groups = k.div_ceil(V::DEPTH);
    let step = V::NR * V::DEPTH;
    let strips = n.div_ceil(V::NR);
    let full = n / V::NR;
    if want_sums {
        for j in 0..strips * V::NR {
            *sums.add(j) = 0;
        }
    }
    let row_major = cs_b == 1 && rs_b != 1;
    if row_major {
        // `DEPTH` rows at a time, across every whole strip, then (while they
        // are in L1) into the sums, along the rows so that it vectorises.
        for g in 0..whole {
            let src = b.add(g * V::DEPTH * rs_b);
            for s in 0..full {
                let out = dst.add(s * strip_stride + g * step);
                let cols = src.add(s * V::NR);
                for j in 0..V::NR {
                    #[unroll]
                    for d in 0..V::DEPTH {
                        *out.add(j * V::DEPTH + d) = *cols.add(d * rs_b + j);
                    }
                }
            }
            if want_sums {
                for j in 0..n {
                    let mut sum = *sums.add(j);
                    #[unroll]
                    for d in 0..V::DEPTH {
                        let x: i32 = (*src.add(d * rs_b + j)).into();
                        sum = sum.wrapping_add(x);
                    }
                    *sums.add(j) = sum;
                }
            }
        }
    } else {
        for s in 0..full {
            let out = dst.add(s * strip_stride);
            for j in 0..V::NR {
                let col = b.add((s * V::NR + j) * cs_b);
                let po = out.add(j * V::DEPTH);
                if rs_b == 1 {
                    // A group is `DEPTH` contiguous elements: one move (32 bits).
                    for g in 0..whole {
                        core::ptr::copy_nonoverlapping(col.add(g * V::DEPTH), po.add(g * step), V::DEPTH);
                    }
                } else {
                    for g in 0..whole {
                        #[unroll]
                        for d in 0..V::DEPTH {
                            *po.add(g * step + d) = *col.add((g * V::DEPTH + d) * rs_b);
                        }
                    }
                }
            }
        }
    }
    // The last strip's columns (those past `n` zero), and in every strip the
    // last group's elements past `k`.
    for s in 0..strips {
        let out = dst.add(s * strip_stride);
        for j in 0..V::NR {
            let c = s * V::NR + j;
            let col = b.wrapping_add(c * cs_b);
            let po = out.add(j * V::DEPTH);
            let from = if s < full { whole } else { 0 };
            for g in from..groups {
                #[unroll]
                for d in 0..V::DEPTH {
                    let p = g * V::DEPTH + d;
                    *po.add(g * step + d) = if c < n && p < k { *col.add(p * rs_b) } else { V::ZERO_B };
                }
            }
        }
    }
    if want_sums {
        if row_major {
            // The rows of the last group.
            for p in whole * V::DEPTH..k {
                let row = b.add(p * rs_b);
                for j in 0..n {
                    let x: i32 = (*row.add(j)).into();
                    *sums.add(j) = (*sums.add(j)).wrapping_add(x);
                }
            }
        } else {
            for j in 0..n {
                let col = b.add(j * cs_b);
                let mut sum: i32 = 0;
                for p in 0..k {
                    let x: i32 = (*col.add(p * rs_b)).into();
                    sum = sum.wrapping_add(x);
                }
                *sums.add(j) = sum;
            }
        }
    }
}

/// Packs a `k` x `n` block of bf16 B (bit patterns) widened to `f32`, in the
/// layout of [`base_pack_rhs`] for the f32 micro-kernel, with each pair of
/// rows swapped: packed row `p` holds B's row `p ^ 1`, and there are
/// `k.div_ceil(2) * 2` packed rows (the last one's pair past `k` zero).
///
/// The f32 micro-kernel then adds, for each pair of k, the odd product first
/// and the even one second, each rounded, from an exact product: the order
/// and rounding of VDPBF16PS (and of every bf16 dot-product emulation,
/// [`DotVec`]). This is how targets without a bf16 dot-product instruction
/// compute bf16 GEMM: widened once per packed element, the products run at
/// the f32 rate instead of widening each operand at every use.
///
/// A row-major B (`cs_b == 1`) is read a row at a time across the whole
/// strips, which vectorises (a widening is a zero-extension and a shift). A
/// column-major one (`rs_b == 1`: weights stored `n x k`, or a transposed
/// A's rows) is read down each column, `DOWN` rows at a time, so that the
/// reads run along memory and the writes of those rows of the strip stay in
/// L1 (read row by row, each row of the strip gathered one element from every
/// column). Other layouts go element by element. Nothing is read outside the
/// `k` x `n` block.
///
/// # Safety
/// `b` readable at every `(p, j)` with `p < k`, `j < n`; `dst` writable at
/// `s * strip_stride + p * NR + j` for `s < n.div_ceil(NR)`,
/// `p < k.div_ceil(2) * 2`, `j < NR`.
#[kernel]
pub unsafe fn base_pack_bf16_rhs<V: FloatVec<Elem = f32>>(
    k: usize,
    n: usize,
    b: *const u16,
    rs_b: usize,
    cs_b: usize,
    dst: *mut f32,
    strip_stride: usize,
) {
    let full = n / V::NR;
    let strips = n.div_ceil(V::NR);
    let kp = k.div_ceil(2) * 2;
    if rs_b == 1 && cs_b != 1 {
        // Rows of a strip in 4 KiB (a pair at the least), in L1 with the
        // lines of the columns they are read from.
        let down = (1024 / V::NR).max(2) / 2 * 2;
        for s in 0..strips {
            let o = dst.add(s * strip_stride);
            let mut p0 = 0;
            while p0 < kp {
                let p1 = (p0 + down).min(kp);
                for j in 0..V::NR {
                    let col = s * V::NR + j;
                    let c = b.wrapping_add(col * cs_b);
                    for p in p0..p1 {
                        // The pair's odd row first (zero past `k`).
                        let src = p ^ 1;
                        *o.add(p * V::NR + j) = if col < n && src < k {
                            f32::from_bits((*c.add(src) as u32) << 16)
                        } else {
                            0.0
                        };
                    }
                }
                p0 = p1;
            }
        }
        return;
    }
    for p in 0..kp {
        // The pair's odd row first (zero past `k`).
        let src = p ^ 1;
        let out = dst.add(p * V::NR);
        let row = b.wrapping_add(src * rs_b);
        let whole = if src < k && cs_b == 1 { full } else { 0 };
        for s in 0..whole {
            let cols = row.add(s * V::NR);
            let o = out.add(s * strip_stride);
            for j in 0..V::NR {
                *o.add(j) = f32::from_bits((*cols.add(j) as u32) << 16);
            }
        }
        for s in whole..strips {
            let o = out.add(s * strip_stride);
            for j in 0..V::NR {
                let col = s * V::NR + j;
                *o.add(j) = if src < k && col < n {
                    f32::from_bits((*row.add(col * cs_b) as u32) << 16)
                } else {
                    0.0
                };
            }
        }
    }
}

/// Packs an `m` x `k` block of bf16 A (bit patterns) widened to `f32` into
/// panels of `MR` rows for the f32 micro-kernel that reads A with strides (as
/// it reads a row-major A in place): panel `q` at `dst + q * panel_stride`,
/// each of its rows contiguous, `ld = panel_stride / MR` elements apart, so
/// that element `(i, p)` of the panel is at `i * ld + p`. Each pair of
/// columns is swapped: packed column `p` holds A's column `p ^ 1`, and there
/// are `k.div_ceil(2) * 2` packed columns (the last one's pair past `k`
/// zero); rows past `m` are zero. With B packed by [`base_pack_bf16_rhs`],
/// the f32 micro-kernel computes in VDPBF16PS's order.
///
/// A row-major A (`cs_a == 1`) is widened a row at a time, contiguous reads
/// and writes, which vectorises (the transposed layout of [`base_pack_lhs`]
/// would write each element `MR` apart); other layouts go element by
/// element. Nothing is read outside the `m` x `k` block.
///
/// # Safety
/// `a` readable at every `(i, p)` with `i < m`, `p < k`; `dst` writable at
/// `q * panel_stride + i * ld + p` for `q < m.div_ceil(MR)`, `i < MR`,
/// `p < k.div_ceil(2) * 2`, with `ld >= k.div_ceil(2) * 2`.
#[kernel]
pub unsafe fn base_pack_bf16_lhs<V: FloatVec<Elem = f32>>(
    m: usize,
    k: usize,
    a: *const u16,
    rs_a: usize,
    cs_a: usize,
    dst: *mut f32,
    panel_stride: usize,
) {
    let ld = panel_stride / V::MR;
    let pairs = k / 2;
    for q in 0..m.div_ceil(V::MR) {
        let rows = (m - q * V::MR).min(V::MR);
        for i in 0..V::MR {
            let o = dst.add(q * panel_stride + i * ld);
            if i < rows {
                let row = a.add((q * V::MR + i) * rs_a);
                // Each pair's odd column first.
                if cs_a == 1 {
                    for g in 0..pairs {
                        *o.add(2 * g) = f32::from_bits((*row.add(2 * g + 1) as u32) << 16);
                        *o.add(2 * g + 1) = f32::from_bits((*row.add(2 * g) as u32) << 16);
                    }
                } else {
                    for g in 0..pairs {
                        *o.add(2 * g) = f32::from_bits((*row.add((2 * g + 1) * cs_a) as u32) << 16);
                        *o.add(2 * g + 1) = f32::from_bits((*row.add(2 * g * cs_a) as u32) << 16);
                    }
                }
                if k % 2 == 1 {
                    *o.add(k - 1) = 0.0;
                    *o.add(k) = f32::from_bits((*row.add((k - 1) * cs_a) as u32) << 16);
                }
            } else {
                for p in 0..k.div_ceil(2) * 2 {
                    *o.add(p) = 0.0;
                }
            }
        }
    }
}
