//! The BLAS and CBLAS ABI over gemmkit's GEMM.
//!
//! `sgemm_`/`dgemm_` take the reference BLAS arguments (column-major, by
//! reference) and check them in the reference order, numbering errors as it does
//! (TRANSA 1, TRANSB 2, M 3, N 4, K 5, LDA 8, LDB 10, LDC 13). `cblas_sgemm` /
//! `cblas_dgemm` follow the reference CBLAS: an invalid layout or transpose goes to
//! `cblas_xerbla` with CBLAS numbering, and a row-major call is the column-major
//! call with A/B and M/N swapped, so its other errors carry the Fortran numbering
//! of that swapped call. OpenBLAS's `cblas_sbgemm` (bf16 A and B, f32 C) goes
//! through the same checks and reports every error to `cblas_xerbla`, numbered
//! as its own arguments. Beyond the reference, a null or misaligned A, B or C
//! that the call would use is reported by its position (A 7, B 9, C 12) rather
//! than crashing. Nothing is written when an argument is invalid.
//!
//! The oneDNN-style int8 and bf16 GEMMs, which return status codes instead, are
//! in [`onednn`]; MKL's packed f32 GEMM (`cblas_sgemm_pack_get_size`,
//! `cblas_sgemm_pack`, `cblas_sgemm_compute`) is in [`mkl_packed`].
//!
//! `xerbla_` and `cblas_xerbla` are defined here (they print and return) and looked
//! up at run time with `dlsym(RTLD_DEFAULT)`, so a host program's own definitions
//! win, as they do with the reference BLAS.

#![allow(clippy::missing_safety_doc)] // the C header and the BLAS documentation are the contract

use gemmkit::{Element, MatMut, MatRef, Target};
use half::bf16;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::OnceLock;

pub mod mkl_packed;
pub mod onednn;

const ROW_MAJOR: c_int = 101;
const COL_MAJOR: c_int = 102;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;
const CONJ_TRANS: c_int = 113;

/// The target every call runs on: the active one, or the best one if
/// `HWY_TARGET` is unusable (a C caller cannot receive a Rust error; say it once).
fn target() -> &'static Target {
    static TARGET: OnceLock<&'static Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        gemmkit::active().unwrap_or_else(|e| {
            eprintln!("gemmkit-blas: ignoring HWY_TARGET: {e}");
            gemmkit::best()
        })
    })
}

// ---------------------------------------------------------------------------------
// Error reporting.

#[cfg(target_os = "linux")]
unsafe extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// The first definition of `symbol` in the process's global lookup order (the
/// host program before this library), if any.
fn lookup(symbol: &CStr) -> Option<*mut c_void> {
    #[cfg(target_os = "linux")]
    {
        // RTLD_DEFAULT is the null handle on glibc and musl.
        let p = unsafe { dlsym(std::ptr::null_mut(), symbol.as_ptr()) };
        (!p.is_null()).then_some(p)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = symbol;
        None
    }
}

type XerblaFn = unsafe extern "C" fn(*const c_char, *const c_int, usize);
type CblasXerblaFn = unsafe extern "C" fn(c_int, *const c_char, *const c_char, ...);

fn report_fortran(name: &[u8; 6], info: c_int) {
    let f: XerblaFn = match lookup(c"xerbla_") {
        Some(p) => unsafe { std::mem::transmute::<*mut c_void, XerblaFn>(p) },
        None => xerbla_,
    };
    unsafe { f(name.as_ptr().cast(), &info, name.len()) };
}

fn report_cblas(info: c_int, routine: &CStr) {
    match lookup(c"cblas_xerbla") {
        Some(p) => {
            let f = unsafe { std::mem::transmute::<*mut c_void, CblasXerblaFn>(p) };
            unsafe { f(info, routine.as_ptr(), c"".as_ptr()) }
        }
        None => unsafe { cblas_xerbla(info, routine.as_ptr(), c"".as_ptr()) },
    }
}

/// The reference BLAS error handler's message; returns instead of stopping the
/// program. Interposable: a program that defines `xerbla_` replaces it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xerbla_(srname: *const c_char, info: *const c_int, len: usize) {
    let name = if srname.is_null() {
        String::new()
    } else {
        let bytes = unsafe { std::slice::from_raw_parts(srname.cast::<u8>(), len.min(32)) };
        String::from_utf8_lossy(bytes).trim_end().to_string()
    };
    let info = if info.is_null() { 0 } else { unsafe { *info } };
    eprintln!(" ** On entry to {name:<6} parameter number {info:2} had an illegal value");
}

/// The reference CBLAS error handler's message. Interposable like [`xerbla_`].
/// Declared variadic in C; defining C-variadic functions is unstable in Rust, so
/// this takes the named arguments only (the same registers on x86-64 and AArch64).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cblas_xerbla(info: c_int, rout: *const c_char, _form: *const c_char) {
    let rout = if rout.is_null() {
        "?".into()
    } else {
        unsafe { CStr::from_ptr(rout) }.to_string_lossy()
    };
    eprintln!("Parameter {info} to routine {rout} was incorrect");
}

/// Caps the threads GEMM uses (0: all of rayon's global pool, the default unless
/// `GEMMKIT_NUM_THREADS` is set). The same as OpenBLAS's `openblas_set_num_threads`.
#[unsafe(no_mangle)]
pub extern "C" fn gemmkit_set_num_threads(threads: c_int) {
    gemmkit::set_num_threads(threads.max(0) as usize);
}

/// The most threads a GEMM call uses now.
#[unsafe(no_mangle)]
pub extern "C" fn gemmkit_get_num_threads() -> c_int {
    gemmkit::num_threads().min(c_int::MAX as usize) as c_int
}

// ---------------------------------------------------------------------------------
// C buffers as slices.

/// How many elements a strided matrix spans: `lines` rows (or columns) of
/// `len` contiguous elements, `ld` apart. `None` where that is not
/// representable: past `usize`, or more bytes than one object may hold
/// (`isize::MAX`, the bound `slice::from_raw_parts` requires).
pub(crate) fn span<T>(lines: usize, len: usize, ld: usize) -> Option<usize> {
    if lines == 0 || len == 0 {
        return Some(0);
    }
    let n = (lines - 1).checked_mul(ld)?.checked_add(len)?;
    (n.checked_mul(size_of::<T>())? <= isize::MAX as usize).then_some(n)
}

/// Whether `p` can be the start of `len` elements: always for `len == 0` (no
/// element is read, so BLAS lets such a pointer be anything, null included);
/// otherwise not null, aligned, and not wrapping around the address space.
/// What C cannot tell us, that the memory is there, is the caller's contract.
pub(crate) fn usable<T>(p: *const T, len: usize) -> bool {
    len == 0 || (!p.is_null() && p.is_aligned() && (p as usize).checked_add(len * size_of::<T>()).is_some())
}

/// `len` elements at `p`, which [`usable`] accepted; an empty slice for
/// `len == 0`, whatever `p` is (a slice may not be built on null).
///
/// # Safety
/// `p` points to `len` readable elements that nothing writes for `'a`.
pub(crate) unsafe fn slice<'a, T>(p: *const T, len: usize) -> &'a [T] {
    debug_assert!(usable(p, len));
    if len == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(p, len) }
    }
}

/// [`slice`], writable.
///
/// # Safety
/// `p` points to `len` writable elements that nothing else touches for `'a`.
pub(crate) unsafe fn slice_mut<'a, T>(p: *mut T, len: usize) -> &'a mut [T] {
    debug_assert!(usable(p, len));
    if len == 0 {
        &mut []
    } else {
        unsafe { std::slice::from_raw_parts_mut(p, len) }
    }
}

// ---------------------------------------------------------------------------------
// BLAS GEMM: sgemm_, dgemm_ and the CBLAS sgemm, dgemm, sbgemm share one check.

/// Fortran `TRANS` characters: `N`, `T`, `C` in either case.
fn fortran_trans(c: c_char) -> Option<bool> {
    match (c as u8).to_ascii_uppercase() {
        b'N' => Some(false),
        b'T' | b'C' => Some(true),
        _ => None,
    }
}

/// A column-major call that passed the checks: `C = alpha op(A) op(B) + beta C`,
/// with `A` and `B` of type `I` and `C` of type `O`.
struct Colmajor<I, O> {
    ta: bool,
    tb: bool,
    m: usize,
    n: usize,
    k: usize,
    a: *const I,
    lda: usize,
    b: *const I,
    ldb: usize,
    c: *mut O,
    ldc: usize,
}

impl<I, O> Colmajor<I, O> {
    /// Checks a column-major call in the reference order and numbering
    /// (TRANSA 1, TRANSB 2, M 3, N 4, K 5, LDA 8, LDB 10, LDC 13); `Err` is the
    /// first bad argument's number. Beyond the reference, a pointer that cannot
    /// address its operand (null or misaligned) is reported by its position
    /// (A 7, B 9, C 12), since the reference would crash there and nothing may
    /// crash on bad input. That applies where M and N are not 0 and the operand
    /// has elements, even with alpha 0 (where the reference would not read A
    /// and B, but this check does not see alpha).
    #[allow(clippy::too_many_arguments)] // the BLAS argument list
    fn check(
        ta: Option<bool>,
        tb: Option<bool>,
        m: c_int,
        n: c_int,
        k: c_int,
        a: *const I,
        lda: c_int,
        b: *const I,
        ldb: c_int,
        c: *mut O,
        ldc: c_int,
    ) -> Result<Self, c_int> {
        let ta = ta.ok_or(1)?;
        let tb = tb.ok_or(2)?;
        let dim = |x: c_int, info| usize::try_from(x).map_err(|_| info);
        let (m, n, k) = (dim(m, 3)?, dim(n, 4)?, dim(k, 5)?);
        // A is nrowa x ncola in memory: op(A) or its transpose.
        let (nrowa, ncola) = if ta { (k, m) } else { (m, k) };
        let (nrowb, ncolb) = if tb { (n, k) } else { (k, n) };
        let ld = |x: c_int, rows: usize, info| match usize::try_from(x) {
            Ok(x) if x >= rows.max(1) => Ok(x),
            _ => Err(info),
        };
        let (lda, ldb, ldc) = (ld(lda, nrowa, 8)?, ld(ldb, nrowb, 10)?, ld(ldc, m, 13)?);
        // Each operand's extent; one past `usize` is the leading dimension's fault.
        let ok = |p: bool, info| if p { Ok(()) } else { Err(info) };
        let len_a = span::<I>(ncola, nrowa, lda).ok_or(8)?;
        let len_b = span::<I>(ncolb, nrowb, ldb).ok_or(10)?;
        let len_c = span::<O>(n, m, ldc).ok_or(13)?;
        // With M or N zero there is nothing to compute and no operand is read
        // (BLAS returns at once), so A and B may then be anything.
        let empty = m == 0 || n == 0;
        ok(empty || usable(a, len_a), 7)?;
        ok(empty || usable(b, len_b), 9)?;
        ok(usable(c.cast_const(), len_c), 12)?;
        Ok(Colmajor {
            ta,
            tb,
            m,
            n,
            k,
            a,
            lda,
            b,
            ldb,
            c,
            ldc,
        })
    }

    /// The CBLAS entry's checks, as the reference CBLAS makes them: an invalid
    /// layout (1) or transpose (2, 3) goes to `cblas_xerbla` with CBLAS
    /// numbering; a row-major call is the column-major call with A/B and M/N
    /// swapped (row-major C = A B is column-major C^T = B^T A^T). With a
    /// Fortran `name` its other errors go to `xerbla_` with the Fortran
    /// numbering of that swapped call, which is also OpenBLAS's numbering;
    /// without one, to `cblas_xerbla` too, numbered as the caller's arguments
    /// ([`cblas_position`]). `None` once reported.
    #[allow(clippy::too_many_arguments)]
    fn cblas(
        name: Option<&[u8; 6]>,
        cname: &CStr,
        layout: c_int,
        transa: c_int,
        transb: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        a: *const I,
        lda: c_int,
        b: *const I,
        ldb: c_int,
        c: *mut O,
        ldc: c_int,
    ) -> Option<Self> {
        let trans = |t: c_int| match t {
            NO_TRANS => Some(false),
            TRANS | CONJ_TRANS => Some(true),
            _ => None,
        };
        if layout != ROW_MAJOR && layout != COL_MAJOR {
            report_cblas(1, cname);
            return None;
        }
        let (Some(ta), Some(tb)) = (trans(transa), trans(transb)) else {
            report_cblas(if trans(transa).is_none() { 2 } else { 3 }, cname);
            return None;
        };
        let (ta, tb, m, n, a, lda, b, ldb) = if layout == ROW_MAJOR {
            (tb, ta, n, m, b, ldb, a, lda)
        } else {
            (ta, tb, m, n, a, lda, b, ldb)
        };
        Self::check(Some(ta), Some(tb), m, n, k, a, lda, b, ldb, c, ldc)
            .map_err(|info| match name {
                Some(name) => report_fortran(name, info),
                None => report_cblas(cblas_position(info, layout == ROW_MAJOR), cname),
            })
            .ok()
    }
}

/// The CBLAS argument number (layout 1, transa 2, transb 3, m 4, n 5, k 6,
/// alpha 7, a 8, lda 9, b 10, ldb 11, beta 12, c 13, ldc 14) of the argument a
/// column-major check numbered `info` (M 3, N 4, K 5, A 7, LDA 8, B 9, LDB 10,
/// C 12, LDC 13): one more, with A/B and M/N swapped back for row-major.
fn cblas_position(info: c_int, row_major: bool) -> c_int {
    match (info + 1, row_major) {
        (4, true) => 5,
        (5, true) => 4,
        (8, true) => 10,
        (10, true) => 8,
        (9, true) => 11,
        (11, true) => 9,
        (position, _) => position,
    }
}

impl<T: Element> Colmajor<T, T> {
    /// Runs the checked call on gemmkit's GEMM.
    ///
    /// # Safety
    /// The buffers hold what the checked dimensions say (the BLAS contract).
    unsafe fn run(self, alpha: T, beta: T) {
        // Element (i, p) of op(A): A is column-major with leading dimension lda.
        let (rsa, csa) = if self.ta { (self.lda, 1) } else { (1, self.lda) };
        let (rsb, csb) = if self.tb { (self.ldb, 1) } else { (1, self.ldb) };
        let (m, n, k) = (self.m, self.n, self.k);
        // SAFETY: the caller's contract, and `check` refused unusable pointers.
        unsafe {
            gemmkit::gemm_raw(
                target(),
                &gemmkit::Parallelism::Rayon,
                m,
                n,
                k,
                alpha,
                self.a,
                rsa,
                csa,
                self.b,
                rsb,
                csb,
                beta,
                self.c,
                1,
                self.ldc,
            )
        };
    }
}

impl Colmajor<bf16, f32> {
    /// Runs the checked call on gemmkit's bf16 GEMM (checked views: it has no
    /// raw entry point).
    ///
    /// # Safety
    /// As [`Colmajor::run`].
    unsafe fn run_bf16(self, alpha: f32, beta: f32) {
        let (m, n, k) = (self.m, self.n, self.k);
        // Nothing to compute, and `check` let A and B be anything (null too,
        // which no slice may be built on).
        if m == 0 || n == 0 {
            return;
        }
        // `check` computed these spans already; they fit.
        let view = |p, t: bool, rows, cols, ld| {
            let (nrow, ncol) = if t { (cols, rows) } else { (rows, cols) };
            let data = unsafe { slice(p, span::<bf16>(ncol, nrow, ld).unwrap_or(0)) };
            let stored = MatRef::col_major_ld(data, nrow, ncol, ld);
            if t { stored.t() } else { stored }
        };
        let (a, b) = (
            view(self.a, self.ta, m, k, self.lda),
            view(self.b, self.tb, k, n, self.ldb),
        );
        let c = unsafe { slice_mut(self.c, span::<f32>(n, m, self.ldc).unwrap_or(0)) };
        let c = MatMut::col_major_ld(c, m, n, self.ldc);
        // Unreachable after `check` (the views are in bounds and C does not
        // overlap itself); a C caller cannot receive the error, so say it.
        if let Err(e) = gemmkit::gemm_bf16_with(target(), &gemmkit::Parallelism::Rayon, alpha, a, b, beta, c) {
            eprintln!("gemmkit-blas: sbgemm: {e}");
        }
    }
}

macro_rules! blas_gemm {
    ($fortran:ident, $cblas:ident, $t:ty, $name:literal, $cname:literal) => {
        /// The reference BLAS routine (column-major, arguments by reference).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $fortran(
            transa: *const c_char,
            transb: *const c_char,
            m: *const c_int,
            n: *const c_int,
            k: *const c_int,
            alpha: *const $t,
            a: *const $t,
            lda: *const c_int,
            b: *const $t,
            ldb: *const c_int,
            beta: *const $t,
            c: *mut $t,
            ldc: *const c_int,
        ) {
            let (ta, tb) = unsafe { (fortran_trans(*transa), fortran_trans(*transb)) };
            let (m, n, k, lda, ldb, ldc) = unsafe { (*m, *n, *k, *lda, *ldb, *ldc) };
            match Colmajor::check(ta, tb, m, n, k, a, lda, b, ldb, c, ldc) {
                Ok(call) => unsafe { call.run(*alpha, *beta) },
                Err(info) => report_fortran($name, info),
            }
        }

        /// The reference CBLAS routine.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $cblas(
            layout: c_int,
            transa: c_int,
            transb: c_int,
            m: c_int,
            n: c_int,
            k: c_int,
            alpha: $t,
            a: *const $t,
            lda: c_int,
            b: *const $t,
            ldb: c_int,
            beta: $t,
            c: *mut $t,
            ldc: c_int,
        ) {
            let call = Colmajor::cblas(
                Some($name),
                $cname,
                layout,
                transa,
                transb,
                m,
                n,
                k,
                a,
                lda,
                b,
                ldb,
                c,
                ldc,
            );
            if let Some(call) = call {
                unsafe { call.run(alpha, beta) };
            }
        }
    };
}

blas_gemm!(sgemm_, cblas_sgemm, f32, b"SGEMM ", c"cblas_sgemm");
blas_gemm!(dgemm_, cblas_dgemm, f64, b"DGEMM ", c"cblas_dgemm");

/// OpenBLAS's `cblas_sbgemm`: bf16 A and B (`bfloat16`, the raw 16 bits; the
/// same ABI as `half::bf16`), f32 alpha, beta and C, products and sums in f32.
/// Arguments are checked as for `cblas_sgemm`, and every error goes to
/// `cblas_xerbla`, numbered as this function's arguments (there is no
/// reference BLAS routine, hence no Fortran numbering, for it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cblas_sbgemm(
    layout: c_int,
    transa: c_int,
    transb: c_int,
    m: c_int,
    n: c_int,
    k: c_int,
    alpha: f32,
    a: *const bf16,
    lda: c_int,
    b: *const bf16,
    ldb: c_int,
    beta: f32,
    c: *mut f32,
    ldc: c_int,
) {
    let call = Colmajor::cblas(
        None,
        c"cblas_sbgemm",
        layout,
        transa,
        transb,
        m,
        n,
        k,
        a,
        lda,
        b,
        ldb,
        c,
        ldc,
    );
    if let Some(call) = call {
        unsafe { call.run_bf16(alpha, beta) };
    }
}
