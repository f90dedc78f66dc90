//! The dot-product families: int8 (`u8 x i8` and `i8 x i8` to `i32`, with
//! oneDNN/MKL's offsets) and bf16 (`bf16 x bf16` to `f32`). They run through
//! the same five loops as the float families; what is theirs is here: how a
//! block is packed (k in groups of the instruction's depth, with each packed
//! row's and column's sum for the offsets' compensation), how a tile is
//! computed (the generated dot-product micro-kernel) and how it reaches C.
//!
//! int8: `C := alpha * (A - a_offset) * (B - b_offset) + beta * C + c_offset`.
//! Where `alpha == 1` and `beta` is 0 or 1 the result is exact integer
//! arithmetic, wrapping in `i32` (the blocks of k add into C). Otherwise each
//! element is computed in `f32` from the exact `i32` sum `s`:
//! `alpha * s + beta * C + c_offset`, rounded to nearest (ties to even) and
//! saturated to `i32`; k is then not split (one block of the depth).
//!
//! `i8 x i8` runs on the `u8 x i8` instruction: A is packed as `a + 128` (a
//! `u8`), and its offset becomes `a_offset + 128`.

use crate::driver::{Block, Strip};
use crate::family::{Family, Kernels, Micro};
use crate::generated::{MicrokernelDotFn, Shape, Target};
use crate::problem::Problem;
use half::bf16;

/// Where a C offset comes from, as the kernels read it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum COff {
    Fixed(i32),
    /// One per row of C (oneDNN's 'C': the offset varies along a column).
    Rows(*const i32),
    /// One per column of C (oneDNN's 'R').
    Cols(*const i32),
}

/// The per-call data of the int8 families.
#[derive(Clone, Copy, Debug)]
pub struct IntExtra {
    /// The offsets of A (as packed: `+ 128` for `i8`) and B.
    pub(crate) a_offset: i32,
    pub(crate) b_offset: i32,
    pub(crate) c_offset: COff,
    /// `alpha == 1` and `beta` is 0 or 1: integer arithmetic.
    pub(crate) exact: bool,
}

// SAFETY: the pointers of `c_offset` are read-only views the caller's borrows
// keep alive for the call.
unsafe impl Send for IntExtra {}
unsafe impl Sync for IntExtra {}

impl IntExtra {
    /// The C offset of element `(i, j)` of C.
    #[inline(always)]
    pub(crate) fn c_offset(&self, i: usize, j: usize) -> i32 {
        match self.c_offset {
            COff::Fixed(v) => v,
            COff::Rows(p) => unsafe { *p.add(i) },
            COff::Cols(p) => unsafe { *p.add(j) },
        }
    }
}

/// `alpha * s + beta * c + co` for one element of int8 C (see the module):
/// exact and wrapping, or in `f32`, rounded and saturated.
#[inline(always)]
pub(crate) fn int_out(exact: bool, alpha: f32, s: i32, beta: f32, c: Option<i32>, co: i32) -> i32 {
    if exact {
        c.unwrap_or(0).wrapping_add(s).wrapping_add(co)
    } else {
        let c = c.map_or(0.0, |c| beta * c as f32);
        // `as` saturates (and maps NaN to 0, which f32 sums of integers never are).
        (alpha * s as f32 + c + co as f32).round_ties_even() as i32
    }
}

/// A dot-product family's own kernels.
#[derive(Clone, Copy)]
pub struct DotOwn<F: Family, Acc> {
    pub micro: MicrokernelDotFn<F::PackedA, F::PackedB, Acc>,
    pub(crate) shape: Shape,
}

// TEMPORARY, until the generated packers (`pack_dot_lhs` / `pack_dot_rhs`,
// branch `dotk`) are in the table: scalar packers in their layout, with
// `flip` XORed into A and the sums of the packed values.

/// Packs `m x k` of A (`MR`-row panels of `DEPTH` groups), XORing `flip` in.
#[allow(clippy::too_many_arguments)]
unsafe fn temp_pack_a<T: Copy + Default + std::ops::BitXor<Output = T> + Into<i32>>(
    mr: usize,
    depth: usize,
    m: usize,
    k: usize,
    a: *const T,
    rs: usize,
    cs: usize,
    dst: *mut T,
    stride: usize,
    flip: T,
    sums: *mut i32,
) {
    let kp = k.div_ceil(depth) * depth;
    for panel in 0..m.div_ceil(mr) {
        let d = unsafe { dst.add(panel * stride) };
        for i in 0..mr {
            let row = panel * mr + i;
            let mut sum = 0i32;
            for p in 0..kp {
                let v = if row < m && p < k {
                    (unsafe { *a.add(row * rs + p * cs) }) ^ flip
                } else {
                    T::default()
                };
                sum = sum.wrapping_add(v.into());
                unsafe { *d.add((p / depth * mr + i) * depth + p % depth) = v };
            }
            if row < m && !sums.is_null() {
                unsafe { *sums.add(row) = sum };
            }
        }
    }
}

/// Packs `k x n` of B (`NR`-column strips of `DEPTH` groups).
#[allow(clippy::too_many_arguments)]
unsafe fn temp_pack_b<T: Copy + Default + Into<i32>>(
    nr: usize,
    depth: usize,
    k: usize,
    n: usize,
    b: *const T,
    rs: usize,
    cs: usize,
    dst: *mut T,
    stride: usize,
    sums: *mut i32,
) {
    let kp = k.div_ceil(depth) * depth;
    for strip in 0..n.div_ceil(nr) {
        let d = unsafe { dst.add(strip * stride) };
        for j in 0..nr {
            let col = strip * nr + j;
            let mut sum = 0i32;
            for p in 0..kp {
                let v = if col < n && p < k {
                    unsafe { *b.add(p * rs + col * cs) }
                } else {
                    T::default()
                };
                sum = sum.wrapping_add(v.into());
                unsafe { *d.add((p / depth * nr + j) * depth + p % depth) = v };
            }
            if col < n && !sums.is_null() {
                unsafe { *sums.add(col) = sum };
            }
        }
    }
}

/// A dot-product family's loop 2 body: panel `pi` of A (packed) by every
/// strip of lane `l`, each tile computed whole into the worker's tile and
/// written to C by `out(i, j, sum, c)` (`i`, `j` in C) for its `h x w`
/// elements. `out` gets the tile's row sums of A and column sums of B too.
#[inline(always)]
unsafe fn dot_panel<F: Family, Acc: Copy>(
    b: &Block<'_, F>,
    micro: MicrokernelDotFn<F::PackedA, F::PackedB, Acc>,
    l: usize,
    pi: usize,
    worker: usize,
    out: impl Fn(usize, usize, Acc, *const i32, *const i32, *mut F::C),
) {
    let (ctx, p, mr, nr) = (b.ctx, &b.ctx.p, b.ctx.shape.mr, b.ctx.shape.nr);
    let ap = unsafe { ctx.bufs.a.add(b.a_slot(pi)).cast_const() };
    let kd = b.kp / F::DEPTH;
    let (rs, cs) = (p.c.rs, p.c.cs);
    unsafe {
        b.strips(l, pi, worker, |s: &Strip<F>| {
            let tile = s.tile.cast::<Acc>();
            micro(kd, ap, s.bp.cast_const(), tile, nr, false);
            let a_sums = ctx.bufs.a_sums.add(pi * mr);
            let b_sums = ctx.bufs.b_sums.add(s.jr);
            let (i0, j0) = (b.ic + pi * mr, b.jc + s.jr);
            for i in 0..s.h {
                for j in 0..s.w {
                    let c = s.c.add(i * rs + j * cs);
                    out(i0 + i, j0 + j, *tile.add(i * nr + j), a_sums.add(i), b_sums.add(j), c);
                }
            }
        })
    }
}

/// One int8 family: `$a` the elements of A (packed as `u8`, XORed with
/// `$flip`; the API raises A's offset to match).
macro_rules! int_family {
    ($(#[$doc:meta])* $name:ident, $a:ty, $flip:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub enum $name {}

        impl Family for $name {
            type A = $a;
            type B = i8;
            type C = i32;
            type Scalar = f32;
            type PackedA = u8;
            type PackedB = i8;
            const ZERO: f32 = 0.0;
            const ONE: f32 = 1.0;
            const C_ZERO: i32 = 0;
            type Extra = IntExtra;
            type Own = DotOwn<Self, i32>;
            const DEPTH: usize = 4;
            const SUMS: bool = true;
            #[inline(always)]
            fn kernels(t: &Target) -> Kernels<Self> {
                Kernels {
                    own: DotOwn {
                        micro: t.u8i8.microkernel_dot,
                        shape: t.shapes.u8i8,
                    },
                    in_place: None,
                    small: None,
                    dot: None,
                }
            }
            #[inline(always)]
            fn shape(t: &Target) -> Shape {
                t.shapes.u8i8
            }
            fn scale(_: f32, c: i32) -> i32 {
                c
            }
            fn combine(_: f32, p: i32, _: f32, c: Option<i32>) -> i32 {
                c.unwrap_or(0).wrapping_add(p)
            }
            fn sum(parts: &[i32]) -> i32 {
                parts.iter().fold(0, |acc, &v| acc.wrapping_add(v))
            }
            fn transposed(_: &Problem<Self>) -> Option<Problem<Self>> {
                None
            }
            fn split_k(p: &Problem<Self>) -> bool {
                p.extra.exact
            }
            unsafe fn scale_c(p: &Problem<Self>) {
                let (e, beta) = (p.extra, p.beta);
                for i in 0..p.m {
                    for j in 0..p.n {
                        let dst = unsafe { &mut *p.c.at(i, j) };
                        let c = (beta != 0.0).then_some(*dst);
                        *dst = int_out(e.exact, 0.0, 0, beta, c, e.c_offset(i, j));
                    }
                }
            }
            unsafe fn pack_a(
                kern: &Kernels<Self>,
                p: &Problem<Self>,
                rows: usize,
                cols: usize,
                src: *const $a,
                dst: *mut u8,
                panel_stride: usize,
                sums: *mut i32,
            ) {
                let (s, (rs, cs)) = (kern.own.shape, (p.a.rs, p.a.cs));
                unsafe {
                    temp_pack_a::<u8>(s.mr, 4, rows, cols, src.cast(), rs, cs, dst, panel_stride, $flip, sums)
                }
            }
            unsafe fn pack_b(
                kern: &Kernels<Self>,
                p: &Problem<Self>,
                rows: usize,
                cols: usize,
                src: *const i8,
                dst: *mut i8,
                strip_stride: usize,
                sums: *mut i32,
            ) {
                let s = kern.own.shape;
                unsafe { temp_pack_b::<i8>(s.nr, 4, rows, cols, src, p.b.rs, p.b.cs, dst, strip_stride, sums) }
            }
            unsafe fn panel(b: &Block<'_, Self>, l: usize, pi: usize, worker: usize) {
                let p = &b.ctx.p;
                let (e, alpha, first) = (p.extra, p.alpha, b.pc == 0);
                let beta = b.beta;
                let kc = b.kc as i32;
                let comp = kc.wrapping_mul(e.a_offset).wrapping_mul(e.b_offset);
                let micro = b.ctx.kern.own.micro;
                unsafe {
                    dot_panel(b, micro, l, pi, worker, |i, j, s, ra, cb, c| {
                        let s = s
                            .wrapping_sub(e.b_offset.wrapping_mul(*ra))
                            .wrapping_sub(e.a_offset.wrapping_mul(*cb))
                            .wrapping_add(comp);
                        let old = (beta != 0.0).then(|| *c);
                        let co = if first { e.c_offset(i, j) } else { 0 };
                        *c = int_out(e.exact, alpha, s, beta, old, co);
                    })
                }
            }
            fn packed_set(_: &Kernels<Self>) -> Option<&Micro<Self, u8>> {
                None
            }
        }
    };
}

int_family!(
    /// `u8 x i8 -> i32` (oneDNN's u8s8s32).
    U8S8, u8, 0
);
int_family!(
    /// `i8 x i8 -> i32` (oneDNN's s8s8s32), on the `u8 x i8` instruction with A
    /// packed as `a + 128`.
    S8S8, i8, 0x80
);

/// `bf16 x bf16 -> f32`, products and sums in `f32` (VDPBF16PS's order).
#[derive(Clone, Copy, Debug)]
pub enum Bf16 {}

impl Family for Bf16 {
    type A = bf16;
    type B = bf16;
    type C = f32;
    type Scalar = f32;
    type PackedA = u16;
    type PackedB = u16;
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    const C_ZERO: f32 = 0.0;
    type Extra = ();
    type Own = DotOwn<Self, f32>;
    const DEPTH: usize = 2;
    const SUMS: bool = false;
    #[inline(always)]
    fn kernels(t: &Target) -> Kernels<Self> {
        Kernels {
            own: DotOwn {
                micro: t.bf16.microkernel_dot,
                shape: t.shapes.bf16,
            },
            in_place: None,
            small: None,
            dot: None,
        }
    }
    #[inline(always)]
    fn shape(t: &Target) -> Shape {
        t.shapes.bf16
    }
    fn scale(beta: f32, c: f32) -> f32 {
        beta * c
    }
    fn combine(alpha: f32, p: f32, beta: f32, c: Option<f32>) -> f32 {
        match c {
            Some(c) => alpha * p + beta * c,
            None => alpha * p,
        }
    }
    fn sum(parts: &[f32]) -> f32 {
        parts.iter().fold(0.0, |acc, &v| acc + v)
    }
    fn transposed(_: &Problem<Self>) -> Option<Problem<Self>> {
        None
    }
    unsafe fn pack_a(
        kern: &Kernels<Self>,
        p: &Problem<Self>,
        rows: usize,
        cols: usize,
        src: *const bf16,
        dst: *mut u16,
        panel_stride: usize,
        _: *mut i32,
    ) {
        let s = kern.own.shape;
        let null = std::ptr::null_mut();
        unsafe {
            temp_pack_a::<Bits16>(
                s.mr,
                2,
                rows,
                cols,
                src.cast(),
                p.a.rs,
                p.a.cs,
                dst.cast(),
                panel_stride,
                Bits16(0),
                null,
            )
        }
    }
    unsafe fn pack_b(
        kern: &Kernels<Self>,
        p: &Problem<Self>,
        rows: usize,
        cols: usize,
        src: *const bf16,
        dst: *mut u16,
        strip_stride: usize,
        _: *mut i32,
    ) {
        let s = kern.own.shape;
        let null = std::ptr::null_mut();
        unsafe {
            temp_pack_b::<Bits16>(
                s.nr,
                2,
                rows,
                cols,
                src.cast(),
                p.b.rs,
                p.b.cs,
                dst.cast(),
                strip_stride,
                null,
            )
        }
    }
    unsafe fn panel(b: &Block<'_, Self>, l: usize, pi: usize, worker: usize) {
        let (alpha, beta) = (b.ctx.p.alpha, b.beta);
        let micro = b.ctx.kern.own.micro;
        unsafe {
            dot_panel(b, micro, l, pi, worker, |_, _, s, _, _, c| {
                let old = (beta != 0.0).then(|| *c);
                *c = Self::combine(alpha, s, beta, old);
            })
        }
    }
    fn packed_set(_: &Kernels<Self>) -> Option<&Micro<Self, u16>> {
        None
    }
}

/// TEMPORARY (see the packers): a `u16` the scalar packers can add up.
#[derive(Clone, Copy, Default)]
#[repr(transparent)]
struct Bits16(u16);

impl std::ops::BitXor for Bits16 {
    type Output = Bits16;
    fn bitxor(self, o: Bits16) -> Bits16 {
        Bits16(self.0 ^ o.0)
    }
}

impl From<Bits16> for i32 {
    fn from(v: Bits16) -> i32 {
        v.0.into()
    }
}
