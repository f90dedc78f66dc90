//! The scalar reference implementation of the vector API.
//!
//! [`Ref`] is a vector of `LANES` lanes stored in a plain array; every op is the
//! obvious loop. It is the oracle the generated code is checked against: a kernel
//! instantiated with `Ref<f32, 16, 12, 2>` computes exactly what the AVX-512
//! instantiation must compute (same lane count, same tile shape), one lane at a
//! time. No allocation anywhere.

use crate::vec::{DotVec, FloatVec};
use core::ops::{Index, IndexMut};

/// A vector of `LANES` lanes of `T`, for tiles of `MR` rows and `NRV` vectors per row
/// (so `NR = NRV * LANES`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ref<T, const LANES: usize, const MR: usize, const NRV: usize>(pub [T; LANES]);

/// `L` elements read from `p` (no alignment required).
///
/// # Safety
/// `p` must be valid for reading `L` elements.
unsafe fn read_lanes<T: Copy, const L: usize>(p: *const T) -> [T; L] {
    core::array::from_fn(|l| unsafe { p.add(l).read_unaligned() })
}

/// The first `n` elements of `lanes` written to `p` (no alignment required).
///
/// # Safety
/// `p` must be valid for writing `n` elements.
unsafe fn write_lanes<T: Copy>(p: *mut T, lanes: &[T], n: usize) {
    for (l, x) in lanes.iter().take(n).enumerate() {
        unsafe { p.add(l).write_unaligned(*x) };
    }
}

/// A register tile: `R` rows of `C` vectors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tile<V, const R: usize, const C: usize>(pub [[V; C]; R]);

impl<V, const R: usize, const C: usize> Index<(usize, usize)> for Tile<V, R, C> {
    type Output = V;
    fn index(&self, (r, c): (usize, usize)) -> &V {
        &self.0[r][c]
    }
}

impl<V, const R: usize, const C: usize> IndexMut<(usize, usize)> for Tile<V, R, C> {
    fn index_mut(&mut self, (r, c): (usize, usize)) -> &mut V {
        &mut self.0[r][c]
    }
}

/// Slot `s` is row `s / C`, vector `s % C`, as the generator numbers them.
impl<V, const R: usize, const C: usize> Index<usize> for Tile<V, R, C> {
    type Output = V;
    fn index(&self, s: usize) -> &V {
        &self.0[s / C][s % C]
    }
}

impl<V, const R: usize, const C: usize> IndexMut<usize> for Tile<V, R, C> {
    fn index_mut(&mut self, s: usize) -> &mut V {
        &mut self.0[s / C][s % C]
    }
}

macro_rules! float_ref {
    ($t:ty, $int:ty) => {
        impl<const L: usize, const MR: usize, const NRV: usize> FloatVec for Ref<$t, L, MR, NRV> {
            type Elem = $t;
            type Tile = Tile<Self, MR, NRV>;
            const LANES: usize = L;
            const MR: usize = MR;
            const NR: usize = NRV * L;
            const REGS: usize = 32;
            const ZERO: $t = 0.0;
            const ONE: $t = 1.0;

            fn zero() -> Self {
                Ref([0.0; L])
            }
            fn zero_tile() -> Self::Tile {
                Tile([[Ref([0.0; L]); NRV]; MR])
            }
            fn splat(x: $t) -> Self {
                Ref([x; L])
            }
            unsafe fn load(p: *const $t) -> Self {
                Ref(unsafe { read_lanes(p) })
            }
            unsafe fn load_partial(p: *const $t, n: usize) -> Self {
                assert!(n <= L, "load_partial: n = {n} > LANES = {L}");
                Ref(core::array::from_fn(|l| {
                    if l < n {
                        unsafe { p.add(l).read_unaligned() }
                    } else {
                        0.0
                    }
                }))
            }
            unsafe fn broadcast(p: *const $t) -> Self {
                Ref([unsafe { p.read_unaligned() }; L])
            }
            unsafe fn store(p: *mut $t, v: Self) {
                unsafe { write_lanes(p, &v.0, L) }
            }
            unsafe fn store_partial(p: *mut $t, v: Self, n: usize) {
                assert!(n <= L, "store_partial: n = {n} > LANES = {L}");
                unsafe { write_lanes(p, &v.0, n) }
            }
            fn prefetch(_p: *const $t) {}
            fn prefetch_far(_p: *const $t) {}
            fn add(a: Self, b: Self) -> Self {
                Ref(core::array::from_fn(|l| a.0[l] + b.0[l]))
            }
            fn mul(a: Self, b: Self) -> Self {
                Ref(core::array::from_fn(|l| a.0[l] * b.0[l]))
            }
            fn mul_add(a: Self, b: Self, c: Self) -> Self {
                Ref(core::array::from_fn(|l| a.0[l].mul_add(b.0[l], c.0[l])))
            }
            fn neg(a: Self) -> Self {
                Ref(core::array::from_fn(|l| -a.0[l]))
            }
            fn div(a: Self, b: Self) -> Self {
                Ref(core::array::from_fn(|l| a.0[l] / b.0[l]))
            }
            fn max(a: Self, b: Self) -> Self {
                Ref(core::array::from_fn(|l| {
                    if a.0[l] > b.0[l] { a.0[l] } else { b.0[l] }
                }))
            }
            fn select_neg(m: Self, a: Self, b: Self) -> Self {
                Ref(core::array::from_fn(|l| {
                    if m.0[l].is_sign_negative() { a.0[l] } else { b.0[l] }
                }))
            }
            fn from_int_bits(v: Self) -> Self {
                Ref(core::array::from_fn(|l| v.0[l].to_bits() as $int as $t))
            }
            fn exp2i(n: Self) -> Self {
                Ref(core::array::from_fn(|l| {
                    let n = n.0[l];
                    // Unspecified lanes (NaN from a NaN input, say) are NaN here.
                    let range = (<$t>::MIN_EXP - 1) as $t..=(<$t>::MAX_EXP - 1) as $t;
                    if n == n.round() && range.contains(&n) {
                        <$t>::powi(2.0, n as i32)
                    } else {
                        <$t>::NAN
                    }
                }))
            }
        }
    };
}

float_ref!(f32, i32);
float_ref!(f64, i64);

/// The `u8i8` instantiation: u8 x i8 quads into wrapping i32.
impl<const L: usize, const MR: usize, const NRV: usize> DotVec for Ref<i32, L, MR, NRV> {
    type Acc = i32;
    type A = u8;
    type B = i8;
    type AVec = [[u8; 4]; L];
    type BVec = [[i8; 4]; L];
    type Tile = Tile<Self, MR, NRV>;
    const LANES: usize = L;
    const MR: usize = MR;
    const NR: usize = NRV * L;
    const DEPTH: usize = 4;
    const ZERO_A: u8 = 0;
    const ZERO_B: i8 = 0;

    fn zero() -> Self {
        Ref([0; L])
    }
    fn zero_tile() -> Self::Tile {
        Tile([[Self::zero(); NRV]; MR])
    }
    unsafe fn load(p: *const i32) -> Self {
        Ref(unsafe { read_lanes(p) })
    }
    unsafe fn store(p: *mut i32, v: Self) {
        unsafe { write_lanes(p, &v.0, L) }
    }
    unsafe fn broadcast(p: *const i32) -> Self {
        Ref([unsafe { p.read_unaligned() }; L])
    }
    fn prefetch_far(_p: *const i8) {}
    fn add(a: Self, b: Self) -> Self {
        Ref(core::array::from_fn(|l| a.0[l].wrapping_add(b.0[l])))
    }
    unsafe fn broadcast_a(p: *const u8) -> Self::AVec {
        [unsafe { p.cast::<[u8; 4]>().read_unaligned() }; L]
    }
    unsafe fn load_a(p: *const u8) -> Self::AVec {
        core::array::from_fn(|l| unsafe { p.add(4 * l).cast::<[u8; 4]>().read_unaligned() })
    }
    unsafe fn load_b(p: *const i8) -> Self::BVec {
        core::array::from_fn(|l| unsafe { p.add(4 * l).cast::<[i8; 4]>().read_unaligned() })
    }
    fn dot(acc: Self, a: Self::AVec, b: Self::BVec) -> Self {
        Ref(core::array::from_fn(|l| {
            (0..4).fold(acc.0[l], |s, q| s.wrapping_add(i32::from(a[l][q]) * i32::from(b[l][q])))
        }))
    }
}

/// The value of a bf16 bit pattern.
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// The `bf16` instantiation: bf16 pairs into f32, odd product first (VDPBF16PS order).
impl<const L: usize, const MR: usize, const NRV: usize> DotVec for Ref<f32, L, MR, NRV> {
    type Acc = f32;
    type A = u16;
    type B = u16;
    type AVec = [[u16; 2]; L];
    type BVec = [[u16; 2]; L];
    type Tile = Tile<Self, MR, NRV>;
    const LANES: usize = L;
    const MR: usize = MR;
    const NR: usize = NRV * L;
    const DEPTH: usize = 2;
    const ZERO_A: u16 = 0;
    const ZERO_B: u16 = 0;

    fn zero() -> Self {
        Ref([0.0; L])
    }
    fn zero_tile() -> Self::Tile {
        Tile([[Ref([0.0; L]); NRV]; MR])
    }
    unsafe fn load(p: *const f32) -> Self {
        Ref(unsafe { read_lanes(p) })
    }
    unsafe fn store(p: *mut f32, v: Self) {
        unsafe { write_lanes(p, &v.0, L) }
    }
    unsafe fn broadcast(p: *const f32) -> Self {
        Ref([unsafe { p.read_unaligned() }; L])
    }
    fn prefetch_far(_p: *const u16) {}
    fn add(a: Self, b: Self) -> Self {
        Ref(core::array::from_fn(|l| a.0[l] + b.0[l]))
    }
    unsafe fn broadcast_a(p: *const u16) -> Self::AVec {
        [unsafe { p.cast::<[u16; 2]>().read_unaligned() }; L]
    }
    unsafe fn load_a(p: *const u16) -> Self::AVec {
        core::array::from_fn(|l| unsafe { p.add(2 * l).cast::<[u16; 2]>().read_unaligned() })
    }
    unsafe fn load_b(p: *const u16) -> Self::BVec {
        core::array::from_fn(|l| unsafe { p.add(2 * l).cast::<[u16; 2]>().read_unaligned() })
    }
    fn dot(acc: Self, a: Self::AVec, b: Self::BVec) -> Self {
        Ref(core::array::from_fn(|l| {
            let odd = acc.0[l] + bf16_to_f32(a[l][1]) * bf16_to_f32(b[l][1]);
            odd + bf16_to_f32(a[l][0]) * bf16_to_f32(b[l][0])
        }))
    }
}
