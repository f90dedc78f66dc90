//! Times f32 products with m = 1 (GEMV) through `gemm_with`, with the weights
//! rotated through at least 1 GiB (so that they come from memory, as a
//! model's do) or one copy reused (from the caches), for both storage orders of
//! W and for every stride choice of the vectors' length-1 dimension. Prints
//! the median GB/s of weights streamed.
//!
//! ```sh
//! cargo run --release -p gemmkit --example gemv_timing -- 1x4096x4096 1x9728x896
//! ```

use gemmkit::{MatMut, MatRef, Parallelism, gemm_with};
use std::time::Instant;

fn main() {
    let shapes: Vec<(usize, usize)> = std::env::args()
        .skip(1)
        .map(|s| {
            let d: Vec<usize> = s.split('x').map(|v| v.parse().expect("MxNxK")).collect();
            assert!(d.len() == 3 && d[0] == 1, "shapes are 1xNxK");
            (d[1], d[2])
        })
        .collect();
    let target = gemmkit::active().expect("target");
    let par = Parallelism::Sequential;
    println!(
        "target {}, one thread; median GB/s of weights (higher is better)",
        target.name
    );
    for (n, k) in shapes {
        let elems = n * k;
        let copies = ((1usize << 30) / (elems * 4)).max(2);
        let w: Vec<f32> = (0..elems * copies).map(|i| ((i * 7919) % 1000) as f32 * 1e-3).collect();
        let x: Vec<f32> = (0..k * k.max(n)).map(|i| (i % 13) as f32).collect();
        let mut y = vec![0.0f32; n * k.max(n)];
        for (form, transposed) in [("x W  (W k x n)", false), ("x W' (W n x k)", true)] {
            for (stride, rs) in [("unit", 1), ("ld", 0)] {
                let mut run = |c: usize| {
                    let wc = &w[c * elems..][..elems];
                    let wv = if transposed {
                        MatRef::row_major(wc, n, k).t()
                    } else {
                        MatRef::row_major(wc, k, n)
                    };
                    // The length-1 dimension's stride: 1, or the "other" layout's
                    // leading dimension.
                    let (rsx, rsy) = if rs == 1 { (1, 1) } else { (k, n) };
                    let xv = MatRef::strided(&x, 1, k, rsx, 1);
                    let yv = MatMut::strided(&mut y, 1, n, rsy, 1);
                    gemm_with(target, &par, 1.0, xv, wv, 0.0, yv).expect("gemm");
                };
                for (place, reuse) in [("memory", false), ("cached", true)] {
                    let mut samples = Vec::new();
                    for _ in 0..7 {
                        let calls = copies.max(8);
                        let t = Instant::now();
                        for i in 0..calls {
                            run(if reuse { 0 } else { i % copies });
                        }
                        let per = t.elapsed().as_secs_f64() / calls as f64;
                        samples.push(elems as f64 * 4.0 / per / 1e9);
                    }
                    samples.sort_by(f64::total_cmp);
                    println!(
                        "1x{n}x{k} {form} vector stride {stride:4} weights from {place}: {:6.1} GB/s",
                        samples[3]
                    );
                }
            }
        }
    }
}
