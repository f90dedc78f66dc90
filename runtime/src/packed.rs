//! Pre-packed B: weights packed once, in the layout the micro-kernels read,
//! and multiplied by any number of A's, on any threads, without packing B
//! again. [`PackedB`] owns its memory; [`PackedB::pack_into`] packs into
//! memory the caller owns (a C library's packed-GEMM buffer), which
//! [`PackedBRef`] reads back, checked, from its bytes alone.

use crate::blocking::Blocking;
use crate::dispatch::Check;
use crate::dot::{Bf16, Bf16Wide};
use crate::driver::drive;
use crate::error::GemmError;
use crate::family::{Element, Family};
use crate::generated::{Shape, Target};
use crate::mat::{MatMut, MatRef};
use crate::parallel::Parallelism;
use crate::plan::balanced;
use crate::problem::{Operand, PackedRef, Problem};
use crate::scratch::Line;
use half::bf16;
use std::marker::PhantomData;

/// What [`Packable`] is, kept out of the public API: the family that packs
/// each element type (for bf16, one of two, as the target's tuning says), and
/// how a B of it is packed.
mod sealed {
    use super::{Form, Layout, pack_blocks};
    use crate::dot::{Bf16, Bf16Wide, COff, IntExtra, U8S8};
    use crate::family::Family;
    use crate::generated::Target;
    use crate::mat::MatRef;

    pub trait Sealed: Sized {
        type Family: Family<B = Self>;
        /// The element type's tag in a packed buffer's header (its family's
        /// form).
        const TAG: u32;
        /// A problem's data that leaves B as it is (int8: no offsets).
        fn no_extra() -> <Self::Family as Family>::Extra;
        /// The form a B of this type is packed in for `target` now.
        fn form(target: &Target) -> Form {
            Form::of::<Self::Family>(target, Self::TAG)
        }
        /// The form a packed buffer's `tag` names, where it is one of this
        /// type's.
        fn form_of(target: &Target, tag: u32) -> Option<Form> {
            (tag == Self::TAG).then(|| Self::form(target))
        }
        /// Packs `b` in `form` (see `pack_blocks`).
        ///
        /// # Safety
        /// As `pack_blocks`, with `dst` aligned for the form's elements.
        unsafe fn pack(target: &Target, _: &Form, b: MatRef<'_, Self>, l: &Layout, dst: *mut u8, sums: *mut i32) {
            unsafe { pack_blocks::<Self::Family>(target, b, l, dst.cast(), sums, Self::no_extra()) }
        }
    }
    impl Sealed for f32 {
        type Family = f32;
        const TAG: u32 = 1;
        fn no_extra() {}
    }
    impl Sealed for f64 {
        type Family = f64;
        const TAG: u32 = 2;
        fn no_extra() {}
    }
    /// bf16 in pairs ([`Bf16`], this tag), or widened to f32 ([`Bf16Wide`],
    /// [`BF16_WIDE_TAG`]) where the target's tuning widens a B packed ahead.
    impl Sealed for half::bf16 {
        type Family = Bf16;
        const TAG: u32 = 3;
        fn no_extra() {}
        fn form(target: &Target) -> Form {
            match Bf16Wide::chosen(target, true) {
                true => Form::of::<Bf16Wide>(target, BF16_WIDE_TAG),
                false => Form::of::<Bf16>(target, Self::TAG),
            }
        }
        fn form_of(target: &Target, tag: u32) -> Option<Form> {
            match tag {
                Self::TAG => Some(Form::of::<Bf16>(target, tag)),
                BF16_WIDE_TAG => Some(Form::of::<Bf16Wide>(target, tag)),
                _ => None,
            }
        }
        unsafe fn pack(t: &Target, form: &Form, b: MatRef<'_, Self>, l: &Layout, dst: *mut u8, sums: *mut i32) {
            match form.tag {
                BF16_WIDE_TAG => unsafe { pack_blocks::<Bf16Wide>(t, b, l, dst.cast(), sums, ()) },
                _ => unsafe { pack_blocks::<Bf16>(t, b, l, dst.cast(), sums, ()) },
            }
        }
    }
    impl Sealed for i8 {
        type Family = U8S8;
        const TAG: u32 = 4;
        fn no_extra() -> IntExtra {
            IntExtra {
                a_offset: 0,
                b_offset: 0,
                c_offset: COff::Fixed(0),
                exact: true,
            }
        }
    }

    /// The header tag of a bf16 B packed widened to f32.
    pub const BF16_WIDE_TAG: u32 = 5;
}

/// The element types a B can be packed ahead for: `f32` and `f64` (for
/// [`gemm_packed`]), `bf16` (for [`gemm_bf16_packed`]) and `i8` (for
/// [`crate::gemm_u8s8s32_packed`] and [`crate::gemm_s8s8s32_packed`], which
/// share its packing). Sealed: the crate's own types implement it.
///
/// ```
/// use gemmkit::{MatRef, Packable, PackedB};
/// fn pack_weights<T: Packable>(w: &[T], k: usize, n: usize) -> Result<PackedB<T>, gemmkit::GemmError> {
///     PackedB::new(MatRef::row_major(w, k, n))
/// }
/// assert_eq!(pack_weights(&[1i8, 2, 3, 4], 2, 2)?.n(), 2);
/// assert_eq!(pack_weights(&[1.0f64; 6], 3, 2)?.k(), 3);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
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
/// garbage. A bf16 B is packed in the form the target's tuning chose then
/// (in pairs, bf16's size, unless [`crate::Tuning::bf16_widen_packed`]
/// widens it to `f32`), which every call follows.
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
    /// The form it is packed in (`Form::tag`).
    tag: u32,
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
    ///
    /// ```
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
    /// let packed = gemmkit::PackedB::new(gemmkit::MatRef::row_major(&w, 2, 3))?;
    /// assert_eq!((packed.k(), packed.n()), (2, 3));
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn new(b: MatRef<'_, T>) -> Result<Self, GemmError> {
        Self::new_on(crate::active()?, b)
    }

    /// Packs `b` (any strides) for `target`.
    ///
    /// ```
    /// use gemmkit::{MatRef, PackedB};
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    /// let target = gemmkit::target("fallback")?;
    /// // B given transposed (3 x 2, row-major) and packed as the 2 x 3 it views.
    /// let packed = PackedB::new_on(target, MatRef::row_major(&w, 3, 2).t())?;
    /// assert_eq!((packed.k(), packed.n(), packed.target()), (2, 3, "fallback"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new_on(target: &Target, b: MatRef<'_, T>) -> Result<Self, GemmError> {
        target.check()?;
        b.check_bounds("b")?;
        let (k, n, form) = (b.rows, b.cols, T::form(target));
        let l = Layout::choose(target, &form, k, n)?;
        let mut data = vec![Line([0; 64]); (l.len * form.elem).div_ceil(64)];
        let mut sums = vec![0i32; l.sums];
        // SAFETY: `data` holds `l.len` packed elements (zeroed, 64-byte
        // aligned) and `sums` `l.sums` values.
        unsafe {
            T::pack(
                target,
                &form,
                b,
                &l,
                data.as_mut_ptr().cast(),
                if sums.is_empty() {
                    std::ptr::null_mut()
                } else {
                    sums.as_mut_ptr()
                },
            )
        };
        Ok(PackedB {
            target: target.name,
            tag: form.tag,
            k,
            n,
            kc: l.kc,
            block: l.block,
            data,
            sums,
            width: l.width,
            _elem: PhantomData,
        })
    }

    /// The bytes [`PackedB::pack_into`] needs for a `k x n` B packed for
    /// `target`: a header, room to align the packed data to 64 bytes
    /// wherever the buffer starts, and the data. (It follows the tuning in
    /// force: the blocks' depth, and for bf16 the form,
    /// [`crate::Tuning::bf16_widen_packed`].)
    ///
    /// ```
    /// let bytes = gemmkit::PackedB::<f32>::bytes_needed(gemmkit::best(), 512, 256)?;
    /// assert!(bytes >= 512 * 256 * 4);
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn bytes_needed(target: &Target, k: usize, n: usize) -> Result<usize, GemmError> {
        let form = T::form(target);
        Self::buffer_bytes(&form, &Layout::choose(target, &form, k, n)?, k, n)
    }

    /// The bytes of a buffer for `l` in `form`: header, alignment room and data.
    fn buffer_bytes(form: &Form, l: &Layout, k: usize, n: usize) -> Result<usize, GemmError> {
        l.bytes(form)
            .and_then(|b| b.checked_add(HEADER + 64 + 4))
            .ok_or(GemmError::ShapeOverflow {
                arg: "b",
                rows: k,
                cols: n,
            })
    }

    /// Packs `b` (any strides) for `target` into `dest`, memory the caller
    /// owns, which must hold [`PackedB::bytes_needed`] bytes and may start
    /// at any address. What it writes describes itself: a header (the
    /// target, the dimensions and blocks of k, where the data lies, relative
    /// to `dest`: no pointers) and then the data, 64-byte aligned. The bytes
    /// may be copied, or stored and loaded again, and read back with
    /// [`PackedBRef::from_bytes`]; a copy at another address modulo 64 is
    /// still read correctly, but its data is then not 64-byte aligned.
    ///
    /// ```
    /// use gemmkit::{MatMut, MatRef, PackedB, PackedBRef, Parallelism, gemm_packed_with};
    /// let target = gemmkit::best();
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3 weights
    /// let mut buf = vec![0u8; PackedB::<f32>::bytes_needed(target, 2, 3)?];
    /// PackedB::pack_into(target, MatRef::row_major(&w, 2, 3), &mut buf)?;
    /// let copy = buf.clone(); // the bytes are all there is to it
    /// let packed = PackedBRef::<f32>::from_bytes(&copy)?;
    /// let x = [1.0f32, 1.0];
    /// let mut y = [0.0f32; 3];
    /// let (a, c) = (MatRef::row_major(&x, 1, 2), MatMut::row_major(&mut y, 1, 3));
    /// gemm_packed_with(target, &Parallelism::Sequential, 1.0, a, packed, 0.0, c)?;
    /// assert_eq!(y, [5.0, 7.0, 9.0]);
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn pack_into<'d>(
        target: &Target,
        b: MatRef<'_, T>,
        dest: &'d mut [u8],
    ) -> Result<PackedBRef<'d, T>, GemmError> {
        target.check()?;
        b.check_bounds("b")?;
        let (k, n) = (b.rows, b.cols);
        // The form and layout read the tuning once: what is checked is what is packed.
        let form = T::form(target);
        let l = Layout::choose(target, &form, k, n)?;
        let need = Self::buffer_bytes(&form, &l, k, n)?;
        if dest.len() < need {
            return Err(GemmError::LengthMismatch {
                arg: "dest",
                expected: need,
                found: dest.len(),
            });
        }
        let base = dest.as_ptr() as usize;
        // Offsets from `dest`: the data 64-byte aligned at this address, the
        // sums after it aligned for `i32`; all within `need` (checked above).
        let data_off = HEADER + (64 - (base + HEADER) % 64) % 64;
        let data_end = data_off + l.len * form.elem;
        let sums_off = data_end + (4 - (base + data_end) % 4) % 4;
        let total = sums_off + l.sums * 4;
        dest[..total].fill(0);
        // SAFETY: `dest` holds `total` bytes; the data region starts aligned
        // for the packed elements (64 bytes) and the sums' for `i32`.
        unsafe {
            let p = dest.as_mut_ptr();
            T::pack(
                target,
                &form,
                b,
                &l,
                p.add(data_off),
                if l.sums == 0 {
                    std::ptr::null_mut()
                } else {
                    p.add(sums_off).cast()
                },
            )
        };
        let name = target.name.as_bytes();
        debug_assert!(name.len() <= NAME);
        let head = &mut dest[..HEADER];
        head[..8].copy_from_slice(&MAGIC);
        head[8..12].copy_from_slice(&VERSION.to_le_bytes());
        head[12..16].copy_from_slice(&form.tag.to_le_bytes());
        head[16..16 + name.len().min(NAME)].copy_from_slice(&name[..name.len().min(NAME)]);
        for (i, v) in [k, n, l.kc, l.block, l.width, data_off, sums_off, total]
            .into_iter()
            .enumerate()
        {
            head[48 + 8 * i..56 + 8 * i].copy_from_slice(&(v as u64).to_le_bytes());
        }
        PackedBRef::from_bytes(dest)
    }

    /// A borrowed view of it, as [`PackedBRef`] gives one of packed bytes
    /// (what [`gemm_packed`] and the others take; `&PackedB` converts too).
    ///
    /// ```
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
    /// let packed = gemmkit::PackedB::new(gemmkit::MatRef::row_major(&w, 2, 3))?;
    /// let r = packed.as_packed_ref();
    /// assert_eq!((r.k(), r.n(), r.target()), (packed.k(), packed.n(), packed.target()));
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn as_packed_ref(&self) -> PackedBRef<'_, T> {
        PackedBRef {
            target: self.target,
            tag: self.tag,
            k: self.k,
            n: self.n,
            kc: self.kc,
            block: self.block,
            width: self.width,
            data: self.data.as_ptr().cast(),
            sums: self.sums.as_ptr(),
            _borrow: PhantomData,
        }
    }

    /// The rows of B (the depth `k` of a product).
    ///
    /// ```
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
    /// let packed = gemmkit::PackedB::new(gemmkit::MatRef::row_major(&w, 2, 3))?;
    /// assert_eq!(packed.k(), 2);
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn k(&self) -> usize {
        self.k
    }

    /// The columns of B (and of C).
    ///
    /// ```
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
    /// let packed = gemmkit::PackedB::new(gemmkit::MatRef::row_major(&w, 2, 3))?;
    /// assert_eq!(packed.n(), 3);
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn n(&self) -> usize {
        self.n
    }

    /// The name of the target it was packed for.
    ///
    /// ```
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
    /// let packed = gemmkit::PackedB::new(gemmkit::MatRef::row_major(&w, 2, 3))?;
    /// assert_eq!(packed.target(), gemmkit::active()?.name);
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn target(&self) -> &'static str {
        self.target
    }

    /// The depth of the blocks of k it was packed in (the last may be
    /// shallower): every call with it uses these blocks.
    ///
    /// ```
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
    /// let packed = gemmkit::PackedB::new(gemmkit::MatRef::row_major(&w, 2, 3))?;
    /// assert!(packed.kc() >= 1);
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn kc(&self) -> usize {
        self.kc
    }
}

impl<'a, T: Packable> From<&'a PackedB<T>> for PackedBRef<'a, T> {
    fn from(b: &'a PackedB<T>) -> Self {
        b.as_packed_ref()
    }
}

/// How a B is packed: what the layout needs of the family that packs it
/// (its tile's columns, packed element, depth and sums), and the tag that
/// names it in a packed buffer's header.
#[derive(Clone, Copy, Debug)]
pub struct Form {
    tag: u32,
    shape: Shape,
    /// Bytes of a packed element.
    elem: usize,
    /// The family's [`Family::packed_depth`].
    packed_depth: fn(usize) -> usize,
    sums: bool,
}

impl Form {
    /// Family `F`'s form on `target`, named `tag`.
    fn of<F: Family>(target: &Target, tag: u32) -> Form {
        Form {
            tag,
            shape: F::shape(target),
            elem: size_of::<F::PackedB>(),
            packed_depth: F::packed_depth,
            sums: F::SUMS,
        }
    }
}

/// The header of a packed buffer ([`PackedB::pack_into`]): `MAGIC`,
/// `VERSION` (u32), the form's tag (u32: the element type, and for bf16
/// whether it is widened), the target's name (`NAME` bytes, zero-padded),
/// then as u64: k, n, kc, block, width, the data's and the sums' offsets and
/// the bytes used, all little-endian; zeros to `HEADER`.
const HEADER: usize = 128;
const MAGIC: [u8; 8] = *b"gemmkitB";
const VERSION: u32 = 1;
const NAME: usize = 32;

/// Where a packed B's blocks of k lie, chosen when it is packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The depth of each block of k but the last.
    kc: usize,
    /// Packed elements from one block of k to the next.
    block: usize,
    /// The columns of every strip, `n` rounded up to whole strips.
    width: usize,
    /// Packed elements in all.
    len: usize,
    /// Column sums (`i32`), where the family has them.
    sums: usize,
}

impl Layout {
    /// The layout the loops of `target` would choose for a `k x n` B (the
    /// depth of `plan::rest`).
    fn choose(target: &Target, form: &Form, k: usize, n: usize) -> Result<Self, GemmError> {
        let share = crate::tuning(target).l2_percent_for_b;
        let kc = balanced(k, Blocking::for_shape(form.shape, form.elem, n, share, 0).kc, 1);
        Self::with_kc(form, k, n, kc).ok_or(GemmError::ShapeOverflow {
            arg: "b",
            rows: k,
            cols: n,
        })
    }

    /// The layout of a `k x n` B in blocks of `kc` (at least 1) in `form`;
    /// `None` where it does not fit in `usize` bytes.
    fn with_kc(form: &Form, k: usize, n: usize, kc: usize) -> Option<Self> {
        let nr = form.shape.nr;
        let depth = form.packed_depth;
        let width = n.div_ceil(nr).checked_mul(nr)?;
        let block = depth(kc).checked_mul(width)?;
        let blocks = k.div_ceil(kc);
        let len = match blocks {
            0 => 0,
            _ => (blocks - 1)
                .checked_mul(block)?
                .checked_add(depth(k - (blocks - 1) * kc).checked_mul(width)?)?,
        };
        let sums = if form.sums { blocks.checked_mul(width)? } else { 0 };
        let l = Layout {
            kc,
            block,
            width,
            len,
            sums,
        };
        l.bytes(form).map(|_| l)
    }

    /// The bytes of its data and sums in `form`.
    fn bytes(&self, form: &Form) -> Option<usize> {
        self.len.checked_mul(form.elem)?.checked_add(self.sums.checked_mul(4)?)
    }
}

/// Packs `b` for `target` in layout `l`, as family `F` packs it (`extra`: a
/// problem's data that leaves B as it is).
///
/// # Safety
/// `dst` is writable for `l.len` packed elements, aligned for them and
/// zeroed; `sums` writable for `l.sums` values (null where there are none).
unsafe fn pack_blocks<F: Family>(
    target: &Target,
    b: MatRef<'_, F::B>,
    l: &Layout,
    dst: *mut F::PackedB,
    sums: *mut i32,
    extra: F::Extra,
) {
    let (k, n) = (b.rows, b.cols);
    let shape = F::shape(target);
    let depth = F::packed_depth;
    let p: Problem<F> = Problem {
        m: 0,
        n,
        k,
        alpha: F::ONE,
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
        beta: F::ZERO,
        c: Operand {
            ptr: std::ptr::null_mut(),
            rs: 0,
            cs: 0,
        },
        extra,
        packed: None,
        epi: None,
    };
    let kern = F::kernels(target);
    for bi in 0..k.div_ceil(l.kc) {
        let (pc, rows) = (bi * l.kc, l.kc.min(k - bi * l.kc));
        // SAFETY: B's view is in bounds; block `bi` of the buffer holds
        // `depth(rows)` packed rows of every strip, `width` columns.
        unsafe {
            F::pack_b(
                &kern,
                &p,
                rows,
                n,
                p.b.at(pc, 0),
                (pc, 0),
                dst.add(bi * l.block),
                depth(rows) * shape.nr,
                if sums.is_null() {
                    std::ptr::null_mut()
                } else {
                    sums.add(bi * l.width)
                },
            )
        };
    }
}

/// A packed B borrowed for calls: of a [`PackedB`] ([`PackedB::as_packed_ref`],
/// or `&PackedB` converted), or read back from bytes that
/// [`PackedB::pack_into`] wrote ([`PackedBRef::from_bytes`]), in memory the
/// caller owns. [`gemm_packed`] and the others take either, and refuse it on
/// another target than the one it was packed for.
///
/// ```
/// use gemmkit::{MatMut, MatRef, PackedB, PackedBRef, gemm_packed};
/// let w = [1.0f32, 2.0, 3.0, 4.0]; // 2 x 2
/// let owned = PackedB::new(MatRef::row_major(&w, 2, 2))?;
/// let packed: PackedBRef<'_, f32> = owned.as_packed_ref(); // Copy: share it freely
/// let x = [1.0f32, 1.0];
/// let mut y = [0.0f32; 2];
/// gemm_packed(1.0, MatRef::row_major(&x, 1, 2), packed, 0.0, MatMut::row_major(&mut y, 1, 2))?;
/// assert_eq!(y, [4.0, 6.0]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[derive(Clone, Copy)]
pub struct PackedBRef<'a, T: Packable> {
    target: &'static str,
    /// The form it is packed in (`Form::tag`).
    tag: u32,
    k: usize,
    n: usize,
    kc: usize,
    block: usize,
    width: usize,
    data: *const u8,
    sums: *const i32,
    _borrow: PhantomData<&'a [T]>,
}

// SAFETY: a shared view of memory it borrows and only reads, as `&[T]` is.
unsafe impl<T: Packable> Send for PackedBRef<'_, T> {}
// SAFETY: as `Send`.
unsafe impl<T: Packable> Sync for PackedBRef<'_, T> {}

impl<T: Packable> std::fmt::Debug for PackedBRef<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedBRef")
            .field("target", &self.target)
            .field("k", &self.k)
            .field("n", &self.n)
            .field("kc", &self.kc)
            .finish()
    }
}

impl<'a, T: Packable> PackedBRef<'a, T> {
    /// Reads back a packed B from bytes [`PackedB::pack_into`] wrote (or
    /// a copy of them at an address aligned for `T`), checking that they are
    /// one for `T`, for a target compiled into this build, with blocks that
    /// match its dimensions and data within `bytes`
    /// ([`GemmError::InvalidPackedBuffer`] otherwise). The target is checked
    /// by each call that uses it.
    ///
    /// ```
    /// use gemmkit::{MatRef, PackedB, PackedBRef};
    /// let w = [1.0f64, 2.0, 3.0, 4.0];
    /// let mut buf = vec![0u8; PackedB::<f64>::bytes_needed(gemmkit::best(), 2, 2)?];
    /// PackedB::pack_into(gemmkit::best(), MatRef::row_major(&w, 2, 2), &mut buf)?;
    /// let packed = PackedBRef::<f64>::from_bytes(&buf)?;
    /// assert_eq!((packed.k(), packed.n()), (2, 2));
    /// assert!(PackedBRef::<f64>::from_bytes(&buf[..16]).is_err()); // checked, never trusted
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, GemmError> {
        let bad = |reason| Err(GemmError::InvalidPackedBuffer { reason });
        if bytes.len() < HEADER {
            return bad("shorter than its header");
        }
        if bytes[..8] != MAGIC {
            return bad("no packed B header");
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
        if u32_at(8) != VERSION {
            return bad("made by another version of gemmkit");
        }
        let name = &bytes[16..16 + NAME];
        let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(NAME)];
        let Some(target) = crate::compiled().iter().find(|t| t.name.as_bytes() == name) else {
            return bad("packed for a target this build does not have");
        };
        let Some(form) = T::form_of(target, u32_at(12)) else {
            return bad("packed for another element type");
        };
        let mut v = [0usize; 8];
        for (i, v) in v.iter_mut().enumerate() {
            let at = 48 + 8 * i;
            let Ok(x) = usize::try_from(u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]))) else {
                return bad("a size past usize");
            };
            *v = x;
        }
        let [k, n, kc, block, width, data_off, sums_off, total] = v;
        if kc == 0 || kc > k.max(1) {
            return bad("blocks of k that do not fit its depth");
        }
        let Some(l) = Layout::with_kc(&form, k, n, kc) else {
            return bad("dimensions past usize");
        };
        if (block, width) != (l.block, l.width) {
            return bad("blocks that do not match its dimensions");
        }
        let data_end = data_off.checked_add(l.len * form.elem);
        let sums_end = sums_off.checked_add(l.sums * 4);
        // As `pack_into` lays them out: the sums right after the data (at
        // most 3 bytes of padding between), ending the bytes used.
        match (data_end, sums_end) {
            (Some(d), Some(s)) if data_off >= HEADER && d <= sums_off && sums_off - d < 4 && s == total => {}
            _ => return bad("data that does not match its dimensions"),
        }
        if total > bytes.len() {
            return bad("shorter than the bytes it records");
        }
        let base = bytes.as_ptr();
        // SAFETY: both offsets are within `bytes` (checked above).
        let (data, sums) = unsafe { (base.add(data_off), base.add(sums_off).cast::<i32>()) };
        // (Each packed element's alignment is its size.)
        if !(data as usize).is_multiple_of(form.elem) || (l.sums > 0 && !sums.is_aligned()) {
            return bad("at an address not aligned for its elements");
        }
        Ok(PackedBRef {
            target: target.name,
            tag: form.tag,
            k,
            n,
            kc,
            block,
            width,
            data,
            sums: if l.sums > 0 { sums } else { std::ptr::null() },
            _borrow: PhantomData,
        })
    }

    /// The rows of B (the depth `k` of a product).
    ///
    /// ```
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
    /// let owned = gemmkit::PackedB::new(gemmkit::MatRef::row_major(&w, 2, 3))?;
    /// let packed = owned.as_packed_ref();
    /// assert_eq!(packed.k(), 2);
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn k(&self) -> usize {
        self.k
    }

    /// The columns of B (and of C).
    ///
    /// ```
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
    /// let owned = gemmkit::PackedB::new(gemmkit::MatRef::row_major(&w, 2, 3))?;
    /// let packed = owned.as_packed_ref();
    /// assert_eq!(packed.n(), 3);
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn n(&self) -> usize {
        self.n
    }

    /// The name of the target it was packed for.
    ///
    /// ```
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
    /// let owned = gemmkit::PackedB::new(gemmkit::MatRef::row_major(&w, 2, 3))?;
    /// let packed = owned.as_packed_ref();
    /// assert_eq!(packed.target(), owned.target());
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn target(&self) -> &'static str {
        self.target
    }

    /// The depth of the blocks of k it was packed in.
    ///
    /// ```
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
    /// let owned = gemmkit::PackedB::new(gemmkit::MatRef::row_major(&w, 2, 3))?;
    /// let packed = owned.as_packed_ref();
    /// assert_eq!(packed.kc(), owned.kc());
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
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
            data: self.data.cast::<P>(),
            kc: self.kc,
            block: self.block,
            sums: self.sums,
            width: self.width,
        })
    }
}

impl PackedBRef<'_, bf16> {
    /// Whether it is packed widened to f32 (for [`Bf16Wide`]) rather than in
    /// pairs (for [`Bf16`]).
    pub(crate) fn wide(&self) -> bool {
        self.tag == sealed::BF16_WIDE_TAG
    }
}

impl<T: Element + Packable> PackedBRef<'_, T> {
    /// Writes the `k x n` B it holds into `out` (any strides), as it was
    /// given to the packer: for a caller that holds two packed operands and
    /// multiplies them, one of them unpacked (the product reads one operand
    /// unpacked). `f32` and `f64`.
    ///
    /// ```
    /// use gemmkit::{MatMut, MatRef, PackedB};
    /// let b = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    /// let packed = PackedB::new(MatRef::row_major(&b, 3, 2))?;
    /// let mut back = [0.0f32; 6];
    /// packed.as_packed_ref().unpack(MatMut::col_major(&mut back, 3, 2))?;
    /// assert_eq!(back, [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    /// # Ok::<(), gemmkit::GemmError>(())
    /// ```
    pub fn unpack(&self, out: MatMut<'_, T>) -> Result<(), GemmError> {
        for (dim, expected, found) in [("rows", self.k, out.rows), ("cols", self.n, out.cols)] {
            if found != expected {
                return Err(GemmError::DimensionMismatch {
                    arg: "out",
                    dim,
                    expected,
                    found,
                    because: format!("the packed B ({} x {})", self.k, self.n),
                });
            }
        }
        out.check_output("out")?;
        let Some(target) = crate::compiled().iter().find(|t| t.name == self.target) else {
            return Err(GemmError::InvalidPackedBuffer {
                reason: "packed for a target this build does not have",
            });
        };
        // A float family packs each element as itself, one row of k at a time.
        debug_assert!(
            <T::Family as Family>::DEPTH == 1 && size_of::<<T::Family as Family>::PackedB>() == size_of::<T>()
        );
        let nr = T::Family::shape(target).nr;
        let data = self.data.cast::<T>();
        let (out_ptr, rs, cs) = (out.data.as_mut_ptr(), out.rs, out.cs);
        for p in 0..self.k {
            let (bi, row) = (p / self.kc, p % self.kc);
            // Strips of this block hold `rows` packed rows of `nr` elements.
            let rows = self.kc.min(self.k - bi * self.kc);
            let at = bi * self.block + row * nr;
            for j in 0..self.n {
                // SAFETY: element (p, j) lies in block `bi`, strip `j / nr`,
                // within the data (`from_bytes` or `PackedB` made the
                // layout); `out` was checked to hold (p, j).
                unsafe { *out_ptr.add(p * rs + j * cs) = *data.add(at + (j / nr) * rows * nr + j % nr) };
            }
        }
        Ok(())
    }
}

/// `C = alpha * A * B + beta * C` with B packed ahead (a `&`[`PackedB`], or
/// a [`PackedBRef`] of one or of packed bytes), on the active target, which
/// must be the one B was packed for. BLAS rules as for
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
pub fn gemm_packed<'b, T: Element + Packable>(
    alpha: T,
    a: MatRef<'_, T>,
    b: impl Into<PackedBRef<'b, T>>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    gemm_packed_with(crate::active()?, &Parallelism::Rayon, alpha, a, b, beta, c)
}

/// [`gemm_packed`] on an explicit target with explicit threading.
///
/// ```
/// use gemmkit::{MatMut, MatRef, Parallelism, PackedB, gemm_packed_with};
/// let target = gemmkit::best();
/// let w = [1.0f64, 0.0, 0.0, 1.0]; // I
/// let packed = PackedB::new_on(target, MatRef::row_major(&w, 2, 2))?;
/// let x = [3.0f64, 4.0];
/// let mut y = [0.0f64; 2];
/// gemm_packed_with(target, &Parallelism::Sequential, 2.0, MatRef::row_major(&x, 1, 2), &packed, 0.0, MatMut::row_major(&mut y, 1, 2))?;
/// assert_eq!(y, [6.0, 8.0]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_packed_with<'b, T: Element + Packable>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: T,
    a: MatRef<'_, T>,
    b: impl Into<PackedBRef<'b, T>>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    packed_call::<T, T>(target, parallelism, alpha, a, b.into(), beta, c)
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
pub fn gemm_bf16_packed<'b>(
    alpha: f32,
    a: MatRef<'_, bf16>,
    b: impl Into<PackedBRef<'b, bf16>>,
    beta: f32,
    c: MatMut<'_, f32>,
) -> Result<(), GemmError> {
    gemm_bf16_packed_with(crate::active()?, &Parallelism::Rayon, alpha, a, b, beta, c)
}

/// [`gemm_bf16_packed`] on an explicit target with explicit threading.
///
/// ```
/// use gemmkit::{MatMut, MatRef, Parallelism, PackedB, gemm_bf16_packed_with};
/// use half::bf16;
/// let target = gemmkit::best();
/// let w = [2.0f32, -1.0].map(bf16::from_f32); // 2 x 1
/// let packed = PackedB::new_on(target, MatRef::row_major(&w, 2, 1))?;
/// let x = [1.5f32, 0.5].map(bf16::from_f32); // 1 x 2
/// let mut y = [0.0f32];
/// gemm_bf16_packed_with(target, &Parallelism::Sequential, 1.0, MatRef::row_major(&x, 1, 2), &packed, 0.0, MatMut::row_major(&mut y, 1, 1))?;
/// assert_eq!(y, [2.5]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn gemm_bf16_packed_with<'b>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: f32,
    a: MatRef<'_, bf16>,
    b: impl Into<PackedBRef<'b, bf16>>,
    beta: f32,
    c: MatMut<'_, f32>,
) -> Result<(), GemmError> {
    let b = b.into();
    if b.wide() {
        packed_call::<Bf16Wide, bf16>(target, parallelism, alpha, a, b, beta, c)
    } else {
        packed_call::<Bf16, bf16>(target, parallelism, alpha, a, b, beta, c)
    }
}

/// One call with a packed B, checked.
/// `F` is `T`'s family (the caller names both, which the type system cannot
/// relate for a generic `T`).
fn packed_call<F: Family<Extra = ()>, T: Packable>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: F::Scalar,
    a: MatRef<'_, F::A>,
    b: PackedBRef<'_, T>,
    beta: F::Scalar,
    mut c: MatMut<'_, F::C>,
) -> Result<(), GemmError> {
    let p = packed_problem::<F, T>(target, alpha, &a, &b, beta, &mut c)?;
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
    b: &PackedBRef<'_, T>,
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
