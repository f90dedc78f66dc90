//! Pre-packed B: weights packed once, in the layout the micro-kernels read,
//! and multiplied by any number of A's, on any threads, without packing B
//! again.

use crate::blocking::Blocking;
use crate::dot::Bf16;
use crate::driver::drive;
use crate::error::GemmError;
use crate::family::{Element, Family};
use crate::generated::Target;
use crate::mat::{MatMut, MatRef};
use crate::parallel::Parallelism;
use crate::plan::balanced;
use crate::problem::{Operand, PackedRef, Problem};
use crate::scratch::Line;
use half::bf16;
use std::marker::PhantomData;

/// What [`Packable`] is, kept out of the public API: the family that packs
/// each element type, and the per-call data of a problem that only packs.
mod sealed {
    use crate::dot::{Bf16, COff, IntExtra, U8S8};
    use crate::family::Family;

    pub trait Sealed {
        type Family: Family<B = Self>;
        fn no_extra() -> <Self::Family as Family>::Extra;
    }
    impl Sealed for f32 {
        type Family = f32;
        fn no_extra() {}
    }
    impl Sealed for f64 {
        type Family = f64;
        fn no_extra() {}
    }
    impl Sealed for half::bf16 {
        type Family = Bf16;
        fn no_extra() {}
    }
    impl Sealed for i8 {
        type Family = U8S8;
        fn no_extra() -> IntExtra {
            IntExtra {
                a_offset: 0,
                b_offset: 0,
                shift: 0,
                c_offset: COff::Fixed(0),
                exact: true,
            }
        }
    }
}

/// The element types a B can be packed ahead for: `f32` and `f64` (for
/// [`gemm_packed`]), `bf16` (for [`gemm_bf16_packed`]) and `i8` (for
/// [`crate::gemm_u8s8s32_packed`] and [`crate::gemm_s8s8s32_packed`], which
/// share its packing). Sealed: the crate's own types implement it.
pub trait Packable: sealed::Sealed + Copy + Send + Sync + 'static {}

impl Packable for f32 {}
impl Packable for f64 {}
impl Packable for bf16 {}
impl Packable for i8 {}

/// A `k x n` B packed once for one target, in the blocks and layout its
/// micro-kernels read: the weights of a layer, multiplied by many A's.
///
/// [`gemm_packed`] (and [`gemm_bf16_packed`] for `bf16`) multiply by it
/// without packing B, for any `m`, any threads and any number of calls.
/// It holds its own copy of B (B's borrow ends when it is built), laid out
/// for the target it was packed for and for the depth of the blocks of k
/// chosen then from that target's caches; a call on another target is
/// refused ([`GemmError::PackedForAnotherTarget`]) rather than computing
/// garbage.
///
/// ```
/// use gemmkit::{MatMut, MatRef, PackedB, gemm_packed};
/// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3 weights
/// let packed = PackedB::new(MatRef::row_major(&w, 2, 3))?;
/// for x in [[1.0f32, 0.0], [0.0, 1.0]] {
///     let mut y = [0.0f32; 3];
///     gemm_packed(1.0, MatRef::row_major(&x, 1, 2), &packed, 0.0, MatMut::row_major(&mut y, 1, 3))?;
///     assert_eq!(y[..], w[if x[0] == 1.0 { 0..3 } else { 3..6 }]);
/// }
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub struct PackedB<T: Packable> {
    target: &'static str,
    k: usize,
    n: usize,
    /// The depth of each block of k but the last.
    kc: usize,
    /// Elements from one block of k to the next.
    block: usize,
    /// The packed elements, 64-byte aligned.
    data: Vec<Line>,
    /// Where the family has sums: each block's column sums (`width` per
    /// block, one per column of every strip).
    sums: Vec<i32>,
    width: usize,
    _elem: PhantomData<T>,
}

impl<T: Packable> std::fmt::Debug for PackedB<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedB")
            .field("target", &self.target)
            .field("k", &self.k)
            .field("n", &self.n)
            .field("kc", &self.kc)
            .field("bytes", &(self.data.len() * size_of::<Line>()))
            .finish()
    }
}

impl<T: Packable> PackedB<T> {
    /// Packs `b` for the active target (see [`crate::active`]).
    pub fn new(b: MatRef<'_, T>) -> Result<Self, GemmError> {
        Self::new_on(crate::active()?, b)
    }

    /// Packs `b` (any strides) for `target`.
    pub fn new_on(target: &Target, b: MatRef<'_, T>) -> Result<Self, GemmError> {
        target.check()?;
        b.check_bounds("b")?;
        let (k, n) = (b.rows, b.cols);
        let shape = T::Family::shape(target);
        let elem = size_of::<<T::Family as Family>::PackedB>();
        // The depth the loops would choose for this B (see `plan::rest`).
        let kc = balanced(k, Blocking::for_shape(shape, elem, n).kc, 1);
        let width = n.div_ceil(shape.nr) * shape.nr;
        let depth = <T::Family as Family>::packed_depth;
        let overflow = GemmError::ShapeOverflow {
            arg: "b",
            rows: k,
            cols: n,
        };
        let block = depth(kc).checked_mul(width).ok_or(overflow.clone())?;
        let blocks = k.div_ceil(kc);
        let len = match blocks {
            0 => 0,
            _ => (blocks - 1)
                .checked_mul(block)
                .and_then(|full| full.checked_add(depth(k - (blocks - 1) * kc) * width))
                .ok_or(overflow.clone())?,
        };
        let bytes = len.checked_mul(elem).ok_or(overflow)?;
        let mut data = vec![Line([0; 64]); bytes.div_ceil(64)];
        let dst = data.as_mut_ptr().cast::<<T::Family as Family>::PackedB>();
        let mut sums = vec![0i32; if <T::Family as Family>::SUMS { blocks * width } else { 0 }];
        let p: Problem<T::Family> = Problem {
            m: 0,
            n,
            k,
            alpha: <T::Family as Family>::ONE,
            a: Operand {
                ptr: std::ptr::null(),
                rs: 0,
                cs: 0,
            },
            b: Operand {
                ptr: b.data.as_ptr(),
                rs: b.rs,
                cs: b.cs,
            },
            beta: <T::Family as Family>::ZERO,
            c: Operand {
                ptr: std::ptr::null_mut(),
                rs: 0,
                cs: 0,
            },
            extra: T::no_extra(),
            packed: None,
            epi: None,
        };
        let kern = T::Family::kernels(target);
        for bi in 0..blocks {
            let (pc, rows) = (bi * kc, kc.min(k - bi * kc));
            // SAFETY: B's view is in bounds; block `bi` of the buffer holds
            // `depth(rows)` packed rows of every strip, `width` columns.
            unsafe {
                T::Family::pack_b(
                    &kern,
                    &p,
                    rows,
                    n,
                    p.b.at(pc, 0),
                    (pc, 0),
                    dst.add(bi * block),
                    depth(rows) * shape.nr,
                    if sums.is_empty() {
                        std::ptr::null_mut()
                    } else {
                        sums.as_mut_ptr().add(bi * width)
                    },
                )
            };
        }
        Ok(PackedB {
            target: target.name,
            k,
            n,
            kc,
            block,
            data,
            sums,
            width,
            _elem: PhantomData,
        })
    }

    /// The rows of B (the depth `k` of a product).
    pub fn k(&self) -> usize {
        self.k
    }

    /// The columns of B (and of C).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The name of the target it was packed for.
    pub fn target(&self) -> &'static str {
        self.target
    }

    /// The depth of the blocks of k it was packed in (the last may be
    /// shallower): every call with it uses these blocks.
    pub fn kc(&self) -> usize {
        self.kc
    }

    /// Checks a call on `target` with an `m x k` A and a C of `c` (rows,
    /// columns), and gives the loops' view of it.
    /// `P` is the packed element type of the family that reads it: its
    /// packing family's (or, for `i8`, the s8 x s8 family's, which packs B
    /// the same way).
    pub(crate) fn for_call<P>(
        &self,
        target: &Target,
        a: (usize, usize),
        c: (usize, usize),
    ) -> Result<PackedRef<P>, GemmError> {
        if target.name != self.target {
            return Err(GemmError::PackedForAnotherTarget {
                packed_for: self.target,
                target: target.name,
            });
        }
        crate::api::check_dims(a, (self.k, self.n), c)?;
        Ok(PackedRef {
            data: self.data.as_ptr().cast::<P>(),
            kc: self.kc,
            block: self.block,
            sums: self.sums.as_ptr(),
            width: self.width,
        })
    }
}

/// `C = alpha * A * B + beta * C` with B packed ahead ([`PackedB`]), on the
/// active target, which must be the one B was packed for. BLAS rules as for
/// [`crate::gemm`]; the sums are [`crate::gemm`]'s, in the blocks of k chosen
/// when B was packed, and bit-identical for any threads.
///
/// ```
/// use gemmkit::{MatMut, MatRef, PackedB, gemm_packed};
/// let b = [1.0f64, 0.0, 0.0, 1.0]; // 2 x 2 identity
/// let packed = PackedB::new(MatRef::row_major(&b, 2, 2))?;
/// let a = [1.0f64, 2.0, 3.0, 4.0];
/// let mut c = [1.0f64; 4];
/// gemm_packed(2.0, MatRef::row_major(&a, 2, 2), &packed, 1.0, MatMut::row_major(&mut c, 2, 2))?;
/// assert_eq!(c, [3.0, 5.0, 7.0, 9.0]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_packed<T: Element + Packable>(
    alpha: T,
    a: MatRef<'_, T>,
    b: &PackedB<T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    gemm_packed_with(crate::active()?, &Parallelism::Rayon, alpha, a, b, beta, c)
}

/// [`gemm_packed`] on an explicit target with explicit threading.
pub fn gemm_packed_with<T: Element + Packable>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: T,
    a: MatRef<'_, T>,
    b: &PackedB<T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    packed_call::<T, T>(target, parallelism, alpha, a, b, beta, c)
}

/// `C := alpha * A * B + beta * C` for `bf16` A, B packed ahead
/// ([`PackedB<bf16>`](PackedB)) and `f32` C, as [`crate::gemm_bf16`].
///
/// ```
/// use gemmkit::{MatMut, MatRef, PackedB, gemm_bf16_packed};
/// use half::bf16;
/// let w = [0.5f32, 0.25].map(bf16::from_f32); // 2 x 1
/// let packed = PackedB::new(MatRef::row_major(&w, 2, 1))?;
/// let x = [1.0f32, 2.0, 3.0, 4.0].map(bf16::from_f32); // 2 x 2
/// let mut y = [0.0f32; 2];
/// gemm_bf16_packed(1.0, MatRef::row_major(&x, 2, 2), &packed, 0.0, MatMut::row_major(&mut y, 2, 1))?;
/// assert_eq!(y, [1.0, 2.5]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_bf16_packed(
    alpha: f32,
    a: MatRef<'_, bf16>,
    b: &PackedB<bf16>,
    beta: f32,
    c: MatMut<'_, f32>,
) -> Result<(), GemmError> {
    gemm_bf16_packed_with(crate::active()?, &Parallelism::Rayon, alpha, a, b, beta, c)
}

/// [`gemm_bf16_packed`] on an explicit target with explicit threading.
pub fn gemm_bf16_packed_with(
    target: &Target,
    parallelism: &Parallelism,
    alpha: f32,
    a: MatRef<'_, bf16>,
    b: &PackedB<bf16>,
    beta: f32,
    c: MatMut<'_, f32>,
) -> Result<(), GemmError> {
    packed_call::<Bf16, bf16>(target, parallelism, alpha, a, b, beta, c)
}

/// One call with a packed B, checked.
/// `F` is `T`'s family (the caller names both, which the type system cannot
/// relate for a generic `T`).
fn packed_call<F: Family<Extra = ()>, T: Packable>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: F::Scalar,
    a: MatRef<'_, F::A>,
    b: &PackedB<T>,
    beta: F::Scalar,
    mut c: MatMut<'_, F::C>,
) -> Result<(), GemmError> {
    let p = packed_problem::<F, T>(target, alpha, &a, b, beta, &mut c)?;
    // SAFETY: A and C checked, B's strips cover its blocks (`for_call`); the
    // borrows keep A and the packed B from aliasing C until the call returns.
    unsafe { drive(target, &p, || parallelism.workers()) };
    Ok(())
}

/// The problem of a call with a packed B, every argument checked (the
/// pointers stay valid while the borrows do).
pub(crate) fn packed_problem<F: Family<Extra = ()>, T: Packable>(
    target: &Target,
    alpha: F::Scalar,
    a: &MatRef<'_, F::A>,
    b: &PackedB<T>,
    beta: F::Scalar,
    c: &mut MatMut<'_, F::C>,
) -> Result<Problem<F>, GemmError> {
    target.check()?;
    let packed = b.for_call(target, (a.rows, a.cols), (c.rows, c.cols))?;
    a.check_bounds("a")?;
    c.check_output("c")?;
    let p: Problem<F> = Problem {
        m: a.rows,
        n: b.n,
        k: b.k,
        alpha,
        a: Operand {
            ptr: a.data.as_ptr(),
            rs: a.rs,
            cs: a.cs,
        },
        // Not read: the loops take B's strips from `packed`.
        b: Operand {
            ptr: std::ptr::null(),
            rs: 0,
            cs: 0,
        },
        beta,
        c: Operand {
            ptr: c.data.as_mut_ptr(),
            rs: c.rs,
            cs: c.cs,
        },
        extra: (),
        packed: Some(packed),
        epi: None,
    };
    Ok(p)
}
