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
//! tile: `MR` rows of `NR / LANES` vectors, indexed `acc[(row, vector)]`. The
//! generator turns a tile into separate locals (`acc_0_0`, `acc_0_1`, ...), so a
//! tile may only be indexed with indices that are constant after unrolling.

use core::ops::IndexMut;

/// Vectors of `f32` or `f64` lanes.
///
/// Instantiated by the generator once per element type; a kernel that only makes
/// sense for one element type says so with `V: FloatVec<Elem = f32>`.
pub trait FloatVec: Copy {
    /// The lane type, `f32` or `f64`.
    type Elem: Copy + PartialEq;
    /// A register tile of `MR` x `NR / LANES` vectors, indexed `tile[(row, vector)]`.
    type Tile: Copy + IndexMut<(usize, usize), Output = Self>;

    /// Elements per vector.
    const LANES: usize;
    /// Rows of the micro-kernel tile.
    const MR: usize;
    /// Columns of the micro-kernel tile, a multiple of `LANES`.
    const NR: usize;
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
    /// Lane-wise `a + b`.
    fn add(a: Self, b: Self) -> Self;
    /// Lane-wise `a * b`.
    fn mul(a: Self, b: Self) -> Self;
    /// Lane-wise `a * b + c`, fused where the target has FMA (one rounding), as
    /// `mul` then `add` where it has not.
    fn mul_add(a: Self, b: Self, c: Self) -> Self;
}

/// Vectors of `i32` accumulators for int8 dot products (u8 x i8 -> i32).
///
/// The operands are vectors of `4 * LANES` bytes: lane `l` of the accumulator
/// receives the sum of the four products of bytes `4l..4l + 4`. This is the
/// VPDPBUSD contract (u8 times i8, summed in quads, added to i32, wrapping), and
/// every target lowers it exactly.
pub trait QuadDotVec: Copy {
    /// `4 * LANES` unsigned bytes.
    type U8x4: Copy;
    /// `4 * LANES` signed bytes.
    type I8x4: Copy;
    /// A register tile of `MR` x `NR / LANES` accumulators, indexed `tile[(row, vector)]`.
    type Tile: Copy + IndexMut<(usize, usize), Output = Self>;

    /// `i32` lanes per vector.
    const LANES: usize;
    /// Rows of the int8 micro-kernel tile.
    const MR: usize;
    /// Columns of the int8 micro-kernel tile, a multiple of `LANES`.
    const NR: usize;

    /// All lanes zero.
    fn zero() -> Self;
    /// A tile of zero vectors.
    fn zero_tile() -> Self::Tile;
    /// Loads `LANES` `i32` from `p` (no alignment required).
    ///
    /// # Safety
    /// `p` must be valid for reading `LANES` elements.
    unsafe fn load(p: *const i32) -> Self;
    /// Stores all lanes to `p` (no alignment required).
    ///
    /// # Safety
    /// `p` must be valid for writing `LANES` elements.
    unsafe fn store(p: *mut i32, v: Self);
    /// Lane-wise wrapping `a + b`.
    fn add(a: Self, b: Self) -> Self;
    /// Reads 4 bytes at `p` (no alignment required) and repeats them in every lane.
    ///
    /// # Safety
    /// `p` must be valid for reading 4 bytes.
    unsafe fn broadcast_u8x4(p: *const u8) -> Self::U8x4;
    /// Loads `4 * LANES` signed bytes from `p` (no alignment required).
    ///
    /// # Safety
    /// `p` must be valid for reading `4 * LANES` bytes.
    unsafe fn load_i8x4(p: *const i8) -> Self::I8x4;
    /// `acc[l] + sum(a[4l + q] * b[4l + q] for q in 0..4)`, exact, wrapping in i32.
    fn dot_u8i8(acc: Self, a: Self::U8x4, b: Self::I8x4) -> Self;
}
