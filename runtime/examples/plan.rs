//! Prints gemmkit's plan for an f32 product on this machine, A and C
//! row-major, B row-major (`k x n`) or, with a last argument `t`, stored as
//! PyTorch stores weights (`n x k`, B's transpose row-major):
//! `cargo run --release -p gemmkit --example plan -- M N K [THREADS] [t]`.

use gemmkit::{MatMut, MatRef, Parallelism};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let weights = args.last().is_some_and(|a| a == "t");
    if weights {
        args.pop();
    }
    let args: Vec<usize> = args
        .iter()
        .map(|a| a.parse().expect("M N K [THREADS] [t]: numbers"))
        .collect();
    let (m, n, k) = match args[..] {
        [m, n, k, ..] => (m, n, k),
        _ => (1024, 1024, 1024),
    };
    let threads = args.get(3).copied().unwrap_or(1);
    let (a, b, mut c) = (vec![0.0f32; m * k], vec![0.0f32; k * n], vec![0.0f32; m * n]);
    let par = if threads == 1 {
        Parallelism::Sequential
    } else {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        Parallelism::Pool(std::sync::Arc::new(pool))
    };
    let plan = gemmkit::plan(
        gemmkit::best(),
        &par,
        MatRef::row_major(&a, m, k),
        if weights {
            MatRef::col_major(&b, k, n)
        } else {
            MatRef::row_major(&b, k, n)
        },
        &MatMut::row_major(&mut c, m, n),
    )
    .expect("a valid product");
    let layout = if weights { ", B stored n x k" } else { "" };
    println!("{m} x {n} x {k}{layout}, {threads} thread(s):\n{plan:#?}");
}
