//! Choosing a target: once per process, or by name.

use crate::generated::{ALL_TARGETS, TARGETS, Target};
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The environment variable that forces a target.
pub const ENV_VAR: &str = "HWY_TARGET";

/// Why a target name cannot be used.
///
/// ```
/// use gemmkit::TargetError;
/// let err = gemmkit::target("avx9000").unwrap_err();
/// assert!(matches!(err, TargetError::Unknown { .. }));
/// assert!(err.to_string().contains("fallback")); // lists the valid names
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// No target has this name.
    Unknown {
        /// The name asked for.
        name: String,
        /// The targets compiled into this build.
        valid: Vec<&'static str>,
    },
    /// The target exists but is not compiled into this build (another
    /// architecture, or a WASM feature the build did not enable).
    NotCompiled {
        /// The name asked for.
        name: String,
        /// The architecture the target is for.
        arch: &'static str,
        /// The targets compiled into this build.
        valid: Vec<&'static str>,
    },
    /// Compiled in, but this CPU lacks a feature it needs.
    Unsupported {
        /// The name asked for.
        name: String,
        /// The CPU features the target needs.
        features: &'static [&'static str],
        /// The targets this CPU can run.
        available: Vec<&'static str>,
    },
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Unknown { name, valid } => {
                write!(f, "unknown target `{name}`; valid targets: {}", valid.join(", "))
            }
            TargetError::NotCompiled { name, arch, valid } => write!(
                f,
                "target `{name}` ({arch}) is not compiled into this build; valid targets here: {}",
                valid.join(", ")
            ),
            TargetError::Unsupported {
                name,
                features,
                available,
            } => write!(
                f,
                "target `{name}` needs CPU features this machine lacks (it uses {}); available here: {}",
                features.join(", "),
                available.join(", ")
            ),
        }
    }
}

impl std::error::Error for TargetError {}

/// `target.check()` (a trait because `Target` is the generated crate's type).
pub(crate) trait Check {
    /// `Ok` where this CPU can run the target's code, else why not: what the
    /// safe API checks before it runs a target a caller chose (any of
    /// [`compiled`] can be passed). One load of a mask detected once: this
    /// runs on every call, tiny ones included.
    fn check(&self) -> Result<(), TargetError>;
}

impl Check for Target {
    #[inline(always)]
    fn check(&self) -> Result<(), TargetError> {
        // Every `Target` is an element of `TARGETS` (they cannot be built or
        // copied outside the generated crate), so its index names its bit.
        let index = (self as *const Target as usize).wrapping_sub(TARGETS.as_ptr() as usize) / size_of::<Target>();
        let mut mask = SUPPORTED.load(Ordering::Relaxed);
        if mask == 0 {
            mask = supported_mask();
        }
        if index < TARGETS.len() && mask & (1 << index) != 0 {
            Ok(())
        } else {
            unsupported(self)
        }
    }
}

#[cold]
#[inline(never)]
fn unsupported(target: &Target) -> Result<(), TargetError> {
    if target.is_supported() {
        return Ok(());
    }
    Err(TargetError::Unsupported {
        name: target.name.into(),
        features: target.features,
        available: names(available()),
    })
}

/// Bit `i` set where this CPU runs `TARGETS[i]`; the top bit marks the mask as
/// detected (0: not yet).
static SUPPORTED: AtomicU64 = AtomicU64::new(0);

#[cold]
fn supported_mask() -> u64 {
    let mask = TARGETS
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_supported())
        .fold(1 << 63, |m, (i, _)| m | 1 << i);
    SUPPORTED.store(mask, Ordering::Relaxed);
    mask
}

/// Every target compiled into this build, best first (the last is `fallback`).
///
/// ```
/// let names: Vec<&str> = gemmkit::compiled().iter().map(|t| t.name).collect();
/// assert_eq!(names.last(), Some(&"fallback"));
/// ```
pub fn compiled() -> &'static [Target] {
    TARGETS
}

/// The compiled-in targets this CPU can run, best first.
///
/// ```
/// for t in gemmkit::available() {
///     println!("{}: {}", t.name, t.features.join(", "));
/// }
/// assert!(gemmkit::available().any(|t| t.name == "fallback"));
/// ```
pub fn available() -> impl Iterator<Item = &'static Target> {
    TARGETS.iter().filter(|t| t.is_supported())
}

/// The best target this CPU can run.
///
/// ```
/// let t = gemmkit::best();
/// assert!(t.is_supported());
/// assert_eq!(gemmkit::available().next().map(|a| a.name), Some(t.name));
/// ```
pub fn best() -> &'static Target {
    // `fallback` is always compiled in, last, and always supported.
    available().next().unwrap_or(&TARGETS[TARGETS.len() - 1])
}

fn names(it: impl Iterator<Item = &'static Target>) -> Vec<&'static str> {
    it.map(|t| t.name).collect()
}

/// Looks up a target by name; it must be compiled in and supported by this CPU.
///
/// ```
/// let fallback = gemmkit::target("fallback")?; // runs anywhere
/// assert_eq!(fallback.name, "fallback");
/// // A name the generator knows, for another architecture or a CPU feature
/// // this machine lacks, is an error that says which.
/// if let Err(e) = gemmkit::target("neon") {
///     println!("{e}");
/// }
/// # Ok::<(), gemmkit::TargetError>(())
/// ```
pub fn target(name: &str) -> Result<&'static Target, TargetError> {
    match TARGETS.iter().find(|t| t.name == name) {
        Some(t) if t.is_supported() => Ok(t),
        Some(t) => Err(TargetError::Unsupported {
            name: name.into(),
            features: t.features,
            available: names(available()),
        }),
        None => match ALL_TARGETS.iter().find(|(n, _)| *n == name) {
            Some((_, arch)) => Err(TargetError::NotCompiled {
                name: name.into(),
                arch,
                valid: names(TARGETS.iter()),
            }),
            None => Err(TargetError::Unknown {
                name: name.into(),
                valid: names(TARGETS.iter()),
            }),
        },
    }
}

const NONE: usize = usize::MAX;
/// Index into `TARGETS` set by [`set_active`]; `NONE` until then.
static FORCED: AtomicUsize = AtomicUsize::new(NONE);
/// The environment's choice, read once.
static FROM_ENV: OnceLock<Result<&'static Target, TargetError>> = OnceLock::new();

/// The target kernels run on: the one [`set_active`] chose, else the one
/// `HWY_TARGET` names, else [`best`]. Decided once and cached; an `HWY_TARGET`
/// that is unknown or unsupported here is an error every time.
///
/// ```
/// match gemmkit::active() {
///     Ok(t) => println!("GEMM runs on {}", t.name),
///     Err(e) => println!("HWY_TARGET is not usable here: {e}"),
/// }
/// ```
#[inline]
pub fn active() -> Result<&'static Target, TargetError> {
    if let Some(t) = TARGETS.get(FORCED.load(Ordering::Acquire)) {
        return Ok(t);
    }
    // The cached choice, inlined into every call; deciding it (and an error) is out of line.
    if let Some(&Ok(t)) = FROM_ENV.get() {
        return Ok(t);
    }
    active_from_env()
}

/// The first [`active`] call's decision, and every call's error.
#[cold]
#[inline(never)]
fn active_from_env() -> Result<&'static Target, TargetError> {
    FROM_ENV
        .get_or_init(|| match std::env::var(ENV_VAR) {
            Ok(name) if !name.trim().is_empty() => target(name.trim()),
            _ => Ok(best()),
        })
        .clone()
}

/// Forces the target for the rest of the process (the API form of `HWY_TARGET`).
/// On error nothing changes.
///
/// ```
/// // Every later call without an explicit target runs on `t` (here the best
/// // one: `set_active("fallback")` would choose the portable code).
/// let t = gemmkit::set_active(gemmkit::best().name)?;
/// assert_eq!(gemmkit::active()?.name, t.name);
/// assert!(gemmkit::set_active("no-such-target").is_err());
/// # Ok::<(), gemmkit::TargetError>(())
/// ```
pub fn set_active(name: &str) -> Result<&'static Target, TargetError> {
    let t = target(name)?;
    let index = TARGETS.iter().position(|x| std::ptr::eq(x, t)).unwrap_or(NONE);
    FORCED.store(index, Ordering::Release);
    Ok(t)
}
