//! Peaks: register-only loops of one instruction with enough independent
//! accumulators to cover its latency times its throughput (16 chains: the
//! instructions here have a latency of 4-5 cycles and issue at most twice a
//! cycle), timed on `threads` cores at once.
//!
//! - [`Loop::Fma`]: f32 FMA, the bar for f32 and f64 GEMM (zmm `vfmadd231ps` with
//!   AVX-512, else ymm with AVX2 + FMA): 2 FLOP per lane.
//! - [`Loop::Int8`]: `vpdpbusd`, u8 x s8 dot products of four pairs added into
//!   an i32 lane, the bar for int8 GEMM (zmm with AVX-512 VNNI, else the ymm
//!   AVX-VNNI form): 16 lanes x 4 pairs x 2 = 128 ops per zmm instruction, 64 per
//!   ymm one.
//! - [`Loop::Bf16`]: `vdpbf16ps`, bf16 dot products of two pairs added into an
//!   f32 lane, the bar for bf16 GEMM (zmm, AVX-512 BF16): 16 lanes x 2 pairs x 2
//!   = 64 FLOP per instruction.
//! - [`Loop::AmxInt8`], [`Loop::AmxBf16`]: AMX tile products `tdpbusd` and
//!   `tdpbf16ps` (Sapphire Rapids on), the bar for a library that uses AMX, as
//!   oneDNN does where it finds it: four accumulator tiles in a 2 x 2 block (the
//!   blocking oneDNN's AMX kernels use), each tile product 16 x 16 x 64 u8 x s8
//!   (32,768 ops) or 16 x 16 x 32 bf16 (16,384 FLOP). Linux grants a process
//!   the tile data state only when asked (`arch_prctl(ARCH_REQ_XCOMP_PERM)`);
//!   the loop asks first and counts as unavailable where that is refused.
//!
//! Ops count a multiply-add of one element pair as 2, as GEMM's `2 m n k` does.

/// Which register-only loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loop {
    Fma,
    Int8,
    Bf16,
    AmxInt8,
    AmxBf16,
}

impl Loop {
    /// Trips of the loop in one timing: some milliseconds at this loop's rate.
    fn iters(self) -> usize {
        match self {
            Loop::Fma | Loop::Int8 | Loop::Bf16 => 1 << 22,
            // Four tile products a trip, each 16 cycles or more.
            Loop::AmxInt8 | Loop::AmxBf16 => 1 << 18,
        }
    }
}

/// `f(iters)` runs the loop `iters` times and returns the ops it did.
type Body = fn(usize) -> f64;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// `CHAINS` chains of `$op(acc, x, y)`; returns the ops done and every
    /// chain's sum, so the optimiser cannot delete any chain. Enough chains to
    /// cover the latency at full rate (5 cycles at 2 a cycle is 10), few enough
    /// that they and `x` and `y` stay in registers: 16 of 32 zmm, 12 of 16 ymm
    /// (16 ymm chains and their operands would spill).
    macro_rules! chains {
        ($name:ident, $feat:literal, $acc:ty, $in:ty, $zero:expr, $x:expr, $y:expr, $op:expr, $add:ident, $ops:expr) => {
            #[target_feature(enable = $feat)]
            pub unsafe fn $name(iters: usize) -> (f64, $acc) {
                const CHAINS: usize = if size_of::<$acc>() == 64 { 16 } else { 12 };
                let (x, y): ($in, $in) = ($x, $y);
                let mut acc: [$acc; CHAINS] = [$zero; CHAINS];
                for _ in 0..iters {
                    for a in acc.iter_mut() {
                        *a = $op(*a, x, y);
                    }
                }
                let ops = iters as f64 * CHAINS as f64 * $ops as f64;
                let sum = acc.iter().fold($zero, |s, a| $add(s, *a));
                (ops, sum)
            }
        };
    }

    chains!(
        fma512,
        "avx512f",
        __m512,
        __m512,
        _mm512_setzero_ps(),
        _mm512_set1_ps(1.000_000_1),
        _mm512_set1_ps(0.999_999_9),
        _mm512_fmadd_ps,
        _mm512_add_ps,
        16 * 2
    );
    chains!(
        fma256,
        "avx2,fma",
        __m256,
        __m256,
        _mm256_setzero_ps(),
        _mm256_set1_ps(1.000_000_1),
        _mm256_set1_ps(0.999_999_9),
        _mm256_fmadd_ps,
        _mm256_add_ps,
        8 * 2
    );
    chains!(
        vnni512,
        "avx512f,avx512vnni",
        __m512i,
        __m512i,
        _mm512_setzero_si512(),
        _mm512_set1_epi8(3),
        _mm512_set1_epi8(-2),
        _mm512_dpbusd_epi32,
        _mm512_add_epi32,
        16 * 4 * 2
    );
    chains!(
        avxvnni256,
        "avx2,avxvnni",
        __m256i,
        __m256i,
        _mm256_setzero_si256(),
        _mm256_set1_epi8(3),
        _mm256_set1_epi8(-2),
        _mm256_dpbusd_avx_epi32,
        _mm256_add_epi32,
        8 * 4 * 2
    );
    // bf16 0.5 and -0.5 as bit patterns (0x3f00, 0xbf00), two to an i32 lane.
    chains!(
        bf16_512,
        "avx512f,avx512bf16",
        __m512,
        __m512bh,
        _mm512_setzero_ps(),
        unsafe { std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(0x3f00_3f00)) },
        unsafe { std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(0xbf00_bf00_u32 as i32)) },
        _mm512_dpbf16_ps,
        _mm512_add_ps,
        16 * 2 * 2
    );

    /// The widest form of `which` this CPU has, and its name.
    pub fn pick(which: super::Loop) -> Option<(super::Body, &'static str)> {
        use super::Loop;
        use std::hint::black_box;
        let has = |f: &str| match f {
            "avx512f" => is_x86_feature_detected!("avx512f"),
            "avx2" => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            "avx512vnni" => is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni"),
            "avxvnni" => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("avxvnni"),
            "avx512bf16" => is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16"),
            _ => false,
        };
        // SAFETY (each): the loop's features were detected just before.
        Some(match which {
            Loop::Fma if has("avx512f") => (|n| black_box(unsafe { fma512(n) }).0, "AVX-512 zmm vfmadd231ps"),
            Loop::Fma if has("avx2") => (|n| black_box(unsafe { fma256(n) }).0, "AVX2 ymm vfmadd231ps"),
            Loop::Int8 if has("avx512vnni") => (|n| black_box(unsafe { vnni512(n) }).0, "AVX-512 VNNI zmm vpdpbusd"),
            Loop::Int8 if has("avxvnni") => (|n| black_box(unsafe { avxvnni256(n) }).0, "AVX-VNNI ymm vpdpbusd"),
            Loop::Bf16 if has("avx512bf16") => (|n| black_box(unsafe { bf16_512(n) }).0, "AVX-512 BF16 zmm vdpbf16ps"),
            Loop::AmxInt8 if super::amx::has(super::amx::INT8) => {
                (|n| super::amx::tdpbusd(black_box(n)), "AMX tdpbusd")
            }
            Loop::AmxBf16 if super::amx::has(super::amx::BF16) => {
                (|n| super::amx::tdpbf16ps(black_box(n)), "AMX tdpbf16ps")
            }
            _ => return None,
        })
    }
}

/// AMX through `asm!` (its intrinsics are not stable), with CPUID for the
/// features and the Linux permission for the tile state.
#[cfg(target_arch = "x86_64")]
mod amx {
    use std::arch::asm;
    use std::arch::x86_64::__cpuid_count;

    /// CPUID.(7, 0):EDX bits: AMX-BF16, AMX-TILE, AMX-INT8.
    pub const BF16: u32 = 1 << 22;
    const TILE: u32 = 1 << 24;
    pub const INT8: u32 = 1 << 25;

    /// Whether the CPU has AMX-TILE and `feature`, and this process may use them.
    pub fn has(feature: u32) -> bool {
        if __cpuid_count(0, 0).eax < 7 {
            return false;
        }
        let edx = __cpuid_count(7, 0).edx;
        edx & TILE != 0 && edx & feature != 0 && permitted()
    }

    /// Asks Linux once for the tile data state for this process.
    #[cfg(target_os = "linux")]
    fn permitted() -> bool {
        static ASKED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *ASKED.get_or_init(|| {
            unsafe extern "C" {
                fn syscall(number: std::ffi::c_long, ...) -> std::ffi::c_long;
            }
            const SYS_ARCH_PRCTL: std::ffi::c_long = 158;
            const ARCH_REQ_XCOMP_PERM: std::ffi::c_long = 0x1023;
            const XFEATURE_XTILEDATA: std::ffi::c_long = 18;
            // SAFETY: a request the kernel grants or refuses; it changes nothing else.
            unsafe { syscall(SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0 }
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn permitted() -> bool {
        false
    }

    /// The 64-byte tile configuration: palette 1, tiles 0-7 of 16 rows of 64 bytes.
    #[repr(C, align(64))]
    struct Config {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        colsb: [u16; 16],
        rows: [u8; 16],
    }

    /// One 16 x 64-byte tile's data.
    #[repr(C, align(64))]
    struct Tile([u32; 256]);

    /// Configures the tiles, zeroes the accumulators tmm0-tmm3 and loads
    /// `fill` into every 32-bit element of tmm4-tmm7.
    ///
    /// # Safety
    /// The CPU has AMX-TILE and the process has the tile state (`has`).
    unsafe fn setup(fill: u32) {
        let mut config = Config {
            palette: 1,
            start_row: 0,
            reserved: [0; 14],
            colsb: [0; 16],
            rows: [0; 16],
        };
        config.colsb[..8].fill(64);
        config.rows[..8].fill(16);
        let data = Tile([fill; 256]);
        unsafe {
            asm!(
                "ldtilecfg [{config}]",
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                "tileloadd tmm4, [{data} + {stride} * 1]",
                "tileloadd tmm5, [{data} + {stride} * 1]",
                "tileloadd tmm6, [{data} + {stride} * 1]",
                "tileloadd tmm7, [{data} + {stride} * 1]",
                config = in(reg) &config,
                data = in(reg) data.0.as_ptr(),
                stride = in(reg) 64usize,
                options(nostack, readonly),
            )
        };
    }

    /// `iters` trips of four u8 x s8 tile products (2 x 2 accumulators); the ops.
    pub fn tdpbusd(iters: usize) -> f64 {
        let iters = iters.max(1);
        // SAFETY: only called where `has(INT8)`; the tiles are released after.
        unsafe {
            setup(0x0101_0101);
            asm!(
                "2:",
                "tdpbusd tmm0, tmm4, tmm6",
                "tdpbusd tmm1, tmm4, tmm7",
                "tdpbusd tmm2, tmm5, tmm6",
                "tdpbusd tmm3, tmm5, tmm7",
                "dec {n}",
                "jnz 2b",
                "tilerelease",
                n = inout(reg) iters => _,
                options(nostack, nomem),
            );
        }
        iters as f64 * 4.0 * (16 * 16 * 64 * 2) as f64
    }

    /// `iters` trips of four bf16 tile products (2 x 2 accumulators); the FLOP.
    pub fn tdpbf16ps(iters: usize) -> f64 {
        let iters = iters.max(1);
        // SAFETY: only called where `has(BF16)`; the tiles are released after.
        unsafe {
            // bf16 0.5, twice.
            setup(0x3f00_3f00);
            asm!(
                "2:",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "dec {n}",
                "jnz 2b",
                "tilerelease",
                n = inout(reg) iters => _,
                options(nostack, nomem),
            );
        }
        iters as f64 * 4.0 * (16 * 16 * 32 * 2) as f64
    }
}

#[cfg(target_arch = "x86_64")]
use x86::pick;

#[cfg(not(target_arch = "x86_64"))]
fn pick(_: Loop) -> Option<(Body, &'static str)> {
    None
}

/// Whether this CPU has a loop for `which`, and which instruction it times.
pub fn instruction(which: Loop) -> Option<&'static str> {
    pick(which).map(|(_, how)| how)
}

/// Ops per second of `which` on `threads` cores running the loop at the same
/// time (all-core clocks and shared units show up here), best of `rounds`
/// rounds, and the instruction timed; `None` where this CPU lacks it.
pub fn measure(which: Loop, threads: usize, rounds: usize) -> Option<(f64, &'static str)> {
    measure_iters(which, threads, rounds, which.iters())
}

/// The rate of `which` on `threads` cores for one round of a table, to divide
/// that round's timings by: the larger of one short measurement now and the
/// careful one (best of `careful_rounds`) that the first such call made. A
/// short measurement right after another library's call can find the other
/// cores still busy with its spinning workers (OpenMP's, OpenBLAS's), which
/// would put shares over 100% (BENCHMARKS.md, twelfth session); the price is
/// that a slow spell of the machine no longer cancels out of the share.
pub fn measure_round(which: Loop, threads: usize, careful_rounds: usize) -> Option<f64> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    /// Per loop and thread count, the careful rate (`None`: no such loop here).
    type Careful = HashMap<(Loop, usize), Option<f64>>;
    static CAREFUL: Mutex<Option<Careful>> = Mutex::new(None);
    let careful = *CAREFUL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .entry((which, threads))
        .or_insert_with(|| measure(which, threads, careful_rounds).map(|(ops, _)| ops));
    let now = measure(which, threads, 1)?.0;
    Some(careful.map_or(now, |c| now.max(c)))
}

/// [`measure`] with `iters` trips of the loop a round.
fn measure_iters(which: Loop, threads: usize, rounds: usize, iters: usize) -> Option<(f64, &'static str)> {
    let (f, how) = pick(which)?;
    // In each round every thread starts together and the round's rate is the
    // total work over the slowest thread's time.
    let barrier = std::sync::Barrier::new(threads);
    let one = || {
        f(iters / 64);
        (0..rounds)
            .map(|_| {
                barrier.wait();
                let t = std::time::Instant::now();
                let ops = f(iters);
                (ops, t.elapsed().as_secs_f64())
            })
            .collect::<Vec<_>>()
    };
    let runs: Vec<Vec<(f64, f64)>> = std::thread::scope(|s| {
        (0..threads)
            .map(|_| s.spawn(one))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect()
    });
    let best = (0..rounds)
        .map(|r| {
            let ops: f64 = runs.iter().map(|t| t[r].0).sum();
            ops / runs.iter().map(|t| t[r].1).fold(0.0, f64::max)
        })
        .fold(0.0, f64::max);
    Some((best, how))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every loop this CPU has runs and reports a plausible rate even in a
    /// debug build on two threads: more than 10 ops a microsecond, less than
    /// 100,000 a nanosecond (AMX int8 does 7,000 a core; no loop deleted by the
    /// optimiser).
    #[test]
    fn loops_run() {
        for which in [Loop::Fma, Loop::Int8, Loop::Bf16, Loop::AmxInt8, Loop::AmxBf16] {
            match measure_iters(which, 2, 1, which.iters() >> 6) {
                Some((ops, how)) => {
                    eprintln!("{which:?}: {how}: {:.1} Gop/s", ops / 1e9);
                    assert!(ops > 1e7 && ops < 1e14, "{which:?} ({how}): {ops} ops/s");
                }
                None => eprintln!("{which:?}: not available on this CPU"),
            }
        }
    }
}
