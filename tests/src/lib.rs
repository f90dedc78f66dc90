//! Helpers shared by the workspace integration tests.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Mutex;

/// Small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Says, outside the test harness's output capture, that a target was compiled
/// but not executed, so it shows in every test run.
/// Printed once per target and process.
pub fn not_executed(target: &str, why: &str) {
    static SAID: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let first = SAID
        .lock()
        .map(|mut said| said.insert(target.to_string()))
        .unwrap_or(true);
    if first {
        let _ = writeln!(
            std::io::stderr().lock(),
            "NOT EXECUTED: target `{target}`: {why} (compiled only)"
        );
    }
}

/// The workspace root (tests run with the package folder as working directory).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The floating-point element types, converted through f64 for references and
/// tolerances.
pub trait Float: Copy + PartialEq + std::fmt::Debug + 'static {
    /// Machine epsilon, as f64.
    const EPS: f64;
    fn of(x: f64) -> Self;
    fn f(self) -> f64;
}

impl Float for f32 {
    const EPS: f64 = f32::EPSILON as f64;
    fn of(x: f64) -> Self {
        x as f32
    }
    fn f(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    const EPS: f64 = f64::EPSILON;
    fn of(x: f64) -> Self {
        x
    }
    fn f(self) -> f64 {
        self
    }
}
