//! Every block of the seeds on the device (fused and planned as sessions run them) against
//! the CPU reference running the unoptimized graph, at small odd sizes and batch 2, and
//! against the seeds' own PyTorch modules (outputs recorded by
//! `tests/tools/check_blocks_against_torch.py`, which loads our weights into the seed classes by
//! `state_dict` name, strictly).

use wgconv::blocks;
use wgconv::graph::{Conv2d, Graph, ValueId};
use wgconv::ops::Activation;
use wgconv::session::Session;
use wgconv::tensor::Tensor;
use wgconv::{Result, weights};

use crate::common::gpu;
use crate::graph::{check_on_device, initialised, network_tolerance};

type Build = fn(&mut Graph, ValueId) -> Result<ValueId>;

/// (name, input shape, builder, expected output shape). The names are the PyTorch
/// constructors `tests/tools/check_blocks_against_torch.py` instantiates.
const CASES: &[(&str, [usize; 4], Build, [usize; 4])] = &[
    (
        "ConvBnAct(16, 16)",
        [2, 16, 6, 6],
        |g, x| blocks::conv_bn_act(g, x, "", Conv2d::new(16, 3), Activation::Silu),
        [2, 16, 4, 4],
    ),
    (
        "ResidualBlock(3, 64)",
        [2, 3, 9, 9],
        |g, x| blocks::residual_block(g, x, "", 64, 1),
        [2, 64, 9, 9],
    ),
    (
        "ResidualBlock(8, 16, stride=2)",
        [2, 8, 9, 9],
        |g, x| blocks::residual_block(g, x, "", 16, 2),
        [2, 16, 5, 5],
    ),
    (
        "PreActBlock(3, 64)",
        [2, 3, 9, 9],
        |g, x| blocks::preact_block(g, x, "", 64, 1),
        [2, 64, 9, 9],
    ),
    (
        "Bottleneck(256, 64)",
        [1, 256, 6, 6],
        |g, x| blocks::bottleneck(g, x, "", 64, 1),
        [1, 256, 6, 6],
    ),
    (
        "Bottleneck(16, 8, stride=2)",
        [2, 16, 7, 7],
        |g, x| blocks::bottleneck(g, x, "", 8, 2),
        [2, 32, 4, 4],
    ),
    (
        "BottleneckBlock(5, 4)",
        [2, 5, 4, 4],
        |g, x| blocks::bottleneck_block(g, x, "", 4, 4),
        [2, 4, 4, 4],
    ),
    (
        "LinearBottleneckBlock(4, 4)",
        [2, 4, 5, 5],
        |g, x| blocks::linear_bottleneck_block(g, x, "", 4, 4),
        [2, 4, 5, 5],
    ),
    (
        "InvertedResidualBlock(4, 5)",
        [2, 4, 3, 3],
        |g, x| blocks::inverted_residual_block(g, x, "", 5, 4),
        [2, 5, 3, 3],
    ),
    (
        "DWSConv(32, 64)",
        [2, 32, 7, 7],
        |g, x| blocks::dws_conv(g, x, "", 64),
        [2, 64, 7, 7],
    ),
    (
        "depthwiseSeparableConv(10, 32)",
        [2, 10, 12, 12],
        |g, x| blocks::depthwise_separable_conv(g, x, "", 32),
        [2, 32, 10, 10],
    ),
    (
        "spatial_separable(3, 1, 32)",
        [2, 3, 9, 8],
        |g, x| blocks::spatial_separable_conv(g, x, "", 1, 32),
        [2, 32, 7, 6],
    ),
    (
        "SE(24, 8)",
        [2, 24, 5, 5],
        |g, x| blocks::se(g, x, "", 8),
        [2, 24, 5, 5],
    ),
    (
        "MBConv(8, 8)",
        [2, 8, 5, 5],
        |g, x| blocks::mb_conv(g, x, "", 8, 4, 4),
        [2, 8, 5, 5],
    ),
    (
        "FusedMBConv(8, 8)",
        [2, 8, 5, 5],
        |g, x| blocks::fused_mb_conv(g, x, "", 8, 4, 4),
        [2, 8, 5, 5],
    ),
    (
        "Inception(48, 16, 32, 8, 8)",
        [2, 48, 7, 7],
        |g, x| blocks::inception_preact(g, x, "", [16, 32, 8, 8]),
        [2, 64, 7, 7],
    ),
    (
        "InceptionModule(48, 16, 32, 8, 8)",
        [2, 48, 7, 7],
        |g, x| blocks::inception_module(g, x, "", [16, 32, 8, 8]),
        [2, 64, 7, 7],
    ),
    (
        "SqueezeExcite(64, 16, 32)",
        [2, 64, 6, 6],
        |g, x| blocks::fire(g, x, "", 16, 32),
        [2, 64, 6, 6],
    ),
    (
        "ShuffleUnit(24, 24, groups=3, stride=1)",
        [2, 24, 6, 6],
        |g, x| blocks::shufflenet_unit(g, x, "", 24, 3, 1),
        [2, 24, 6, 6],
    ),
    (
        "ShuffleUnit(24, 48, groups=3, stride=2)",
        [2, 24, 7, 7],
        |g, x| blocks::shufflenet_unit(g, x, "", 48, 3, 2),
        [2, 48, 4, 4],
    ),
];

fn build(name: &str) -> (Graph, Vec<Tensor>) {
    let &(_, input, f, expect) = CASES
        .iter()
        .find(|c| c.0 == name)
        .unwrap_or_else(|| panic!("no case {name}"));
    let mut g = Graph::new();
    let x = g.input("x", &input);
    let y = f(&mut g, x).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(g.shape(y), &expect, "{name}: output shape");
    g.output(y);
    initialised(g, 42)
}

/// The recorded PyTorch output for a case, if any (file name: the constructor's letters and
/// digits).
fn torch_output(name: &str) -> Option<Vec<f32>> {
    let file: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let p = format!(
        "{}/tests/data/torch/blocks/{file}.f32",
        env!("CARGO_MANIFEST_DIR")
    );
    Some(bytemuck::pod_collect_to_vec(&std::fs::read(p).ok()?))
}

fn check(names: &[&str]) {
    for &name in names {
        let (g, inputs) = build(name);
        let (out, _) = check_on_device(name, &g, &inputs);
        if let Some(want) = torch_output(name) {
            let tol = network_tolerance(&g, &inputs);
            let c = wgconv::compare::compare(out[0].data(), &want, tol);
            assert!(c.passed(), "{name} against the seed's PyTorch module: {c}");
        } else {
            // Only the ShuffleNet v1 unit has no module in the seeds.
            assert!(
                name.starts_with("ShuffleUnit"),
                "{name}: no recorded PyTorch output"
            );
        }
    }
}

#[test]
fn conv_bn_act() {
    check(&["ConvBnAct(16, 16)"]);
}

#[test]
fn residual_blocks() {
    check(&[
        "ResidualBlock(3, 64)",
        "ResidualBlock(8, 16, stride=2)",
        "PreActBlock(3, 64)",
        "Bottleneck(256, 64)",
        "Bottleneck(16, 8, stride=2)",
    ]);
}

#[test]
fn seed_002_bottleneck_forms() {
    check(&[
        "BottleneckBlock(5, 4)",
        "LinearBottleneckBlock(4, 4)",
        "InvertedResidualBlock(4, 5)",
    ]);
}

#[test]
fn separable_convolutions() {
    check(&[
        "DWSConv(32, 64)",
        "depthwiseSeparableConv(10, 32)",
        "spatial_separable(3, 1, 32)",
    ]);
}

#[test]
fn squeeze_excitation_and_mbconv() {
    check(&["SE(24, 8)", "MBConv(8, 8)", "FusedMBConv(8, 8)"]);
}

#[test]
fn inception_variants() {
    check(&[
        "Inception(48, 16, 32, 8, 8)",
        "InceptionModule(48, 16, 32, 8, 8)",
    ]);
}

#[test]
fn fire_and_shufflenet_units() {
    check(&[
        "SqueezeExcite(64, 16, 32)",
        "ShuffleUnit(24, 24, groups=3, stride=1)",
        "ShuffleUnit(24, 48, groups=3, stride=2)",
    ]);
}

#[test]
fn mbconv_without_matching_channels_is_an_error() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 3, 3]);
    let err = blocks::mb_conv(&mut g, x, "m", 6, 4, 4).unwrap_err();
    assert!(err.to_string().contains("shortcut"), "{err}");
}

/// Writes every case's weights (PyTorch names), input and CPU output for
/// `tests/tools/check_blocks_against_torch.py`:
/// `WGCONV_EXPORT_DIR=/tmp/blocks cargo test --release --test suite blocks::export -- --ignored`.
#[test]
#[ignore = "writes files for the PyTorch cross-check; needs WGCONV_EXPORT_DIR"]
fn export_for_pytorch() {
    let dir = std::path::PathBuf::from(std::env::var("WGCONV_EXPORT_DIR").expect("set it"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut index = String::new();
    for &(name, ..) in CASES {
        let (g, inputs) = build(name);
        let out = wgconv::graph::cpu::run(&g, &inputs).unwrap();
        let gpu_out = Session::new(gpu(), &g).unwrap().run(&inputs).unwrap();
        let file: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let raw = |t: &Tensor| bytemuck::cast_slice::<f32, u8>(t.data()).to_vec();
        std::fs::write(
            dir.join(format!("{file}.safetensors")),
            weights::to_safetensors(&g).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.join(format!("{file}.input.f32")), raw(&inputs[0])).unwrap();
        std::fs::write(dir.join(format!("{file}.cpu.f32")), raw(&out[0])).unwrap();
        std::fs::write(dir.join(format!("{file}.gpu.f32")), raw(&gpu_out[0])).unwrap();
        let shape = |s: &[usize]| {
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        index += &format!(
            "{name}\t{file}\t{}\t{}\n",
            shape(inputs[0].shape()),
            shape(out[0].shape())
        );
    }
    std::fs::write(dir.join("index.tsv"), index).unwrap();
}
