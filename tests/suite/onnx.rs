//! ONNX import against PyTorch: fixtures exported by tests/fixtures/generate.py (the seeds'
//! blocks and small torchvision networks with random weights), plus malformed and unsupported
//! models.

use std::path::{Path, PathBuf};

use prost::Message;
use wgconv::compare::{Tolerance, compare};
use wgconv::graph::{Graph, Op};
use wgconv::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto,
    ValueInfoProto, tensor_shape_proto, type_proto,
};
use wgconv::onnx::{ImportOptions, import_bytes, import_path};
use wgconv::ops::{Activation, CoordinateMode, NearestMode, ResizeMode, ResizeSpec};
use wgconv::session::Session;
use wgconv::tensor::Tensor;

use crate::common::gpu;

/// Every fixture generate.py writes. Named, so a renamed or lost folder fails the tests that
/// loop over them instead of shrinking them.
pub const FIXTURES: &[&str] = &[
    "cifar10_s9",
    "conv3d_seed",
    "fire",
    "gelu_erf_opset17",
    "gelu_opset20",
    "inception",
    "mbconv_se_silu",
    "mnasnet0_5",
    "mobilenet_v2_w05",
    "ops_patterns",
    "pad_constant",
    "ppocr_cls_pretrained",
    "residual_block",
    "resize_interpolate",
    "shufflenet_v2_x0_5",
    "squeezenet1_1",
];

/// The fixture folders, exactly [`FIXTURES`]: each must have its model, input and output, and
/// a folder on disk that is not listed fails too (it would otherwise never be checked).
pub fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx");
    let mut on_disk: Vec<String> = std::fs::read_dir(&root)
        .expect("tests/fixtures/onnx exists")
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk, FIXTURES,
        "tests/fixtures/onnx differs from FIXTURES"
    );
    FIXTURES
        .iter()
        .map(|name| {
            let dir = root.join(name);
            for f in ["model.onnx", "input.npy", "output.npy"] {
                assert!(dir.join(f).is_file(), "{}: {f} missing", dir.display());
            }
            dir
        })
        .collect()
}

fn load(dir: &Path) -> (Graph, Tensor, Tensor) {
    let path = dir.join("model.onnx");
    let x = wgconv::npy::read(&dir.join("input.npy")).unwrap();
    let y = wgconv::npy::read(&dir.join("output.npy")).unwrap();
    // Models with dynamic dimensions get the fixture input's shape.
    let proto = ModelProto::decode(&std::fs::read(&path).unwrap()[..]).unwrap();
    let mut opts = ImportOptions::default();
    let input = proto.graph.unwrap().input[0].name().to_string();
    opts.input_shapes.insert(input, x.shape().to_vec());
    let g = import_path(&path, &opts).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    (g, x, y)
}

/// PyTorch and wgconv sum in different orders (and PyTorch may use Winograd or im2col with
/// blocked GEMMs), so each layer differs by about K * eps relative to its activations
/// (K <= 1152 here: <= 1.4e-4) and the differences add over the <= 20 layers on the longest path.
/// The bound is therefore relative to the output's scale: 2e-4 * max|y| + 1e-3 * |y|.
fn network_tolerance(y: &Tensor) -> Tolerance {
    let scale = y.data().iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    Tolerance {
        atol: 2e-4 * scale.max(1e-3),
        rtol: 1e-3,
    }
}

fn check(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let c = compare(got.data(), want.data(), network_tolerance(want));
    assert!(c.passed(), "{what}: {c}");
}

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

fn attr_s(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        s: Some(v.as_bytes().to_vec()),
        r#type: Some(3),
        ..Default::default()
    }
}

fn scalar(name: &str, v: f32) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        data_type: Some(1),
        float_data: vec![v],
        ..Default::default()
    }
}

fn floats(name: &str, v: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: vec![v.len() as i64],
        data_type: Some(1),
        float_data: v.to_vec(),
        ..Default::default()
    }
}

fn run_model(bytes: &[u8], x: &Tensor) -> (Graph, Tensor) {
    let g = import_bytes(bytes, &ImportOptions::default()).unwrap();
    let cpu = wgconv::graph::cpu::run(&g, std::slice::from_ref(x)).unwrap();
    let got = Session::new(gpu(), &g)
        .unwrap()
        .run(std::slice::from_ref(x))
        .unwrap();
    check("device vs cpu", &got[0], &cpu[0]);
    (g, cpu.into_iter().next().unwrap())
}

/// Upsample (opset 9: scales as an input; opset 7: as an attribute) is a resize with
/// asymmetric coordinates: nearest x(2, 3) repeats every element into a 2x3 block, linear x2
/// samples x / 2 (clamped at the end).
#[test]
fn upsample_opset_7_and_9() {
    let x = Tensor::random(vec![2, 3, 3, 4], 5);
    let nearest = model_at(
        9,
        vec![NodeProto {
            attribute: vec![attr_s("mode", "nearest")],
            ..node("Upsample", "up", &["x", "s"], &["y"])
        }],
        vec![value_info("x", &[2, 3, 3, 4])],
        vec![floats("s", &[1.0, 1.0, 2.0, 3.0])],
        "y",
    );
    let (_, y) = run_model(&nearest, &x);
    assert_eq!(y.shape(), &[2, 3, 6, 12]);
    for (i, v) in y.data().iter().enumerate() {
        let (col, row, plane) = (i % 12, (i / 12) % 6, i / 72);
        assert_eq!(*v, x.data()[plane * 12 + (row / 2) * 4 + col / 3], "at {i}");
    }
    let linear = model_at(
        7,
        vec![NodeProto {
            attribute: vec![
                attr_s("mode", "linear"),
                AttributeProto {
                    name: Some("scales".into()),
                    floats: vec![1.0, 1.0, 2.0, 2.0],
                    r#type: Some(6),
                    ..Default::default()
                },
            ],
            ..node("Upsample", "up", &["x"], &["y"])
        }],
        vec![value_info("x", &[2, 3, 3, 4])],
        vec![],
        "y",
    );
    let (g, y) = run_model(&linear, &x);
    let Op::Resize(spec) = &g.nodes()[0].op else {
        panic!("{:?}", g.nodes()[0].op)
    };
    assert_eq!(spec.coordinate, CoordinateMode::Asymmetric);
    // Row 3 of the output samples input row 1.5, column 7 input column 3.5 -> 3 (clamped).
    let at = |t: &Tensor, w: usize, r: usize, c: usize| t.data()[r * w + c];
    let want = 0.5 * (at(&x, 4, 1, 3) + at(&x, 4, 2, 3));
    assert!((at(&y, 8, 3, 7) - want).abs() < 1e-6);
}

/// Resize-13 with sizes (and an empty roi / scales), nearest round_prefer_ceil; and
/// mode=cubic listed as unsupported.
#[test]
fn resize_sizes_input_and_cubic_refusal() {
    let sizes = TensorProto {
        name: Some("sz".into()),
        dims: vec![4],
        data_type: Some(7),
        int64_data: vec![1, 2, 7, 3],
        ..Default::default()
    };
    let bytes = |mode: &str| {
        model(
            vec![NodeProto {
                attribute: vec![
                    attr_s("mode", mode),
                    attr_s("nearest_mode", "round_prefer_ceil"),
                    attr_s("coordinate_transformation_mode", "align_corners"),
                ],
                ..node("Resize", "rs", &["x", "", "", "sz"], &["y"])
            }],
            vec![value_info("x", &[1, 2, 4, 5])],
            vec![sizes.clone()],
            "y",
        )
    };
    let x = Tensor::random(vec![1, 2, 4, 5], 6);
    let (g, y) = run_model(&bytes("nearest"), &x);
    assert_eq!(y.shape(), &[1, 2, 7, 3]);
    let want = wgconv::reference::resize::resize(
        &ResizeSpec::new(ResizeMode::Nearest, [7, 3])
            .coordinate(CoordinateMode::AlignCorners)
            .nearest_mode(NearestMode::RoundPreferCeil),
        &x,
    )
    .unwrap();
    assert_eq!(y, want);
    assert!(matches!(g.nodes()[0].op, Op::Resize(_)));
    let err = import_bytes(&bytes("cubic"), &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"rs\" (Resize)") && err.contains("cubic"),
        "{err}"
    );
}

/// GELU written by hand in other groupings: (x * 0.5) * (1 + erf(x * 0.70710678)) and
/// x * ((erf(x / 1.41421) + 1) * 0.5) both import as one GELU; an Erf outside the pattern
/// is an error naming it.
#[test]
// The truncated constants are the point: hand-written models round sqrt(2) like this.
#[allow(clippy::approx_constant)]
fn gelu_groupings_and_standalone_erf() {
    let x = Tensor::random_range(vec![2, 3, 4, 4], 7, -4.0, 4.0);
    let want = wgconv::reference::eltwise::unary(Activation::Gelu, &x);
    let half_first = model(
        vec![
            node("Mul", "h", &["x", "half"], &["xh"]),
            node("Mul", "s", &["x", "isqrt2"], &["xs"]),
            node("Erf", "e", &["xs"], &["e"]),
            node("Add", "a", &["one", "e"], &["a"]),
            node("Mul", "y", &["xh", "a"], &["y"]),
        ],
        vec![value_info("x", &[2, 3, 4, 4])],
        vec![
            scalar("half", 0.5),
            scalar("isqrt2", 0.70710678),
            scalar("one", 1.0),
        ],
        "y",
    );
    let half_last = model(
        vec![
            node("Div", "d", &["x", "sqrt2"], &["xs"]),
            node("Erf", "e", &["xs"], &["e"]),
            node("Add", "a", &["e", "one"], &["a"]),
            node("Mul", "m", &["a", "half"], &["m"]),
            node("Mul", "y", &["m", "x"], &["y"]),
        ],
        vec![value_info("x", &[2, 3, 4, 4])],
        vec![
            scalar("half", 0.5),
            scalar("sqrt2", 1.41421),
            scalar("one", 1.0),
        ],
        "y",
    );
    for (what, bytes) in [("half first", half_first), ("half last", half_last)] {
        let (g, y) = run_model(&bytes, &x);
        let out = g.node(g.value(g.outputs()[0]).producer.unwrap());
        assert!(
            matches!(out.op, Op::Activation(Activation::Gelu)),
            "{what}: {:?}",
            out.op
        );
        check(what, &y, &want);
    }
    // erf(x) alone, and erf(x / sqrt(2)) + 1 fed to a Relu.
    let alone = model(
        vec![node("Erf", "lonely_erf", &["x"], &["y"])],
        vec![value_info("x", &[1, 4])],
        vec![],
        "y",
    );
    let err = import_bytes(&alone, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"lonely_erf\" (Erf)"), "{err}");
    let broken = model(
        vec![
            node("Div", "d", &["x", "sqrt2"], &["xs"]),
            node("Erf", "e", &["xs"], &["e"]),
            node("Add", "a", &["e", "one"], &["a"]),
            node("Relu", "r", &["a"], &["y"]),
        ],
        vec![value_info("x", &[1, 4])],
        vec![
            scalar("sqrt2", std::f32::consts::SQRT_2),
            scalar("one", 1.0),
        ],
        "y",
    );
    let err = import_bytes(&broken, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"r\" (Relu)") && err.contains("\"e\" (Erf)"),
        "{err}"
    );
}

/// Pad forms the importer lowers without a conv: opset-18 axes, negative pads (a crop), and a
/// zero pad that is the graph output.
#[test]
fn pad_axes_negative_pads_and_output() {
    let ints = |name: &str, v: &[i64]| TensorProto {
        name: Some(name.into()),
        dims: vec![v.len() as i64],
        data_type: Some(7),
        int64_data: v.to_vec(),
        ..Default::default()
    };
    let x = Tensor::random(vec![1, 2, 4, 5], 8);
    // axes [3, 1]: W padded by (1, -2), C by (0, 1), value 2.
    let bytes = model_at(
        18,
        vec![node("Pad", "p", &["x", "pads", "v", "axes"], &["y"])],
        vec![value_info("x", &[1, 2, 4, 5])],
        vec![
            ints("pads", &[1, 0, -2, 1]),
            scalar("v", 2.0),
            ints("axes", &[3, 1]),
        ],
        "y",
    );
    let (_, y) = run_model(&bytes, &x);
    let crop =
        wgconv::reference::rearrange::slice(&x, &[0, 0, 0, 0], &[1, 2, 4, 3], &[1; 4]).unwrap();
    let want = wgconv::reference::pad::pad(&crop, &[0, 0, 0, 1], &[0, 1, 0, 0], 2.0).unwrap();
    assert_eq!(y, want);
    // Zero spatial padding as the output (deferred for a conv that never comes).
    let bytes = model(
        vec![node("Pad", "p", &["x", "pads"], &["y"])],
        vec![value_info("x", &[1, 2, 4, 5])],
        vec![ints("pads", &[0, 0, 1, 2, 0, 0, 3, 0])],
        "y",
    );
    let (_, y) = run_model(&bytes, &x);
    assert_eq!(
        y,
        wgconv::reference::pad::pad(&x, &[0, 0, 1, 2], &[0, 0, 3, 0], 0.0).unwrap()
    );
}

fn value_info(name: &str, shape: &[i64]) -> ValueInfoProto {
    let dims = shape
        .iter()
        .map(|&d| tensor_shape_proto::Dimension {
            value: Some(if d > 0 {
                tensor_shape_proto::dimension::Value::DimValue(d)
            } else {
                tensor_shape_proto::dimension::Value::DimParam("N".into())
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(1),
                shape: Some(wgconv::onnx::proto::TensorShapeProto { dim: dims }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn model(
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    init: Vec<TensorProto>,
    output: &str,
) -> Vec<u8> {
    model_at(13, nodes, inputs, init, output)
}

fn model_at(
    opset: i64,
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    init: Vec<TensorProto>,
    output: &str,
) -> Vec<u8> {
    ModelProto {
        ir_version: Some(3),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        graph: Some(GraphProto {
            node: nodes,
            input: inputs,
            initializer: init,
            output: vec![value_info(output, &[])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn weight(name: &str, shape: &[i64], seed: u64) -> TensorProto {
    let n: i64 = shape.iter().product();
    TensorProto {
        name: Some(name.into()),
        dims: shape.to_vec(),
        data_type: Some(1),
        float_data: Tensor::random(vec![n as usize], seed).into_data(),
        ..Default::default()
    }
}

#[test]
fn every_unsupported_node_is_listed_at_once() {
    let bytes = model(
        vec![
            node("LSTM", "rnn", &["x"], &["a"]),
            node("Relu", "ok", &["a"], &["b"]),
            node("NonMaxSuppression", "nms", &["b"], &["c"]),
            node("Conv", "custom", &["c"], &["y"]),
        ],
        vec![value_info("x", &[1, 3, 4, 4])],
        vec![],
        "y",
    );
    let mut m = ModelProto::decode(&bytes[..]).unwrap();
    m.graph.as_mut().unwrap().node[3].domain = Some("com.example".into());
    let err = import_bytes(&m.encode_to_vec(), &ImportOptions::default())
        .unwrap_err()
        .to_string();
    for want in [
        "\"rnn\" (LSTM)",
        "\"nms\" (NonMaxSuppression)",
        "\"custom\" (Conv)",
        "com.example",
        "3 unsupported",
    ] {
        assert!(err.contains(want), "{want:?} not in: {err}");
    }
    assert!(!err.contains("\"ok\""), "{err}");
}

#[test]
fn malformed_models_are_errors() {
    let good = model(
        vec![node("Relu", "r", &["x"], &["y"])],
        vec![value_info("x", &[1, 2])],
        vec![],
        "y",
    );
    assert!(import_bytes(&good, &ImportOptions::default()).is_ok());
    for cut in [1, good.len() / 2, good.len() - 1] {
        assert!(
            import_bytes(&good[..cut], &ImportOptions::default()).is_err(),
            "truncated at {cut}"
        );
    }
    assert!(import_bytes(b"\xff\xff\xff garbage", &ImportOptions::default()).is_err());
    // An undefined input, a dynamic dimension without a given shape, a weight of the wrong size.
    let undefined = model(
        vec![node("Relu", "r", &["nope"], &["y"])],
        vec![value_info("x", &[1, 2])],
        vec![],
        "y",
    );
    assert!(
        import_bytes(&undefined, &ImportOptions::default())
            .unwrap_err()
            .to_string()
            .contains("nope")
    );
    let dynamic = model(
        vec![node("Relu", "r", &["x"], &["y"])],
        vec![value_info("x", &[0, 2])],
        vec![],
        "y",
    );
    assert!(
        import_bytes(&dynamic, &ImportOptions::default())
            .unwrap_err()
            .to_string()
            .contains("dynamic")
    );
    let mut bad_w = weight("w", &[4, 3, 3, 3], 1);
    bad_w.float_data.pop();
    let short = model(
        vec![node("Conv", "c", &["x", "w"], &["y"])],
        vec![value_info("x", &[1, 3, 5, 5])],
        vec![bad_w],
        "y",
    );
    assert!(
        import_bytes(&short, &ImportOptions::default())
            .unwrap_err()
            .to_string()
            .contains("\"w\"")
    );
}

/// Dynamic dimensions are fixed at import from the given shapes; initializers listed as inputs
/// (IR 3) are weights, and weights passed as graph inputs can be given as constants.
#[test]
fn dynamic_inputs_and_weights_as_inputs() {
    let bytes = model(
        vec![node("Conv", "c", &["x", "w", "b"], &["y"])],
        vec![
            value_info("x", &[0, 3, 5, 5]),
            value_info("w", &[4, 3, 3, 3]),
            value_info("b", &[4]),
        ],
        vec![weight("b", &[4], 2)],
        "y",
    );
    let w = Tensor::random(vec![4, 3, 3, 3], 1);
    let mut opts = ImportOptions::default();
    opts.input_shapes.insert("x".into(), vec![2, 3, 5, 5]);
    assert!(
        import_bytes(&bytes, &opts)
            .unwrap_err()
            .to_string()
            .contains("constant"),
        "weight input without a value"
    );
    opts.constants.insert("w".into(), w.clone());
    let g = import_bytes(&bytes, &opts).unwrap();
    assert_eq!(g.inputs().len(), 1);
    assert_eq!(g.shape(g.outputs()[0]), &[2, 4, 3, 3]);
    let x = Tensor::random(vec![2, 3, 5, 5], 3);
    let got = Session::new(gpu(), &g)
        .unwrap()
        .run(std::slice::from_ref(&x))
        .unwrap();
    let b = Tensor::new(vec![4], Tensor::random(vec![4], 2).into_data()).unwrap();
    let want =
        wgconv::reference::conv::conv(&wgconv::ops::ConvSpec::conv2d(3, 3), &x, &w, Some(&b))
            .unwrap();
    check("conv with weight input", &got[0], &want);
    let _ = Activation::Relu;
}

/// A Pad in front of a Conv with `auto_pad` SAME: the SAME padding is that of the padded
/// input (the graph pass adds the two afterwards), not of the unpadded one.
#[test]
fn pad_before_a_same_padded_conv() {
    let pads = TensorProto {
        name: Some("pads".into()),
        dims: vec![8],
        data_type: Some(7),
        int64_data: vec![0, 0, 0, 0, 0, 0, 1, 1],
        ..Default::default()
    };
    let mut conv = node("Conv", "c", &["p", "w"], &["y"]);
    conv.attribute = vec![
        attr_s("auto_pad", "SAME_UPPER"),
        AttributeProto {
            name: Some("strides".into()),
            ints: vec![2, 2],
            r#type: Some(7),
            ..Default::default()
        },
    ];
    let bytes = model(
        vec![node("Pad", "p", &["x", "pads"], &["p"]), conv],
        vec![value_info("x", &[1, 2, 7, 7])],
        vec![pads, weight("w", &[3, 2, 3, 3], 4)],
        "y",
    );
    let x = Tensor::random(vec![1, 2, 7, 7], 9);
    let (g, y) = run_model(&bytes, &x);
    assert_eq!(g.nodes().len(), 1, "{}", g.describe());
    // On the padded 8 x 8, SAME with stride 2 pads (0, 1): (0, 2) in all.
    let padded = wgconv::reference::pad::pad(&x, &[0; 4], &[0, 0, 1, 1], 0.0).unwrap();
    let spec = wgconv::ops::ConvSpec::conv2d(3, 3)
        .strides(&[2, 2])
        .pads(&[0, 0], &[1, 1]);
    let w = Tensor::new(vec![3, 2, 3, 3], Tensor::random(vec![54], 4).into_data()).unwrap();
    let want = wgconv::reference::conv::conv(&spec, &padded, &w, None).unwrap();
    check("pad + SAME conv", &y, &want);
}
