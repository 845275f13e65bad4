//! The other kernel families in f16: batched matmul and linear, elementwise, pooling, softmax,
//! per-channel affine, the SE gate, and data movement and resize.

use super::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Batched MatMul and Linear (bias per output column) with odd sizes.
    #[test]
    fn gemm_matches_reference(
        batch in 1usize..=3, m in 1usize..=70, k in 1usize..=90, n in 1usize..=70,
        seed in 0u64..1000,
    ) {
        let a = r16(&Tensor::random(vec![batch, m, k], seed));
        let b = r16(&Tensor::random(vec![batch, k, n], seed + 1));
        let want = reference::matmul::matmul(&a, &b).unwrap();
        let sums = reference::matmul::matmul(&abs(&a), &abs(&b)).unwrap();
        let w = r16(&Tensor::random(vec![n, k], seed + 2));
        let bias = r16(&Tensor::random(vec![n], seed + 3));
        let x = r16(&Tensor::random(vec![m, k], seed + 4));
        let lin = reference::matmul::linear(&x, &w, Some(&bias)).unwrap();
        let lin_sums = reference::matmul::linear(&abs(&x), &abs(&w), Some(&abs(&bias))).unwrap();
        for p in HALF {
            let g = hgpu(p);
            let bufs = up(&g, &[&a, &b, &x, &w, &bias]);
            let out = g.zeros(want.shape()).unwrap();
            let d = g.encode(matmul::matmul(g.target(), a.shape(), b.shape(), bufs[0].binding(), bufs[1].binding(), out.binding(),
            ));
            let got = run(&g, d, &out);
            check(&format!("{p} matmul {a:?}"), &got, &want, &sums, F16Tolerance::new(k, p));
            let out = g.zeros(lin.shape()).unwrap();
            let d = g.encode(matmul::linear(g.target(), x.shape(), w.shape(), Activation::Identity, bufs[2].binding(),
                bufs[3].binding(), Some(bufs[4].binding()), out.binding(),
            ));
            let got = run(&g, d, &out);
            check(&format!("{p} linear {m}x{k}x{n}"), &got, &lin, &lin_sums, F16Tolerance::new(k, p));
        }
    }
}

/// Elementwise activations and broadcasting binary ops: computed in f32, so only the output
/// rounding (and f32's) remains.
#[test]
fn eltwise_matches_reference() {
    let a = r16(&Tensor::random_range(vec![2, 3, 5, 7], 1, -4.0, 4.0));
    let b = r16(&Tensor::random_range(vec![1, 3, 1, 7], 2, -4.0, 4.0));
    for p in HALF {
        let g = hgpu(p);
        let bufs = up(&g, &[&a, &b]);
        for act in Activation::all() {
            let out = g.zeros(a.shape()).unwrap();
            let d = g.encode(eltwise::unary(
                g.target(),
                act,
                bufs[0].binding(),
                out.binding(),
                a.numel(),
            ));
            let got = run(&g, d, &out);
            let want = reference::eltwise::unary(act, &a);
            let tol = F16Tolerance::new(1, Precision::F16AccF32).slope(SLOPE);
            check(&format!("{p} {act:?}"), &got, &want, &abs(&a), tol);
        }
        // Pow and Div leave out: |a| op |b| bounds neither's rounding.
        for op in [
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Max,
            BinaryOp::Min,
        ] {
            let out = g.zeros(a.shape()).unwrap();
            let d = g.encode(eltwise::binary(
                g.target(),
                op,
                Activation::Relu,
                (bufs[0].binding(), a.shape()),
                (bufs[1].binding(), b.shape()),
                out.binding(),
            ));
            let got = run(&g, d, &out);
            let want = reference::eltwise::binary(op, Activation::Relu, &a, &b).unwrap();
            let sums =
                reference::eltwise::binary(op, Activation::Identity, &abs(&a), &abs(&b)).unwrap();
            let tol = F16Tolerance::new(2, Precision::F16AccF32);
            check(&format!("{p} {op:?}"), &got, &want, &sums, tol);
        }
    }
}

/// Comparisons, Not and Where in f16 storage: exact (the same comparisons of the same f16
/// values; 0 / 1 and the selected elements are f16 values).
#[test]
fn logic_ops_are_exact() {
    // Coarse values so that equal pairs occur.
    let a = map(
        &Tensor::random_range(vec![2, 3, 5, 7], 1, -4.0, 4.0),
        f32::round,
    );
    let b = map(
        &Tensor::random_range(vec![1, 3, 1, 7], 2, -4.0, 4.0),
        f32::round,
    );
    let x = r16(&Tensor::random(vec![2, 3, 5, 7], 3));
    for p in HALF {
        let g = hgpu(p);
        let bufs = up(&g, &[&a, &b, &x]);
        let out = g.zeros(a.shape()).unwrap();
        let ops = [
            BinaryOp::Equal,
            BinaryOp::Less,
            BinaryOp::Greater,
            BinaryOp::LessOrEqual,
            BinaryOp::GreaterOrEqual,
            BinaryOp::Not,
        ];
        for op in ops {
            let d = g.encode(eltwise::binary(
                g.target(),
                op,
                Activation::Identity,
                (bufs[0].binding(), a.shape()),
                (bufs[1].binding(), b.shape()),
                out.binding(),
            ));
            let got = run(&g, d, &out);
            let want = reference::eltwise::binary(op, Activation::Identity, &a, &b).unwrap();
            assert_eq!(got.data(), want.data(), "{p} {op:?}");
        }
        let d = g.encode(eltwise::where_select(
            g.target(),
            (bufs[1].binding(), b.shape()),
            (bufs[2].binding(), x.shape()),
            (bufs[0].binding(), a.shape()),
            out.binding(),
        ));
        let got = run(&g, d, &out);
        let want = reference::eltwise::where_select(&b, &x, &a).unwrap();
        assert_eq!(got.data(), want.data(), "{p} where");
    }
}

/// The f16 bound of a pool and the tensor it applies to: max and its index are exact; average
/// and Lp sum `k` terms (Lp: of `p` factors each) in f32. Lp's relative error in its sum
/// shrinks by 1/p through the root, so the bound taken on the result (the reference on |x|,
/// the same values) covers it.
fn f16_pool_bound(
    kind: PoolKind,
    k: usize,
    abs_ref: impl FnOnce() -> Tensor,
) -> (F16Tolerance, Tensor) {
    match kind {
        PoolKind::Max | PoolKind::MaxIndex { .. } => (F16Tolerance::exact(), abs_ref()),
        PoolKind::Avg => (F16Tolerance::new(k, Precision::F16AccF32), abs_ref()),
        PoolKind::Lp(p) => (
            F16Tolerance::new(k * p as usize, Precision::F16AccF32),
            abs_ref(),
        ),
    }
}

/// Window pooling in 1 to 3 spatial dims, every kind (max and indices exact; average and Lp
/// f32 sums of the window), with dilation, asymmetric padding and ceil mode.
#[test]
fn window_pools_match_reference() {
    let cases = [
        (
            vec![2, 3, 11, 9],
            vec![3, 2],
            vec![2, 2],
            vec![1, 0],
            vec![1, 1],
            vec![1, 1],
        ),
        (
            vec![1, 2, 5, 7, 6],
            vec![2, 3, 2],
            vec![1, 2, 2],
            vec![0, 1, 1],
            vec![1, 0, 1],
            vec![2, 1, 2],
        ),
        (vec![3, 1, 40], vec![5], vec![3], vec![2], vec![0], vec![2]),
    ];
    for p in HALF {
        let g = hgpu(p);
        for (i, (shape, kernel, stride, pad_begin, pad_end, dilation)) in cases.iter().enumerate() {
            let x = r16(&Tensor::random(shape.clone(), 30 + i as u64));
            let bx = g.upload(&x).unwrap();
            for kind in [
                PoolKind::Max,
                PoolKind::Avg,
                PoolKind::Lp(2),
                PoolKind::MaxIndex {
                    column_major: false,
                },
                PoolKind::MaxIndex { column_major: true },
            ] {
                let spec = PoolSpec {
                    kind,
                    kernel: kernel.clone(),
                    stride: stride.clone(),
                    pad_begin: pad_begin.clone(),
                    pad_end: pad_end.clone(),
                    dilation: dilation.clone(),
                    ceil_mode: true,
                    count_include_pad: i != 1,
                };
                let want = reference::pool::pool(&spec, &x).unwrap();
                let out = g.zeros(want.shape()).unwrap();
                let got = run(
                    &g,
                    g.encode(pool::pool(
                        g.target(),
                        &spec,
                        x.shape(),
                        bx.binding(),
                        out.binding(),
                    )),
                    &out,
                );
                let (tol, sums) = f16_pool_bound(kind, spec.window(), || {
                    reference::pool::pool(&spec, &abs(&x)).unwrap()
                });
                check(
                    &format!("{p} pool {kind:?} {shape:?}"),
                    &got,
                    &want,
                    &sums,
                    tol,
                );
            }
        }
        // Indices past 2048 would round in f16 storage: refused.
        let big = g.zeros(&[1, 1, 64, 64]).unwrap();
        let spec = PoolSpec::new(
            PoolKind::MaxIndex {
                column_major: false,
            },
            2,
            2,
            0,
        );
        assert!(
            pool::pool(
                g.target(),
                &spec,
                &[1, 1, 64, 64],
                big.binding(),
                big.binding()
            )
            .is_err()
        );
    }
}

/// Global pooling (f32 partials), softmax (f32), per-channel affine (f32).
#[test]
fn reductions_and_affine_match_reference() {
    let x = r16(&Tensor::random(vec![2, 3, 11, 9], 5));
    for p in HALF {
        let g = hgpu(p);
        let bx = g.upload(&x).unwrap();
        for kind in [
            PoolKind::Max,
            PoolKind::Avg,
            PoolKind::Lp(2),
            PoolKind::Lp(3),
        ] {
            let want = reference::pool::global_pool(kind, &x).unwrap();
            let out = g.zeros(want.shape()).unwrap();
            let d = g.encode(pool::global_pool(
                g.target(),
                kind,
                x.shape(),
                bx.binding(),
                out.binding(),
            ));
            let got = run(&g, d, &out);
            let (tol, sums) = f16_pool_bound(kind, 99, || {
                reference::pool::global_pool(kind, &abs(&x)).unwrap()
            });
            check(
                &format!("{p} global pool {kind:?}"),
                &got,
                &want,
                &sums,
                tol,
            );
        }
        for axis in [1, 3] {
            let want = reference::softmax::softmax(axis, &x).unwrap();
            let out = g.zeros(x.shape()).unwrap();
            let d = g.encode(softmax::softmax(
                g.target(),
                axis,
                x.shape(),
                bx.binding(),
                out.binding(),
            ));
            let got = run(&g, d, &out);
            let tol = F16Tolerance::new(x.shape()[axis], Precision::F16AccF32);
            check(&format!("{p} softmax {axis}"), &got, &want, &want, tol);
        }
        let scale = r16(&Tensor::random(vec![3], 6));
        let shift = r16(&Tensor::random(vec![3], 7));
        let res = r16(&Tensor::random(x.shape().to_vec(), 8));
        let f64s = |t: &Tensor| t.data().iter().map(|&v| v as f64).collect::<Vec<_>>();
        let want = reference::channel_affine::channel_affine(
            &x,
            &f64s(&scale),
            &f64s(&shift),
            Some(&res),
            Activation::Silu,
        )
        .unwrap();
        let sums = reference::channel_affine::channel_affine(
            &abs(&x),
            &f64s(&abs(&scale)),
            &f64s(&abs(&shift)),
            Some(&abs(&res)),
            Activation::Identity,
        )
        .unwrap();
        let bufs = up(&g, &[&scale, &shift, &res]);
        let out = g.zeros(x.shape()).unwrap();
        let d = g.encode(channel_affine(
            g.target(),
            x.shape(),
            Activation::Silu,
            AffineBindings {
                input: bx.binding(),
                scale: bufs[0].binding(),
                shift: bufs[1].binding(),
                residual: Some(bufs[2].binding()),
                output: out.binding(),
            },
        ));
        let got = run(&g, d, &out);
        let tol = F16Tolerance::new(3, Precision::F16AccF32).slope(SLOPE);
        check(&format!("{p} channel affine"), &got, &want, &sums, tol);
    }
}

/// SE's excitation MLP on pooled features. Bound, first order, per gate g = sigmoid(z):
/// layer 1's hidden unit h_j = relu(sum_c w1 p + b1) errs by
/// dh_j = gamma_{C+2} (sum_c |w1 p| + |b1|) and is stored in the accumulator type (u_a |h_j|);
/// z errs by gamma_{R+2} (sum_j |w2 h| + |b2|) + sum_j |w2| dh_j; sigmoid's slope is 1/4; then
/// the output rounding of `F16Tolerance`.
#[test]
fn se_gate_matches_reference() {
    let (n, c, r) = (2, 37, 5);
    let x = r16(&Tensor::random(vec![n, c], 11));
    let w1 = r16(&Tensor::random(vec![r, c], 12));
    let b1 = r16(&Tensor::random(vec![r], 13));
    let w2 = r16(&Tensor::random(vec![c, r], 14));
    let b2 = r16(&Tensor::random(vec![c], 15));
    let want = reference::se_gate::se_gate(&x, &w1, &b1, Activation::Relu, &w2, &b2).unwrap();
    for p in HALF {
        let ua = p.acc_roundoff();
        let gamma = |m: usize| (m + 2) as f64 * ua / (1.0 - (m + 2) as f64 * ua);
        let mut bound = Vec::new();
        for s in 0..n {
            let xs = &x.data()[s * c..(s + 1) * c];
            let mut h = vec![0.0f64; r];
            let mut dh = vec![0.0f64; r];
            for j in 0..r {
                let row = &w1.data()[j * c..(j + 1) * c];
                let z: f64 = row
                    .iter()
                    .zip(xs)
                    .map(|(&a, &b)| a as f64 * b as f64)
                    .sum::<f64>()
                    + b1.data()[j] as f64;
                let a: f64 = row
                    .iter()
                    .zip(xs)
                    .map(|(&a, &b)| (a as f64 * b as f64).abs())
                    .sum::<f64>()
                    + (b1.data()[j] as f64).abs();
                h[j] = z.max(0.0);
                dh[j] = gamma(c) * a + ua * h[j];
            }
            for o in 0..c {
                let row = &w2.data()[o * r..(o + 1) * r];
                let a: f64 = row
                    .iter()
                    .zip(&h)
                    .map(|(&w, &v)| (w as f64 * v).abs())
                    .sum::<f64>()
                    + (b2.data()[o] as f64).abs();
                let prop: f64 = row
                    .iter()
                    .zip(&dh)
                    .map(|(&w, &d)| (w as f64).abs() * d)
                    .sum();
                bound.push((0.25 * (gamma(r) * a + prop)) as f32);
            }
        }
        let g = hgpu(p);
        let bufs = up(&g, &[&x, &w1, &b1, &w2, &b2]);
        let out = g.zeros(&[n, c]).unwrap();
        let d = g.encode(se_gate(
            g.target(),
            n,
            c,
            r,
            None,
            Activation::Relu,
            SeGateBindings {
                input: bufs[0].binding(),
                w1: bufs[1].binding(),
                b1: bufs[2].binding(),
                w2: bufs[3].binding(),
                b2: bufs[4].binding(),
                gate: out.binding(),
            },
        ));
        let got = run(&g, d, &out);
        // The propagated bound enters as `abs_sums` of a unit-slope, f32-accumulated sum of
        // one term: F16Tolerance then adds exactly the output rounding on top of it.
        let tol = F16Tolerance {
            k: 1,
            acc_roundoff: 1.0 / 3.0, // gamma_3 = 1: the bound passes through unchanged
            slope: 1.0,
        };
        let sums = Tensor::new(vec![n, c], bound).unwrap();
        let want = want.clone().reshape(vec![n, c]).unwrap();
        check(&format!("{p} se_gate"), &got, &want, &sums, tol);
    }
}

/// Data movement in f16 is bit-exact: transpose, pixel shuffle, concat, constant pad, nearest
/// resize; bilinear and bicubic resize (antialiased too) interpolate in f32 (the lookup table
/// stays f32).
#[test]
fn data_movement_and_resize() {
    let x = r16(&Tensor::random(vec![1, 8, 5, 3], 21));
    for p in HALF {
        let g = hgpu(p);
        let bx = g.upload(&x).unwrap();
        let exact = F16Tolerance::exact();
        let perm = [0, 2, 3, 1];
        let want = reference::rearrange::transpose(&perm, &x).unwrap();
        let out = g.zeros(want.shape()).unwrap();
        let d = g.encode(rearrange::transpose(
            g.target(),
            &perm,
            x.shape(),
            bx.binding(),
            out.binding(),
        ));
        check(
            &format!("{p} transpose"),
            &run(&g, d, &out),
            &want,
            &want,
            exact,
        );

        let ps = PixelShuffle {
            factor: 2,
            order: ChannelOrder::Crd,
        };
        let want = reference::rearrange::pixel_shuffle(&ps, &x).unwrap();
        let out = g.zeros(want.shape()).unwrap();
        let d = g.encode(rearrange::pixel_shuffle(
            g.target(),
            &ps,
            x.shape(),
            bx.binding(),
            out.binding(),
        ));
        check(
            &format!("{p} pixel shuffle"),
            &run(&g, d, &out),
            &want,
            &want,
            exact,
        );

        let want = reference::rearrange::concat(1, &[&x, &x]).unwrap();
        let out = g.zeros(want.shape()).unwrap();
        for (i, off) in [0, 8].into_iter().enumerate() {
            let d = g.encode(rearrange::copy_into(
                g.target(),
                1,
                x.shape(),
                want.shape(),
                off,
                bx.binding(),
                out.binding(),
            ));
            let got = run(&g, d, &out);
            if i == 1 {
                check(&format!("{p} concat"), &got, &want, &want, exact);
            }
        }

        let (begin, end) = ([0, 1, 2, 0], [0, 0, 1, 3]);
        let want = reference::pad::pad(&x, &begin, &end, 0.5).unwrap();
        let out = g.zeros(want.shape()).unwrap();
        let d = g.encode(pad::pad(
            g.target(),
            &begin,
            &end,
            0.5,
            x.shape(),
            bx.binding(),
            out.binding(),
        ));
        check(&format!("{p} pad"), &run(&g, d, &out), &want, &want, exact);

        // Downsampling (5 -> 4, 3 -> 2) with antialias widens the filter to 4 (linear) or 6
        // (cubic) taps per axis.
        for spec in [
            ResizeSpec::new(ResizeMode::Nearest, [9, 7]),
            ResizeSpec::new(ResizeMode::Linear, [9, 7]),
            ResizeSpec::new(ResizeMode::Cubic, [9, 7]).cubic(-0.5, true),
            ResizeSpec::new(ResizeMode::Linear, [9, 2]).antialias(true),
            ResizeSpec::new(ResizeMode::Cubic, [4, 2]).antialias(true),
        ] {
            let mode = spec.mode;
            let want = reference::resize::resize(&spec, &x).unwrap();
            // The table is f32 in every precision: uploaded through an f32 handle.
            let table = gpu()
                .upload(&resize::resize_table(&spec, x.shape()).unwrap())
                .unwrap();
            let out = g.zeros(want.shape()).unwrap();
            let d = g.encode(resize::resize(
                g.target(),
                &spec,
                x.shape(),
                bx.binding(),
                table.binding(),
                out.binding(),
            ));
            let got = run(&g, d, &out);
            let taps = spec.taps(0, 5, spec.out[0]) * spec.taps(1, 3, spec.out[1]);
            let (tol, sums) = match mode {
                ResizeMode::Nearest => (exact, want.clone()),
                // Non-negative weights: the sum of |terms| is the resize of |x|.
                ResizeMode::Linear => (
                    F16Tolerance::new(taps, Precision::F16AccF32),
                    reference::resize::resize(&spec, &abs(&x)).unwrap(),
                ),
                // Cubic weights go negative; their absolute values sum to at most 1.5 per
                // axis (a in [-1, 0], renormalised or not), so |terms| sum to <= 2.25 max |x|.
                ResizeMode::Cubic => {
                    let max = x.data().iter().fold(0f32, |m, v| m.max(v.abs()));
                    let sums = Tensor::new(want.shape().to_vec(), vec![2.25 * max; want.numel()]);
                    (F16Tolerance::new(taps, Precision::F16AccF32), sums.unwrap())
                }
            };
            check(&format!("{p} resize {spec:?}"), &got, &want, &sums, tol);
        }
    }
}
