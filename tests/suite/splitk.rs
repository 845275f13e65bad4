//! Split-K convolution (implicit GEMM and pointwise GEMM with partial sums + reduce) against
//! the CPU reference, the algorithm API (`kernels::algorithm`) on every candidate of a shape,
//! and the reduce kernel alone.

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::kernels::algorithm::{self, ConvAlgorithm};
use wgconv::kernels::conv::ConvTiling;
use wgconv::kernels::matmul::GemmTiling;
use wgconv::kernels::splitk;
use wgconv::ops::{Activation, ConvSpec, Epilogue};
use wgconv::reference;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, upload_all};
use crate::conv::{ConvCheck, conv_problem};
use crate::conv_tiles::TILINGS;
use wgconv::problem::ConvProblem;

/// Runs `p` with `algorithm` through `algorithm::conv_with`: weights transformed on the host
/// when the algorithm wants it, every scratch region in a buffer of its own.
pub fn run_algorithm(p: &ConvProblem, a: &ConvAlgorithm) -> Tensor {
    let g = gpu();
    let run = p
        .launch(g, &p.data().unwrap(), a)
        .unwrap_or_else(|e| panic!("{a:?} {p:?}: {e}"));
    assert_eq!(run.dispatches().len(), a.dispatch_count(), "{a:?}");
    run.run(g).unwrap()
}

/// `p` run as `a` against the reference, with the tolerance `tol`.
pub fn check_algorithm(p: &ConvProblem, a: &ConvAlgorithm, want: &Tensor, tol: Tolerance) {
    assert_close(&format!("{a:?} {p:?}"), &run_algorithm(p, a), want, tol);
}

/// Split-K sums the same K products as the direct kernel, in `splits` partial sums added at the
/// end: the accumulation bound of K terms holds unchanged.
fn splitk_tolerance(p: &ConvProblem) -> Tolerance {
    p.tolerance()
}

/// Pointwise problems: 1x1, groups 1-3 over 1-40 channels per group, 1-3-D maps, batch 1-3.
fn pointwise_problem() -> impl Strategy<Value = ConvProblem> {
    (
        1usize..=3,
        prop_oneof![1usize..=5, 17usize..=40],
        1usize..=3,
        1usize..=2,
        prop::collection::vec(1usize..=9, 1..=3),
        any::<(bool, bool)>(),
        0usize..11,
        0u64..1_000_000,
    )
        .prop_map(
            |(groups, cg, og, batch, spatial, (bias, residual), act, seed)| {
                let r = spatial.len();
                let mut spec = ConvSpec::new(&vec![1; r]);
                spec.groups = groups;
                let mut input_shape = vec![batch, groups * cg];
                input_shape.extend(&spatial);
                ConvProblem {
                    spec,
                    input_shape,
                    out_channels: groups * og * 3,
                    bias,
                    residual,
                    act: Activation::well_conditioned()[act],
                    // The problem's base seed; 4 tensors per problem.
                    seed: seed * 4,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// Any convolution (ranks 1-3, groups, stride, dilation, padding) in 1-9 splits.
    #[test]
    fn random_convs_split_k(p in conv_problem(), splits in 1u32..=9, t in 0..TILINGS.len()) {
        let splits = splits.min(p.k() as u32);
        let a = ConvAlgorithm::SplitK { tiling: TILINGS[t], splits };
        check_algorithm(&p, &a, &p.want(), splitk_tolerance(&p));
    }

    /// Pointwise convolutions through the GEMM in 1-9 splits, small and big tilings.
    #[test]
    fn random_pointwise_split_k(p in pointwise_problem(), splits in 1u32..=9, t in 0usize..9) {
        let splits = splits.min(p.k() as u32);
        let mut tilings = vec![GemmTiling::new(8, 4), GemmTiling::new(4, 16), GemmTiling::new(16, 16)];
        tilings.extend(crate::matmul::big_tilings());
        let a = ConvAlgorithm::GemmSplitK { tiling: tilings[t], splits };
        check_algorithm(&p, &a, &p.want(), splitk_tolerance(&p));
    }
}

/// ResNet's last 3x3 layer at batch 1 (512 x 7x7 outputs, K = 512*9 = 4608) with its residual,
/// bias and ReLU: the layer split-K is for. The heuristic must pick split-K here (8 64x64 tiles
/// on GPUs with 100+ compute units), with 18 splits of 256.
#[test]
fn resnet_512x7x7_k4608_batch1() {
    let p = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[1, 512, 7, 7], 512)
        .residual(true)
        .act(Activation::Relu);
    let a = algorithm::heuristic(&p.spec, &p.input_shape, &p.weight_shape());
    assert!(
        matches!(a, ConvAlgorithm::SplitK { splits: 18, .. }),
        "heuristic chose {a:?}"
    );
    check_algorithm(&p, &a, &p.want(), splitk_tolerance(&p));
}

/// Every split count from 1 to K (K = 5*3*3 = 45 and, pointwise, 37): split ranges are whole
/// 16-long chunks, so from 4 splits on some ranges are empty and their slices must be zeros,
/// and with splits = K each non-empty range is a single chunk.
#[test]
fn every_split_count() {
    let p = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[2, 5, 5, 6], 7)
        .residual(true)
        .act(Activation::Silu);
    let want = p.want();
    for splits in 1..=p.k() as u32 {
        let a = ConvAlgorithm::SplitK {
            tiling: ConvTiling::default(),
            splits,
        };
        check_algorithm(&p, &a, &want, splitk_tolerance(&p));
    }
    let p = ConvProblem::new(ConvSpec::conv2d(1, 1), &[1, 37, 3, 5], 9).act(Activation::Relu);
    let want = p.want();
    for splits in 1..=p.k() as u32 {
        let a = ConvAlgorithm::GemmSplitK {
            tiling: GemmTiling::new(4, 4),
            splits,
        };
        check_algorithm(&p, &a, &want, splitk_tolerance(&p));
    }
}

/// Split-K on whole tiles and chunks (the GEMM's aligned variant, no bounds checks), with an
/// empty last range: K = 64 in 3 splits (32, 32, 0) on 64x64 tiles, and K = 128 on 128x128
/// tiles with 32-long chunks (64, 64, 0).
#[test]
fn aligned_pointwise_split_k() {
    let square = GemmTiling::new(16, 16);
    let big = GemmTiling {
        rm: 8,
        rn: 8,
        tk: 32,
        ..square
    };
    for (input, o, tiling) in [([1, 64, 8, 8], 64, square), ([1, 128, 8, 16], 128, big)] {
        let p = ConvProblem::new(ConvSpec::conv2d(1, 1), &input, o)
            .residual(true)
            .act(Activation::Relu);
        let a = ConvAlgorithm::GemmSplitK { tiling, splits: 3 };
        check_algorithm(&p, &a, &p.want(), splitk_tolerance(&p));
    }
}

/// Split-K on a GEMM aligned to the 128x128 tile (M = 128, N = 128, K = 144: the kernel runs
/// without bounds checks): 2-9 splits of whole 16-long chunks, the last ranges empty from 6 on.
#[test]
fn aligned_big_tile_split_k() {
    let p = ConvProblem::new(ConvSpec::conv2d(3, 3), &[2, 16, 10, 10], 128)
        .bias(true)
        .act(Activation::Relu);
    let want = p.want();
    for splits in 2..=9 {
        let a = ConvAlgorithm::SplitK {
            tiling: ConvTiling::big(8, 8, 16),
            splits,
        };
        check_algorithm(&p, &a, &want, splitk_tolerance(&p));
    }
}

/// The heuristic splits a pointwise layer with few tiles (ResNet-50's 2048 -> 512 at 7x7,
/// batch 1: 8 tiles, K = 2048: 8 splits of 256) and leaves a layer that fills the GPU alone.
#[test]
fn heuristic_splits_only_small_launches() {
    let spec = ConvSpec::conv2d(1, 1);
    let a = algorithm::heuristic(&spec, &[1, 2048, 7, 7], &[512, 2048, 1, 1]);
    assert!(
        matches!(a, ConvAlgorithm::GemmSplitK { splits: 8, .. }),
        "{a:?}"
    );
    let a = algorithm::heuristic(&spec, &[8, 256, 56, 56], &[64, 256, 1, 1]);
    assert!(matches!(a, ConvAlgorithm::Gemm(_)), "{a:?}");
    // Short reductions are not split: a range of 256 would be the whole of it.
    let a = algorithm::heuristic(&ConvSpec::conv2d(3, 3), &[1, 16, 9, 9], &[16, 16, 3, 3]);
    assert!(matches!(a, ConvAlgorithm::Implicit(_)), "{a:?}");
}

/// Every candidate the autotuner would measure for a 3x3 64 -> 64 layer on a 6x6 map (implicit
/// tilings, split-K counts, Winograd GEMM tilings) and for a pointwise layer computes the same
/// convolution.
#[test]
fn every_candidate_matches_reference() {
    for p in [
        ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[1, 64, 6, 6], 64)
            .residual(true)
            .act(Activation::Relu),
        ConvProblem::new(ConvSpec::conv2d(1, 1), &[2, 130, 3, 3], 20).act(Activation::Relu6),
    ] {
        let want = p.want();
        let all = algorithm::candidates(&p.spec, &p.input_shape, &p.weight_shape(), gpu().limits());
        assert!(all.len() > 10, "{} candidates", all.len());
        assert!(all.contains(&algorithm::heuristic(
            &p.spec,
            &p.input_shape,
            &p.weight_shape()
        )));
        for a in &all {
            let tol = match a {
                a if a.transforms_weights() => crate::winograd::winograd_tolerance(&p),
                _ => p.tolerance(),
            };
            check_algorithm(&p, a, &want, tol);
        }
    }
}

/// Algorithms refuse shapes they cannot run, with an error instead of a wrong result.
#[test]
fn unsupported_algorithms_are_refused() {
    let p = ConvProblem::new(ConvSpec::conv2d(3, 3).stride(2), &[1, 8, 9, 9], 8);
    for a in [
        ConvAlgorithm::Winograd {
            tile: 2,
            gemm: GemmTiling::for_problem(8, 8),
        },
        ConvAlgorithm::Gemm(GemmTiling::for_problem(8, 8)),
        ConvAlgorithm::SplitK {
            tiling: ConvTiling::default(),
            splits: 0,
        },
        ConvAlgorithm::SplitK {
            tiling: ConvTiling::default(),
            splits: 73,
        },
    ] {
        assert!(
            a.supports(&p.spec, &p.input_shape, &p.weight_shape())
                .is_err(),
            "{a:?}"
        );
    }
}

/// The reduce kernel alone: slices summed, bias per channel, residual, activation.
#[test]
fn reduce_matches_reference() {
    let g = gpu();
    for (shape, splits, act) in [
        (vec![2usize, 3, 5, 7], 4usize, Activation::Relu),
        (vec![1, 1, 1], 1, Activation::Identity),
        (vec![1, 70, 3], 7, Activation::HardSwish),
    ] {
        let mut pshape = vec![splits];
        pshape.extend(&shape);
        let partial = Tensor::random(pshape, 1);
        let bias = Tensor::random(vec![shape[1]], 2);
        let residual = Tensor::random(shape.clone(), 3);
        let bufs = upload_all(&[&partial, &bias, &residual]);
        let out = g.zeros(&shape).unwrap();
        let d = g
            .encode(splitk::reduce(
                g.target(),
                &shape,
                splits as u32,
                Epilogue {
                    activation: act,
                    residual: true,
                    input_scale: false,
                },
                bufs[0].binding(),
                Some(bufs[1].binding()),
                Some(bufs[2].binding()),
                out.binding(),
            ))
            .unwrap();
        let got = crate::common::run(&d, &out);
        let want = reference::splitk::reduce(&partial, Some(&bias), Some(&residual), act).unwrap();
        assert_close(
            &format!("{shape:?} x{splits}"),
            &got,
            &want,
            Tolerance::accumulation(splits + 2),
        );
    }
}
