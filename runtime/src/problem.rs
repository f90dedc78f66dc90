//! One GEMM call as raw pointers and element strides.

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

/// A problem shared with the threads that run it (a batch's problems, or the
/// rows of a small one): the caller keeps the borrows alive and waits for them.
pub(crate) struct SharedProblem<T>(pub(crate) Problem<T>);

// SAFETY: see `gemm_unchecked`'s contract; the calls are synchronous, and the
// threads write distinct parts of C (distinct problems, or distinct rows).
unsafe impl<T: Sync> Sync for SharedProblem<T> {}

impl<T> SharedProblem<T> {
    /// The problem; a method, so that a closure captures the whole wrapper (a
    /// field access would capture the field, which is not `Sync`).
    pub(crate) fn get(&self) -> &Problem<T> {
        &self.0
    }
}
