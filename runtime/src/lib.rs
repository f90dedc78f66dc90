//! gemmkit: GEMM built from SIMD kernels written once and generated per target.
//!
//! The kernels are written in `kernels/` against a portable vector API and
//! expanded by `cargo run -p generator` into plain-intrinsics Rust for every
//! target (AVX2, AVX-VNNI, AVX-512 and its VNNI and BF16 levels, NEON and its
//! dotprod/i8mm levels, WASM SIMD128 and relaxed-simd, and a scalar fallback).
//! This crate depends on that generated code (the `gemmkit-generated` crate,
//! re-exported as [`generated`]), picks the best target the CPU supports once
//! per process, and builds GEMM on it.
//!
//! # GEMM
//!
//! [`gemm`] computes `C = alpha * A * B + beta * C` for `f32` and `f64` on strided
//! views ([`MatRef`], [`MatMut`]; transposes and sub-matrices cost nothing), with
//! BLAS semantics (`beta == 0` never reads C) and a [`GemmError`] naming the bad
//! argument; [`matmul`] is the contiguous row-major shorthand. Views give
//! sub-matrices ([`MatRef::submatrix`], [`MatMut::submatrix_mut`]), elements
//! ([`MatRef::get`]) and reborrows ([`MatMut::rb_mut`], to use one output view
//! in a loop); with the `ndarray` feature, `gemmkit::ndarray::gemm` takes
//! `ArrayView2`/`ArrayViewMut2` of any layout.
//!
//! ```
//! let (a, b) = ([1.0f64, 2.0, 3.0, 4.0], [5.0f64, 6.0, 7.0, 8.0]); // 2 x 2 each
//! let mut c = [0.0f64; 4];
//! gemmkit::matmul(2, 2, 2, &a, &b, &mut c)?;
//! assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
//! # Ok::<(), gemmkit::GemmError>(())
//! ```
//!
//! Threads come from rayon: by default the pool the call runs in, or
//! [`Parallelism`] through [`gemm_with`]; [`set_num_threads`] caps them. Results
//! are bit-identical for any thread count. [`gemm_batch`] and
//! [`gemm_batch_strided`] run many problems.
//!
//! The low-precision GEMMs run through the same loops: [`gemm_u8s8s32`] and
//! [`gemm_s8s8s32`] (int8 to `i32`, with oneDNN/MKL's offsets, [`COffset`])
//! and [`gemm_bf16`] (`half::bf16` to `f32`), each with a `_with` variant
//! taking a target and a [`Parallelism`]. Cache blocking follows the cache
//! sizes the machine reports ([`Blocking`], [`set_blocking`]). A process that
//! forks after a threaded call computes correctly in the child.
//!
//! Every call first makes a [`Plan`] (the orientation, the path, the blocks,
//! the threads, the edge instances); [`plan`] returns it for printing, and its
//! thresholds ([`Tuning`]) are each target's data, read with [`tuning`] and
//! overridden with [`set_tuning`]. [`gemm_raw`] is the unchecked entry on raw
//! pointers and strides, for callers that validated their arguments (the
//! BLAS ABI).
//!
//! # Debug builds
//!
//! Built with Cargo's default `dev` profile, this crate is not optimised and
//! GEMM runs two orders of magnitude slower than in release. Optimise it and
//! its kernels (the `gemmkit-generated` crate it depends on) in your debug
//! builds with, in your `Cargo.toml`:
//!
//! ```toml
//! [profile.dev.package.gemmkit]
//! opt-level = 3
//! [profile.dev.package.gemmkit-generated]
//! opt-level = 3
//! ```
//!
//! (`[profile.dev.package."*"]` with `opt-level = 3` optimises every
//! dependency instead.)
//!
//! # Targets
//!
//! ```
//! let t = gemmkit::active().expect("HWY_TARGET names a usable target");
//! println!("running {} ({})", t.name, t.summary);
//! for t in gemmkit::available() {
//!     println!("this CPU can also run {}", t.name);
//! }
//! ```
//!
//! Set `HWY_TARGET=<name>` to force a target (see [`active`]), or call
//! [`set_active`]; [`target`] looks one up without changing the default, and
//! [`gemm_on`] runs on it.

mod api;
mod batch;
mod blocking;
mod dispatch;
mod dot;
mod driver;
mod edge;
mod error;
mod family;
mod lowp;
mod mat;
#[cfg(feature = "ndarray")]
pub mod ndarray;
mod output;
mod parallel;
mod plan;
mod problem;
mod scratch;
mod small;

/// The generated kernels: one module per compiled-in target and the dispatch
/// tables ([`Target`], its typed kernel tables [`FloatKernels`] and
/// [`DotKernels`]), written by `cargo run -p generator` from `kernels/src`:
/// the `gemmkit-generated` crate, released with this one (which pins its
/// exact version) and documented here.
///
/// A documented unsafe API for callers that want one kernel rather than a
/// GEMM (the differential and disassembly tests call them so). Every kernel
/// is `unsafe` to call: it may only run on a CPU that supports its target
/// (take the table from [`active`], [`best`], [`available`] or [`target`],
/// never a module this CPU lacks), and it trusts its pointer arguments as its
/// `# Safety` section says.
///
/// ```
/// let t = gemmkit::best();
/// let (mut dst, src) = ([0.0f32; 4], [1.0f32, 2.0, 3.0, 4.0]);
/// // dst = 2 * src for one 2 x 2 tile (the output kernel, unit column stride).
/// // SAFETY: `t` runs on this CPU; the pointers cover the 2 x 2 tiles.
/// unsafe { (t.f32.apply_packed_output)(2, 2, 2.0, src.as_ptr(), 2, 0.0, dst.as_mut_ptr(), 2) };
/// assert_eq!(dst, [2.0, 4.0, 6.0, 8.0]);
/// ```
pub mod generated {
    pub use gemmkit_generated::*;
}

pub use api::{gemm, gemm_on, gemm_raw, gemm_with, matmul};
pub use batch::{BatchLayout, gemm_batch, gemm_batch_strided};
pub use blocking::{Blocking, CacheSizes, set_blocking};
pub use dispatch::{TargetError, active, available, best, compiled, set_active, target};
pub use error::GemmError;
pub use family::Element;
pub use generated::{ALL_TARGETS, DotKernels, FloatKernels, Shape, Shapes, Target, Tuning};
pub use lowp::{COffset, gemm_bf16, gemm_bf16_with, gemm_s8s8s32, gemm_s8s8s32_with, gemm_u8s8s32, gemm_u8s8s32_with};
pub use mat::{MatMut, MatRef};
pub use parallel::{Parallelism, num_threads, set_num_threads};
pub use plan::{Blocked, Edges, Path, Plan, Tile, plan, set_tuning, tuning};
