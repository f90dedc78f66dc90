//! The kernel source language.
//!
//! Kernels are ordinary Rust: `#[kernel] pub unsafe fn base_<name><V: Trait>(..)`,
//! generic over the portable vector traits in [`vec`](mod@vec). They compile and run with
//! the scalar reference implementation in [`reference`](mod@reference), so every kernel is its
//! own oracle; `cargo run -p generator` reads this crate *as text* and emits one
//! plain-intrinsics function per kernel, element type and target into
//! `generated/`. A kernel may also take `const` parameters and list its instances
//! in the attribute (`#[kernel(name(ROWS = V::MR), name_short(ROWS = V::MR / 2))]`,
//! see [`base_microkernel`]): one function per instance.
//!
//! See the README ("Writing a kernel") for the rules the generator enforces.

// A kernel body is one unsafe region (raw pointers and intrinsics throughout), as
// in the generated code; per-op `unsafe` blocks would only add noise.
#![allow(unsafe_op_in_unsafe_fn)]
// BLAS-style kernels take (m, n, alpha, a, lda, beta, c, ldc, ..) as plain arguments.
#![allow(clippy::float_cmp, clippy::too_many_arguments)]

pub mod apply;
pub mod epilogue;
pub mod gemv;
pub mod gemv_dot;
pub mod microkernel;
pub mod pack;
pub mod reference;
pub mod vec;

pub use apply::base_apply_packed_output;
pub use epilogue::base_epilogue;
pub use gemv::{base_gemv_axpy, base_gemv_dot};
pub use gemv_dot::base_gemv_dotprod;
pub use microkernel::{base_dot_edge, base_gemm_small, base_microkernel, base_microkernel_dot};
pub use pack::{
    base_pack_bf16_lhs, base_pack_bf16_rhs, base_pack_dot_lhs, base_pack_dot_rhs, base_pack_lhs, base_pack_rhs,
};
pub use reference::{Ref, Tile, bf16_to_f32};
pub use vec::{DotVec, FloatVec};

#[cfg(test)]
mod tests;
