//! Every block of the seeds on the device (fused and planned as sessions run them) against
//! the CPU reference running the unoptimized graph, at small odd sizes and batch 2.

use wgconv::blocks;
use wgconv::graph::Conv2d;
use wgconv::graph::{Graph, ValueId};
use wgconv::ops::Activation;

use crate::graph::{check_on_device, initialised};

fn check_block(
    what: &str,
    input: &[usize],
    build: impl FnOnce(&mut Graph, ValueId) -> wgconv::Result<ValueId>,
    expect: &[usize],
) {
    let mut g = Graph::new();
    let x = g.input("x", input);
    let y = build(&mut g, x).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(g.shape(y), expect, "{what}: output shape");
    g.output(y);
    let (g, inputs) = initialised(g, 42);
    check_on_device(what, &g, &inputs);
}

#[test]
fn conv_bn_act() {
    check_block(
        "ConvBnAct 3x3",
        &[2, 16, 6, 6],
        |g, x| blocks::conv_bn_act(g, x, "", Conv2d::new(16, 3), Activation::Silu),
        &[2, 16, 4, 4],
    );
}

#[test]
fn residual_blocks() {
    check_block(
        "ResidualBlock 3->64",
        &[2, 3, 9, 9],
        |g, x| blocks::residual_block(g, x, "", 64, 1),
        &[2, 64, 9, 9],
    );
    check_block(
        "ResidualBlock stride 2",
        &[2, 8, 9, 9],
        |g, x| blocks::residual_block(g, x, "", 16, 2),
        &[2, 16, 5, 5],
    );
    check_block(
        "PreActBlock",
        &[2, 3, 9, 9],
        |g, x| blocks::preact_block(g, x, "", 64, 1),
        &[2, 64, 9, 9],
    );
    check_block(
        "Bottleneck 256/64",
        &[1, 256, 6, 6],
        |g, x| blocks::bottleneck(g, x, "", 64, 1),
        &[1, 256, 6, 6],
    );
    check_block(
        "Bottleneck projection stride 2",
        &[2, 16, 7, 7],
        |g, x| blocks::bottleneck(g, x, "", 8, 2),
        &[2, 32, 4, 4],
    );
}

#[test]
fn seed_002_bottleneck_forms() {
    check_block(
        "BottleneckBlock(5, 4)",
        &[2, 5, 4, 4],
        |g, x| blocks::bottleneck_block(g, x, "", 4, 4),
        &[2, 4, 4, 4],
    );
    check_block(
        "LinearBottleneckBlock(4, 4)",
        &[2, 4, 5, 5],
        |g, x| blocks::linear_bottleneck_block(g, x, "", 4, 4),
        &[2, 4, 5, 5],
    );
    check_block(
        "InvertedResidualBlock(4, 5)",
        &[2, 4, 3, 3],
        |g, x| blocks::inverted_residual_block(g, x, "", 5, 4),
        &[2, 5, 3, 3],
    );
}

#[test]
fn separable_convolutions() {
    check_block(
        "DWSConv(32, 64)",
        &[2, 32, 7, 7],
        |g, x| blocks::dws_conv(g, x, "", 64),
        &[2, 64, 7, 7],
    );
    check_block(
        "depthwiseSeparableConv(10, 32)",
        &[2, 10, 12, 12],
        |g, x| blocks::depthwise_separable_conv(g, x, "", 32),
        &[2, 32, 10, 10],
    );
    check_block(
        "spatial separable 3 -> 1 -> 32",
        &[2, 3, 9, 8],
        |g, x| blocks::spatial_separable_conv(g, x, "", 1, 32),
        &[2, 32, 7, 6],
    );
}

#[test]
fn squeeze_excitation_and_mbconv() {
    check_block(
        "SE(24, 8)",
        &[2, 24, 5, 5],
        |g, x| blocks::se(g, x, "", 8),
        &[2, 24, 5, 5],
    );
    check_block(
        "MBConv(8, 8)",
        &[2, 8, 5, 5],
        |g, x| blocks::mb_conv(g, x, "", 8, 4, 4),
        &[2, 8, 5, 5],
    );
    check_block(
        "FusedMBConv(8, 8)",
        &[2, 8, 5, 5],
        |g, x| blocks::fused_mb_conv(g, x, "", 8, 4, 4),
        &[2, 8, 5, 5],
    );
}

#[test]
fn mbconv_without_matching_channels_is_an_error() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 3, 3]);
    let err = blocks::mb_conv(&mut g, x, "m", 6, 4, 4).unwrap_err();
    assert!(err.to_string().contains("shortcut"), "{err}");
}

#[test]
fn inception_variants() {
    // Seed 001's channel plan (192 -> 64/128/32/32 = 256) at a small map.
    check_block(
        "Inception (pre-activation)",
        &[2, 48, 7, 7],
        |g, x| blocks::inception_preact(g, x, "", [16, 32, 8, 8]),
        &[2, 64, 7, 7],
    );
    check_block(
        "InceptionModule",
        &[2, 48, 7, 7],
        |g, x| blocks::inception_module(g, x, "", [16, 32, 8, 8]),
        &[2, 64, 7, 7],
    );
}

#[test]
fn fire_and_shufflenet_units() {
    check_block(
        "Fire (SqueezeExcite) 64 -> 16 -> 2x32",
        &[2, 64, 6, 6],
        |g, x| blocks::fire(g, x, "", 16, 32),
        &[2, 64, 6, 6],
    );
    check_block(
        "ShuffleNet unit stride 1",
        &[2, 24, 6, 6],
        |g, x| blocks::shufflenet_unit(g, x, "", 24, 3, 1),
        &[2, 24, 6, 6],
    );
    check_block(
        "ShuffleNet unit stride 2",
        &[2, 24, 7, 7],
        |g, x| blocks::shufflenet_unit(g, x, "", 48, 3, 2),
        &[2, 48, 4, 4],
    );
}
