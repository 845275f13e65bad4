//! Convolution algorithms in f16: split-K (partial sums in the accumulator type) and Winograd
//! (three-pass and fused).

use super::*;

/// Runs convolution `pr` through `algorithm` (`algorithm::conv_with`, scratch sized by
/// `scratch_bytes` in `p`) and checks it under `tol`.
fn check_algorithm(pr: &ConvProblem, p: Precision, a: &ConvAlgorithm, tol: F16Tolerance) {
    check_algorithm_on(pr, pr.data().unwrap(), p, a, tol);
}

/// [`check_algorithm`] on given data.
fn check_algorithm_on(
    pr: &ConvProblem,
    d: ConvData,
    p: Precision,
    a: &ConvAlgorithm,
    tol: F16Tolerance,
) {
    let g = hgpu(p);
    // Winograd's host transform is computed from the f16 weights in f64 and rounded to f16 on
    // upload, as a session does.
    let d = d.map(r16);
    let got = pr
        .launch(&g, &d, a)
        .expect("dispatches")
        .run(&g)
        .expect("run");
    let want = pr.reference_on(&d).unwrap();
    check(
        &format!("{p} {a:?} {pr:?}"),
        &got,
        &want,
        &abs_sums(pr, &d),
        tol,
    );
}

/// Split-K in both f16 precisions: partial sums are Acc (f16 in F16, f32 in F16AccF32), so the
/// bound is the direct convolution's (each slice accumulates fewer terms than the whole sum;
/// the reduce adds the slices in f32). F16AccF32 in particular must keep f32's sums: f16
/// partials would add 2^-11 * sum |partials|, beyond its bound.
#[test]
fn splitk_in_f16() {
    for p in HALF {
        // Implicit GEMM, K = 72 * 9 = 648 over 5 splits (not a multiple of TK), bias,
        // residual and ReLU in the reduce.
        let pr = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[1, 72, 7, 7], 40)
            .residual(true)
            .act(Activation::Relu);
        let a = ConvAlgorithm::SplitK {
            tiling: ConvTiling::default(),
            splits: 5,
        };
        check_algorithm(&pr, p, &a, F16Tolerance::new(pr.k(), p).slope(SLOPE));
        // Pointwise through the GEMM, K = 300 over 4 splits, odd pixel count (odd f16 scratch).
        let pr = ConvProblem::new(ConvSpec::conv2d(1, 1), &[2, 300, 3, 5], 33)
            .act(Activation::HardSwish);
        let a = ConvAlgorithm::GemmSplitK {
            tiling: GemmTiling::for_problem(33, 15),
            splits: 4,
        };
        check_algorithm(&pr, p, &a, F16Tolerance::new(pr.k(), p).slope(SLOPE));
    }
}

/// The GEMM's big tilings in both f16 precisions (vec4<f16> tiles in F16), alternately on
/// whole tiles (aligned, unchecked) and on odd shapes.
#[test]
fn gemm_tilings_in_f16() {
    let shapes = [([2, 64, 8, 16], 128), ([1, 37, 9, 15], 130)];
    for p in HALF {
        for (i, t) in crate::matmul::big_tilings().into_iter().enumerate() {
            let (input, o) = shapes[i % 2];
            let pr = ConvProblem::new(ConvSpec::conv2d(1, 1), &input, o)
                .residual(true)
                .act(Activation::Relu);
            let a = ConvAlgorithm::Gemm(t);
            check_algorithm(&pr, p, &a, F16Tolerance::new(pr.k(), p).slope(SLOPE));
        }
    }
}

/// Split-K partial sums that cancel: with f16 partials (Elem scratch) F16AccF32 would fail.
/// Channels 0..512 have positive weights, 512..1024 negative ones, all inputs positive, so the
/// two slices' partial sums are about +-29 (f16 spacing 2^-6 there: up to 0.008 of rounding
/// each) while outputs are about 1 and F16AccF32's bound is about 0.006; f32 partials keep
/// the error near f32's.
#[test]
fn splitk_partials_cancel_in_f16_acc32() {
    let p = Precision::F16AccF32;
    let (c, o) = (1024, 32);
    let pr = ConvProblem::new(ConvSpec::conv2d(1, 1), &[1, c, 4, 4], o).bias(false);
    let x = Tensor::random_range(vec![1, c, 4, 4], 5, 0.5, 1.0);
    let mag = Tensor::random_range(vec![o, c, 1, 1], 6, 0.05, 0.1);
    let w = Tensor::new(
        vec![o, c, 1, 1],
        mag.data()
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % c < c / 2 { v } else { -v })
            .collect(),
    )
    .unwrap();
    let data = || ConvData {
        x: x.clone(),
        w: w.clone(),
        bias: None,
        residual: None,
    };
    let tol = F16Tolerance::new(pr.k(), p).slope(SLOPE);
    let a = ConvAlgorithm::GemmSplitK {
        tiling: GemmTiling::for_problem(o, 16),
        splits: 2,
    };
    check_algorithm_on(&pr, data(), p, &a, tol);
    let a = ConvAlgorithm::SplitK {
        tiling: ConvTiling::default(),
        splits: 2,
    };
    check_algorithm_on(&pr, data(), p, &a, tol);
}

/// The split-K scratch holds accumulators: twice the f16 storage size in F16AccF32.
#[test]
fn splitk_scratch_holds_acc() {
    let spec = ConvSpec::conv2d(3, 3).pad(1);
    let a = ConvAlgorithm::SplitK {
        tiling: ConvTiling::default(),
        splits: 3,
    };
    let bytes = |p| algorithm::scratch_bytes(&a, &spec, &[1, 8, 5, 5], &[6, 8, 3, 3], p).unwrap();
    // 3 splits of [1, 6, 5, 5] = 450 partial sums.
    assert_eq!(bytes(Precision::F32), vec![1800]);
    assert_eq!(bytes(Precision::F16AccF32), vec![1800]);
    assert_eq!(bytes(Precision::F16), vec![900]);
    // Winograd's V and M are Elem: [16, 8, 9] and [16, 6, 9] for 9 tiles.
    let w = ConvAlgorithm::Winograd {
        tile: 2,
        gemm: GemmTiling::for_problem(6, 9),
    };
    let wb = |p| algorithm::scratch_bytes(&w, &spec, &[1, 8, 5, 5], &[6, 8, 3, 3], p).unwrap();
    assert_eq!(wb(Precision::F32), vec![16 * 8 * 9 * 4, 16 * 6 * 9 * 4]);
    assert_eq!(wb(Precision::F16), vec![16 * 8 * 9 * 2, 16 * 6 * 9 * 2]);
    assert_eq!(wb(Precision::F16AccF32), wb(Precision::F16));
}

/// Winograd in both f16 precisions, under `winograd::f16_tolerance` (derived there: the
/// transforms' growth factor times three extra f16 roundings and the accumulation's).
#[test]
fn winograd_in_f16() {
    for p in HALF {
        // Batch 2, odd output (partial edge tiles), bias, residual, ReLU.
        let pr = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[2, 24, 9, 11], 20)
            .residual(true)
            .act(Activation::Relu);
        let a = ConvAlgorithm::Winograd {
            tile: 2,
            gemm: GemmTiling::for_problem(20, 2 * 5 * 6),
        };
        check_algorithm(&pr, p, &a, winograd::f16_tolerance(pr.k(), p).slope(SLOPE));
        // Asymmetric padding, one input channel, odd tile count.
        let pr = ConvProblem::new(
            ConvSpec::conv2d(3, 3).pads(&[0, 2], &[1, 0]),
            &[1, 1, 6, 5],
            3,
        );
        let a = ConvAlgorithm::Winograd {
            tile: 2,
            gemm: GemmTiling::for_problem(3, 9),
        };
        check_algorithm(&pr, p, &a, winograd::f16_tolerance(pr.k(), p).slope(SLOPE));
    }
}

/// Fused Winograd in both f16 precisions, under the three-pass kernel's
/// `winograd::f16_tolerance` (it rounds U and V as that one does, or V not at all where sums
/// are f32, and keeps M in Acc): several channel and tile blocks, a partial channel chunk,
/// batch 2 and odd maps (partial edge tiles).
#[test]
fn winograd_fused_in_f16() {
    for p in HALF {
        let pr = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[2, 21, 9, 11], 20)
            .residual(true)
            .act(Activation::Relu);
        let a = ConvAlgorithm::WinogradFused;
        check_algorithm(&pr, p, &a, winograd::f16_tolerance(pr.k(), p).slope(SLOPE));
        let pr = ConvProblem::new(
            ConvSpec::conv2d(3, 3).pads(&[0, 2], &[1, 0]),
            &[1, 1, 6, 5],
            3,
        );
        check_algorithm(&pr, p, &a, winograd::f16_tolerance(pr.k(), p).slope(SLOPE));
    }
}
