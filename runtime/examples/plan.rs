//! Prints gemmkit's plan for a row-major f32 product on this machine:
//! `cargo run --release -p gemmkit --example plan -- M N K [THREADS]`.

use gemmkit::{MatMut, MatRef, Parallelism};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("M N K [THREADS]: numbers"))
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
        MatRef::row_major(&b, k, n),
        &MatMut::row_major(&mut c, m, n),
    )
    .expect("a valid product");
    println!("{m} x {n} x {k}, {threads} thread(s):\n{plan:#?}");
}
