//! ONNX import against PyTorch: fixtures exported by tests/fixtures/generate.py (the seeds'
//! blocks and small torchvision networks with random weights), plus malformed and unsupported
//! models.

use std::path::{Path, PathBuf};

use prost::Message;
use wgconv::compare::{Tolerance, compare};
use wgconv::graph::{Graph, Op};
use wgconv::onnx::proto::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto, ValueInfoProto,
    tensor_shape_proto, type_proto,
};
use wgconv::onnx::{ImportOptions, import_bytes, import_path};
use wgconv::ops::Activation;
use wgconv::session::Session;
use wgconv::tensor::Tensor;

use crate::common::gpu;

fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/fixtures/onnx exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.onnx").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "fixtures missing: {dirs:?}");
    dirs
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
    ModelProto {
        ir_version: Some(3),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
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
