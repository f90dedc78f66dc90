//! `gemm-bench`: single-threaded GEMM throughput of gemmkit next to its peers, in
//! one run, against this machine's FMA peak measured by a register-only loop.
//!
//! ```text
//! cargo run --release -p gemmkit-bench -- [--dtype f32|f64|both|int8|bf16|all,..] [--shapes 256,512x64x4096,..]
//!                                         [--samples N] [--quick] [--peers a,b,..] [--threads N]
//!                                         [--blocking KC,MC,NC] [--a-transposed]
//! ```
//!
//! Every library gets the same row-major operands and computes `C = A * B`
//! (alpha 1, beta 0); with `--a-transposed`, A is stored as its transpose and
//! every library is told so (CBLAS `TransA`, a transposed view or strides).
//! `--dtype` takes a list: `f32` (the default), `f64`, `both` (the two), `int8`
//! and `bf16` (the low-precision tables, `lowp.rs`: gemmkit's and oneDNN's
//! u8 x s8 -> s32, s8 x s8 -> s32 and bf16 x bf16 -> f32 GEMMs in GOP/s against
//! the `vpdpbusd` and `vdpbf16ps` peaks and the AMX `tdpbusd` and `tdpbf16ps`
//! ones, measured the same way as the FMA one (`peak.rs`); at 256, 512, 1024 and 2048
//! unless `--shapes`), `all`. Every library's C is checked once per shape: in
//! the f32 and f64 tables against gemmkit's, in the others against the exact
//! products on sampled elements; a line after the table names any that differ.
//! Each cell is the median of `--samples` timings, each timing
//! long enough (>= 20 ms, repeating small problems) to swamp timer noise. The
//! timings are interleaved: every round times each library (and, with
//! `--threads N`, each at N threads and at 1) once, so a busy spell on a shared
//! machine lands on all of them alike. The ratio to the best peer (the peer with
//! the best median) and the speedups are paired: the median over rounds of the
//! ratio of two timings from the same round, so a slow spell that covers a round
//! cancels out of them, which a ratio of two medians does not do. OpenBLAS
//! and BLIS are Debian's builds, loaded with `dlopen` (they export the same CBLAS
//! symbols) and pinned to one thread; so is oneDNN (Debian's `libdnnl2`, 2.6; in
//! the f32 and f64 tables f32 only, `dnnl_sgemm`), an OpenMP build whose thread
//! count the bench sets with libgomp's `omp_set_num_threads` (`dnnl.rs`). A
//! library that is not installed gets a note and an n/a column. With
//! `--threads N` every library runs with N threads and each cell of the f32 and
//! f64 tables also shows the speedup over the same library on one thread
//! (matrixmultiply fixes its thread count at start-up, so it has no speedup
//! column; the int8 and bf16 tables run at N only). N threads means N in all,
//! the calling thread among them, for every library: OpenBLAS, BLIS and oneDNN
//! start N - 1 threads of their own, and the
//! rayon-based ones (gemmkit, faer, gemm) share rayon's global pool of N
//! threads, built with the bench's main thread as its thread 0
//! (`use_current_thread`). A pool of N threads beside the caller would leave one
//! of them idle, and rayon wakes an idle thread whenever another finds work; on
//! the 2-core VM it then took the caller's core now and then, and at 512^3 a
//! helper started 5-190 microseconds after its spawn on average over a run,
//! over 30 in most runs (3-6 with the caller in the pool; see BENCHMARKS.md).
//!
//! The share of the peak is paired too: every round starts with one timing of
//! the FMA loop (on `--threads` cores), and the column is the median over rounds
//! of gemmkit's rate over that round's peak. The header quotes the best of nine
//! rounds of the loop instead. On the development VM the register-only loop has
//! bursts about 13% faster than its usual rate that no loop touching memory was
//! seen to share (see BENCHMARKS.md), so the best of nine can be a rate that
//! GEMM never gets the chance to reach.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::hint::black_box;
use std::time::Instant;

mod dnnl;
mod infer;
mod lowp;
mod peak;
mod plot;

const PEERS: &[&str] = &["openblas", "blis", "onednn", "faer", "gemm", "matrixmultiply"];

/// The issue's shapes: square sizes, their neighbours, and two skinny ones.
const SHAPES: &[(usize, usize, usize)] = &[
    (8, 8, 8),
    (16, 16, 16),
    (32, 32, 32),
    (64, 64, 64),
    (128, 128, 128),
    (255, 255, 255),
    (256, 256, 256),
    (257, 257, 257),
    (512, 512, 512),
    (1023, 1023, 1023),
    (1024, 1024, 1024),
    (1025, 1025, 1025),
    (2047, 2047, 2047),
    (2048, 2048, 2048),
    (2049, 2049, 2049),
    (64, 4096, 4096),
    (4096, 64, 4096),
];

/// The int8 and bf16 tables' shapes unless `--shapes` is given.
const LOWP_SHAPES: &[(usize, usize, usize)] =
    &[(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048)];

struct Args {
    f32: bool,
    f64: bool,
    /// The int8 tables: u8 x s8 -> s32 and s8 x s8 -> s32.
    int8: bool,
    /// The bf16 table: bf16 x bf16 -> f32.
    bf16: bool,
    shapes: Vec<(usize, usize, usize)>,
    /// The int8 and bf16 tables' shapes: `--shapes`, or `LOWP_SHAPES`.
    lowp_shapes: Vec<(usize, usize, usize)>,
    samples: usize,
    peers: Vec<String>,
    threads: usize,
    /// A is stored as its transpose (`k x m`, row-major) and every library is
    /// told so: gemmkit packs such an A, where it reads a row-major one in place.
    a_transposed: bool,
    /// The inference tables (`infer.rs`) instead of the square ones.
    infer: bool,
    /// Where each table is also written as an SVG chart (`plot.rs`).
    plot: Option<std::path::PathBuf>,
}

/// GEMM throughput of gemmkit next to its peers (OpenBLAS, BLIS, oneDNN, faer,
/// gemm, matrixmultiply) and this machine's measured peaks, in one run. The
/// long description is the top of bench/src/main.rs and README's "Benchmarks".
#[derive(clap::Parser)]
#[command(name = "gemm-bench", version)]
struct Cli {
    /// Tables to run, comma-separated: f32, f64, both (f32 and f64), int8, bf16, all.
    #[arg(long, value_delimiter = ',', default_value = "f32")]
    dtype: Vec<String>,
    /// Shapes, comma-separated: N (N x N x N) or MxNxK [default: the issue's list].
    #[arg(long, value_delimiter = ',')]
    shapes: Option<Vec<String>>,
    /// Timings per cell; each cell is their median.
    #[arg(long, default_value_t = 7)]
    samples: usize,
    /// Three timings per cell.
    #[arg(long)]
    quick: bool,
    /// Peers to time, comma-separated [default: all of openblas, blis, onednn, faer, gemm, matrixmultiply].
    #[arg(long, value_delimiter = ',')]
    peers: Option<Vec<String>>,
    /// Threads for every library (the calling thread among them).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// gemmkit's cache blocking, KC,MC,NC (instead of the model's).
    #[arg(long, value_delimiter = ',', num_args = 1)]
    blocking: Option<Vec<usize>>,
    /// gemmkit's small-path threshold (`Tuning::small`: problems with every
    /// dimension up to it skip packing) instead of the target's.
    #[arg(long, value_name = "N")]
    small: Option<usize>,
    /// gemmkit's bf16 form (`Tuning::bf16_widen`: true widens A and B to f32
    /// as it packs them, false keeps them in pairs for the bf16 dot-product
    /// kernel) instead of the target's.
    #[arg(long, value_name = "BOOL")]
    bf16_widen: Option<bool>,
    /// Whether gemmkit packs a bf16 B ahead widened too
    /// (`Tuning::bf16_widen_packed`) instead of as the target says.
    #[arg(long, value_name = "BOOL")]
    bf16_widen_packed: Option<bool>,
    /// Store A as its transpose, and tell every library so.
    #[arg(long)]
    a_transposed: bool,
    /// The inference shapes (m = 1 decode, prefill) with the weights from memory,
    /// in GB/s of weights next to the measured read bandwidth, for the --dtype
    /// families (f32, bf16, int8); --shapes replaces the shapes.
    #[arg(long)]
    infer: bool,
    /// Also write each GEMM table as an SVG chart (rate against shape, a line per
    /// library) into this folder: f32-1t.svg, f64-2t.svg, int8-u8-1t.svg, bf16-1t.svg, ...
    #[arg(long, value_name = "DIR")]
    plot: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let cli = <Cli as clap::Parser>::parse();
    let mut a = Args {
        f32: false,
        f64: false,
        int8: false,
        bf16: false,
        shapes: SHAPES.to_vec(),
        lowp_shapes: LOWP_SHAPES.to_vec(),
        samples: if cli.quick { 3 } else { cli.samples },
        peers: PEERS.iter().map(|s| s.to_string()).collect(),
        threads: cli.threads,
        a_transposed: cli.a_transposed,
        infer: cli.infer,
        plot: cli.plot,
    };
    if a.infer {
        a.shapes = infer::SHAPES.to_vec();
    }
    for d in &cli.dtype {
        match d.trim() {
            "f32" => a.f32 = true,
            "f64" => a.f64 = true,
            "both" => (a.f32, a.f64) = (true, true),
            "int8" => a.int8 = true,
            "bf16" => a.bf16 = true,
            "all" => (a.f32, a.f64, a.int8, a.bf16) = (true, true, true, true),
            other => return Err(format!("--dtype: `{other}` is not f32, f64, both, int8, bf16 or all")),
        }
    }
    if let Some(shapes) = &cli.shapes {
        a.shapes = shapes.iter().map(|s| parse_shape(s)).collect::<Result<_, _>>()?;
        a.lowp_shapes = a.shapes.clone();
    }
    if let Some(peers) = cli.peers {
        a.peers = peers.into_iter().filter(|s| !s.is_empty()).collect();
    }
    if let Some(v) = cli.blocking {
        let [kc, mc, nc] = v[..] else {
            return Err("--blocking takes KC,MC,NC".into());
        };
        gemmkit::set_blocking(Some(gemmkit::Blocking { kc, mc, nc })).map_err(|e| format!("--blocking: {e}"))?;
    }
    if cli.small.is_some() || cli.bf16_widen.is_some() || cli.bf16_widen_packed.is_some() {
        let own = gemmkit::tuning(gemmkit::active().map_err(|e| e.to_string())?);
        let tuning = gemmkit::Tuning {
            small: cli.small.unwrap_or(own.small),
            bf16_widen: cli.bf16_widen.unwrap_or(own.bf16_widen),
            bf16_widen_packed: cli.bf16_widen_packed.unwrap_or(own.bf16_widen_packed),
            ..own
        };
        gemmkit::set_tuning(Some(tuning)).map_err(|e| format!("--small / --bf16-widen*: {e}"))?;
    }
    if let Some(p) = a.peers.iter().find(|p| !PEERS.contains(&p.as_str())) {
        return Err(format!("--peers: unknown peer `{p}`; peers: {}", PEERS.join(", ")));
    }
    if a.samples == 0 {
        return Err("--samples must be at least 1".into());
    }
    if a.threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    Ok(a)
}

/// `256` for a cube, else `64x4096x4096`.
fn shape_label((m, n, k): (usize, usize, usize)) -> String {
    if m == n && n == k {
        m.to_string()
    } else {
        format!("{m}x{n}x{k}")
    }
}

/// Says on stderr which cell a long run is at (stdout stays the report).
fn progress(table: &str, i: usize, total: usize, (m, n, k): (usize, usize, usize)) {
    eprintln!("gemm-bench: {table} [{}/{total}] {m} x {n} x {k}", i + 1);
}

/// `256` (square) or `MxNxK`.
fn parse_shape(s: &str) -> Result<(usize, usize, usize), String> {
    let dims: Vec<usize> = s
        .split('x')
        .map(|d| d.trim().parse().map_err(|e| format!("shape `{s}`: {e}")))
        .collect::<Result<_, _>>()?;
    match dims.as_slice() {
        [n] => Ok((*n, *n, *n)),
        [m, n, k] => Ok((*m, *n, *k)),
        _ => Err(format!("shape `{s}`: write N or MxNxK")),
    }
}

// ---------------------------------------------------------------------------------
// OpenBLAS and BLIS through dlopen.

unsafe extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}
const RTLD_NOW: c_int = 2;
const RTLD_LOCAL: c_int = 0;

type CblasGemm<T> = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    T,
    *const T,
    c_int,
    *const T,
    c_int,
    T,
    *mut T,
    c_int,
);

struct Cblas {
    name: &'static str,
    sgemm: CblasGemm<f32>,
    dgemm: CblasGemm<f64>,
    /// `cblas_sgemv`, for the inference tables.
    sgemv: Option<infer::CblasGemv>,
    set_threads: Option<unsafe extern "C" fn(c_int)>,
}

/// Loads a CBLAS from the first path that exists and sets it to one thread.
fn load_cblas(name: &'static str, paths: &[&CStr], set_threads: &CStr) -> Option<Cblas> {
    for path in paths {
        let h = unsafe { dlopen(path.as_ptr(), RTLD_NOW | RTLD_LOCAL) };
        if h.is_null() {
            continue;
        }
        let sym = |s: &CStr| {
            let p = unsafe { dlsym(h, s.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        let (Some(s), Some(d)) = (sym(c"cblas_sgemm"), sym(c"cblas_dgemm")) else {
            continue;
        };
        let set_threads =
            sym(set_threads).map(|t| unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn(c_int)>(t) });
        return Some(Cblas {
            name,
            sgemm: unsafe { std::mem::transmute::<*mut c_void, CblasGemm<f32>>(s) },
            dgemm: unsafe { std::mem::transmute::<*mut c_void, CblasGemm<f64>>(d) },
            sgemv: sym(c"cblas_sgemv").map(|p| unsafe { std::mem::transmute::<*mut c_void, infer::CblasGemv>(p) }),
            set_threads,
        });
    }
    None
}

/// oneDNN's row-major GEMM of one type (`dnnl_sgemm`'s signature).
type DnnlGemm<T> = unsafe extern "C" fn(
    c_char,
    c_char,
    dnnl::Dim,
    dnnl::Dim,
    dnnl::Dim,
    T,
    *const T,
    dnnl::Dim,
    *const T,
    dnnl::Dim,
    T,
    *mut T,
    dnnl::Dim,
) -> dnnl::Status;

// ---------------------------------------------------------------------------------
// One element type, generically.

trait Elem: gemmkit::Element + faer::traits::ComplexField + Default + std::fmt::Debug + 'static {
    const NAME: &'static str;
    /// The distance from 1 to the next larger value.
    const EPS: f64;
    fn of(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn cblas(c: &Cblas) -> CblasGemm<Self>;
    /// oneDNN's GEMM of this type, where it has one.
    fn dnnl(d: &dnnl::Dnnl) -> Option<DnnlGemm<Self>>;
    /// `C = A B` by matrixmultiply, A at the strides `(rs, cs)`.
    unsafe fn mm(m: usize, k: usize, n: usize, a: *const Self, a_strides: (isize, isize), b: *const Self, c: *mut Self);
}

impl Elem for f32 {
    const NAME: &'static str = "f32";
    const EPS: f64 = f32::EPSILON as f64;
    fn of(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn dnnl(d: &dnnl::Dnnl) -> Option<DnnlGemm<Self>> {
        Some(d.sgemm)
    }
    fn cblas(c: &Cblas) -> CblasGemm<Self> {
        c.sgemm
    }
    unsafe fn mm(m: usize, k: usize, n: usize, a: *const f32, (rs, cs): (isize, isize), b: *const f32, c: *mut f32) {
        unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a, rs, cs, b, n as isize, 1, 0.0, c, n as isize, 1) }
    }
}

impl Elem for f64 {
    const NAME: &'static str = "f64";
    const EPS: f64 = f64::EPSILON;
    fn of(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    /// oneDNN has no f64 GEMM.
    fn dnnl(_: &dnnl::Dnnl) -> Option<DnnlGemm<Self>> {
        None
    }
    fn cblas(c: &Cblas) -> CblasGemm<Self> {
        c.dgemm
    }
    unsafe fn mm(m: usize, k: usize, n: usize, a: *const f64, (rs, cs): (isize, isize), b: *const f64, c: *mut f64) {
        unsafe { matrixmultiply::dgemm(m, k, n, 1.0, a, rs, cs, b, n as isize, 1, 0.0, c, n as isize, 1) }
    }
}

/// Seconds per call of `f` at `reps` calls in a row.
fn sample(reps: usize, f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed().as_secs_f64() / reps as f64
}

/// How many calls of `f` in a row make one timing of at least 20 ms.
fn calibrate(f: &mut dyn FnMut()) -> usize {
    f();
    let once = sample(1, f).max(1e-9);
    ((0.02 / once).ceil() as usize).clamp(1, 1 << 20)
}

fn median(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Median seconds per call of `f`, over `samples` timings of at least 20 ms each.
fn time(samples: usize, mut f: impl FnMut()) -> f64 {
    let reps = calibrate(&mut f);
    let times: Vec<f64> = (0..samples).map(|_| sample(reps, &mut f)).collect();
    median(&times)
}

type Prepare<'a> = Box<dyn Fn() + 'a>;
type Call<'a> = Box<dyn FnMut() + 'a>;

/// One library at one thread count, ready to be timed.
struct Runner<'a> {
    /// Index of the library's column: 0 is gemmkit, then `args.peers`.
    col: usize,
    threads: usize,
    /// Run before each timing: a CBLAS peer's thread count is a global setting.
    prepare: Prepare<'a>,
    call: Call<'a>,
    /// How long the library keeps cores busy after returning; the next timing
    /// waits that long, so it does not share the cores with idle spinners.
    settle: std::time::Duration,
}

/// Rounds of the FMA loop behind the peak quoted in the header (the best of them).
pub(crate) const PEAK_ROUNDS: usize = 9;

/// One shape's timings: every library's, and the FMA peak of each round.
struct ShapeRun {
    libs: Vec<Timings>,
    /// f32 FLOP/s of the FMA loop on `--threads` cores, timed at the start of
    /// each round; `None` where there is no such loop for this architecture.
    peak: Option<Vec<f64>>,
    /// Each library whose C differed from gemmkit's beyond rounding, and by how much.
    check: Vec<String>,
}

/// One library's timings on one shape: seconds per call in each round.
struct Timings {
    name: String,
    /// At `--threads`; `None` where the peer is unavailable.
    at: Option<Vec<f64>>,
    /// At 1 thread, with `--threads` > 1; `None` otherwise, or where the peer
    /// cannot change its thread count.
    at_one: Option<Vec<f64>>,
}

/// The median over rounds of `num[r] / den[r]`: a ratio of two timings taken in
/// the same round, moments apart, so a slow spell of the shared machine (this
/// VM's speed changes by up to 2x for seconds at a time) cancels out of it.
fn paired_ratio(num: &[f64], den: &[f64]) -> f64 {
    let ratios: Vec<f64> = num.iter().zip(den).map(|(n, d)| n / d).collect();
    median(&ratios)
}

/// Times every runner, interleaved: each of `samples` rounds starts with
/// `round_start()` (which times the peak loops of the round) and then times
/// each runner once. Returns each runner's seconds per call in every round.
fn interleave(runners: &mut [Runner], samples: usize, mut round_start: impl FnMut()) -> Vec<Vec<f64>> {
    let reps: Vec<usize> = runners
        .iter_mut()
        .map(|r| {
            (r.prepare)();
            calibrate(&mut r.call)
        })
        .collect();
    let mut times = vec![vec![]; runners.len()];
    for _ in 0..samples {
        round_start();
        for ((r, &reps), times) in runners.iter_mut().zip(&reps).zip(&mut times) {
            // One untimed call after switching: thread pools wake, caches fill.
            (r.prepare)();
            (r.call)();
            times.push(sample(reps, &mut r.call));
            // Wait busily: a sleeping process lets the VM's cores go idle, and BLIS's
            // threads came back from that many times slower for a whole timing.
            let settled = Instant::now();
            while settled.elapsed() < r.settle {
                std::hint::spin_loop();
            }
        }
    }
    times
}

/// Runs every runner once on a C filled with a sentinel and compares its C with
/// the first runner's (gemmkit's): the largest difference over the bound
/// `2 k^2 eps` (every operand is in [-1, 1], so `sum |a b| <= k`, and either
/// result is within `k eps sum |a b|` of the exact one). Returns a line for
/// each runner outside it.
fn check_results<T: Elem>(
    runners: &mut [Runner],
    c: &std::cell::RefCell<Vec<T>>,
    k: usize,
    args: &Args,
) -> Vec<String> {
    let tol = 2.0 * (k * k) as f64 * T::EPS;
    let mut want: Option<Vec<T>> = None;
    let mut bad = vec![];
    for r in runners.iter_mut() {
        c.borrow_mut().fill(T::of(1e6));
        (r.prepare)();
        (r.call)();
        let got = c.borrow();
        let Some(want) = &want else {
            want = Some(got.clone());
            continue;
        };
        let diff = want
            .iter()
            .zip(got.iter())
            .map(|(w, g)| (w.to_f64() - g.to_f64()).abs())
            .fold(0.0, |m: f64, d| if d.is_nan() { f64::INFINITY } else { m.max(d) });
        if diff > tol {
            let name = if r.col == 0 {
                "gemmkit"
            } else {
                args.peers[r.col - 1].as_str()
            };
            bad.push(format!(
                "{name} on {} threads: max |C - gemmkit's C| = {diff:.3e} > {tol:.3e}",
                r.threads
            ));
        }
    }
    bad
}

/// Every library's timings on one shape (gemmkit first, then `--peers`).
///
/// The timings are interleaved: each of `--samples` rounds times every library
/// at every thread count once, so a disturbance of the shared machine lands on
/// all of them alike instead of on whichever library happened to run then.
///
/// Each round starts with one timing of the FMA loop, so the share of the peak
/// is paired as well: a round in a slow spell is compared with the peak of that
/// spell, not with the one at the start of the run.
fn run_shape<T: Elem>(
    args: &Args,
    libs: &[Cblas],
    dnnl: Option<&dnnl::Dnnl>,
    (m, n, k): (usize, usize, usize),
) -> ShapeRun {
    let mut seed = 0x9E37_79B9_u64;
    let mut rand = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        T::of((seed % 1000) as f64 / 500.0 - 1.0)
    };
    let a: Vec<T> = (0..m * k).map(|_| rand()).collect();
    let b: Vec<T> = (0..k * n).map(|_| rand()).collect();
    let c = std::cell::RefCell::new(vec![T::default(); m * n]);
    let (a, b, c) = (&a, &b, &c);
    let target = gemmkit::active().expect("HWY_TARGET");
    // A's strides: row-major m x k, or its transpose stored row-major (k x m).
    let a_t = args.a_transposed;
    let (a_rs, a_cs) = if a_t { (1, m as isize) } else { (k as isize, 1) };
    let thread_counts: Vec<usize> = if args.threads == 1 {
        vec![1]
    } else {
        vec![args.threads, 1]
    };
    let mut runners: Vec<Runner> = vec![];
    for &threads in &thread_counts {
        let nz = std::num::NonZeroUsize::new(threads).expect("threads >= 1");
        // Many threads: rayon's global pool, which `main` built with this thread in
        // it (see the module doc).
        let par = if threads == 1 {
            gemmkit::Parallelism::Sequential
        } else {
            gemmkit::Parallelism::Rayon
        };
        let nothing = || -> Prepare { Box::new(|| {}) };
        runners.push(Runner {
            col: 0,
            threads,
            prepare: nothing(),
            settle: std::time::Duration::ZERO,
            call: Box::new(move || {
                let av = if a_t {
                    gemmkit::MatRef::row_major(a, k, m).t()
                } else {
                    gemmkit::MatRef::row_major(a, m, k)
                };
                let bv = gemmkit::MatRef::row_major(b, k, n);
                let mut c = c.borrow_mut();
                gemmkit::gemm_with(
                    target,
                    &par,
                    T::ONE,
                    av,
                    bv,
                    T::ZERO,
                    gemmkit::MatMut::row_major(&mut c, m, n),
                )
                .expect("gemm");
                black_box(&mut c);
            }),
        });
        for (i, peer) in args.peers.iter().enumerate() {
            let col = i + 1;
            let mut settle = std::time::Duration::ZERO;
            let (prepare, call): (Prepare, Call) = match peer.as_str() {
                "openblas" | "blis" => {
                    let Some(lib) = libs.iter().find(|l| l.name == peer) else {
                        continue;
                    };
                    let set = lib.set_threads;
                    let f = T::cblas(lib);
                    let (mi, ni, ki) = (m as c_int, n as c_int, k as c_int);
                    if peer == "openblas" && threads > 1 {
                        // Its idle workers spin for 2^28 TSC cycles (THREAD_TIMEOUT,
                        // about 0.1 s) before they sleep; with them spinning, the next
                        // library in the round would run on fewer cores.
                        settle = std::time::Duration::from_millis(150);
                    }
                    (
                        Box::new(move || {
                            if let Some(set) = set {
                                unsafe { set(threads as c_int) };
                            }
                        }),
                        Box::new(move || unsafe {
                            let mut c = c.borrow_mut();
                            f(
                                101,
                                if a_t { 112 } else { 111 },
                                111,
                                mi,
                                ni,
                                ki,
                                T::ONE,
                                a.as_ptr(),
                                if a_t { mi } else { ki },
                                b.as_ptr(),
                                ni,
                                T::ZERO,
                                c.as_mut_ptr(),
                                ni,
                            );
                            black_box(&mut c);
                        }),
                    )
                }
                "onednn" => {
                    let Some((d, f)) = dnnl.and_then(|d| Some((d, T::dnnl(d)?))) else {
                        continue;
                    };
                    if threads > 1 && !d.can_set_threads() {
                        continue;
                    }
                    if threads > 1 {
                        // libgomp's idle workers spin for GOMP_SPINCOUNT (300,000)
                        // rounds after a parallel region before they sleep.
                        settle = std::time::Duration::from_millis(10);
                    }
                    let (mi, ni, ki) = (m as dnnl::Dim, n as dnnl::Dim, k as dnnl::Dim);
                    (
                        Box::new(move || d.set_threads(threads)),
                        Box::new(move || unsafe {
                            let mut c = c.borrow_mut();
                            let status = f(
                                if a_t { b'T' } else { b'N' } as c_char,
                                b'N' as c_char,
                                mi,
                                ni,
                                ki,
                                T::ONE,
                                a.as_ptr(),
                                if a_t { mi } else { ki },
                                b.as_ptr(),
                                ni,
                                T::ZERO,
                                c.as_mut_ptr(),
                                ni,
                            );
                            assert_eq!(status, 0, "oneDNN's GEMM returned status {status}");
                            black_box(&mut c);
                        }),
                    )
                }
                "faer" => (
                    nothing(),
                    Box::new(move || {
                        let av = if a_t {
                            faer::MatRef::from_row_major_slice(a, k, m).transpose()
                        } else {
                            faer::MatRef::from_row_major_slice(a, m, k)
                        };
                        let bv = faer::MatRef::from_row_major_slice(b, k, n);
                        let mut c = c.borrow_mut();
                        let cv = faer::MatMut::from_row_major_slice_mut(&mut c, m, n);
                        let par = if threads == 1 {
                            faer::Par::Seq
                        } else {
                            faer::Par::Rayon(nz)
                        };
                        faer::linalg::matmul::matmul(cv, faer::Accum::Replace, av, bv, T::ONE, par);
                        black_box(&mut c);
                    }),
                ),
                "gemm" => (
                    nothing(),
                    Box::new(move || unsafe {
                        let par = if threads == 1 {
                            gemm::Parallelism::None
                        } else {
                            gemm::Parallelism::Rayon(threads)
                        };
                        let mut c = c.borrow_mut();
                        gemm::gemm(
                            m,
                            n,
                            k,
                            c.as_mut_ptr(),
                            1,
                            n as isize,
                            false,
                            a.as_ptr(),
                            a_cs,
                            a_rs,
                            b.as_ptr(),
                            1,
                            n as isize,
                            T::ZERO,
                            T::ONE,
                            false,
                            false,
                            false,
                            par,
                        );
                        black_box(&mut c);
                    }),
                ),
                // Its thread count is fixed at start-up (MATMUL_NUM_THREADS, set from --threads).
                "matrixmultiply" if threads == args.threads => (
                    nothing(),
                    Box::new(move || unsafe {
                        let mut c = c.borrow_mut();
                        T::mm(m, k, n, a.as_ptr(), (a_rs, a_cs), b.as_ptr(), c.as_mut_ptr());
                        black_box(&mut c);
                    }),
                ),
                _ => continue,
            };
            runners.push(Runner {
                col,
                threads,
                prepare,
                call,
                settle,
            });
        }
    }
    let check = check_results(&mut runners, c, k, args);
    let mut peak = Some(vec![]);
    let times = interleave(&mut runners, args.samples, || {
        if let Some(p) = &mut peak {
            match peak::measure_round(peak::Loop::Fma, args.threads, PEAK_ROUNDS) {
                Some(flops) => p.push(flops),
                None => peak = None,
            }
        }
    });
    let result = |col: usize, threads: usize| {
        runners
            .iter()
            .zip(&times)
            .find(|(r, _)| r.col == col && r.threads == threads)
            .map(|(_, t)| t.clone())
    };
    let names = std::iter::once("gemmkit").chain(args.peers.iter().map(String::as_str));
    let libs = names
        .enumerate()
        .map(|(col, name)| Timings {
            name: name.to_string(),
            at: result(col, args.threads),
            at_one: (args.threads > 1).then(|| result(col, 1)).flatten(),
        })
        .collect();
    ShapeRun { libs, peak, check }
}

/// The micro-kernel alone on packed panels that stay in cache (`k = 256`, beta = 1;
/// A's panel in L1, B's strip in L1 or, with 64-column strips, in L2;
/// A packed as columns of MR, as the driver packs it, and its instance):
/// the ceiling the blocking and packing around it can reach.
fn microkernel_gflops<T: Elem>(target: &gemmkit::Target, samples: usize) -> f64 {
    let kern = T::kernels(target);
    let shape = T::shape(target);
    let (mr, nr, k) = (shape.mr, shape.nr, 256);
    let a = vec![T::of(0.5); mr * k];
    let b = vec![T::of(0.25); nr * k];
    let mut c = vec![T::ZERO; mr * nr];
    let secs = time(samples, || {
        for _ in 0..64 {
            unsafe {
                (kern.own.packed.full)(
                    k,
                    T::ONE,
                    a.as_ptr(),
                    1,
                    mr,
                    b.as_ptr(),
                    nr,
                    // Nothing to fetch for later: the strip itself, as the driver's
                    // calls past the next block's width do.
                    b.as_ptr().cast_mut(),
                    T::ONE,
                    c.as_mut_ptr(),
                    nr,
                )
            };
        }
        black_box(&mut c);
    });
    64.0 * 2.0 * (mr * nr * k) as f64 / secs / 1e9
}

/// `peak`: the f32 FMA peak of one core in FLOP/s, for the micro-kernel line
/// (the table's shares are paired with each round's own peak, see `run_shape`).
fn table<T: Elem>(args: &Args, libs: &[Cblas], dnnl: Option<&dnnl::Dnnl>, peak: Option<f64>) {
    let target = gemmkit::active().expect("HWY_TARGET");
    // The FMA loop runs f32 lanes; an element twice as wide halves the peak.
    let per_f32 = 4.0 / std::mem::size_of::<T>() as f64;
    let micro = microkernel_gflops::<T>(target, args.samples);
    let pct = peak.map_or(String::new(), |p| {
        format!(" ({:.0}% of peak)", 100.0 * micro * 1e9 / (p * per_f32))
    });
    println!(
        "\n{} micro-kernel alone, cache-resident panels: {micro:.1} GFLOP/s{pct}",
        T::NAME
    );
    let peers: Vec<&str> = args.peers.iter().map(String::as_str).collect();
    let t = args.threads;
    let layout = if args.a_transposed { ", A transposed" } else { "" };
    if t == 1 {
        println!(
            "\n### {} GEMM, 1 thread{layout}, GFLOP/s (median of {})\n",
            T::NAME,
            args.samples
        );
    } else {
        println!(
            "\n### {} GEMM, {t} threads{layout}, GFLOP/s (speedup over 1 thread; median of {})\n",
            T::NAME,
            args.samples
        );
    }
    println!(
        "| m x n x k | gemmkit | {} | best peer | gemmkit / best | % of peak |",
        peers.join(" | ")
    );
    println!("|---|---:|{}---|---:|---:|", "---:|".repeat(peers.len()));
    let (mut mismatches, mut checked) = (vec![], false);
    let mut series: Vec<plot::Series> = std::iter::once("gemmkit")
        .chain(peers.iter().copied())
        .map(|name| plot::Series {
            name: name.to_string(),
            values: vec![],
        })
        .collect();
    for (i, &shape) in args.shapes.iter().enumerate() {
        progress(T::NAME, i, args.shapes.len(), shape);
        let (m, n, k) = shape;
        let gflops = |secs: f64| 2.0 * m as f64 * n as f64 * k as f64 / secs / 1e9;
        let ShapeRun {
            libs: res,
            peak: round_peak,
            check,
        } = run_shape::<T>(args, libs, dnnl, shape);
        mismatches.extend(check.into_iter().map(|c| format!("{m} x {n} x {k}: {c}")));
        checked |= res[1..].iter().any(|r| r.at.is_some());
        let cell = |i: usize| -> String {
            let Some(at) = &res[i].at else { return "n/a".into() };
            let g = gflops(median(at));
            match &res[i].at_one {
                Some(one) => format!("{g:.1} ({:.2}x)", paired_ratio(one, at)),
                None if t > 1 => format!("{g:.1} (n/a)"),
                None => format!("{g:.1}"),
            }
        };
        for (s, r) in series.iter_mut().zip(&res) {
            s.values.push(r.at.as_deref().map(|at| gflops(median(at))));
        }
        let ours = res[0].at.as_deref().unwrap_or(&[]);
        // The best peer by median; the ratio to it is paired round by round.
        let best = res[1..]
            .iter()
            .filter_map(|r| r.at.as_deref().map(|at| (&r.name, at)))
            .min_by(|x, y| median(x.1).total_cmp(&median(y.1)));
        let cells: Vec<String> = (1..res.len()).map(cell).collect();
        let (best_name, ratio) = match best {
            Some((name, at)) if !ours.is_empty() => (name.clone(), format!("{:.2}", paired_ratio(at, ours))),
            _ => ("n/a".into(), "n/a".into()),
        };
        // Each round's rate over the peak timed at the start of that round.
        let pct_peak = match round_peak {
            Some(p) if !ours.is_empty() => {
                let shares: Vec<f64> = ours
                    .iter()
                    .zip(&p)
                    .map(|(&s, &p)| gflops(s) * 1e9 / (p * per_f32))
                    .collect();
                format!("{:.0}%", 100.0 * median(&shares))
            }
            _ => "n/a".into(),
        };
        println!(
            "| {m} x {n} x {k} | {} | {} | {best_name} | {ratio} | {pct_peak} |",
            cell(0),
            cells.join(" | "),
        );
    }
    if let Some(dir) = &args.plot {
        let layout = if args.a_transposed { "-at" } else { "" };
        plot::Chart {
            title: format!(
                "{} GEMM, {t} thread{}{}",
                T::NAME,
                if t == 1 { "" } else { "s" },
                if args.a_transposed { ", A transposed" } else { "" }
            ),
            shapes: args.shapes.iter().map(|&s| shape_label(s)).collect(),
            unit: "GFLOP/s",
            series,
        }
        .write(dir, &format!("{}-{t}t{layout}", T::NAME));
    }
    // Every library's C was compared with gemmkit's once per shape (`check_results`).
    if mismatches.is_empty() && checked {
        println!("\nEvery peer's C matched gemmkit's within 2 k^2 eps on every shape.");
    } else {
        println!();
        for m in mismatches {
            println!("- warning: C differs: {m}");
        }
    }
}

/// The environment variables that make OpenBLAS and BLIS use their best kernels here.
fn peer_kernel_choice() -> Vec<(&'static str, &'static str)> {
    #[cfg(target_arch = "x86_64")]
    {
        let f = |name: &str| match name {
            "avx512bf16" => is_x86_feature_detected!("avx512bf16"),
            "avx512f" => is_x86_feature_detected!("avx512f"),
            _ => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        };
        // BLIS 0.9 reads BLIS_ARCH_TYPE as a number (`atoi`, its `arch_t`:
        // 0 skx, 3 haswell, ...), so any name is 0, skx, AVX-512 kernels
        // (SIGILL on an AVX2 CPU). Its ids are stable within 0.9.
        if f("avx512bf16") {
            vec![("OPENBLAS_CORETYPE", "Cooperlake"), ("BLIS_ARCH_TYPE", "0")]
        } else if f("avx512f") {
            vec![("OPENBLAS_CORETYPE", "SkylakeX"), ("BLIS_ARCH_TYPE", "0")]
        } else if f("avx2") {
            vec![("OPENBLAS_CORETYPE", "Haswell"), ("BLIS_ARCH_TYPE", "3")]
        } else {
            vec![]
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        vec![]
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    // Debian's OpenBLAS 0.3.21 and BLIS do not know every recent CPU model and then
    // fall back to old generic kernels (SSE3 "Prescott" for OpenBLAS): pick their
    // best kernels from the CPU's features, unless the user chose already.
    for (var, choice) in peer_kernel_choice() {
        if std::env::var_os(var).is_none() {
            // SAFETY: single-threaded so far; the libraries read it when loaded.
            unsafe { std::env::set_var(var, choice) };
            let name = match (var, choice) {
                ("BLIS_ARCH_TYPE", "0") => " (skx)",
                ("BLIS_ARCH_TYPE", "3") => " (haswell)",
                _ => "",
            };
            eprintln!("note: {var}={choice}{name} (set it yourself to override)");
        }
    }
    // The rayon-based libraries' pool: `--threads` threads, this one the first, so
    // a call from here runs on exactly that many (see the module doc).
    if args.threads > 1 {
        let global = rayon::ThreadPoolBuilder::new()
            .num_threads(args.threads)
            .use_current_thread()
            .build_global();
        if let Err(e) = global {
            eprintln!("error: rayon's global pool: {e}");
            std::process::exit(2);
        }
    }
    // matrixmultiply reads its thread count once, at its first call.
    // SAFETY: single-threaded so far.
    unsafe { std::env::set_var("MATMUL_NUM_THREADS", args.threads.to_string()) };
    // (name, library under /usr/lib/<multiarch>/, its set-threads function)
    const CBLAS_PEERS: [(&str, &str, &CStr); 2] = [
        (
            "openblas",
            "openblas-pthread/libopenblas.so.0",
            c"openblas_set_num_threads",
        ),
        ("blis", "blis-pthread/libblis.so.4", c"bli_thread_set_num_threads"),
    ];
    let mut libs = vec![];
    for (name, lib, set_threads) in CBLAS_PEERS {
        if args.peers.iter().any(|p| p == name) {
            let paths: Vec<std::ffi::CString> = ["x86_64-linux-gnu", "aarch64-linux-gnu"]
                .iter()
                .filter_map(|arch| std::ffi::CString::new(format!("/usr/lib/{arch}/{lib}")).ok())
                .collect();
            let refs: Vec<&CStr> = paths.iter().map(|p| p.as_c_str()).collect();
            libs.extend(load_cblas(name, &refs, set_threads));
        }
    }
    for (p, _, _) in CBLAS_PEERS {
        if args.peers.iter().any(|x| x == p) && !libs.iter().any(|l| l.name == p) {
            eprintln!(
                "note: {p} not found (apt-get install libopenblas0-pthread libblis4-pthread); its column says n/a"
            );
        }
    }
    // oneDNN: the f32 column and the int8 and bf16 tables.
    let dnnl = if args.peers.iter().any(|p| p == "onednn") || args.int8 || args.bf16 {
        let d = dnnl::Dnnl::load();
        if let Err(e) = &d {
            eprintln!("note: onednn: {e}; its columns say n/a");
        }
        Some(d)
    } else {
        None
    };
    let target = match gemmkit::active() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let peak = peak::measure(peak::Loop::Fma, 1, PEAK_ROUNDS);
    // With several threads, the peak of all of them busy at once: the fair bar
    // for a parallel GEMM when cores slow each other down.
    let peak_all = if args.threads > 1 {
        peak::measure(peak::Loop::Fma, args.threads, PEAK_ROUNDS)
    } else {
        None
    };
    println!("## gemm-bench\n");
    println!("- CPU: {cpu}; caches {:?}", gemmkit::CacheSizes::detect());
    println!(
        "- gemmkit target: `{}` (f32 tile {}x{}, f64 tile {}x{})",
        target.name, target.shapes.f32.mr, target.shapes.f32.nr, target.shapes.f64.mr, target.shapes.f64.nr
    );
    match peak {
        Some((flops, how)) => println!(
            "- measured FMA peak, 1 core: {:.1} GFLOP/s f32, {:.1} GFLOP/s f64 ({how} loop)",
            flops / 1e9,
            flops / 2e9
        ),
        None => println!("- FMA peak: not measured on this architecture"),
    }
    if let (Some((one, _)), Some((all, _)), true) = (peak, peak_all, args.threads > 1) {
        println!(
            "- measured FMA peak, {} cores at once: {:.1} GFLOP/s f32 ({:.2}x one core)",
            args.threads,
            all / 1e9,
            all / one
        );
    }
    match &dnnl {
        Some(Ok(d)) => println!(
            "- oneDNN {} (libdnnl.so.2), JIT ISA `{}`; threads: {}",
            d.version,
            d.isa,
            if d.can_set_threads() {
                "set to each table's count with omp_set_num_threads from its libgomp"
            } else {
                "its runtime's default (not settable here: its multi-thread cells say n/a)"
            }
        ),
        Some(Err(e)) => println!("- oneDNN: {e}; its columns say n/a"),
        None => {}
    }
    // The low-precision families' bars: the vector dot-product loops, like the
    // FMA one, and the AMX tile-product loops (the bar for a library using AMX).
    let lowp_bars = [
        (
            args.int8,
            peak::Loop::Int8,
            "int8 (u8 x s8 dot products)",
            "GOP/s",
            "vpdpbusd",
        ),
        (args.int8, peak::Loop::AmxInt8, "int8 AMX", "GOP/s", "AMX-INT8"),
        (
            args.bf16,
            peak::Loop::Bf16,
            "bf16 (bf16 dot products, f32 sums)",
            "GFLOP/s",
            "vdpbf16ps",
        ),
        (args.bf16, peak::Loop::AmxBf16, "bf16 AMX", "GFLOP/s", "AMX-BF16"),
    ];
    for (on, which, what, unit, needs) in lowp_bars {
        if !on {
            continue;
        }
        let Some((ops, how)) = peak::measure(which, 1, PEAK_ROUNDS) else {
            println!("- {what} peak: not available on this CPU (no {needs})");
            continue;
        };
        print!("- measured {what} peak, 1 core: {:.1} {unit} ({how} loop)", ops / 1e9);
        match (args.threads > 1)
            .then(|| peak::measure(which, args.threads, PEAK_ROUNDS))
            .flatten()
        {
            Some((all, _)) => {
                println!("; {} cores at once: {:.1} {unit}", args.threads, all / 1e9)
            }
            _ => println!(),
        }
    }
    let dnnl = dnnl.as_ref().and_then(|d| d.as_ref().ok());
    if args.infer {
        let bw = infer::read_bandwidth(args.threads);
        let openblas = libs.iter().find(|l| l.name == "openblas").and_then(|l| {
            l.set_threads.inspect(|set| unsafe { set(args.threads as c_int) });
            Some(infer::OpenBlas {
                sgemv: l.sgemv?,
                sgemm: l.sgemm,
            })
        });
        if args.f32 {
            infer::f32_table(&args.shapes, args.threads, args.samples, dnnl, openblas.as_ref(), bw);
        }
        if args.bf16 {
            infer::bf16_table(&args.shapes, args.threads, args.samples, dnnl, bw);
        }
        if args.int8 {
            infer::int8_table(&args.shapes, args.threads, args.samples, dnnl, bw);
        }
        return;
    }
    let one_core = peak.map(|(flops, _)| flops);
    if args.f32 {
        table::<f32>(&args, &libs, dnnl, one_core);
    }
    if args.f64 {
        table::<f64>(&args, &libs, dnnl, one_core);
    }
    if args.int8 {
        lowp::table(&args, &lowp::u8s8s32(dnnl, args.threads));
        lowp::table(&args, &lowp::s8s8s32(dnnl, args.threads));
    }
    if args.bf16 {
        lowp::table(&args, &lowp::bf16bf16f32(dnnl, args.threads));
    }
    // A shared machine can change under a run: measure the peak again and say
    // how far it moved, so a disturbed run can be recognised.
    if let (Some((before, _)), Some((after, _))) = (peak, peak::measure(peak::Loop::Fma, 1, PEAK_ROUNDS)) {
        let drift = 100.0 * (after - before) / before;
        println!(
            "\n- FMA peak at the end of the run: {:.1} GFLOP/s f32 ({drift:+.1}% from the start)",
            after / 1e9
        );
        if drift.abs() > 5.0 {
            println!(
                "- warning: the peak moved by more than 5% during the run; the machine was busy, compare ratios with care"
            );
        }
    }
}
