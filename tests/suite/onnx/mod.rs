//! ONNX import against PyTorch: fixtures exported by tests/fixtures/generate.py (the seeds'
//! blocks and small torchvision networks with random weights), plus malformed and unsupported
//! models.

mod batch_norm_training;
mod constants;
mod dynamic;
mod fixtures;
mod import_checks;
mod indexing;
mod math;
mod norm;
mod ops;
mod opsets;
mod pool;
mod reduce;
mod runtime_params;
mod uint8_input;

use std::path::{Path, PathBuf};

use prost::Message;
use wgconv::compare::{Tolerance, compare};
use wgconv::graph::Graph;
use wgconv::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto,
    ValueInfoProto, tensor_shape_proto, type_proto,
};
use wgconv::onnx::{ImportOptions, import_bytes, import_path};
use wgconv::session::Session;
use wgconv::tensor::Tensor;

use crate::common::gpu;

/// Every fixture generate.py writes. Named, so a renamed or lost folder fails the tests that
/// loop over them instead of shrinking them.
pub const FIXTURES: &[&str] = &[
    "cifar10_s9",
    "cifar10_s9_log_softmax_b1",
    "cifar10_s9_log_softmax_b2",
    "conv3d_seed",
    "convnext_w16",
    "fire",
    "gelu_erf_opset17",
    "gelu_opset20",
    "inception",
    "lraspp_mobilenet_v3_large",
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
    "video_resnet_r3d_w16",
    "yolov8n_160",
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

pub fn load(dir: &Path) -> (Graph, Tensor, Tensor) {
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

fn attr_s(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        s: Some(v.as_bytes().to_vec()),
        r#type: Some(3),
        ..Default::default()
    }
}

fn attr_i(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        i: Some(v),
        r#type: Some(2),
        ..Default::default()
    }
}

fn attr_f(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        f: Some(v),
        r#type: Some(1),
        ..Default::default()
    }
}

fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        ints: v.to_vec(),
        r#type: Some(7),
        ..Default::default()
    }
}

/// A 1-D int64 initializer (axes, pads, shapes).
fn int64s(name: &str, v: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: vec![v.len() as i64],
        data_type: Some(7),
        int64_data: v.to_vec(),
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
