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
            /// Checks that every element is inside the slice.
            pub(crate) fn check_bounds(&self, arg: &'static str) -> Result<(), GemmError> {
                if self.rows == 0 || self.cols == 0 {
                    return Ok(());
                }
                let last = (self.rows - 1)
                    .checked_mul(self.rs)
                    .and_then(|r| {
                        (self.cols - 1)
                            .checked_mul(self.cs)
                            .and_then(|c| r.checked_add(c))
                    })
                    .ok_or(GemmError::StrideOverflow {
                        arg,
                        rows: self.rows,
                        cols: self.cols,
                        strides: (self.rs, self.cs),
                    })?;
                if last >= self.data.len() {
                    return Err(GemmError::OutOfBounds {
                        arg,
                        rows: self.rows,
                        cols: self.cols,
                        strides: (self.rs, self.cs),
                        needed: last + 1,
                        len: self.data.len(),
                    });
                }
                Ok(())
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
    pub(crate) fn check_output(&self, arg: &'static str) -> Result<(), GemmError> {
        self.check_bounds(arg)?;
        if self.rows == 0 || self.cols == 0 {
            return Ok(());
        }
        // Sort the two dimensions by stride; the inner one must step by at least
        // one element and the outer one past the whole inner extent.
        let dims = [(self.rows, self.rs), (self.cols, self.cs)];
        let live: Vec<(usize, usize)> = dims.into_iter().filter(|(n, _)| *n > 1).collect();
        let ok = match live.as_slice() {
            [] => true,
            [(_, s)] => *s >= 1,
            [(n0, s0), (n1, s1)] => {
                let ((ni, si), so) = if s0 <= s1 { ((*n0, *s0), *s1) } else { ((*n1, *s1), *s0) };
                si >= 1 && ni.checked_mul(si).is_some_and(|extent| so >= extent)
            }
            _ => unreachable!("two dimensions"),
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
