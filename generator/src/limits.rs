//! Limits that keep the generator's stack bounded on any input.
//!
//! syn's parser and the generator's passes (and syn's own `Clone`, `Drop` and
//! printing, and prettyplease) recurse once per nesting level, so input nested
//! deeply enough would overflow the stack, which aborts the process. Three
//! measures keep that from happening:
//!
//! 1. the work runs on a thread with a [`STACK_SIZE`] stack ([`on_big_stack`]);
//! 2. before syn sees a file, [`token_nesting`] bounds how deep syn can recurse
//!    on it, from the tokens alone, without recursion of its own;
//! 3. after parsing, [`tree_depth`] limits the syntax tree to [`MAX_DEPTH`]
//!    levels, far below what the stack allows, so no later pass can come near it.
//!
//! Each refusal is a [`Diagnostic`] at the code that crosses the limit.

use crate::diag::{Diagnostic, Error, Source};
use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree, token_stream};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

/// The stack of the thread that parses and lowers. Up to [`MAX_TOKEN_NESTING`]
/// open tokens, syn needs at most about 5 KiB of stack per token (measured on
/// nested blocks, its deepest recursion per token, in this workspace's dev
/// profile); this leaves a wide margin. Only the pages used are ever committed.
pub const STACK_SIZE: usize = 256 << 20;

/// The most tokens that may be "open" at any point of a kernel source: the
/// tokens of every statement, argument or item that encloses the point and has
/// not ended yet (see [`token_nesting`]). Real kernels stay under a few hundred.
pub const MAX_TOKEN_NESTING: usize = 8192;

/// The deepest a parsed file may nest expressions, blocks, types, patterns and
/// items, one level each. Real kernels nest about 20 deep; every pass after
/// parsing recurses at most this deep (times a small factor for templates).
pub const MAX_DEPTH: usize = 128;

const HELP: &str = "bind parts of it to `let`s, or flatten the nesting: the generator stops here \
                    rather than run out of stack";

/// Runs `f` on a thread with a [`STACK_SIZE`] stack and returns its result; a
/// panic in `f` (a bug) is resumed on the caller's thread.
pub fn on_big_stack<R: Send>(f: impl FnOnce() -> Result<R, Error> + Send) -> Result<R, Error> {
    std::thread::scope(|scope| {
        spawn_big(scope, f)?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Starts `f` on a thread of `scope` with a [`STACK_SIZE`] stack, as
/// [`on_big_stack`] does.
pub fn spawn_big<'scope, 'env, R: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    f: impl FnOnce() -> Result<R, Error> + Send + 'scope,
) -> Result<std::thread::ScopedJoinHandle<'scope, Result<R, Error>>, Error> {
    std::thread::Builder::new()
        .name("generator".to_string())
        .stack_size(STACK_SIZE)
        .spawn_scoped(scope, f)
        .map_err(|e| Error::Io {
            path: "<thread>".to_string(),
            message: format!(
                "cannot start the generator's thread ({} MiB stack): {e}",
                STACK_SIZE >> 20
            ),
        })
}

/// One group being walked by [`token_nesting`].
struct Level {
    tokens: token_stream::IntoIter,
    /// Open tokens outside this group, the group's own token included.
    base: usize,
    /// Tokens of the statement, argument or item that is open in this group.
    run: usize,
    /// `<`s not yet closed by a `>`: a `,` inside generic arguments does not end
    /// what encloses them.
    angles: usize,
    /// `|`s: a `,` between an odd and an even one may be inside closure
    /// parameters, which do not end what encloses them either.
    pipes: usize,
    /// The previous token was a `{ .. }` group.
    after_brace: bool,
    /// The previous token was a joint `-` or `=` (so a `>` is `->` or `=>`).
    after_arrow_start: bool,
}

impl Level {
    fn new(tokens: TokenStream, base: usize) -> Level {
        Level {
            tokens: tokens.into_iter(),
            base,
            run: 0,
            angles: 0,
            pipes: 0,
            after_brace: false,
            after_arrow_start: false,
        }
    }

    fn may_end(&self) -> bool {
        self.angles == 0 && self.pipes.is_multiple_of(2)
    }
}

/// Refuses a source whose nesting could take syn's parser deeper than the
/// stack allows, before syn sees it.
///
/// syn recurses into every unfinished construct, and each recursion consumes at
/// least one token, so its depth at a token is at most the number of tokens of
/// the constructs that enclose that token and are still open. This walk (a loop
/// with an explicit stack, never recursion) counts those conservatively: in
/// each group, every token since the last point where syn is back in a loop
/// over statements, items or arguments (a `;`, a `,` outside generic arguments
/// and closure parameters, or a `{ .. }` group followed by what starts a new
/// statement or item), plus the count where the group opened. Sources that do
/// not lex are left to syn, which reports them before it parses anything.
pub fn token_nesting(src: &Source) -> Option<Diagnostic> {
    let tokens: TokenStream = src.text.parse().ok()?;
    let mut stack = vec![Level::new(tokens, 0)];
    while let Some(level) = stack.last_mut() {
        let Some(token) = level.tokens.next() else {
            stack.pop();
            continue;
        };
        if std::mem::take(&mut level.after_brace) && starts_statement(&token) && level.may_end() {
            level.run = 0;
        }
        level.run += 1;
        let open = level.base + level.run;
        if open > MAX_TOKEN_NESTING {
            return Some(
                Diagnostic::at(
                    src,
                    token.span(),
                    format!(
                        "expression too long or nested too deeply: more than {MAX_TOKEN_NESTING} tokens of it are open here"
                    ),
                )
                .help(HELP),
            );
        }
        let after_arrow_start = std::mem::take(&mut level.after_arrow_start);
        match &token {
            TokenTree::Group(g) => {
                level.after_brace = g.delimiter() == Delimiter::Brace;
                stack.push(Level::new(g.stream(), open));
            }
            TokenTree::Punct(p) => match p.as_char() {
                ';' => {
                    level.run = 0;
                    level.angles = 0;
                    level.pipes = 0;
                }
                ',' if level.may_end() => level.run = 0,
                '<' => level.angles += 1,
                '>' if !after_arrow_start => level.angles = level.angles.saturating_sub(1),
                '|' => level.pipes += 1,
                '-' | '=' => level.after_arrow_start = p.spacing() == Spacing::Joint,
                _ => {}
            },
            _ => {}
        }
    }
    None
}

/// A token after a `{ .. }` group that starts a new statement or item rather
/// than continuing an expression (`else`, `as`, operators continue one).
fn starts_statement(token: &TokenTree) -> bool {
    match token {
        TokenTree::Ident(i) => i != "else" && i != "as",
        TokenTree::Punct(p) => p.as_char() == '#',
        _ => false,
    }
}

/// Refuses a parsed file that nests more than [`MAX_DEPTH`] levels.
pub fn tree_depth(src: &Source, file: &syn::File) -> Option<Diagnostic> {
    let mut d = Depth::new(src);
    d.visit_file(file);
    d.found
}

/// Refuses an expression parsed on its own (an instance's `const` value) that
/// nests more than [`MAX_DEPTH`] levels.
pub fn expr_depth(src: &Source, e: &syn::Expr) -> Option<Diagnostic> {
    let mut d = Depth::new(src);
    d.visit_expr(e);
    d.found
}

/// Counts nesting on the way down and stops descending at the limit, so the
/// walk itself recurses at most [`MAX_DEPTH`] levels.
struct Depth<'s> {
    src: &'s Source,
    depth: usize,
    found: Option<Diagnostic>,
}

impl<'s> Depth<'s> {
    fn new(src: &'s Source) -> Self {
        Depth {
            src,
            depth: 0,
            found: None,
        }
    }

    /// Enters one level; false (and the error, once) past the limit.
    fn enter(&mut self, span: impl FnOnce() -> Span) -> bool {
        if self.found.is_some() {
            return false;
        }
        if self.depth >= MAX_DEPTH {
            let msg = format!("nested too deeply: more than {MAX_DEPTH} levels of expressions, blocks and types");
            self.found = Some(Diagnostic::at(self.src, span(), msg).help(HELP));
            return false;
        }
        self.depth += 1;
        true
    }
}

impl<'ast> Visit<'ast> for Depth<'_> {
    fn visit_expr(&mut self, e: &'ast syn::Expr) {
        if self.enter(|| e.span()) {
            visit::visit_expr(self, e);
            self.depth -= 1;
        }
    }

    fn visit_block(&mut self, b: &'ast syn::Block) {
        if self.enter(|| b.brace_token.span.open()) {
            visit::visit_block(self, b);
            self.depth -= 1;
        }
    }

    fn visit_type(&mut self, t: &'ast syn::Type) {
        if self.enter(|| t.span()) {
            visit::visit_type(self, t);
            self.depth -= 1;
        }
    }

    fn visit_pat(&mut self, p: &'ast syn::Pat) {
        if self.enter(|| p.span()) {
            visit::visit_pat(self, p);
            self.depth -= 1;
        }
    }

    fn visit_item(&mut self, i: &'ast syn::Item) {
        if self.enter(|| i.span()) {
            visit::visit_item(self, i);
            self.depth -= 1;
        }
    }
}
