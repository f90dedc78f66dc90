//! The BLAS and CBLAS ABI over gemmkit's GEMM.
//!
//! `sgemm_`/`dgemm_` take the reference BLAS arguments (column-major, by
//! reference) and check them in the reference order, numbering errors as it does
//! (TRANSA 1, TRANSB 2, M 3, N 4, K 5, LDA 8, LDB 10, LDC 13). `cblas_sgemm` /
//! `cblas_dgemm` follow the reference CBLAS: an invalid layout or transpose goes to
//! `cblas_xerbla` with CBLAS numbering, and a row-major call is the column-major
//! call with A/B and M/N swapped, so its other errors carry the Fortran numbering
//! of that swapped call. Nothing is written when an argument is invalid.
//!
//! `xerbla_` and `cblas_xerbla` are defined here (they print and return) and looked
//! up at run time with `dlsym(RTLD_DEFAULT)`, so a host program's own definitions
//! win, as they do with the reference BLAS.

#![allow(clippy::missing_safety_doc)] // the C header and the BLAS documentation are the contract

use gemmkit::{Element, Target};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::OnceLock;

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
// GEMM.

/// Fortran `TRANS` characters: `N`, `T`, `C` in either case.
fn fortran_trans(c: c_char) -> Option<bool> {
    match (c as u8).to_ascii_uppercase() {
        b'N' => Some(false),
        b'T' | b'C' => Some(true),
        _ => None,
    }
}

/// Checks the arguments in the reference order; the first bad one's number.
#[allow(clippy::too_many_arguments)] // the BLAS argument list
fn check(
    ta: Option<bool>,
    tb: Option<bool>,
    m: c_int,
    n: c_int,
    k: c_int,
    lda: c_int,
    ldb: c_int,
    ldc: c_int,
) -> c_int {
    let (Some(ta), Some(tb)) = (ta, tb) else {
        return if ta.is_none() { 1 } else { 2 };
    };
    let nrowa = if ta { k } else { m };
    let nrowb = if tb { n } else { k };
    if m < 0 {
        3
    } else if n < 0 {
        4
    } else if k < 0 {
        5
    } else if lda < nrowa.max(1) {
        8
    } else if ldb < nrowb.max(1) {
        10
    } else if ldc < m.max(1) {
        13
    } else {
        0
    }
}

/// A checked column-major call: `C = alpha * op(A) * op(B) + beta * C`.
#[allow(clippy::too_many_arguments)]
unsafe fn colmajor<T: Element>(
    ta: bool,
    tb: bool,
    m: c_int,
    n: c_int,
    k: c_int,
    alpha: T,
    a: *const T,
    lda: c_int,
    b: *const T,
    ldb: c_int,
    beta: T,
    c: *mut T,
    ldc: c_int,
) {
    let (m, n, k) = (m as usize, n as usize, k as usize);
    let (lda, ldb, ldc) = (lda as usize, ldb as usize, ldc as usize);
    // Element (i, p) of op(A): A is column-major with leading dimension lda.
    let (rsa, csa) = if ta { (lda, 1) } else { (1, lda) };
    let (rsb, csb) = if tb { (ldb, 1) } else { (1, ldb) };
    // SAFETY: the caller passed BLAS-conforming buffers for these dimensions.
    unsafe {
        gemmkit::gemm_raw(
            target(),
            &gemmkit::Parallelism::Rayon,
            m,
            n,
            k,
            alpha,
            a,
            rsa,
            csa,
            b,
            rsb,
            csb,
            beta,
            c,
            1,
            ldc,
        )
    };
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
            let info = check(ta, tb, m, n, k, lda, ldb, ldc);
            if info != 0 {
                report_fortran($name, info);
                return;
            }
            let (ta, tb) = (ta == Some(true), tb == Some(true));
            unsafe { colmajor::<$t>(ta, tb, m, n, k, *alpha, a, lda, b, ldb, *beta, c, ldc) };
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
            let trans = |t: c_int| match t {
                NO_TRANS => Some(false),
                TRANS | CONJ_TRANS => Some(true),
                _ => None,
            };
            if layout != ROW_MAJOR && layout != COL_MAJOR {
                return report_cblas(1, $cname);
            }
            let (Some(ta), Some(tb)) = (trans(transa), trans(transb)) else {
                return report_cblas(if trans(transa).is_none() { 2 } else { 3 }, $cname);
            };
            // Row-major C = A B is column-major C^T = B^T A^T: swap A/B and M/N.
            let (ta, tb, m, n, a, lda, b, ldb) = if layout == ROW_MAJOR {
                (tb, ta, n, m, b, ldb, a, lda)
            } else {
                (ta, tb, m, n, a, lda, b, ldb)
            };
            let info = check(Some(ta), Some(tb), m, n, k, lda, ldb, ldc);
            if info != 0 {
                report_fortran($name, info);
                return;
            }
            unsafe { colmajor::<$t>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) };
        }
    };
}

blas_gemm!(sgemm_, cblas_sgemm, f32, b"SGEMM ", c"cblas_sgemm");
blas_gemm!(dgemm_, cblas_dgemm, f64, b"DGEMM ", c"cblas_dgemm");
