//! The output step: `C = alpha * P + beta * C` for a computed tile, and the
//! scale-only path.

use crate::family::{ApplyFn, Family};
use crate::problem::Problem;

/// `C = alpha * P + beta * C` for an `h x w` tile `P` (row stride `ldp`): the
/// generated output kernel `apply` where C has unit column stride, else `apply_strided`.
///
/// # Safety
/// As for `apply_packed_output`, with C at strides `(rsc, csc)`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn apply_tile<F: Family>(
    apply: ApplyFn<F>,
    h: usize,
    w: usize,
    alpha: F::Scalar,
    p: *const F::C,
    ldp: usize,
    beta: F::Scalar,
    c: *mut F::C,
    rsc: usize,
    csc: usize,
) {
    if csc == 1 {
        unsafe { apply(h, w, alpha, p, ldp, beta, c, rsc) };
    } else {
        unsafe { apply_strided::<F>(h, w, alpha, p, ldp, beta, c, rsc, csc) };
    }
}

/// `C = alpha * P + beta * C` for a C with no unit stride (rare: both strides > 1).
#[allow(clippy::too_many_arguments)]
unsafe fn apply_strided<F: Family>(
    m: usize,
    n: usize,
    alpha: F::Scalar,
    p: *const F::C,
    ldp: usize,
    beta: F::Scalar,
    c: *mut F::C,
    rsc: usize,
    csc: usize,
) {
    for i in 0..m {
        for j in 0..n {
            let x = unsafe { *p.add(i * ldp + j) };
            let dst = unsafe { &mut *c.add(i * rsc + j * csc) };
            *dst = F::combine(alpha, x, beta, (beta != F::ZERO).then_some(*dst));
        }
    }
}

/// `C = beta * C` (k == 0 or alpha == 0), as the family does it
/// ([`Family::scale_c`]), then the epilogue: `C = act(scale * (beta * C) +
/// bias)` (a scale only where C holds an int8 product's sums).
#[inline(always)]
pub(crate) unsafe fn scale<F: Family>(p: &Problem<F>) {
    unsafe { F::scale_c(p) };
    if let Some(e) = &p.epi {
        // SAFETY: the whole of C, as `scale_c` wrote it.
        unsafe { e.apply(p.m, p.n, p.c.ptr, p.c.rs, p.c.cs, 0, 0) };
    }
}
