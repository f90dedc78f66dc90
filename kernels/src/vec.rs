//! The portable vector API kernels are written against.
//!
//! Every item here is part of the kernel language: the generator reads these traits
//! to learn which ops exist and how many arguments each takes, and every target
//! description in `generator/src/targets.rs` must lower every op. Call ops as
//! associated functions (`V::add(a, b)`), never with method syntax, so the
//! generator can lower them without type inference.
//!
//! Ops are cost-visible, as in Highway: each one is a single instruction or a short
//! fixed sequence on every target. Add an op only when a kernel needs it, with its
//! lowering on every target.
//!
//! # Lanes, tiles and tile shapes
//!
//! `LANES` is the number of elements in one vector. `MR` x `NR` is the shape of the
//! register tile a micro-kernel accumulates (`NR` is a multiple of `LANES`); the
//! target description picks it from the register budget. [`FloatVec::Tile`] is that
//! tile: `MR` rows of `NR / LANES` vectors, indexed `acc[(row, vector)]`, or by
//! slot, `acc[s]` with `s = row * (NR / LANES) + vector`, for a register block of
//! another shape laid over the tile. The generator turns a tile into separate
//! locals (`acc_0_0`, `acc_0_1`, ...), so a tile may only be indexed with indices
//! that are constant after unrolling.

use core::ops::{BitXor, IndexMut};

/// Vectors of `f32` or `f64` lanes.
///
/// Instantiated by the generator once per element type; a kernel that only makes
/// sense for one element type says so with `V: FloatVec<Elem = f32>`.
pub trait FloatVec: Copy {
    /// The lane type, `f32` or `f64`.
    type Elem: Copy + PartialEq;
    /// A register tile of `MR` x `NR / LANES` vectors, indexed `tile[(row, vector)]`
    /// or by row-major slot, `tile[row * (NR / LANES) + vector]`.
    type Tile: Copy + IndexMut<(usize, usize), Output = Self> + IndexMut<usize, Output = Self>;

    /// Elements per vector.
    const LANES: usize;
    /// Rows of the micro-kernel tile.
    const MR: usize;
    /// Columns of the micro-kernel tile, a multiple of `LANES`.
    const NR: usize;
    /// Vector registers the target has (16 ymm with AVX2, 32 zmm with
    /// AVX-512): a kernel shapes a loop so that its accumulators and operands
    /// fit, where a shape that spills would be slower than a narrower one.
    const REGS: usize;
    /// The scalar zero of `Elem`.
    const ZERO: Self::Elem;
    /// The scalar one of `Elem`.
    const ONE: Self::Elem;

    /// All lanes zero.
    fn zero() -> Self;
    /// A tile of zero vectors.
    fn zero_tile() -> Self::Tile;
    /// All lanes `x`.
    fn splat(x: Self::Elem) -> Self;
    /// Loads `LANES` elements from `p` (no alignment required).
    ///
    /// # Safety
    /// `p` must be valid for reading `LANES` elements.
    unsafe fn load(p: *const Self::Elem) -> Self;
    /// Loads the first `n` elements from `p` and sets the other lanes to zero.
    /// Reads nothing past `p + n`.
    ///
    /// # Safety
    /// `n <= LANES` and `p` must be valid for reading `n` elements.
    unsafe fn load_partial(p: *const Self::Elem, n: usize) -> Self;
    /// All lanes `*p` (broadcast from memory).
    ///
    /// # Safety
    /// `p` must be valid for reading one element.
    unsafe fn broadcast(p: *const Self::Elem) -> Self;
    /// Stores all lanes to `p` (no alignment required).
    ///
    /// # Safety
    /// `p` must be valid for writing `LANES` elements.
    unsafe fn store(p: *mut Self::Elem, v: Self);
    /// Stores the first `n` lanes to `p`; writes nothing past `p + n`.
    ///
    /// # Safety
    /// `n <= LANES` and `p` must be valid for writing `n` elements.
    unsafe fn store_partial(p: *mut Self::Elem, v: Self, n: usize);
    /// Hints that the cache line holding `p` will be used soon. No effect on
    /// results, never faults (any address is allowed); a no-op where the target
    /// has no prefetch instruction.
    fn prefetch(p: *const Self::Elem);
    /// Hints that the cache line holding `p` will be used later, not in this
    /// call: it is fetched into the outer caches (L2) and not into L1, so a
    /// stream of these does not evict what the caller works on. Never faults;
    /// a no-op where the target has no prefetch instruction.
    fn prefetch_far(p: *const Self::Elem);
    /// Lane-wise `a + b`.
    fn add(a: Self, b: Self) -> Self;
    /// Lane-wise `a * b`.
    fn mul(a: Self, b: Self) -> Self;
    /// Lane-wise `a * b + c`, fused where the target has FMA (one rounding), as
    /// `mul` then `add` where it has not.
    fn mul_add(a: Self, b: Self, c: Self) -> Self;
    /// Lane-wise `-a` (the sign bit flipped; NaN stays NaN).
    fn neg(a: Self) -> Self;
    /// Lane-wise `a / b`, correctly rounded (a division instruction, not a
    /// reciprocal estimate).
    fn div(a: Self, b: Self) -> Self;
    /// Lane-wise maximum: `a` where `a > b`, else `b`, so a NaN in `b` gives
    /// NaN on every target; a NaN in `a` gives `b` on x86 and the fallback and
    /// NaN elsewhere, and which zero `max(0, -0)` is differs too. Kernels
    /// that must propagate NaN put the value that may be NaN in `b`.
    fn max(a: Self, b: Self) -> Self;
    /// Lane-wise `a` where the sign bit of `m` is set (`m` negative, `-0` and
    /// negative NaNs included), else `b`: one blend on the sign bit.
    fn select_neg(m: Self, a: Self, b: Self) -> Self;
    /// Lane-wise `2^n` for lanes holding an integer `n` in `-126 ..= 127`
    /// (`f32`) or `-1022 ..= 1023` (`f64`), exact; other lanes are unspecified.
    /// Built from the bits: `n` plus `1.5 * 2^23 + 127` (`2^52`, `1023` for
    /// `f64`) holds the biased exponent in its low mantissa bits, which a shift
    /// moves into the exponent field. The building block of `exp`.
    fn exp2i(n: Self) -> Self;
    /// Lane-wise: the lane's bits read as a signed integer of its width (`i32`
    /// in an `f32` lane, `i64` in an `f64` one), converted to `Elem`, rounded
    /// to nearest (ties to even), as Rust's `as`. One instruction on every
    /// target but `f64` on AVX2 and WASM SIMD128, which have no 64-bit
    /// conversion (a lane at a time there). What an epilogue uses to turn a
    /// block of int8 sums, loaded with [`FloatVec::load`], into values.
    fn from_int_bits(v: Self) -> Self;
}

/// Accumulator vectors for widening dot products, the core of int8 and bf16 GEMM.
///
/// Lane `l` of the accumulator receives the products of elements
/// `DEPTH * l .. DEPTH * (l + 1)` of the two operand vectors. The generator
/// instantiates the trait twice:
///
/// - `u8i8`: `Acc = i32`, `A = u8`, `B = i8`, `DEPTH = 4`. VPDPBUSD semantics: the
///   four products are summed exactly and added to the lane, wrapping in i32. Every
///   target lowers it exactly (VPDPBUSD, SDOT/USDOT, or widening emulations that
///   never saturate).
/// - `bf16`: `Acc = f32`, `A = B = u16` (bf16 bit patterns), `DEPTH = 2`. VDPBF16PS
///   semantics: `acc + a[2l+1] * b[2l+1]`, rounded, then `+ a[2l] * b[2l]`, rounded;
///   each bf16 product is exact in f32. Targets without bf16 dot instructions widen
///   to f32 and use the same two steps (they differ from VDPBF16PS only on
///   denormals, which it flushes to zero).
///
/// In the reference implementation the accumulator type picks the instantiation:
/// `Ref<i32, ..>` is `u8i8`, `Ref<f32, ..>` is `bf16`.
pub trait DotVec: Copy {
    /// The accumulator element, `i32` or `f32`.
    type Acc: Copy;
    /// The element of the broadcast (left) operand. Packers convert it to `i32`
    /// (row sums) and flip its bits (`x ^ flip`, see `base_pack_dot_lhs`).
    type A: Copy + Into<i32> + BitXor<Output = Self::A>;
    /// The element of the loaded (right) operand. Packers convert it to `i32`
    /// (column sums).
    type B: Copy + Into<i32>;
    /// `DEPTH * LANES` elements of `A`.
    type AVec: Copy;
    /// `DEPTH * LANES` elements of `B`.
    type BVec: Copy;
    /// A register tile of `MR` x `NR / LANES` accumulators, indexed `tile[(row, vector)]`.
    type Tile: Copy + IndexMut<(usize, usize), Output = Self>;

    /// Accumulator lanes per vector.
    const LANES: usize;
    /// Rows of the micro-kernel tile.
    const MR: usize;
    /// Columns of the micro-kernel tile, a multiple of `LANES`.
    const NR: usize;
    /// Operand elements per accumulator lane (4 for `u8i8`, 2 for `bf16`).
    const DEPTH: usize;
    /// The zero of `A` (packing pads with it).
    const ZERO_A: Self::A;
    /// The zero of `B` (packing pads with it).
    const ZERO_B: Self::B;

    /// All lanes zero.
    fn zero() -> Self;
    /// A tile of zero vectors.
    fn zero_tile() -> Self::Tile;
    /// Loads `LANES` accumulators from `p` (no alignment required).
    ///
    /// # Safety
    /// `p` must be valid for reading `LANES` elements.
    unsafe fn load(p: *const Self::Acc) -> Self;
    /// Stores all lanes to `p` (no alignment required).
    ///
    /// # Safety
    /// `p` must be valid for writing `LANES` elements.
    unsafe fn store(p: *mut Self::Acc, v: Self);
    /// All lanes `*p` (broadcast from memory).
    ///
    /// # Safety
    /// `p` must be valid for reading one element.
    unsafe fn broadcast(p: *const Self::Acc) -> Self;
    /// Hints that the cache line holding `p` will be used later, not in this
    /// call, as [`FloatVec::prefetch_far`]: fetched into the outer caches
    /// (L2); no effect on results, never faults, a no-op where the target has
    /// no prefetch instruction.
    fn prefetch_far(p: *const Self::B);
    /// Lane-wise `a + b` (wrapping for `i32`).
    fn add(a: Self, b: Self) -> Self;
    /// Reads `DEPTH` elements at `p` (no alignment required) and repeats them in every lane.
    ///
    /// # Safety
    /// `p` must be valid for reading `DEPTH` elements.
    unsafe fn broadcast_a(p: *const Self::A) -> Self::AVec;
    /// Loads `DEPTH * LANES` elements from `p` (no alignment required).
    ///
    /// # Safety
    /// `p` must be valid for reading `DEPTH * LANES` elements.
    unsafe fn load_b(p: *const Self::B) -> Self::BVec;
    /// Loads `DEPTH * LANES` elements of A from `p` (no alignment required),
    /// lane `l` taking elements `l * DEPTH ..` (as [`DotVec::load_b`] does B).
    ///
    /// # Safety
    /// `p` must be valid for reading `DEPTH * LANES` elements.
    unsafe fn load_a(p: *const Self::A) -> Self::AVec;
    /// `acc[l]` plus the `DEPTH` products of lane `l`, with the semantics above.
    fn dot(acc: Self, a: Self::AVec, b: Self::BVec) -> Self;
}
