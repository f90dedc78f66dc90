//! Compiler-style diagnostics: `path:line:col`, the offending line, a caret
//! underline and what is allowed instead.

use proc_macro2::Span;
use std::fmt;

/// A kernel source file, kept whole so diagnostics can quote it.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path relative to the workspace root, with `/` separators.
    pub path: String,
    /// The file's text.
    pub text: String,
}

impl Source {
    /// A source from the bytes of a file; text that is not UTF-8 is an error at
    /// its first invalid byte.
    pub fn from_bytes(path: impl Into<String>, bytes: Vec<u8>) -> Result<Source, Diagnostic> {
        let path = path.into();
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Source { path, text }),
            Err(e) => {
                let bytes = e.as_bytes();
                let bad = e.utf8_error().valid_up_to();
                let line_start = bytes[..bad].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                let line_end = bytes[bad..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(bytes.len(), |i| bad + i);
                // Everything before `bad` is valid, so this counts characters.
                let col = String::from_utf8_lossy(&bytes[line_start..bad]).chars().count() + 1;
                let snippet = String::from_utf8_lossy(&bytes[line_start..line_end])
                    .trim_end_matches('\r')
                    .to_string();
                Err(Diagnostic {
                    path,
                    line: bytes[..bad].iter().filter(|b| **b == b'\n').count() + 1,
                    col,
                    width: 1,
                    message: format!(
                        "kernel source is not valid UTF-8: byte 0x{:02x} at offset {bad}",
                        bytes[bad]
                    ),
                    snippet,
                    help: Some("Rust sources are UTF-8 text; save the file as UTF-8".to_string()),
                })
            }
        }
    }
}

/// One error in a kernel, pointing at the code that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Underline width in characters (at least 1).
    pub width: usize,
    pub message: String,
    /// The source line the error is on.
    pub snippet: String,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `span` in `src`.
    pub fn at(src: &Source, span: Span, message: impl Into<String>) -> Self {
        let (start, end) = (span.start(), span.end());
        let line = start.line.max(1);
        let snippet = src.text.lines().nth(line - 1).unwrap_or("").to_string();
        let line_len = snippet.chars().count();
        let col = start.column + 1;
        let width = if end.line == start.line && end.column > start.column {
            end.column - start.column
        } else {
            line_len.saturating_sub(start.column).max(1)
        };
        Diagnostic {
            path: src.path.clone(),
            line,
            col,
            width,
            message: message.into(),
            snippet,
            help: None,
        }
    }

    /// Adds a `help:` line saying what is allowed instead.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gutter = self.line.to_string().len();
        let pad = " ".repeat(gutter);
        writeln!(f, "error: {}", self.message)?;
        writeln!(f, "{pad}--> {}:{}:{}", self.path, self.line, self.col)?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{} | {}", self.line, self.snippet)?;
        let lead: String = self
            .snippet
            .chars()
            .take(self.col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad} | {lead}{}", "^".repeat(self.width))?;
        if let Some(help) = &self.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// The candidate closest to `name` by edit distance (insertions, deletions,
/// substitutions and swaps of neighbours, one each), if it is close enough to be
/// a misspelling: at most a third of `name`'s length away, and at least one.
/// Ties go to the first candidate.
pub fn closest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal-string-alignment distance: Levenshtein plus swaps of two neighbours.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // rows[i][j]: distance between a[..i] and b[..j]; three rows suffice.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut prev, row);
    }
    prev[b.len()]
}

/// Everything that can stop the generator. Never a panic.
#[derive(Debug)]
pub enum Error {
    /// Errors in kernel sources, all of them, in source order.
    Kernels(Vec<Diagnostic>),
    /// A file or directory could not be read or written.
    Io { path: String, message: String },
    /// A command-line filter matched nothing.
    Filter(String),
    /// No workspace root was given and none holds the current directory.
    Root(String),
    /// The vector API in `kernels/src` is incomplete.
    Api(String),
    /// A target description is inconsistent (a bug in `targets.rs`, reported, not panicked on).
    Target(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kernels(diags) => {
                for (i, d) in diags.iter().enumerate() {
                    if i > 0 {
                        writeln!(f, "\n")?;
                    }
                    write!(f, "{d}")?;
                }
                let n = diags.len();
                write!(
                    f,
                    "\n\nerror: could not generate kernels due to {n} previous error{}",
                    if n == 1 { "" } else { "s" }
                )
            }
            Error::Io { path, message } => write!(f, "error: {path}: {message}"),
            Error::Filter(msg) | Error::Root(msg) => write!(f, "error: {msg}"),
            Error::Api(msg) => write!(f, "error: vector API: {msg}"),
            Error::Target(msg) => write!(f, "error: target description: {msg}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::{closest, edit_distance};

    #[test]
    fn edit_distance_counts_each_kind_of_edit_once() {
        assert_eq!(edit_distance("mul_add", "mul_add"), 0);
        assert_eq!(edit_distance("mul_ad", "mul_add"), 1);
        assert_eq!(edit_distance("mlu_add", "mul_add"), 1);
        assert_eq!(edit_distance("mul_sub", "mul_add"), 3);
        assert_eq!(edit_distance("", "add"), 3);
        assert_eq!(edit_distance("add", ""), 3);
    }

    #[test]
    fn closest_suggests_only_near_misses() {
        let ops = ["add", "load", "mul", "mul_add", "store"];
        assert_eq!(closest("mul_ad", ops), Some("mul_add"));
        assert_eq!(closest("stroe", ops), Some("store"));
        assert_eq!(closest("ad", ops), Some("add"));
        assert_eq!(closest("fmadd", ops), None);
        assert_eq!(closest("shuffle", ops), None);
    }
}
