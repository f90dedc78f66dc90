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

/// The fused epilogues' activations (`base_epilogue`'s codes: 0 none, 1 ReLU,
/// 2 SiLU, 3 GELU tanh, 4 GELU erf) in `f64`, the reference the `f32`
/// kernels are measured against.
pub fn activation_f64(act: usize, x: f64) -> f64 {
    match act {
        0 => x,
        1 => {
            if x.is_nan() {
                x
            } else {
                x.max(0.0)
            }
        }
        2 => x / (1.0 + (-x).exp()),
        // 0.5 x (1 + tanh(u)) as x / (1 + exp(-2u)): the same function, without
        // the cancellation of 1 + tanh(u) for negative u (which would make the
        // reference itself wrong in the tail).
        3 => x / (1.0 + (-2.0 * (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).exp()),
        4 => 0.5 * x * libm::erfc(-x / std::f64::consts::SQRT_2),
        _ => unreachable!("activation {act}"),
    }
}

/// How far an `f32` activation of `x` may be from [`activation_f64`]: `rel`
/// relative, scaled by one plus the function's condition number at `x` (how
/// many relative roundings one rounding of the input becomes: about `|x|` for
/// SiLU and `x^2` for the GELUs in their negative tails), plus `|x| * 2e-38`
/// for results the kernels flush to 0 (where their `exp` would be below
/// `exp(-87)`).
pub fn activation_tolerance(act: usize, x: f64, want: f64, rel: f64) -> f64 {
    let cond = match act {
        2 if x < 0.0 => -x,
        3 if x < 0.0 => {
            let two_u = 2.0 * (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
            -3.0 * two_u
        }
        4 if x < 0.0 => x * x,
        _ => 0.0,
    };
    rel * (1.0 + cond) * want.abs() + 2e-38 * x.abs().max(1.0)
}
