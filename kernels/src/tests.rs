//! Unit tests of every kernel on the scalar reference, against naive loops.

use super::*;
use std::ptr::null_mut;

/// LANES 4, MR 3, NR 8: odd MR so row and column handling cannot be confused.
type F32 = Ref<f32, 4, 3, 2>;
type F64 = Ref<f64, 2, MR64, VECS64>;
/// `F64`'s tile (3 rows of 2 vectors), as the micro-kernel's const arguments.
const MR64: usize = 3;
const VECS64: usize = 2;
type I32 = Ref<i32, 4, 3, 2>;

/// Small deterministic generator (xorshift); values are exact in f32.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn small(&mut self) -> f64 {
        (self.next() % 17) as f64 - 8.0
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.small()).collect()
    }
}

#[test]
fn pack_rhs_row_and_column_major_full_and_ragged_strips() {
    let nr = F64::NR;
    // One strip, several, with a ragged last one; k = 0 writes nothing.
    for &(k, n) in &[(0, 6), (1, 6), (5, 6), (5, 5), (3, 1), (4, 3), (3, 12), (4, 17), (2, 9)] {
        let mut rng = Rng(7 + k as u64 * 31 + n as u64);
        let b = rng.vec(k * (n + 3) + n);
        let strips = n.div_ceil(nr);
        // A gap between strips, which must stay untouched.
        let stride = k * nr + 2;
        for &(rs, cs) in &[(n, 1), (1, k.max(1)), (n + 3, 1)] {
            let mut dst = vec![f64::NAN; strips * stride];
            unsafe { base_pack_rhs::<F64>(k, n, b.as_ptr(), rs, cs, dst.as_mut_ptr(), stride) };
            for (i, got) in dst.iter().enumerate() {
                let (s, at) = (i / stride, i % stride);
                let (p, j) = (at / nr, s * nr + at % nr);
                let ctx = format!("k={k} n={n} rs={rs} cs={cs} strip {s} at {at}");
                if at >= k * nr {
                    assert!(got.is_nan(), "{ctx}: wrote between strips");
                } else {
                    let want = if j < n { b[p * rs + j * cs] } else { 0.0 };
                    assert_eq!(*got, want, "{ctx}");
                }
            }
        }
    }
}

#[test]
fn apply_packed_output_all_alpha_beta_cases() {
    let (m, n, ldp, ldc) = (3, 7, 9, 11);
    let mut rng = Rng(99);
    let p: Vec<f32> = rng.vec(m * ldp).into_iter().map(|x| x as f32).collect();
    for &(alpha, beta) in &[(1.0, 0.0), (2.0, 0.0), (1.0, 1.0), (0.5, -1.0), (0.0, 2.0)] {
        let c0: Vec<f32> = rng.vec(m * ldc).into_iter().map(|x| x as f32).collect();
        let mut c = c0.clone();
        if beta == 0.0 {
            c.iter_mut().for_each(|x| *x = f32::NAN);
        }
        unsafe { base_apply_packed_output::<F32>(m, n, alpha, p.as_ptr(), ldp, beta, c.as_mut_ptr(), ldc) };
        for i in 0..m {
            for j in 0..ldc {
                let got = c[i * ldc + j];
                if j < n {
                    let old = if beta == 0.0 { 0.0 } else { beta * c0[i * ldc + j] };
                    assert_eq!(got, alpha * p[i * ldp + j] + old, "alpha={alpha} beta={beta} ({i},{j})");
                } else if beta == 0.0 {
                    assert!(got.is_nan(), "wrote past n at ({i},{j})");
                } else {
                    assert_eq!(got, c0[i * ldc + j], "wrote past n at ({i},{j})");
                }
            }
        }
    }
}

#[test]
fn microkernel_matches_naive_product() {
    let (mr, nr, ldc) = (F64::MR, F64::NR, F64::NR + 2);
    for &k in &[0, 1, 2, 7] {
        let mut rng = Rng(3 + k as u64);
        let a = rng.vec(k * mr);
        let b = rng.vec(k * nr);
        for &(alpha, beta) in &[(1.0, 0.0), (-1.0, 1.0), (0.5, 2.0)] {
            let c0 = rng.vec(mr * ldc);
            let mut c = c0.clone();
            if beta == 0.0 {
                c.iter_mut().for_each(|x| *x = f64::NAN);
            }
            // A as rows (read in place) and as columns of MR (packed), the latter
            // both with the strides given and with the packed instance's fixed ones.
            let given: Micro = base_microkernel::<F64, MR64, VECS64, 0, 0>;
            let fixed: Micro = base_microkernel::<F64, MR64, VECS64, 1, 0>;
            for (rs, cs, micro) in [(k, 1, given), (1, mr, given), (1, mr, fixed)] {
                let mut c = c.clone();
                unsafe {
                    micro(
                        k,
                        alpha,
                        a.as_ptr(),
                        rs,
                        cs,
                        b.as_ptr(),
                        nr,
                        null_mut(),
                        beta,
                        c.as_mut_ptr(),
                        ldc,
                    )
                };
                for i in 0..mr {
                    for j in 0..nr {
                        let ab: f64 = (0..k).map(|p| a[i * rs + p * cs] * b[p * nr + j]).sum();
                        let old = if beta == 0.0 { 0.0 } else { beta * c0[i * ldc + j] };
                        assert_eq!(
                            c[i * ldc + j],
                            alpha * ab + old,
                            "k={k} A strides ({rs}, {cs}) ({i},{j})"
                        );
                    }
                }
            }
        }
    }
}

/// A float micro-kernel: `micro(k, alpha, a, rs_a, cs_a, b, ldb, b_pack, beta, c, ldc)`.
type Micro = unsafe fn(usize, f64, *const f64, usize, usize, *const f64, usize, *mut f64, f64, *mut f64, usize);

#[test]
fn pack_b_instance_computes_the_full_tile_and_packs_b() {
    let (mr, nr, ldc, ldb) = (F64::MR, F64::NR, F64::NR + 2, F64::NR + 3);
    for &k in &[0, 1, 2, 7] {
        let mut rng = Rng(11 + k as u64);
        let a = rng.vec(mr * k);
        // B row-major at a padded stride, and the same rows packed.
        let b = rng.vec(k * ldb);
        let packed: Vec<f64> = (0..k * nr).map(|i| b[i / nr * ldb + i % nr]).collect();
        let c0 = rng.vec(mr * ldc);
        let (mut want, mut got) = (c0.clone(), c0.clone());
        let mut b_pack = vec![f64::NAN; k * nr];
        unsafe {
            base_microkernel::<F64, MR64, VECS64, 0, 0>(
                k,
                0.5,
                a.as_ptr(),
                k,
                1,
                packed.as_ptr(),
                nr,
                null_mut(),
                -1.0,
                want.as_mut_ptr(),
                ldc,
            );
            base_microkernel::<F64, MR64, VECS64, 0, 1>(
                k,
                0.5,
                a.as_ptr(),
                k,
                1,
                b.as_ptr(),
                ldb,
                b_pack.as_mut_ptr(),
                -1.0,
                got.as_mut_ptr(),
                ldc,
            );
        }
        assert_eq!(b_pack, packed, "k={k}: the packed copy of B");
        assert_eq!(got, want, "k={k}: C");
    }
}

#[test]
fn short_and_narrow_instances_compute_their_part_of_the_full_tile() {
    let (mr, nr, ldc) = (F64::MR, F64::NR, F64::NR + 2);
    let parts: [(&str, Micro, usize, usize); 2] = [
        ("narrow", base_microkernel::<F64, MR64, 1, 0, 0>, mr, F64::LANES),
        ("short", base_microkernel::<F64, { MR64 / 2 }, VECS64, 0, 0>, mr / 2, nr),
    ];
    for (name, micro, rows, cols) in parts {
        for &k in &[0, 1, 2, 7] {
            let mut rng = Rng(5 + k as u64);
            let a = rng.vec(k * mr);
            let b = rng.vec(k * nr);
            for &(alpha, beta) in &[(1.0, 0.0), (-1.0, 1.0), (0.5, 2.0)] {
                let mut c0 = rng.vec(mr * ldc);
                if beta == 0.0 {
                    c0.iter_mut().for_each(|x| *x = f64::NAN);
                }
                let (mut full, mut part) = (c0.clone(), c0.clone());
                unsafe {
                    base_microkernel::<F64, MR64, VECS64, 0, 0>(
                        k,
                        alpha,
                        a.as_ptr(),
                        k,
                        1,
                        b.as_ptr(),
                        nr,
                        null_mut(),
                        beta,
                        full.as_mut_ptr(),
                        ldc,
                    );
                    micro(
                        k,
                        alpha,
                        a.as_ptr(),
                        k,
                        1,
                        b.as_ptr(),
                        nr,
                        null_mut(),
                        beta,
                        part.as_mut_ptr(),
                        ldc,
                    );
                }
                for i in 0..mr {
                    for j in 0..ldc {
                        // The full tile's values in its part, nothing written elsewhere.
                        let inside = i < rows && j < cols;
                        let want = if inside { full[i * ldc + j] } else { c0[i * ldc + j] };
                        assert_eq!(part[i * ldc + j].to_bits(), want.to_bits(), "{name} k={k} ({i},{j})");
                    }
                }
            }
        }
    }
}

#[test]
fn microkernel_dot_u8i8_is_exact_at_the_extremes() {
    let (mr, nr, ldc) = (I32::MR, I32::NR, I32::NR + 1);
    let kq = 5;
    let mut rng = Rng(5);
    // Include the extremes 255 x -128, which saturating emulations get wrong.
    let a: Vec<u8> = (0..kq * mr * 4)
        .map(|i| if i % 3 == 0 { 255 } else { rng.next() as u8 })
        .collect();
    let b: Vec<i8> = (0..kq * nr * 4)
        .map(|i| if i % 2 == 0 { -128 } else { rng.next() as i8 })
        .collect();
    let row_comp: Vec<i32> = (0..mr).map(|i| 1000 * i as i32 - 7).collect();
    let col_comp: Vec<i32> = (0..nr).map(|j| -(1 << 20) + j as i32).collect();
    for (accumulate, comp) in [(false, false), (true, false), (false, true), (true, true)] {
        let c0: Vec<i32> = (0..mr * ldc).map(|_| rng.next() as i32 >> 8).collect();
        let mut c = c0.clone();
        let (ap, bp, cp) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        unsafe {
            if comp {
                base_microkernel_dot::<I32, 1, { I32::MR }>(
                    kq,
                    ap,
                    bp,
                    cp,
                    ldc,
                    accumulate,
                    row_comp.as_ptr(),
                    col_comp.as_ptr(),
                )
            } else {
                base_microkernel_dot::<I32, 0, { I32::MR }>(
                    kq,
                    ap,
                    bp,
                    cp,
                    ldc,
                    accumulate,
                    std::ptr::null(),
                    std::ptr::null(),
                )
            }
        };
        for i in 0..mr {
            for j in 0..ldc {
                if j >= nr {
                    assert_eq!(c[i * ldc + j], c0[i * ldc + j], "wrote outside the tile");
                    continue;
                }
                let mut want: i32 = (0..kq * 4)
                    .map(|d| {
                        let (p, q) = (d / 4, d % 4);
                        i32::from(a[(p * mr + i) * 4 + q]) * i32::from(b[(p * nr + j) * 4 + q])
                    })
                    .sum();
                if comp {
                    want += row_comp[i] + col_comp[j];
                }
                if accumulate {
                    want += c0[i * ldc + j];
                }
                assert_eq!(c[i * ldc + j], want, "accumulate={accumulate} comp={comp} ({i},{j})");
            }
        }
    }
}

#[test]
fn microkernel_dot_bf16_matches_f32_products() {
    type Bf16 = Ref<f32, 4, 3, 2>;
    let (mr, nr, kd) = (<Bf16 as DotVec>::MR, <Bf16 as DotVec>::NR, 6);
    let ldc = nr + 1;
    let mut rng = Rng(11);
    // bf16 values with few mantissa bits, so every sum below is exact in f32.
    let mut bf16 = || ((rng.small() as f32) * 0.25).to_bits().wrapping_shr(16) as u16;
    let a: Vec<u16> = (0..kd * mr * 2).map(|_| bf16()).collect();
    let b: Vec<u16> = (0..kd * nr * 2).map(|_| bf16()).collect();
    for accumulate in [false, true] {
        let c0: Vec<f32> = (0..mr * ldc).map(|i| i as f32).collect();
        let mut c = c0.clone();
        let null = std::ptr::null();
        unsafe {
            base_microkernel_dot::<Bf16, 0, { <Bf16 as DotVec>::MR }>(
                kd,
                a.as_ptr(),
                b.as_ptr(),
                c.as_mut_ptr(),
                ldc,
                accumulate,
                null,
                null,
            )
        };
        for i in 0..mr {
            for j in 0..nr {
                let dot: f32 = (0..kd * 2)
                    .map(|d| {
                        let (p, q) = (d / 2, d % 2);
                        bf16_to_f32(a[(p * mr + i) * 2 + q]) * bf16_to_f32(b[(p * nr + j) * 2 + q])
                    })
                    .sum();
                let want = if accumulate { c0[i * ldc + j] + dot } else { dot };
                assert_eq!(c[i * ldc + j], want, "accumulate={accumulate} ({i},{j})");
            }
        }
    }
}

#[test]
fn pack_lhs_column_and_row_major_full_and_ragged_panels() {
    let mr = F64::MR;
    // One panel, several, with a ragged last one; k = 0 writes nothing.
    for &(m, k) in &[(3, 0), (3, 1), (3, 5), (2, 5), (1, 4), (6, 3), (7, 4), (8, 2)] {
        let mut rng = Rng(17 + m as u64 * 7 + k as u64);
        let a = rng.vec((m + 2) * (k + 3) + 4);
        let panels = m.div_ceil(mr);
        // A gap between panels, which must stay untouched.
        let stride = mr * k + 3;
        for &(rs, cs) in &[(1, m + 2), (k + 3, 1), (2, 2 * m + 1)] {
            let mut dst = vec![f64::NAN; panels * stride];
            unsafe { base_pack_lhs::<F64>(m, k, a.as_ptr(), rs, cs, dst.as_mut_ptr(), stride) };
            for (at, got) in dst.iter().enumerate() {
                let (q, r) = (at / stride, at % stride);
                // Columns of MR: (i, p) of the panel at p * MR + i.
                let (i, p) = (q * mr + r % mr, r / mr);
                let ctx = format!("m={m} k={k} rs={rs} cs={cs} panel {q} at {r}");
                if r >= mr * k {
                    assert!(got.is_nan(), "{ctx}: wrote between panels");
                } else {
                    let want = if i < m { a[i * rs + p * cs] } else { 0.0 };
                    assert_eq!(*got, want, "{ctx}");
                }
            }
        }
    }
}

/// The packed index of element `(r, p)` (row of A or column of B `r`) in a
/// panel or strip of `width` rows or columns, depth `depth`.
fn dot_at(r: usize, p: usize, width: usize, depth: usize) -> usize {
    (p / depth * width + r) * depth + p % depth
}

#[test]
fn pack_dot_lhs_groups_flips_pads_and_sums() {
    let (mr, depth) = (I32::MR, 4);
    for &(m, k) in &[
        (3usize, 0usize),
        (3, 1),
        (3, 4),
        (3, 7),
        (2, 5),
        (1, 8),
        (6, 3),
        (7, 9),
        (8, 13),
    ] {
        let mut rng = Rng(3 + m as u64 * 5 + k as u64);
        let a: Vec<u8> = (0..(m + 2) * (2 * k + 3) + 8).map(|_| rng.next() as u8).collect();
        let panels = m.div_ceil(mr);
        let used = k.div_ceil(depth) * mr * depth;
        let stride = used + 3;
        for &(rs, cs) in &[(k + 3, 1), (1, m + 2), (1, mr), (2 * k + 1, 2)] {
            for flip in [0u8, 0x80] {
                let mut dst = vec![0x55u8; panels * stride];
                let mut sums = vec![-1i32; panels * mr + 2];
                let (ap, dp, sp) = (a.as_ptr(), dst.as_mut_ptr(), sums.as_mut_ptr());
                unsafe { base_pack_dot_lhs::<I32>(m, k, ap, rs, cs, dp, stride, flip, sp, true) };
                let ctx = format!("m={m} k={k} rs={rs} cs={cs} flip={flip}");
                for (at, got) in dst.iter().enumerate() {
                    if at % stride >= used {
                        assert_eq!(*got, 0x55, "{ctx}: wrote between panels at {at}");
                    }
                }
                for q in 0..panels {
                    for i in 0..mr {
                        let row = q * mr + i;
                        for p in 0..k.div_ceil(depth) * depth {
                            let got = dst[q * stride + dot_at(i, p, mr, depth)];
                            let want = if row < m && p < k {
                                a[row * rs + p * cs] ^ flip
                            } else {
                                0
                            };
                            assert_eq!(got, want, "{ctx}: ({row}, {p})");
                        }
                        let want: i32 = if row < m {
                            (0..k)
                                .map(|p| {
                                    let x = a[row * rs + p * cs];
                                    if flip == 0 { i32::from(x) } else { i32::from(x as i8) }
                                })
                                .sum()
                        } else {
                            0
                        };
                        assert_eq!(sums[row], want, "{ctx}: sum of row {row}");
                    }
                }
                assert_eq!(sums[panels * mr..], [-1, -1], "{ctx}: wrote past the sums");
                // Without sums, the same packing and `sums` untouched.
                let mut again = vec![0x55u8; panels * stride];
                let mut none = vec![-1i32; 2];
                unsafe {
                    base_pack_dot_lhs::<I32>(
                        m,
                        k,
                        ap,
                        rs,
                        cs,
                        again.as_mut_ptr(),
                        stride,
                        flip,
                        none.as_mut_ptr(),
                        false,
                    )
                };
                assert_eq!(again, dst, "{ctx}: without sums");
                assert_eq!(none, [-1, -1], "{ctx}: sums written");
            }
        }
    }
}

#[test]
fn pack_dot_rhs_groups_pads_and_sums() {
    type Bf16 = Ref<f32, 4, 3, 2>;
    let (nr, depth) = (I32::NR, 4);
    for &(k, n) in &[
        (0usize, 8usize),
        (1, 8),
        (4, 8),
        (7, 8),
        (5, 5),
        (9, 1),
        (8, 17),
        (13, 20),
        (3, 16),
    ] {
        let mut rng = Rng(9 + k as u64 * 3 + n as u64);
        let b: Vec<i8> = (0..(k + 2) * (2 * n + 3) + 8).map(|_| rng.next() as i8).collect();
        let strips = n.div_ceil(nr);
        let used = k.div_ceil(depth) * nr * depth;
        let stride = used + 5;
        for &(rs, cs) in &[(n + 3, 1), (1, k + 2), (1, k), (2 * n + 1, 2)] {
            let mut dst = vec![0x55i8; strips * stride];
            let mut sums = vec![-1i32; strips * nr + 2];
            let (bp, dp, sp) = (b.as_ptr(), dst.as_mut_ptr(), sums.as_mut_ptr());
            unsafe { base_pack_dot_rhs::<I32>(k, n, bp, rs, cs, dp, stride, sp, true) };
            let ctx = format!("k={k} n={n} rs={rs} cs={cs}");
            for (at, got) in dst.iter().enumerate() {
                if at % stride >= used {
                    assert_eq!(*got, 0x55, "{ctx}: wrote between strips at {at}");
                }
            }
            for s in 0..strips {
                for j in 0..nr {
                    let col = s * nr + j;
                    for p in 0..k.div_ceil(depth) * depth {
                        let got = dst[s * stride + dot_at(j, p, nr, depth)];
                        let want = if col < n && p < k { b[p * rs + col * cs] } else { 0 };
                        assert_eq!(got, want, "{ctx}: ({p}, {col})");
                    }
                    let want: i32 = if col < n {
                        (0..k).map(|p| i32::from(b[p * rs + col * cs])).sum()
                    } else {
                        0
                    };
                    assert_eq!(sums[col], want, "{ctx}: sum of column {col}");
                }
            }
            assert_eq!(sums[strips * nr..], [-1, -1], "{ctx}: wrote past the sums");
            // bf16 bits: pairs, the same layout rule.
            let bits: Vec<u16> = b.iter().map(|x| u16::from(*x as u8) * 257).collect();
            let bf_used = k.div_ceil(2) * <Bf16 as DotVec>::NR * 2;
            let mut bf = vec![7u16; strips * (bf_used + 1)];
            let null = std::ptr::null_mut();
            unsafe {
                base_pack_dot_rhs::<Bf16>(k, n, bits.as_ptr(), rs, cs, bf.as_mut_ptr(), bf_used + 1, null, false)
            };
            for s in 0..strips {
                for j in 0..nr {
                    let col = s * nr + j;
                    for p in 0..k.div_ceil(2) * 2 {
                        let got = bf[s * (bf_used + 1) + dot_at(j, p, nr, 2)];
                        let want = if col < n && p < k { bits[p * rs + col * cs] } else { 0 };
                        assert_eq!(got, want, "{ctx} bf16: ({p}, {col})");
                    }
                }
                assert_eq!(bf[s * (bf_used + 1) + bf_used], 7, "{ctx} bf16: wrote between strips");
            }
        }
    }
}

#[test]
fn tile_slots_count_row_by_row() {
    let mut t = crate::Tile::<u32, 3, 4>([[0; 4]; 3]);
    for s in 0..12 {
        t[s] = s as u32;
    }
    for r in 0..3 {
        for c in 0..4 {
            assert_eq!(t[(r, c)], (r * 4 + c) as u32, "slot of ({r}, {c})");
        }
    }
}

#[test]
fn gemv_axpy_adds_alpha_x_w_to_y_for_every_tail() {
    let mut rng = Rng(0x9e37_79b9);
    for (k, n) in [(0, 5), (1, 1), (3, 4), (4, 7), (9, 8), (13, 11)] {
        for incx in [1, 3] {
            let ldw = n + 2;
            let x64 = rng.vec(k * incx);
            let w64 = rng.vec(k * ldw);
            let y64 = rng.vec(n + 3);
            let (x, w): (Vec<f32>, Vec<f32>) = (
                x64.iter().map(|&v| v as f32).collect(),
                w64.iter().map(|&v| v as f32).collect(),
            );
            let mut y: Vec<f32> = y64.iter().map(|&v| v as f32).collect();
            unsafe { base_gemv_axpy::<F32>(k, n, 2.0, x.as_ptr(), incx, w.as_ptr(), ldw, y.as_mut_ptr()) };
            for j in 0..n + 3 {
                let want = if j < n {
                    y64[j] + 2.0 * (0..k).map(|p| x64[p * incx] * w64[p * ldw + j]).sum::<f64>()
                } else {
                    y64[j]
                };
                assert_eq!(y[j] as f64, want, "k={k} n={n} incx={incx} j={j}");
            }
        }
    }
}

#[test]
fn gemv_dot_leaves_each_rows_sums_lane_by_lane() {
    let mut rng = Rng(0x51ed_270b);
    for k in [0, 1, 3, 4, 5, 8, 9, 13, 17] {
        let ldw = k + 1;
        let w = rng.vec(4 * ldw);
        let x = rng.vec(k);
        // F64: two lanes, a 3 x 2 tile, so three rows for `gemv_dot`.
        for rows in [1, 3] {
            let mut out = vec![7.0f64; 4 * 2 + 1];
            unsafe {
                match rows {
                    1 => base_gemv_dot::<F64, 1>(k, w.as_ptr(), ldw, x.as_ptr(), out.as_mut_ptr()),
                    _ => base_gemv_dot::<F64, 3>(k, w.as_ptr(), ldw, x.as_ptr(), out.as_mut_ptr()),
                }
            }
            for r in 0..rows {
                for l in 0..2 {
                    let want: f64 = (l..k).step_by(2).map(|p| w[r * ldw + p] * x[p]).sum();
                    assert_eq!(out[r * 2 + l], want, "k={k} rows={rows} row {r} lane {l}");
                }
            }
            assert!(out[rows * 2..].iter().all(|&v| v == 7.0), "k={k}: wrote past the sums");
        }
    }
}

/// bf16 bit patterns of small integers (exact), and their values.
fn bf16_bits(rng: &mut Rng, n: usize) -> Vec<u16> {
    (0..n).map(|_| ((rng.small() as f32).to_bits() >> 16) as u16).collect()
}

#[test]
fn pack_bf16_lhs_widens_rows_with_pairs_swapped() {
    let mr = <F32 as FloatVec>::MR;
    for &(m, k) in &[(3, 0), (3, 1), (3, 4), (2, 5), (1, 7), (6, 3), (7, 6)] {
        let mut rng = Rng(5 + m as u64 * 11 + k as u64);
        let a = bf16_bits(&mut rng, 3 * (m + 2) * (k + 3));
        let (panels, kp) = (m.div_ceil(mr), k.div_ceil(2) * 2);
        // Rows `ld` apart with a gap after each, and a panel stride of MR rows.
        let ld = kp + 2;
        let stride = mr * ld;
        for &(rs, cs) in &[(k + 3, 1), (1, m + 2), (2, 2 * m + 1)] {
            let mut dst = vec![f32::NAN; panels * stride];
            unsafe { base_pack_bf16_lhs::<F32>(m, k, a.as_ptr(), rs, cs, dst.as_mut_ptr(), stride) };
            for (at, got) in dst.iter().enumerate() {
                let (q, r) = (at / stride, at % stride);
                let (i, p) = (q * mr + r / ld, r % ld);
                let ctx = format!("m={m} k={k} rs={rs} cs={cs} panel {q} row {} col {p}", r / ld);
                if p >= kp {
                    assert!(got.is_nan(), "{ctx}: wrote past the row");
                } else {
                    // Packed column p holds A's column p ^ 1 (zero past k).
                    let src = p ^ 1;
                    let want = if i < m && src < k {
                        bf16_to_f32(a[i * rs + src * cs])
                    } else {
                        0.0
                    };
                    assert_eq!(got.to_bits(), want.to_bits(), "{ctx}");
                }
            }
        }
    }
}

#[test]
fn pack_bf16_rhs_widens_strips_with_pairs_swapped() {
    let nr = <F32 as FloatVec>::NR;
    for &(k, n) in &[(0, 8), (1, 8), (4, 8), (5, 3), (3, 17), (6, 16), (7, 9)] {
        let mut rng = Rng(9 + k as u64 * 13 + n as u64);
        let b = bf16_bits(&mut rng, 3 * (k + 2) * (n + 3));
        let (strips, kp) = (n.div_ceil(nr), k.div_ceil(2) * 2);
        let stride = kp * nr + 5;
        for &(rs, cs) in &[(n + 3, 1), (1, k + 2), (2, 2 * k + 1)] {
            let mut dst = vec![f32::NAN; strips * stride];
            unsafe { base_pack_bf16_rhs::<F32>(k, n, b.as_ptr(), rs, cs, dst.as_mut_ptr(), stride) };
            for (at, got) in dst.iter().enumerate() {
                let (s, r) = (at / stride, at % stride);
                let (p, j) = (r / nr, s * nr + r % nr);
                let ctx = format!("k={k} n={n} rs={rs} cs={cs} strip {s} at {r}");
                if r >= kp * nr {
                    assert!(got.is_nan(), "{ctx}: wrote between strips");
                } else {
                    let src = p ^ 1;
                    let want = if j < n && src < k {
                        bf16_to_f32(b[src * rs + j * cs])
                    } else {
                        0.0
                    };
                    assert_eq!(got.to_bits(), want.to_bits(), "{ctx}");
                }
            }
        }
    }
}
