//! The implicit-GEMM conv's tilings (register blocks, big tiles, K-chunks), its host-chosen
//! ALIGNED / IN_RANGE variants and the tile heuristic, against the CPU reference.

use proptest::prelude::*;
use wgconv::kernels::Target;
use wgconv::kernels::algorithm::{self, ConvAlgorithm};
use wgconv::kernels::conv::{self, ConvTiling};
use wgconv::ops::{Activation, ConvSpec};
use wgconv::problem::ConvProblem;

use crate::common::gpu;
use crate::conv::{ConvCheck, conv_problem};

const fn tiling(wg_m: u32, wg_n: u32, tk: u32, rm: u32, rn: u32) -> ConvTiling {
    ConvTiling {
        wg_m,
        wg_n,
        tk,
        rm,
        rn,
    }
}

/// Every tiling shape the tests run: the host's 4x4-block tiles (and short K-chunks), the
/// 128x128 (8x8), 128x64 (8x4) and 64x128 (4x8) tiles with K-chunks of 16 and 32, and 8-wide
/// blocks on smaller workgroups (64x64 of 64 invocations, 128x32 of 128).
pub const TILINGS: [ConvTiling; 15] = [
    tiling(4, 4, 16, 4, 4),
    tiling(4, 32, 16, 4, 4),
    tiling(8, 8, 16, 4, 4),
    tiling(8, 32, 16, 4, 4),
    tiling(16, 16, 16, 4, 4),
    tiling(16, 16, 4, 4, 4),
    tiling(16, 4, 8, 4, 4),
    tiling(16, 16, 16, 8, 8),
    tiling(16, 16, 32, 8, 8),
    tiling(16, 16, 16, 8, 4),
    tiling(16, 16, 32, 8, 4),
    tiling(16, 16, 16, 4, 8),
    tiling(16, 16, 32, 4, 8),
    tiling(8, 8, 16, 8, 8),
    tiling(16, 8, 16, 8, 4),
];

/// Every tiling on a problem ragged in all three GEMM dimensions: M = 70, N = 2*9*11 = 198,
/// K = 20*9 = 180 are multiples of no tile.
#[test]
fn every_tiling_on_ragged_gemm() {
    let p = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[2, 20, 9, 11], 70)
        .act(Activation::Relu)
        .residual(true);
    for t in TILINGS {
        p.check_tiling(t);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    /// Random convolutions (ranks 1-3, groups, stride, padding, dilation, batch) through a
    /// random tiling of [`TILINGS`].
    #[test]
    fn random_convs_every_tiling(p in conv_problem(), t in 0..TILINGS.len()) {
        p.check_tiling(TILINGS[t]);
    }
}

/// The (ALIGNED, IN_RANGE) flags the host sets for `p` under `t`.
fn flags(p: &ConvProblem, t: ConvTiling) -> (bool, bool) {
    let g = gpu();
    let bufs = p.upload(g, &p.data().unwrap()).unwrap();
    let out = g.zeros(&p.output_shape().unwrap()).unwrap();
    let launch = conv::conv_tiled(
        g.target(),
        &p.spec,
        &p.input_shape,
        &p.weight_shape(),
        p.epilogue(),
        bufs.bindings(out.binding()),
        Some(t),
    )
    .unwrap();
    let flag = |name| launch.constants.contains(&(name, 1.0));
    (flag("ALIGNED"), flag("IN_RANGE"))
}

/// The bounds-check-free variants are chosen exactly where the shader header's proofs hold
/// (whole tiles and chunks; every gather inside the input) and are right there; one element
/// past a tile, or a window reaching the padding, keeps the checks.
#[test]
fn aligned_and_in_range_variants_at_the_edge() {
    let big = ConvTiling::big(8, 8, 16);
    let wide = ConvTiling::big(4, 8, 32);
    let conv1d = |k: usize| ConvSpec::new(&[k]);
    // (problem, tiling, ALIGNED, IN_RANGE)
    let cases = [
        // M = 128, N = 2*8*8 = 128, K = 16*9 = 144: exactly at the 128x128 tile, 9 chunks.
        (
            ConvProblem::new(ConvSpec::conv2d(3, 3), &[2, 16, 10, 10], 128),
            big,
            true,
            true,
        ),
        // One output channel past the tile.
        (
            ConvProblem::new(ConvSpec::conv2d(3, 3), &[2, 16, 10, 10], 129),
            big,
            false,
            true,
        ),
        // N = 128 in 1-D, then one pixel past.
        (
            ConvProblem::new(conv1d(3), &[1, 16, 130], 128),
            big,
            true,
            true,
        ),
        (
            ConvProblem::new(conv1d(3), &[1, 16, 131], 128),
            big,
            false,
            true,
        ),
        // K = 32 (one chunk of 32), then K = 33.
        (
            ConvProblem::new(conv1d(1), &[2, 32, 64], 64),
            wide,
            true,
            true,
        ),
        (
            ConvProblem::new(conv1d(1), &[2, 33, 64], 64),
            wide,
            false,
            true,
        ),
        // Padding on an aligned GEMM: the gather keeps its coordinate checks.
        (
            ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[2, 16, 8, 8], 128),
            big,
            true,
            false,
        ),
        // Padding only at the end: the last window reaches one past the input.
        (
            ConvProblem::new(conv1d(3).pads(&[0], &[1]), &[1, 16, 129], 128),
            big,
            true,
            false,
        ),
        // Stride beyond the kernel and dilation, windows inside the input.
        (
            ConvProblem::new(conv1d(2).stride(3), &[2, 5, 10], 7),
            big,
            false,
            true,
        ),
        (
            ConvProblem::new(ConvSpec::new(&[3, 3, 3]).dilation(2), &[1, 3, 6, 7, 9], 4),
            big,
            false,
            true,
        ),
    ];
    for (p, t, aligned, in_range) in cases {
        let p = p.bias(true).act(Activation::Relu);
        assert_eq!(flags(&p, t), (aligned, in_range), "{t:?} {p:?}");
        p.check_tiling(t);
    }
}

/// Big tiles where the layer still fills a GPU that wants `TARGET_WORKGROUPS` in flight,
/// 64x64 where it would not: the ResNet stem (7x7 stride 2, 3 -> 64) at batch 32 has
/// N = 32*112*112 pixels but M = 64 channels, so 64x128; at batch 1 it makes 98 such tiles.
#[test]
fn heuristic_takes_big_tiles_only_where_they_fill_the_gpu() {
    let stem = ConvSpec::conv2d(7, 7).stride(2).pad(3);
    let at = |batch: usize, c: usize, o: usize| {
        algorithm::heuristic(&stem, &[batch, c, 224, 224], &[o, c, 7, 7])
    };
    assert_eq!(
        at(32, 3, 64),
        ConvAlgorithm::Implicit(ConvTiling::big(4, 8, 16))
    );
    assert_eq!(
        at(32, 3, 128),
        ConvAlgorithm::Implicit(ConvTiling::big(8, 8, 16))
    );
    assert_eq!(at(1, 3, 64), ConvAlgorithm::Implicit(ConvTiling::default()));
    // 256 channels over 16*28*28 pixels: 196 128x128 tiles are too few, 392 128x64 enough.
    let s8 = ConvSpec::conv2d(3, 3).stride(8).pad(1);
    assert_eq!(
        algorithm::heuristic(&s8, &[16, 8, 224, 224], &[256, 8, 3, 3]),
        ConvAlgorithm::Implicit(ConvTiling::big(8, 4, 16))
    );
    // A GPU wanting 608 in flight (MI300X) keeps 64x64 tiles there: 784 of them.
    assert_eq!(
        algorithm::heuristic_for(
            &Target::new(wgpu::Limits::default()).with_workgroups(608),
            &s8,
            &[16, 8, 224, 224],
            &[256, 8, 3, 3]
        ),
        ConvAlgorithm::Implicit(ConvTiling::default())
    );
}

/// The tuner's candidates hold the big tiles, K-chunks of 32 only where the device's workgroup
/// memory takes them (128x128 x 32: 32 KiB, above WebGPU's default 16 KiB, within an H100's).
#[test]
fn candidates_include_big_tiles_within_limits() {
    let spec = ConvSpec::conv2d(3, 3).stride(2).pad(1);
    let (input, weight) = ([8, 64, 112, 112], [256, 64, 3, 3]);
    let implicit = |limits: &wgpu::Limits| -> Vec<ConvTiling> {
        algorithm::candidates(&spec, &input, &weight, limits)
            .into_iter()
            .filter_map(|a| match a {
                ConvAlgorithm::Implicit(t) => Some(t),
                _ => None,
            })
            .collect()
    };
    let webgpu = implicit(&wgpu::Limits::default());
    assert!(webgpu.contains(&ConvTiling::big(8, 8, 16)), "{webgpu:?}");
    assert!(!webgpu.contains(&ConvTiling::big(8, 8, 32)), "{webgpu:?}");
    let h100 = wgpu::Limits {
        max_compute_workgroup_storage_size: 48 << 10,
        ..wgpu::Limits::default()
    };
    let big = implicit(&h100);
    for (rm, rn) in [(8, 8), (8, 4), (4, 8)] {
        for tk in [16, 32] {
            assert!(big.contains(&ConvTiling::big(rm, rn, tk)), "{big:?}");
        }
    }
}
