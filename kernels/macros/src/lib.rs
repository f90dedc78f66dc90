//! `#[kernel]`: marks a kernel for the generator and keeps it valid Rust.
//!
//! Kernels mark register-blocked loops with `#[unroll]` for the generator. Rust has
//! no such attribute, and attribute macros on statements are unstable, so the
//! function-level `#[kernel]` attribute removes every `#[unroll]` before rustc sees
//! the body. Nothing else changes: the kernel runs as written on the scalar
//! reference implementation. Dependency-free on purpose (no syn): it only walks
//! token trees.

use proc_macro::{Delimiter, Group, TokenStream, TokenTree};

/// Marks `pub unsafe fn base_*` as a kernel and strips its `#[unroll]` markers.
///
/// A kernel with `const` parameters lists its instances as arguments, each a
/// generated function's name and a value for every `const` parameter:
/// `#[kernel(microkernel(ROWS = V::MR), microkernel_short(ROWS = V::MR / 2))]`.
/// The arguments are the generator's (which checks them); here they are ignored,
/// and the reference implementation takes the `const` parameters as written.
#[proc_macro_attribute]
pub fn kernel(_instances: TokenStream, item: TokenStream) -> TokenStream {
    strip_unroll(item)
}

fn strip_unroll(stream: TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if is_unroll_attr(&tokens[i..]) {
            i += 2;
            continue;
        }
        out.push(match &tokens[i] {
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), strip_unroll(g.stream()));
                ng.set_span(g.span());
                TokenTree::Group(ng)
            }
            other => other.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

/// `#` followed by `[unroll]`.
fn is_unroll_attr(tokens: &[TokenTree]) -> bool {
    let [TokenTree::Punct(hash), TokenTree::Group(g), ..] = tokens else {
        return false;
    };
    if hash.as_char() != '#' || g.delimiter() != Delimiter::Bracket {
        return false;
    }
    let inner: Vec<TokenTree> = g.stream().into_iter().collect();
    matches!(inner.as_slice(), [TokenTree::Ident(id)] if id.to_string() == "unroll")
}
