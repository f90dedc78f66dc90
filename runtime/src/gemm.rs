//! GEMM: `C = alpha * A * B + beta * C` for f32 and f64.
//!
//! The BLIS structure (Van Zee and van de Geijn): five loops around a register
//! micro-kernel. Only packing, the micro-kernel and the output step are generated
//! per target; the loops, edge handling and the API below are plain Rust, written
//! once, and fetch the target's table once per call.
//!
//! The micro-kernel broadcasts A (MR rows) and loads B as vectors (NR columns),
//! so, mapped onto BLIS's analysis, A plays BLIS's B: its micro-panel stays in L1
//! and its block in L3, while B's block stays in L2 and its micro-panels stream:
//!
//! ```text
//! for ic in 0..m step MC            A block  MC x KC (L3): row-major A is read in
//!   for pc in 0..k step KC          place, a transposed one packed in MR-row panels
//!                                   (columns of MR contiguous)
//!     pack A[ic.., pc..]            (beta applies on the first K block only)
//!     for jc in 0..n step NC        B block  KC x NC, packed in NR-wide strips (L2,
//!                                   or L3 where 16 strips overflow the L2)
//!       pack B[pc.., jc..]
//!       for ir in 0..MC step MR     A micro-panel MR x KC (L1)
//!         for jr in 0..NC step NR   micro-kernel: MR x NR tile of C in registers
//! ```
//!
//! Interior tiles are stored straight into C; edge tiles (and C with no unit
//! stride) go through a packed tile and the output kernel. A last strip of B of
//! one, two or three vectors takes the micro-kernel instance that computes only
//! those vectors (with AVX-512 f32's 64-column strips, 160 columns are not
//! computed as 192), and a last panel of A of at most `MR / 2` rows the short
//! one, which computes only those rows; each has an instance for A in place and
//! one for a packed panel. Where A is read in place and the last strip is at most
//! half a vector (the 1 column of 257), its columns skip the loops: dot products
//! along the whole of k compute only those columns, after the loops
//! (`dot_edge`; 257^3 f32 went from 0.95-1.00 of the best peer to 1.03-1.08,
//! 2048x4x2048 from 0.97-1.14 of OpenBLAS to 2.3-2.4). Where all of B fits in
//! half the L2, B is not packed in a pass of its own: the first tile of each
//! whole strip reads the strip in place and packs it as it goes
//! (`microkernel_pack_b`, see `packs_b_in_first_tiles`); elsewhere, for a
//! row-major B, the micro-kernels fetch B's next block into L2 as they compute
//! this one, a line a step of k, so that its packing pass does not wait on
//! memory (32x4096x4096 f32 1.05-1.13x on one thread). Problems with
//! every dimension up to [`SMALL`] skip packing (`gemm_small`). Blocks are
//! balanced: no dimension ends in a sliver.
//!
//! Threads (rayon): each `(pc, jc)` block is one fork-join. B's block is one
//! lane per thread, each as wide as a single thread's block; each worker packs
//! its lane's strips and multiplies them by every A panel, claiming items in
//! shrinking runs from its lane's counter first and then from the others' (see
//! `par_phases`). Each tile of C is computed by one thread with the same
//! operations as on one thread, so results are bit-identical for any thread
//! count. Small problems from 80^3 split their rows between threads in blocks
//! of the small kernel's height (`small_par`); the blocked path shares blocks
//! from 160^3.

use crate::blocking::{Blocking, CacheSizes};
use crate::error::GemmError;
use crate::generated::{Shape, Target};
use crate::mat::{MatMut, MatRef};
use crate::scratch::with_scratch;
use std::ops::{Add, Mul};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The element types GEMM supports: `f32` and `f64`.
pub trait Element:
    Copy + PartialEq + Add<Output = Self> + Mul<Output = Self> + Send + Sync + 'static + sealed::Sealed
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// The target's kernels for this element type.
    #[doc(hidden)]
    fn kernels(t: &Target) -> ElemKernels<Self>;
    /// The target's micro-kernel tile for this element type.
    #[doc(hidden)]
    fn shape(t: &Target) -> Shape;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The generated kernels GEMM needs, for one element type.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct ElemKernels<T> {
    pub pack_lhs: unsafe fn(usize, usize, *const T, usize, usize, *mut T, usize),
    pub pack_rhs: unsafe fn(usize, usize, *const T, usize, usize, *mut T, usize),
    /// The micro-kernel instances for A read in place (strides given).
    pub in_place: Micro<T>,
    /// The same for a packed panel of A (strides fixed, arguments ignored).
    pub packed: Micro<T>,
    pub apply: unsafe fn(usize, usize, T, *const T, usize, T, *mut T, usize),
    /// The small kernel's instances with the rows each computes (its `ROWS`),
    /// tallest first, down to one row (see `small`).
    pub small: [(usize, SmallFn<T>); 4],
    /// The same for a column-major A (`rs_a == 1`, the argument ignored; the
    /// one-row block has no row stride and is `small`'s).
    pub small_t: [(usize, SmallFn<T>); 4],
    /// The dot-product edge kernel's instances for 1 to 4 columns (see
    /// `dot_edge`).
    pub dot: [DotFn<T>; 4],
    /// The rows of A each of them takes (their `ROWS`, the same for all four).
    pub dot_rows: usize,
}

/// One set of micro-kernel instances: the whole tile, its first vector of
/// columns, its first two and three vectors (the whole tile where it has no
/// more), its first `MR / 2` rows, and the whole tile packing B as it reads it;
/// with what the edge instances cover (their `VECS` and `ROWS`, from the
/// dispatch table).
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Micro<T> {
    pub full: MicroFn<T>,
    pub narrow: MicroFn<T>,
    pub two: MicroFn<T>,
    pub three: MicroFn<T>,
    pub short: MicroFn<T>,
    /// The whole tile, reading B in place while it packs it
    /// (`microkernel_pack_b`, see `five_loops`).
    pub pack_b: MicroFn<T>,
    /// The vectors of columns `narrow`, `two` and `three` compute.
    pub vecs: [usize; 3],
    /// The rows `short` computes.
    pub short_rows: usize,
}

impl<T> Micro<T> {
    /// The instance for an `h x w` edge tile (computed into the packed tile): a
    /// strip of one, two or three vectors computes only those vectors, a panel of
    /// at most half the rows (and a strip wider than one vector) only those rows.
    fn for_edge(&self, h: usize, w: usize, vector_width: usize) -> MicroFn<T> {
        let vectors = w.div_ceil(vector_width);
        let [narrow, two, three] = self.vecs;
        if vectors <= narrow {
            self.narrow
        } else if h <= self.short_rows {
            self.short
        } else if vectors <= two {
            self.two
        } else if vectors <= three {
            self.three
        } else {
            self.full
        }
    }
}

/// `micro(k, alpha, a, rs_a, cs_a, b, beta, c, ldc)`.
#[doc(hidden)]
pub type MicroFn<T> = unsafe fn(usize, T, *const T, usize, usize, *const T, usize, *mut T, T, *mut T, usize);

/// `gemm_small(skip, n, k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, rs_c)`: one
/// block of rows, the first `skip` not stored.
#[doc(hidden)]
pub type SmallFn<T> = unsafe fn(usize, usize, usize, T, *const T, usize, usize, *const T, usize, T, *mut T, usize);

/// `dot_edge(k, a, lda, bt, ldbt, out)`: rows of A by columns of B, lane by lane.
#[doc(hidden)]
pub type DotFn<T> = unsafe fn(usize, *const T, usize, *const T, usize, *mut T);

/// One `Micro` set from its instances' names: the function pointers from the
/// table's kernels `k`, what the edge instances cover from its constants `c`.
macro_rules! micro {
    ($k:ident, $c:ident, $full:ident, $narrow:ident, $two:ident, $three:ident, $short:ident, $pack_b:ident) => {
        Micro {
            full: $k.$full,
            narrow: $k.$narrow,
            two: $k.$two,
            three: $k.$three,
            short: $k.$short,
            pack_b: $k.$pack_b,
            vecs: [$c.$narrow.vecs, $c.$two.vecs, $c.$three.vecs],
            short_rows: $c.$short.rows,
        }
    };
}

/// `Element` for one type, from the names of its generated kernels (in the
/// order of the `ElemKernels` fields; instance sets in brackets).
macro_rules! element {
    ($t:ty, $pl:ident, $pr:ident, [$mk:ident, $mn:ident, $m2:ident, $m3:ident, $ms:ident, $mb:ident],
     [$pk:ident, $pn:ident, $p2:ident, $p3:ident, $ps:ident, $pb:ident], $ap:ident,
     [$($sm:ident),*], [$($st:ident),*], [$dt0:ident $(, $dt:ident)*], $shape:ident) => {
        impl Element for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn kernels(t: &Target) -> ElemKernels<Self> {
                let (k, c) = (&t.kernels, &t.consts);
                ElemKernels {
                    pack_lhs: k.$pl,
                    pack_rhs: k.$pr,
                    in_place: micro!(k, c, $mk, $mn, $m2, $m3, $ms, $mb),
                    packed: micro!(k, c, $pk, $pn, $p2, $p3, $ps, $pb),
                    apply: k.$ap,
                    small: [$((c.$sm.rows, k.$sm)),*],
                    small_t: [$((c.$st.rows, k.$st)),*],
                    dot: [k.$dt0 $(, k.$dt)*],
                    dot_rows: c.$dt0.rows,
                }
            }
            fn shape(t: &Target) -> Shape {
                t.shapes.$shape
            }
        }
    };
}
element!(
    f32,
    pack_lhs_f32,
    pack_rhs_f32,
    [
        microkernel_f32,
        microkernel_narrow_f32,
        microkernel_two_f32,
        microkernel_three_f32,
        microkernel_short_f32,
        microkernel_pack_b_f32
    ],
    [
        microkernel_packed_f32,
        microkernel_narrow_packed_f32,
        microkernel_two_packed_f32,
        microkernel_three_packed_f32,
        microkernel_short_packed_f32,
        microkernel_pack_b_packed_f32
    ],
    apply_packed_output_f32,
    [
        gemm_small_f32,
        gemm_small_mid_f32,
        gemm_small_low_f32,
        gemm_small_row_f32
    ],
    [
        gemm_small_t_f32,
        gemm_small_mid_t_f32,
        gemm_small_low_t_f32,
        gemm_small_row_f32
    ],
    [dot_edge_1_f32, dot_edge_2_f32, dot_edge_3_f32, dot_edge_4_f32],
    f32
);

element!(
    f64,
    pack_lhs_f64,
    pack_rhs_f64,
    [
        microkernel_f64,
        microkernel_narrow_f64,
        microkernel_two_f64,
        microkernel_three_f64,
        microkernel_short_f64,
        microkernel_pack_b_f64
    ],
    [
        microkernel_packed_f64,
        microkernel_narrow_packed_f64,
        microkernel_two_packed_f64,
        microkernel_three_packed_f64,
        microkernel_short_packed_f64,
        microkernel_pack_b_packed_f64
    ],
    apply_packed_output_f64,
    [
        gemm_small_f64,
        gemm_small_mid_f64,
        gemm_small_low_f64,
        gemm_small_row_f64
    ],
    [
        gemm_small_t_f64,
        gemm_small_mid_t_f64,
        gemm_small_low_t_f64,
        gemm_small_row_f64
    ],
    [dot_edge_1_f64, dot_edge_2_f64, dot_edge_3_f64, dot_edge_4_f64],
    f64
);

/// Problems with every dimension at most this take the no-packing path (where
/// B and C have unit column stride): up to here packing costs more than it
/// saves. Chosen by measurement
/// (gemm-bench, alternating runs, paired ratio to faer or OpenBLAS, AVX-512 on
/// a Zen 4 core with 1 MiB of L2): one thread, f32 144^3-256^3 0.95-0.99 blocked
/// against 0.99-1.03 small (256^3 0.95-0.98 against 0.99-1.01), 256x256x32,
/// 32x256x256, 256x32x256 0.94-1.00 against 1.03-1.10, A transposed 160^3-256^3
/// 0.88-0.94 against 0.99-1.03; f64 144^3-256^3 even to 1.04 (255^3 0.96-0.97
/// against 0.98-1.00), 256x256x64 and 64x256x256 0.94-0.98 against 0.98-1.05;
/// two threads (`small_par`), f32 192^3-256^3 1.10x-1.72x against 1.78x-1.94x.
/// 257^3 loses 4% on the small path. An earlier Intel machine (2 MiB L2) had
/// the crossover at 128. Overridable for tuning through `GEMMKIT_SMALL`.
pub const SMALL: usize = 256;

/// Whether every dimension of `p` is within the small path's limit.
#[inline(always)]
fn is_small<T>(p: &Problem<T>) -> bool {
    let limit = small_limit();
    p.m <= limit && p.n <= limit && p.k <= limit
}

#[inline]
fn small_limit() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("GEMMKIT_SMALL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(SMALL)
    })
}

/// How a GEMM call may use threads. rayon is the engine; there is no pool of
/// our own.
///
/// The calling thread always computes, beside up to `threads - 1` of the
/// pool's. Called from a thread outside the pool, that leaves one of the
/// pool's threads with no part, and rayon wakes it whenever another finds
/// work, where it can take a core from the caller. For the best speedup, call
/// from one of the pool's threads: from a rayon task, or from the thread that
/// built the pool with `ThreadPoolBuilder::use_current_thread()`:
///
/// ```
/// use gemmkit::Parallelism;
/// // Two threads, this one among them; this thread alone where no thread can
/// // be started (wasm32-wasip1, for one).
/// let par = match rayon::ThreadPoolBuilder::new().num_threads(2).use_current_thread().build() {
///     Ok(pool) => Parallelism::Pool(std::sync::Arc::new(pool)),
///     Err(_) => Parallelism::Sequential,
/// };
/// let (a, b, mut c) = (vec![1.0f32; 64 * 64], vec![1.0f32; 64 * 64], vec![0.0f32; 64 * 64]);
/// let target = gemmkit::active().unwrap();
/// let (av, bv) = (gemmkit::MatRef::row_major(&a, 64, 64), gemmkit::MatRef::row_major(&b, 64, 64));
/// gemmkit::gemm_with(target, &par, 1.0, av, bv, 0.0, gemmkit::MatMut::row_major(&mut c, 64, 64)).unwrap();
/// assert_eq!(c[0], 64.0);
/// ```
///
/// A process that forks after a threaded call (Python's `multiprocessing` does,
/// with numpy calling the C ABI) computes correctly in the child: rayon's
/// threads are not copied into it, so a `Rayon` call there from outside any
/// pool runs on a pool built in the child. A `Pool` built before the fork has
/// no threads in the child, for gemmkit as for any rayon user: build pools
/// after forking.
#[derive(Clone, Debug, Default)]
pub enum Parallelism {
    /// The calling thread only.
    Sequential,
    /// The rayon pool the call runs in: the global pool, or one entered with
    /// `ThreadPool::install`. At most [`num_threads`] threads.
    #[default]
    Rayon,
    /// The given rayon pool (the call runs inside it), all of its threads.
    Pool(std::sync::Arc<rayon::ThreadPool>),
}

impl Parallelism {
    /// The workers a call may use and the pool it spawns them into (`None`:
    /// the pool the caller is in), fork-safe (see `pool`).
    #[inline]
    fn workers(&self) -> (usize, Option<&rayon::ThreadPool>) {
        match self {
            Parallelism::Sequential => (1, None),
            Parallelism::Rayon => crate::pool::usable(num_threads(), None),
            Parallelism::Pool(pool) => (pool.current_num_threads(), Some(&**pool)),
        }
    }
}

/// Cap on the threads of [`Parallelism::Rayon`]; 0 means none (the pool's size).
static MAX_THREADS: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The most threads a [`Parallelism::Rayon`] call uses: [`set_num_threads`], else
/// `GEMMKIT_NUM_THREADS`, else the size of the current rayon pool.
pub fn num_threads() -> usize {
    let pool = crate::pool::current_num_threads();
    let mut cap = MAX_THREADS.load(Ordering::Relaxed);
    if cap == usize::MAX {
        cap = std::env::var("GEMMKIT_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        MAX_THREADS.store(cap, Ordering::Relaxed);
    }
    if cap == 0 { pool } else { cap.min(pool) }
}

/// Caps the threads of every later [`Parallelism::Rayon`] call (the C ABI's
/// calls included); 0 removes the cap. Overrides `GEMMKIT_NUM_THREADS`.
pub fn set_num_threads(threads: usize) {
    MAX_THREADS.store(threads, Ordering::Relaxed);
}

/// A problem shared with the threads that run it (a batch's problems, or the
/// rows of a small one): the caller keeps the borrows alive and waits for them.
struct SharedProblem<T>(Problem<T>);
// SAFETY: see `gemm_unchecked`'s contract; the calls are synchronous, and the
// threads write distinct parts of C (distinct problems, or distinct rows).
unsafe impl<T: Sync> Sync for SharedProblem<T> {}

impl<T> SharedProblem<T> {
    /// The problem; a method, so that a closure captures the whole wrapper (a
    /// field access would capture the field, which is not `Sync`).
    fn get(&self) -> &Problem<T> {
        &self.0
    }
}

/// Runs a checked problem with the requested parallelism.
///
/// # Safety
/// As [`gemm_unchecked`].
#[doc(hidden)]
#[inline(always)]
pub unsafe fn run<T: Element>(target: &Target, parallelism: &Parallelism, p: Problem<T>) {
    unsafe { drive(target, &p, || parallelism.workers()) }
}

/// `C = alpha * A * B + beta * C` on the active target (see [`crate::active`]).
///
/// BLAS semantics: `beta == 0` never reads C (NaN or garbage in C is
/// overwritten), `alpha == 0` or `k == 0` does not read A or B and only scales C,
/// and any dimension may be zero. A, B and C may be any strided views
/// (transposes and sub-matrices included).
///
/// ```
/// use gemmkit::{MatMut, MatRef, gemm};
/// let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3, row-major
/// let b = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0]; // 3 x 2, row-major
/// let mut c = [0.0f32; 4];
/// gemm(1.0, MatRef::row_major(&a, 2, 3), MatRef::row_major(&b, 3, 2), 0.0, MatMut::row_major(&mut c, 2, 2))?;
/// assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
#[inline]
pub fn gemm<T: Element>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    gemm_on(crate::active()?, alpha, a, b, beta, c)
}

/// [`gemm`] on an explicit target (from [`crate::target`] or [`crate::available`]).
#[inline]
pub fn gemm_on<T: Element>(
    target: &Target,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    gemm_with(target, &Parallelism::Rayon, alpha, a, b, beta, c)
}

/// [`gemm`] on an explicit target with explicit threading.
///
/// Results are bit-identical whatever the parallelism: every tile of C is
/// computed by one thread with the same sequence of operations (K is never
/// split). Safe to call from inside a rayon task (the calling thread works too
/// and nothing waits on a busy pool) and from many threads at once.
// Inlined into the caller, with the checks and the small path (`drive`): the
// views arrive in registers, and the strides a caller's constructors fix (the
// unit column stride of `row_major`) fold the orientation tests away. Measured
// (gemm-bench, paired ratio to OpenBLAS, AVX-512 f32, three alternating runs
// each): 8^3 0.95-0.96 -> 1.05-1.08, 16^3 0.99-1.05 -> 1.06-1.18, 32^3
// 0.99-1.02 -> 1.02-1.08; A transposed (in-process, 150 rounds) 16^3
// 0.88-0.92 -> 0.94-0.98. The blocked driver stays out of line.
#[inline]
pub fn gemm_with<T: Element>(
    target: &Target,
    parallelism: &Parallelism,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    let p = checked(alpha, &a, &b, beta, &mut c)?;
    // SAFETY: `checked` verified every view; the borrows keep A and B from
    // aliasing C until the call returns.
    unsafe { run(target, parallelism, p) };
    Ok(())
}

/// Checks that A, B and a `c_rows x c_cols` C agree on every dimension.
#[inline(always)]
fn check_shapes<T>(a: &MatRef<'_, T>, b: &MatRef<'_, T>, c_rows: usize, c_cols: usize) -> Result<(), GemmError> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mismatch = |arg, dim, expected, found, because: String| {
        Err(GemmError::DimensionMismatch {
            arg,
            dim,
            expected,
            found,
            because,
        })
    };
    if b.rows != k {
        return mismatch("b", "rows", k, b.rows, format!("a (with {k} columns)"));
    }
    if c_rows != m {
        return mismatch("c", "rows", m, c_rows, format!("a (with {m} rows)"));
    }
    if c_cols != n {
        return mismatch("c", "cols", n, c_cols, format!("b (with {n} columns)"));
    }
    Ok(())
}

/// Validates one product's shapes and views and turns it into a [`Problem`]
/// whose pointers stay valid while the borrows do.
#[inline(always)]
fn checked<T: Element>(
    alpha: T,
    a: &MatRef<'_, T>,
    b: &MatRef<'_, T>,
    beta: T,
    c: &mut MatMut<'_, T>,
) -> Result<Problem<T>, GemmError> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    check_shapes(a, b, c.rows, c.cols)?;
    a.check_bounds("a")?;
    b.check_bounds("b")?;
    c.check_output("c")?;
    Ok(Problem {
        m,
        n,
        k,
        alpha,
        a: a.data.as_ptr(),
        rsa: a.rs,
        csa: a.cs,
        b: b.data.as_ptr(),
        rsb: b.rs,
        csb: b.cs,
        beta,
        c: c.data.as_mut_ptr(),
        rsc: c.rs,
        csc: c.cs,
    })
}

/// `C[i] = alpha * A[i] * B[i] + beta * C[i]` for every `i`, on the active target.
///
/// The problems may have different shapes. With at least twice as many problems
/// as threads the batch is split across threads, one problem per task on one
/// thread each; otherwise the problems run in turn, each split across the
/// threads. Results are bit-identical either way. Every problem is checked before
/// any is computed: on error nothing is written, and the error names the index.
pub fn gemm_batch<T: Element>(
    parallelism: &Parallelism,
    alpha: T,
    a: &[MatRef<'_, T>],
    b: &[MatRef<'_, T>],
    beta: T,
    c: &mut [MatMut<'_, T>],
) -> Result<(), GemmError> {
    let target = crate::active()?;
    for (arg, len) in [("a", a.len()), ("b", b.len())] {
        if len != c.len() {
            return Err(GemmError::CountMismatch {
                arg,
                expected: c.len(),
                found: len,
            });
        }
    }
    let mut problems = Vec::with_capacity(c.len());
    for (index, ((a, b), c)) in a.iter().zip(b).zip(c.iter_mut()).enumerate() {
        let p = checked(alpha, a, b, beta, c).map_err(|error| GemmError::InBatch {
            index,
            error: Box::new(error),
        })?;
        problems.push(SharedProblem(p));
    }
    // SAFETY: checked above; distinct C views cannot overlap (each is a distinct
    // `&mut` borrow), and the borrows outlive this call.
    unsafe { run_batch(target, parallelism, problems.len(), |i| *problems[i].get()) };
    Ok(())
}

/// Runs problems `0..count` (`problem(i)` builds the `i`-th): with at least
/// twice as many problems as threads, split across threads, one problem per
/// task on one thread each; otherwise in turn, each split across the threads.
///
/// # Safety
/// Every problem is valid as for [`gemm_unchecked`], and no two write the same
/// element of C.
unsafe fn run_batch<T: Element>(
    target: &Target,
    parallelism: &Parallelism,
    count: usize,
    problem: impl Fn(usize) -> Problem<T> + Sync,
) {
    let (threads, pool) = parallelism.workers();
    if threads > 1 && count >= 2 * threads {
        let split = || {
            use rayon::prelude::*;
            // SAFETY: the caller's contract.
            (0..count)
                .into_par_iter()
                .for_each(|i| unsafe { gemm_unchecked(target, problem(i), 1) });
        };
        match pool {
            Some(pool) => pool.install(split),
            None => split(),
        }
    } else {
        for i in 0..count {
            // SAFETY: the caller's contract.
            unsafe { run(target, parallelism, problem(i)) };
        }
    }
}

/// The layout of a strided batch: `count` matrices of `rows x cols` with the
/// given row and column strides, matrix `i` starting at element `i * batch_stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLayout {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
    pub batch_stride: usize,
}

impl BatchLayout {
    /// `count` contiguous row-major `rows x cols` matrices, one after another.
    /// (A `rows x cols` past `usize` gives a batch stride of `usize::MAX`,
    /// which [`gemm_batch_strided`] refuses for a batch of more than one.)
    pub fn row_major(count: usize, rows: usize, cols: usize) -> Self {
        BatchLayout {
            count,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
            // Saturating: a shape past `usize` is then refused by the call
            // that uses the layout, rather than wrapping to a wrong stride.
            batch_stride: rows.saturating_mul(cols),
        }
    }

    /// Elements one matrix spans (0 when empty).
    fn extent(&self) -> Option<usize> {
        if self.rows == 0 || self.cols == 0 {
            return Some(0);
        }
        (self.rows - 1)
            .checked_mul(self.row_stride)?
            .checked_add((self.cols - 1).checked_mul(self.col_stride)?)?
            .checked_add(1)
    }
}

/// [`gemm_batch`] for strided batches: `C[i] = alpha * A[i] * B[i] + beta * C[i]`
/// where each operand is one slice holding equally shaped matrices at a fixed
/// stride. The output matrices must not overlap each other
/// (`batch_stride >= extent`), inputs may (a stride of 0 reuses one matrix).
#[allow(clippy::too_many_arguments)]
pub fn gemm_batch_strided<T: Element>(
    parallelism: &Parallelism,
    alpha: T,
    a: &[T],
    a_layout: BatchLayout,
    b: &[T],
    b_layout: BatchLayout,
    beta: T,
    c: &mut [T],
    c_layout: BatchLayout,
) -> Result<(), GemmError> {
    let target = crate::active()?;
    let count = c_layout.count;
    for (arg, l) in [("a", &a_layout), ("b", &b_layout)] {
        if l.count != count {
            return Err(GemmError::CountMismatch {
                arg,
                expected: count,
                found: l.count,
            });
        }
    }
    let c_extent = c_layout.extent().ok_or(GemmError::StrideOverflow {
        arg: "c",
        rows: c_layout.rows,
        cols: c_layout.cols,
        strides: (c_layout.row_stride, c_layout.col_stride),
    })?;
    if count > 1 && c_layout.batch_stride < c_extent {
        return Err(GemmError::OverlappingOutput {
            arg: "c",
            strides: (c_layout.row_stride, c_layout.col_stride),
        });
    }
    if count == 0 {
        return Ok(());
    }
    // Matrix `i` starts at `i * batch_stride`; the starts grow with `i`, so
    // matrices 0 and `count - 1` in bounds put every one in bounds. Checked in
    // constant time and memory, whatever the count.
    let last = count - 1;
    fn view<'s, T>(data: &'s [T], l: &BatchLayout, i: usize, arg: &'static str) -> Result<MatRef<'s, T>, GemmError> {
        let start = i.checked_mul(l.batch_stride).ok_or(GemmError::BatchOverflow {
            arg,
            count: l.count,
            batch_stride: l.batch_stride,
        })?;
        let data = data.get(start..).ok_or(GemmError::OutOfBounds {
            arg,
            rows: l.rows,
            cols: l.cols,
            strides: (l.row_stride, l.col_stride),
            needed: start.saturating_add(1),
            len: data.len(),
        })?;
        Ok(MatRef::strided(data, l.rows, l.cols, l.row_stride, l.col_stride))
    }
    let in_batch = |index| {
        move |error| GemmError::InBatch {
            index,
            error: Box::new(error),
        }
    };
    for i in [0, last] {
        let check = || {
            let (a, b, c) = (
                view(a, &a_layout, i, "a")?,
                view(b, &b_layout, i, "b")?,
                view(&*c, &c_layout, i, "c")?,
            );
            check_shapes(&a, &b, c.rows, c.cols)?;
            a.check_bounds("a")?;
            b.check_bounds("b")?;
            c.check_bounds("c")
        };
        check().map_err(in_batch(i))?;
    }
    if c_extent == 0 {
        // No element of C: nothing to compute for any of the `count` problems.
        return Ok(());
    }
    let first = {
        let mut c0 = MatMut::strided(
            &mut c[..],
            c_layout.rows,
            c_layout.cols,
            c_layout.row_stride,
            c_layout.col_stride,
        );
        let (a0, b0) = (view(a, &a_layout, 0, "a"), view(b, &b_layout, 0, "b"));
        checked(alpha, &a0?, &b0?, beta, &mut c0).map_err(in_batch(0))?
    };
    let base = SharedProblem(first);
    let step = |l: &BatchLayout, i: usize| i * l.batch_stride;
    // SAFETY: every problem's views are in bounds (first and last checked
    // above); C's matrices do not overlap (`batch_stride >= extent`), and the
    // borrows of `a`, `b` and `c` outlive this call.
    unsafe {
        run_batch(target, parallelism, count, |i| {
            let p = base.get();
            Problem {
                a: p.a.add(step(&a_layout, i)),
                b: p.b.add(step(&b_layout, i)),
                c: p.c.add(step(&c_layout, i)),
                ..*p
            }
        })
    };
    Ok(())
}

/// `C = A * B` for contiguous row-major slices: A is `m x k`, B is `k x n`, C is
/// `m x n` (overwritten).
pub fn matmul<T: Element>(m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &mut [T]) -> Result<(), GemmError> {
    for (arg, len, (rows, cols)) in [("a", a.len(), (m, k)), ("b", b.len(), (k, n)), ("c", c.len(), (m, n))] {
        // (Built only on failure: an error built eagerly is dropped on every call.)
        let Some(need) = rows.checked_mul(cols) else {
            return Err(GemmError::ShapeOverflow { arg, rows, cols });
        };
        if len != need {
            return Err(GemmError::LengthMismatch {
                arg,
                expected: need,
                found: len,
            });
        }
    }
    gemm(
        T::ONE,
        MatRef::row_major(a, m, k),
        MatRef::row_major(b, k, n),
        T::ZERO,
        MatMut::row_major(c, m, n),
    )
}

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

/// The GEMM driver, without any checks.
///
/// # Safety
/// Every element of A (`m x k`), B (`k x n`) and C (`m x n`) at the given strides
/// must be valid to read (and C to write); C must not overlap A, B or itself;
/// the target must be supported by this CPU.
#[doc(hidden)]
#[inline(always)]
pub unsafe fn gemm_unchecked<T: Element>(target: &Target, p: Problem<T>, threads: usize) {
    unsafe { drive(target, &p, || crate::pool::usable(threads, None)) }
}

/// Runs `body` on the small kernel's view of `p` where it has one, with
/// `(m, n, a, rsa, csa, b, rsb, rsc)` bound to the product the kernel computes:
/// the kernel writes rows of C with unit column stride and reads rows of B, and
/// a column-major C is the transposed product (B^T A^T), which reads A's
/// columns as rows. `body` ends in a `return`. Two branches rather than one on
/// arguments swapped by conditional moves, which went through the stack (2-3%
/// of an 8^3 call).
macro_rules! small_oriented {
    ($p:expr, |$m:ident, $n:ident, $a:ident, $rsa:ident, $csa:ident, $b:ident, $rsb:ident, $rsc:ident| $body:block) => {{
        let p = $p;
        if p.csc == 1 && p.csb == 1 {
            let ($m, $n, $a, $rsa, $csa, $b, $rsb, $rsc) = (p.m, p.n, p.a, p.rsa, p.csa, p.b, p.rsb, p.rsc);
            $body
        }
        if p.rsc == 1 && p.rsa == 1 {
            let ($m, $n, $a, $rsa, $csa, $b, $rsb, $rsc) = (p.n, p.m, p.b, p.csb, p.rsb, p.a, p.csa, p.csc);
            $body
        }
    }};
}

/// The driver's cheap front: empty problems, scaling only, the orientation of C
/// and the small path. It is inlined into the API calls, so a tiny product runs
/// from values in registers. Only a product big enough to be blocked is stored
/// to memory and asks `threads` for its workers and pool (the calling thread
/// always works; without a pool, the rayon pool the caller is in helps).
#[inline(always)]
unsafe fn drive<'a, T: Element>(
    target: &Target,
    p: &Problem<T>,
    threads: impl FnOnce() -> (usize, Option<&'a rayon::ThreadPool>),
) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    if p.alpha == T::ZERO || p.k == 0 {
        unsafe { scale(*p) };
        return;
    }
    let kern = T::kernels(target);
    // Small problems big enough to split between threads take the small path
    // in `drive_blocked`, out of line: a call to it from here cost 8^3 and 16^3
    // f32 3-25%, whatever went into it.
    if is_small(p) && p.m.saturating_mul(p.n).saturating_mul(p.k) < PARALLEL_SMALL_MIN_VOLUME {
        small_oriented!(p, |m, n, a, rsa, csa, b, rsb, rsc| {
            // SAFETY: as for `drive`; `small` stays inside the m x n x k problem.
            unsafe { small(&kern, m, n, p.k, p.alpha, a, rsa, csa, b, rsb, p.beta, p.c, rsc) };
            return;
        });
    }
    // The micro-kernel writes rows of C with unit column stride; a column-major C
    // is the transposed product.
    let t = p.csc != 1 && p.rsc == 1;
    let (m, n, a, rsa, csa, b, rsb, csb, rsc, csc) = if t {
        (p.n, p.m, p.b, p.csb, p.rsb, p.a, p.csa, p.rsa, p.csc, p.rsc)
    } else {
        (p.m, p.n, p.a, p.rsa, p.csa, p.b, p.rsb, p.csb, p.rsc, p.csc)
    };
    let p = Problem {
        m,
        n,
        k: p.k,
        alpha: p.alpha,
        a,
        rsa,
        csa,
        b,
        rsb,
        csb,
        beta: p.beta,
        c: p.c,
        rsc,
        csc,
    };
    let (threads, pool) = threads();
    unsafe { drive_blocked(target, p, threads, pool) }
}

/// The small path: `m` rows in blocks of the `gemm_small` instances (`R`, `2R/3`,
/// `R/3` and 1 rows for `R = MR * (NR / LANES) / 2`, see `base_gemm_small`; the
/// counts come from the dispatch table).
/// Whole blocks of the largest instance that fits the rows left; the last rows,
/// where an instance covers them and the problem is tall enough, take the
/// smallest such, moved up to end at row `m` and skipping the rows it overlaps.
/// (13 rows with `R` = 12: 12 + 1; 7 rows: 4, then 4 from row 3 skipping one;
/// 3 rows: three of one.) A column-major A (`rsa == 1`) takes the `_t`
/// instances, which read its rows at constant offsets.
///
/// # Safety
/// As for `base_gemm_small`, for the whole `m x n x k` problem.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn small<T: Element>(
    kern: &ElemKernels<T>,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: *const T,
    rsa: usize,
    csa: usize,
    b: *const T,
    rsb: usize,
    beta: T,
    c: *mut T,
    rsc: usize,
) {
    // A column-major A has its own instances, which address it at constant
    // offsets (rows are adjacent elements) rather than a row stride.
    let blocks = if rsa == 1 { kern.small_t } else { kern.small };
    let [(tall, f_tall), (mid, f_mid), (low, f_low), (_, f_row)] = blocks;
    debug_assert!(low >= 1, "every instance has rows");
    // One block: rows `start .. start + rows` of A and C, stored from `i` on. (A
    // macro: as a closure it was not inlined, and its captures went through memory.)
    macro_rules! block {
        ($f:expr, $start:expr, $i:expr) => {{
            let (f, start, i): (SmallFn<T>, usize, usize) = ($f, $start, $i);
            // SAFETY: every block's rows are rows of A and C (`start + rows <= m`).
            unsafe {
                f(
                    i - start,
                    n,
                    k,
                    alpha,
                    a.add(start * rsa),
                    rsa,
                    csa,
                    b,
                    rsb,
                    beta,
                    c.add(start * rsc),
                    rsc,
                )
            }
        }};
    }
    let mut i = 0;
    // Straight-line choices on the four row counts rather than a search of the
    // table, which went through the stack (1-3% of an 8^3 call).
    loop {
        let left = m - i;
        if left > tall {
            block!(f_tall, i, i);
            i += tall;
            continue;
        }
        // The smallest instance that covers the rows left, moved up to end at row
        // `m` if the problem is that tall; else the tallest that fits, and again.
        let (rows, f) = if left <= 1 {
            (1, f_row)
        } else if left <= low {
            (low, f_low)
        } else if left <= mid {
            (mid, f_mid)
        } else {
            (tall, f_tall)
        };
        if rows <= m {
            block!(f, m - rows, i);
            return;
        }
        let (rows, f) = if left >= mid {
            (mid, f_mid)
        } else if left >= low {
            (low, f_low)
        } else {
            (1, f_row)
        };
        block!(f, i, i);
        i += rows;
    }
}

/// Small problems from this many multiply-adds split their rows between
/// threads (`small_par`). Measured in-process on two Zen 4 cores (AVX-512,
/// paired with one thread, 31 rounds): f32 80^3 / 96^3 / 112^3 / 128^3 ran
/// 1.62x / 1.75x / 1.79x / 1.81x (the gemm crate on two threads 0.90x / 1.63x
/// / 1.71x / 1.69x of our one), f64 1.67x-1.84x; 64^3 stays on one thread (the
/// issue's bound: no slowdown up to 64).
const PARALLEL_SMALL_MIN_VOLUME: usize = 80 * 80 * 80;

/// [`small`] on up to `threads` threads for a problem already in the small
/// kernel's orientation (see `small_oriented`): the rows of C in items of the
/// tallest block's height, claimed from a shared counter (`par_phases`, one
/// lane, no packing). Every element of C is computed by the same instance code
/// as on one thread, so results are bit-identical for any thread count.
///
/// # Safety
/// As for [`small`], for the whole problem.
#[inline(always)]
unsafe fn small_par<T: Element>(
    kern: &ElemKernels<T>,
    threads: usize,
    pool: Option<&rayon::ThreadPool>,
    p: Problem<T>,
) {
    let tall = if p.rsa == 1 { kern.small_t[0].0 } else { kern.small[0].0 };
    // Each item reads its own rows of A and writes its own rows of C; B is only
    // read.
    let shared = SharedProblem(p);
    let rows = |j: usize| {
        let (p, i) = (shared.get(), j * tall);
        // SAFETY: rows `i .. i + tall.min(m - i)` of A and C are in the problem.
        unsafe {
            small(
                kern,
                tall.min(p.m - i),
                p.n,
                p.k,
                p.alpha,
                p.a.add(i * p.rsa),
                p.rsa,
                p.csa,
                p.b,
                p.rsb,
                p.beta,
                p.c.add(i * p.rsc),
                p.rsc,
            )
        }
    };
    par_phases(
        threads,
        pool,
        1,
        |_| 0,
        |_, _| {},
        p.m.div_ceil(tall),
        false,
        |_, j, _| rows(j),
    );
}

/// The blocked driver (`drive` after the small path): `threads` workers share
/// each block when the problem is worth it. Small problems that `drive` left
/// for their size take the small path here, on `threads` (`small_par`).
#[inline(never)]
unsafe fn drive_blocked<T: Element>(target: &Target, p: Problem<T>, threads: usize, pool: Option<&rayon::ThreadPool>) {
    let kern = T::kernels(target);
    if is_small(&p) {
        small_oriented!(p, |m, n, a, rsa, csa, b, rsb, rsc| {
            let q = Problem {
                m,
                n,
                a,
                rsa,
                csa,
                b,
                rsb,
                csb: 1,
                rsc,
                csc: 1,
                ..p
            };
            // SAFETY: as for `drive`; `q` is the same product, seen as the small
            // kernel computes it.
            unsafe { small_par(&kern, threads, pool, q) };
            return;
        });
    }
    let threads = if worth_threads(&p) { threads.max(1) } else { 1 };
    let shape = T::shape(target);
    let (mr, nr) = (shape.mr, shape.nr);
    // The last few columns by dot products (see `dot_edge_cols`); the five loops
    // take the rest.
    let edge = dot_edge_cols(&p, shape, kern.dot_rows);
    let (full, p) = (p, Problem { n: p.n - edge, ..p });
    let blk = Blocking::for_shape(shape, size_of::<T>());
    // Balanced blocks: k = 2049 with KC = 1024 is 2 blocks of 1025, not 2 of 1024
    // and a last one of depth 1 that would cost a whole pass over C. B's block is as
    // wide as one per lane: each worker keeps its own lane of it near its core
    // (see `five_loops`).
    let blk = Blocking {
        kc: balanced(p.k, blk.kc, 1),
        mc: balanced(p.m, blk.mc, mr),
        nc: balanced(p.n, blk.nc * threads.min(MAX_LANES), nr),
    };
    let (kc_max, mc_max, nc_max) = (blk.kc, blk.mc, blk.nc);
    // Room for the packed A block, or for one ragged panel when A is read in
    // place (see `five_loops`).
    let a_rows = if reads_a_in_place(&p) { mr } else { mc_max };
    let a_len = (a_rows * kc_max).div_ceil(16) * 16;
    let b_len = (kc_max * nc_max).div_ceil(16) * 16;
    let tile_len = (mr * nr).div_ceil(16) * 16;
    // The edge columns of a B that is not column-major, copied contiguous along k.
    let bt_len = if edge > 0 && full.rsb != 1 {
        (edge * full.k).div_ceil(16) * 16
    } else {
        0
    };
    let bytes = (a_len + b_len + threads * tile_len + bt_len) * size_of::<T>();
    with_scratch(bytes, |buf| {
        let buf = buf.cast::<T>();
        // A block, B block, one edge tile per worker, the edge columns of B, each
        // 64-byte aligned.
        let bufs = Buffers {
            a: buf,
            b: unsafe { buf.add(a_len) },
            tiles: unsafe { buf.add(a_len + b_len) },
            tile_len,
            bt: unsafe { buf.add(a_len + b_len + threads * tile_len) },
        };
        let ctx = Ctx {
            kern,
            shape,
            blk,
            p,
            bufs,
        };
        if p.n > 0 {
            unsafe { five_loops(&ctx, threads, pool) };
        }
        if edge > 0 {
            let ctx = Ctx { p: full, ..ctx };
            unsafe { dot_edge(&ctx, edge, threads, pool) };
        }
    });
}

/// How many of B's last columns `drive_blocked` computes by dot products
/// (`base_dot_edge`) instead of in a narrow strip: the `n % NR` columns of the
/// last strip where they are at most half a vector and A is read in place, with
/// at least one block of rows. The narrow micro-kernel computes a whole vector
/// of columns (16 on AVX-512 f32 for the one column of 257), where the dot
/// products compute only the columns there are at the price of another pass
/// over A. Measured (gemm-bench, paired ratio to OpenBLAS, AVX-512 f32, narrow
/// strip -> dot products): 4096x2x512 0.94-0.97 -> 2.12-2.27,
/// 2048x6x2048 1.45-1.57 -> 2.12-2.18, 2048x8x2048 1.25-1.27 -> 1.51-1.58,
/// 257^3 0.95-1.00 -> 1.03-1.08 (against faer), 264^3 and
/// 1032^3 even; past half a vector the narrow strip wins again
/// (2048x12x2048 1.65 -> 1.37 with dot products).
fn dot_edge_cols<T>(p: &Problem<T>, shape: Shape, dot_rows: usize) -> usize {
    let w = p.n % shape.nr;
    let usable = reads_a_in_place(p) && p.m >= dot_rows;
    if usable && w > 0 && 2 * w <= shape.lanes { w } else { 0 }
}

/// C's last `w` columns by dot products along the whole of k: rows in blocks of
/// the instances' height, the last block moved up to end at row m (the rows it
/// overlaps are computed again but not stored), columns in chunks of up to four.
/// Each instance leaves its sums lane by lane in the worker's edge tile; they are
/// added here, lane 0 first, and go to C through the output step (`apply_tile`),
/// as an edge tile of the micro-kernel does. B's columns are read in place
/// when B is column-major, else copied into `bt` first (one pack item).
///
/// # Safety
/// As `five_loops`, with `ctx.p` the whole problem, A read in place, `m` at
/// least the instances' height, and `ctx.bufs.bt` writable for `w * k` elements
/// unless B is column-major.
unsafe fn dot_edge<T: Element>(ctx: &Ctx<T>, w: usize, threads: usize, pool: Option<&rayon::ThreadPool>) {
    let p = &ctx.p;
    let (m, k, j0, lanes) = (p.m, p.k, p.n - w, ctx.shape.lanes);
    let rows = ctx.kern.dot_rows;
    // The sums of the widest instance fill a quarter of the tile's slots times four.
    debug_assert!(
        rows * 4 * lanes <= ctx.bufs.tile_len,
        "edge tile too small for the sums"
    );
    let in_place = p.rsb == 1;
    // The closures reach pointers only through `ctx` (Sync).
    let copy = |_: usize, _: usize| {
        let (b, bt) = (ctx.p.b, ctx.bufs.bt);
        for q in 0..k {
            for c in 0..w {
                unsafe { *bt.add(c * k + q) = *b.add(q * ctx.p.rsb + (j0 + c) * ctx.p.csb) };
            }
        }
    };
    let compute = |_: usize, g: usize, worker: usize| {
        let p = &ctx.p;
        let (btp, ldbt) = if in_place {
            (p.b.wrapping_add(j0 * p.csb), p.csb)
        } else {
            (ctx.bufs.bt.cast_const(), k)
        };
        let start = (g * rows).min(m - rows);
        let out = unsafe { ctx.bufs.tiles.add(worker * ctx.bufs.tile_len) };
        let a = p.a.wrapping_add(start * p.rsa);
        let mut c0 = 0;
        while c0 < w {
            let cols = (w - c0).min(4);
            unsafe { (ctx.kern.dot[cols - 1])(k, a, p.rsa, btp.wrapping_add(c0 * ldbt), ldbt, out) };
            // Each slot's lanes added, lane 0 first, into slot `s` of `out` (read
            // from `s * lanes` on, at or past where it is written), so the sums form
            // a packed `rows x cols` tile for the output step.
            for s in 0..rows * cols {
                let parts = unsafe { std::slice::from_raw_parts(out.add(s * lanes), lanes) };
                let sum = parts.iter().fold(T::ZERO, |acc, &v| acc + v);
                unsafe { *out.add(s) = sum };
            }
            let skip = g * rows - start;
            let cij = p.c.wrapping_add((start + skip) * p.rsc + (j0 + c0) * p.csc);
            let sums = unsafe { out.add(skip * cols) };
            unsafe {
                apply_tile(
                    &ctx.kern,
                    rows - skip,
                    cols,
                    p.alpha,
                    sums,
                    cols,
                    p.beta,
                    cij,
                    p.rsc,
                    p.csc,
                )
            };
            c0 += cols;
        }
    };
    let packs = usize::from(!in_place);
    par_phases(threads, pool, 1, |_| packs, copy, m.div_ceil(rows), false, compute);
}

/// Whether full panels of A are read in place rather than packed: A is
/// row-major (unit column stride). See `five_loops`.
///
/// Measured against packing every A (gemm-bench, paired ratio to the best of
/// OpenBLAS and faer, AVX-512 6 x 64 / 6 x 32 tiles, one thread): in place is
/// as fast or faster on square shapes from 256 to 2048 in both precisions (f32
/// 1024: 1.10-1.18 against 0.90-1.05; f64 2048: 0.98-1.03 against 0.90-0.95),
/// and on two threads the two are even. Packing won only where A is short and
/// B wide (64x4096x4096 f32: 1.40-1.44 packed, 1.26-1.39 in place). With the
/// 12 x 32 tile, whose in-place instance computes twice the row addresses,
/// packing had won from 512 columns of B on.
fn reads_a_in_place<T>(p: &Problem<T>) -> bool {
    p.csa == 1
}

/// Whether the first tile of each strip packs it (`microkernel_pack_b`, or its
/// `_packed` twin for a packed A) instead of a packing pass over B's block: B
/// row-major, C with unit column stride, and all of B within half the L2 cache.
/// Measured when the small path stopped at 128 (shapes up to 256 now skip
/// packing altogether; same process, alternating, 15-41 rounds, one thread,
/// AVX-512 f32, median speed fused over a packing pass), A read in place: 192^3 1.028, 255^3
/// 1.014, 256^3 1.019-1.023, 257^3 1.018-1.021, 320^3 1.012, 384^3 1.009, 512^3
/// 1.004; on two threads 256^3 1.042, 257^3 1.036, 512^3 1.025. A transposed
/// (packed): 192^3-384^3 1.006-1.021, two threads 256^3-512^3 1.013-1.031, f64
/// 160^3-320^3 0.998-1.030. Where B is far (L3 or memory) the first tiles wait
/// for it: 1024^3 0.974, 64x4096x4096 0.76, 128x2048x2048 0.82, 300x1000x1000
/// 0.91; with B's next block fetched ahead by the micro-kernels (in-process, one
/// thread, 15 rounds) still 1024^3 0.986, 2048^3 0.998, 64x4096x4096 0.991,
/// 128x2048x2048 0.975.
fn packs_b_in_first_tiles<T>(p: &Problem<T>) -> bool {
    let b_bytes = p.k as f64 * p.n as f64 * size_of::<T>() as f64;
    p.csb == 1 && p.csc == 1 && b_bytes <= (CacheSizes::detect().l2 / 2) as f64
}

/// Whether a problem is big enough to share between threads.
fn worth_threads<T>(p: &Problem<T>) -> bool {
    p.m as f64 * p.n as f64 * p.k as f64 >= PARALLEL_MIN_VOLUME
}

/// Problems smaller than this many multiply-adds stay on one thread: below it,
/// waking a second thread costs more than it saves. Chosen by measurement on
/// the 2-core development machine (gemm-bench --threads 2).
const PARALLEL_MIN_VOLUME: f64 = 160.0 * 160.0 * 160.0;

/// The packing buffers of one call (shared by its workers) and the per-worker
/// edge tiles.
#[derive(Clone, Copy)]
struct Buffers<T> {
    a: *mut T,
    b: *mut T,
    tiles: *mut T,
    tile_len: usize,
    /// The dot-product edge's columns of B, contiguous along k (see `dot_edge`).
    bt: *mut T,
}

/// Everything the loops share. Raw pointers into A, B, C and the buffers: the
/// workers write disjoint tiles of C and disjoint parts of the buffers.
struct Ctx<T> {
    kern: ElemKernels<T>,
    /// The tile: an edge strip takes the instance of its count of vectors
    /// (`lanes` columns each).
    shape: Shape,
    blk: Blocking,
    p: Problem<T>,
    bufs: Buffers<T>,
}

// SAFETY: the pointers are only dereferenced inside `five_loops`, where each work
// item touches its own part of C and of the packing buffers, and the phases are
// ordered: packing finishes (Release) before any compute item starts (Acquire),
// and each scope ends before the next block reuses the buffers.
unsafe impl<T: Send> Sync for Ctx<T> {}

/// The work of one block, split into lanes: lane `l` has `packs(l)` pack items
/// and `computes` compute items. Runs `pack(l, j)` for every pack item and
/// then `compute(l, j, worker)` for every compute item, on up to `threads`
/// workers: the calling thread (always, even outside any pool) and tasks spawned
/// into `pool`, or into the rayon pool the caller is in, one fork-join per call.
///
/// Each worker has a home lane and claims its items, in shrinking runs (see
/// `Counter::claim`), from that lane's counter first, then takes what is left in
/// the other lanes, so a slow or busy worker simply takes fewer items while a
/// lane's data (the B strips it packs and multiplies) tends to stay in one
/// core's cache. A worker that runs out of pack items waits until every pack
/// item is finished before computing: all of them have been claimed by then, by
/// threads that are running them, so the wait always ends, even when the pool
/// is busy and the caller is the only worker. With `first_gates`, a lane's first
/// compute item also finishes before any other of that lane starts (it packs
/// what they read); it heads the first run claimed, and runs first in it, so
/// that wait ends too. A worker out of items stays (spinning) until the last
/// item is done, so a helper leaves when the caller does and is still awake,
/// in the pool's idle loop, when the next block or call spawns: returning
/// early, it could fall asleep and need waking (tens of microseconds on the
/// VM; see `spawn_and_work`). Timed in one process on two threads (f32, the
/// caller in the pool): at 1024^3, two blocks, a helper started 43-58
/// microseconds after the spawn on average without this wait and 8 with it; at
/// 2048^3, eight blocks, 9-13 with it.
#[allow(clippy::too_many_arguments)]
fn par_phases(
    threads: usize,
    pool: Option<&rayon::ThreadPool>,
    lanes: usize,
    packs: impl Fn(usize) -> usize + Sync,
    pack: impl Fn(usize, usize) + Sync,
    computes: usize,
    first_gates: bool,
    compute: impl Fn(usize, usize, usize) + Sync,
) {
    assert!((1..=MAX_LANES).contains(&lanes), "lanes out of range");
    let total_packs: usize = (0..lanes).map(&packs).sum();
    let total = total_packs + lanes * computes;
    let workers = threads.min(total);
    if workers <= 1 {
        (0..lanes).for_each(|l| (0..packs(l)).for_each(|j| pack(l, j)));
        (0..lanes).for_each(|l| (0..computes).for_each(|j| compute(l, j, 0)));
        return;
    }
    let next_pack: [Counter; MAX_LANES] = Default::default();
    let next_compute: [Counter; MAX_LANES] = Default::default();
    let first_done: [AtomicBool; MAX_LANES] = Default::default();
    let (packed, computed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let (ids, busy) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let work = || {
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let order = (0..lanes).map(|d| (id + d) % lanes);
        // Runs of items per claim: see `Counter::claim`.
        let share = 4 * workers;
        for l in order.clone() {
            while let Some(run) = next_pack[l].claim(packs(l), share) {
                let done = run.len();
                run.for_each(|j| pack(l, j));
                packed.fetch_add(done, Ordering::Release);
            }
        }
        while packed.load(Ordering::Acquire) < total_packs {
            std::hint::spin_loop();
        }
        for l in order {
            while let Some(run) = next_compute[l].claim(computes, share) {
                let done = run.len();
                for j in run {
                    if first_gates && j > 0 {
                        while !first_done[l].load(Ordering::Acquire) {
                            std::hint::spin_loop();
                        }
                    }
                    compute(l, j, id);
                    if first_gates && j == 0 {
                        first_done[l].store(true, Ordering::Release);
                    }
                }
                computed.fetch_add(done, Ordering::Relaxed);
            }
        }
        // Out of items: stay until the last one is done rather than go back to
        // the pool, where an idle thread soon sleeps and the next block's spawn
        // would have to wake it (see `spawn_and_work`).
        while computed.load(Ordering::Relaxed) < lanes * computes {
            std::hint::spin_loop();
        }
    };
    // `in_place_scope`: the closure runs on this thread, which claims items like
    // any helper, instead of being handed to a pool thread while we block.
    match pool {
        Some(pool) => pool.in_place_scope(|s| spawn_and_work(s, workers, &busy, &work)),
        None => rayon::in_place_scope(|s| spawn_and_work(s, workers, &busy, &work)),
    }
}

/// Rows of B (or columns of A) per pack item, across all of a lane's strips (or
/// panels): enough for long reads, few enough that a lane's packing still splits
/// into items other workers can take.
const PACK_CHUNK: usize = 64;

/// Bytes in a cache line (the unit of the micro-kernels' fetch of B's next block).
const LINE: usize = 64;

/// At most this many lanes per block; more workers share lanes.
const MAX_LANES: usize = 16;

/// The lanes of a block of `strips` strips of B on `threads` workers.
fn lanes_for(threads: usize, strips: usize) -> usize {
    threads.min(strips).min(MAX_LANES)
}

/// A lane's next unclaimed item, alone on its cache line.
#[derive(Default)]
#[repr(align(64))]
struct Counter(AtomicUsize);

impl Counter {
    /// Claims a run of the next of `n` items: a `1 / share` part of those left
    /// (at least one), or `None` when all are taken. One atomic add per run
    /// rather than per item: on x86 it is a locked instruction, which waits
    /// for the tiles of C still in the store buffer to be written, where they
    /// would otherwise drain under the next item's arithmetic. With one claim per
    /// item that wait was 3.8% of 256^3 on two threads (perf, cpu-clock); with
    /// runs of a `4 * workers`-th of the rest it is 1.6%, and measured (same
    /// process, alternating, 21-31 rounds, AVX-512 f32, two threads) runs over
    /// single items were 1.02-1.03 at 255^3-320^3 and 1024^3, even at 384^3,
    /// 512^3 and 2048^3. The runs shrink as the lane empties, so its last items
    /// are still taken one at a time by whichever worker is free, and a worker
    /// that stalls holds at most a `share`-th of a lane (an eighth on two
    /// threads). Packing takes its items in runs the same way (even there,
    /// within the noise).
    fn claim(&self, n: usize, share: usize) -> Option<std::ops::Range<usize>> {
        // Cheap check first: once a lane is exhausted, stop bumping its counter.
        let seen = self.0.load(Ordering::Relaxed);
        if seen >= n {
            return None;
        }
        let len = ((n - seen) / share).max(1);
        let j = self.0.fetch_add(len, Ordering::Relaxed);
        (j < n).then(|| j..(j + len).min(n))
    }
}

/// The `l`-th of `lanes` near-equal parts of `0..n`.
fn part(n: usize, lanes: usize, l: usize) -> std::ops::Range<usize> {
    n * l / lanes..n * (l + 1) / lanes
}

/// The step that splits `total` into as few blocks of about `max` as possible,
/// all about equal, rounded up to a multiple of `unit` (`max` is one). A block
/// may exceed `max` by a sixteenth (rounded down to `unit`) rather than leave a
/// sliver: k = 2049 with KC = 1024 is two blocks of 1025, not three of 683 that
/// cost a third more passes over C (2049^3 was about 10% slower than 2048^3). The
/// blocking model leaves each block half its cache, so the slack still fits.
fn balanced(total: usize, max: usize, unit: usize) -> usize {
    let cap = ((max + max / 16) / unit * unit).max(max);
    let blocks = total.div_ceil(cap).max(1);
    (total.div_ceil(blocks).div_ceil(unit) * unit).clamp(unit, cap)
}

/// Spawns `workers - 1` helpers running `work`, then runs it on this thread and
/// spins until the helpers that started are done. Blocking in the scope instead
/// would put this thread to sleep for the last few microseconds, and waking it
/// (and then the helpers, asleep by the next call) costs tens of microseconds on
/// a virtual machine: 256^3 on two threads went from 1.3x to 1.5x. A helper
/// that starts later finds no work, and the scope still waits for it.
///
/// With a caller outside a pool of N threads, the pool's N-th thread has no
/// part, but rayon wakes a sleeping thread as a thief whenever an idle one
/// takes a job, and that thread sometimes takes the next helper's job on the
/// caller's core. On the two-core VM the helpers started 38-426 microseconds
/// after the spawn on average at 512^3-2048^3 (2-9 with a pool of one thread,
/// where there is no such thread). Running the whole call on the pool's threads
/// instead, the caller blocked, measured 0.97 at 256^3 and 0.99-1.06 from 384^3
/// to 2049^3 (BENCHMARKS.md): not taken, since the caller would no longer
/// compute. A caller that is itself one of the pool's threads (a pool built
/// with `use_current_thread`, or a call from a rayon task) leaves no thread
/// idle: its helpers started 3-6 microseconds after the spawn at 512^3 (5-190
/// from outside the pool, mostly over 30). The benchmark runs that way
/// (README, Threads).
fn spawn_and_work<'s>(s: &rayon::Scope<'s>, workers: usize, busy: &'s AtomicUsize, work: &'s (impl Fn() + Sync)) {
    for _ in 1..workers {
        s.spawn(move |_| {
            busy.fetch_add(1, Ordering::Relaxed);
            work();
            busy.fetch_sub(1, Ordering::Release);
        });
    }
    work();
    while busy.load(Ordering::Acquire) != 0 {
        std::hint::spin_loop();
    }
}

unsafe fn five_loops<T: Element>(ctx: &Ctx<T>, threads: usize, pool: Option<&rayon::ThreadPool>) {
    let (kern, mr, nr, blk) = (ctx.kern, ctx.shape.mr, ctx.shape.nr, ctx.blk);
    // Scalars copied out; the closures reach pointers only through `ctx` (Sync).
    // `a_in_place`: full MR-row panels of a row-major A are read in place, the
    // rows at their own stride; only a transposed A and edge panels are packed
    // (see `reads_a_in_place`). The micro-kernel streams each row of the panel,
    // which costs little over a packed panel once it is in L1, and saves a copy
    // of A per block.
    let (m, n, k) = (ctx.p.m, ctx.p.n, ctx.p.k);
    let (unit_cols, a_in_place) = (ctx.p.csc == 1, reads_a_in_place(&ctx.p));
    let fuse_b = packs_b_in_first_tiles(&ctx.p);
    for ic in (0..m).step_by(blk.mc) {
        let mc = blk.mc.min(m - ic);
        let panels = mc.div_ceil(mr);
        for pc in (0..k).step_by(blk.kc) {
            let kc = blk.kc.min(k - pc);
            let beta = if pc == 0 { ctx.p.beta } else { T::ONE };
            for jc in (0..n).step_by(blk.nc) {
                let nc = blk.nc.min(n - jc);
                let strips = nc.div_ceil(nr);
                // Lanes: lane `l` owns a part of B's strips, which it packs (with a
                // share of the A panels to pack, once per pc, with the first jc
                // block) and then multiplies by every A panel, one compute item per
                // panel. So a worker's strips stay near its core while A streams
                // from the shared L3, and each A panel stays in L1 across the strips.
                let lanes = lanes_for(threads, strips);
                // The A panels to pack: all, or with A in place only a ragged last
                // one, in the buffer's first slot.
                let a_first = if a_in_place { mc / mr } else { 0 };
                let a_slot = |pi: usize| (pi - a_first) * kc * mr;
                let a_packs = if jc == 0 { panels - a_first } else { 0 };
                // A lane's panels of A and its strips of B are each packed
                // together, a chunk of columns of A or rows of B per item, so each
                // read of a transposed A (a column) or of a row-major B (a row) is
                // as long as the lane's share is wide.
                let chunks = kc.div_ceil(PACK_CHUNK);
                // Chunk `c` of the depth: its first index and its length.
                let chunk = |c: usize| (c * PACK_CHUNK, PACK_CHUNK.min(kc - c * PACK_CHUNK));
                let a_items = |l: usize| if part(a_packs, lanes, l).is_empty() { 0 } else { chunks };
                // With `fuse`, the tile of the first panel of A (a whole one, in
                // place or packed by then) and each whole strip packs that strip as
                // it reads it (`micro.pack_b`), so B needs no pass of its own: only
                // a ragged last strip is packed here. The lane's other tiles wait
                // for that first item (`par_phases`).
                let fuse = fuse_b && mc >= mr;
                let whole = nc / nr;
                let b_strips = |l: usize| {
                    let lane = part(strips, lanes, l);
                    if fuse {
                        lane.start.max(whole)..lane.end.max(whole)
                    } else {
                        lane
                    }
                };
                let b_items = |l: usize| if b_strips(l).is_empty() { 0 } else { chunks };
                let packs = |l: usize| a_items(l) + b_items(l);
                let pack = |l: usize, j: usize| {
                    if j < a_items(l) {
                        let (p0, cols) = chunk(j);
                        let lane = part(a_packs, lanes, l);
                        let (ir, end) = ((a_first + lane.start) * mr, ((a_first + lane.end) * mr).min(mc));
                        let src = ctx.p.a.wrapping_add((ic + ir) * ctx.p.rsa + (pc + p0) * ctx.p.csa);
                        let dst = unsafe { ctx.bufs.a.add(a_slot(a_first + lane.start) + p0 * mr) };
                        unsafe { (kern.pack_lhs)(end - ir, cols, src, ctx.p.rsa, ctx.p.csa, dst, kc * mr) };
                    } else {
                        let (p0, rows) = chunk(j - a_items(l));
                        let lane = b_strips(l);
                        let (jr, end) = (lane.start * nr, (lane.end * nr).min(nc));
                        let src = ctx.p.b.wrapping_add((pc + p0) * ctx.p.rsb + (jc + jr) * ctx.p.csb);
                        let dst = unsafe { ctx.bufs.b.add(lane.start * kc * nr + p0 * nr) };
                        unsafe { (kern.pack_rhs)(rows, end - jr, src, ctx.p.rsb, ctx.p.csb, dst, kc * nr) };
                    }
                };
                // B's next block in the loop order (the first again after the
                // last, for the next A block; none after the call's last block),
                // fetched into L2 while this one is computed, where B is
                // row-major, so that its packing reads it from the caches, not
                // from memory (each row of a wide B starts a page, which the
                // hardware prefetchers do not cross). Each lane fetches the part
                // of it that it will pack: its `t`-th micro-kernel call (counted
                // panel by panel over the lane's strips) fetches the `t`-th line
                // of every row of that part, and calls past the part's width fetch
                // their own strip, which is there already. One thread, in-process
                // paired over 15-21 rounds: 32x4096x4096 1.05-1.13, 64x4096x4096
                // 1.07, square 512-2049 0.99-1.01.
                let far = if jc + nc < n {
                    Some((pc, jc + nc))
                } else if pc + kc < k {
                    Some((pc + kc, 0))
                } else if ic + mc < m {
                    Some((0, 0))
                } else {
                    None
                };
                let far = far.filter(|_| ctx.p.csb == 1);
                // Lane `l`'s part of the next block: its first line and its width
                // in lines (zero where the lane has none).
                let far_lane = |l: usize| {
                    let Some((far_pc, far_jc)) = far else {
                        return (ctx.p.b, 0);
                    };
                    let far_nc = blk.nc.min(n - far_jc);
                    let far_strips = far_nc.div_ceil(nr);
                    let far_lanes = lanes_for(threads, far_strips);
                    if l >= far_lanes {
                        return (ctx.p.b, 0);
                    }
                    let cols = part(far_strips, far_lanes, l);
                    let (j0, j1) = (cols.start * nr, (cols.end * nr).min(far_nc));
                    let first = ctx.p.b.wrapping_add(far_pc * ctx.p.rsb + far_jc + j0);
                    (first, ((j1 - j0) * size_of::<T>()).div_ceil(LINE))
                };
                let compute = |l: usize, pi: usize, worker: usize| {
                    let (ir, h) = (pi * mr, mr.min(mc - pi * mr));
                    // A's panel in place (rows at their stride) or packed (columns of
                    // MR), with the micro-kernel instances for each.
                    let (ap, rs_ap, cs_ap, micro) = if pi < a_first {
                        let ap = ctx.p.a.wrapping_add((ic + ir) * ctx.p.rsa + pc);
                        (ap, ctx.p.rsa, 1, &kern.in_place)
                    } else {
                        let ap = unsafe { ctx.bufs.a.add(a_slot(pi)) }.cast_const();
                        (ap, 1, mr, &kern.packed)
                    };
                    let tile = unsafe { ctx.bufs.tiles.add(worker * ctx.bufs.tile_len) };
                    let lane = part(strips, lanes, l);
                    let (far_first, far_lines) = far_lane(l);
                    for sj in lane.clone() {
                        let (jr, w) = (sj * nr, nr.min(nc - sj * nr));
                        let bp = unsafe { ctx.bufs.b.add(sj * kc * nr) };
                        let t = pi * lane.len() + sj - lane.start;
                        let (far, far_ld) = if t < far_lines {
                            (far_first.wrapping_add(t * LINE / size_of::<T>()).cast_mut(), ctx.p.rsb)
                        } else {
                            (bp, nr)
                        };
                        let cij = ctx.p.c.wrapping_add((ic + ir) * ctx.p.rsc + (jc + jr) * ctx.p.csc);
                        let (alpha, rsc, csc) = (ctx.p.alpha, ctx.p.rsc, ctx.p.csc);
                        if fuse && pi == 0 && w == nr {
                            let src = ctx.p.b.wrapping_add(pc * ctx.p.rsb + jc + jr);
                            let dst = unsafe { ctx.bufs.b.add(sj * kc * nr) };
                            unsafe { (micro.pack_b)(kc, alpha, ap, rs_ap, cs_ap, src, ctx.p.rsb, dst, beta, cij, rsc) };
                        } else if unit_cols && h == mr && w == nr {
                            unsafe { (micro.full)(kc, alpha, ap, rs_ap, cs_ap, bp, far_ld, far, beta, cij, rsc) };
                        } else {
                            let edge = micro.for_edge(h, w, ctx.shape.lanes);
                            unsafe { edge(kc, T::ONE, ap, rs_ap, cs_ap, bp, far_ld, far, T::ZERO, tile, nr) };
                            unsafe { apply_tile(&kern, h, w, alpha, tile, nr, beta, cij, rsc, csc) };
                        }
                    }
                };
                par_phases(threads, pool, lanes, packs, pack, panels, fuse, compute);
            }
        }
    }
}

/// `C = alpha * P + beta * C` for an `h x w` tile `P` (row stride `ldp`): the
/// generated output kernel where C has unit column stride, else `apply_strided`.
///
/// # Safety
/// As for `apply_packed_output`, with C at strides `(rsc, csc)`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn apply_tile<T: Element>(
    kern: &ElemKernels<T>,
    h: usize,
    w: usize,
    alpha: T,
    p: *const T,
    ldp: usize,
    beta: T,
    c: *mut T,
    rsc: usize,
    csc: usize,
) {
    if csc == 1 {
        unsafe { (kern.apply)(h, w, alpha, p, ldp, beta, c, rsc) };
    } else {
        unsafe { apply_strided(h, w, alpha, p, ldp, beta, c, rsc, csc) };
    }
}

/// `C = alpha * P + beta * C` for a C with no unit stride (rare: both strides > 1).
#[allow(clippy::too_many_arguments)]
unsafe fn apply_strided<T: Element>(
    m: usize,
    n: usize,
    alpha: T,
    p: *const T,
    ldp: usize,
    beta: T,
    c: *mut T,
    rsc: usize,
    csc: usize,
) {
    for i in 0..m {
        for j in 0..n {
            let x = alpha * unsafe { *p.add(i * ldp + j) };
            let dst = unsafe { &mut *c.add(i * rsc + j * csc) };
            *dst = if beta == T::ZERO { x } else { x + beta * *dst };
        }
    }
}

/// `C = beta * C` (k == 0 or alpha == 0): A and B are not read; `beta == 0`
/// writes zeros without reading C.
unsafe fn scale<T: Element>(p: Problem<T>) {
    if p.beta == T::ONE {
        return;
    }
    for i in 0..p.m {
        for j in 0..p.n {
            let dst = unsafe { &mut *p.c.add(i * p.rsc + j * p.csc) };
            *dst = if p.beta == T::ZERO { T::ZERO } else { p.beta * *dst };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Element;

    /// What the loops assume of the instance constants they read (the dispatch
    /// table's `consts`; the differential test checks each against the
    /// instance's own): the small blocks shrink to one row; the edge instances
    /// `Micro::for_edge` picks cover 1 to 3 vectors in order and the short one
    /// fewer rows than the tile; the dot-product sums fit the edge tile.
    fn instances_fit_the_loops<T: Element>(t: &crate::Target) {
        let (k, s) = (T::kernels(t), T::shape(t));
        for blocks in [k.small, k.small_t] {
            let rows = blocks.map(|(r, _)| r);
            assert!(
                rows.windows(2).all(|w| w[0] >= w[1]) && rows[3] == 1,
                "{}: {rows:?}",
                t.name
            );
        }
        for m in [k.in_place, k.packed] {
            let [narrow, two, three] = m.vecs;
            assert!(
                1 <= narrow && narrow <= two && two <= three && three <= s.nr / s.lanes,
                "{}",
                t.name
            );
            assert!(m.short_rows < s.mr, "{}", t.name);
        }
        assert!(k.dot_rows >= 1 && k.dot_rows * 4 * s.lanes <= s.mr * s.nr, "{}", t.name);
    }

    #[test]
    fn instance_constants_fit_the_loops() {
        for t in crate::compiled() {
            instances_fit_the_loops::<f32>(t);
            instances_fit_the_loops::<f64>(t);
        }
    }

    /// Runs from one counter cover every item once, in order, each a `share`-th
    /// of what was left (at least one), and nothing past the end.
    #[test]
    fn claims_are_shrinking_runs_covering_every_item_once() {
        for (n, share) in [(0, 8), (1, 8), (7, 8), (43, 8), (43, 4), (1000, 16)] {
            let counter = super::Counter::default();
            let (mut next, mut lens) = (0, vec![]);
            while let Some(run) = counter.claim(n, share) {
                assert_eq!(run.start, next, "n {n} share {share}");
                assert_eq!(run.len(), ((n - next) / share).max(1), "n {n} share {share}");
                next = run.end;
                lens.push(run.len());
            }
            assert_eq!(next, n);
            assert!(lens.windows(2).all(|w| w[0] >= w[1]), "{lens:?}");
            assert!(counter.claim(n, share).is_none());
        }
    }
}
