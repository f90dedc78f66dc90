//! The low-precision families: int8 (u8 x s8 -> s32, s8 x s8 -> s32) and bf16
//! (bf16 x bf16 -> f32) GEMM, in GOP/s (`2 m n k` ops a call), each against the
//! peak of its dot-product instruction measured in the same run (`vpdpbusd`,
//! `vdpbf16ps`; see `peak.rs`).
//!
//! A family is its operand types and a list of libraries, gemmkit's first; a
//! library is a [`Gemm`] closure (`|m, n, k, a, b, c, threads| ...`, see
//! [`u8s8s32`], [`s8s8s32`] and [`bf16bf16f32`]) or the reason it has none.
//!
//! Every library runs on `--threads` threads; the timings are interleaved as in
//! the f32 and f64 tables, each round starting with one timing of the peak loop
//! on that many cores, and each cell's share of the peak is paired with its
//! round's. Every library's C is checked once per shape on sampled elements
//! against the exact products: equal for int8, within `k eps sum |a b|` (f32
//! accumulation of exact bf16 products) for bf16.

use gemmkit::{COffset, MatMut, MatRef, Parallelism};
use std::cell::RefCell;
use std::ffi::c_char;
use std::hint::black_box;
use std::time::Duration;

use crate::dnnl::{Dim, Dnnl};
use crate::{Args, Runner, interleave, median, paired_ratio, peak};

/// An element of an operand or of C, as f64 for the check.
pub trait Value: Copy + Default + 'static {
    fn f(self) -> f64;
    /// What C is filled with before the check's call: no GEMM result.
    const POISON: Self;
}

impl Value for u8 {
    fn f(self) -> f64 {
        self as f64
    }
    const POISON: Self = 0x5a;
}
impl Value for i8 {
    fn f(self) -> f64 {
        self as f64
    }
    const POISON: Self = 0x5a;
}
impl Value for i32 {
    fn f(self) -> f64 {
        self as f64
    }
    const POISON: Self = 0x5a5a_5a5a;
}
impl Value for f32 {
    fn f(self) -> f64 {
        self as f64
    }
    const POISON: Self = 1e30;
}

/// bf16 as its 16 bits: the upper half of an f32.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
#[repr(transparent)]
pub struct Bf16(pub u16);

impl Value for Bf16 {
    fn f(self) -> f64 {
        f32::from_bits((self.0 as u32) << 16) as f64
    }
    const POISON: Self = Bf16(0x7f80);
}

/// `C = A B` (alpha 1, beta 0) on contiguous row-major operands, A `m x k`,
/// B `k x n`, C `m x n`, on `threads` threads in all, the caller among them:
/// `(m, n, k, a, b, c, threads)`.
pub type Gemm<'a, A, B, C> = Box<dyn Fn(usize, usize, usize, &[A], &[B], &mut [C], usize) + 'a>;

/// One library's column.
pub struct Lib<'a, A, B, C> {
    pub name: &'static str,
    /// Its GEMM, or what its column says instead.
    pub gemm: Result<Gemm<'a, A, B, C>, &'static str>,
    /// How long its threads stay busy after a call (see `Runner::settle`).
    pub settle: Duration,
}

pub struct Family<'a, A, B, C> {
    /// "int8"
    pub family: &'static str,
    /// "u8 x s8 -> s32"
    pub types: &'static str,
    /// The loops whose rates bound this family: the vector dot product's, then
    /// the AMX tile product's (the bar for a library that uses AMX).
    pub peaks: [peak::Loop; 2],
    /// gemmkit first, then its peers.
    pub libs: Vec<Lib<'a, A, B, C>>,
    /// An element of A, and of B, from a random number.
    pub a: fn(u64) -> A,
    pub b: fn(u64) -> B,
    /// The check's bound on `|C - exact|` over `k sum |a b|`: 0 for integers.
    pub rel_tol: f64,
}

/// gemmkit's target (`HWY_TARGET` or the best).
fn target() -> &'static gemmkit::Target {
    gemmkit::active().expect("HWY_TARGET")
}

/// gemmkit's threading for `threads` (rayon's global pool, which `main` sized,
/// as for the f32 and f64 tables).
fn par(threads: usize) -> Parallelism {
    if threads == 1 {
        Parallelism::Sequential
    } else {
        Parallelism::Rayon
    }
}

/// The bench's bf16 bits as `half::bf16` (both a plain `u16`).
fn as_half(x: &[Bf16]) -> &[half::bf16] {
    // SAFETY: `Bf16` is `#[repr(transparent)]` over `u16`, as `half::bf16` is.
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast(), x.len()) }
}

/// oneDNN's column: its GEMM, on `threads` threads through libgomp.
fn onednn<'a, A, B, C>(
    d: Option<&'a Dnnl>,
    threads: usize,
    f: impl FnOnce(&'a Dnnl) -> Option<Gemm<'a, A, B, C>>,
) -> Lib<'a, A, B, C> {
    let gemm = match d {
        None => Err("n/a (oneDNN not found)"),
        Some(d) if threads > 1 && !d.can_set_threads() => Err("n/a (its thread count cannot be set)"),
        Some(d) => f(d).ok_or("n/a (none in this oneDNN on this CPU)"),
    };
    Lib {
        name: "onednn",
        gemm,
        // libgomp's idle workers spin for a while after a parallel region.
        settle: Duration::from_millis(if threads > 1 { 10 } else { 0 }),
    }
}

fn byte(r: u64) -> u8 {
    (r >> 24) as u8
}

/// bf16 in [-1, 1): an f32 cut to its upper half, so the value is exact.
fn bf16_of(r: u64) -> Bf16 {
    let x = ((r >> 24) % 1000) as f32 / 500.0 - 1.0;
    Bf16((x.to_bits() >> 16) as u16)
}

/// u8 x s8 -> s32: oneDNN's `dnnl_gemm_u8s8s32`, zero offsets.
pub fn u8s8s32(d: Option<&Dnnl>, threads: usize) -> Family<'_, u8, i8, i32> {
    let ours = Lib {
        name: "gemmkit",
        gemm: Ok(Box::new(
            |m: usize, n: usize, k: usize, a: &[u8], b: &[i8], c: &mut [i32], threads: usize| {
                let (a, b, c) = (
                    MatRef::row_major(a, m, k),
                    MatRef::row_major(b, k, n),
                    MatMut::row_major(c, m, n),
                );
                gemmkit::gemm_u8s8s32_with(target(), &par(threads), 1.0, a, 0, b, 0, 0.0, c, COffset::Fixed(0))
                    .expect("gemmkit u8s8s32");
            },
        ) as Gemm<_, _, _>),
        settle: Duration::ZERO,
    };
    let theirs = onednn(d, threads, |d| {
        let g = d.u8s8s32?;
        Some(Box::new(
            move |m: usize, n: usize, k: usize, a: &[u8], b: &[i8], c: &mut [i32], threads: usize| {
                d.set_threads(threads);
                let (m, n, k) = (m as Dim, n as Dim, k as Dim);
                let no = b'N' as c_char;
                // SAFETY: the slices are m x k, k x n and m x n, row-major.
                let status = unsafe {
                    g(
                        no,
                        no,
                        b'F' as c_char,
                        m,
                        n,
                        k,
                        1.0,
                        a.as_ptr(),
                        k,
                        0,
                        b.as_ptr(),
                        n,
                        0,
                        0.0,
                        c.as_mut_ptr(),
                        n,
                        &0,
                    )
                };
                assert_eq!(status, 0, "dnnl_gemm_u8s8s32 returned status {status}");
            },
        ) as Gemm<_, _, _>)
    });
    Family {
        family: "int8",
        types: "u8 x s8 -> s32",
        peaks: [peak::Loop::Int8, peak::Loop::AmxInt8],
        libs: vec![ours, theirs],
        a: byte,
        b: |r| byte(r) as i8,
        rel_tol: 0.0,
    }
}

/// s8 x s8 -> s32: oneDNN's `dnnl_gemm_s8s8s32`, zero offsets (on x86 it
/// shifts A to u8 and subtracts the shift's product, so the bar is `vpdpbusd`).
pub fn s8s8s32(d: Option<&Dnnl>, threads: usize) -> Family<'_, i8, i8, i32> {
    let ours = Lib {
        name: "gemmkit",
        gemm: Ok(Box::new(
            |m: usize, n: usize, k: usize, a: &[i8], b: &[i8], c: &mut [i32], threads: usize| {
                let (a, b, c) = (
                    MatRef::row_major(a, m, k),
                    MatRef::row_major(b, k, n),
                    MatMut::row_major(c, m, n),
                );
                gemmkit::gemm_s8s8s32_with(target(), &par(threads), 1.0, a, 0, b, 0, 0.0, c, COffset::Fixed(0))
                    .expect("gemmkit s8s8s32");
            },
        ) as Gemm<_, _, _>),
        settle: Duration::ZERO,
    };
    let theirs = onednn(d, threads, |d| {
        let g = d.s8s8s32?;
        Some(Box::new(
            move |m: usize, n: usize, k: usize, a: &[i8], b: &[i8], c: &mut [i32], threads: usize| {
                d.set_threads(threads);
                let (m, n, k) = (m as Dim, n as Dim, k as Dim);
                let no = b'N' as c_char;
                // SAFETY: the slices are m x k, k x n and m x n, row-major.
                let status = unsafe {
                    g(
                        no,
                        no,
                        b'F' as c_char,
                        m,
                        n,
                        k,
                        1.0,
                        a.as_ptr(),
                        k,
                        0,
                        b.as_ptr(),
                        n,
                        0,
                        0.0,
                        c.as_mut_ptr(),
                        n,
                        &0,
                    )
                };
                assert_eq!(status, 0, "dnnl_gemm_s8s8s32 returned status {status}");
            },
        ) as Gemm<_, _, _>)
    });
    Family {
        family: "int8",
        types: "s8 x s8 -> s32",
        peaks: [peak::Loop::Int8, peak::Loop::AmxInt8],
        libs: vec![ours, theirs],
        a: |r| byte(r) as i8,
        b: |r| byte(r) as i8,
        rel_tol: 0.0,
    }
}

/// bf16 x bf16 -> f32: oneDNN's `dnnl_gemm_bf16bf16f32`.
pub fn bf16bf16f32(d: Option<&Dnnl>, threads: usize) -> Family<'_, Bf16, Bf16, f32> {
    let ours = Lib {
        name: "gemmkit",
        gemm: Ok(Box::new(
            |m: usize, n: usize, k: usize, a: &[Bf16], b: &[Bf16], c: &mut [f32], threads: usize| {
                let (a, b) = (as_half(a), as_half(b));
                let (a, b, c) = (
                    MatRef::row_major(a, m, k),
                    MatRef::row_major(b, k, n),
                    MatMut::row_major(c, m, n),
                );
                gemmkit::gemm_bf16_with(target(), &par(threads), 1.0, a, b, 0.0, c).expect("gemmkit bf16");
            },
        ) as Gemm<_, _, _>),
        settle: Duration::ZERO,
    };
    let theirs = onednn(d, threads, |d| {
        let g = d.bf16bf16f32?;
        Some(Box::new(
            move |m: usize, n: usize, k: usize, a: &[Bf16], b: &[Bf16], c: &mut [f32], threads: usize| {
                d.set_threads(threads);
                let (m, n, k) = (m as Dim, n as Dim, k as Dim);
                let no = b'N' as c_char;
                // SAFETY: the slices are m x k, k x n and m x n, row-major; Bf16 is
                // a transparent u16.
                let status = unsafe {
                    g(
                        no,
                        no,
                        m,
                        n,
                        k,
                        1.0,
                        a.as_ptr().cast(),
                        k,
                        b.as_ptr().cast(),
                        n,
                        0.0,
                        c.as_mut_ptr(),
                        n,
                    )
                };
                assert_eq!(status, 0, "dnnl_gemm_bf16bf16f32 returned status {status}");
            },
        ) as Gemm<_, _, _>)
    });
    Family {
        family: "bf16",
        types: "bf16 x bf16 -> f32",
        peaks: [peak::Loop::Bf16, peak::Loop::AmxBf16],
        libs: vec![ours, theirs],
        a: bf16_of,
        b: bf16_of,
        rel_tol: f32::EPSILON as f64,
    }
}

/// One shape's timings: per library (`None` where it has no GEMM), per round;
/// each available peak loop's rate per round (see `bars`); and the libraries
/// whose C failed the check.
struct ShapeRun {
    libs: Vec<Option<Vec<f64>>>,
    peaks: Vec<Vec<f64>>,
    check: Vec<String>,
}

/// The family's peak loops that this CPU has, and their instructions. Where
/// it lacks the family's vector dot product (the first), the f32 FMA loop
/// stands in: the emulation's share of the f32 rate (an op is a multiply or an
/// add in both), which is what an exact emulation is measured by.
fn bars<A, B, C>(fam: &Family<A, B, C>) -> Vec<(peak::Loop, &'static str)> {
    let mut bars: Vec<_> = fam
        .peaks
        .iter()
        .filter_map(|&l| Some((l, peak::instruction(l)?)))
        .collect();
    if peak::instruction(fam.peaks[0]).is_none()
        && let Some(fma) = peak::instruction(peak::Loop::Fma)
    {
        bars.insert(0, (peak::Loop::Fma, fma));
    }
    bars
}

fn run_shape<A: Value, B: Value, C: Value>(
    args: &Args,
    fam: &Family<A, B, C>,
    (m, n, k): (usize, usize, usize),
) -> ShapeRun {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut rand = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let a: Vec<A> = (0..m * k).map(|_| (fam.a)(rand())).collect();
    let b: Vec<B> = (0..k * n).map(|_| (fam.b)(rand())).collect();
    let c = RefCell::new(vec![C::default(); m * n]);
    let (a, b, c) = (&a, &b, &c);
    let threads = args.threads;
    let mut runners: Vec<Runner> = fam
        .libs
        .iter()
        .enumerate()
        .filter_map(|(col, lib)| {
            let gemm = lib.gemm.as_ref().ok()?;
            Some(Runner {
                col,
                threads,
                prepare: Box::new(|| {}),
                call: Box::new(move || {
                    let mut c = c.borrow_mut();
                    gemm(m, n, k, a, b, &mut c, threads);
                    black_box(&mut c);
                }),
                settle: lib.settle,
            })
        })
        .collect();

    // The check: the corners and 62 random elements against the exact sums.
    let mut picks = vec![(0, 0), (m - 1, n - 1)];
    picks.extend((0..62).map(|_| ((rand() % m as u64) as usize, (rand() % n as u64) as usize)));
    let exact: Vec<(f64, f64)> = picks
        .iter()
        .map(|&(i, j)| {
            (0..k).fold((0.0, 0.0), |(s, abs), p| {
                let x = a[i * k + p].f() * b[p * n + j].f();
                (s + x, abs + x.abs())
            })
        })
        .collect();
    let mut check = vec![];
    for r in runners.iter_mut() {
        c.borrow_mut().fill(C::POISON);
        (r.call)();
        let c = c.borrow();
        let bad = picks
            .iter()
            .zip(&exact)
            .map(|(&(i, j), &(want, abs))| {
                let err = (c[i * n + j].f() - want).abs();
                let tol = fam.rel_tol * k as f64 * abs;
                (err, tol, i, j, want)
            })
            .find(|&(err, tol, ..)| err > tol || err.is_nan());
        if let Some((err, tol, i, j, want)) = bad {
            check.push(format!(
                "{}: C[{i}][{j}] = {} where the exact value is {want} (|diff| {err:.3e} > {tol:.3e})",
                fam.libs[r.col].name,
                c[i * n + j].f()
            ));
        }
    }

    let bars = bars(fam);
    let mut peaks = vec![vec![]; bars.len()];
    let times = interleave(&mut runners, args.samples, || {
        for ((which, _), p) in bars.iter().zip(&mut peaks) {
            p.push(peak::measure_round(*which, threads, crate::PEAK_ROUNDS).unwrap_or(f64::NAN));
        }
    });
    let libs = (0..fam.libs.len())
        .map(|col| {
            runners
                .iter()
                .zip(&times)
                .find(|(r, _)| r.col == col)
                .map(|(_, t)| t.clone())
        })
        .collect();
    ShapeRun { libs, peaks, check }
}

/// One family's table: GOP/s of every library, with its share of the peak.
pub fn table<A: Value, B: Value, C: Value>(args: &Args, fam: &Family<A, B, C>) {
    let t = args.threads;
    let threads = if t == 1 {
        "1 thread".to_string()
    } else {
        format!("{t} threads")
    };
    let cores = if t == 1 {
        "1 core".to_string()
    } else {
        format!("{t} cores")
    };
    let emulated = peak::instruction(fam.peaks[0]).is_none();
    let bar = match &bars(fam)[..] {
        [] => "no peak: its instructions are not available on this CPU".to_string(),
        [(_, fma)] if emulated => format!(
            "no {} dot-product instruction on this CPU: share of the f32 {fma} loop on {cores}",
            fam.family
        ),
        [(_, one)] => format!("share of the {one} loop on {cores}"),
        [(_, first), (_, second)] => format!("shares of the {first} loop and of the {second} loop on {cores}"),
        _ => unreachable!("two bars at most"),
    };
    println!(
        "\n### {} GEMM ({}), {threads}, GOP/s ({bar}; median of {})\n",
        fam.family, fam.types, args.samples
    );
    let names: Vec<&str> = fam.libs.iter().map(|l| l.name).collect();
    println!("| m x n x k | {} | gemmkit / best peer |", names.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(names.len()));
    let (mut mismatches, mut checked, mut past_a_peak) = (vec![], false, false);
    let mut series: Vec<crate::plot::Series> = names
        .iter()
        .map(|name| crate::plot::Series {
            name: name.to_string(),
            values: vec![],
        })
        .collect();
    for (i, &(m, n, k)) in args.lowp_shapes.iter().enumerate() {
        crate::progress(fam.family, i, args.lowp_shapes.len(), (m, n, k));
        let gops = |secs: f64| 2.0 * m as f64 * n as f64 * k as f64 / secs / 1e9;
        let run = run_shape(args, fam, (m, n, k));
        mismatches.extend(run.check.iter().map(|c| format!("{m} x {n} x {k}: {c}")));
        checked |= run.libs.iter().any(Option::is_some);
        let cells: Vec<String> = fam
            .libs
            .iter()
            .zip(&run.libs)
            .map(|(lib, times)| match (times, &lib.gemm) {
                (Some(times), _) => {
                    let g = gops(median(times));
                    // Each round's rate over the peaks timed at its start.
                    let shares: Vec<String> = run
                        .peaks
                        .iter()
                        .map(|p| {
                            let shares: Vec<f64> = times.iter().zip(p).map(|(&s, &p)| gops(s) * 1e9 / p).collect();
                            let share = median(&shares);
                            // Faster than the loop: not that loop's instructions.
                            if share > 1.0 {
                                past_a_peak = true;
                                "-".to_string()
                            } else {
                                format!("{:.0}%", 100.0 * share)
                            }
                        })
                        .collect();
                    if shares.is_empty() {
                        format!("{g:.1}")
                    } else {
                        format!("{g:.1} ({})", shares.join(", "))
                    }
                }
                (None, Err(why)) => why.to_string(),
                (None, Ok(_)) => "n/a".into(),
            })
            .collect();
        for (s, times) in series.iter_mut().zip(&run.libs) {
            s.values.push(times.as_deref().map(|t| gops(median(t))));
        }
        let best = run.libs[1..]
            .iter()
            .flatten()
            .min_by(|x, y| median(x).total_cmp(&median(y)));
        let ratio = match (&run.libs[0], best) {
            (Some(ours), Some(best)) => format!("{:.2}", paired_ratio(best, ours)),
            _ => "n/a".into(),
        };
        println!("| {m} x {n} x {k} | {} | {ratio} |", cells.join(" | "));
    }
    if let Some(dir) = &args.plot {
        // bf16-1t, and int8-u8-1t / int8-s8-1t for the two int8 tables.
        let a = fam.types.split(' ').next().unwrap_or(fam.family);
        let name = if a == fam.family {
            a.to_string()
        } else {
            format!("{}-{a}", fam.family)
        };
        crate::plot::Chart {
            title: format!("{} GEMM ({}), {threads}", fam.family, fam.types),
            shapes: args.lowp_shapes.iter().map(|&s| crate::shape_label(s)).collect(),
            unit: "GOP/s",
            series,
        }
        .write(dir, &format!("{name}-{t}t"));
    }
    if past_a_peak {
        println!(
            "\nA share shown as - is of a loop the library outruns: it computes with other instructions (oneDNN with AMX, on a CPU that has it)."
        );
    }
    if mismatches.is_empty() && checked {
        println!("\nEvery library's C matched the exact products on the sampled elements on every shape.");
    } else {
        println!();
        for m in mismatches {
            println!("- warning: C differs: {m}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_values_are_exact() {
        for r in [0u64, 1 << 24, 999 << 24, u64::MAX] {
            let x = bf16_of(r);
            let back = Bf16((f32::from_bits((x.0 as u32) << 16).to_bits() >> 16) as u16);
            assert_eq!(x, back);
            assert!((-1.0..1.0).contains(&x.f()), "{r}: {}", x.f());
        }
    }
}
