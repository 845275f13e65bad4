//! Convolution-like kernels in f16: implicit-GEMM conv, depthwise, pointwise and transposed
//! convolution against the reference on the f16-rounded operands.

use super::*;

/// Runs a convolution-like kernel (conv, depthwise, pointwise) on `pr` in `p` and checks it.
fn check_conv_like(pr: &ConvProblem, p: Precision, kernel: impl ConvKernel) {
    let g = hgpu(p);
    let d = pr.data().unwrap().map(r16);
    let got = pr
        .launch_with(&g, &d, kernel)
        .expect("dispatch")
        .run(&g)
        .expect("run");
    let tol = F16Tolerance::new(pr.k(), p).slope(SLOPE);
    check(
        &format!("{p} {pr:?}"),
        &got,
        &pr.reference_on(&d).unwrap(),
        &abs_sums(pr, &d),
        tol,
    );
}

#[allow(clippy::too_many_arguments)]
fn depthwise_problem(
    n: usize,
    c: usize,
    mult: usize,
    hw: [usize; 2],
    k: [usize; 2],
    stride: usize,
    pad: usize,
    dil: usize,
) -> ConvProblem {
    let spec = ConvSpec {
        kernel: k.to_vec(),
        stride: vec![stride; 2],
        pad_begin: vec![pad; 2],
        pad_end: vec![pad; 2],
        dilation: vec![dil; 2],
        groups: c,
    };
    ConvProblem::new(spec, &[n, c, hw[0], hw[1]], c * mult)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// The general implicit-GEMM conv: ranks 1-3, groups, stride, padding, dilation, every
    /// activation, bias and residual, through one of every tiling (the host's own among them).
    #[test]
    fn conv_matches_reference(pr in conv_problem(), ti in 0..TILINGS.len()) {
        let tiling = Some(TILINGS[ti]);
        for p in HALF {
            check_conv_like(&pr, p, |t, s, i, w, e, b| conv::conv_tiled(t, s, i, w, e, b, tiling));
        }
    }

    /// Depthwise: odd maps, multiplier 1-3, stride/padding/dilation 1-3.
    #[test]
    fn depthwise_matches_reference(
        n in 1usize..=2, c in 1usize..=5, mult in 1usize..=3, h in 1usize..=13, w in 1usize..=13,
        kk in 1usize..=5, stride in 1usize..=3, pad in 0usize..=3, dil in 1usize..=2,
        act in 0usize..11, bias: bool, seed in 0u64..1000,
    ) {
        let span = (kk - 1) * dil + 1;
        prop_assume!(h + 2 * pad >= span && w + 2 * pad >= span);
        let mut pr = depthwise_problem(n, c, mult, [h, w], [kk, kk], stride, pad, dil)
            .bias(bias)
            .act(Activation::well_conditioned()[act]);
        // The problem's base seed; 4 tensors per problem.
        pr.seed = seed * 4;
        for p in HALF {
            check_conv_like(&pr, p, |t, s, i, w, e, b| depthwise::depthwise(t, s, i, w, e, b));
        }
    }
}

/// Pinned convolution-like cases: what each guards is in its comment.
#[test]
fn conv_like_pinned() {
    for p in HALF {
        // 3x3 conv, 37 channels (K = 333 not a multiple of TK, M past a 64-row tile), residual.
        let pr = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[2, 37, 9, 11], 70)
            .residual(true)
            .act(Activation::Relu);
        check_conv_like(&pr, p, |t, s, i, w, e, b| conv::conv(t, s, i, w, e, b));
        // 1x1 conv through the GEMM (pointwise), grouped, odd pixel count.
        let mut spec = ConvSpec::conv2d(1, 1);
        spec.groups = 3;
        let pr = ConvProblem::new(spec, &[1, 9, 5, 7], 12).act(Activation::HardSwish);
        check_conv_like(&pr, p, |t, s, i, w, e, b| {
            matmul::pointwise(t, s, i, w, e, b)
        });
        // Depthwise 3x3 stride 2 (MobileNet), a patch that is not staged (large map).
        let pr = depthwise_problem(1, 4, 1, [67, 67], [3, 3], 2, 1, 1).act(Activation::Relu6);
        check_conv_like(&pr, p, |t, s, i, w, e, b| {
            depthwise::depthwise(t, s, i, w, e, b)
        });
    }
}

/// Transposed convolution with stride, padding, output padding, groups and bias.
#[test]
fn conv_transpose_matches_reference() {
    let cases = [
        // (input, out channels, groups, kernel, stride, pad, output_padding, dilation)
        ([1, 3, 5, 7], 4, 1, 3, 2, 1, 1, 1),
        ([2, 4, 3, 4], 6, 2, 4, 2, 1, 0, 1),
        ([1, 5, 4, 3], 3, 1, 2, 3, 0, 2, 2),
    ];
    for (i, &(input, o, groups, k, s, pd, op, dil)) in cases.iter().enumerate() {
        let conv = ConvSpec {
            kernel: vec![k; 2],
            stride: vec![s; 2],
            pad_begin: vec![pd; 2],
            pad_end: vec![pd; 2],
            dilation: vec![dil; 2],
            groups,
        };
        let spec = ConvTransposeSpec::new(conv).output_padding(&[op, op]);
        let x = r16(&Tensor::random(input.to_vec(), 10 + i as u64));
        let w = r16(&Tensor::random(
            vec![input[1], o / groups, k, k],
            20 + i as u64,
        ));
        let b = r16(&Tensor::random(vec![o], 30 + i as u64));
        let want = reference::conv_transpose::conv_transpose(&spec, &x, &w, Some(&b)).unwrap();
        let sums =
            reference::conv_transpose::conv_transpose(&spec, &abs(&x), &abs(&w), Some(&abs(&b)))
                .unwrap();
        for p in HALF {
            let g = hgpu(p);
            let bufs = up(&g, &[&x, &w, &b]);
            let out = g.zeros(want.shape()).unwrap();
            let d = g.encode(conv_transpose::conv_transpose(
                g.target(),
                &spec,
                x.shape(),
                w.shape(),
                Epilogue::default(),
                ConvBindings {
                    input: bufs[0].binding(),
                    weight: bufs[1].binding(),
                    bias: Some(bufs[2].binding()),
                    residual: None,
                    input_scale: None,
                    output: out.binding(),
                },
            ));
            let got = run(&g, d, &out);
            // Each output sums at most (C / g) * k * k products.
            let tol = F16Tolerance::new(input[1] / groups * k * k, p);
            check(
                &format!("{p} conv_transpose case {i}"),
                &got,
                &want,
                &sums,
                tol,
            );
        }
    }
}
