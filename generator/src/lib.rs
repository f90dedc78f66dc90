//! The kernel generator: a small source-to-source compiler.
//!
//! **Parse** ([`kernel`], [`api`]): read `kernels/src` with syn, learn the vector
//! API from its traits, find every `pub fn base_*` kernel and its instantiations.
//! **Lower** ([`lower`]): for each target ([`targets`], pure data), substitute
//! constants and types, fold, unroll, scalarize register tiles and replace every
//! op with the target's intrinsics. **Emit** ([`emit`]): format with prettyplease
//! into `generated/<target>/kernels.gen.rs`. **Dispatch** ([`dispatch`]): render
//! the typed dispatch tables (`generated/mod.rs`) with minijinja.
//!
//! Errors in kernels are [`Diagnostic`]s with `path:line:col`; the generator never
//! panics on any input, and never runs out of stack on one ([`limits`]).

pub mod api;
pub mod diag;
pub mod dispatch;
pub mod emit;
pub mod kernel;
pub mod limits;
pub mod lower;
pub mod targets;

pub use diag::{Diagnostic, Error, Source};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Where kernel sources live, relative to the workspace root.
pub const KERNELS_DIR: &str = "kernels/src";

/// The parsed kernel sources of a workspace.
pub struct Workspace {
    root: PathBuf,
    sources: Vec<Source>,
}

/// The generated files, by path relative to the workspace root.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Generated {
    pub files: BTreeMap<String, String>,
}

/// A file `--check` found out of date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// Should exist and does not.
    Missing(String),
    /// Differs; carries a unified diff from the file on disk to the new text.
    Changed { path: String, diff: String },
    /// In `generated/` but no longer produced.
    Extra(String),
}

impl Stale {
    pub fn path(&self) -> &str {
        match self {
            Stale::Missing(p) | Stale::Extra(p) | Stale::Changed { path: p, .. } => p,
        }
    }
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl Workspace {
    /// Reads every `.rs` file under `<root>/kernels/src`, sorted by path.
    pub fn load(root: impl Into<PathBuf>) -> Result<Workspace, Error> {
        let root = root.into();
        let mut paths = vec![];
        collect_rs(&root.join(KERNELS_DIR), &mut paths)?;
        paths.sort();
        let mut sources = vec![];
        let mut diags = vec![];
        for p in paths {
            let bytes = fs::read(&p).map_err(|e| io_err(&p, e))?;
            match Source::from_bytes(rel(&root, &p), bytes) {
                Ok(s) => sources.push(s),
                Err(d) => diags.push(d),
            }
        }
        if !diags.is_empty() {
            return Err(Error::Kernels(diags));
        }
        Ok(Workspace { root, sources })
    }

    /// Adds (or replaces) a kernel source file, as if it were in `kernels/src`.
    pub fn with_source(mut self, path: impl Into<String>, text: impl Into<String>) -> Workspace {
        let (path, text) = (path.into(), text.into());
        self.sources.retain(|s| s.path != path);
        self.sources.push(Source { path, text });
        self
    }

    /// Keeps only the sources whose paths `keep` accepts (a test that needs
    /// the vector API but not every kernel: `kernels/src/vec.rs` alone).
    pub fn retain_sources(mut self, keep: impl Fn(&str) -> bool) -> Workspace {
        self.sources.retain(|s| keep(&s.path));
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Parse step: syntax trees, the vector API and the kernels.
    ///
    /// The trees are built on the calling thread (syn's trees cannot move to
    /// another), after a first parse on a thread with a big stack
    /// ([`limits::on_big_stack`]) has checked the nesting limits: within them,
    /// parsing here takes well under a MiB of stack.
    pub fn parse(&self) -> Result<Parsed, Error> {
        limits::on_big_stack(|| self.parse_here().map(drop))?;
        self.parse_here()
    }

    /// [`Workspace::parse`] on this thread, which must have a big stack unless
    /// the sources are known to be within the nesting limits.
    fn parse_here(&self) -> Result<Parsed, Error> {
        let mut files = vec![];
        let mut diags = vec![];
        for s in &self.sources {
            // syn recurses once per nesting level: bound that before it parses.
            if let Some(d) = limits::token_nesting(s) {
                diags.push(d);
                continue;
            }
            match syn::parse_file(&s.text) {
                Ok(f) => match limits::tree_depth(s, &f) {
                    Some(d) => diags.push(d),
                    None => files.push((s.clone(), f)),
                },
                Err(e) => diags.push(
                    Diagnostic::at(s, e.span(), format!("cannot parse kernel source: {e}"))
                        .help("kernels must be valid Rust"),
                ),
            }
        }
        if !diags.is_empty() {
            return Err(Error::Kernels(diags));
        }
        let api = api::Api::from_sources(&files)?;
        let kernels = kernel::discover(&files, &api).map_err(Error::Kernels)?;
        Ok(Parsed { api, kernels })
    }

    /// Everything `generated/` should contain.
    ///
    /// Runs on threads of its own with big stacks ([`limits::on_big_stack`],
    /// and a worker per core for the targets' families), so no input can
    /// overflow the caller's.
    pub fn generate(&self) -> Result<Generated, Error> {
        limits::on_big_stack(|| self.generate_here())
    }

    fn generate_here(&self) -> Result<Generated, Error> {
        let parsed = self.parse_here()?;
        // Each family of targets (a target and the levels built on it, which
        // compare their code with their parent's) is lowered and rendered by
        // one worker, the largest families first, on as many cores as there
        // are. syn's trees cannot cross threads, so each worker parses the
        // sources itself and hands back text and constants.
        let chains: Vec<Vec<&targets::Target>> = {
            // A target's generated ancestors, nearest first.
            let ancestors = |t: &targets::Target| {
                std::iter::successors(t.parent, |p| p.parent)
                    .filter(|p| targets::TARGETS.iter().any(|o| o.name == p.name))
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
            };
            let mut chains: BTreeMap<&str, Vec<(usize, &targets::Target)>> = BTreeMap::new();
            for &t in targets::TARGETS {
                let up = ancestors(t);
                let root = up.last().copied().unwrap_or(t.name);
                chains.entry(root).or_default().push((up.len(), t));
            }
            let mut chains: Vec<Vec<&targets::Target>> = chains
                .into_values()
                .map(|mut c| {
                    // Parents first: a level's file compares its code with its parent's.
                    c.sort_by_key(|&(depth, _)| depth);
                    c.into_iter().map(|(_, t)| t).collect()
                })
                .collect();
            chains.sort_by_key(|c| std::cmp::Reverse(c.len()));
            chains
        };
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done: std::sync::Mutex<BTreeMap<&str, TargetOutput>> = Default::default();
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(chains.len());
        let work = |parsed: &Parsed| -> Result<(), Error> {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(chain) = chains.get(i) else { return Ok(()) };
                let mut lowered: BTreeMap<&str, Vec<_>> = BTreeMap::new();
                for &t in chain {
                    let out = match emit::lower_all(&parsed.kernels, t, &parsed.api) {
                        Err(e) => TargetOutput::Unlowered(e),
                        // Its parent did not lower: the run fails on that.
                        Ok(_)
                            if t.parent.is_some_and(|p| {
                                chain.iter().any(|c| c.name == p.name) && !lowered.contains_key(p.name)
                            }) =>
                        {
                            TargetOutput::Unrendered
                        }
                        Ok(l) => {
                            let parent = t.parent.and_then(|p| lowered.get(p.name).map(|pl| (p, pl.as_slice())));
                            let file = emit::target_file(t, &l, parent, &parsed.api);
                            let consts = dispatch::instance_consts(&l);
                            lowered.insert(t.name, l);
                            TargetOutput::Rendered(file.map(|f| (f, consts)))
                        }
                    };
                    done.lock().unwrap_or_else(|e| e.into_inner()).insert(t.name, out);
                }
            }
        };
        std::thread::scope(|scope| -> Result<(), Error> {
            let handles = (1..workers)
                .map(|_| limits::spawn_big(scope, || work(&self.parse_here()?)))
                .collect::<Result<Vec<_>, Error>>()?;
            work(&parsed)?;
            for h in handles {
                h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            }
            Ok(())
        })?;
        let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
        // In the targets' order, as one worker would meet them: every
        // lowering's errors first, then the files'. Report each kernel error
        // once, not once per instance and target: errors at the same place are
        // the same mistake, lowered with other constants (`16 - 100` on one
        // target, `8 - 100` on another).
        let mut diags: Vec<Diagnostic> = vec![];
        for t in targets::TARGETS {
            match done.get(t.name) {
                Some(TargetOutput::Unlowered(Error::Kernels(d))) => {
                    for d in d {
                        if !diags
                            .iter()
                            .any(|o| (&o.path, o.line, o.col) == (&d.path, d.line, d.col))
                        {
                            diags.push(d.clone())
                        }
                    }
                }
                Some(TargetOutput::Unlowered(_)) => match done.remove(t.name) {
                    Some(TargetOutput::Unlowered(e)) => return Err(e),
                    _ => unreachable!("just matched"),
                },
                Some(_) => {}
                None => return Err(Error::Target(format!("`{}` was not lowered", t.name))),
            }
        }
        if !diags.is_empty() {
            return Err(Error::Kernels(diags));
        }
        let mut files = BTreeMap::new();
        let mut consts = BTreeMap::new();
        for t in targets::TARGETS {
            match done.remove(t.name) {
                Some(TargetOutput::Rendered(Ok((file, c)))) => {
                    files.insert(emit::target_path(t), file);
                    consts.insert(t.name, c);
                }
                Some(TargetOutput::Rendered(Err(e))) => return Err(e),
                _ => return Err(Error::Target(format!("`{}` was not rendered", t.name))),
            }
        }
        files.insert(
            emit::DISPATCH_PATH.to_string(),
            dispatch::dispatch_file(targets::TARGETS, &parsed.kernels, &consts, &parsed.api)?,
        );
        files.extend(emit::crate_files());
        Ok(Generated { files })
    }

    /// The lowered code of the kernels and targets that match the filters, for
    /// reading on stdout. A kernel filter matches `pack_rhs`, `base_pack_rhs` or an
    /// instance name such as `pack_rhs_f32`. Runs on a big stack, as
    /// [`Workspace::generate`] does.
    pub fn render_filtered(&self, kernel: Option<&str>, target: Option<&str>) -> Result<String, Error> {
        limits::on_big_stack(|| self.render_filtered_here(kernel, target))
    }

    fn render_filtered_here(&self, kernel: Option<&str>, target: Option<&str>) -> Result<String, Error> {
        let parsed = self.parse_here()?;
        let targets: Vec<&targets::Target> = targets::TARGETS
            .iter()
            .copied()
            .filter(|t| target.is_none_or(|n| t.name == n))
            .collect();
        if targets.is_empty() {
            let names: Vec<&str> = targets::TARGETS.iter().map(|t| t.name).collect();
            return Err(Error::Filter(format!(
                "no target named `{}`; targets: {}",
                target.unwrap_or(""),
                names.join(", ")
            )));
        }
        let matches = |k: &kernel::Kernel, inst: &str| {
            kernel.is_none_or(|n| n == k.name || n.strip_prefix("base_") == Some(&k.name) || n == inst)
        };
        let mut out = String::new();
        let mut any = false;
        for t in targets {
            let mut lowered = vec![];
            for k in &parsed.kernels {
                for inst in k.instances().into_iter().filter(|i| matches(k, &i.fn_name)) {
                    lowered.push(lower::lower(&inst, t, &parsed.api).map_err(Error::Kernels)?);
                }
            }
            if lowered.is_empty() {
                continue;
            }
            any = true;
            out.push_str(&format!("// ===== target `{}` =====\n", t.name));
            out.push_str(&emit::render_functions(
                t,
                &lowered.iter().collect::<Vec<_>>(),
                vec![],
                None,
            )?);
        }
        if !any {
            let names: Vec<String> = parsed.kernels.iter().map(|k| k.name.clone()).collect();
            return Err(Error::Filter(format!(
                "no kernel named `{}`; kernels: {}",
                kernel.unwrap_or(""),
                names.join(", ")
            )));
        }
        Ok(out)
    }

    /// Compares `generated` with what is on disk.
    pub fn stale(&self, generated: &Generated) -> Result<Vec<Stale>, Error> {
        let mut out = vec![];
        for (path, text) in &generated.files {
            let full = self.root.join(path);
            match fs::read_to_string(&full) {
                Ok(old) if old == *text => {}
                Ok(old) => {
                    let diff = similar::TextDiff::from_lines(&old, text)
                        .unified_diff()
                        .context_radius(2)
                        .header(path, &format!("{path} (regenerated)"))
                        .to_string();
                    out.push(Stale::Changed {
                        path: path.clone(),
                        diff,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.push(Stale::Missing(path.clone())),
                Err(e) => return Err(io_err(&full, e)),
            }
        }
        for extra in self.owned_files()? {
            if !generated.files.contains_key(&extra) {
                out.push(Stale::Extra(extra));
            }
        }
        Ok(out)
    }

    /// Writes what changed and deletes generated files no longer produced.
    /// Returns `(path, what happened)` for every file touched.
    pub fn write(&self, generated: &Generated) -> Result<Vec<(String, &'static str)>, Error> {
        let mut report = vec![];
        for s in self.stale(generated)? {
            let full = self.root.join(s.path());
            match &s {
                Stale::Extra(p) => {
                    fs::remove_file(&full).map_err(|e| io_err(&full, e))?;
                    if let Some(dir) = full.parent() {
                        // Drop a target folder left empty; a non-empty one stays.
                        let _ = fs::remove_dir(dir);
                    }
                    report.push((p.clone(), "removed"));
                }
                Stale::Missing(p) | Stale::Changed { path: p, .. } => {
                    if let Some(dir) = full.parent() {
                        fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
                    }
                    fs::write(&full, &generated.files[p]).map_err(|e| io_err(&full, e))?;
                    report.push((
                        p.clone(),
                        if matches!(s, Stale::Missing(_)) {
                            "created"
                        } else {
                            "updated"
                        },
                    ));
                }
            }
        }
        Ok(report)
    }

    /// Files under `generated/` that start with the `@generated` header of
    /// their kind ([`emit::header_for`]).
    fn owned_files(&self) -> Result<Vec<String>, Error> {
        let mut paths = vec![];
        let dir = self.root.join("generated");
        if dir.is_dir() {
            collect_files(&dir, &mut paths)?;
        }
        let mut out = vec![];
        for p in paths {
            let path = rel(&self.root, &p);
            let Some(header) = emit::header_for(&path) else {
                continue;
            };
            let text = fs::read_to_string(&p).map_err(|e| io_err(&p, e))?;
            if text.starts_with(&header) {
                out.push(path);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// The result of the parse step.
pub struct Parsed {
    pub api: api::Api,
    pub kernels: Vec<kernel::Kernel>,
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    for entry in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let path = entry.map_err(|e| io_err(dir, e))?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The files under `dir` of the kinds the generator writes (Rust, TOML, Markdown).
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    for entry in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let path = entry.map_err(|e| io_err(dir, e))?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs" || e == "toml" || e == "md") {
            out.push(path);
        }
    }
    Ok(())
}

fn rel(root: &Path, p: &Path) -> String {
    let r = p.strip_prefix(root).unwrap_or(p);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The workspace root that holds `start`: `start` itself or its nearest ancestor
/// with a `Cargo.toml` that declares a `[workspace]` and a [`KERNELS_DIR`] folder.
///
/// This is the default `--root`, resolved at run time from the current directory,
/// so a generator binary built in one clone works on whichever clone it is run
/// in (and does not depend on the clone it was built in still existing).
pub fn find_root(start: &Path) -> Result<PathBuf, Error> {
    start
        .ancestors()
        .find(|dir| is_workspace_root(dir))
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            Error::Root(format!(
                "no workspace found in `{}` or any folder above it (looked for a `Cargo.toml` with `[workspace]` next to `{KERNELS_DIR}`); \
                 run the generator from inside the workspace or pass `--root <DIR>`",
                start.display()
            ))
        })
}

fn is_workspace_root(dir: &Path) -> bool {
    // A member crate's manifest has no `[workspace]` table (and a workspace
    // without kernels is some other project), so the search goes on upwards.
    dir.join(KERNELS_DIR).is_dir()
        && fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|manifest| {
            manifest.lines().any(|l| {
                let l = l.trim();
                l == "[workspace]" || l.starts_with("[workspace.")
            })
        })
}

/// What a worker of [`Workspace::generate`] makes of one target.
enum TargetOutput {
    /// Its lowering failed.
    Unlowered(Error),
    /// Lowered, but its parent's lowering failed, so it is not rendered.
    Unrendered,
    /// Its file and its instances' constants, or why the file could not be made.
    Rendered(Result<(String, dispatch::InstanceConsts), Error>),
}
