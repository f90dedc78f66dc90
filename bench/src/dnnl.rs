//! oneDNN's BLAS-like GEMMs, loaded with `dlopen` at run time (Debian's
//! `libdnnl2`, oneDNN 2.6; never linked, so the bench builds and runs without it).
//!
//! Debian builds it with the OpenMP runtime (`DNNL_CPU_RUNTIME` is
//! `DNNL_RUNTIME_OMP`; the library needs `libgomp.so.1`): a call runs on
//! `omp_get_max_threads()` threads, the caller among them. The bench sets that
//! with `omp_set_num_threads`, resolved through the handle of `libdnnl.so.2` (so
//! from the very libgomp that oneDNN loaded), before each timing, as it does
//! OpenBLAS's and BLIS's thread counts. The setting belongs to the calling
//! thread, the one that makes every call.
//!
//! All four functions take row-major operands. `dnnl_sgemm`, `dnnl_gemm_u8s8s32`
//! and `dnnl_gemm_s8s8s32` are declared in oneDNN 2.6's `dnnl.h`;
//! `dnnl_gemm_bf16bf16f32` is exported by the library but declared only by
//! oneDNN's own tests (`tests/gtests/test_gemm_common.hpp`), with the signature
//! of `dnnl_sgemm` on bf16 A and B (`uint16_t` bits here) and an f32 C.

use std::ffi::{CStr, c_char, c_int, c_void};

/// `dnnl_dim_t`.
pub type Dim = i64;
/// `dnnl_status_t`; 0 is `dnnl_success`.
pub type Status = c_int;

/// `dnnl_sgemm(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)`.
pub type Sgemm = unsafe extern "C" fn(
    c_char,
    c_char,
    Dim,
    Dim,
    Dim,
    f32,
    *const f32,
    Dim,
    *const f32,
    Dim,
    f32,
    *mut f32,
    Dim,
) -> Status;

/// `dnnl_gemm_u8s8s32` and `dnnl_gemm_s8s8s32`, A of `A`:
/// `(transa, transb, offsetc, M, N, K, alpha, A, lda, ao, B, ldb, bo, beta, C, ldc, co)`.
pub type GemmI8<A> = unsafe extern "C" fn(
    c_char,
    c_char,
    c_char,
    Dim,
    Dim,
    Dim,
    f32,
    *const A,
    Dim,
    A,
    *const i8,
    Dim,
    i8,
    f32,
    *mut i32,
    Dim,
    *const i32,
) -> Status;

/// `dnnl_gemm_bf16bf16f32(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)`,
/// bf16 as its 16 bits.
pub type GemmBf16 = unsafe extern "C" fn(
    c_char,
    c_char,
    Dim,
    Dim,
    Dim,
    f32,
    *const u16,
    Dim,
    *const u16,
    Dim,
    f32,
    *mut f32,
    Dim,
) -> Status;

/// `dnnl_version_t`.
#[repr(C)]
struct Version {
    major: c_int,
    minor: c_int,
    patch: c_int,
    _hash: *const c_char,
    cpu_runtime: u32,
    _gpu_runtime: u32,
}

const RUNTIME_OMP: u32 = 2;

unsafe extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}
const RTLD_NOW: c_int = 2;
const RTLD_LOCAL: c_int = 0;

/// The library by its soname, so any multiarch directory the loader searches.
const SONAME: &CStr = c"libdnnl.so.2";

pub struct Dnnl {
    /// "2.6.3 (OpenMP runtime)", for the header.
    pub version: String,
    /// The ISA its JIT generates code for on this CPU (`dnnl_get_effective_cpu_isa`).
    pub isa: String,
    pub sgemm: Sgemm,
    pub u8s8s32: Option<GemmI8<u8>>,
    pub s8s8s32: Option<GemmI8<i8>>,
    pub bf16bf16f32: Option<GemmBf16>,
    /// libgomp's `omp_set_num_threads` and `omp_get_max_threads`, where oneDNN
    /// runs on OpenMP.
    omp: Option<(unsafe extern "C" fn(c_int), unsafe extern "C" fn() -> c_int)>,
}

impl Dnnl {
    /// Loads `libdnnl.so.2`; `Err` says why it cannot be used.
    pub fn load() -> Result<Dnnl, String> {
        // SAFETY: loading a library runs its constructors; oneDNN's only set up
        // its globals.
        let h = unsafe { dlopen(SONAME.as_ptr(), RTLD_NOW | RTLD_LOCAL) };
        if h.is_null() {
            return Err("libdnnl.so.2 not found (apt-get install libdnnl2)".into());
        }
        // dlsym on a handle searches the library and then its dependencies, so
        // the omp_* symbols come from the libgomp that oneDNN itself uses.
        let sym = |s: &CStr| {
            let p = unsafe { dlsym(h, s.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        // SAFETY (every transmute): the types above are the C declarations of
        // these symbols (oneDNN 2.6's dnnl.h, libgomp's omp.h).
        let sgemm = sym(c"dnnl_sgemm").ok_or("libdnnl.so.2 has no dnnl_sgemm")?;
        let sgemm = unsafe { std::mem::transmute::<*mut c_void, Sgemm>(sgemm) };
        let u8s8s32 = sym(c"dnnl_gemm_u8s8s32").map(|p| unsafe { std::mem::transmute::<_, GemmI8<u8>>(p) });
        let s8s8s32 = sym(c"dnnl_gemm_s8s8s32").map(|p| unsafe { std::mem::transmute::<_, GemmI8<i8>>(p) });
        // oneDNN 2.6 exports its bf16 GEMM everywhere but implements it only
        // where the CPU has AVX-512 (status 3, `dnnl_unimplemented`, on AVX2):
        // a 1 x 1 x 1 call tells, and one that fails counts as absent.
        let bf16bf16f32 = sym(c"dnnl_gemm_bf16bf16f32")
            .map(|p| unsafe { std::mem::transmute::<_, GemmBf16>(p) })
            .filter(|g| {
                let (one, no) = (0x3f80u16, b'N' as c_char);
                let mut c = 0.0f32;
                // SAFETY: 1 x 1 operands, valid for the call.
                unsafe { g(no, no, 1, 1, 1, 1.0, &one, 1, &one, 1, 0.0, &mut c, 1) == 0 && c == 1.0 }
            });
        let (mut version, mut omp_runtime) = ("unknown version".to_string(), false);
        if let Some(v) = sym(c"dnnl_version") {
            let v = unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> *const Version>(v)() };
            if let Some(v) = unsafe { v.as_ref() } {
                let runtime = match v.cpu_runtime {
                    0 => "no CPU runtime",
                    1 => "sequential",
                    RUNTIME_OMP => "OpenMP runtime",
                    4 => "TBB runtime",
                    8 => "threadpool runtime",
                    _ => "unknown runtime",
                };
                version = format!("{}.{}.{} ({runtime})", v.major, v.minor, v.patch);
                omp_runtime = v.cpu_runtime == RUNTIME_OMP;
            }
        }
        let mut isa = "unknown ISA".to_string();
        if let (Some(get), Some(to_str)) = (sym(c"dnnl_get_effective_cpu_isa"), sym(c"dnnl_cpu_isa2str")) {
            let get = unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> c_int>(get) };
            let to_str =
                unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn(c_int) -> *const c_char>(to_str) };
            let s = unsafe { to_str(get()) };
            if !s.is_null() {
                isa = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
            }
        }
        let omp = match (omp_runtime, sym(c"omp_set_num_threads"), sym(c"omp_get_max_threads")) {
            (true, Some(set), Some(get)) => Some(unsafe {
                (
                    std::mem::transmute::<*mut c_void, unsafe extern "C" fn(c_int)>(set),
                    std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> c_int>(get),
                )
            }),
            _ => None,
        };
        Ok(Dnnl {
            version,
            isa,
            sgemm,
            u8s8s32,
            s8s8s32,
            bf16bf16f32,
            omp,
        })
    }

    /// Whether the bench can choose its thread count (an OpenMP build).
    pub fn can_set_threads(&self) -> bool {
        self.omp.is_some()
    }

    /// Makes the calling thread's next oneDNN calls run on `threads` threads,
    /// itself among them; a no-op where that cannot be set.
    pub fn set_threads(&self, threads: usize) {
        if let Some((set, _)) = self.omp {
            // SAFETY: a plain libgomp call.
            unsafe { set(threads.try_into().unwrap_or(c_int::MAX)) };
            debug_assert_eq!(self.threads(), Some(threads));
        }
    }

    /// The thread count oneDNN's next call from this thread would use, where known.
    pub fn threads(&self) -> Option<usize> {
        self.omp.map(|(_, get)| unsafe { get() } as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// The signatures above against the library, where it is installed: every
    /// function on a small non-square problem with A transposed and leading
    /// dimensions wider than the matrices, against a plain triple loop; and the
    /// thread count set through libgomp reads back.
    #[test]
    fn signatures_and_threads() {
        let d = match Dnnl::load() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("skipped: {e}");
                return;
            }
        };
        eprintln!("oneDNN {}, {}", d.version, d.isa);
        let (m, n, k) = (13usize, 21usize, 37usize);
        let (lda, ldb, ldc) = (m + 3, n + 5, n + 2);
        let mut seed = 0x2545_F491_4F6C_DD1D;
        let mut r = || xorshift(&mut seed);
        // oneDNN 2.6's int8 GEMMs on a CPU without VNNI sum each pair of
        // products in 16 bits with saturation (`vpmaddubsw`); these values
        // keep every pair (A as u8, or as s8 shifted by 128, times B) below
        // 2^15, so that its results are exact on every CPU.
        let a: Vec<i64> = (0..k * lda).map(|_| (r() % 128) as i64 + 64).collect();
        let b: Vec<i64> = (0..k * ldb).map(|_| (r() % 128) as i64 - 64).collect();
        // A is stored transposed: element (i, p) of op(A) at a[p * lda + i].
        let want = |sa: i64, i: usize, j: usize| (0..k).map(|p| (a[p * lda + i] - sa) * b[p * ldb + j]).sum::<i64>();
        let (tn, tt, f) = (b'N' as c_char, b'T' as c_char, b'F' as c_char);
        let (m_, n_, k_) = (m as Dim, n as Dim, k as Dim);
        let (lda_, ldb_, ldc_) = (lda as Dim, ldb as Dim, ldc as Dim);

        // f32 and bf16: small integers, exact in both and in the f32 sums.
        let af: Vec<f32> = a.iter().map(|&x| (x % 16) as f32).collect();
        let bf: Vec<f32> = b.iter().map(|&x| (x % 16) as f32).collect();
        let want_f = |i: usize, j: usize| (0..k).map(|p| af[p * lda + i] * bf[p * ldb + j]).sum::<f32>();
        let mut c = vec![-1.0f32; m * ldc];
        let st = unsafe {
            (d.sgemm)(
                tt,
                tn,
                m_,
                n_,
                k_,
                1.0,
                af.as_ptr(),
                lda_,
                bf.as_ptr(),
                ldb_,
                0.0,
                c.as_mut_ptr(),
                ldc_,
            )
        };
        assert_eq!(st, 0, "dnnl_sgemm");
        for i in 0..m {
            for j in 0..n {
                assert_eq!(c[i * ldc + j], want_f(i, j), "sgemm ({i}, {j})");
            }
        }
        if let Some(g) = d.bf16bf16f32 {
            let bits = |x: &f32| (x.to_bits() >> 16) as u16;
            let (ah, bh): (Vec<u16>, Vec<u16>) = (af.iter().map(bits).collect(), bf.iter().map(bits).collect());
            let mut c = vec![-1.0f32; m * ldc];
            let st = unsafe {
                g(
                    tt,
                    tn,
                    m_,
                    n_,
                    k_,
                    1.0,
                    ah.as_ptr(),
                    lda_,
                    bh.as_ptr(),
                    ldb_,
                    0.0,
                    c.as_mut_ptr(),
                    ldc_,
                )
            };
            assert_eq!(st, 0, "dnnl_gemm_bf16bf16f32");
            for i in 0..m {
                for j in 0..n {
                    assert_eq!(c[i * ldc + j], want_f(i, j), "bf16 ({i}, {j})");
                }
            }
        }
        let bi: Vec<i8> = b.iter().map(|&x| x as i8).collect();
        let co = 0i32;
        if let Some(g) = d.u8s8s32 {
            let au: Vec<u8> = a.iter().map(|&x| x as u8).collect();
            let mut c = vec![-1i32; m * ldc];
            let st = unsafe {
                g(
                    tt,
                    tn,
                    f,
                    m_,
                    n_,
                    k_,
                    1.0,
                    au.as_ptr(),
                    lda_,
                    0,
                    bi.as_ptr(),
                    ldb_,
                    0,
                    0.0,
                    c.as_mut_ptr(),
                    ldc_,
                    &co,
                )
            };
            assert_eq!(st, 0, "dnnl_gemm_u8s8s32");
            for i in 0..m {
                for j in 0..n {
                    assert_eq!(c[i * ldc + j] as i64, want(0, i, j), "u8s8s32 ({i}, {j})");
                }
            }
        }
        if let Some(g) = d.s8s8s32 {
            // A as s8: the same bytes less 128.
            let as8: Vec<i8> = a.iter().map(|&x| (x - 128) as i8).collect();
            let mut c = vec![-1i32; m * ldc];
            let st = unsafe {
                g(
                    tt,
                    tn,
                    f,
                    m_,
                    n_,
                    k_,
                    1.0,
                    as8.as_ptr(),
                    lda_,
                    0,
                    bi.as_ptr(),
                    ldb_,
                    0,
                    0.0,
                    c.as_mut_ptr(),
                    ldc_,
                    &co,
                )
            };
            assert_eq!(st, 0, "dnnl_gemm_s8s8s32");
            for i in 0..m {
                for j in 0..n {
                    assert_eq!(c[i * ldc + j] as i64, want(128, i, j), "s8s8s32 ({i}, {j})");
                }
            }
        }
        if d.can_set_threads() {
            for t in [1, 2, 1] {
                d.set_threads(t);
                assert_eq!(d.threads(), Some(t));
            }
        }
    }
}
