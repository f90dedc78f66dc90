//! GEMM: `C = alpha * A * B + beta * C` for f32 and f64.
//!
//! The BLIS structure (Van Zee and van de Geijn): five loops around a register
//! micro-kernel. Only packing, the micro-kernel and the output step are generated
//! per target; the loops, edge handling and the API below are plain Rust, written
//! once, and fetch the target's table once per call.
//!
//! The micro-kernel broadcasts A (MR rows) and loads B as vectors (NR columns),
//! so, mapped onto BLIS's analysis, A plays BLIS's B: its micro-panel stays in L1
//! and its block in L3, while B's block stays in L2 and its micro-panels stream:
//!
//! ```text
//! for ic in 0..m step MC            A block  MC x KC, packed in MR-tall panels (L3)
//!   for pc in 0..k step KC          beta applies on the first block only
//!     pack A[ic.., pc..]
//!     for jc in 0..n step NC        B block  KC x NC, packed in NR-wide strips (L2)
//!       pack B[pc.., jc..]
//!       for ir in 0..MC step MR     A micro-panel MR x KC (L1)
//!         for jr in 0..NC step NR   micro-kernel: MR x NR tile of C in registers
//! ```
//!
//! Interior tiles are stored straight into C; edge tiles (and C with no unit
//! stride) go through a packed tile and the output kernel.

use crate::blocking::Blocking;
use crate::error::GemmError;
use crate::generated::{Shape, Target};
use crate::mat::{MatMut, MatRef};
use crate::scratch::with_scratch;
use std::ops::{Add, Mul};

/// The element types GEMM supports: `f32` and `f64`.
pub trait Element:
    Copy + PartialEq + Add<Output = Self> + Mul<Output = Self> + Send + Sync + 'static + sealed::Sealed
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// The target's kernels for this element type.
    #[doc(hidden)]
    fn kernels(t: &Target) -> ElemKernels<Self>;
    /// The target's micro-kernel tile for this element type.
    #[doc(hidden)]
    fn shape(t: &Target) -> Shape;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The generated kernels GEMM needs, for one element type.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct ElemKernels<T> {
    pub pack_lhs: unsafe fn(usize, usize, *const T, usize, usize, *mut T),
    pub pack_rhs: unsafe fn(usize, usize, *const T, usize, usize, *mut T),
    pub micro: unsafe fn(usize, T, *const T, usize, *const T, T, *mut T, usize),
    pub apply: unsafe fn(usize, usize, T, *const T, usize, T, *mut T, usize),
    pub small: SmallFn<T>,
}

/// `gemm_small(m, n, k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, rs_c)`.
#[doc(hidden)]
pub type SmallFn<T> = unsafe fn(usize, usize, usize, T, *const T, usize, usize, *const T, usize, T, *mut T, usize);

macro_rules! element {
    ($t:ty, $pl:ident, $pr:ident, $mk:ident, $ap:ident, $sm:ident, $shape:ident) => {
        impl Element for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn kernels(t: &Target) -> ElemKernels<Self> {
                let k = &t.kernels;
                ElemKernels {
                    pack_lhs: k.$pl,
                    pack_rhs: k.$pr,
                    micro: k.$mk,
                    apply: k.$ap,
                    small: k.$sm,
                }
            }
            fn shape(t: &Target) -> Shape {
                t.shapes.$shape
            }
        }
    };
}
element!(
    f32,
    pack_lhs_f32,
    pack_rhs_f32,
    microkernel_f32,
    apply_packed_output_f32,
    gemm_small_f32,
    f32
);

element!(
    f64,
    pack_lhs_f64,
    pack_rhs_f64,
    microkernel_f64,
    apply_packed_output_f64,
    gemm_small_f64,
    f64
);

/// Problems with every dimension at most this take the no-packing path (where
/// B and C have unit column stride): packing would cost as much as the product.
/// Chosen by measurement (gemm-bench, 8..128 cubed: the small path wins up to 96
/// and loses badly at 128 on AVX-512); overridable for tuning
/// through `GEMMKIT_SMALL`.
pub const SMALL: usize = 96;

fn small_limit() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("GEMMKIT_SMALL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(SMALL)
    })
}

/// `C = alpha * A * B + beta * C` on the active target (see [`crate::active`]).
///
/// BLAS semantics: `beta == 0` never reads C (NaN or garbage in C is
/// overwritten), `alpha == 0` or `k == 0` does not read A or B and only scales C,
/// and any dimension may be zero. A, B and C may be any strided views
/// (transposes and sub-matrices included).
///
/// ```
/// use gemmkit::{MatMut, MatRef, gemm};
/// let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3, row-major
/// let b = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0]; // 3 x 2, row-major
/// let mut c = [0.0f32; 4];
/// gemm(1.0, MatRef::row_major(&a, 2, 3), MatRef::row_major(&b, 3, 2), 0.0, MatMut::row_major(&mut c, 2, 2))?;
/// assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm<T: Element>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    gemm_on(crate::active()?, alpha, a, b, beta, c)
}

/// [`gemm`] on an explicit target (from [`crate::target`] or [`crate::available`]).
pub fn gemm_on<T: Element>(
    target: &Target,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k {
        return Err(GemmError::DimensionMismatch {
            arg: "b",
            dim: "rows",
            expected: k,
            found: b.rows,
            because: format!("a (with {k} columns)"),
        });
    }
    if c.rows != m {
        return Err(GemmError::DimensionMismatch {
            arg: "c",
            dim: "rows",
            expected: m,
            found: c.rows,
            because: format!("a (with {m} rows)"),
        });
    }
    if c.cols != n {
        return Err(GemmError::DimensionMismatch {
            arg: "c",
            dim: "cols",
            expected: n,
            found: c.cols,
            because: format!("b (with {n} columns)"),
        });
    }
    a.check_bounds("a")?;
    b.check_bounds("b")?;
    c.check_output("c")?;
    let p = Problem {
        m,
        n,
        k,
        alpha,
        a: a.data.as_ptr(),
        rsa: a.rs,
        csa: a.cs,
        b: b.data.as_ptr(),
        rsb: b.rs,
        csb: b.cs,
        beta,
        c: c.data.as_mut_ptr(),
        rsc: c.rs,
        csc: c.cs,
    };
    // SAFETY: every view was checked to lie inside its slice, C does not overlap
    // itself, and the borrows keep A and B from aliasing C.
    unsafe { gemm_unchecked(target, p) };
    Ok(())
}

/// `C = A * B` for contiguous row-major slices: A is `m x k`, B is `k x n`, C is
/// `m x n` (overwritten).
pub fn matmul<T: Element>(m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &mut [T]) -> Result<(), GemmError> {
    for (arg, len, need) in [
        ("a", a.len(), m.checked_mul(k)),
        ("b", b.len(), k.checked_mul(n)),
        ("c", c.len(), m.checked_mul(n)),
    ] {
        let need = need.ok_or(GemmError::StrideOverflow {
            arg,
            rows: m,
            cols: n,
            strides: (0, 0),
        })?;
        if len != need {
            return Err(GemmError::LengthMismatch {
                arg,
                expected: need,
                found: len,
            });
        }
    }
    gemm(
        T::ONE,
        MatRef::row_major(a, m, k),
        MatRef::row_major(b, k, n),
        T::ZERO,
        MatMut::row_major(c, m, n),
    )
}

/// One GEMM call with raw pointers and element strides.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Problem<T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: T,
    pub a: *const T,
    pub rsa: usize,
    pub csa: usize,
    pub b: *const T,
    pub rsb: usize,
    pub csb: usize,
    pub beta: T,
    pub c: *mut T,
    pub rsc: usize,
    pub csc: usize,
}

impl<T> Problem<T> {
    /// `C^T = B^T A^T`: the same product with the roles of rows and columns swapped.
    fn transposed(self) -> Problem<T> {
        Problem {
            m: self.n,
            n: self.m,
            k: self.k,
            alpha: self.alpha,
            a: self.b,
            rsa: self.csb,
            csa: self.rsb,
            b: self.a,
            rsb: self.csa,
            csb: self.rsa,
            beta: self.beta,
            c: self.c,
            rsc: self.csc,
            csc: self.rsc,
        }
    }
}

/// The GEMM driver, without any checks.
///
/// # Safety
/// Every element of A (`m x k`), B (`k x n`) and C (`m x n`) at the given strides
/// must be valid to read (and C to write); C must not overlap A, B or itself;
/// the target must be supported by this CPU.
#[doc(hidden)]
pub unsafe fn gemm_unchecked<T: Element>(target: &Target, p: Problem<T>) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    if p.alpha == T::ZERO || p.k == 0 {
        unsafe { scale(p) };
        return;
    }
    // The micro-kernel writes rows of C with unit column stride; a column-major C
    // is the transposed product.
    let p = if p.csc != 1 && p.rsc == 1 { p.transposed() } else { p };
    let kern = T::kernels(target);
    let limit = small_limit();
    if p.csc == 1 && p.csb == 1 && p.m <= limit && p.n <= limit && p.k <= limit {
        let Problem {
            m,
            n,
            k,
            alpha,
            a,
            rsa,
            csa,
            b,
            rsb,
            beta,
            c,
            rsc,
            ..
        } = p;
        unsafe { (kern.small)(m, n, k, alpha, a, rsa, csa, b, rsb, beta, c, rsc) };
        return;
    }
    let shape = T::shape(target);
    let (mr, nr) = (shape.mr, shape.nr);
    let blk = Blocking::for_shape(shape, size_of::<T>());
    let kc_max = blk.kc.min(p.k);
    let mc_max = blk.mc.min(p.m.div_ceil(mr) * mr);
    let nc_max = blk.nc.min(p.n.div_ceil(nr) * nr);
    let a_len = mc_max * kc_max;
    let b_len = kc_max * nc_max;
    let bytes = (a_len + b_len + mr * nr) * size_of::<T>() + 128;
    with_scratch(bytes, |buf| {
        let buf = buf.cast::<T>();
        // A block first, then B block (64-byte aligned), then the edge tile.
        let abuf = buf;
        let bbuf = unsafe { buf.add(a_len.div_ceil(16) * 16) };
        let tile = unsafe { bbuf.add(b_len.div_ceil(16) * 16) };
        unsafe { five_loops(&kern, mr, nr, blk, p, abuf, bbuf, tile) };
    });
}

#[allow(clippy::too_many_arguments)]
unsafe fn five_loops<T: Element>(
    kern: &ElemKernels<T>,
    mr: usize,
    nr: usize,
    blk: Blocking,
    p: Problem<T>,
    abuf: *mut T,
    bbuf: *mut T,
    tile: *mut T,
) {
    let unit_cols = p.csc == 1;
    // Full MR-row panels of a row-major A are read in place when B is narrow:
    // each element of A is then used only a few times, and packing it would
    // stream all of A through memory twice. Edge panels are still packed.
    let a_in_place = p.csa == 1 && p.n <= A_IN_PLACE_MAX_N;
    for ic in (0..p.m).step_by(blk.mc) {
        let mc = blk.mc.min(p.m - ic);
        for pc in (0..p.k).step_by(blk.kc) {
            let kc = blk.kc.min(p.k - pc);
            // Pack A[ic..ic+mc, pc..pc+kc] as MR-row panels.
            for ir in (0..mc).step_by(mr) {
                let h = mr.min(mc - ir);
                if a_in_place && h == mr {
                    continue;
                }
                let src = p.a.wrapping_add((ic + ir) * p.rsa + pc * p.csa);
                unsafe { (kern.pack_lhs)(h, kc, src, p.rsa, p.csa, abuf.add(ir / mr * kc * mr)) };
            }
            let beta = if pc == 0 { p.beta } else { T::ONE };
            for jc in (0..p.n).step_by(blk.nc) {
                let nc = blk.nc.min(p.n - jc);
                // Pack B[pc..pc+kc, jc..jc+nc] as NR-wide strips.
                for jr in (0..nc).step_by(nr) {
                    let w = nr.min(nc - jr);
                    let src = p.b.wrapping_add(pc * p.rsb + (jc + jr) * p.csb);
                    unsafe { (kern.pack_rhs)(kc, w, src, p.rsb, p.csb, bbuf.add(jr / nr * kc * nr)) };
                }
                for ir in (0..mc).step_by(mr) {
                    let h = mr.min(mc - ir);
                    let (ap, rs_ap) = if a_in_place && h == mr {
                        (p.a.wrapping_add((ic + ir) * p.rsa + pc), p.rsa)
                    } else {
                        (unsafe { abuf.add(ir / mr * kc * mr) }.cast_const(), kc)
                    };
                    for jr in (0..nc).step_by(nr) {
                        let w = nr.min(nc - jr);
                        let bp = unsafe { bbuf.add(jr / nr * kc * nr) };
                        let cij = p.c.wrapping_add((ic + ir) * p.rsc + (jc + jr) * p.csc);
                        if unit_cols && h == mr && w == nr {
                            unsafe { (kern.micro)(kc, p.alpha, ap, rs_ap, bp, beta, cij, p.rsc) };
                        } else {
                            unsafe { (kern.micro)(kc, T::ONE, ap, rs_ap, bp, T::ZERO, tile, nr) };
                            if unit_cols {
                                unsafe { (kern.apply)(h, w, p.alpha, tile, nr, beta, cij, p.rsc) };
                            } else {
                                unsafe { apply_strided(h, w, p.alpha, tile, nr, beta, cij, p.rsc, p.csc) };
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Widest B for which full panels of a row-major A are read in place rather
/// than packed (see `five_loops`). Chosen by measurement with gemm-bench.
const A_IN_PLACE_MAX_N: usize = 128;

/// `C = alpha * P + beta * C` for a C with no unit stride (rare: both strides > 1).
#[allow(clippy::too_many_arguments)]
unsafe fn apply_strided<T: Element>(
    m: usize,
    n: usize,
    alpha: T,
    p: *const T,
    ldp: usize,
    beta: T,
    c: *mut T,
    rsc: usize,
    csc: usize,
) {
    for i in 0..m {
        for j in 0..n {
            let x = alpha * unsafe { *p.add(i * ldp + j) };
            let dst = unsafe { &mut *c.add(i * rsc + j * csc) };
            *dst = if beta == T::ZERO { x } else { x + beta * *dst };
        }
    }
}

/// `C = beta * C` (k == 0 or alpha == 0): A and B are not read; `beta == 0`
/// writes zeros without reading C.
unsafe fn scale<T: Element>(p: Problem<T>) {
    if p.beta == T::ONE {
        return;
    }
    for i in 0..p.m {
        for j in 0..p.n {
            let dst = unsafe { &mut *p.c.add(i * p.rsc + j * p.csc) };
            *dst = if p.beta == T::ZERO { T::ZERO } else { p.beta * *dst };
        }
    }
}
