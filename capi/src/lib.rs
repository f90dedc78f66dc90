//! The BLAS and CBLAS ABI over gemmkit's GEMM and GEMV.
//!
//! `sgemm_`/`dgemm_` take the reference BLAS arguments (column-major, by
//! reference) and check them in the reference order, numbering errors as it does
//! (TRANSA 1, TRANSB 2, M 3, N 4, K 5, LDA 8, LDB 10, LDC 13). `cblas_sgemm` /
//! `cblas_dgemm` follow the reference CBLAS: an invalid layout or transpose goes to
//! `cblas_xerbla` with CBLAS numbering, and a row-major call is the column-major
//! call with A/B and M/N swapped, so its other errors carry the Fortran numbering
//! of that swapped call. Nothing is written when an argument is invalid.
//!
//! `sgemv_`/`dgemv_` and `cblas_sgemv`/`cblas_dgemv` do the same for GEMV
//! (TRANS 1, M 2, N 3, LDA 6, INCX 8, INCY 11), with negative increments, the
//! reference's quick return, and y never read where beta is 0.
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

/// CBLAS transpose values: no transpose, transpose, conjugate transpose.
fn cblas_trans(t: c_int) -> Option<bool> {
    match t {
        NO_TRANS => Some(false),
        TRANS | CONJ_TRANS => Some(true),
        _ => None,
    }
}

/// The number of the first failing check, taken in the order given (the
/// reference's order for the routine); 0 when every check passes.
fn first_bad(checks: &[(bool, c_int)]) -> c_int {
    checks.iter().find(|&&(bad, _)| bad).map_or(0, |&(_, arg)| arg)
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
    first_bad(&[
        (m < 0, 3),
        (n < 0, 4),
        (k < 0, 5),
        (lda < nrowa.max(1), 8),
        (ldb < nrowb.max(1), 10),
        (ldc < m.max(1), 13),
    ])
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
            let trans = cblas_trans;
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

// ---------------------------------------------------------------------------------
// GEMV.

/// Checks GEMV's arguments in the reference order (TRANS 1, M 2, N 3, LDA 6,
/// INCX 8, INCY 11); the first bad one's number.
fn check_gemv(trans: Option<bool>, m: c_int, n: c_int, lda: c_int, incx: c_int, incy: c_int) -> c_int {
    first_bad(&[
        (trans.is_none(), 1),
        (m < 0, 2),
        (n < 0, 3),
        (lda < m.max(1), 6),
        (incx == 0, 8),
        (incy == 0, 11),
    ])
}

/// A vector of `len` elements `inc` apart as BLAS gives it: from its last
/// element backwards where `inc` is negative. Read forwards in place (the
/// pointer and stride), or copied forwards into `copy` (only where `read`:
/// an unread vector is not copied).
///
/// # Safety
/// `v` holds the vector, as BLAS requires.
unsafe fn forwards<T: Copy>(v: *const T, len: usize, inc: c_int, read: bool, copy: &mut Vec<T>) -> (*const T, usize) {
    let step = inc.unsigned_abs() as usize;
    if inc > 0 {
        return (v, step);
    }
    if read {
        copy.extend((0..len).map(|i| unsafe { *v.add((len - 1 - i) * step) }));
    }
    (copy.as_ptr(), 1)
}

/// A checked column-major `y = alpha * op(A) x + beta * y`, A `m x n`: the GEMM
/// of `op(A)` by x as one column, which takes the GEMV path. The reference's
/// quick return (nothing to do where `m` or `n` is 0, or alpha is 0 and beta
/// 1); `beta == 0` never reads y and `alpha == 0` never reads A or x. A
/// vector with a negative increment is copied forwards first, and y copied
/// back.
#[allow(clippy::too_many_arguments)]
unsafe fn colmajor_gemv<T: Element + From<f32>>(
    trans: bool,
    m: c_int,
    n: c_int,
    alpha: T,
    a: *const T,
    lda: c_int,
    x: *const T,
    incx: c_int,
    beta: T,
    y: *mut T,
    incy: c_int,
) {
    let (zero, one) = (T::from(0.0), T::from(1.0));
    if m == 0 || n == 0 || (alpha == zero && beta == one) {
        return;
    }
    let (m, n, lda) = (m as usize, n as usize, lda as usize);
    let (lenx, leny) = if trans { (m, n) } else { (n, m) };
    // Element (i, p) of op(A): A is column-major with leading dimension lda.
    let (rsa, csa) = if trans { (lda, 1) } else { (1, lda) };
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    let (xp, incx_f) = unsafe { forwards(x, lenx, incx, alpha != zero, &mut xs) };
    if incy < 0 && beta == zero {
        ys.resize(leny, zero);
    }
    let (yp, incy_f) = unsafe { forwards(y.cast_const(), leny, incy, beta != zero, &mut ys) };
    let yp = if incy < 0 { ys.as_mut_ptr() } else { yp.cast_mut() };
    // SAFETY: the caller passed BLAS-conforming buffers for these dimensions.
    unsafe {
        gemmkit::gemm_raw(
            target(),
            &gemmkit::Parallelism::Rayon,
            leny,
            1,
            lenx,
            alpha,
            a,
            rsa,
            csa,
            xp,
            incx_f,
            1,
            beta,
            yp,
            incy_f,
            1,
        )
    };
    if incy < 0 {
        let step = incy.unsigned_abs() as usize;
        for (i, v) in ys.iter().enumerate() {
            unsafe { *y.add((leny - 1 - i) * step) = *v };
        }
    }
}

macro_rules! blas_gemv {
    ($fortran:ident, $cblas:ident, $t:ty, $name:literal, $cname:literal) => {
        /// The reference BLAS routine (column-major, arguments by reference).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $fortran(
            trans: *const c_char,
            m: *const c_int,
            n: *const c_int,
            alpha: *const $t,
            a: *const $t,
            lda: *const c_int,
            x: *const $t,
            incx: *const c_int,
            beta: *const $t,
            y: *mut $t,
            incy: *const c_int,
        ) {
            let t = unsafe { fortran_trans(*trans) };
            let (m, n, lda, incx, incy) = unsafe { (*m, *n, *lda, *incx, *incy) };
            let info = check_gemv(t, m, n, lda, incx, incy);
            if info != 0 {
                return report_fortran($name, info);
            }
            let t = t == Some(true);
            unsafe { colmajor_gemv::<$t>(t, m, n, *alpha, a, lda, x, incx, *beta, y, incy) };
        }

        /// The reference CBLAS routine.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $cblas(
            layout: c_int,
            trans: c_int,
            m: c_int,
            n: c_int,
            alpha: $t,
            a: *const $t,
            lda: c_int,
            x: *const $t,
            incx: c_int,
            beta: $t,
            y: *mut $t,
            incy: c_int,
        ) {
            if layout != ROW_MAJOR && layout != COL_MAJOR {
                return report_cblas(1, $cname);
            }
            let Some(t) = cblas_trans(trans) else {
                return report_cblas(2, $cname);
            };
            // A row-major A is the column-major Aᵀ: the other transpose, M and N swapped.
            let (t, m, n) = if layout == ROW_MAJOR {
                (!t, n, m)
            } else {
                (t, m, n)
            };
            let info = check_gemv(Some(t), m, n, lda, incx, incy);
            if info != 0 {
                return report_fortran($name, info);
            }
            unsafe { colmajor_gemv::<$t>(t, m, n, alpha, a, lda, x, incx, beta, y, incy) };
        }
    };
}

blas_gemv!(sgemv_, cblas_sgemv, f32, b"SGEMV ", c"cblas_sgemv");
blas_gemv!(dgemv_, cblas_dgemv, f64, b"DGEMV ", c"cblas_dgemv");
