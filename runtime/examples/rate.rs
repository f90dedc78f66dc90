//! Times one product call after call in one process and prints each call's
//! GFLOP/s: the first calls show the warm-up (threads waking, buffers
//! growing), the rest the steady rate. For comparing settings in-process
//! (blocking, tuning) where `gemm-bench`'s runs, a process each, differ by
//! more than the change.
//!
//! ```sh
//! # f32, f64, bf16 or s8 (s8 x s8 -> s32); M x N x K; then options:
//! #   --threads T     (rayon's global pool; 1 runs sequentially)
//! #   --calls N       (default 10)
//! #   --blocking KC,MC,NC
//! #   --weights-nk    (B stored n x k, as PyTorch's Linear stores weights)
//! #   --cold          (B rotated through 8 copies, so that it comes from memory)
//! #   --bf16-widen true|false
//! #   --epilogue relu|silu|gelu-tanh|gelu-erf   (f32: a bias per column, then it)
//! cargo run --release -p gemmkit --example rate -- f32 1024x1024x1024 --threads 2
//! cargo run --release -p gemmkit --example rate -- bf16 64x4096x4096 --weights-nk --cold --bf16-widen false
//! ```

use gemmkit::{MatMut, MatRef, Parallelism};
use half::bf16;
use std::time::Instant;

struct Opts {
    m: usize,
    n: usize,
    k: usize,
    threads: usize,
    calls: usize,
    weights_nk: bool,
    copies: usize,
    /// f32 only: a bias per column and this activation, fused.
    epilogue: Option<gemmkit::Activation>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: rate f32|f64|bf16|s8 MxNxK [--threads T] [--calls N] [--blocking KC,MC,NC] \
                 [--weights-nk] [--cold] [--bf16-widen true|false] [--epilogue relu|silu|gelu-tanh|gelu-erf]";
    let (Some(elem), Some(shape)) = (args.first(), args.get(1)) else {
        panic!("{usage}");
    };
    let d: Vec<usize> = shape.split('x').map(|v| v.parse().expect("MxNxK")).collect();
    assert!(d.len() == 3, "{usage}");
    let mut o = Opts {
        m: d[0],
        n: d[1],
        k: d[2],
        threads: 1,
        calls: 10,
        weights_nk: false,
        copies: 1,
        epilogue: None,
    };
    let target = gemmkit::active().expect("target");
    let mut it = args[2..].iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().expect(usage).as_str();
        match a.as_str() {
            "--threads" => o.threads = value().parse().expect("--threads T"),
            "--calls" => o.calls = value().parse().expect("--calls N"),
            "--weights-nk" => o.weights_nk = true,
            "--cold" => o.copies = 8,
            "--blocking" => {
                let v: Vec<usize> = value().split(',').map(|x| x.parse().expect("KC,MC,NC")).collect();
                let [kc, mc, nc] = v[..] else {
                    panic!("--blocking KC,MC,NC")
                };
                let b = gemmkit::Blocking { kc, mc, nc };
                gemmkit::set_blocking(Some(b)).expect("--blocking");
            }
            "--epilogue" => {
                use gemmkit::Activation::*;
                o.epilogue = Some(match value() {
                    "relu" => Relu,
                    "silu" => Silu,
                    "gelu-tanh" => GeluTanh,
                    "gelu-erf" => GeluErf,
                    _ => panic!("{usage}"),
                });
            }
            "--bf16-widen" => {
                let widen = value().parse().expect("--bf16-widen true|false");
                let tuning = gemmkit::Tuning {
                    bf16_widen: widen,
                    ..gemmkit::tuning(target)
                };
                gemmkit::set_tuning(Some(tuning)).expect("tuning");
            }
            _ => panic!("{usage}"),
        }
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(o.threads)
        .use_current_thread()
        .build_global()
        .expect("rayon's global pool");
    let rates = match elem.as_str() {
        "f32" => {
            let bias: Vec<f32> = (0..o.n).map(|j| (j % 7) as f32 * 0.25 - 0.75).collect();
            let act = o.epilogue;
            run(
                &o,
                |x| x,
                |t, p, a, b, c| match act {
                    Some(act) => {
                        let e = gemmkit::Epilogue::new(gemmkit::Bias::PerColumn(&bias), act);
                        gemmkit::gemm_fused_with(t, p, 1.0, a, b, 0.0, c, &e)
                    }
                    None => gemmkit::gemm_with(t, p, 1.0f32, a, b, 0.0, c),
                },
            )
        }
        "f64" => run(&o, f64::from, |t, p, a, b, c| {
            gemmkit::gemm_with(t, p, 1.0f64, a, b, 0.0, c)
        }),
        "bf16" => run(&o, bf16::from_f32, |t, p, a, b, c: MatMut<'_, f32>| {
            gemmkit::gemm_bf16_with(t, p, 1.0, a, b, 0.0, c)
        }),
        "s8" => run(
            &o,
            |x| (x * 127.0) as i8,
            |t, p, a, b, c: MatMut<'_, i32>| {
                gemmkit::gemm_s8s8s32_with(t, p, 1.0, a, 0, b, 0, 0.0, c, gemmkit::COffset::Fixed(0))
            },
        ),
        _ => panic!("{usage}"),
    };
    let line: Vec<String> = rates.iter().map(|r| format!("{r:.1}")).collect();
    println!(
        "{elem} {shape} on {} thread(s), target {}: GFLOP/s per call: {}",
        o.threads,
        target.name,
        line.join(" ")
    );
}

/// The GFLOP/s of each call of `gemm` on values made by `of`, C of `f32` or `T`.
fn run<T: Copy + Send + Sync, C: Copy + Default>(
    o: &Opts,
    of: impl Fn(f32) -> T,
    gemm: impl Fn(
        &gemmkit::Target,
        &Parallelism,
        MatRef<'_, T>,
        MatRef<'_, T>,
        MatMut<'_, C>,
    ) -> Result<(), gemmkit::GemmError>,
) -> Vec<f64> {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut fill = |len: usize| -> Vec<T> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                of(((seed >> 24) % 1000) as f32 / 500.0 - 1.0)
            })
            .collect()
    };
    let a = fill(o.m * o.k);
    let bs: Vec<Vec<T>> = (0..o.copies).map(|_| fill(o.k * o.n)).collect();
    let mut c = vec![C::default(); o.m * o.n];
    let target = gemmkit::active().expect("target");
    let par = if o.threads == 1 {
        Parallelism::Sequential
    } else {
        Parallelism::Rayon
    };
    (0..o.calls)
        .map(|i| {
            let b = &bs[i % o.copies];
            let b = if o.weights_nk {
                MatRef::row_major(b, o.n, o.k).t()
            } else {
                MatRef::row_major(b, o.k, o.n)
            };
            let (a, c) = (MatRef::row_major(&a, o.m, o.k), MatMut::row_major(&mut c, o.m, o.n));
            let t = Instant::now();
            gemm(target, &par, a, b, c).expect("gemm");
            2.0 * (o.m * o.n * o.k) as f64 / t.elapsed().as_secs_f64() / 1e9
        })
        .collect()
}
