//! The fixtures exported from PyTorch by tests/fixtures/generate.py, on the CPU reference and
//! on the device, and the fused ops their exporter patterns lower to.

use std::path::Path;

use wgconv::graph::Op;
use wgconv::ops::SoftmaxKind;
use wgconv::session::Session;

use super::{check, fixture_dirs, load};
use crate::common::gpu;

#[test]
fn fixtures_match_pytorch_on_the_cpu_reference() {
    for dir in fixture_dirs() {
        let (g, x, y) = load(&dir);
        let out = wgconv::graph::cpu::run(&g, &[x]).unwrap();
        check(&format!("{} (cpu)", dir.display()), &out[0], &y);
    }
}

#[test]
fn fixtures_match_pytorch_on_the_gpu() {
    for dir in fixture_dirs() {
        let (g, x, y) = load(&dir);
        let session = Session::new(gpu(), &g).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let out = session.run(&[x]).unwrap();
        check(&format!("{} (gpu)", dir.display()), &out[0], &y);
    }
}

fn ops_of(dir: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(dir);
    let (g, _, _) = load(&root);
    g.nodes()
        .iter()
        .map(|n| {
            format!("{:?}", n.op)
                .split([' ', '(', '{'])
                .next()
                .unwrap()
                .to_string()
                + &match &n.op {
                    Op::Activation(a) => format!(":{}", a.name()),
                    _ => String::new(),
                }
        })
        .collect()
}

/// The exporters' decompositions come back as the dedicated kernels.
#[test]
fn exporter_patterns_are_lowered_to_fused_ops() {
    let ops = ops_of("ops_patterns");
    for want in [
        "Activation:hard_swish",
        "Activation:relu6",
        "ChannelShuffle",
        "SpaceToDepth",
    ] {
        assert!(ops.iter().any(|o| o == want), "{want} not in {ops:?}");
    }
    // F.pad in front of a conv becomes the conv's padding: no Pad survives.
    assert!(!ops.iter().any(|o| o.contains("Pad")), "{ops:?}");
    let mb = ops_of("mbconv_se_silu");
    assert!(
        mb.iter().any(|o| o == "Activation:silu"),
        "x*sigmoid(x) not fused: {mb:?}"
    );
    let sh = ops_of("shufflenet_v2_x0_5");
    assert!(sh.iter().any(|o| o == "ChannelShuffle"), "{sh:?}");
}

/// nn.GELU at opset 17 (x * 0.5 * (1 + erf(x / sqrt(2)))) becomes the GELU kernel;
/// F.interpolate becomes Resize nodes; F.pad that no conv absorbs becomes Pad nodes.
#[test]
fn erf_gelu_resize_and_pad_fixtures_lower_to_their_ops() {
    let count = |ops: &[String], want: &str| ops.iter().filter(|o| *o == want).count();
    let gelu = ops_of("gelu_erf_opset17");
    assert_eq!(count(&gelu, "Activation:gelu"), 2, "{gelu:?}");
    assert!(!gelu.iter().any(|o| o.contains("Erf")), "{gelu:?}");
    let resize = ops_of("resize_interpolate");
    assert_eq!(count(&resize, "Resize"), 6, "{resize:?}");
    // Value 0.5, zero before a max pool, channels, and zero spatial padding as the output.
    let pad = ops_of("pad_constant");
    assert_eq!(count(&pad, "Pad"), 4, "{pad:?}");
}

/// The whole networks keep their heads: seed 003's log_softmax (batch 1 and 2), and LR-ASPP's
/// two bilinear upsamplings and MobileNetV3's hard-swish and hard-sigmoid.
#[test]
fn whole_network_fixtures_keep_their_heads() {
    for dir in ["cifar10_s9_log_softmax_b1", "cifar10_s9_log_softmax_b2"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/onnx")
            .join(dir);
        let (g, _, _) = load(&root);
        let head = &g.nodes().last().unwrap().op;
        assert!(
            matches!(
                head,
                Op::Softmax {
                    axis: 1,
                    kind: SoftmaxKind::LogSoftmax
                }
            ),
            "{dir}: head {head:?}"
        );
    }
    let seg = ops_of("lraspp_mobilenet_v3_large");
    assert_eq!(seg.iter().filter(|o| *o == "Resize").count(), 2, "{seg:?}");
    for want in ["Activation:hard_swish", "Activation:hard_sigmoid"] {
        assert!(seg.iter().any(|o| o == want), "{want} not in {seg:?}");
    }
}
