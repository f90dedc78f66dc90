//! Every target, described as data. Adding a target means adding one `Target` here
//! (usually a child of an existing one) and listing it in [`TARGETS`]; the lowering
//! pass never changes.
//!
//! A target's `entries` map `<elem>.<name>` to Rust source:
//! - `<elem>.vec`: the vector type for that element type (`f32.vec` is `__m512`);
//! - `<elem>.<TYPE>`: an associated type of the trait (`i32.U8x4`);
//! - `<elem>.<CONST>`: an associated const (`f32.LANES` is `16`);
//! - `<elem>.<op>`: an expression template; `$0`, `$1`, .. are the lowered
//!   arguments (parenthesised when they are not atomic). A template uses each
//!   argument at most once; an op that needs more is a helper function;
//! - `tuning.<field>`: a threshold of the runtime's plan (`gemmkit::Tuning`),
//!   emitted into the target's dispatch entry.
//!
//! `helpers` are functions emitted once per target file inside `mod ops`, only when
//! a template that names them (`ops::name`) is used. The emitter adds `#[inline]`
//! and the target's `#[target_feature]`.
//!
//! Lookups walk `parent` links, so a feature level lists only what it changes.

/// One code-generation target.
#[derive(Debug)]
pub struct Target {
    /// Module and `HWY_TARGET` name.
    pub name: &'static str,
    /// One line for docs and `--help`.
    pub summary: &'static str,
    pub parent: Option<&'static Target>,
    /// `cfg` predicate under which the module is compiled (empty: always).
    pub cfg: &'static str,
    /// `#[target_feature(enable = ..)]` of every generated function (empty: none).
    pub features: &'static [&'static str],
    /// Rust expression: can this CPU run the target? Evaluated once per process.
    pub detect: &'static str,
    /// Items at the top of the generated file (`use core::arch::..`).
    pub prelude: &'static str,
    pub entries: &'static [(&'static str, &'static str)],
    pub helpers: &'static [(&'static str, &'static str)],
}

impl Target {
    /// The Rust source for `key`, from this target or the nearest ancestor.
    pub fn entry(&self, key: &str) -> Option<&'static str> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .or_else(|| self.parent.and_then(|p| p.entry(key)))
    }

    /// The helper function `name`, from this target or the nearest ancestor.
    pub fn helper(&self, name: &str) -> Option<&'static str> {
        self.helpers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .or_else(|| self.parent.and_then(|p| p.helper(name)))
    }

    pub fn prelude(&self) -> &'static str {
        if self.prelude.is_empty() {
            self.parent.map_or("", |p| p.prelude())
        } else {
            self.prelude
        }
    }
}

/// All targets, best first within each architecture: dispatch picks the first one
/// the CPU supports. `fallback` runs anywhere and must stay last.
pub static TARGETS: &[&Target] = &[
    &AVX512_BF16,
    &AVX512_VNNI,
    &AVX512,
    &AVX_VNNI,
    &AVX2,
    &NEON_I8MM,
    &NEON_DOTPROD,
    &NEON,
    &WASM_RELAXED,
    &WASM128,
    &FALLBACK,
];

/// Element-level facts shared by every target.
static COMMON: Target = Target {
    name: "common",
    summary: "",
    parent: None,
    cfg: "",
    features: &[],
    detect: "true",
    prelude: "",
    entries: &[
        ("f32.ZERO", "0.0f32"),
        ("f32.ONE", "1.0f32"),
        ("f64.ZERO", "0.0f64"),
        ("f64.ONE", "1.0f64"),
        // 16 vector registers (x86-64 before AVX-512; what wasm engines map
        // SIMD128 onto there); AVX-512 and AArch64 have 32.
        ("f32.REGS", "16"),
        ("f64.REGS", "16"),
        ("u8i8.Acc", "i32"),
        ("u8i8.A", "u8"),
        ("u8i8.B", "i8"),
        ("u8i8.DEPTH", "4"),
        ("u8i8.ZERO_A", "0u8"),
        ("u8i8.ZERO_B", "0i8"),
        ("bf16.Acc", "f32"),
        ("bf16.A", "u16"),
        ("bf16.B", "u16"),
        ("bf16.DEPTH", "2"),
        ("bf16.ZERO_A", "0u16"),
        ("bf16.ZERO_B", "0u16"),
        // The runtime's thresholds (`gemmkit::Tuning`), one set per target; a
        // target that measures others lists its own. These were measured with
        // AVX-512 on a Zen 4 core (BENCHMARKS.md, "Why the code decides as it
        // does") and stand for every target until it is measured.
        ("tuning.small", "256"),
        ("tuning.small_split_volume", "512000"), // 80^3
        ("tuning.gemv_small", "16384"),          // 128^2
        // The GEMV's work: k split into parts of 2048 where y has at most 256
        // elements; dot-form items of at least 32 Ki elements of W.
        ("tuning.gemv_split_n", "256"),
        ("tuning.gemv_k_part", "2048"),
        ("tuning.gemv_dot_item", "32768"),
        ("tuning.blocked_split_volume", "4096000"), // 160^3
        // Prefill up to 128 tokens; weights read in blocks of k up to 4096
        // (B's block then at most 2 MiB). BENCHMARKS.md, "skinny".
        ("tuning.skinny_rows", "128"),
        ("tuning.skinny_kc", "4096"),
        // B's block in half the L2 (where that leaves a depth of at least
        // 256): where the L3 is slow to stream from, a block deeper than the
        // L2 holds costs more than the passes over C it saves (BENCHMARKS.md,
        // "MIN_KC").
        ("tuning.l2_percent_for_b", "50"),
        ("tuning.pack_chunk", "64"),
        ("tuning.max_lanes", "16"),
        // bf16 widened to f32 when packed, where the bf16 dot product is an
        // emulation (BENCHMARKS.md, "bf16 widened when packed").
        ("tuning.bf16_widen", "true"),
        // Weights packed ahead stay bf16-sized: widened they would take twice
        // the memory, and decoding (one row) would stream twice the bytes
        // (BENCHMARKS.md, "bf16 widened when packed").
        ("tuning.bf16_widen_packed", "false"),
    ],
    helpers: &[],
};

// ---------------------------------------------------------------------------------
// Portable scalar fallback: one lane, plain Rust.

pub static FALLBACK: Target = Target {
    name: "fallback",
    summary: "portable scalar code, one lane per vector; runs anywhere",
    parent: Some(&COMMON),
    cfg: "",
    features: &[],
    detect: "true",
    prelude: "",
    entries: &[
        ("f32.vec", "f32"),
        ("f32.LANES", "1"),
        ("f32.MR", "4"),
        ("f32.NR", "4"),
        ("f32.zero", "0.0f32"),
        ("f32.splat", "$0"),
        ("f32.load", "*$0"),
        ("f32.load_partial", "if $1 > 0 { *$0 } else { 0.0f32 }"),
        ("f32.broadcast", "*$0"),
        ("f32.store", "*$0 = $1"),
        ("f32.store_partial", "if $2 > 0 { *$0 = $1 }"),
        ("f32.add", "$0 + $1"),
        ("f32.mul", "$0 * $1"),
        // Unfused: without FMA hardware `mul_add` is a slow libm call.
        ("f32.mul_add", "$0 * $1 + $2"),
        ("f32.neg", "-$0"),
        ("f32.div", "$0 / $1"),
        ("f32.max", "ops::max_f32($0, $1)"),
        ("f32.select_neg", "ops::select_neg_f32($0, $1, $2)"),
        ("f32.exp2i", "f32::from_bits(((($0 as i32) + 127) as u32) << 23)"),
        ("f32.from_int_bits", "$0.to_bits() as i32 as f32"),
        ("f64.vec", "f64"),
        ("f64.LANES", "1"),
        ("f64.MR", "4"),
        ("f64.NR", "4"),
        ("f64.zero", "0.0f64"),
        ("f64.splat", "$0"),
        ("f64.load", "*$0"),
        ("f64.load_partial", "if $1 > 0 { *$0 } else { 0.0f64 }"),
        ("f64.broadcast", "*$0"),
        ("f64.store", "*$0 = $1"),
        ("f64.store_partial", "if $2 > 0 { *$0 = $1 }"),
        ("f64.add", "$0 + $1"),
        ("f64.mul", "$0 * $1"),
        ("f64.mul_add", "$0 * $1 + $2"),
        ("f64.neg", "-$0"),
        ("f64.div", "$0 / $1"),
        ("f64.max", "ops::max_f64($0, $1)"),
        ("f64.select_neg", "ops::select_neg_f64($0, $1, $2)"),
        ("f64.exp2i", "f64::from_bits(((($0 as i64) + 1023) as u64) << 52)"),
        ("f64.from_int_bits", "$0.to_bits() as i64 as f64"),
        ("u8i8.vec", "i32"),
        ("u8i8.AVec", "[u8; 4]"),
        ("u8i8.BVec", "[i8; 4]"),
        ("u8i8.LANES", "1"),
        ("u8i8.MR", "4"),
        ("u8i8.NR", "4"),
        ("u8i8.zero", "0i32"),
        ("u8i8.load", "*$0"),
        ("u8i8.store", "*$0 = $1"),
        ("u8i8.broadcast", "*$0"),
        ("u8i8.add", "$0.wrapping_add($1)"),
        ("u8i8.broadcast_a", "($0 as *const [u8; 4]).read_unaligned()"),
        ("u8i8.load_b", "($0 as *const [i8; 4]).read_unaligned()"),
        ("u8i8.load_a", "($0 as *const [u8; 4]).read_unaligned()"),
        ("u8i8.dot", "ops::dot_u8i8($0, $1, $2)"),
        ("bf16.vec", "f32"),
        ("bf16.AVec", "[u16; 2]"),
        ("bf16.BVec", "[u16; 2]"),
        ("bf16.LANES", "1"),
        ("bf16.MR", "4"),
        ("bf16.NR", "4"),
        ("bf16.zero", "0.0f32"),
        ("bf16.load", "*$0"),
        ("bf16.store", "*$0 = $1"),
        ("bf16.broadcast", "*$0"),
        ("bf16.add", "$0 + $1"),
        ("bf16.broadcast_a", "($0 as *const [u16; 2]).read_unaligned()"),
        ("bf16.load_b", "($0 as *const [u16; 2]).read_unaligned()"),
        ("bf16.load_a", "($0 as *const [u16; 2]).read_unaligned()"),
        ("bf16.dot", "ops::dot_bf16($0, $1, $2)"),
        ("f32.prefetch", "{ let _ = $0; }"),
        ("f64.prefetch", "{ let _ = $0; }"),
        ("f32.prefetch_far", "{ let _ = $0; }"),
        ("f64.prefetch_far", "{ let _ = $0; }"),
        ("u8i8.prefetch_far", "{ let _ = $0; }"),
        ("bf16.prefetch_far", "{ let _ = $0; }"),
    ],
    helpers: &[
        (
            "max_f32",
            "/// `a > b ? a : b`, as x86's `maxps` (`f32::max` would drop a NaN in `b`).
            pub fn max_f32(a: f32, b: f32) -> f32 {
                if a > b { a } else { b }
            }",
        ),
        (
            "max_f64",
            "/// `a > b ? a : b`, as x86's `maxpd` (`f64::max` would drop a NaN in `b`).
            pub fn max_f64(a: f64, b: f64) -> f64 {
                if a > b { a } else { b }
            }",
        ),
        (
            "select_neg_f32",
            "pub fn select_neg_f32(m: f32, a: f32, b: f32) -> f32 {
                if m.is_sign_negative() { a } else { b }
            }",
        ),
        (
            "select_neg_f64",
            "pub fn select_neg_f64(m: f64, a: f64, b: f64) -> f64 {
                if m.is_sign_negative() { a } else { b }
            }",
        ),
        (
            "dot_bf16",
            "/// bf16 pair dot product, odd product first (VDPBF16PS order); bf16
            /// products are exact in f32.
            pub fn dot_bf16(acc: f32, a: [u16; 2], b: [u16; 2]) -> f32 {
                let widen = |x: u16| f32::from_bits(u32::from(x) << 16);
                let odd = acc + widen(a[1]) * widen(b[1]);
                odd + widen(a[0]) * widen(b[0])
            }",
        ),
        (
            "dot_u8i8",
            "pub fn dot_u8i8(acc: i32, a: [u8; 4], b: [i8; 4]) -> i32 {
            let mut sum = acc;
            for q in 0..4 {
                sum = sum.wrapping_add(i32::from(a[q]) * i32::from(b[q]));
            }
            sum
        }",
        ),
    ],
};

// ---------------------------------------------------------------------------------
// x86-64.

pub static AVX2: Target = Target {
    name: "avx2",
    summary: "x86-64 AVX2 + FMA, 256-bit vectors",
    parent: Some(&COMMON),
    cfg: "target_arch = \"x86_64\"",
    features: &["avx2", "fma"],
    detect: "std::is_x86_feature_detected!(\"avx2\") && std::is_x86_feature_detected!(\"fma\")",
    prelude: "use core::arch::x86_64::*;",
    entries: &[
        ("f32.vec", "__m256"),
        ("f32.LANES", "8"),
        // With 16 registers the small path's kernel keeps two vectors of
        // columns (six broadcasts of A per twelve multiply-adds) and runs below
        // the packed micro-kernel from 48 up (BENCHMARKS.md, "small: the small
        // path up to 256"), where AVX-512's four-vector blocks keep it ahead to 256.
        ("tuning.small", "47"),
        // B's block in the whole L2: where the L3 streams well (Zen 2, 512
        // KiB L2) the passes over C that half the L2's depth adds cost more
        // than B's block leaving the L2 (BENCHMARKS.md, "l2_percent_for_b").
        ("tuning.l2_percent_for_b", "100"),
        // 6 x 2 accumulators + 2 B vectors + 1 broadcast = 15 of 16 ymm.
        ("f32.MR", "6"),
        ("f32.NR", "16"),
        ("f32.zero", "_mm256_setzero_ps()"),
        ("f32.splat", "_mm256_set1_ps($0)"),
        ("f32.load", "_mm256_loadu_ps($0)"),
        ("f32.load_partial", "_mm256_maskload_ps($0, ops::mask_i32x8($1))"),
        ("f32.broadcast", "_mm256_broadcast_ss(&*$0)"),
        ("f32.store", "_mm256_storeu_ps($0, $1)"),
        ("f32.store_partial", "_mm256_maskstore_ps($0, ops::mask_i32x8($2), $1)"),
        ("f32.add", "_mm256_add_ps($0, $1)"),
        ("f32.mul", "_mm256_mul_ps($0, $1)"),
        ("f32.mul_add", "_mm256_fmadd_ps($0, $1, $2)"),
        ("f32.neg", "_mm256_xor_ps($0, _mm256_set1_ps(-0.0))"),
        ("f32.div", "_mm256_div_ps($0, $1)"),
        ("f32.max", "_mm256_max_ps($0, $1)"),
        ("f32.select_neg", "_mm256_blendv_ps($2, $1, $0)"),
        (
            "f32.exp2i",
            "_mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(_mm256_add_ps($0, _mm256_set1_ps(12583039.0)))))",
        ),
        ("f32.from_int_bits", "_mm256_cvtepi32_ps(_mm256_castps_si256($0))"),
        ("f64.vec", "__m256d"),
        ("f64.LANES", "4"),
        ("f64.MR", "6"),
        ("f64.NR", "8"),
        ("f64.zero", "_mm256_setzero_pd()"),
        ("f64.splat", "_mm256_set1_pd($0)"),
        ("f64.load", "_mm256_loadu_pd($0)"),
        ("f64.load_partial", "_mm256_maskload_pd($0, ops::mask_i64x4($1))"),
        ("f64.broadcast", "_mm256_broadcast_sd(&*$0)"),
        ("f64.store", "_mm256_storeu_pd($0, $1)"),
        ("f64.store_partial", "_mm256_maskstore_pd($0, ops::mask_i64x4($2), $1)"),
        ("f64.add", "_mm256_add_pd($0, $1)"),
        ("f64.mul", "_mm256_mul_pd($0, $1)"),
        ("f64.mul_add", "_mm256_fmadd_pd($0, $1, $2)"),
        ("f64.neg", "_mm256_xor_pd($0, _mm256_set1_pd(-0.0))"),
        ("f64.div", "_mm256_div_pd($0, $1)"),
        ("f64.max", "_mm256_max_pd($0, $1)"),
        ("f64.select_neg", "_mm256_blendv_pd($2, $1, $0)"),
        (
            "f64.exp2i",
            "_mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_castpd_si256(_mm256_add_pd($0, _mm256_set1_pd(6755399441056767.0)))))",
        ),
        ("f64.from_int_bits", "ops::cvt_i64_f64x4($0)"),
        ("u8i8.vec", "__m256i"),
        ("u8i8.AVec", "__m256i"),
        ("u8i8.BVec", "__m256i"),
        ("u8i8.LANES", "8"),
        // The exact emulation needs 4 temporaries per product: keep the tile small.
        ("u8i8.MR", "4"),
        ("u8i8.NR", "16"),
        ("u8i8.zero", "_mm256_setzero_si256()"),
        ("u8i8.load", "_mm256_loadu_si256($0 as *const __m256i)"),
        ("u8i8.store", "_mm256_storeu_si256($0 as *mut __m256i, $1)"),
        ("u8i8.broadcast", "_mm256_set1_epi32(*$0)"),
        ("u8i8.add", "_mm256_add_epi32($0, $1)"),
        (
            "u8i8.broadcast_a",
            "_mm256_set1_epi32(($0 as *const i32).read_unaligned())",
        ),
        ("u8i8.load_b", "_mm256_loadu_si256($0 as *const __m256i)"),
        ("u8i8.load_a", "_mm256_loadu_si256($0 as *const __m256i)"),
        ("u8i8.dot", "ops::dot_u8i8($0, $1, $2)"),
        ("bf16.vec", "__m256"),
        ("bf16.AVec", "__m256i"),
        ("bf16.BVec", "__m256i"),
        ("bf16.LANES", "8"),
        ("bf16.MR", "4"),
        ("bf16.NR", "16"),
        ("bf16.zero", "_mm256_setzero_ps()"),
        ("bf16.load", "_mm256_loadu_ps($0)"),
        ("bf16.store", "_mm256_storeu_ps($0, $1)"),
        ("bf16.broadcast", "_mm256_broadcast_ss(&*$0)"),
        ("bf16.add", "_mm256_add_ps($0, $1)"),
        (
            "bf16.broadcast_a",
            "_mm256_set1_epi32(($0 as *const i32).read_unaligned())",
        ),
        ("bf16.load_b", "_mm256_loadu_si256($0 as *const __m256i)"),
        ("bf16.load_a", "_mm256_loadu_si256($0 as *const __m256i)"),
        ("bf16.dot", "ops::dot_bf16($0, $1, $2)"),
        ("f32.prefetch", "_mm_prefetch::<_MM_HINT_T0>($0 as *const i8)"),
        ("f64.prefetch", "_mm_prefetch::<_MM_HINT_T0>($0 as *const i8)"),
        ("f32.prefetch_far", "_mm_prefetch::<_MM_HINT_T1>($0 as *const i8)"),
        ("f64.prefetch_far", "_mm_prefetch::<_MM_HINT_T1>($0 as *const i8)"),
        ("u8i8.prefetch_far", "_mm_prefetch::<_MM_HINT_T1>($0)"),
        ("bf16.prefetch_far", "_mm_prefetch::<_MM_HINT_T1>($0 as *const i8)"),
    ],
    helpers: &[
        (
            "dot_bf16",
            "/// bf16 pair dot product without bf16 instructions: the odd element is the
            /// high half of each 32-bit lane, the even one widens by a 16-bit shift.
            /// bf16 products are exact in f32, so two FMAs (odd first) match
            /// VDPBF16PS on normal numbers.
            pub fn dot_bf16(acc: __m256, a: __m256i, b: __m256i) -> __m256 {
                let high = _mm256_set1_epi32(0xffff_0000u32 as i32);
                let a_odd = _mm256_castsi256_ps(_mm256_and_si256(a, high));
                let b_odd = _mm256_castsi256_ps(_mm256_and_si256(b, high));
                let a_even = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(a));
                let b_even = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(b));
                _mm256_fmadd_ps(a_even, b_even, _mm256_fmadd_ps(a_odd, b_odd, acc))
            }",
        ),
        (
            "cvt_i64_f64x4",
            "/// Each lane's bits as an `i64`, converted to `f64`: AVX2 has no 64-bit
            /// integer conversion, so a lane at a time.
            pub fn cvt_i64_f64x4(v: __m256d) -> __m256d {
                let i: [i64; 4] = unsafe { core::mem::transmute(v) };
                _mm256_setr_pd(i[0] as f64, i[1] as f64, i[2] as f64, i[3] as f64)
            }",
        ),
        (
            "mask_i32x8",
            "/// Lanes `0..n` all ones, the rest zero.
            pub fn mask_i32x8(n: usize) -> __m256i {
                _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
            }",
        ),
        (
            "mask_i64x4",
            "/// Lanes `0..n` all ones, the rest zero.
            pub fn mask_i64x4(n: usize) -> __m256i {
                _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), _mm256_setr_epi64x(0, 1, 2, 3))
            }",
        ),
        (
            "dot_u8i8",
            "/// Exact u8 x i8 quad dot product without VNNI: widen to 16 bits and use
            /// `vpmaddwd` on even and odd bytes (`vpmaddubsw` would saturate).
            pub fn dot_u8i8(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
                let a_even = _mm256_and_si256(a, _mm256_set1_epi16(0xff));
                let a_odd = _mm256_srli_epi16::<8>(a);
                let b_even = _mm256_srai_epi16::<8>(_mm256_slli_epi16::<8>(b));
                let b_odd = _mm256_srai_epi16::<8>(b);
                let even = _mm256_madd_epi16(a_even, b_even);
                let odd = _mm256_madd_epi16(a_odd, b_odd);
                _mm256_add_epi32(acc, _mm256_add_epi32(even, odd))
            }",
        ),
    ],
};

pub static AVX_VNNI: Target = Target {
    name: "avx_vnni",
    summary: "x86-64 AVX2 + FMA + AVX-VNNI (VEX-encoded vpdpbusd)",
    parent: Some(&AVX2),
    cfg: "target_arch = \"x86_64\"",
    features: &["avx2", "fma", "avxvnni"],
    detect: "std::is_x86_feature_detected!(\"avx2\") && std::is_x86_feature_detected!(\"fma\") && std::is_x86_feature_detected!(\"avxvnni\")",
    prelude: "",
    entries: &[("u8i8.MR", "6"), ("u8i8.dot", "_mm256_dpbusd_avx_epi32($0, $1, $2)")],
    helpers: &[],
};

pub static AVX512: Target = Target {
    name: "avx512",
    summary: "x86-64 AVX-512 F/BW/DQ/VL, 512-bit vectors and mask registers",
    parent: Some(&COMMON),
    cfg: "target_arch = \"x86_64\"",
    features: &["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"],
    detect: "std::is_x86_feature_detected!(\"avx512f\") && std::is_x86_feature_detected!(\"avx512bw\") \
             && std::is_x86_feature_detected!(\"avx512dq\") && std::is_x86_feature_detected!(\"avx512vl\")",
    prelude: "use core::arch::x86_64::*;",
    entries: &[
        ("f32.vec", "__m512"),
        ("f32.LANES", "16"),
        ("f32.REGS", "32"),
        ("f64.REGS", "32"),
        // 6 x 4 accumulators + 4 B vectors + 1 broadcast = 29 of 32 zmm. Per step
        // of k: 6 broadcasts and 4 loads for 24 FMAs (12 x 2 needs 12 and 2), and
        // 6 row addresses where A is read in place. Chosen by measurement
        // against 12 x 2 (BENCHMARKS.md, "Why the code decides as it does").
        ("f32.MR", "6"),
        ("f32.NR", "64"),
        ("f32.zero", "_mm512_setzero_ps()"),
        ("f32.splat", "_mm512_set1_ps($0)"),
        ("f32.load", "_mm512_loadu_ps($0)"),
        (
            "f32.load_partial",
            "_mm512_maskz_loadu_ps(((1u32 << $1) - 1) as u16, $0)",
        ),
        ("f32.broadcast", "_mm512_set1_ps(*$0)"),
        ("f32.store", "_mm512_storeu_ps($0, $1)"),
        (
            "f32.store_partial",
            "_mm512_mask_storeu_ps($0, ((1u32 << $2) - 1) as u16, $1)",
        ),
        ("f32.add", "_mm512_add_ps($0, $1)"),
        ("f32.mul", "_mm512_mul_ps($0, $1)"),
        ("f32.mul_add", "_mm512_fmadd_ps($0, $1, $2)"),
        ("f32.neg", "_mm512_xor_ps($0, _mm512_set1_ps(-0.0))"),
        ("f32.div", "_mm512_div_ps($0, $1)"),
        ("f32.max", "_mm512_max_ps($0, $1)"),
        (
            "f32.select_neg",
            "_mm512_mask_blend_ps(_mm512_movepi32_mask(_mm512_castps_si512($0)), $2, $1)",
        ),
        (
            "f32.exp2i",
            "_mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_castps_si512(_mm512_add_ps($0, _mm512_set1_ps(12583039.0)))))",
        ),
        ("f32.from_int_bits", "_mm512_cvtepi32_ps(_mm512_castps_si512($0))"),
        ("f64.vec", "__m512d"),
        ("f64.LANES", "8"),
        // 6 x 4 as for f32 (measured against 12 x 2 and 8 x 3, see
        // BENCHMARKS.md, "Why the code decides as it does").
        ("f64.MR", "6"),
        ("f64.NR", "32"),
        ("f64.zero", "_mm512_setzero_pd()"),
        ("f64.splat", "_mm512_set1_pd($0)"),
        ("f64.load", "_mm512_loadu_pd($0)"),
        (
            "f64.load_partial",
            "_mm512_maskz_loadu_pd(((1u32 << $1) - 1) as u8, $0)",
        ),
        ("f64.broadcast", "_mm512_set1_pd(*$0)"),
        ("f64.store", "_mm512_storeu_pd($0, $1)"),
        (
            "f64.store_partial",
            "_mm512_mask_storeu_pd($0, ((1u32 << $2) - 1) as u8, $1)",
        ),
        ("f64.add", "_mm512_add_pd($0, $1)"),
        ("f64.mul", "_mm512_mul_pd($0, $1)"),
        ("f64.mul_add", "_mm512_fmadd_pd($0, $1, $2)"),
        ("f64.neg", "_mm512_xor_pd($0, _mm512_set1_pd(-0.0))"),
        ("f64.div", "_mm512_div_pd($0, $1)"),
        ("f64.max", "_mm512_max_pd($0, $1)"),
        (
            "f64.select_neg",
            "_mm512_mask_blend_pd(_mm512_movepi64_mask(_mm512_castpd_si512($0)), $2, $1)",
        ),
        (
            "f64.exp2i",
            "_mm512_castsi512_pd(_mm512_slli_epi64::<52>(_mm512_castpd_si512(_mm512_add_pd($0, _mm512_set1_pd(6755399441056767.0)))))",
        ),
        ("f64.from_int_bits", "_mm512_cvtepi64_pd(_mm512_castpd_si512($0))"),
        ("u8i8.vec", "__m512i"),
        ("u8i8.AVec", "__m512i"),
        ("u8i8.BVec", "__m512i"),
        ("u8i8.LANES", "16"),
        // The exact emulation needs 4 temporaries per product: keep the tile small.
        ("u8i8.MR", "6"),
        ("u8i8.NR", "32"),
        ("u8i8.zero", "_mm512_setzero_si512()"),
        ("u8i8.load", "_mm512_loadu_epi32($0)"),
        ("u8i8.store", "_mm512_storeu_epi32($0, $1)"),
        ("u8i8.broadcast", "_mm512_set1_epi32(*$0)"),
        ("u8i8.add", "_mm512_add_epi32($0, $1)"),
        (
            "u8i8.broadcast_a",
            "_mm512_set1_epi32(($0 as *const i32).read_unaligned())",
        ),
        ("u8i8.load_b", "_mm512_loadu_si512($0 as *const __m512i)"),
        ("u8i8.load_a", "_mm512_loadu_si512($0 as *const __m512i)"),
        ("u8i8.dot", "ops::dot_u8i8($0, $1, $2)"),
        ("bf16.vec", "__m512"),
        ("bf16.AVec", "__m512i"),
        ("bf16.BVec", "__m512i"),
        ("bf16.LANES", "16"),
        // The emulation needs 4 temporaries per product: keep the tile small.
        ("bf16.MR", "8"),
        ("bf16.NR", "32"),
        ("bf16.zero", "_mm512_setzero_ps()"),
        ("bf16.load", "_mm512_loadu_ps($0)"),
        ("bf16.store", "_mm512_storeu_ps($0, $1)"),
        ("bf16.broadcast", "_mm512_set1_ps(*$0)"),
        ("bf16.add", "_mm512_add_ps($0, $1)"),
        (
            "bf16.broadcast_a",
            "_mm512_set1_epi32(($0 as *const i32).read_unaligned())",
        ),
        ("bf16.load_b", "_mm512_loadu_si512($0 as *const __m512i)"),
        ("bf16.load_a", "_mm512_loadu_si512($0 as *const __m512i)"),
        ("bf16.dot", "ops::dot_bf16($0, $1, $2)"),
        ("f32.prefetch", "_mm_prefetch::<_MM_HINT_T0>($0 as *const i8)"),
        ("f64.prefetch", "_mm_prefetch::<_MM_HINT_T0>($0 as *const i8)"),
        ("f32.prefetch_far", "_mm_prefetch::<_MM_HINT_T1>($0 as *const i8)"),
        ("f64.prefetch_far", "_mm_prefetch::<_MM_HINT_T1>($0 as *const i8)"),
        ("u8i8.prefetch_far", "_mm_prefetch::<_MM_HINT_T1>($0)"),
        ("bf16.prefetch_far", "_mm_prefetch::<_MM_HINT_T1>($0 as *const i8)"),
    ],
    helpers: &[
        (
            "dot_bf16",
            "/// bf16 pair dot product without bf16 instructions: the odd element is the
            /// high half of each 32-bit lane, the even one widens by a 16-bit shift.
            /// bf16 products are exact in f32, so two FMAs (odd first) match
            /// VDPBF16PS on normal numbers.
            pub fn dot_bf16(acc: __m512, a: __m512i, b: __m512i) -> __m512 {
                let high = _mm512_set1_epi32(0xffff_0000u32 as i32);
                let a_odd = _mm512_castsi512_ps(_mm512_and_si512(a, high));
                let b_odd = _mm512_castsi512_ps(_mm512_and_si512(b, high));
                let a_even = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(a));
                let b_even = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(b));
                _mm512_fmadd_ps(a_even, b_even, _mm512_fmadd_ps(a_odd, b_odd, acc))
            }",
        ),
        (
            "dot_u8i8",
            "/// Exact u8 x i8 quad dot product without VNNI: widen to 16 bits and use
        /// `vpmaddwd` on even and odd bytes (`vpmaddubsw` would saturate).
        pub fn dot_u8i8(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
            let a_even = _mm512_and_si512(a, _mm512_set1_epi16(0xff));
            let a_odd = _mm512_srli_epi16::<8>(a);
            let b_even = _mm512_srai_epi16::<8>(_mm512_slli_epi16::<8>(b));
            let b_odd = _mm512_srai_epi16::<8>(b);
            let even = _mm512_madd_epi16(a_even, b_even);
            let odd = _mm512_madd_epi16(a_odd, b_odd);
            _mm512_add_epi32(acc, _mm512_add_epi32(even, odd))
        }",
        ),
    ],
};

pub static AVX512_VNNI: Target = Target {
    name: "avx512_vnni",
    summary: "x86-64 AVX-512 with VNNI (vpdpbusd)",
    parent: Some(&AVX512),
    cfg: "target_arch = \"x86_64\"",
    features: &[
        "avx512f",
        "avx512bw",
        "avx512dq",
        "avx512vl",
        "avx512vnni",
        "avx2",
        "fma",
    ],
    detect: "std::is_x86_feature_detected!(\"avx512f\") && std::is_x86_feature_detected!(\"avx512bw\") \
             && std::is_x86_feature_detected!(\"avx512dq\") && std::is_x86_feature_detected!(\"avx512vl\") \
             && std::is_x86_feature_detected!(\"avx512vnni\")",
    prelude: "",
    // 12 x 2 accumulators + 2 B vectors + 1 broadcast = 27 of 32 zmm.
    entries: &[("u8i8.MR", "12"), ("u8i8.dot", "_mm512_dpbusd_epi32($0, $1, $2)")],
    helpers: &[],
};

pub static AVX512_BF16: Target = Target {
    name: "avx512_bf16",
    summary: "x86-64 AVX-512 with VNNI and BF16 (vdpbf16ps)",
    parent: Some(&AVX512_VNNI),
    cfg: "target_arch = \"x86_64\"",
    features: &[
        "avx512f",
        "avx512bw",
        "avx512dq",
        "avx512vl",
        "avx512vnni",
        "avx512bf16",
        "avx2",
        "fma",
    ],
    detect: "std::is_x86_feature_detected!(\"avx512f\") && std::is_x86_feature_detected!(\"avx512bw\") \
             && std::is_x86_feature_detected!(\"avx512dq\") && std::is_x86_feature_detected!(\"avx512vl\") \
             && std::is_x86_feature_detected!(\"avx512vnni\") && std::is_x86_feature_detected!(\"avx512bf16\")",
    prelude: "",
    entries: &[
        // 12 x 2 accumulators + 2 B vectors + 1 broadcast = 27 of 32 zmm.
        ("bf16.MR", "12"),
        // The one target whose bf16 dot product is an instruction: bf16
        // stays packed in pairs for it.
        ("tuning.bf16_widen", "false"),
        (
            "bf16.dot",
            "_mm512_dpbf16_ps($0, core::mem::transmute::<__m512i, __m512bh>($1), \
             core::mem::transmute::<__m512i, __m512bh>($2))",
        ),
    ],
    helpers: &[],
};

// ---------------------------------------------------------------------------------
// AArch64. NEON is baseline; dotprod and i8mm intrinsics are unstable, so their
// helpers use `asm!` (the `.arch_extension` directive lets the assembler accept them).

pub static NEON: Target = Target {
    name: "neon",
    summary: "AArch64 NEON (Advanced SIMD), 128-bit vectors",
    parent: Some(&COMMON),
    cfg: "target_arch = \"aarch64\"",
    features: &["neon"],
    detect: "true",
    prelude: "use core::arch::aarch64::*;",
    entries: &[
        ("f32.vec", "float32x4_t"),
        ("f32.LANES", "4"),
        ("f32.REGS", "32"),
        ("f64.REGS", "32"),
        // 8 x 3 accumulators + 3 B vectors + 1 broadcast = 28 of 32 v-registers.
        ("f32.MR", "8"),
        ("f32.NR", "12"),
        ("f32.zero", "vdupq_n_f32(0.0)"),
        ("f32.splat", "vdupq_n_f32($0)"),
        ("f32.load", "vld1q_f32($0)"),
        ("f32.load_partial", "ops::load_partial_f32($0, $1)"),
        ("f32.broadcast", "vld1q_dup_f32($0)"),
        ("f32.store", "vst1q_f32($0, $1)"),
        ("f32.store_partial", "ops::store_partial_f32($0, $1, $2)"),
        ("f32.add", "vaddq_f32($0, $1)"),
        ("f32.mul", "vmulq_f32($0, $1)"),
        ("f32.mul_add", "vfmaq_f32($2, $0, $1)"),
        ("f32.neg", "vnegq_f32($0)"),
        ("f32.div", "vdivq_f32($0, $1)"),
        ("f32.max", "vmaxq_f32($0, $1)"),
        (
            "f32.select_neg",
            "vbslq_f32(vreinterpretq_u32_s32(vshrq_n_s32::<31>(vreinterpretq_s32_f32($0))), $1, $2)",
        ),
        (
            "f32.exp2i",
            "vreinterpretq_f32_u32(vshlq_n_u32::<23>(vreinterpretq_u32_f32(vaddq_f32($0, vdupq_n_f32(12583039.0)))))",
        ),
        ("f32.from_int_bits", "vcvtq_f32_s32(vreinterpretq_s32_f32($0))"),
        ("f64.vec", "float64x2_t"),
        ("f64.LANES", "2"),
        ("f64.MR", "8"),
        ("f64.NR", "6"),
        ("f64.zero", "vdupq_n_f64(0.0)"),
        ("f64.splat", "vdupq_n_f64($0)"),
        ("f64.load", "vld1q_f64($0)"),
        ("f64.load_partial", "ops::load_partial_f64($0, $1)"),
        ("f64.broadcast", "vld1q_dup_f64($0)"),
        ("f64.store", "vst1q_f64($0, $1)"),
        ("f64.store_partial", "ops::store_partial_f64($0, $1, $2)"),
        ("f64.add", "vaddq_f64($0, $1)"),
        ("f64.mul", "vmulq_f64($0, $1)"),
        ("f64.mul_add", "vfmaq_f64($2, $0, $1)"),
        ("f64.neg", "vnegq_f64($0)"),
        ("f64.div", "vdivq_f64($0, $1)"),
        ("f64.max", "vmaxq_f64($0, $1)"),
        (
            "f64.select_neg",
            "vbslq_f64(vreinterpretq_u64_s64(vshrq_n_s64::<63>(vreinterpretq_s64_f64($0))), $1, $2)",
        ),
        (
            "f64.exp2i",
            "vreinterpretq_f64_u64(vshlq_n_u64::<52>(vreinterpretq_u64_f64(vaddq_f64($0, vdupq_n_f64(6755399441056767.0)))))",
        ),
        ("f64.from_int_bits", "vcvtq_f64_s64(vreinterpretq_s64_f64($0))"),
        ("u8i8.vec", "int32x4_t"),
        ("u8i8.AVec", "uint8x16_t"),
        ("u8i8.BVec", "int8x16_t"),
        ("u8i8.LANES", "4"),
        ("u8i8.MR", "4"),
        ("u8i8.NR", "8"),
        ("u8i8.zero", "vdupq_n_s32(0)"),
        ("u8i8.load", "vld1q_s32($0)"),
        ("u8i8.store", "vst1q_s32($0, $1)"),
        ("u8i8.broadcast", "vld1q_dup_s32($0)"),
        ("u8i8.add", "vaddq_s32($0, $1)"),
        (
            "u8i8.broadcast_a",
            "vreinterpretq_u8_u32(vdupq_n_u32(($0 as *const u32).read_unaligned()))",
        ),
        ("u8i8.load_b", "vld1q_s8($0)"),
        ("u8i8.load_a", "vld1q_u8($0)"),
        ("u8i8.dot", "ops::dot_u8i8($0, $1, $2)"),
        ("bf16.vec", "float32x4_t"),
        ("bf16.AVec", "uint32x4_t"),
        ("bf16.BVec", "uint32x4_t"),
        ("bf16.LANES", "4"),
        ("bf16.MR", "4"),
        ("bf16.NR", "8"),
        ("bf16.zero", "vdupq_n_f32(0.0)"),
        ("bf16.load", "vld1q_f32($0)"),
        ("bf16.store", "vst1q_f32($0, $1)"),
        ("bf16.broadcast", "vld1q_dup_f32($0)"),
        ("bf16.add", "vaddq_f32($0, $1)"),
        ("bf16.broadcast_a", "vdupq_n_u32(($0 as *const u32).read_unaligned())"),
        ("bf16.load_b", "vreinterpretq_u32_u16(vld1q_u16($0))"),
        ("bf16.load_a", "vreinterpretq_u32_u16(vld1q_u16($0))"),
        ("bf16.dot", "ops::dot_bf16($0, $1, $2)"),
        ("f32.prefetch", "ops::prefetch($0 as *const u8)"),
        ("f64.prefetch", "ops::prefetch($0 as *const u8)"),
        ("f32.prefetch_far", "ops::prefetch_far($0 as *const u8)"),
        ("f64.prefetch_far", "ops::prefetch_far($0 as *const u8)"),
        ("u8i8.prefetch_far", "ops::prefetch_far($0 as *const u8)"),
        ("bf16.prefetch_far", "ops::prefetch_far($0 as *const u8)"),
    ],
    helpers: &[
        (
            "prefetch",
            "/// `prfm pldl1keep`: the prefetch intrinsic is unstable.
            pub fn prefetch(p: *const u8) {
                core::arch::asm!(\"prfm pldl1keep, [{0}]\", in(reg) p, options(nostack, readonly, preserves_flags));
            }",
        ),
        (
            "prefetch_far",
            "/// `prfm pldl2keep`: into L2, for data used after this call.
            pub fn prefetch_far(p: *const u8) {
                core::arch::asm!(\"prfm pldl2keep, [{0}]\", in(reg) p, options(nostack, readonly, preserves_flags));
            }",
        ),
        (
            "dot_bf16",
            "/// bf16 pair dot product: the odd element is the high half of each 32-bit
            /// lane, the even one widens by a 16-bit shift; two FMAs, odd first.
            pub fn dot_bf16(acc: float32x4_t, a: uint32x4_t, b: uint32x4_t) -> float32x4_t {
                let high = vdupq_n_u32(0xffff_0000);
                let a_odd = vreinterpretq_f32_u32(vandq_u32(a, high));
                let b_odd = vreinterpretq_f32_u32(vandq_u32(b, high));
                let a_even = vreinterpretq_f32_u32(vshlq_n_u32::<16>(a));
                let b_even = vreinterpretq_f32_u32(vshlq_n_u32::<16>(b));
                vfmaq_f32(vfmaq_f32(acc, a_odd, b_odd), a_even, b_even)
            }",
        ),
        (
            "load_partial_f32",
            "pub fn load_partial_f32(p: *const f32, n: usize) -> float32x4_t {
                let mut lanes = [0.0f32; 4];
                core::ptr::copy_nonoverlapping(p, lanes.as_mut_ptr(), n);
                vld1q_f32(lanes.as_ptr())
            }",
        ),
        (
            "store_partial_f32",
            "pub fn store_partial_f32(p: *mut f32, v: float32x4_t, n: usize) {
                let mut lanes = [0.0f32; 4];
                vst1q_f32(lanes.as_mut_ptr(), v);
                core::ptr::copy_nonoverlapping(lanes.as_ptr(), p, n);
            }",
        ),
        (
            "load_partial_f64",
            "pub fn load_partial_f64(p: *const f64, n: usize) -> float64x2_t {
                let mut lanes = [0.0f64; 2];
                core::ptr::copy_nonoverlapping(p, lanes.as_mut_ptr(), n);
                vld1q_f64(lanes.as_ptr())
            }",
        ),
        (
            "store_partial_f64",
            "pub fn store_partial_f64(p: *mut f64, v: float64x2_t, n: usize) {
                let mut lanes = [0.0f64; 2];
                vst1q_f64(lanes.as_mut_ptr(), v);
                core::ptr::copy_nonoverlapping(lanes.as_ptr(), p, n);
            }",
        ),
        (
            "dot_u8i8",
            "/// Exact u8 x i8 quad dot product without dotprod: 16-bit products (exact:
            /// |255 * -128| < 2^15), then two pairwise widening adds.
            pub fn dot_u8i8(acc: int32x4_t, a: uint8x16_t, b: int8x16_t) -> int32x4_t {
                let a_lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(a)));
                let a_hi = vreinterpretq_s16_u16(vmovl_high_u8(a));
                let p_lo = vmulq_s16(a_lo, vmovl_s8(vget_low_s8(b)));
                let p_hi = vmulq_s16(a_hi, vmovl_high_s8(b));
                vaddq_s32(acc, vpaddq_s32(vpaddlq_s16(p_lo), vpaddlq_s16(p_hi)))
            }",
        ),
    ],
};

pub static NEON_DOTPROD: Target = Target {
    name: "neon_dotprod",
    summary: "AArch64 NEON + dotprod (sdot), through asm!",
    parent: Some(&NEON),
    cfg: "target_arch = \"aarch64\"",
    features: &["neon", "dotprod"],
    detect: "std::arch::is_aarch64_feature_detected!(\"dotprod\")",
    prelude: "",
    entries: &[("u8i8.MR", "8"), ("u8i8.NR", "12")],
    helpers: &[(
        "dot_u8i8",
        "/// Exact u8 x i8 quad dot product with the signed `sdot`: flip `a` to i8
        /// (`a - 128`) and add back `128 * sum(b)`, itself an `sdot` with ones.
        pub fn dot_u8i8(acc: int32x4_t, a: uint8x16_t, b: int8x16_t) -> int32x4_t {
            let a_signed = vreinterpretq_s8_u8(veorq_u8(a, vdupq_n_u8(0x80)));
            let mut dot = acc;
            let mut b_sum = vdupq_n_s32(0);
            core::arch::asm!(
                \".arch_extension dotprod\",
                \"sdot {dot:v}.4s, {a:v}.16b, {b:v}.16b\",
                \"sdot {b_sum:v}.4s, {ones:v}.16b, {b:v}.16b\",
                dot = inout(vreg) dot,
                b_sum = inout(vreg) b_sum,
                a = in(vreg) a_signed,
                b = in(vreg) b,
                ones = in(vreg) vdupq_n_s8(1),
                options(pure, nomem, nostack, preserves_flags),
            );
            vaddq_s32(dot, vshlq_n_s32::<7>(b_sum))
        }",
    )],
};

pub static NEON_I8MM: Target = Target {
    name: "neon_i8mm",
    summary: "AArch64 NEON + i8mm (usdot, mixed-sign dot product), through asm!",
    parent: Some(&NEON_DOTPROD),
    cfg: "target_arch = \"aarch64\"",
    features: &["neon", "dotprod", "i8mm"],
    detect: "std::arch::is_aarch64_feature_detected!(\"dotprod\") && std::arch::is_aarch64_feature_detected!(\"i8mm\")",
    prelude: "",
    entries: &[],
    helpers: &[(
        "dot_u8i8",
        "/// u8 x i8 quad dot product in one `usdot`.
        pub fn dot_u8i8(acc: int32x4_t, a: uint8x16_t, b: int8x16_t) -> int32x4_t {
            let mut dot = acc;
            core::arch::asm!(
                \".arch_extension i8mm\",
                \"usdot {dot:v}.4s, {a:v}.16b, {b:v}.16b\",
                dot = inout(vreg) dot,
                a = in(vreg) a,
                b = in(vreg) b,
                options(pure, nomem, nostack, preserves_flags),
            );
            dot
        }",
    )],
};

// ---------------------------------------------------------------------------------
// WebAssembly. No runtime detection: a module that uses SIMD must be built with it,
// so these targets are compiled in only when the build enables the feature.

pub static WASM128: Target = Target {
    name: "wasm128",
    summary: "WebAssembly SIMD128",
    parent: Some(&COMMON),
    cfg: "all(target_arch = \"wasm32\", target_feature = \"simd128\")",
    features: &["simd128"],
    detect: "true",
    prelude: "use core::arch::wasm32::*;",
    entries: &[
        ("f32.vec", "v128"),
        ("f32.LANES", "4"),
        // 4 x 2 accumulators + 2 B vectors + 1 broadcast = 11 of 16 (engines map to SSE/NEON).
        ("f32.MR", "4"),
        ("f32.NR", "8"),
        ("f32.zero", "f32x4_splat(0.0)"),
        ("f32.splat", "f32x4_splat($0)"),
        ("f32.load", "v128_load($0 as *const v128)"),
        ("f32.load_partial", "ops::load_partial_f32($0, $1)"),
        ("f32.broadcast", "v128_load32_splat($0 as *const u32)"),
        ("f32.store", "v128_store($0 as *mut v128, $1)"),
        ("f32.store_partial", "ops::store_partial_f32($0, $1, $2)"),
        ("f32.add", "f32x4_add($0, $1)"),
        ("f32.mul", "f32x4_mul($0, $1)"),
        ("f32.mul_add", "f32x4_add(f32x4_mul($0, $1), $2)"),
        ("f32.neg", "f32x4_neg($0)"),
        ("f32.div", "f32x4_div($0, $1)"),
        ("f32.max", "f32x4_max($0, $1)"),
        ("f32.select_neg", "v128_bitselect($1, $2, i32x4_shr($0, 31))"),
        ("f32.exp2i", "i32x4_shl(f32x4_add($0, f32x4_splat(12583039.0)), 23)"),
        ("f32.from_int_bits", "f32x4_convert_i32x4($0)"),
        ("f64.vec", "v128"),
        ("f64.LANES", "2"),
        ("f64.MR", "4"),
        ("f64.NR", "4"),
        ("f64.zero", "f64x2_splat(0.0)"),
        ("f64.splat", "f64x2_splat($0)"),
        ("f64.load", "v128_load($0 as *const v128)"),
        ("f64.load_partial", "ops::load_partial_f64($0, $1)"),
        ("f64.broadcast", "v128_load64_splat($0 as *const u64)"),
        ("f64.store", "v128_store($0 as *mut v128, $1)"),
        ("f64.store_partial", "ops::store_partial_f64($0, $1, $2)"),
        ("f64.add", "f64x2_add($0, $1)"),
        ("f64.mul", "f64x2_mul($0, $1)"),
        ("f64.mul_add", "f64x2_add(f64x2_mul($0, $1), $2)"),
        ("f64.neg", "f64x2_neg($0)"),
        ("f64.div", "f64x2_div($0, $1)"),
        ("f64.max", "f64x2_max($0, $1)"),
        ("f64.select_neg", "v128_bitselect($1, $2, i64x2_shr($0, 63))"),
        (
            "f64.exp2i",
            "i64x2_shl(f64x2_add($0, f64x2_splat(6755399441056767.0)), 52)",
        ),
        ("f64.from_int_bits", "ops::cvt_i64_f64x2($0)"),
        ("u8i8.vec", "v128"),
        ("u8i8.AVec", "v128"),
        ("u8i8.BVec", "v128"),
        ("u8i8.LANES", "4"),
        ("u8i8.MR", "4"),
        ("u8i8.NR", "8"),
        ("u8i8.zero", "i32x4_splat(0)"),
        ("u8i8.load", "v128_load($0 as *const v128)"),
        ("u8i8.store", "v128_store($0 as *mut v128, $1)"),
        ("u8i8.broadcast", "v128_load32_splat($0 as *const u32)"),
        ("u8i8.add", "i32x4_add($0, $1)"),
        ("u8i8.broadcast_a", "v128_load32_splat($0 as *const u32)"),
        ("u8i8.load_b", "v128_load($0 as *const v128)"),
        ("u8i8.load_a", "v128_load($0 as *const v128)"),
        ("u8i8.dot", "ops::dot_u8i8($0, $1, $2)"),
        ("bf16.vec", "v128"),
        ("bf16.AVec", "v128"),
        ("bf16.BVec", "v128"),
        ("bf16.LANES", "4"),
        ("bf16.MR", "4"),
        ("bf16.NR", "8"),
        ("bf16.zero", "f32x4_splat(0.0)"),
        ("bf16.load", "v128_load($0 as *const v128)"),
        ("bf16.store", "v128_store($0 as *mut v128, $1)"),
        ("bf16.broadcast", "v128_load32_splat($0 as *const u32)"),
        ("bf16.add", "f32x4_add($0, $1)"),
        ("bf16.broadcast_a", "v128_load32_splat($0 as *const u32)"),
        ("bf16.load_b", "v128_load($0 as *const v128)"),
        ("bf16.load_a", "v128_load($0 as *const v128)"),
        ("bf16.dot", "ops::dot_bf16($0, $1, $2)"),
        ("f32.prefetch", "{ let _ = $0; }"),
        ("f64.prefetch", "{ let _ = $0; }"),
        ("f32.prefetch_far", "{ let _ = $0; }"),
        ("f64.prefetch_far", "{ let _ = $0; }"),
        ("u8i8.prefetch_far", "{ let _ = $0; }"),
        ("bf16.prefetch_far", "{ let _ = $0; }"),
    ],
    helpers: &[
        (
            "cvt_i64_f64x2",
            "/// Each lane's bits as an `i64`, converted to `f64`: SIMD128 has no 64-bit
            /// integer conversion, so a lane at a time.
            pub fn cvt_i64_f64x2(v: v128) -> v128 {
                f64x2(i64x2_extract_lane::<0>(v) as f64, i64x2_extract_lane::<1>(v) as f64)
            }",
        ),
        (
            "dot_bf16",
            "/// bf16 pair dot product: the odd element is the high half of each 32-bit
            /// lane, the even one widens by a 16-bit shift. bf16 products are exact
            /// in f32, so multiply-then-add matches a fused step.
            pub fn dot_bf16(acc: v128, a: v128, b: v128) -> v128 {
                let high = i32x4_splat(0xffff_0000u32 as i32);
                let odd = f32x4_mul(v128_and(a, high), v128_and(b, high));
                let even = f32x4_mul(i32x4_shl(a, 16), i32x4_shl(b, 16));
                f32x4_add(f32x4_add(acc, odd), even)
            }",
        ),
        (
            "load_partial_f32",
            "pub fn load_partial_f32(p: *const f32, n: usize) -> v128 {
                let mut lanes = [0.0f32; 4];
                core::ptr::copy_nonoverlapping(p, lanes.as_mut_ptr(), n);
                v128_load(lanes.as_ptr() as *const v128)
            }",
        ),
        (
            "store_partial_f32",
            "pub fn store_partial_f32(p: *mut f32, v: v128, n: usize) {
                let mut lanes = [0.0f32; 4];
                v128_store(lanes.as_mut_ptr() as *mut v128, v);
                core::ptr::copy_nonoverlapping(lanes.as_ptr(), p, n);
            }",
        ),
        (
            "load_partial_f64",
            "pub fn load_partial_f64(p: *const f64, n: usize) -> v128 {
                let mut lanes = [0.0f64; 2];
                core::ptr::copy_nonoverlapping(p, lanes.as_mut_ptr(), n);
                v128_load(lanes.as_ptr() as *const v128)
            }",
        ),
        (
            "store_partial_f64",
            "pub fn store_partial_f64(p: *mut f64, v: v128, n: usize) {
                let mut lanes = [0.0f64; 2];
                v128_store(lanes.as_mut_ptr() as *mut v128, v);
                core::ptr::copy_nonoverlapping(lanes.as_ptr(), p, n);
            }",
        ),
        (
            "dot_u8i8",
            "/// Exact u8 x i8 quad dot product: widen to 16 bits, `i32x4.dot_i16x8_s`
            /// gives pair sums, one even/odd shuffle adds the pairs into quads.
            pub fn dot_u8i8(acc: v128, a: v128, b: v128) -> v128 {
                let lo = i32x4_dot_i16x8(u16x8_extend_low_u8x16(a), i16x8_extend_low_i8x16(b));
                let hi = i32x4_dot_i16x8(u16x8_extend_high_u8x16(a), i16x8_extend_high_i8x16(b));
                let even = i32x4_shuffle::<0, 2, 4, 6>(lo, hi);
                let odd = i32x4_shuffle::<1, 3, 5, 7>(lo, hi);
                i32x4_add(acc, i32x4_add(even, odd))
            }",
        ),
    ],
};

pub static WASM_RELAXED: Target = Target {
    name: "wasm_relaxed",
    summary: "WebAssembly SIMD128 + relaxed-simd (fused madd, i8 dot products)",
    parent: Some(&WASM128),
    cfg: "all(target_arch = \"wasm32\", target_feature = \"simd128\", target_feature = \"relaxed-simd\")",
    features: &["simd128", "relaxed-simd"],
    detect: "true",
    prelude: "",
    entries: &[
        ("f32.mul_add", "f32x4_relaxed_madd($0, $1, $2)"),
        ("f64.mul_add", "f64x2_relaxed_madd($0, $1, $2)"),
    ],
    helpers: &[(
        "dot_u8i8",
        "/// Exact u8 x i8 quad dot product with the relaxed i8 x i7 dot: split `a`
        /// into its low 7 bits and its top bit, so both operands are 7-bit and the
        /// result is deterministic on every engine.
        pub fn dot_u8i8(acc: v128, a: v128, b: v128) -> v128 {
            let low7 = v128_and(a, u8x16_splat(0x7f));
            let top = u8x16_shr(a, 7);
            let low_dot = i32x4_relaxed_dot_i8x16_i7x16_add(b, low7, acc);
            let top_dot = i32x4_relaxed_dot_i8x16_i7x16_add(b, top, i32x4_splat(0));
            i32x4_add(low_dot, i32x4_shl(top_dot, 7))
        }",
    )],
};
