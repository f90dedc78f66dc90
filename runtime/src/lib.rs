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
//! views ([`MatRef`], [`MatMut`]), with BLAS semantics (`beta == 0` never reads
//! C) and a [`GemmError`] naming the bad argument; [`matmul`] is the contiguous
//! row-major shorthand.
//!
//! ```
//! let (a, b) = ([1.0f64, 2.0, 3.0, 4.0], [5.0f64, 6.0, 7.0, 8.0]); // 2 x 2 each
//! let mut c = [0.0f64; 4];
//! gemmkit::matmul(2, 2, 2, &a, &b, &mut c)?;
//! assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
//! # Ok::<(), gemmkit::GemmError>(())
//! ```
//!
//! # Views, transposes and sub-matrices
//!
//! A view is a slice with a shape and strides: row-major, column-major, with a
//! leading dimension, or any strides. Transposes ([`MatRef::t`]) and
//! sub-matrices ([`MatRef::submatrix`], [`MatMut::submatrix_mut`]) are views
//! of the same data and cost nothing; [`MatRef::get`] reads an element, and
//! [`MatMut::rb_mut`] reborrows an output view so one view serves a loop of
//! calls. With the `ndarray` feature, `gemmkit::ndarray::gemm` takes
//! `ArrayView2`/`ArrayViewMut2` of any layout.
//!
//! ```
//! use gemmkit::{MatMut, MatRef, gemm};
//! let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3, row-major
//! let mut out = [0.0f32; 9];
//! let mut c = MatMut::row_major(&mut out, 3, 3);
//! // C = Aᵀ A (3 x 3): the transpose is the same slice read column-major.
//! gemm(1.0, MatRef::row_major(&a, 2, 3).t(), MatRef::row_major(&a, 2, 3), 0.0, c.rb_mut())?;
//! assert_eq!(c.get_mut(2, 2).copied(), Some(45.0));
//! // Then C[1.., 1..] += 10 * (the 2 x 2 block of A on its right) ᵀ I.
//! let eye = [1.0f32, 0.0, 0.0, 1.0];
//! let block = MatRef::row_major(&a, 2, 3).submatrix(0, 1, 2, 2)?;
//! gemm(10.0, block.t(), MatRef::row_major(&eye, 2, 2), 1.0, c.submatrix_mut(1, 1, 2, 2)?)?;
//! assert_eq!(out[8], 45.0 + 60.0);
//! # Ok::<(), gemmkit::GemmError>(())
//! ```
//!
//! # Errors
//!
//! Shapes, strides and slice lengths are checked before anything is read or
//! written; a [`GemmError`] names the argument at fault, and a target this CPU
//! cannot run is one too ([`GemmError::Target`]).
//!
//! ```
//! use gemmkit::{GemmError, MatMut, MatRef, gemm};
//! let a = [1.0f32; 4];
//! let mut c = [0.0f32; 4];
//! // A view of 3 x 2 over 4 elements reaches past its slice.
//! let err = gemm(1.0, MatRef::row_major(&a, 3, 2), MatRef::row_major(&a, 2, 2), 0.0, MatMut::row_major(&mut c, 3, 2));
//! assert!(matches!(err, Err(GemmError::OutOfBounds { arg: "a", .. })));
//! assert_eq!(c, [0.0; 4]); // nothing written
//! ```
//!
//! # Batched calls
//!
//! [`gemm_batch`] runs a slice of problems of any shapes, [`gemm_batch_strided`]
//! equally shaped ones stored at a fixed stride ([`BatchLayout`]); with at least
//! twice as many problems as threads, whole problems go to threads.
//!
//! ```
//! use gemmkit::{BatchLayout, Parallelism, gemm_batch_strided};
//! // 8 problems of 4 x 4 times 4 x 4, all with B = I stored once (stride 0).
//! let a: Vec<f32> = (0..8 * 16).map(|v| v as f32).collect();
//! let eye: Vec<f32> = (0..16).map(|i| if i % 5 == 0 { 1.0 } else { 0.0 }).collect();
//! let mut c = vec![0.0f32; 8 * 16];
//! let one = BatchLayout::row_major(8, 4, 4);
//! let shared = BatchLayout { batch_stride: 0, ..one };
//! gemm_batch_strided(&Parallelism::Rayon, 1.0, &a, one, &eye, shared, 0.0, &mut c, one)?;
//! assert_eq!(c, a);
//! # Ok::<(), gemmkit::GemmError>(())
//! ```
//!
//! # Threads
//!
//! Threads come from rayon: by default the pool the call runs in, or the one a
//! [`Parallelism`] names, through [`gemm_with`]; [`set_num_threads`] (or
//! `GEMMKIT_NUM_THREADS`) caps them. Small problems stay on one thread.
//! Results are bit-identical for any thread count, and a process that forks
//! after a threaded call computes correctly in the child.
//!
//! ```
//! use gemmkit::{MatMut, MatRef, Parallelism, gemm_with};
//! let n = 300;
//! let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 - 3.0).collect();
//! let (mut one, mut many) = (vec![0.0f32; n * n], vec![0.0f32; n * n]);
//! let t = gemmkit::best();
//! let av = MatRef::row_major(&a, n, n);
//! gemm_with(t, &Parallelism::Sequential, 1.0, av, av.t(), 0.0, MatMut::row_major(&mut one, n, n))?;
//! gemm_with(t, &Parallelism::Rayon, 1.0, av, av.t(), 0.0, MatMut::row_major(&mut many, n, n))?;
//! assert_eq!(one, many);
//! # Ok::<(), gemmkit::GemmError>(())
//! ```
//!
//! # Low precision: int8 and bf16
//!
//! The low-precision GEMMs run through the same loops, views, targets and
//! threads: [`gemm_u8s8s32`] and [`gemm_s8s8s32`] (int8 to `i32`, exact, with
//! oneDNN/MKL's offsets, [`COffset`]) and [`gemm_bf16`] (`half::bf16` to
//! `f32`), each with a `_with` variant taking a target and a [`Parallelism`].
//! Each target uses its best dot-product instruction (AVX-512 VNNI/BF16,
//! AVX-VNNI, NEON dotprod/i8mm, WASM relaxed-simd).
//!
//! ```
//! use gemmkit::{COffset, MatMut, MatRef, gemm_bf16, gemm_u8s8s32};
//! use half::bf16;
//! // Quantised activations (u8, zero point 128) times int8 weights.
//! let (x, w) = ([130u8, 126, 128, 129], [3i8, -2, 1, 5]); // 1 x 4 and 4 x 1
//! let mut y = [0i32];
//! gemm_u8s8s32(1.0, MatRef::row_major(&x, 1, 4), 128, MatRef::row_major(&w, 4, 1), 0,
//!              0.0, MatMut::row_major(&mut y, 1, 1), COffset::Fixed(0))?;
//! assert_eq!(y, [2 * 3 + (-2) * (-2) + 0 + 1 * 5]);
//! // bf16 inputs, f32 output.
//! let a = [1.5f32, -2.0].map(bf16::from_f32);
//! let b = [4.0f32, 0.25].map(bf16::from_f32);
//! let mut c = [0.0f32];
//! gemm_bf16(1.0, MatRef::row_major(&a, 1, 2), MatRef::row_major(&b, 2, 1), 0.0, MatMut::row_major(&mut c, 1, 1))?;
//! assert_eq!(c, [5.5]);
//! # Ok::<(), gemmkit::GemmError>(())
//! ```
//!
//! # Plans, tuning and blocking
//!
//! A bias and an activation can follow the product, fused ([`Epilogue`],
//! [`Bias`], [`Activation`]: ReLU, SiLU, GELU in its tanh and erf forms):
//! [`gemm_fused`], [`gemm_packed_fused`], [`gemm_bf16_fused`] and
//! [`gemm_bf16_packed_fused`], for `f32` C. An int8 product dequantised to
//! `f32` takes them too: [`gemm_u8s8f32`] and its `s8s8` and packed forms,
//! `C = act(scale * (A - a_offset) * (B - b_offset) + bias)` with one
//! [`Scale`] or one per column, a quantised linear layer in one call:
//!
//! ```
//! use gemmkit::{Activation, Bias, Epilogue, MatMut, MatRef, PackedB, Scale, gemm_u8s8f32_packed};
//! let w = [2i8, -1, 1, 3]; // 2 x 2 weights, per-column scales below
//! let packed = PackedB::new(MatRef::row_major(&w, 2, 2))?;
//! let x = [129u8, 131]; // activations, zero point 128
//! let mut y = [0.0f32; 2];
//! let epilogue = Epilogue::new(Bias::PerColumn(&[0.5, -1.0]), Activation::Relu);
//! gemm_u8s8f32_packed(MatRef::row_major(&x, 1, 2), 128, &packed, 0, MatMut::row_major(&mut y, 1, 2), Scale::PerColumn(&[0.25, 0.5]), &epilogue)?;
//! assert_eq!(y, [1.75, 3.0]); // relu(0.25 * 5 + 0.5), relu(0.5 * 8 - 1)
//! # Ok::<(), gemmkit::GemmError>(())
//! ```
//!
//! Every call first makes a [`Plan`] (the orientation, the path, the blocks,
//! the threads, the edge instances); [`plan`] returns it for printing, and its
//! thresholds ([`Tuning`]) are each target's data, read with [`tuning`] and
//! overridden with [`set_tuning`]. Cache blocking follows the cache sizes the
//! machine reports ([`Blocking`], [`CacheSizes`], [`set_blocking`]).
//! [`gemm_raw`] is the unchecked entry on raw pointers and strides, for
//! callers that validated their arguments (the BLAS ABI).
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
//! [`gemm_on`] runs on it:
//!
//! ```
//! use gemmkit::{MatMut, MatRef};
//! let portable = gemmkit::target("fallback")?; // scalar code, on any CPU
//! let (a, mut c) = ([2.0f32], [0.0f32]);
//! gemmkit::gemm_on(portable, 1.0, MatRef::row_major(&a, 1, 1), MatRef::row_major(&a, 1, 1), 0.0, MatMut::row_major(&mut c, 1, 1))?;
//! assert_eq!(c, [4.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod api;
mod batch;
mod blocking;
mod dequant;
mod dispatch;
mod dot;
mod dot_gemv;
mod driver;
mod edge;
mod error;
mod family;
mod fused;
mod gemv;
mod lowp;
mod mat;
#[cfg(feature = "ndarray")]
pub mod ndarray;
mod output;
mod packed;
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
pub use dequant::{
    Scale, gemm_s8s8f32, gemm_s8s8f32_packed, gemm_s8s8f32_packed_with, gemm_s8s8f32_with, gemm_u8s8f32,
    gemm_u8s8f32_packed, gemm_u8s8f32_packed_with, gemm_u8s8f32_with,
};
pub use dispatch::{TargetError, active, available, best, compiled, set_active, target};
pub use error::GemmError;
pub use family::Element;
pub use fused::{
    Activation, Bias, Epilogue, gemm_bf16_fused, gemm_bf16_fused_with, gemm_bf16_packed_fused,
    gemm_bf16_packed_fused_with, gemm_fused, gemm_fused_with, gemm_packed_fused, gemm_packed_fused_with,
};
pub use generated::{ALL_TARGETS, DotKernels, FloatKernels, Shape, Shapes, Target, Tuning};
pub use lowp::{
    COffset, gemm_bf16, gemm_bf16_with, gemm_s8s8s32, gemm_s8s8s32_packed, gemm_s8s8s32_packed_with, gemm_s8s8s32_with,
    gemm_u8s8s32, gemm_u8s8s32_packed, gemm_u8s8s32_packed_with, gemm_u8s8s32_with,
};
pub use mat::{MatMut, MatRef};
pub use packed::{
    Packable, PackedB, PackedBRef, gemm_bf16_packed, gemm_bf16_packed_with, gemm_packed, gemm_packed_with,
};
pub use parallel::{Parallelism, num_threads, set_num_threads};
pub use plan::{Blocked, Edges, Gemv, GemvForm, Path, Plan, Tile, plan, set_tuning, tuning};
