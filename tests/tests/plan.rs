//! The plan: every decision of a call, printable and asserted before anything
//! runs (`gemmkit::plan`), and the tuning that moves its thresholds.

use gemmkit::{MatMut, MatRef, Parallelism, Path, Plan, Tile, Tuning};
use std::sync::{Arc, Mutex};

/// The tests here share the process-wide tuning override: one at a time.
static TUNING: Mutex<()> = Mutex::new(());

fn plan_for(par: &Parallelism, (m, n, k): (usize, usize, usize), a_t: bool, c_cols: bool) -> Plan {
    let (a, b) = (vec![0.0f32; m * k], vec![0.0f32; k * n]);
    let mut c = vec![0.0f32; m * n];
    let a = if a_t {
        MatRef::col_major(&a, m, k)
    } else {
        MatRef::row_major(&a, m, k)
    };
    let c = if c_cols {
        MatMut::col_major(&mut c, m, n)
    } else {
        MatMut::row_major(&mut c, m, n)
    };
    let plan = gemmkit::plan(gemmkit::best(), par, a, MatRef::row_major(&b, k, n), &c).expect("plan");
    // Every plan prints, with every decision named.
    let text = format!("{plan:?}");
    assert!(text.contains("path"), "{text}");
    plan
}

fn blocked(plan: &Plan) -> gemmkit::Blocked {
    match plan.path {
        Path::Blocked(b) => b,
        other => panic!("expected the blocked path, got {other:?}"),
    }
}

#[test]
fn plans_name_each_path_and_orientation() {
    let _one = TUNING.lock().unwrap_or_else(|e| e.into_inner());
    let seq = Parallelism::Sequential;
    let small = gemmkit::tuning(gemmkit::best()).small;
    assert_eq!(plan_for(&seq, (0, 5, 5), false, false).path, Path::Empty);
    assert_eq!(plan_for(&seq, (5, 5, 0), false, false).path, Path::Scale);
    let p = plan_for(&seq, (8, 8, 8), false, false);
    assert!(!p.transposed);
    assert!(
        matches!(
            p.path,
            Path::Small {
                threads: 1,
                a_columns: false,
                ..
            }
        ),
        "{p:?}"
    );
    // A column-major C is computed transposed: its columns are the rows written,
    // and the A of that product is B transposed, which is column-major.
    let p = plan_for(&seq, (8, 9, 10), true, true);
    assert!(p.transposed && (p.m, p.n, p.k) == (9, 8, 10), "{p:?}");
    assert!(matches!(p.path, Path::Small { a_columns: true, .. }), "{p:?}");
    // With a row-major A, that product's B would not have unit column stride:
    // no small orientation, so the blocked path packs it.
    let p = plan_for(&seq, (8, 9, 10), false, true);
    assert!(p.transposed && matches!(p.path, Path::Blocked(_)), "{p:?}");
    // Past the small limit: blocked, A read in place, interior tiles direct.
    let (m, n, k) = (small + 44, 200, 100);
    let p = plan_for(&seq, (m, n, k), false, false);
    let b = blocked(&p);
    assert_eq!((b.threads, b.lanes), (1, 1), "{p:?}");
    assert!(b.a_in_place && b.direct && b.fetch_next_b, "{p:?}");
    assert!(b.blocks.kc >= 1 && b.blocks.kc <= k && b.blocks.mc >= 1, "{p:?}");
    // A transposed is packed.
    assert!(!blocked(&plan_for(&seq, (m, n, k), true, false)).a_in_place);
}

/// A skinny product with B stored by columns (weights `n x k`) is planned as
/// `Cᵀ = Bᵀ Aᵀ`, B's transpose read in place as A; more rows than the skinny
/// limit, or a B stored by rows, are planned as given.
#[test]
fn skinny_products_read_b_stored_by_columns_in_place() {
    let seq = Parallelism::Sequential;
    let plan = |m: usize, b_cols: bool| {
        let (n, k) = (600, 300);
        let (a, b) = (vec![0.0f32; m * k], vec![0.0f32; k * n]);
        let mut c = vec![0.0f32; m * n];
        let b = if b_cols {
            MatRef::col_major(&b, k, n)
        } else {
            MatRef::row_major(&b, k, n)
        };
        gemmkit::plan(
            gemmkit::best(),
            &seq,
            MatRef::row_major(&a, m, k),
            b,
            &MatMut::row_major(&mut c, m, n),
        )
        .expect("plan")
    };
    let p = plan(64, true);
    assert!(
        p.transposed && (p.m, p.n) == (600, 64) && blocked(&p).a_in_place,
        "{p:?}"
    );
    assert!(!plan(64, false).transposed);
    assert!(!plan(150, true).transposed);
}

#[test]
fn plans_choose_threads_edges_and_the_dot_edge() {
    let _one = TUNING.lock().unwrap_or_else(|e| e.into_inner());
    let target = gemmkit::best();
    let (shape, small) = (target.shapes.f32, gemmkit::tuning(target).small);
    let two = match rayon::ThreadPoolBuilder::new().num_threads(2).build() {
        Ok(pool) => Parallelism::Pool(Arc::new(pool)),
        Err(_) => return, // no threads here (wasm): nothing to plan on two
    };
    let n = 8 * shape.nr + 1;
    let b = blocked(&plan_for(&two, (512, n, 512), false, false));
    assert_eq!((b.threads, b.lanes), (2, 2), "{b:?}");
    // One column past whole strips, A in place: that column by dot products
    // where it is at most half a vector.
    assert_eq!(b.dot_edge, if 2 <= shape.lanes { 1 } else { 0 }, "{b:?}");
    // A last strip of one column takes the one-vector instance, at the right
    // edge and in the corner; a transposed A (packed: no dot edge) shows it.
    let b = blocked(&plan_for(&two, (small + 1, n, 64), true, false));
    assert_eq!(b.dot_edge, 0);
    assert_eq!((b.edges.right, b.edges.corner), (Tile::Narrow, Tile::Narrow), "{b:?}");
    // Too small to be worth a second thread: one, whatever the pool.
    let tiny = blocked(&plan_for(&two, (small + 1, 2, 2), false, false));
    assert_eq!(tiny.threads, 1, "{tiny:?}");
}

#[test]
fn tuning_moves_the_thresholds_and_is_validated() {
    let _one = TUNING.lock().unwrap_or_else(|e| e.into_inner());
    let target = gemmkit::best();
    let own = Tuning::of(target);
    assert_eq!(gemmkit::tuning(target), own);
    let seq = Parallelism::Sequential;
    // A cube at the target's threshold is small; at half the threshold it is not.
    let s = own.small;
    assert!(matches!(
        plan_for(&seq, (s, s, s), false, false).path,
        Path::Small { .. }
    ));
    gemmkit::set_tuning(Some(Tuning { small: s / 2, ..own })).expect("valid tuning");
    assert_eq!(gemmkit::tuning(target).small, s / 2);
    let p = plan_for(&seq, (s, s, s), false, false);
    assert!(matches!(p.path, Path::Blocked(_)), "{p:?}");
    // Computed correctly under the override too.
    let (a, b) = (vec![1.0f32; s * s], vec![2.0f32; s * s]);
    let mut c = vec![0.0f32; s * s];
    gemmkit::matmul(s, s, s, &a, &b, &mut c).expect("gemm");
    assert!(c.iter().all(|&x| x == 2.0 * s as f32));
    for (field, bad) in [
        ("pack_chunk", Tuning { pack_chunk: 0, ..own }),
        ("max_lanes", Tuning { max_lanes: 0, ..own }),
        (
            "l2_percent_for_b",
            Tuning {
                l2_percent_for_b: 0,
                ..own
            },
        ),
        (
            "l2_percent_for_b",
            Tuning {
                l2_percent_for_b: 101,
                ..own
            },
        ),
        (
            "max_lanes",
            Tuning {
                max_lanes: Tuning::MAX_LANES + 1,
                ..own
            },
        ),
        ("gemv_k_part", Tuning { gemv_k_part: 0, ..own }),
    ] {
        let msg = gemmkit::set_tuning(Some(bad)).expect_err("invalid tuning").to_string();
        assert!(msg.starts_with(&format!("tuning: {field}")), "{msg}");
    }
    assert_eq!(gemmkit::tuning(target).small, s / 2, "a refused tuning changed nothing");
    gemmkit::set_tuning(None).expect("back to the target's");
    assert_eq!(gemmkit::tuning(target), own);
}

/// The GEMV path's split of k follows the tuning (`gemv_split_n`,
/// `gemv_k_part`), and a split computed under an override is right and the
/// same on any thread count.
#[test]
fn the_gemv_split_of_k_follows_the_tuning() {
    let _one = TUNING.lock().unwrap_or_else(|e| e.into_inner());
    let own = Tuning::of(gemmkit::best());
    let (n, k) = (200, 10_000);
    let gemv = |tuning: Tuning| {
        gemmkit::set_tuning(Some(tuning)).expect("valid tuning");
        let plan = plan_for(&Parallelism::Sequential, (1, n, k), false, false);
        match plan.path {
            Path::Gemv(g) => g,
            other => panic!("expected the GEMV path, got {other:?}"),
        }
    };
    let small = Tuning {
        small_split_volume: 0,
        ..own
    };
    let g = gemv(Tuning {
        gemv_k_part: 1000,
        ..small
    });
    assert_eq!((g.k_parts, g.k_part), (10, 1000), "{g:?}");
    let g = gemv(Tuning {
        gemv_k_part: 1000,
        gemv_split_n: n - 1,
        ..small
    });
    assert_eq!(g.k_parts, 1, "y longer than gemv_split_n: {g:?}");
    // Computed under the split, on one and three threads: the same bits,
    // and the exact sums (small integers).
    gemmkit::set_tuning(Some(Tuning {
        gemv_k_part: 1000,
        ..small
    }))
    .expect("valid tuning");
    let x: Vec<f32> = (0..k).map(|q| (q % 5) as f32 - 2.0).collect();
    let w: Vec<f32> = (0..k * n).map(|e| (e % 7) as f32 - 3.0).collect();
    let ys: Vec<Vec<f32>> = [1, 3]
        .map(|threads| {
            let par = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                Ok(pool) => Parallelism::Pool(Arc::new(pool)),
                // No threads to start (wasm32-wasip1): the split alone.
                Err(_) => Parallelism::Sequential,
            };
            let mut y = vec![0.0f32; n];
            gemmkit::gemm_with(
                gemmkit::best(),
                &par,
                1.0,
                MatRef::row_major(&x, 1, k),
                MatRef::row_major(&w, k, n),
                0.0,
                MatMut::row_major(&mut y, 1, n),
            )
            .expect("gemm");
            y
        })
        .to_vec();
    gemmkit::set_tuning(None).expect("back to the target's");
    assert!(
        ys[0].iter().zip(&ys[1]).all(|(a, b)| a.to_bits() == b.to_bits()),
        "1 and 3 threads differ"
    );
    for (j, &got) in ys[0].iter().enumerate() {
        let want: f64 = (0..k).map(|q| f64::from(x[q]) * f64::from(w[q * n + j])).sum();
        assert_eq!(f64::from(got), want, "y[{j}]");
    }
}
