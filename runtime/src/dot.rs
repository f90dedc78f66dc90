//! The dot-product families: int8 (`u8 x i8` and `i8 x i8` to `i32`, with
//! oneDNN/MKL's offsets) and bf16 (`bf16 x bf16` to `f32`). They run through
//! the same five loops as the float families; what is theirs is here: how a
//! block is packed (k in groups of the instruction's depth, with each packed
//! row's and column's sum for the offsets' compensation), how a tile is
//! computed (the generated dot-product micro-kernel) and how it reaches C.
//! And [`Bf16Wide`], bf16 on the targets whose bf16 dot product is an
//! emulation: widened to f32 as it is packed, in pairs of k, and computed by
//! the f32 micro-kernel.
//!
//! int8: `C := alpha * (A - a_offset) * (B - b_offset) + beta * C + c_offset`.
//! Where `alpha == 1` and `beta` is 0 or 1 the result is exact integer
//! arithmetic, wrapping in `i32` (the blocks of k add into C). Otherwise each
//! element is computed in `f32` from the exact `i32` sum `s`:
//! `alpha * s + beta * C + c_offset`, rounded to nearest (ties to even) and
//! saturated to `i32`; k is then not split (one block of the depth).
//!
//! `i8 x i8` runs on the `u8 x i8` instruction: A is packed as `a + 128` (a
//! `u8`), compensated by `-128 * colsum(B)`. The offsets' terms
//! (`-b_offset * rowsum(A) - a_offset * colsum(B) + k * a_offset * b_offset`,
//! and `c_offset` on the first block of k where exact) are made from the sums
//! the generated packers leave, in place, when a block is packed: row terms
//! for each panel of A, column terms for each strip of B, which the
//! compensating micro-kernel adds in its epilogue.

use crate::driver::{Block, Strip};
use crate::family::{ApplyFn, Family, Kernels, Micro, float_strips, strided_a_instances};
use crate::generated::{MicrokernelDotFn, PackBf16LhsFn, PackBf16RhsFn, PackDotLhsFn, PackDotRhsFn, Shape, Target};
use crate::output::apply_tile;
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
    /// The offsets of A and B.
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

/// A dot-product family's own kernels: the micro-kernel, its compensating
/// instance (`+ row_comp[i] + col_comp[j]`), the packers, and the output
/// kernel `C = alpha * P + beta * C` where C is one of the float types (bf16:
/// the f32 family's `apply_packed_output`; int8 has none, its output rounds).
#[derive(Clone, Copy)]
pub struct DotOwn<F: Family, Acc> {
    /// The whole tile and its first row only (`_row`), without and with
    /// compensation.
    pub micro: [MicrokernelDotFn<F::PackedA, F::PackedB, Acc>; 2],
    pub comp: [MicrokernelDotFn<F::PackedA, F::PackedB, Acc>; 2],
    pub pack_a: PackDotLhsFn<F::PackedA>,
    pub pack_b: PackDotRhsFn<F::PackedB>,
    pub apply: Option<ApplyFn<F>>,
}

/// The kernels of a generated dot-product table, with the output kernel.
macro_rules! dot_own {
    ($k:expr, $apply:expr) => {{
        let k = &$k;
        DotOwn {
            micro: [
                k.microkernel_dot.microkernel_dot.kernel,
                k.microkernel_dot.microkernel_dot_row.kernel,
            ],
            comp: [
                k.microkernel_dot.microkernel_dot_comp.kernel,
                k.microkernel_dot.microkernel_dot_comp_row.kernel,
            ],
            pack_a: k.pack_dot_lhs,
            pack_b: k.pack_dot_rhs,
            apply: $apply,
        }
    }};
}

/// A dot-product family's loop 2 body: panel `pi` of A (packed) by every
/// strip of lane `l`, by `micro[0]`, or `micro[1]` (its one-row instance)
/// where the panel has one row. Where `direct` says so for a whole tile (or a
/// whole-width row) with C's unit column stride, the kernel writes C itself
/// (`accumulate`: adding to it); otherwise it writes the worker's tile, which
/// `out(strip, tile, (i, j))` stores (`(i, j)` the tile's first element in
/// C). It gets the panel's row terms and the strip's column terms (the sums
/// buffers, see the module).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn dot_panel<F: Family, Acc: Copy>(
    b: &Block<'_, F>,
    micro: [MicrokernelDotFn<F::PackedA, F::PackedB, Acc>; 2],
    direct: Option<bool>,
    l: usize,
    pi: usize,
    worker: usize,
    out: impl Fn(&Strip<F>, *const Acc, (usize, usize)),
) {
    let (ctx, p, mr, nr) = (b.ctx, &b.ctx.p, b.ctx.shape.mr, b.ctx.shape.nr);
    let ap = unsafe { ctx.bufs.a.add(b.a_slot(pi)).cast_const() };
    let kd = b.kp / F::DEPTH;
    let (rs, cs) = (p.c.rs, p.c.cs);
    let row_comp = unsafe { ctx.bufs.a_sums.add(pi * mr).cast_const().cast::<Acc>() };
    unsafe {
        b.strips(l, pi, worker, |s: &Strip<F>| {
            let col_comp = ctx.bufs.b_sums.add(s.jr).cast_const().cast::<Acc>();
            let bp = s.bp.cast_const();
            let (micro, row) = if s.h == 1 { (micro[1], true) } else { (micro[0], false) };
            match direct {
                Some(accumulate) if (s.whole || row && s.w == nr) && cs == 1 => {
                    micro(kd, ap, bp, s.c.cast(), rs, accumulate, row_comp, col_comp)
                }
                _ => {
                    let tile = s.tile.cast::<Acc>();
                    micro(kd, ap, bp, tile, nr, false, row_comp, col_comp);
                    out(s, tile.cast_const(), (b.ic + pi * mr, b.jc + s.jr));
                }
            }
        })
    }
}

/// What the int8 families share beyond [`Family`]: how an element of A
/// becomes the instruction's `u8`, and what that adds to it.
pub(crate) trait IntFamily: Family<Scalar = f32, Extra = IntExtra, B = i8, C = i32, PackedB = i8> {
    /// What packing adds to each element of A: 128 for `i8` (packed as
    /// `a + 128`, a `u8`), 0 for `u8`.
    const SHIFT: i32;
    /// The bits of an element of A (packing XORs them with `SHIFT`).
    fn byte(a: Self::A) -> u8;
}

/// One int8 family: `$a` the elements of A (packed as `u8`, XORed with
/// `$flip`, its `IntFamily::SHIFT`).
macro_rules! int_family {
    ($(#[$doc:meta])* $name:ident, $a:ty, $flip:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub enum $name {}

        impl IntFamily for $name {
            const SHIFT: i32 = $flip;
            #[inline(always)]
            fn byte(a: $a) -> u8 {
                a as u8
            }
        }

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
                    own: dot_own!(t.u8i8, None),
                    in_place: None,
                    small: None,
                    dot: None,
                    gemv: None,
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
                (i0, p0): (usize, usize),
                dst: *mut u8,
                panel_stride: usize,
                sums: *mut i32,
            ) {
                let (a, e) = (p.a, p.extra);
                unsafe { (kern.own.pack_a)(rows, cols, src.cast(), a.rs, a.cs, dst, panel_stride, Self::SHIFT as u8, sums, true) };
                // Each row's term: `-b_offset * rowsum + kc * a_offset * b_offset`,
                // and, exact, its C offset on the first block of k (where it
                // is the row's or everyone's).
                let kab = (cols as i32).wrapping_mul(e.a_offset).wrapping_mul(e.b_offset);
                for i in 0..rows {
                    let sum = unsafe { &mut *sums.add(i) };
                    let co = match e.c_offset {
                        COff::Fixed(v) if e.exact && p0 == 0 => v,
                        COff::Rows(v) if e.exact && p0 == 0 => unsafe { *v.add(i0 + i) },
                        _ => 0,
                    };
                    *sum = kab.wrapping_sub(e.b_offset.wrapping_mul(*sum)).wrapping_add(co);
                }
            }
            unsafe fn pack_b(
                kern: &Kernels<Self>,
                p: &Problem<Self>,
                rows: usize,
                cols: usize,
                src: *const i8,
                _: (usize, usize),
                dst: *mut i8,
                strip_stride: usize,
                sums: *mut i32,
            ) {
                let b = p.b;
                unsafe { (kern.own.pack_b)(rows, cols, src, b.rs, b.cs, dst, strip_stride, sums, true) };
            }
            unsafe fn b_terms(p: &Problem<Self>, cols: usize, (p0, j0): (usize, usize), sums: *mut i32) {
                // Each column's term: `-(a_offset + SHIFT) * colsum`, and,
                // exact, its C offset on the first block of k.
                let e = p.extra;
                let a_off = e.a_offset.wrapping_add(Self::SHIFT);
                for j in 0..cols {
                    let sum = unsafe { &mut *sums.add(j) };
                    let co = match e.c_offset {
                        COff::Cols(v) if e.exact && p0 == 0 => unsafe { *v.add(j0 + j) },
                        _ => 0,
                    };
                    *sum = co.wrapping_sub(a_off.wrapping_mul(*sum));
                }
            }
            unsafe fn panel(b: &Block<'_, Self>, l: usize, pi: usize, worker: usize) {
                let (p, comp, beta) = (&b.ctx.p, b.ctx.kern.own.comp, b.beta);
                let (e, alpha) = (p.extra, p.alpha);
                // Exact: the compensating kernel writes C (adding to it after
                // the first block of k, or where beta is 1), C offset included.
                let direct = e.exact.then_some(beta != 0.0);
                let (nr, rs, cs) = (b.ctx.shape.nr, p.c.rs, p.c.cs);
                unsafe {
                    dot_panel(b, comp, direct, l, pi, worker, |s, tile, (i0, j0)| {
                        for i in 0..s.h {
                            for j in 0..s.w {
                                let c = &mut *s.c.add(i * rs + j * cs);
                                let old = (beta != 0.0).then_some(*c);
                                let co = if e.exact { 0 } else { e.c_offset(i0 + i, j0 + j) };
                                *c = int_out(e.exact, alpha, *tile.add(i * nr + j), beta, old, co);
                            }
                        }
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
            own: dot_own!(t.bf16, Some(t.f32.apply_packed_output)),
            in_place: None,
            small: None,
            dot: None,
            gemv: None,
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
        _: (usize, usize),
        dst: *mut u16,
        panel_stride: usize,
        _: *mut i32,
    ) {
        let (a, none) = (p.a, std::ptr::null_mut());
        unsafe { (kern.own.pack_a)(rows, cols, src.cast(), a.rs, a.cs, dst, panel_stride, 0, none, false) }
    }
    unsafe fn pack_b(
        kern: &Kernels<Self>,
        p: &Problem<Self>,
        rows: usize,
        cols: usize,
        src: *const bf16,
        _: (usize, usize),
        dst: *mut u16,
        strip_stride: usize,
        _: *mut i32,
    ) {
        let (b, none) = (p.b, std::ptr::null_mut());
        unsafe { (kern.own.pack_b)(rows, cols, src.cast(), b.rs, b.cs, dst, strip_stride, none, false) }
    }
    unsafe fn panel(b: &Block<'_, Self>, l: usize, pi: usize, worker: usize) {
        let (alpha, beta, micro) = (b.ctx.p.alpha, b.beta, b.ctx.kern.own.micro);
        // alpha 1 and beta 0 or 1: the kernel writes C (`s + c` is
        // `alpha * s + beta * c` then).
        let direct = (alpha == 1.0 && (beta == 0.0 || beta == 1.0)).then_some(beta == 1.0);
        let (p, nr, apply) = (&b.ctx.p, b.ctx.shape.nr, b.ctx.kern.own.apply);
        unsafe {
            dot_panel(b, micro, direct, l, pi, worker, |s, tile, _| {
                // The f32 family's output kernel (always there for bf16).
                if let Some(apply) = apply {
                    apply_tile::<Self>(apply, s.h, s.w, alpha, tile, nr, beta, s.c, p.c.rs, p.c.cs)
                }
            })
        }
    }
    fn packed_set(_: &Kernels<Self>) -> Option<&Micro<Self, u16>> {
        None
    }
}

/// `bf16 x bf16 -> f32` on the f32 micro-kernel: A and B widened to `f32`
/// as they are packed, with each pair of k swapped (`base_pack_bf16_lhs`,
/// `base_pack_bf16_rhs`), so that the f32 kernel adds each pair's odd
/// product first: the products, sums and order of [`Bf16`]. Where a
/// target's bf16 dot product is an emulation ([`Tuning::bf16_widen`]), each
/// element is widened once, when it is packed, instead of at every use. (A
/// B packed ahead stays in pairs unless [`Tuning::bf16_widen_packed`].)
///
/// [`Tuning::bf16_widen`]: crate::Tuning::bf16_widen
/// [`Tuning::bf16_widen_packed`]: crate::Tuning::bf16_widen_packed
#[derive(Clone, Copy, Debug)]
pub enum Bf16Wide {}

/// The wide bf16 family's kernels: the widening packers and the f32
/// micro-kernel's instances that read A with strides (here the packed
/// panels' rows), and its output step.
#[derive(Clone, Copy)]
pub struct WideOwn {
    pub pack_a: PackBf16LhsFn,
    pub pack_b: PackBf16RhsFn,
    pub micro: Micro<Bf16Wide, f32>,
    pub apply: ApplyFn<Bf16Wide>,
}

impl Bf16Wide {
    /// Whether bf16 products on `target` whose B is packed per call (`packed:
    /// false`) or ahead are computed widened: as its tuning says.
    pub(crate) fn chosen(target: &Target, packed: bool) -> bool {
        let t = crate::tuning(target);
        if packed { t.bf16_widen_packed } else { t.bf16_widen }
    }
}

impl Problem<Bf16> {
    /// The same problem for the wide family (B not packed ahead: a B packed
    /// for [`Bf16`] is in pairs).
    pub(crate) fn widened(&self) -> Problem<Bf16Wide> {
        debug_assert!(self.packed.is_none());
        Problem {
            m: self.m,
            n: self.n,
            k: self.k,
            alpha: self.alpha,
            a: self.a,
            b: self.b,
            beta: self.beta,
            c: self.c,
            extra: (),
            packed: None,
            epi: self.epi,
        }
    }
}

impl Family for Bf16Wide {
    type A = bf16;
    type B = bf16;
    type C = f32;
    type Scalar = f32;
    type PackedA = f32;
    type PackedB = f32;
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    const C_ZERO: f32 = 0.0;
    type Extra = ();
    type Own = WideOwn;
    // Pairs of k, as the packers swap them.
    const DEPTH: usize = 2;
    const SUMS: bool = false;
    // A's panels row by row, read by the f32 instances for A in place.
    const A_ROWS: bool = true;
    #[inline(always)]
    fn kernels(t: &Target) -> Kernels<Self> {
        let f = &t.f32;
        // Every f32 table has them (`V: FloatVec<Elem = f32>` kernels).
        let has = "every f32 table has the bf16 widening packers";
        Kernels {
            own: WideOwn {
                pack_a: f.pack_bf16_lhs.expect(has),
                pack_b: f.pack_bf16_rhs.expect(has),
                // (B is bf16 where it lies: no instance packs it as it reads it.)
                micro: Micro::new(strided_a_instances(&f.microkernel), None),
                apply: f.apply_packed_output,
            },
            in_place: None,
            small: None,
            dot: None,
            gemv: None,
        }
    }
    #[inline(always)]
    fn shape(t: &Target) -> Shape {
        t.shapes.f32
    }
    fn scale(beta: f32, c: f32) -> f32 {
        Bf16::scale(beta, c)
    }
    fn combine(alpha: f32, p: f32, beta: f32, c: Option<f32>) -> f32 {
        Bf16::combine(alpha, p, beta, c)
    }
    fn sum(parts: &[f32]) -> f32 {
        Bf16::sum(parts)
    }
    fn transposed(p: &Problem<Self>) -> Option<Problem<Self>> {
        Some(p.transposed())
    }
    unsafe fn pack_a(
        kern: &Kernels<Self>,
        p: &Problem<Self>,
        rows: usize,
        cols: usize,
        src: *const bf16,
        _: (usize, usize),
        dst: *mut f32,
        panel_stride: usize,
        _: *mut i32,
    ) {
        unsafe { (kern.own.pack_a)(rows, cols, src.cast(), p.a.rs, p.a.cs, dst, panel_stride) }
    }
    unsafe fn pack_b(
        kern: &Kernels<Self>,
        p: &Problem<Self>,
        rows: usize,
        cols: usize,
        src: *const bf16,
        _: (usize, usize),
        dst: *mut f32,
        strip_stride: usize,
        _: *mut i32,
    ) {
        unsafe { (kern.own.pack_b)(rows, cols, src.cast(), p.b.rs, p.b.cs, dst, strip_stride) }
    }
    unsafe fn panel(b: &Block<'_, Self>, l: usize, pi: usize, worker: usize) {
        let own = &b.ctx.kern.own;
        unsafe {
            // The panel's rows, `kp` apart.
            let ap = b.ctx.bufs.a.add(b.a_slot(pi)).cast_const();
            float_strips(b, &own.micro, own.apply, ap, b.kp, 1, l, pi, worker)
        }
    }
    fn packed_set(kern: &Kernels<Self>) -> Option<&Micro<Self, f32>> {
        Some(&kern.own.micro)
    }
}

#[cfg(test)]
mod tests {
    use super::{Bf16, S8S8, U8S8};
    use crate::family::Family;

    /// The families' depth is every compiled target's `DEPTH` (the packers
    /// and micro-kernels group k by it; the loops size panels with ours).
    #[test]
    fn depth_is_every_targets() {
        use crate::generated::fallback as f;
        let mut depths = vec![(f::U8I8_DEPTH, f::BF16_DEPTH)];
        #[cfg(target_arch = "x86_64")]
        {
            use crate::generated::*;
            depths.extend([
                (avx2::U8I8_DEPTH, avx2::BF16_DEPTH),
                (avx_vnni::U8I8_DEPTH, avx_vnni::BF16_DEPTH),
                (avx512::U8I8_DEPTH, avx512::BF16_DEPTH),
                (avx512_vnni::U8I8_DEPTH, avx512_vnni::BF16_DEPTH),
                (avx512_bf16::U8I8_DEPTH, avx512_bf16::BF16_DEPTH),
            ]);
        }
        #[cfg(target_arch = "aarch64")]
        {
            use crate::generated::*;
            depths.extend([
                (neon::U8I8_DEPTH, neon::BF16_DEPTH),
                (neon_dotprod::U8I8_DEPTH, neon_dotprod::BF16_DEPTH),
                (neon_i8mm::U8I8_DEPTH, neon_i8mm::BF16_DEPTH),
            ]);
        }
        for (int8, bf16) in depths {
            assert_eq!((int8, int8, bf16), (U8S8::DEPTH, S8S8::DEPTH, Bf16::DEPTH));
        }
    }
}
