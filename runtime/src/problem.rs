//! One GEMM call as raw pointers and element strides, and its transpose.

use crate::family::Family;
use crate::fused::Epi;

/// A matrix operand: element `(i, j)` is at `ptr + i * rs + j * cs` (strides in
/// elements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Operand<P> {
    pub(crate) ptr: P,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

impl<P> Operand<P> {
    /// The transpose: the same elements, rows and columns swapped.
    #[inline(always)]
    pub(crate) fn t(self) -> Self {
        Operand {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

impl<P> Operand<P> {
    /// The same operand of `rows x cols` with the stride of a length-1
    /// dimension set to 1: it never moves to a second element, so any value
    /// is as good, and the plan's tests for a unit stride then see through it
    /// (a `1 x k` row given with a column-major stride is a row all the same).
    #[inline(always)]
    pub(crate) fn normalized(self, rows: usize, cols: usize) -> Self {
        Operand {
            rs: if rows == 1 { 1 } else { self.rs },
            cs: if cols == 1 { 1 } else { self.cs },
            ptr: self.ptr,
        }
    }
}

impl<T> Operand<*const T> {
    /// The address of element `(i, j)`. Formed with wrapping arithmetic and not
    /// dereferenced: only the kernels read through it.
    #[inline(always)]
    pub(crate) fn at(&self, i: usize, j: usize) -> *const T {
        self.ptr.wrapping_add(i * self.rs + j * self.cs)
    }
}

impl<T> Operand<*mut T> {
    /// The address of element `(i, j)` (see the `*const` form).
    #[inline(always)]
    pub(crate) fn at(&self, i: usize, j: usize) -> *mut T {
        self.ptr.wrapping_add(i * self.rs + j * self.cs)
    }
}

/// One GEMM call of family `F`, `C = alpha * A * B + beta * C` with A `m x k`,
/// B `k x n` and C `m x n`, checked or trusted.
#[derive(Clone, Copy)]
pub struct Problem<F: Family> {
    pub(crate) m: usize,
    pub(crate) n: usize,
    pub(crate) k: usize,
    pub(crate) alpha: F::Scalar,
    pub(crate) a: Operand<*const F::A>,
    pub(crate) b: Operand<*const F::B>,
    pub(crate) beta: F::Scalar,
    pub(crate) c: Operand<*mut F::C>,
    /// What the family adds to a call ([`Family::Extra`]).
    pub(crate) extra: F::Extra,
    /// B packed ahead of the call ([`crate::PackedB`]): the loops read its
    /// strips and pack no B (`b` is then not read).
    pub(crate) packed: Option<PackedRef<F::PackedB>>,
    /// The fused epilogue, applied to each element of C once, after its last
    /// block of k (`None`: C is the product).
    pub(crate) epi: Option<Epi<F::C>>,
}

/// A pre-packed B as the loops read it: `k` in blocks of `kc` (the last one
/// shallower), each block every strip of the tile's `NR` columns, padded to
/// the family's depth groups, strip after strip (the layout of one packed B
/// block, for all of B's columns).
#[derive(Clone, Copy)]
pub(crate) struct PackedRef<P> {
    pub(crate) data: *const P,
    /// The depth of each block of k but the last.
    pub(crate) kc: usize,
    /// Elements from one block of k to the next (`packed_depth(kc) * width`).
    pub(crate) block: usize,
    /// Where the family has sums ([`Family::SUMS`]): each block's column
    /// sums, `width` apart (one per column of every strip); else null.
    pub(crate) sums: *const i32,
    pub(crate) width: usize,
}

impl<F: Family> Problem<F> {
    /// The same problem with the stride of every length-1 dimension set to 1
    /// (see [`Operand::normalized`]), so that no stride choice for a vector
    /// takes a slower path than another.
    #[inline(always)]
    pub(crate) fn normalized(&self) -> Self {
        let (m, n, k) = (self.m, self.n, self.k);
        Problem {
            a: self.a.normalized(m, k),
            b: self.b.normalized(k, n),
            c: self.c.normalized(m, n),
            ..*self
        }
    }

    /// Multiply-adds, in floating point so that no product overflows.
    #[inline(always)]
    pub(crate) fn volume(&self) -> f64 {
        self.m as f64 * self.n as f64 * self.k as f64
    }
}

impl<T: Copy, F: Family<A = T, B = T>> Problem<F> {
    /// The same product seen as `Cᵀ = Bᵀ Aᵀ`: the kernels write rows of C with
    /// unit column stride, and a column-major C has its unit stride along the
    /// columns, which are the rows of `Cᵀ`.
    #[inline(always)]
    pub(crate) fn transposed(&self) -> Self {
        Problem {
            m: self.n,
            n: self.m,
            k: self.k,
            alpha: self.alpha,
            a: self.b.t(),
            b: self.a.t(),
            beta: self.beta,
            c: self.c.t(),
            extra: self.extra,
            // (The plan never transposes a product with a packed B.)
            packed: None,
            epi: self.epi.map(Epi::transposed),
        }
    }
}

/// A problem shared with the threads that run it (a batch's problems, or the
/// rows of a small one): the caller keeps the borrows alive and waits for them.
pub(crate) struct SharedProblem<F: Family>(pub(crate) Problem<F>);

// SAFETY: see `gemm_raw`'s contract; the calls are synchronous, and the threads
// write distinct parts of C (distinct problems, or distinct rows).
unsafe impl<F: Family> Sync for SharedProblem<F> {}

impl<F: Family> SharedProblem<F> {
    /// The problem; a method, so that a closure captures the whole wrapper (a
    /// field access would capture the field, which is not `Sync`).
    pub(crate) fn get(&self) -> &Problem<F> {
        &self.0
    }
}
