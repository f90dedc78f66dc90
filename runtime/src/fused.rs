//! Fused epilogues: `C = act(alpha * A * B + beta * C + bias)`, the bias and
//! the activation applied by the generated `epilogue` kernel to each tile of C
//! right after its last block of k, while the tile is in L1.
//!
//! Every element of C gets the epilogue exactly once, by the thread that
//! computed it, with the same operations whatever the blocking of k and the
//! thread count, so fused results are bit-identical for any parallelism.

use crate::api::checked;
use crate::dequant::Scale;
use crate::dispatch::Check;
use crate::dot::{Bf16, Bf16Wide};
use crate::driver::drive;
use crate::error::{GemmError, check_len};
use crate::generated::{EpilogueFn, Target};
use crate::mat::{MatMut, MatRef};
use crate::packed::{PackedBRef, packed_problem};
use crate::parallel::Parallelism;
use crate::problem::Problem;
use half::bf16;
use std::marker::PhantomData;

/// A bias added to C before the activation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Bias<'a, T> {
    /// No bias.
    #[default]
    None,
    /// `bias[j]` added to column `j`: one value per column of C (`n`), as a
    /// linear layer's bias when rows of C are samples.
    PerColumn(&'a [T]),
    /// `bias[i]` added to row `i`: one value per row of C (`m`).
    PerRow(&'a [T]),
}

/// The activation applied after the bias. NaN stays NaN through each (ReLU
/// included, as PyTorch's `relu`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Activation {
    /// The identity.
    #[default]
    None,
    /// `max(0, x)`. Which zero `-0` gives may differ between targets.
    Relu,
    /// SiLU (swish): `x * sigmoid(x)`.
    Silu,
    /// GELU, tanh approximation: `0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`.
    GeluTanh,
    /// GELU, exact (erf) form: `0.5 x (1 + erf(x / sqrt 2))`.
    GeluErf,
}

impl Activation {
    /// The kernel's code for it (`base_epilogue`'s `act`).
    fn code(self) -> usize {
        match self {
            Activation::None => 0,
            Activation::Relu => 1,
            Activation::Silu => 2,
            Activation::GeluTanh => 3,
            Activation::GeluErf => 4,
        }
    }
}

/// What follows the product, element by element: `C = act(C + bias)`.
///
/// Accuracy of the activations in `f32` (the generated kernel builds `exp`
/// and `erfc` from multiply-adds on every target; measured against `f64`
/// `libm` on the same `f32` input, tested on every target): within `2e-6`
/// relative where the function is well conditioned, and within a few
/// `f32` roundings of the input times the function's condition number in its
/// tails (SiLU and the GELUs for large negative `x`, where a change of one
/// rounding in `x` changes the result by about `x^2` roundings); results
/// under about `1e-37` in magnitude are tiny but not accurate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Epilogue<'a, T> {
    pub bias: Bias<'a, T>,
    pub activation: Activation,
}

impl<'a, T> Epilogue<'a, T> {
    /// `C = act(C + bias)`.
    pub fn new(bias: Bias<'a, T>, activation: Activation) -> Self {
        Epilogue { bias, activation }
    }
}

/// An epilogue as the loops apply it: the target's kernel, the bias and the
/// scale (null for none) and the kernel's codes, in the orientation of the
/// problem it is in. `C` is the element type of the problem's C: `f32`
/// (values, `scale_kind` 0) or `i32` (an int8 product's sums, which the
/// kernel converts and scales, writing `f32` in their place; see
/// [`crate::gemm_u8s8f32`]). Only [`Epi::new`] and [`Epi::dequant`] make one,
/// so the two cannot be mixed up.
pub(crate) struct Epi<C> {
    kernel: EpilogueFn,
    bias: *const f32,
    /// 0 none, 1 per column, 2 per row (`base_epilogue`'s `bias_kind`).
    kind: usize,
    act: usize,
    scale: *const f32,
    /// 0 none, 1 one, 2 per column, 3 per row (`base_epilogue`'s `scale_kind`).
    scale_kind: usize,
    c: PhantomData<fn() -> C>,
}

// (By hand: a derive would ask `C: Copy`.)
impl<C> Clone for Epi<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for Epi<C> {}

impl<C> Epi<C> {
    /// The same epilogue for the transposed problem (`Cᵀ`): a bias per column
    /// of C is one per row of `Cᵀ`, and so is a scale.
    #[inline(always)]
    pub(crate) fn transposed(self) -> Self {
        let swap = |k, col, row| {
            if k == col {
                row
            } else if k == row {
                col
            } else {
                k
            }
        };
        Epi {
            kind: swap(self.kind, 1, 2),
            scale_kind: swap(self.scale_kind, 2, 3),
            ..self
        }
    }

    /// The same epilogue for the rows of C from `i` on (a problem made of them).
    #[inline(always)]
    pub(crate) fn rows_from(self, i: usize) -> Self {
        self.at(i, 0)
    }

    /// The bias and scale moved to element `(i, j)`: the epilogue of the block
    /// of C from there.
    #[inline(always)]
    fn at(self, i: usize, j: usize) -> Self {
        let b = if self.kind == 1 {
            j
        } else if self.kind == 2 {
            i
        } else {
            0
        };
        let s = match self.scale_kind {
            2 => j,
            3 => i,
            _ => 0,
        };
        Epi {
            bias: self.bias.wrapping_add(b),
            scale: self.scale.wrapping_add(s),
            ..self
        }
    }

    /// `C = act(scale * C + bias)` for the `h x w` block of C at `c` (strides
    /// `rs`, `cs`), whose first element is `(i0, j0)` of the problem's C.
    ///
    /// # Safety
    /// The block is in C, readable and writable; the bias and scale cover the
    /// problem.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) unsafe fn apply(&self, h: usize, w: usize, c: *mut C, rs: usize, cs: usize, i0: usize, j0: usize) {
        // `f32` or `i32` (only `new` and `dequant` make one): the kernel's `f32`.
        debug_assert_eq!(size_of::<C>(), size_of::<f32>());
        let c = c.cast::<f32>();
        let e = self.at(i0, j0);
        let run =
            |e: &Self, h, w, c, ld| unsafe { (e.kernel)(h, w, c, ld, e.bias, e.kind, e.act, e.scale, e.scale_kind) };
        if cs == 1 {
            run(&e, h, w, c, rs)
        } else if rs == 1 {
            // A column-major block is the transposed block of `Cᵀ`, row-major.
            run(&e.transposed(), w, h, c, cs)
        } else {
            // No unit stride (rare): element by element, through the same kernel.
            for i in 0..h {
                for j in 0..w {
                    run(&e.at(i, j), 1, 1, c.wrapping_add(i * rs + j * cs), 1)
                }
            }
        }
    }

    /// `epilogue` and the scale (`base_epilogue`'s kind and values) for an
    /// `m x n` C on `target`, checked.
    fn make(
        target: &Target,
        epilogue: &Epilogue<'_, f32>,
        m: usize,
        n: usize,
        (scale, scale_kind): (*const f32, usize),
    ) -> Result<Self, GemmError> {
        let (bias, kind) = match epilogue.bias {
            Bias::None => (std::ptr::null(), 0),
            Bias::PerColumn(b) => check_len("bias", b.len(), n).map(|()| (b.as_ptr(), 1))?,
            Bias::PerRow(b) => check_len("bias", b.len(), m).map(|()| (b.as_ptr(), 2))?,
        };
        // Every target's f32 table has the kernel (`V: FloatVec<Elem = f32>`).
        let kernel = target.f32.epilogue.expect("every f32 table has the epilogue kernel");
        Ok(Epi {
            kernel,
            bias,
            kind,
            act: epilogue.activation.code(),
            scale,
            scale_kind,
            c: PhantomData,
        })
    }
}

impl Epi<f32> {
    /// `epilogue` for an `m x n` C on `target`, checked; `None` where it does
    /// nothing.
    pub(crate) fn new(
        target: &Target,
        epilogue: &Epilogue<'_, f32>,
        m: usize,
        n: usize,
    ) -> Result<Option<Self>, GemmError> {
        let e = Self::make(target, epilogue, m, n, (std::ptr::null(), 0))?;
        Ok((e.kind != 0 || e.act != 0).then_some(e))
    }
}

impl Epi<i32> {
    /// The int8 sums of an `m x n` C dequantised by `scale`, then `epilogue`,
    /// on `target`, checked. The epilogue reads `scale` where it is: it must
    /// outlive the call.
    pub(crate) fn dequant(
        target: &Target,
        scale: &Scale<'_>,
        epilogue: &Epilogue<'_, f32>,
        m: usize,
        n: usize,
    ) -> Result<Self, GemmError> {
        let scale = match scale {
            // The kernel reads it where the caller's `scale` holds it.
            Scale::Single(s) => (s as *const f32, 1),
            Scale::PerColumn(v) => check_len("scale", v.len(), n).map(|()| (v.as_ptr(), 2))?,
        };
        Self::make(target, epilogue, m, n, scale)
    }
}

// SAFETY: the bias and the scale are read-only: views the caller's borrows keep
// alive for the call, or (`Scale::Single`) the caller's own `scale`, which
// outlives the call it makes; the kernel is a plain function.
unsafe impl<C> Send for Epi<C> {}
unsafe impl<C> Sync for Epi<C> {}

/// `C = act(alpha * A * B + beta * C + bias)` on the active target: [`crate::gemm`]
/// followed by `epilogue`, fused. BLAS rules as for [`crate::gemm`] (`beta == 0`
/// never reads C); with `k == 0` or `alpha == 0`, `C = act(beta * C + bias)`.
///
/// ```
/// use gemmkit::{Activation, Bias, Epilogue, MatMut, MatRef, gemm_fused};
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // 2 x 2
/// let b = [1.0f32, -1.0, 1.0, -1.0]; // 2 x 2
/// let bias = [0.5f32, 1.0];
/// let mut c = [0.0f32; 4];
/// let epilogue = Epilogue::new(Bias::PerColumn(&bias), Activation::Relu);
/// gemm_fused(1.0, MatRef::row_major(&a, 2, 2), MatRef::row_major(&b, 2, 2), 0.0, MatMut::row_major(&mut c, 2, 2), &epilogue)?;
/// assert_eq!(c, [3.5, 0.0, 7.5, 0.0]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_fused(
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    c: MatMut<'_, f32>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    gemm_fused_with(crate::active()?, &Parallelism::Rayon, alpha, a, b, beta, c, epilogue)
}

/// [`gemm_fused`] on an explicit target with explicit threading.
#[allow(clippy::too_many_arguments)]
pub fn gemm_fused_with(
    target: &Target,
    parallelism: &Parallelism,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    mut c: MatMut<'_, f32>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    target.check()?;
    let p = checked(alpha, &a, &b, beta, &mut c)?;
    fused_run(target, parallelism, p, epilogue)
}

/// `C = act(alpha * A * B + beta * C + bias)` with B packed ahead: [`crate::gemm_packed`]
/// followed by `epilogue`, fused.
pub fn gemm_packed_fused<'b>(
    alpha: f32,
    a: MatRef<'_, f32>,
    b: impl Into<PackedBRef<'b, f32>>,
    beta: f32,
    c: MatMut<'_, f32>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    gemm_packed_fused_with(crate::active()?, &Parallelism::Rayon, alpha, a, b, beta, c, epilogue)
}

/// [`gemm_packed_fused`] on an explicit target with explicit threading.
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed_fused_with<'b>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: impl Into<PackedBRef<'b, f32>>,
    beta: f32,
    mut c: MatMut<'_, f32>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    let p = packed_problem::<f32, f32>(target, alpha, &a, &b.into(), beta, &mut c)?;
    fused_run(target, parallelism, p, epilogue)
}

/// `C = act(alpha * A * B + beta * C + bias)` for `bf16` A and B and `f32` C:
/// [`crate::gemm_bf16`] followed by `epilogue`, fused.
pub fn gemm_bf16_fused(
    alpha: f32,
    a: MatRef<'_, bf16>,
    b: MatRef<'_, bf16>,
    beta: f32,
    c: MatMut<'_, f32>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    gemm_bf16_fused_with(crate::active()?, &Parallelism::Rayon, alpha, a, b, beta, c, epilogue)
}

/// [`gemm_bf16_fused`] on an explicit target with explicit threading.
#[allow(clippy::too_many_arguments)]
pub fn gemm_bf16_fused_with(
    target: &Target,
    parallelism: &Parallelism,
    alpha: f32,
    a: MatRef<'_, bf16>,
    b: MatRef<'_, bf16>,
    beta: f32,
    mut c: MatMut<'_, f32>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    target.check()?;
    crate::api::validate(&a, &b, &c)?;
    let mut p: Problem<Bf16> = crate::lowp::problem(alpha, &a, &b, beta, &mut c, ());
    p.epi = Epi::new(target, epilogue, p.m, p.n)?;
    // SAFETY: as in `fused_run`; one row of A may take the bf16 GEMV, which
    // applies the epilogue too.
    unsafe { crate::lowp::run_bf16(target, parallelism, &p) };
    Ok(())
}

/// `C = act(alpha * A * B + beta * C + bias)` for `bf16` A, B packed ahead and
/// `f32` C: [`crate::gemm_bf16_packed`] followed by `epilogue`, fused.
pub fn gemm_bf16_packed_fused<'b>(
    alpha: f32,
    a: MatRef<'_, bf16>,
    b: impl Into<PackedBRef<'b, bf16>>,
    beta: f32,
    c: MatMut<'_, f32>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    gemm_bf16_packed_fused_with(crate::active()?, &Parallelism::Rayon, alpha, a, b, beta, c, epilogue)
}

/// [`gemm_bf16_packed_fused`] on an explicit target with explicit threading.
#[allow(clippy::too_many_arguments)]
pub fn gemm_bf16_packed_fused_with<'b>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: f32,
    a: MatRef<'_, bf16>,
    b: impl Into<PackedBRef<'b, bf16>>,
    beta: f32,
    mut c: MatMut<'_, f32>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    let b = b.into();
    if b.wide() {
        fused_run(
            target,
            parallelism,
            packed_problem::<Bf16Wide, bf16>(target, alpha, &a, &b, beta, &mut c)?,
            epilogue,
        )
    } else {
        fused_run(
            target,
            parallelism,
            packed_problem::<Bf16, bf16>(target, alpha, &a, &b, beta, &mut c)?,
            epilogue,
        )
    }
}

/// Checks `epilogue` against a checked problem with `f32` C and runs the two.
fn fused_run<F: crate::family::Family<C = f32>>(
    target: &Target,
    parallelism: &Parallelism,
    mut p: Problem<F>,
    epilogue: &Epilogue<'_, f32>,
) -> Result<(), GemmError> {
    p.epi = Epi::new(target, epilogue, p.m, p.n)?;
    // SAFETY: the problem's views were checked by its maker and the bias by
    // `Epi::new`; the borrows keep them from aliasing C until the call returns.
    unsafe { drive(target, &p, || parallelism.workers()) };
    Ok(())
}
