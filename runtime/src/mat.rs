//! Matrix views: a slice plus shape and strides, so transposes and sub-matrices
//! cost nothing. Views are checked when an operation uses them, where the error
//! can name the argument.

use crate::error::GemmError;

/// A read-only `rows` x `cols` view: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
///
/// Any strides that stay inside the slice are allowed, including ones that make
/// elements share memory: a stride of 0 repeats a row or column (broadcast), and
/// a leading dimension below the row length makes rows overlap (a sliding
/// window over a signal). Inputs are only read, so each element simply reads
/// the memory its offset names.
///
/// Strides are unsigned: a view is a slice and offsets into it, as BLAS
/// leading dimensions are, and every kernel steps forward through memory. A
/// matrix read backwards (a negative stride, as ndarray and faer allow) is the
/// same product on flipped operands: reversing the rows of A reverses the rows
/// of C, and reversing A's columns pairs with reversing B's rows. The
/// `ndarray` feature takes views with negative strides and copies those
/// operands (see `gemmkit::ndarray`).
///
/// ```
/// use gemmkit::{MatMut, MatRef, gemm};
/// // Rows 0..3 of a sliding window of width 3 over x: row i is x[i..i + 3].
/// let x = [1.0f32, 2.0, 3.0, 4.0, 5.0];
/// let windows = MatRef::row_major_ld(&x, 3, 3, 1);
/// let ones = [1.0f32; 3];
/// let mut sums = [0.0f32; 3];
/// gemm(1.0, windows, MatRef::col_major(&ones, 3, 1), 0.0, MatMut::col_major(&mut sums, 3, 1))?;
/// assert_eq!(sums, [6.0, 9.0, 12.0]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

/// A mutable `rows` x `cols` view: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
///
/// As an output, no two of its elements may share memory (the result would
/// depend on the order of the writes): an operation refuses such a view with
/// [`GemmError::OverlappingOutput`]. Any other strides are allowed, interleaved
/// ones included (2 x 3 with strides (3, 2) touches offsets 0, 2, 4, 3, 5, 7).
///
/// ```
/// use gemmkit::{GemmError, MatMut, MatRef, gemm};
/// let (a, b) = ([1.0f64, 2.0], [3.0f64, 4.0]);
/// let mut out = [0.0f64; 4];
/// // C = a bᵀ, written column-major.
/// gemm(1.0, MatRef::col_major(&a, 2, 1), MatRef::row_major(&b, 1, 2), 0.0, MatMut::col_major(&mut out, 2, 2))?;
/// assert_eq!(out, [3.0, 6.0, 4.0, 8.0]);
/// // A stride of 0 would write one element twice: refused.
/// let mut one = [0.0f64; 2];
/// let err = gemm(1.0, MatRef::col_major(&a, 2, 1), MatRef::row_major(&b, 1, 2), 0.0, MatMut::strided(&mut one, 2, 2, 1, 0));
/// assert!(matches!(err, Err(GemmError::OverlappingOutput { .. })));
/// # Ok::<(), GemmError>(())
/// ```
#[derive(Debug)]
pub struct MatMut<'a, T> {
    pub(crate) data: &'a mut [T],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

macro_rules! view_common {
    // `$mut`: what a slice binding needs for the view (`mut ` for `MatMut`),
    // so that each type's examples show that type.
    ($name:ident, $slice:ty, $mut:literal) => {
        impl<'a, T> $name<'a, T> {
            /// A view with explicit strides (in elements).
            ///
            #[doc = concat!(
                "```\nlet ",
                $mut,
                "x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];\n// 2 x 3, column-major: column j starts at x[2 * j].\nlet m = gemmkit::",
                stringify!($name),
                "::strided(&",
                $mut,
                "x, 2, 3, 1, 2);\nassert_eq!((m.rows(), m.cols(), m.strides()), (2, 3, (1, 2)));\n```",
            )]
            pub fn strided(data: $slice, rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
                $name {
                    data,
                    rows,
                    cols,
                    rs: row_stride,
                    cs: col_stride,
                }
            }
            /// A row-major view with leading dimension `ld`: row `i` starts at
            /// `data[i * ld]`. Usually `ld >= cols`; a smaller `ld` makes rows
            /// overlap, which an input may do and an output may not (see the type).
            ///
            #[doc = concat!(
                "```\nlet ",
                $mut,
                "x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];\n// The first two columns of a 2 x 3 row-major matrix.\nlet m = gemmkit::",
                stringify!($name),
                "::row_major_ld(&",
                $mut,
                "x, 2, 2, 3);\nassert_eq!((m.rows(), m.cols(), m.strides()), (2, 2, (3, 1)));\nassert_eq!(m.get(1, 1), Some(&5.0));\n```",
            )]
            pub fn row_major_ld(data: $slice, rows: usize, cols: usize, ld: usize) -> Self {
                Self::strided(data, rows, cols, ld, 1)
            }
            /// A contiguous row-major view.
            ///
            #[doc = concat!(
                "```\nlet ",
                $mut,
                "x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];\nlet m = gemmkit::",
                stringify!($name),
                "::row_major(&",
                $mut,
                "x, 2, 3);\nassert_eq!((m.strides(), m.get(1, 0)), ((3, 1), Some(&4.0)));\n```",
            )]
            pub fn row_major(data: $slice, rows: usize, cols: usize) -> Self {
                Self::strided(data, rows, cols, cols, 1)
            }
            /// A column-major view with leading dimension `ld`: column `j` starts
            /// at `data[j * ld]`. Usually `ld >= rows`; a smaller `ld` makes
            /// columns overlap, which an input may do and an output may not.
            ///
            #[doc = concat!(
                "```\nlet ",
                $mut,
                "x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];\n// The first two rows of a 3 x 2 column-major matrix.\nlet m = gemmkit::",
                stringify!($name),
                "::col_major_ld(&",
                $mut,
                "x, 2, 2, 3);\nassert_eq!((m.rows(), m.cols(), m.strides()), (2, 2, (1, 3)));\nassert_eq!(m.get(1, 1), Some(&5.0));\n```",
            )]
            pub fn col_major_ld(data: $slice, rows: usize, cols: usize, ld: usize) -> Self {
                Self::strided(data, rows, cols, 1, ld)
            }
            /// A contiguous column-major view.
            ///
            #[doc = concat!(
                "```\nlet ",
                $mut,
                "x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];\nlet m = gemmkit::",
                stringify!($name),
                "::col_major(&",
                $mut,
                "x, 2, 3);\nassert_eq!((m.strides(), m.get(1, 0)), ((1, 2), Some(&2.0)));\n```",
            )]
            pub fn col_major(data: $slice, rows: usize, cols: usize) -> Self {
                Self::strided(data, rows, cols, 1, rows)
            }
            /// Rows.
            ///
            #[doc = concat!(
                "```\nlet ",
                $mut,
                "x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];\nassert_eq!(gemmkit::",
                stringify!($name),
                "::row_major(&",
                $mut,
                "x, 2, 3).rows(), 2);\n```",
            )]
            pub fn rows(&self) -> usize {
                self.rows
            }
            /// Columns.
            ///
            #[doc = concat!(
                "```\nlet ",
                $mut,
                "x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];\nassert_eq!(gemmkit::",
                stringify!($name),
                "::row_major(&",
                $mut,
                "x, 2, 3).cols(), 3);\n```",
            )]
            pub fn cols(&self) -> usize {
                self.cols
            }
            /// `(row stride, column stride)` in elements.
            ///
            #[doc = concat!(
                "```\nlet ",
                $mut,
                "x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];\nassert_eq!(gemmkit::",
                stringify!($name),
                "::row_major(&",
                $mut,
                "x, 2, 3).strides(), (3, 1));\n```",
            )]
            pub fn strides(&self) -> (usize, usize) {
                (self.rs, self.cs)
            }
            /// The transpose, as a view of the same data.
            ///
            #[doc = concat!(
                "```\nlet ",
                $mut,
                "x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];\nlet m = gemmkit::",
                stringify!($name),
                "::row_major(&",
                $mut,
                "x, 2, 3).t(); // 3 x 2, column-major\nassert_eq!((m.rows(), m.cols(), m.strides()), (3, 2, (1, 3)));\nassert_eq!(m.get(2, 0), Some(&3.0));\n```",
            )]
            pub fn t(self) -> Self {
                $name {
                    data: self.data,
                    rows: self.cols,
                    cols: self.rows,
                    rs: self.cs,
                    cs: self.rs,
                }
            }
            /// Element `(i, j)`, or `None` where `(i, j)` is outside the view
            /// or its offset outside the slice.
            ///
            #[doc = concat!(
                "```\nlet ",
                $mut,
                "x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];\nlet m = gemmkit::",
                stringify!($name),
                "::row_major(&",
                $mut,
                "x, 2, 3);\nassert_eq!(m.get(1, 0), Some(&4.0));\nassert_eq!(m.get(2, 0), None);\nassert_eq!(m.t().get(0, 1), Some(&4.0));\n```",
            )]
            pub fn get(&self, i: usize, j: usize) -> Option<&T> {
                self.data.get(self.offset(i, j)?)
            }

            /// The offset of element `(i, j)` in the slice, if `(i, j)` is in
            /// the view and the offset fits in `usize`.
            fn offset(&self, i: usize, j: usize) -> Option<usize> {
                if i >= self.rows || j >= self.cols {
                    return None;
                }
                i.checked_mul(self.rs)?.checked_add(j.checked_mul(self.cs)?)
            }

            /// Where the sub-matrix of `rows x cols` at `(i, j)` starts in the
            /// slice, checked: inside the view, and the view inside its slice.
            fn sub_start(&self, i: usize, j: usize, rows: usize, cols: usize) -> Result<usize, GemmError> {
                let fits = |at: usize, len: usize, all: usize| at.checked_add(len).is_some_and(|end| end <= all);
                if !fits(i, rows, self.rows) || !fits(j, cols, self.cols) {
                    return Err(GemmError::SubmatrixOutOfRange {
                        at: (i, j),
                        shape: (rows, cols),
                        view: (self.rows, self.cols),
                    });
                }
                self.check_bounds("view")?;
                if rows == 0 || cols == 0 {
                    return Ok(0);
                }
                // In the view and the view in bounds: the offset is in the slice.
                Ok(i * self.rs + j * self.cs)
            }

            /// Checks that every element is inside the slice. (The errors are
            /// built only on failure: this runs on every call, where building
            /// and dropping an unused error costs a tiny product time.)
            #[inline]
            pub(crate) fn check_bounds(&self, arg: &'static str) -> Result<(), GemmError> {
                if self.rows == 0 || self.cols == 0 {
                    return Ok(());
                }
                // The offset of the last element, with overflow flags rather than
                // branches (this runs three times on every call).
                let (x, o1) = (self.rows - 1).overflowing_mul(self.rs);
                let (y, o2) = (self.cols - 1).overflowing_mul(self.cs);
                let (last, o3) = x.overflowing_add(y);
                if !(o1 | o2 | o3) && last < self.data.len() {
                    return Ok(());
                }
                self.bounds_error(arg)
            }

            /// The error for a view that does not fit its slice: out of bounds, or
            /// an offset past `usize`.
            #[cold]
            #[inline(never)]
            fn bounds_error(&self, arg: &'static str) -> Result<(), GemmError> {
                let wide = |x: usize| x as u128;
                // Exact products, saturating sum: past u128 is past usize too.
                let last = (wide(self.rows - 1) * wide(self.rs)).saturating_add(wide(self.cols - 1) * wide(self.cs));
                match usize::try_from(last).ok().and_then(|l| l.checked_add(1)) {
                    Some(needed) => Err(GemmError::OutOfBounds {
                        arg,
                        rows: self.rows,
                        cols: self.cols,
                        strides: (self.rs, self.cs),
                        needed,
                        len: self.data.len(),
                    }),
                    None => Err(GemmError::StrideOverflow {
                        arg,
                        rows: self.rows,
                        cols: self.cols,
                        strides: (self.rs, self.cs),
                    }),
                }
            }
        }
    };
}

view_common!(MatRef, &'a [T], "");
view_common!(MatMut, &'a mut [T], "mut ");

impl<'a, T> MatRef<'a, T> {
    /// The `rows x cols` sub-matrix starting at element `(i, j)`, a view of the
    /// same data with the same strides. An error (nothing panics) where it
    /// reaches past this view, or this view past its slice.
    ///
    /// ```
    /// use gemmkit::{MatMut, MatRef, gemm};
    /// let x: Vec<f32> = (0..12).map(|v| v as f32).collect(); // 3 x 4, row-major
    /// let m = MatRef::row_major(&x, 3, 4);
    /// let corner = m.submatrix(1, 2, 2, 2)?; // [[6, 7], [10, 11]]
    /// assert_eq!((corner.get(0, 0), corner.get(1, 1)), (Some(&6.0), Some(&11.0)));
    /// assert!(m.submatrix(2, 0, 2, 1).is_err());
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn submatrix(self, i: usize, j: usize, rows: usize, cols: usize) -> Result<MatRef<'a, T>, GemmError> {
        let start = self.sub_start(i, j, rows, cols)?;
        Ok(MatRef {
            data: self.data.get(start..).unwrap_or_default(),
            rows,
            cols,
            rs: self.rs,
            cs: self.cs,
        })
    }
}

impl<'a, T> MatMut<'a, T> {
    /// A shorter-lived mutable view of the same elements, so one view can be
    /// used by several calls (in a loop) and still be used after them.
    ///
    /// ```
    /// use gemmkit::{MatMut, MatRef, gemm};
    /// let (a, b) = ([1.0f32, 2.0], [3.0f32, 4.0]);
    /// let mut out = [0.0f32; 4];
    /// let mut c = MatMut::row_major(&mut out, 2, 2);
    /// for _ in 0..3 {
    ///     // C += a bᵀ, three times, through the same view.
    ///     gemm(1.0, MatRef::col_major(&a, 2, 1), MatRef::row_major(&b, 1, 2), 1.0, c.rb_mut())?;
    /// }
    /// assert_eq!(c.get(1, 1), Some(&24.0));
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn rb_mut(&mut self) -> MatMut<'_, T> {
        MatMut {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// Element `(i, j)` for writing, or `None` where `(i, j)` is outside the
    /// view or its offset outside the slice.
    ///
    /// ```
    /// let mut x = [0.0f32; 6];
    /// let mut c = gemmkit::MatMut::row_major(&mut x, 2, 3);
    /// *c.get_mut(1, 2).unwrap() = 7.0;
    /// assert!(c.get_mut(2, 0).is_none());
    /// assert_eq!(x[5], 7.0);
    /// ```
    pub fn get_mut(&mut self, i: usize, j: usize) -> Option<&mut T> {
        let at = self.offset(i, j)?;
        self.data.get_mut(at)
    }

    /// The `rows x cols` sub-matrix starting at element `(i, j)`, borrowed from
    /// this view (see [`MatRef::submatrix`]; [`MatMut::into_submatrix`] keeps
    /// the lifetime).
    ///
    /// ```
    /// use gemmkit::{MatMut, MatRef, gemm};
    /// let mut out = [0.0f32; 9];
    /// let mut c = MatMut::row_major(&mut out, 3, 3);
    /// let ones = [1.0f32; 4];
    /// // Only the bottom-right 2 x 2 block of C is written.
    /// let block = c.submatrix_mut(1, 1, 2, 2)?;
    /// gemm(1.0, MatRef::row_major(&ones, 2, 2), MatRef::row_major(&ones, 2, 2), 0.0, block)?;
    /// assert_eq!(out, [0.0, 0.0, 0.0, 0.0, 2.0, 2.0, 0.0, 2.0, 2.0]);
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn submatrix_mut(&mut self, i: usize, j: usize, rows: usize, cols: usize) -> Result<MatMut<'_, T>, GemmError> {
        self.rb_mut().into_submatrix(i, j, rows, cols)
    }

    /// The `rows x cols` sub-matrix starting at element `(i, j)`, consuming
    /// this view.
    ///
    /// ```
    /// let mut x = [0.0f32; 6];
    /// let c = gemmkit::MatMut::row_major(&mut x, 2, 3);
    /// let mut last_column = c.into_submatrix(0, 2, 2, 1)?;
    /// *last_column.get_mut(1, 0).unwrap() = 1.0;
    /// assert_eq!(x, [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn into_submatrix(self, i: usize, j: usize, rows: usize, cols: usize) -> Result<MatMut<'a, T>, GemmError> {
        let start = self.sub_start(i, j, rows, cols)?;
        let (rs, cs) = (self.rs, self.cs);
        let len = self.data.len();
        Ok(MatMut {
            data: &mut self.data[start.min(len)..],
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// A read-only view of the same elements.
    ///
    /// ```
    /// let mut x = [1.0f32, 2.0, 3.0, 4.0];
    /// let c = gemmkit::MatMut::row_major(&mut x, 2, 2);
    /// assert_eq!(c.as_ref().t().get(0, 1), Some(&3.0));
    /// ```
    pub fn as_ref(&self) -> MatRef<'_, T> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// Checks bounds, and that no two elements share memory (writes would race
    /// with each other and the result would depend on the order).
    #[inline]
    pub(crate) fn check_output(&self, arg: &'static str) -> Result<(), GemmError> {
        self.check_bounds(arg)?;
        // Row- or column-major with a leading dimension that holds a whole row
        // or column (nearly every call) needs nothing more.
        if (self.cs == 1 && self.rs >= self.cols)
            || (self.rs == 1 && self.cs >= self.rows)
            || self.rows == 0
            || self.cols == 0
        {
            return Ok(());
        }
        // Elements (i1, j1) and (i2, j2) share memory exactly when
        // di * rs == dj * cs for di = i1 - i2, dj = j2 - j1, not both zero; the
        // strides are unsigned, so di and dj have one sign. A zero stride over
        // more than one element collides at once; otherwise the smallest
        // solution is di = cs / g, dj = rs / g with g = gcd(rs, cs), and the
        // view is free of overlap exactly when it is out of range. Exact, so an
        // interleaved view such as 2 x 3 with strides (3, 2) is accepted; no
        // allocation, since this runs on every call.
        let ok = if self.rs == 0 || self.cs == 0 {
            (self.rs != 0 || self.rows == 1) && (self.cs != 0 || self.cols == 1)
        } else {
            let g = gcd(self.rs, self.cs);
            self.cs / g >= self.rows || self.rs / g >= self.cols
        };
        if ok {
            Ok(())
        } else {
            Err(GemmError::OverlappingOutput {
                arg,
                strides: (self.rs, self.cs),
            })
        }
    }
}

/// Greatest common divisor, both arguments non-zero.
fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sub-matrix is the elements of the view it names, at any strides and
    /// nesting; a range past the view, or a view past its slice, is an error.
    #[test]
    fn submatrices_name_their_elements() {
        let data: Vec<usize> = (0..60).collect();
        for (rs, cs) in [(6, 1), (1, 5), (7, 2), (0, 1)] {
            let m = MatRef::strided(&data, 5, 6, rs, cs);
            for (i, j, r, c) in [(0, 0, 5, 6), (1, 2, 3, 4), (4, 5, 1, 1), (2, 3, 0, 2), (5, 6, 0, 0)] {
                let sub = m.submatrix(i, j, r, c).expect("in range");
                for a in 0..r {
                    for b in 0..c {
                        assert_eq!(sub.get(a, b), m.get(i + a, j + b));
                    }
                }
                assert_eq!(sub.get(r, 0), None);
                let inner = sub.t().submatrix(0, 0, c, r).expect("whole");
                assert_eq!(inner.get(0, 0), if r > 0 && c > 0 { m.get(i, j) } else { None });
            }
            for (i, j, r, c) in [(0, 0, 6, 1), (1, 5, 1, 2), (usize::MAX, 0, 2, 1), (0, 1, 1, usize::MAX)] {
                assert!(matches!(
                    m.submatrix(i, j, r, c),
                    Err(GemmError::SubmatrixOutOfRange { .. })
                ));
            }
        }
        let short = MatRef::row_major(&data[..10], 5, 6);
        assert!(matches!(
            short.submatrix(0, 0, 1, 1),
            Err(GemmError::OutOfBounds { .. })
        ));
        let mut out = vec![0usize; 12];
        let mut c = MatMut::row_major(&mut out, 3, 4);
        *c.submatrix_mut(1, 1, 2, 2)
            .expect("in range")
            .get_mut(1, 1)
            .expect("inside") = 7;
        assert_eq!(c.get(2, 2), Some(&7));
        assert!(c.get_mut(3, 0).is_none());
    }

    /// The overlap test is exact: it refuses a view exactly when two of its
    /// elements have the same offset (checked by listing them).
    #[test]
    fn output_overlap_test_is_exact() {
        let mut data = vec![0u8; 64];
        for rows in 1..6 {
            for cols in 1..6 {
                for rs in 0..9 {
                    for cs in 0..9 {
                        let mut offsets: Vec<usize> = (0..rows)
                            .flat_map(|i| (0..cols).map(move |j| i * rs + j * cs))
                            .collect();
                        offsets.sort_unstable();
                        let distinct = offsets.windows(2).all(|w| w[0] != w[1]);
                        let view = MatMut::strided(&mut data, rows, cols, rs, cs);
                        assert_eq!(
                            view.check_output("c").is_ok(),
                            distinct,
                            "{rows} x {cols}, strides ({rs}, {cs})"
                        );
                    }
                }
            }
        }
    }
}
