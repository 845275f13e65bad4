//! Winograd F(2x2, 3x3) convolution (input transform, batched GEMM, output transform with the
//! epilogue) against the CPU reference.

use proptest::prelude::*;
use wgconv::compare::{Tolerance, compare};
use wgconv::kernels::algorithm::{self, ConvAlgorithm};
use wgconv::kernels::matmul::GemmTiling;
use wgconv::kernels::winograd::{WINOGRAD_ERROR_FACTOR, transform_weights};
use wgconv::ops::{Activation, ConvSpec};
use wgconv::tensor::Tensor;

use crate::conv::ConvCheck;
use crate::splitk::{check_algorithm, run_algorithm};
use wgconv::problem::ConvProblem;

/// The direct convolution's accumulation bound over K = 9C terms, times the transforms' worst-
/// case growth of the terms summed ([`WINOGRAD_ERROR_FACTOR`], derived in
/// `src/kernels/winograd.rs`).
pub fn winograd_tolerance(p: &ConvProblem) -> Tolerance {
    Tolerance::accumulation(WINOGRAD_ERROR_FACTOR * p.k())
}

fn wino(o: usize, tiles: usize) -> ConvAlgorithm {
    ConvAlgorithm::Winograd {
        tile: 2,
        gemm: GemmTiling::for_problem(o, tiles),
    }
}

/// 3x3 stride-1 problems: odd maps (so edge tiles are partial), padding 0-2 on each side
/// independently, C and O 1-9 or 17-40 (not multiples of 4), batch 1-3, any epilogue.
fn winograd_problem() -> impl Strategy<Value = ConvProblem> {
    let channels = prop_oneof![1usize..=9, 17usize..=40].boxed();
    winograd_problems(channels, 2, 11, 11)
}

/// 3x3 stride-1 problems with C and O from `channels`, padding 0..=`max_pad` on each side
/// independently, maps 1..=`max_side` (grown until the kernel fits the padded input), batch
/// 1-3, bias and residual or not, one of the first `acts` well-conditioned activations.
pub(crate) fn winograd_problems(
    channels: BoxedStrategy<usize>,
    max_pad: usize,
    max_side: usize,
    acts: usize,
) -> impl Strategy<Value = ConvProblem> {
    (
        (1usize..=3, channels.clone(), channels),
        (0..=max_pad, 0..=max_pad, 0..=max_pad, 0..=max_pad),
        (1..=max_side, 1..=max_side),
        any::<(bool, bool)>(),
        0..acts,
        0u64..1_000_000,
    )
        .prop_map(
            |((batch, c, o), (pt, pb, pl, pr), (h, w), (bias, residual), act, seed)| {
                let spec = ConvSpec::conv2d(3, 3).pads(&[pt, pl], &[pb, pr]);
                // Grow the map until the kernel fits the padded input.
                let h = h.max(3usize.saturating_sub(pt + pb)).max(1);
                let w = w.max(3usize.saturating_sub(pl + pr)).max(1);
                ConvProblem {
                    spec,
                    input_shape: vec![batch, c, h, w],
                    out_channels: o,
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
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn random_winograd(p in winograd_problem()) {
        let out = p.output_shape().unwrap();
        let tiles = out[0] * out[2].div_ceil(2) * out[3].div_ceil(2);
        check_algorithm(&p, &wino(p.out_channels, tiles), &p.want(), winograd_tolerance(&p));
    }
}

/// ResNet's 3x3 64 -> 64 layer on 56x56 at batch 1 with bias, residual and ReLU: where the
/// heuristic picks Winograd (784 tiles, C = O = 64; the fused kernel), run in three passes with
/// the GEMM tiling the heuristic would give them.
#[test]
fn resnet_64x56x56() {
    let p = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[1, 64, 56, 56], 64)
        .residual(true)
        .act(Activation::Relu);
    let h = algorithm::heuristic(&p.spec, &p.input_shape, &p.weight_shape());
    assert_eq!(h, ConvAlgorithm::WinogradFused);
    let a = ConvAlgorithm::Winograd {
        tile: 2,
        gemm: GemmTiling::for_occupancy(64, 784, 16, algorithm::TARGET_WORKGROUPS),
    };
    check_algorithm(&p, &a, &p.want(), winograd_tolerance(&p));
}

/// Unpadded, asymmetric padding, a 3x3 input (one output) and a map whose output is 1 wide:
/// single partial tiles.
#[test]
fn tiny_and_asymmetric_maps() {
    for (shape, begin, end) in [
        ([1usize, 3, 3, 3], [0usize, 0], [0usize, 0]),
        ([2, 5, 4, 3], [2, 0], [0, 0]),
        ([1, 6, 1, 1], [1, 1], [1, 1]),
        ([3, 2, 7, 5], [0, 2], [1, 0]),
    ] {
        let p = ConvProblem::new(ConvSpec::conv2d(3, 3).pads(&begin, &end), &shape, 5)
            .residual(true)
            .act(Activation::Gelu);
        let out = p.output_shape().unwrap();
        let tiles = out[0] * out[2].div_ceil(2) * out[3].div_ceil(2);
        check_algorithm(&p, &wino(5, tiles), &p.want(), winograd_tolerance(&p));
    }
}

/// The tolerance is not vacuous: Winograd with the filter transposed (the index slip a
/// transform makes most easily) is caught on a 64-channel layer.
#[test]
fn tolerance_catches_a_transposed_filter() {
    let p = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[1, 64, 8, 8], 16);
    let d = p.data().unwrap();
    let mut wt = d.w.clone();
    let (o, c) = (16, 64);
    for oc in 0..o * c {
        for y in 0..3 {
            for x in 0..3 {
                wt.data_mut()[oc * 9 + y * 3 + x] = d.w.data()[oc * 9 + x * 3 + y];
            }
        }
    }
    // Reference of the transposed filter run the right way must differ from the true one by
    // more than the tolerance; the GPU result must match the true one.
    let wrong = wgconv::reference::conv::conv_epilogue(
        &p.spec,
        &d.x,
        &wt,
        d.bias.as_ref(),
        None,
        Activation::Identity,
    )
    .unwrap();
    let want = p.want();
    let tol = winograd_tolerance(&p);
    assert!(!compare(wrong.data(), want.data(), tol).passed());
    let got = run_algorithm(&p, &wino(16, 16));
    assert!(compare(got.data(), want.data(), tol).passed());
}

/// The host weight transform: U = G g G^T, checked on a filter whose transform is known by hand
/// (g = all ones: G 1 = [1, 1.5, 0.5, 1], so U = outer([1, 1.5, .5, 1], [1, 1.5, .5, 1])).
#[test]
fn weight_transform_of_ones() {
    let u = transform_weights(&Tensor::new(vec![1, 1, 3, 3], vec![1.0; 9]).unwrap());
    assert_eq!(u.shape(), &[16, 1, 1]);
    let r = [1.0f32, 1.5, 0.5, 1.0];
    for i in 0..4 {
        for j in 0..4 {
            assert_eq!(u.data()[i * 4 + j], r[i] * r[j], "U[{i}][{j}]");
        }
    }
}

/// Where Winograd does not apply, or does not pay, the heuristic leaves it; where it pays, it
/// runs the fused kernel (no scratch, so no cap on the map either).
#[test]
fn heuristic_uses_winograd_where_it_pays() {
    let h = |spec: &ConvSpec, i: &[usize], w: &[usize]| algorithm::heuristic(spec, i, w);
    let wino = |a: ConvAlgorithm| a.transforms_weights();
    let s = ConvSpec::conv2d(3, 3).pad(1);
    // Few channels: the implicit GEMM.
    assert!(!wino(h(&s, &[1, 32, 56, 56], &[32, 32, 3, 3])));
    // Strided or dilated: not applicable.
    for spec in [s.clone().stride(2), s.clone().dilation(2)] {
        assert!(!wino(h(&spec, &[1, 64, 56, 56], &[64, 64, 3, 3])));
    }
    // 7x7 at batch 1: 16 tiles, too few; split-K instead.
    assert!(matches!(
        h(&s, &[1, 512, 7, 7], &[512, 512, 3, 3]),
        ConvAlgorithm::SplitK { .. }
    ));
    assert_eq!(
        h(&s, &[1, 256, 14, 14], &[256, 256, 3, 3]),
        ConvAlgorithm::WinogradFused
    );
    // A map so large that the three-pass kernel's transformed input would pass 64 MiB: the
    // fused kernel has no scratch; on a device too small for it, the implicit GEMM.
    let (x, w) = ([4, 64, 256, 256], [64, 64, 3, 3]);
    assert_eq!(h(&s, &x, &w), ConvAlgorithm::WinogradFused);
    let small = wgpu::Limits {
        max_compute_workgroup_storage_size: 8 << 10,
        ..wgpu::Limits::default()
    };
    let target = wgconv::kernels::Target::new(small);
    assert!(matches!(
        algorithm::heuristic_for(&target, &s, &x, &w),
        ConvAlgorithm::Implicit(_)
    ));
}

/// Runs `g` in a session with `options` and compares its output with the CPU reference under
/// the network tolerance; returns the session's plan kernels.
fn check_session(
    what: &str,
    g: &wgconv::graph::Graph,
    inputs: &[Tensor],
    options: wgconv::session::SessionOptions,
) -> Vec<ConvAlgorithm> {
    let values = wgconv::graph::cpu::run_all(g, inputs).unwrap();
    let want = values[g.outputs()[0].0].clone().unwrap();
    let tol = crate::graph::network_tolerance_from(g, &values);
    let s = wgconv::session::Session::with_options(crate::common::gpu(), g, options)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = s.run(inputs).unwrap();
    let c = compare(got[0].data(), want.data(), tol);
    assert!(c.passed(), "{what}: {c} ({tol:?})");
    eprintln!(
        "{what}: max abs err {:.2e} = {:.1}% of the tolerance; {} dispatches",
        c.max_abs,
        100.0 * c.max_abs / tol.atol,
        s.dispatch_count()
    );
    assert_eq!(s.dispatch_count(), s.plan().dispatch_count());
    s.plan().steps.iter().filter_map(|s| s.algorithm).collect()
}

/// ResNet-18 at 64x64, batch 1, as a session runs it: the heuristic puts layer1's 64-channel
/// 3x3 convs on (fused) Winograd and the later stages (8x8 and smaller maps, few tiles) on split-K;
/// then every conv forced through the override map (Winograd wherever it applies, split-K in 3
/// elsewhere, the 7x7 stem included). Both match the CPU reference.
#[test]
fn resnet18_session_with_new_algorithms() {
    use std::collections::HashMap;
    use wgconv::graph::{NodeId, Op, passes};
    use wgconv::kernels::conv::ConvTiling;
    use wgconv::session::SessionOptions;

    let g = wgconv::zoo::resnet18(&[1, 3, 64, 64]).unwrap();
    let (g, inputs) = crate::graph::initialised(g, 7);
    let kernels = check_session("resnet18 heuristic", &g, &inputs, SessionOptions::default());
    let has = |f: fn(&ConvAlgorithm) -> bool| kernels.iter().any(f);
    assert!(
        has(|a| matches!(a, ConvAlgorithm::WinogradFused)),
        "{kernels:?}"
    );
    assert!(
        has(|a| matches!(a, ConvAlgorithm::SplitK { .. })),
        "{kernels:?}"
    );

    let h = passes::optimize(&g).unwrap();
    let mut algorithms = HashMap::new();
    for (i, node) in h.nodes().iter().enumerate() {
        if let Op::Conv { spec, .. } = &node.op {
            let a = if algorithm::winograd_applies(spec) {
                ConvAlgorithm::Winograd {
                    tile: 2,
                    gemm: GemmTiling::new(8, 8),
                }
            } else {
                ConvAlgorithm::SplitK {
                    tiling: ConvTiling::default(),
                    splits: 3,
                }
            };
            algorithms.insert(NodeId(i), a);
        }
    }
    let kernels = check_session(
        "resnet18 forced",
        &g,
        &inputs,
        SessionOptions {
            algorithms,
            ..Default::default()
        },
    );
    assert!(
        !kernels
            .iter()
            .any(|a| matches!(a, ConvAlgorithm::Implicit(_))),
        "{kernels:?}"
    );
}
