//! GEMM on [`ndarray`] views (the `ndarray` feature).
//!
//! ```toml
//! gemmkit = { version = "0.1", features = ["ndarray"] }
//! ```
//!
//! Views of any layout are accepted: row- or column-major, sliced, transposed
//! (`.t()`), with steps. Views whose strides are all non-negative are read and
//! written in place, with no copy; a view with a negative stride (`s![..;-1,
//! ..]`, `invert_axis`) is copied to a standard-layout array first (and C
//! copied back after), since gemmkit's strides are unsigned (see [`MatRef`]).
//!
//! ```
//! use gemmkit::ndarray::gemm;
//! use ndarray::{Array2, array, s};
//! let a = array![[1.0f32, 2.0], [3.0, 4.0]];
//! let b = array![[5.0f32, 6.0], [7.0, 8.0]];
//! let mut c = Array2::<f32>::zeros((2, 2));
//! gemm(1.0, a.view(), b.t(), 0.0, c.view_mut())?; // C = A Bᵀ, B read in place
//! assert_eq!(c, array![[17.0, 23.0], [39.0, 53.0]]);
//! // A with its rows reversed: a negative stride, copied.
//! gemm(1.0, a.slice(s![..;-1, ..]), b.view(), 0.0, c.view_mut())?;
//! assert_eq!(c, array![[43.0, 50.0], [19.0, 22.0]]);
//! # Ok::<(), gemmkit::GemmError>(())
//! ```
//!
//! [`MatRef`]: crate::MatRef

use crate::api::check_dims;
use crate::dispatch::Check;
use crate::error::GemmError;
use crate::family::Element;
use crate::generated::Target;
use crate::parallel::Parallelism;
use ::ndarray::{Array2, ArrayBase, ArrayView2, ArrayViewMut2, Data, Ix2};

/// `C = alpha * A * B + beta * C` on ndarray views, on the active target
/// (see [`crate::gemm`] for the semantics: `beta == 0` never reads C).
///
/// ```
/// use ndarray::{Array2, array, s};
/// let a = array![[1.0f64, 2.0], [3.0, 4.0]];
/// let b = array![[1.0f64, 0.0], [0.0, 1.0]];
/// let mut c = Array2::<f64>::zeros((2, 2));
/// // B transposed, and A read bottom row first (a negative stride: copied).
/// gemmkit::ndarray::gemm(1.0, a.slice(s![..;-1, ..]), b.t(), 0.0, c.view_mut())?;
/// assert_eq!(c, array![[3.0, 4.0], [1.0, 2.0]]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm<T: Element>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    c: ArrayViewMut2<'_, T>,
) -> Result<(), GemmError> {
    gemm_with(crate::active()?, &Parallelism::Rayon, alpha, a, b, beta, c)
}

/// [`gemm`] on an explicit target with explicit threading (see
/// [`crate::gemm_with`]).
///
/// ```
/// use ndarray::Array2;
/// let a = Array2::from_shape_fn((3, 4), |(i, j)| (i + j) as f32);
/// let b = Array2::<f32>::eye(4);
/// let mut c = Array2::<f32>::zeros((4, 3)).reversed_axes(); // 3 x 4, column-major
/// gemmkit::ndarray::gemm_with(gemmkit::best(), &gemmkit::Parallelism::Sequential, 1.0, a.view(), b.view(), 0.0, c.view_mut())?;
/// assert_eq!(c, a);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_with<T: Element>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
) -> Result<(), GemmError> {
    target.check()?;
    check_dims(a.dim(), b.dim(), c.dim())?;
    let (a_copy, b_copy) = (copy_if_reversed(&a), copy_if_reversed(&b));
    let a: ArrayView2<'_, T> = match &a_copy {
        Some(copy) => copy.view(),
        None => a.view(),
    };
    let b: ArrayView2<'_, T> = match &b_copy {
        Some(copy) => copy.view(),
        None => b.view(),
    };
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    let run = |c: &mut ArrayViewMut2<'_, T>| {
        let ([rsa, csa], [rsb, csb], [rsc, csc]) = (strides(&a), strides(&b), strides(c));
        // SAFETY: every element of the views is valid for their lifetimes, and
        // the strides are theirs (non-negative now); C is a unique view (no two
        // of its elements share memory, and it cannot alias A or B, which are
        // shared borrows or copies); `target.check()` passed.
        unsafe {
            crate::gemm_raw(
                target,
                parallelism,
                m,
                n,
                k,
                alpha,
                a.as_ptr(),
                rsa,
                csa,
                b.as_ptr(),
                rsb,
                csb,
                beta,
                c.as_mut_ptr(),
                rsc,
                csc,
            )
        }
    };
    match copy_if_reversed(&c) {
        None => run(&mut c),
        Some(mut tmp) => {
            run(&mut tmp.view_mut());
            c.assign(&tmp);
        }
    }
    Ok(())
}

/// The strides of a view whose strides are non-negative, as `usize` (a
/// dimension of length 0 or 1 has no meaningful stride: 0).
fn strides<S: Data>(v: &ArrayBase<S, Ix2>) -> [usize; 2] {
    let s = v.strides();
    [0, 1].map(|d| if v.shape()[d] <= 1 { 0 } else { s[d].unsigned_abs() })
}

/// A standard-layout copy of a view with a negative stride (over more than one
/// element), or `None` where the view can be used in place.
fn copy_if_reversed<S: Data<Elem = T>, T: Element>(v: &ArrayBase<S, Ix2>) -> Option<Array2<T>> {
    let reversed = (0..2).any(|d| v.shape()[d] > 1 && v.strides()[d] < 0);
    // (`to_owned` would keep a contiguous view's negative strides.)
    reversed.then(|| v.as_standard_layout().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::ndarray::{Array2, ShapeBuilder, s};

    fn reference(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        a.dot(b)
    }

    /// Every layout and sign of stride, for A, B and C, against `dot`, and C's
    /// elements outside the view untouched.
    #[test]
    fn any_layout_matches_dot() {
        let (m, k, n) = (5, 7, 3);
        let a: Array2<f64> = Array2::from_shape_fn((m, k), |(i, j)| (i * 7 + j) as f64 * 0.5 - 3.0);
        let b: Array2<f64> = Array2::from_shape_fn((k, n), |(i, j)| (i * 3 + j) as f64 * 0.25 - 1.0);
        let want = reference(&a, &b);
        let a_f = {
            let mut f = Array2::zeros((m, k).f());
            f.assign(&a);
            f
        };
        let a_big = Array2::from_shape_fn((2 * m, 2 * k), |(i, j)| {
            if i % 2 == 0 && j % 2 == 0 {
                a[[i / 2, j / 2]]
            } else {
                f64::NAN
            }
        });
        let a_rev = a.slice(s![..;-1, ..]).to_owned();
        let as_: Vec<ArrayView2<'_, f64>> = vec![a.view(), a_f.view(), a_big.slice(s![..;2, ..;2])];
        for av in as_ {
            let mut c = Array2::from_elem((m + 2, n + 2), f64::NAN);
            gemm(1.0, av, b.view(), 0.0, c.slice_mut(s![1..m + 1, 1..n + 1])).expect("valid");
            assert_eq!(c.slice(s![1..m + 1, 1..n + 1]), want);
            assert!(c.row(0).iter().all(|x| x.is_nan()) && c.column(0).iter().all(|x| x.is_nan()));
        }
        // A reversed twice is A; B transposed twice is B; C reversed.
        let mut c = Array2::zeros((m, n));
        gemm(
            1.0,
            a_rev.slice(s![..;-1, ..]),
            b.t().t(),
            0.0,
            c.slice_mut(s![..;-1, ..;-1]),
        )
        .expect("valid");
        assert_eq!(c.slice(s![..;-1, ..;-1]), want);
        // beta == 1 accumulates through the reversed copy of C too:
        // C[i][j] was want[m-1-i][n-1-j]; rows reversed, it gains want[m-1-i][j].
        gemm(1.0, a.view(), b.view(), 1.0, c.slice_mut(s![..;-1, ..])).expect("valid");
        let expected = Array2::from_shape_fn((m, n), |(i, j)| want[[m - 1 - i, n - 1 - j]] + want[[m - 1 - i, j]]);
        assert_eq!(c, expected);
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let a = Array2::<f32>::zeros((2, 3));
        let b = Array2::<f32>::zeros((4, 2));
        let mut c = Array2::<f32>::zeros((2, 2));
        assert!(matches!(
            gemm(1.0, a.view(), b.view(), 0.0, c.view_mut()),
            Err(GemmError::DimensionMismatch { arg: "b", .. })
        ));
    }
}
