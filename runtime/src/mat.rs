//! Matrix views: a slice plus shape and strides, so transposes and sub-matrices
//! cost nothing. Views are checked when an operation uses them, where the error
//! can name the argument.

use crate::error::GemmError;

/// A read-only `rows` x `cols` view: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

/// A mutable `rows` x `cols` view: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    pub(crate) data: &'a mut [T],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

macro_rules! view_common {
    ($name:ident, $slice:ty) => {
        impl<'a, T> $name<'a, T> {
            /// A view with explicit strides (in elements).
            pub fn strided(data: $slice, rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
                $name {
                    data,
                    rows,
                    cols,
                    rs: row_stride,
                    cs: col_stride,
                }
            }
            /// A row-major view with leading dimension `ld` (`ld >= cols`).
            pub fn row_major_ld(data: $slice, rows: usize, cols: usize, ld: usize) -> Self {
                Self::strided(data, rows, cols, ld, 1)
            }
            /// A contiguous row-major view.
            pub fn row_major(data: $slice, rows: usize, cols: usize) -> Self {
                Self::strided(data, rows, cols, cols, 1)
            }
            /// A column-major view with leading dimension `ld` (`ld >= rows`).
            pub fn col_major_ld(data: $slice, rows: usize, cols: usize, ld: usize) -> Self {
                Self::strided(data, rows, cols, 1, ld)
            }
            /// A contiguous column-major view.
            pub fn col_major(data: $slice, rows: usize, cols: usize) -> Self {
                Self::strided(data, rows, cols, 1, rows)
            }
            /// Rows.
            pub fn rows(&self) -> usize {
                self.rows
            }
            /// Columns.
            pub fn cols(&self) -> usize {
                self.cols
            }
            /// `(row stride, column stride)` in elements.
            pub fn strides(&self) -> (usize, usize) {
                (self.rs, self.cs)
            }
            /// The transpose, as a view of the same data.
            pub fn t(self) -> Self {
                $name {
                    data: self.data,
                    rows: self.cols,
                    cols: self.rows,
                    rs: self.cs,
                    cs: self.rs,
                }
            }
            /// Checks that every element is inside the slice. (The errors are
            /// built only on failure: this runs on every call, and constructing
            /// and dropping an unused error showed up at 8^3.)
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

view_common!(MatRef, &'a [T]);
view_common!(MatMut, &'a mut [T]);

impl<'a, T> MatMut<'a, T> {
    /// A read-only view of the same elements.
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
        // Order the two dimensions by stride; the inner one must step by at least
        // one element and the outer one past the whole inner extent (a dimension
        // of extent 1 constrains nothing). No allocation: this runs on every call.
        let (mut inner, mut outer) = ((self.rows, self.rs), (self.cols, self.cs));
        if inner.1 > outer.1 {
            std::mem::swap(&mut inner, &mut outer);
        }
        let ok = match (inner.0 > 1, outer.0 > 1) {
            (false, false) => true,
            (true, false) => inner.1 >= 1,
            (false, true) => outer.1 >= 1,
            (true, true) => inner.1 >= 1 && inner.0.checked_mul(inner.1).is_some_and(|extent| outer.1 >= extent),
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
