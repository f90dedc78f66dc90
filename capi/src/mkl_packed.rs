//! MKL's packed GEMM for f32: `cblas_sgemm_pack_get_size`, `cblas_sgemm_pack`
//! and `cblas_sgemm_compute` with MKL's signatures and enum values
//! (`CblasAMatrix` 161, `CblasBMatrix` 162, `CblasPacked` 151), on the
//! runtime's packed B ([`gemmkit::PackedB::pack_into`]).
//!
//! The buffer `dest` the caller allocates (of `cblas_sgemm_pack_get_size`
//! bytes) holds, from its start:
//! - this module's header, 64 bytes: a magic, the identifier, `alpha`,
//!   the GEMM's `m`, `n`, `k` and the bytes of the runtime's part;
//! - the runtime's packed B, which describes itself (target, dimensions,
//!   blocks of k, offsets; no pointers) and aligns its data to 64 bytes
//!   inside the buffer, wherever `dest` starts.
//!
//! Packed B is `op(B)` (`k x n`). Packed A is `op(A)ᵀ` (`k x m`), the B of the
//! transposed product `Cᵀ = op(B)ᵀ op(A)ᵀ`, computed with C's strides swapped.
//! What is packed is the operand as the GEMM sees it, not its storage, so a
//! buffer does not depend on the layout it was packed with.
//!
//! `alpha` is recorded in the header and passed to the GEMM as its alpha
//! (the product of both where both operands are packed) rather than
//! multiplied into the packed elements: the runtime's packer stays the one
//! `PackedB` uses, no pass over the data scales it, and the result is rounded
//! as `cblas_sgemm`'s (alpha times each sum) rather than from rounded scaled
//! elements.

use super::{COL_MAJOR, CONJ_TRANS, NO_TRANS, ROW_MAJOR, TRANS, report_cblas, slice, slice_mut, span, target, usable};
use gemmkit::{MatMut, MatRef, PackedB, PackedBRef, Parallelism};
use std::ffi::{CStr, c_int};

/// `CblasPacked` (MKL's `CBLAS_STORAGE`).
const PACKED: c_int = 151;
/// `CblasAMatrix` and `CblasBMatrix` (MKL's `CBLAS_IDENTIFIER`).
const A_MATRIX: c_int = 161;
const B_MATRIX: c_int = 162;

/// This module's header at the start of a packed buffer: `MAGIC`, then as
/// little-endian u32 the identifier and `alpha`'s bits, then as u64 `m`, `n`,
/// `k` and the bytes of the runtime's part, which starts at `HEADER`.
const HEADER: usize = 64;
const MAGIC: [u8; 8] = *b"gkSPACK1";

const PACK: &CStr = c"cblas_sgemm_pack";
const COMPUTE: &CStr = c"cblas_sgemm_compute";

/// What `cblas_sgemm_pack` recorded.
struct Header {
    identifier: c_int,
    alpha: f32,
    m: usize,
    n: usize,
    k: usize,
    bytes: usize,
}

/// A non-negative dimension.
fn dim(x: c_int) -> Option<usize> {
    usize::try_from(x).ok()
}

/// The packed operand's `(k, columns)`: `op(B)` is `k x n`, `op(A)ᵀ` `k x m`.
fn packed_dims(identifier: c_int, m: usize, n: usize, k: usize) -> (usize, usize) {
    if identifier == A_MATRIX { (k, m) } else { (k, n) }
}

/// The bytes of the runtime's part for a packed operand of the GEMM `m, n, k`.
fn runtime_bytes(identifier: c_int, m: usize, n: usize, k: usize) -> Option<usize> {
    let (rows, cols) = packed_dims(identifier, m, n, k);
    PackedB::<f32>::bytes_needed(target(), rows, cols).ok()
}

/// Bytes `cblas_sgemm_pack` needs in `dest` for `identifier`'s operand of
/// the GEMM `m x n x k`; 0 for an invalid identifier or a negative dimension.
#[unsafe(no_mangle)]
pub extern "C" fn cblas_sgemm_pack_get_size(identifier: c_int, m: c_int, n: c_int, k: c_int) -> usize {
    let (Some(m), Some(n), Some(k)) = (dim(m), dim(n), dim(k)) else {
        return 0;
    };
    if identifier != A_MATRIX && identifier != B_MATRIX {
        return 0;
    }
    runtime_bytes(identifier, m, n, k)
        .and_then(|b| b.checked_add(HEADER))
        .filter(|&b| b <= isize::MAX as usize)
        .unwrap_or(0)
}

/// The stored `rows x cols` of an operand whose `op` is `rows x cols`, and
/// the least leading dimension for `layout`.
fn stored(layout: c_int, trans: bool, rows: usize, cols: usize) -> (usize, usize, usize) {
    let (sr, sc) = if trans { (cols, rows) } else { (rows, cols) };
    let least = if layout == ROW_MAJOR { sc } else { sr };
    (sr, sc, least.max(1))
}

/// Elements an `sr x sc` matrix spans in `layout` with leading dimension `ld`.
fn stored_span(layout: c_int, sr: usize, sc: usize, ld: usize) -> Option<usize> {
    if layout == ROW_MAJOR {
        span::<f32>(sr, sc, ld)
    } else {
        span::<f32>(sc, sr, ld)
    }
}

/// `op(X)` (`rows x cols`) of a checked operand at `p`.
///
/// # Safety
/// `p` holds the `len` elements [`stored_span`] gave, unwritten meanwhile.
unsafe fn op_view<'a>(
    layout: c_int,
    trans: bool,
    rows: usize,
    cols: usize,
    p: *const f32,
    ld: usize,
    len: usize,
) -> MatRef<'a, f32> {
    let (sr, sc, _) = stored(layout, trans, rows, cols);
    let data = unsafe { slice(p, len) };
    let stored = if layout == ROW_MAJOR {
        MatRef::row_major_ld(data, sr, sc, ld)
    } else {
        MatRef::col_major_ld(data, sr, sc, ld)
    };
    if trans { stored.t() } else { stored }
}

/// MKL's `cblas_sgemm_pack`: packs `alpha * op(src)` for `identifier`'s
/// operand of the GEMM `m x n x k` (`op(A)` is `m x k`, `op(B)` `k x n`) into
/// `dest`, which holds `cblas_sgemm_pack_get_size(identifier, m, n, k)`
/// bytes. Errors go to `cblas_xerbla`, numbered as these arguments (layout 1,
/// identifier 2, trans 3, m 4, n 5, k 6, src 8, ld 9, dest 10), with nothing
/// written.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cblas_sgemm_pack(
    layout: c_int,
    identifier: c_int,
    trans: c_int,
    m: c_int,
    n: c_int,
    k: c_int,
    alpha: f32,
    src: *const f32,
    ld: c_int,
    dest: *mut f32,
) {
    let fail = |info| report_cblas(info, PACK);
    if layout != ROW_MAJOR && layout != COL_MAJOR {
        return fail(1);
    }
    if identifier != A_MATRIX && identifier != B_MATRIX {
        return fail(2);
    }
    let t = match trans {
        NO_TRANS => false,
        TRANS | CONJ_TRANS => true,
        _ => return fail(3),
    };
    let (Some(m), Some(n), Some(k)) = (dim(m), dim(n), dim(k)) else {
        return fail(if m < 0 {
            4
        } else if n < 0 {
            5
        } else {
            6
        });
    };
    // op(src): A is m x k, B is k x n.
    let (rows, cols) = if identifier == A_MATRIX { (m, k) } else { (k, n) };
    let (sr, sc, least) = stored(layout, t, rows, cols);
    let Some(ld) = dim(ld).filter(|&ld| ld >= least) else {
        return fail(9);
    };
    let Some(len) = stored_span(layout, sr, sc, ld) else {
        return fail(9);
    };
    if !usable(src, len) {
        return fail(8);
    }
    let Some(bytes) = runtime_bytes(identifier, m, n, k) else {
        return fail(if identifier == A_MATRIX { 4 } else { 5 });
    };
    if !usable(dest.cast_const(), 1) {
        return fail(10);
    }
    // SAFETY: the caller's contract (src holds op(src) as the arguments say,
    // dest the bytes get_size gave); both checked usable.
    let view = unsafe { op_view(layout, t, rows, cols, src, ld, len) };
    let dest = unsafe { slice_mut(dest.cast::<u8>(), HEADER + bytes) };
    // The runtime packs a B: op(B), or op(A)ᵀ.
    let b = if identifier == A_MATRIX { view.t() } else { view };
    let (head, rest) = dest.split_at_mut(HEADER);
    if let Err(e) = PackedB::pack_into(target(), b, rest) {
        // Unreachable after the checks above; a C caller cannot receive it.
        eprintln!("gemmkit-blas: cblas_sgemm_pack: {e}");
        return;
    }
    head.fill(0);
    head[..8].copy_from_slice(&MAGIC);
    head[8..12].copy_from_slice(&(identifier as u32).to_le_bytes());
    head[12..16].copy_from_slice(&alpha.to_bits().to_le_bytes());
    for (i, v) in [m, n, k, bytes].into_iter().enumerate() {
        head[16 + 8 * i..24 + 8 * i].copy_from_slice(&(v as u64).to_le_bytes());
    }
}

/// Reads the header of a packed buffer at `p` (not null, aligned for f32).
///
/// # Safety
/// `p` points to `HEADER` readable bytes (a buffer `cblas_sgemm_pack` wrote,
/// which the caller promises by passing `CblasPacked`).
unsafe fn read_header(p: *const f32) -> Option<Header> {
    let h = unsafe { slice(p.cast::<u8>(), HEADER) };
    if h[..8] != MAGIC {
        return None;
    }
    let u32_at = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let u64_at = |at: usize| usize::try_from(u64::from_le_bytes(h[at..at + 8].try_into().ok()?)).ok();
    Some(Header {
        identifier: u32_at(8) as c_int,
        alpha: f32::from_bits(u32_at(12)),
        m: u64_at(16)?,
        n: u64_at(24)?,
        k: u64_at(32)?,
        bytes: u64_at(40)?,
    })
}

/// The packed operand at `p`, passed as `identifier`'s for the GEMM
/// `m x n x k`: its alpha and the runtime's view, or `None` where it is not
/// one `cblas_sgemm_pack` made for this operand with these dimensions on
/// this target.
///
/// # Safety
/// As [`read_header`], and the buffer holds the bytes its header records.
unsafe fn packed_operand<'a>(
    p: *const f32,
    identifier: c_int,
    m: usize,
    n: usize,
    k: usize,
) -> Option<(f32, PackedBRef<'a, f32>)> {
    if !usable(p, 1) {
        return None;
    }
    let h = unsafe { read_header(p)? };
    // Only the dimensions the packed operand has must match: a packed B
    // serves any m, a packed A any n (as weights serve any batch).
    let same = if identifier == A_MATRIX {
        (h.m, h.k) == (m, k)
    } else {
        (h.k, h.n) == (k, n)
    };
    if h.identifier != identifier || !same {
        return None;
    }
    let bytes = unsafe { slice(p.cast::<u8>().add(HEADER), h.bytes) };
    let packed = PackedBRef::<f32>::from_bytes(bytes).ok()?;
    let (rows, cols) = packed_dims(identifier, m, n, k);
    (packed.target() == target().name && (packed.k(), packed.n()) == (rows, cols)).then_some((h.alpha, packed))
}

/// MKL's `cblas_sgemm_compute`: `C := op(A) * op(B) + beta * C`, where
/// `transa`/`transb` are a `CBLAS_TRANSPOSE` or `CblasPacked` (the operand is
/// a buffer `cblas_sgemm_pack` made for it, with the alpha it recorded; its
/// `lda`/`ldb` are ignored). Errors go to `cblas_xerbla`, numbered as these
/// arguments (layout 1, transa 2, transb 3, m 4, n 5, k 6, a 7, lda 8, b 9,
/// ldb 10, c 12, ldc 13), with nothing written; a packed operand made for
/// another operand, other dimensions or another target is an error of its
/// own argument (a 7, b 9).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cblas_sgemm_compute(
    layout: c_int,
    transa: c_int,
    transb: c_int,
    m: c_int,
    n: c_int,
    k: c_int,
    a: *const f32,
    lda: c_int,
    b: *const f32,
    ldb: c_int,
    beta: f32,
    c: *mut f32,
    ldc: c_int,
) {
    let fail = |info| report_cblas(info, COMPUTE);
    if layout != ROW_MAJOR && layout != COL_MAJOR {
        return fail(1);
    }
    // None: packed; Some(transposed).
    let op = |t: c_int| match t {
        NO_TRANS => Some(Some(false)),
        TRANS | CONJ_TRANS => Some(Some(true)),
        PACKED => Some(None),
        _ => None,
    };
    let Some(ta) = op(transa) else { return fail(2) };
    let Some(tb) = op(transb) else { return fail(3) };
    let (Some(mu), Some(nu), Some(ku)) = (dim(m), dim(n), dim(k)) else {
        return fail(if m < 0 {
            4
        } else if n < 0 {
            5
        } else {
            6
        });
    };
    let (m, n, k) = (mu, nu, ku);
    // An unpacked operand's leading dimension and extent.
    let operand = |t: Option<bool>, rows, cols, ld: c_int, info| -> Result<Option<(usize, usize)>, c_int> {
        let Some(t) = t else { return Ok(None) };
        let (sr, sc, least) = stored(layout, t, rows, cols);
        let ld = dim(ld).filter(|&ld| ld >= least).ok_or(info)?;
        Ok(Some((ld, stored_span(layout, sr, sc, ld).ok_or(info)?)))
    };
    let (a_ld, b_ld) = match (operand(ta, m, k, lda, 8), operand(tb, k, n, ldb, 10)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(info), _) | (_, Err(info)) => return fail(info),
    };
    // C is m x n: row-major (ldc, 1) strides, column-major (1, ldc).
    let Some(ldc) = dim(ldc).filter(|&ld| ld >= if layout == ROW_MAJOR { n } else { m }.max(1)) else {
        return fail(13);
    };
    let Some(len_c) = stored_span(layout, m, n, ldc) else {
        return fail(13);
    };
    // As BLAS: with M or N zero nothing is read or written.
    let empty = m == 0 || n == 0;
    let (pa, pb) = if empty {
        (None, None)
    } else {
        // SAFETY: the caller's contract: a CblasPacked operand is a buffer
        // cblas_sgemm_pack wrote; the others hold what the arguments say.
        let pa = match (ta, a_ld) {
            (None, _) => match unsafe { packed_operand(a, A_MATRIX, m, n, k) } {
                Some(p) => Some(p),
                None => return fail(7),
            },
            (_, Some((_, len))) if !usable(a, len) => return fail(7),
            _ => None,
        };
        let pb = match (tb, b_ld) {
            (None, _) => match unsafe { packed_operand(b, B_MATRIX, m, n, k) } {
                Some(p) => Some(p),
                None => return fail(9),
            },
            (_, Some((_, len))) if !usable(b, len) => return fail(9),
            _ => None,
        };
        (pa, pb)
    };
    if !usable(c.cast_const(), len_c) {
        return fail(12);
    }
    if empty {
        return;
    }
    let c = unsafe { slice_mut(c, len_c) };
    let c = if layout == ROW_MAJOR {
        MatMut::row_major_ld(c, m, n, ldc)
    } else {
        MatMut::col_major_ld(c, m, n, ldc)
    };
    let view = |t: Option<bool>, ld: Option<(usize, usize)>, p, rows, cols| {
        let (ld, len) = ld.unwrap_or((1, 0));
        // SAFETY: checked usable above for its extent.
        unsafe { op_view(layout, t.unwrap_or(false), rows, cols, p, ld, len) }
    };
    let par = Parallelism::Rayon;
    let result = match (pa, pb) {
        // op(B) packed: C = alpha_b * op(A) * op(B) + beta * C.
        (None, Some((alpha, pb))) => {
            gemmkit::gemm_packed_with(target(), &par, alpha, view(ta, a_ld, a, m, k), pb, beta, c)
        }
        // op(A)ᵀ packed: Cᵀ = alpha_a * op(B)ᵀ * op(A)ᵀ + beta * Cᵀ.
        (Some((alpha, pa)), None) => {
            let bt = view(tb, b_ld, b, k, n).t();
            gemmkit::gemm_packed_with(target(), &par, alpha, bt, pa, beta, c.t())
        }
        // Both packed: op(A) unpacked into a temporary (the product reads
        // one operand unpacked), alpha the product of both.
        (Some((alpha_a, pa)), Some((alpha_b, pb))) => {
            let mut tmp = vec![0.0f32; m * k];
            // op(A)ᵀ (k x m) into a row-major m x k op(A).
            let unpacked = pa.unpack(MatMut::col_major(&mut tmp, k, m));
            unpacked.and_then(|()| {
                let av = MatRef::row_major(&tmp, m, k);
                gemmkit::gemm_packed_with(target(), &par, alpha_a * alpha_b, av, pb, beta, c)
            })
        }
        // Neither packed: an sgemm with alpha 1, as the formula says.
        (None, None) => {
            let (av, bv) = (view(ta, a_ld, a, m, k), view(tb, b_ld, b, k, n));
            gemmkit::gemm_with(target(), &par, 1.0, av, bv, beta, c)
        }
    };
    if let Err(e) = result {
        // Unreachable after the checks above; a C caller cannot receive it.
        eprintln!("gemmkit-blas: cblas_sgemm_compute: {e}");
    }
}
