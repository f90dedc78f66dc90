//! `--infer`: the inference shapes, with the weights coming from memory as in
//! a model: decoding (m = 1, a GEMV) and prefill (m = 64), in GB/s of weights
//! streamed next to the core's read bandwidth measured in the same run.
//!
//! The weights are stored as PyTorch's `Linear` stores them, `n x k`
//! row-major (the product is `y = x W^T`), and each shape gets as many copies
//! as fill `ROTATION` bytes; consecutive calls take consecutive copies, so no
//! call finds its weights in a cache. gemmkit runs as `gemm` (B given as the
//! transposed view of W) and with the weights packed once (`PackedB`, built
//! before the timings, one per copy); oneDNN as `dnnl_sgemm` (and its int8 and
//! bf16 GEMMs) with `transb = 'T'`; OpenBLAS (f32) as `cblas_sgemv` where
//! m = 1 and `cblas_sgemm` otherwise. In the f32 table gemmkit also runs
//! with a bias per column fused (`gemm_fused`), as a linear layer adds one:
//! its cost over the plain product is the difference between the two
//! columns. In the int8 table gemmkit also runs dequantised to f32 with a
//! scale and a bias per column fused (`gemm_u8s8f32`), a quantised linear
//! layer. Every library's y is checked against gemmkit's once per shape (the
//! fused ones against the plain product plus the bias, or its sums scaled
//! and biased, exactly).

use crate::dnnl::Dnnl;
use gemmkit::{COffset, MatMut, MatRef, PackedB, Parallelism};
use std::ffi::c_int;
use std::hint::black_box;
use std::time::Instant;

/// The shapes, `m x n x k` (y is `m x n`, W is `n x k`): Qwen2.5's
/// decode projections, one with the bias shape, and prefill both ways round.
pub const SHAPES: &[(usize, usize, usize)] = &[
    (1, 9728, 896),
    (1, 896, 4864),
    (1, 151936, 896),
    (1, 1152, 896),
    (64, 4096, 4096),
    (4096, 64, 4096),
];

/// Bytes of weights each shape rotates through, at least: more than the
/// last-level caches of the machines this runs on.
const ROTATION: usize = 512 << 20;

/// OpenBLAS's `cblas_sgemv`.
pub type CblasGemv =
    unsafe extern "C" fn(c_int, c_int, c_int, c_int, f32, *const f32, c_int, *const f32, c_int, f32, *mut f32, c_int);
/// The f32 peer from OpenBLAS.
pub struct OpenBlas {
    pub sgemv: CblasGemv,
    pub sgemm: crate::CblasGemm<f32>,
}

const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;

/// One library's product on copy `i` of the weights, into `y`.
type Call<'a, Y> = Box<dyn Fn(usize, &mut [Y]) + 'a>;

/// The core's read bandwidth over a buffer far past the caches, in bytes per
/// second, on `threads` cores at once: the best of three passes of each of a
/// few loops (one stream or four interleaved, with and without software
/// prefetch), since which one a core's prefetchers serve best varies by CPU.
pub fn read_bandwidth(threads: usize) -> f64 {
    let words = (ROTATION / 8).div_ceil(threads * 64) * threads * 64;
    let buf: Vec<u64> = (0..words as u64).collect();
    let chunk = words / threads;
    let pass = |streams: usize, prefetch: bool| {
        let t = Instant::now();
        std::thread::scope(|s| {
            for part in buf.chunks(chunk) {
                s.spawn(move || black_box(read(part, streams, prefetch)));
            }
        });
        (words * 8) as f64 / t.elapsed().as_secs_f64()
    };
    pass(1, false);
    [(1, false), (4, false), (4, true)]
        .into_iter()
        .flat_map(|(streams, prefetch)| (0..3).map(move |_| (streams, prefetch)))
        .map(|(streams, prefetch)| pass(streams, prefetch))
        .fold(0.0, f64::max)
}

/// Sums `part` as `streams` interleaved sequential streams, eight words (a
/// line) at a time into eight independent sums, so that the loads, not an
/// add chain, set the pace; with `prefetch`, each stream fetches 2 KiB ahead.
fn read(part: &[u64], streams: usize, prefetch: bool) -> u64 {
    let len = part.len() / streams / 8 * 8;
    let mut acc = [0u64; 8];
    for i in (0..len).step_by(8) {
        for s in 0..streams {
            let at = s * len + i;
            #[cfg(target_arch = "x86_64")]
            if prefetch {
                use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
                // SAFETY: a prefetch never faults, whatever the address.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(part.as_ptr().wrapping_add(at + 256).cast()) };
            }
            for (a, &x) in acc.iter_mut().zip(&part[at..at + 8]) {
                *a = a.wrapping_add(x);
            }
        }
    }
    let _ = prefetch;
    acc.iter().fold(0, |s, &a| s.wrapping_add(a))
}

/// Times `calls` interleaved: each round runs every library over consecutive
/// copies for at least 20 ms; returns each library's median seconds per call.
fn time<Y: Copy + Default>(
    calls: &[(String, Option<Call<'_, Y>>)],
    copies: usize,
    len: usize,
    samples: usize,
    threads: usize,
) -> Vec<Option<f64>> {
    let mut y = vec![Y::default(); len];
    let mut per: Vec<Vec<f64>> = vec![vec![]; calls.len()];
    let mut next = 0;
    for _ in 0..samples {
        for (l, (_, call)) in calls.iter().enumerate() {
            let Some(call) = call else { continue };
            // On several threads, the previous library's workers spin for a
            // while after its last call (OpenBLAS's for about 0.1 s), on the
            // cores this one is about to use: wait that out (BENCHMARKS.md,
            // twelfth session).
            if threads > 1 {
                std::thread::sleep(std::time::Duration::from_millis(150));
            }
            let (t, mut reps) = (Instant::now(), 0);
            while reps < 2 || t.elapsed().as_secs_f64() < 0.02 {
                call(next % copies, &mut y);
                next += 1;
                reps += 1;
            }
            per[l].push(t.elapsed().as_secs_f64() / reps as f64);
        }
    }
    per.into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            (!v.is_empty()).then(|| v[v.len() / 2])
        })
        .collect()
}

/// One shape's timings (seconds per call, by library).
struct Row {
    shape: (usize, usize, usize),
    w_bytes: usize,
    times: Vec<Option<f64>>,
}

/// Prints a table: each library's GB/s of weights and GFLOP/s, its share of
/// the read bandwidth, and gemmkit's speed over oneDNN's (column `onednn`).
/// The bandwidth is the read loops' (`read_bandwidth`), or a library's own
/// weight stream where one was faster, so that no share passes 100%.
fn print_table(what: &str, threads: usize, names: &[String], loops: f64, rows: &[Row], onednn: usize) {
    let fastest = rows
        .iter()
        .flat_map(|r| r.times.iter().flatten().map(|t| r.w_bytes as f64 / t))
        .fold(0.0, f64::max);
    let bw = loops.max(fastest);
    println!(
        "\n### {what}, {threads} thread{}, weights from memory (read bandwidth {:.1} GB/s{})\n",
        if threads == 1 { "" } else { "s" },
        bw / 1e9,
        if fastest > loops {
            format!(
                ": a library's weight stream, faster than the read loops' {:.1}",
                loops / 1e9
            )
        } else {
            ": the read loops, measured in this run".into()
        }
    );
    println!(
        "Each cell: GB/s of weights, GFLOP/s, and the share of the read bandwidth. The last column is gemmkit's speed over oneDNN's.\n"
    );
    println!("| m x n x k | {} | gemmkit / onednn |", names.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(names.len()));
    for r in rows {
        let (m, n, k) = r.shape;
        let flops = 2.0 * (m * n * k) as f64;
        let cells: Vec<String> = r
            .times
            .iter()
            .map(|t| match t {
                Some(t) => format!(
                    "{:.1} GB/s, {:.0} GFLOP/s ({:.0}%)",
                    r.w_bytes as f64 / t / 1e9,
                    flops / t / 1e9,
                    100.0 * r.w_bytes as f64 / t / bw
                ),
                None => "n/a".into(),
            })
            .collect();
        let ratio = match (r.times[0], r.times[onednn]) {
            (Some(ours), Some(theirs)) => format!("{:.2}", theirs / ours),
            _ => "n/a".into(),
        };
        println!("| {m} x {n} x {k} | {} | {ratio} |", cells.join(" | "));
    }
}

/// Copies of the weights filling the rotation (at least two).
fn copies(w_bytes: usize) -> usize {
    ROTATION.div_ceil(w_bytes.max(1)).max(2)
}

fn fill(len: usize, seed: u64, f: impl Fn(u64) -> f32) -> Vec<f32> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            f(s)
        })
        .collect()
}

fn par(threads: usize) -> Parallelism {
    if threads == 1 {
        Parallelism::Sequential
    } else {
        Parallelism::Rayon
    }
}

/// The f32 table.
pub fn f32_table(
    shapes: &[(usize, usize, usize)],
    threads: usize,
    samples: usize,
    dnnl: Option<&Dnnl>,
    blas: Option<&OpenBlas>,
    bw: f64,
) {
    // The last column: gemmkit's plain product with a fused bias per column
    // (`gemm_fused`), what a linear layer adds, next to the plain one.
    let names: Vec<String> = ["gemmkit", "gemmkit packed", "onednn", "openblas", "gemmkit + bias"]
        .map(String::from)
        .to_vec();
    let (mut rows, mut warnings) = (vec![], vec![]);
    let target = gemmkit::active().expect("HWY_TARGET");
    for (i, &(m, n, k)) in shapes.iter().enumerate() {
        crate::progress("infer f32", i, shapes.len(), (m, n, k));
        let w_bytes = n * k * 4;
        let copies = copies(w_bytes);
        let ws: Vec<Vec<f32>> = (0..copies as u64)
            .map(|c| fill(n * k, c + 1, |r| (r % 1000) as f32 / 500.0 - 1.0))
            .collect();
        let x = fill(m * k, 99, |r| (r % 1000) as f32 / 500.0 - 1.0);
        let bias = fill(n, 7, |r| (r % 1000) as f32 / 500.0 - 1.0);
        let packed: Vec<PackedB<f32>> = ws
            .iter()
            .map(|w| PackedB::new_on(target, MatRef::row_major(w, n, k).t()).expect("pack"))
            .collect();
        let p = par(threads);
        // (References, for the peers' `move` closures.)
        let (x, ws, bias) = (&x, &ws, &bias);
        let wt = |i: usize| MatRef::row_major(&ws[i], n, k).t();
        let with_bias = gemmkit::Epilogue::new(gemmkit::Bias::PerColumn(bias), gemmkit::Activation::None);
        // gemmkit's product as given, plain or with the bias fused.
        let ours = |fused: bool| -> Call<'_, f32> {
            let (p, wt, with_bias) = (&p, &wt, &with_bias);
            Box::new(move |i, y: &mut [f32]| {
                let (a, c) = (MatRef::row_major(x, m, k), MatMut::row_major(y, m, n));
                if fused {
                    gemmkit::gemm_fused_with(target, p, 1.0, a, wt(i), 0.0, c, with_bias)
                } else {
                    gemmkit::gemm_with(target, p, 1.0, a, wt(i), 0.0, c)
                }
                .unwrap()
            })
        };
        let calls: Vec<(String, Option<Call<'_, f32>>)> = vec![
            (names[0].clone(), Some(ours(false))),
            (
                names[1].clone(),
                Some(Box::new(|i, y: &mut [f32]| {
                    gemmkit::gemm_packed_with(
                        target,
                        &p,
                        1.0,
                        MatRef::row_major(x, m, k),
                        &packed[i],
                        0.0,
                        MatMut::row_major(y, m, n),
                    )
                    .unwrap()
                })),
            ),
            (
                names[2].clone(),
                dnnl.map(|d| {
                    d.set_threads(threads);
                    Box::new(move |i: usize, y: &mut [f32]| unsafe {
                        let (mi, ni, ki) = (m as i64, n as i64, k as i64);
                        let status = (d.sgemm)(
                            b'N' as _,
                            b'T' as _,
                            mi,
                            ni,
                            ki,
                            1.0,
                            x.as_ptr(),
                            ki,
                            ws[i].as_ptr(),
                            ki,
                            0.0,
                            y.as_mut_ptr(),
                            ni,
                        );
                        assert_eq!(status, 0, "oneDNN returned status {status}");
                    }) as Call<'_, f32>
                }),
            ),
            (
                names[3].clone(),
                blas.map(|b| {
                    Box::new(move |i: usize, y: &mut [f32]| unsafe {
                        let (mi, ni, ki) = (m as c_int, n as c_int, k as c_int);
                        if m == 1 {
                            (b.sgemv)(
                                ROW_MAJOR,
                                NO_TRANS,
                                ni,
                                ki,
                                1.0,
                                ws[i].as_ptr(),
                                ki,
                                x.as_ptr(),
                                1,
                                0.0,
                                y.as_mut_ptr(),
                                1,
                            );
                        } else {
                            (b.sgemm)(
                                ROW_MAJOR,
                                NO_TRANS,
                                TRANS,
                                mi,
                                ni,
                                ki,
                                1.0,
                                x.as_ptr(),
                                ki,
                                ws[i].as_ptr(),
                                ki,
                                0.0,
                                y.as_mut_ptr(),
                                ni,
                            );
                        }
                    }) as Call<'_, f32>
                }),
            ),
            (names[4].clone(), Some(ours(true))),
        ];
        warnings.extend(check(&calls[..4], (m, n, k), 1e-3));
        // The bias added to the plain product: one rounding either way.
        let plus_bias = |y: &[f32], e: usize| y[e] + bias[e % n];
        warnings.extend(check_fused(&calls[0], &calls[4], |y| y, plus_bias, (m, n, k)));
        let times = time(&calls, copies, m * n, samples, threads);
        rows.push(Row {
            shape: (m, n, k),
            w_bytes,
            times,
        });
    }
    print_table("f32 inference shapes", threads, &names, bw, &rows, 2);
    if !warnings.is_empty() {
        println!();
    }
    warnings.iter().for_each(|w| println!("{w}"));
}

/// An `i32` y's elements as the `f32` a dequantising call writes there.
fn as_f32(y: &mut [i32]) -> &mut [f32] {
    // SAFETY: one size and alignment, and every bit pattern is a value of each.
    unsafe { std::slice::from_raw_parts_mut(y.as_mut_ptr().cast(), y.len()) }
}

/// A fused column's y on copy 0 (its elements as `f32`: `values`) against
/// `want(e)`, made from the plain product's y, bit for bit: the fused steps
/// and the unfused ones round the same way.
fn check_fused<Y: Copy + Default>(
    plain: &(String, Option<Call<'_, Y>>),
    fused: &(String, Option<Call<'_, Y>>),
    values: fn(&mut [Y]) -> &mut [f32],
    want: impl Fn(&[Y], usize) -> f32,
    (m, n, k): (usize, usize, usize),
) -> Option<String> {
    let (Some(plain_call), Some(fused_call)) = (&plain.1, &fused.1) else {
        return None;
    };
    let (mut y, mut yf) = (vec![Y::default(); m * n], vec![Y::default(); m * n]);
    plain_call(0, &mut y);
    fused_call(0, &mut yf);
    let got = values(&mut yf);
    let bad = (0..m * n).find(|&e| got[e].to_bits() != want(&y, e).to_bits())?;
    Some(format!(
        "- warning: {m} x {n} x {k}: {} gave {} at element {bad}, {} unfused {}",
        fused.0,
        got[bad],
        plain.0,
        want(&y, bad)
    ))
}

/// Every library's y on copy 0 against the first's (relative to its largest
/// element): a line for each that differs, printed under the table.
fn check<Y: Copy + Default + Into<f64>>(
    calls: &[(String, Option<Call<'_, Y>>)],
    (m, n, k): (usize, usize, usize),
    tol: f64,
) -> Vec<String> {
    let len = m * n;
    let mut out = vec![];
    let run = |c: &Call<'_, Y>| {
        let mut y = vec![Y::default(); len];
        c(0, &mut y);
        y.into_iter().map(Into::into).collect::<Vec<f64>>()
    };
    let Some(first) = calls[0].1.as_ref().map(run) else {
        return out;
    };
    let scale = first.iter().fold(1.0f64, |a, &b| a.max(b.abs()));
    for (name, call) in &calls[1..] {
        if let Some(y) = call.as_ref().map(run) {
            let worst = first.iter().zip(&y).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            if worst > tol * scale {
                out.push(format!(
                    "- warning: {m} x {n} x {k}: {name}'s y differs from gemmkit's by {worst:.3e} (scale {scale:.3e})"
                ));
            }
        }
    }
    out
}

/// The bf16 table (bf16 weights and x, f32 y).
pub fn bf16_table(shapes: &[(usize, usize, usize)], threads: usize, samples: usize, dnnl: Option<&Dnnl>, bw: f64) {
    use half::bf16;
    let names: Vec<String> = ["gemmkit", "gemmkit packed", "onednn"].map(String::from).to_vec();
    let (mut rows, mut warnings) = (vec![], vec![]);
    let target = gemmkit::active().expect("HWY_TARGET");
    for (i, &(m, n, k)) in shapes.iter().enumerate() {
        crate::progress("infer bf16", i, shapes.len(), (m, n, k));
        let w_bytes = n * k * 2;
        let copies = copies(w_bytes);
        let to_bf16 = |v: Vec<f32>| v.into_iter().map(bf16::from_f32).collect::<Vec<bf16>>();
        let ws: Vec<Vec<bf16>> = (0..copies as u64)
            .map(|c| to_bf16(fill(n * k, c + 1, |r| (r % 1000) as f32 / 500.0 - 1.0)))
            .collect();
        let x = to_bf16(fill(m * k, 99, |r| (r % 1000) as f32 / 500.0 - 1.0));
        let packed: Vec<PackedB<bf16>> = ws
            .iter()
            .map(|w| PackedB::new_on(target, MatRef::row_major(w, n, k).t()).expect("pack"))
            .collect();
        let p = par(threads);
        // (References, for the peers' `move` closures.)
        let (x, ws) = (&x, &ws);
        let wt = |i: usize| MatRef::row_major(&ws[i], n, k).t();
        let bits = |v: &[bf16]| v.as_ptr().cast::<u16>();
        let calls: Vec<(String, Option<Call<'_, f32>>)> = vec![
            (
                names[0].clone(),
                Some(Box::new(|i, y: &mut [f32]| {
                    gemmkit::gemm_bf16_with(
                        target,
                        &p,
                        1.0,
                        MatRef::row_major(x, m, k),
                        wt(i),
                        0.0,
                        MatMut::row_major(y, m, n),
                    )
                    .unwrap()
                })),
            ),
            (
                names[1].clone(),
                Some(Box::new(|i, y: &mut [f32]| {
                    gemmkit::gemm_bf16_packed_with(
                        target,
                        &p,
                        1.0,
                        MatRef::row_major(x, m, k),
                        &packed[i],
                        0.0,
                        MatMut::row_major(y, m, n),
                    )
                    .unwrap()
                })),
            ),
            (
                names[2].clone(),
                dnnl.and_then(|d| d.bf16bf16f32).map(|f| {
                    dnnl.unwrap().set_threads(threads);
                    Box::new(move |i: usize, y: &mut [f32]| unsafe {
                        let (mi, ni, ki) = (m as i64, n as i64, k as i64);
                        let status = f(
                            b'N' as _,
                            b'T' as _,
                            mi,
                            ni,
                            ki,
                            1.0,
                            bits(x),
                            ki,
                            bits(&ws[i]),
                            ki,
                            0.0,
                            y.as_mut_ptr(),
                            ni,
                        );
                        assert_eq!(status, 0, "oneDNN returned status {status}");
                    }) as Call<'_, f32>
                }),
            ),
        ];
        warnings.extend(check(&calls, (m, n, k), 1e-3));
        let times = time(&calls, copies, m * n, samples, threads);
        rows.push(Row {
            shape: (m, n, k),
            w_bytes,
            times,
        });
    }
    print_table(
        "bf16 inference shapes (bf16 x bf16 -> f32)",
        threads,
        &names,
        bw,
        &rows,
        2,
    );
    if !warnings.is_empty() {
        println!();
    }
    warnings.iter().for_each(|w| println!("{w}"));
}

/// The int8 table (u8 x, s8 weights, s32 y, zero offsets). The last column:
/// gemmkit's product dequantised to f32 y with a scale and a bias per column,
/// fused (`gemm_u8s8f32`), as a quantised linear layer computes it.
pub fn int8_table(shapes: &[(usize, usize, usize)], threads: usize, samples: usize, dnnl: Option<&Dnnl>, bw: f64) {
    let names: Vec<String> = ["gemmkit", "gemmkit packed", "onednn", "gemmkit + dequant"]
        .map(String::from)
        .to_vec();
    let (mut rows, mut warnings) = (vec![], vec![]);
    let target = gemmkit::active().expect("HWY_TARGET");
    for (i, &(m, n, k)) in shapes.iter().enumerate() {
        crate::progress("infer int8", i, shapes.len(), (m, n, k));
        let w_bytes = n * k;
        let copies = copies(w_bytes);
        let ws: Vec<Vec<i8>> = (0..copies as u64)
            .map(|c| {
                fill(n * k, c + 1, |r| (r >> 20) as u8 as f32)
                    .into_iter()
                    .map(|v| v as u8 as i8)
                    .collect()
            })
            .collect();
        let x: Vec<u8> = fill(m * k, 99, |r| (r >> 20) as u8 as f32)
            .into_iter()
            .map(|v| v as u8)
            .collect();
        let packed: Vec<PackedB<i8>> = ws
            .iter()
            .map(|w| PackedB::new_on(target, MatRef::row_major(w, n, k).t()).expect("pack"))
            .collect();
        let scale = fill(n, 8, |r| (r % 1000) as f32 * 1e-6);
        let bias = fill(n, 7, |r| (r % 1000) as f32 / 500.0 - 1.0);
        let p = par(threads);
        // (References, for the peers' `move` closures.)
        let (x, ws, scale, bias) = (&x, &ws, &scale, &bias);
        let wt = |i: usize| MatRef::row_major(&ws[i], n, k).t();
        let zero = COffset::Fixed(0);
        let with_bias = gemmkit::Epilogue::new(gemmkit::Bias::PerColumn(bias), gemmkit::Activation::None);
        let calls: Vec<(String, Option<Call<'_, i32>>)> = vec![
            (
                names[0].clone(),
                Some(Box::new(|i, y: &mut [i32]| {
                    let (a, c) = (MatRef::row_major(x, m, k), MatMut::row_major(y, m, n));
                    gemmkit::gemm_u8s8s32_with(target, &p, 1.0, a, 0, wt(i), 0, 0.0, c, zero).unwrap()
                })),
            ),
            (
                names[1].clone(),
                Some(Box::new(|i, y: &mut [i32]| {
                    let (a, c) = (MatRef::row_major(x, m, k), MatMut::row_major(y, m, n));
                    gemmkit::gemm_u8s8s32_packed_with(target, &p, 1.0, a, 0, &packed[i], 0, 0.0, c, zero).unwrap()
                })),
            ),
            (
                names[2].clone(),
                dnnl.and_then(|d| d.u8s8s32).map(|f| {
                    dnnl.unwrap().set_threads(threads);
                    let co = [0i32];
                    Box::new(move |i: usize, y: &mut [i32]| unsafe {
                        let (mi, ni, ki) = (m as i64, n as i64, k as i64);
                        let status = f(
                            b'N' as _,
                            b'T' as _,
                            b'F' as _,
                            mi,
                            ni,
                            ki,
                            1.0,
                            x.as_ptr(),
                            ki,
                            0,
                            ws[i].as_ptr(),
                            ki,
                            0,
                            0.0,
                            y.as_mut_ptr(),
                            ni,
                            co.as_ptr(),
                        );
                        assert_eq!(status, 0, "oneDNN returned status {status}");
                    }) as Call<'_, i32>
                }),
            ),
            (
                names[3].clone(),
                Some(Box::new(|i, y: &mut [i32]| {
                    let a = MatRef::row_major(x, m, k);
                    let c = MatMut::row_major(as_f32(y), m, n);
                    let scale = gemmkit::Scale::PerColumn(scale);
                    gemmkit::gemm_u8s8f32_with(target, &p, a, 0, wt(i), 0, c, scale, &with_bias).unwrap()
                })),
            ),
        ];
        warnings.extend(check(&calls[..3], (m, n, k), 0.0));
        // The sums converted, scaled and biased: the same three roundings.
        let dequantised = |y: &[i32], e: usize| y[e] as f32 * scale[e % n] + bias[e % n];
        warnings.extend(check_fused(&calls[0], &calls[3], as_f32, dequantised, (m, n, k)));
        let times = time(&calls, copies, m * n, samples, threads);
        rows.push(Row {
            shape: (m, n, k),
            w_bytes,
            times,
        });
    }
    print_table(
        "int8 inference shapes (u8 x s8 -> s32; dequantised: f32)",
        threads,
        &names,
        bw,
        &rows,
        2,
    );
    if !warnings.is_empty() {
        println!();
    }
    warnings.iter().for_each(|w| println!("{w}"));
}
