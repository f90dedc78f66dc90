//! Typed errors of the safe API. Every message names the argument at fault.

use crate::dispatch::TargetError;
use std::fmt;

/// Why a GEMM call was rejected. Nothing is read or written when it is.
///
/// ```
/// use gemmkit::{GemmError, MatMut, MatRef, gemm};
/// let (a, b) = ([1.0f32; 6], [1.0f32; 6]); // 2 x 3 and 2 x 3: k disagrees
/// let mut c = [0.0f32; 4];
/// let err = gemm(1.0, MatRef::row_major(&a, 2, 3), MatRef::row_major(&b, 2, 3), 0.0, MatMut::row_major(&mut c, 2, 2))
///     .unwrap_err();
/// assert!(matches!(err, GemmError::DimensionMismatch { arg: "b", .. }));
/// println!("{err}"); // names `b`, its rows, and that a has 3 columns
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GemmError {
    /// Two operands disagree on a shared dimension.
    DimensionMismatch {
        /// The argument whose dimension disagrees.
        arg: &'static str,
        /// Which of its dimensions (`"rows"` or `"cols"`).
        dim: &'static str,
        /// The size the other operands call for.
        expected: usize,
        /// The size this argument has.
        found: usize,
        /// What the expected value comes from, e.g. `"a has 4 columns (k)"`.
        because: String,
    },
    /// A view reaches past the end of its slice.
    OutOfBounds {
        /// The argument (`"a"`, `"b"`, `"c"`, ...).
        arg: &'static str,
        /// The view's rows.
        rows: usize,
        /// The view's columns.
        cols: usize,
        /// The view's row and column strides, in elements.
        strides: (usize, usize),
        /// The elements the view reaches: its last element's offset plus one.
        needed: usize,
        /// The elements the slice has.
        len: usize,
    },
    /// A view's last element offset does not fit in `usize`.
    StrideOverflow {
        /// The argument.
        arg: &'static str,
        /// The view's rows.
        rows: usize,
        /// The view's columns.
        cols: usize,
        /// The view's row and column strides, in elements.
        strides: (usize, usize),
    },
    /// An output view whose strides make two elements share memory.
    OverlappingOutput {
        /// The argument (C).
        arg: &'static str,
        /// Its row and column strides, in elements.
        strides: (usize, usize),
    },
    /// A slice length does not match the shape passed with it.
    LengthMismatch {
        /// The argument.
        arg: &'static str,
        /// The length its shape calls for.
        expected: usize,
        /// The slice's length.
        found: usize,
    },
    /// A blocking override with a zero block size.
    InvalidBlocking {
        /// The field (`"kc"`, `"mc"` or `"nc"`).
        field: &'static str,
    },
    /// A tuning override with a field out of range (see [`crate::set_tuning`]).
    InvalidTuning {
        /// The field of [`crate::Tuning`].
        field: &'static str,
    },
    /// A blocking override with a block size over [`crate::Blocking::MAX`].
    BlockingTooLarge {
        /// The field (`"kc"`, `"mc"` or `"nc"`).
        field: &'static str,
        /// The size asked for.
        value: usize,
    },
    /// A shape whose element count does not fit in `usize`.
    ShapeOverflow {
        /// The argument.
        arg: &'static str,
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
    },
    /// A strided batch whose last matrix starts past `usize`.
    BatchOverflow {
        /// The argument.
        arg: &'static str,
        /// The matrices in the batch.
        count: usize,
        /// Elements from one matrix to the next.
        batch_stride: usize,
    },
    /// A batch operand with a different number of matrices than C.
    CountMismatch {
        /// The argument.
        arg: &'static str,
        /// The number of matrices of C.
        expected: usize,
        /// The number of matrices this argument has.
        found: usize,
    },
    /// A sub-matrix that reaches past its view (see [`crate::MatRef::submatrix`]).
    SubmatrixOutOfRange {
        /// The first row and column asked for.
        at: (usize, usize),
        /// The rows and columns asked for.
        shape: (usize, usize),
        /// The view's rows and columns.
        view: (usize, usize),
    },
    /// A scalar (`alpha` or `beta` of an int8 GEMM) that is NaN or infinite.
    NonFiniteScalar {
        /// `"alpha"` or `"beta"`.
        arg: &'static str,
    },
    /// A [`crate::PackedB`] used on a target other than the one it was
    /// packed for (its layout is that target's).
    PackedForAnotherTarget {
        /// The target the B was packed for.
        packed_for: &'static str,
        /// The target of the call.
        target: &'static str,
    },
    /// Bytes given as a packed B ([`crate::PackedBRef::from_bytes`]) that
    /// are not one [`crate::PackedB::pack_into`] wrote for this element type
    /// (or a copy of one): `reason` says which check failed.
    InvalidPackedBuffer {
        /// The check that failed.
        reason: &'static str,
    },
    /// The target chosen by `HWY_TARGET` cannot be used.
    Target(TargetError),
    /// One problem of a batch is invalid (nothing in the batch was computed).
    InBatch {
        /// The problem's position in the batch.
        index: usize,
        /// What is wrong with it.
        error: Box<GemmError>,
    },
}

impl fmt::Display for GemmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GemmError::DimensionMismatch {
                arg,
                dim,
                expected,
                found,
                because,
            } => {
                write!(f, "{arg}: has {found} {dim} but {because} needs {expected}")
            }
            GemmError::OutOfBounds {
                arg,
                rows,
                cols,
                strides,
                needed,
                len,
            } => write!(
                f,
                "{arg}: a {rows} x {cols} view with strides {strides:?} needs {needed} elements but the slice has {len}"
            ),
            GemmError::StrideOverflow {
                arg,
                rows,
                cols,
                strides,
            } => {
                write!(
                    f,
                    "{arg}: a {rows} x {cols} view with strides {strides:?} overflows usize"
                )
            }
            GemmError::OverlappingOutput { arg, strides } => {
                write!(
                    f,
                    "{arg}: strides {strides:?} make distinct elements of the output share memory"
                )
            }
            GemmError::LengthMismatch { arg, expected, found } => {
                write!(f, "{arg}: slice has {found} elements but the shape needs {expected}")
            }
            GemmError::InvalidBlocking { field } => write!(f, "blocking: {field} must be at least 1"),
            GemmError::InvalidTuning { field } => write!(
                f,
                "tuning: {field} out of range (pack_chunk at least 1, max_lanes 1 to {}, l2_percent_for_b 1 to 100, gemv_k_part at least 1)",
                crate::Tuning::MAX_LANES
            ),
            GemmError::BlockingTooLarge { field, value } => write!(
                f,
                "blocking: {field} = {value} is over the largest block, {}",
                crate::Blocking::MAX
            ),
            GemmError::ShapeOverflow { arg, rows, cols } => {
                write!(
                    f,
                    "{arg}: a {rows} x {cols} matrix has more elements than usize can count"
                )
            }
            GemmError::BatchOverflow {
                arg,
                count,
                batch_stride,
            } => write!(
                f,
                "{arg}: {count} matrices at a batch stride of {batch_stride} reach past usize"
            ),
            GemmError::SubmatrixOutOfRange { at, shape, view } => write!(
                f,
                "sub-matrix of {} x {} at ({}, {}) reaches past the {} x {} view",
                shape.0, shape.1, at.0, at.1, view.0, view.1
            ),
            GemmError::CountMismatch { arg, expected, found } => {
                write!(f, "{arg}: {found} matrices in the batch but c has {expected}")
            }
            GemmError::NonFiniteScalar { arg } => write!(f, "{arg}: must be finite"),
            GemmError::PackedForAnotherTarget { packed_for, target } => write!(
                f,
                "b: packed for target {packed_for}, used on {target} (pack it again for {target})"
            ),
            GemmError::InvalidPackedBuffer { reason } => {
                write!(f, "b: not a packed B made by PackedB::pack_into: {reason}")
            }
            GemmError::Target(e) => write!(f, "target: {e}"),
            GemmError::InBatch { index, error } => write!(f, "batch problem {index}: {error}"),
        }
    }
}

impl std::error::Error for GemmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GemmError::Target(e) => Some(e),
            GemmError::InBatch { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}

impl From<TargetError> for GemmError {
    fn from(e: TargetError) -> Self {
        GemmError::Target(e)
    }
}

/// `Ok` where the vector `arg`, one value per row or column, has the length
/// the shape asks (`expected`); else the error naming it.
pub(crate) fn check_len(arg: &'static str, found: usize, expected: usize) -> Result<(), GemmError> {
    if found == expected {
        Ok(())
    } else {
        Err(GemmError::LengthMismatch { arg, expected, found })
    }
}
