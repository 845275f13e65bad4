//! Bad ONNX models: corrupt bytes, inconsistent tensor declarations, huge shapes, absurd
//! attributes and bounds; with the small model builders they are written with.

use std::path::Path;

use prost::Message;
use wgconv::Tensor;
use wgconv::graph::cpu;
use wgconv::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto,
    ValueInfoProto, tensor_shape_proto, type_proto,
};
use wgconv::onnx::{ImportOptions, import_bytes};

use super::assert_names;

pub(crate) fn value_info(name: &str, shape: &[i64]) -> ValueInfoProto {
    let dim = shape
        .iter()
        .map(|&d| tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(1),
                shape: Some(wgconv::onnx::proto::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        ints: v.to_vec(),
        r#type: Some(7),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        i: Some(v),
        r#type: Some(2),
        ..Default::default()
    }
}

pub(crate) fn weight(name: &str, shape: &[i64]) -> TensorProto {
    let n: i64 = shape.iter().product();
    TensorProto {
        name: Some(name.into()),
        dims: shape.to_vec(),
        data_type: Some(1),
        float_data: Tensor::random(vec![n as usize], 1).into_data(),
        ..Default::default()
    }
}

fn i64s(name: &str, v: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: vec![v.len() as i64],
        data_type: Some(7),
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

pub(crate) fn model(
    opset: i64,
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    init: Vec<TensorProto>,
    output: &str,
) -> Vec<u8> {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        graph: Some(GraphProto {
            node: nodes,
            input: inputs,
            initializer: init,
            output: vec![ValueInfoProto {
                name: Some(output.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn import_err(bytes: &[u8]) -> String {
    match import_bytes(bytes, &ImportOptions::default()) {
        Ok(g) => panic!("imported, expected an error:\n{}", g.describe()),
        Err(e) => e.to_string(),
    }
}

/// A one-Conv model with the given attributes on a `[1, 3, 5, 5]` input and `[4, 3, 3, 3]`
/// weight.
fn conv_model(attrs: Vec<AttributeProto>) -> Vec<u8> {
    let mut n = node("Conv", "conv_bad", &["x", "w"], &["y"]);
    n.attribute = attrs;
    model(
        13,
        vec![n],
        vec![value_info("x", &[1, 3, 5, 5])],
        vec![weight("w", &[4, 3, 3, 3])],
        "y",
    )
}

// ---------------------------------------------------------------------------------------------
// ONNX: corrupt files and tensors.

/// Every truncation and byte flip of a real exported model is an error or a model; never a
/// panic. (The fixture is small: SqueezeNet's Fire module.)
#[test]
fn corrupt_onnx_bytes_never_panic() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/fire/model.onnx");
    let good = std::fs::read(path).unwrap();
    let check = |bytes: &[u8], what: &str| {
        let r = std::panic::catch_unwind(|| import_bytes(bytes, &ImportOptions::default()));
        match r {
            Err(_) => panic!("{what}: the importer panicked"),
            Ok(Err(e)) => assert!(!e.to_string().is_empty(), "{what}"),
            Ok(Ok(g)) => {
                // Whatever imports must plan and run through the passes.
                wgconv::graph::passes::optimize(&g).unwrap();
            }
        }
    };
    for k in 1..40 {
        let cut = good.len() * k / 40;
        check(&good[..cut], &format!("truncated at {cut}"));
    }
    for k in 0..200 {
        let mut b = good.clone();
        let at = (k * 7919) % b.len();
        b[at] ^= 0xff;
        check(&b, &format!("byte {at} flipped"));
    }
    // Not protobuf at all, and empty.
    assert!(import_bytes(b"", &ImportOptions::default()).is_err());
    let err = import_err(b"\x08\x08\x12\xff\xff\xff\xff\x0f");
    assert!(!err.is_empty());
}

/// Initializers whose dims, data or type do not add up: errors naming the tensor.
#[test]
fn onnx_tensor_declarations_are_checked() {
    let relu = || vec![node("Add", "add", &["x", "t"], &["y"])];
    let with = |t: TensorProto| model(13, relu(), vec![value_info("x", &[1, 4])], vec![t], "y");

    let mut neg = weight("t_neg", &[1, 4]);
    neg.dims = vec![-1, 4];
    assert_names(&import_err(&with(neg)), &["t_neg", "negative"]);

    let mut huge = weight("t_huge", &[1, 4]);
    huge.dims = vec![i64::MAX, i64::MAX];
    assert_names(&import_err(&with(huge)), &["t_huge", "overflows"]);

    let mut short = weight("t_short", &[1, 4]);
    short.float_data.clear();
    short.raw_data = Some(vec![0; 7]); // 1.75 floats
    assert_names(&import_err(&with(short)), &["t_short", "needs 4 elements"]);

    // By their ONNX names; the narrow types of opsets 19-25 too.
    for (dt, name) in [
        (14, "COMPLEX64"),
        (8, "STRING"),
        (0, "UNDEFINED"),
        (17, "FLOAT8E4M3FN"),
        (22, "INT4"),
        (23, "FLOAT4E2M1"),
    ] {
        let mut t = weight("t_type", &[1, 4]);
        t.data_type = Some(dt);
        assert_names(&import_err(&with(t)), &["t_type", name, "not supported"]);
    }
}

/// A graph input declaring a shape no tensor could have, and constant folding asked for a
/// gigantic tensor: errors, not allocations.
#[test]
fn onnx_huge_shapes_are_errors_not_allocations() {
    let bytes = model(
        13,
        vec![node("Relu", "r", &["x"], &["y"])],
        vec![value_info("x", &[1 << 40, 1 << 40, 1 << 40])],
        vec![],
        "y",
    );
    assert_names(&import_err(&bytes), &["graph input \"x\"", "too large"]);

    let cos = |shape: &[i64]| {
        model(
            13,
            vec![
                node("ConstantOfShape", "fill", &["s"], &["c"]),
                node("Add", "add", &["x", "c"], &["y"]),
            ],
            vec![value_info("x", &[1, 4])],
            vec![i64s("s", shape)],
            "y",
        )
    };
    assert_names(
        &import_err(&cos(&[1 << 30, 1 << 30])),
        &["ConstantOfShape", "elements"],
    );
    assert_names(&import_err(&cos(&[-3, 4])), &["\"fill\"", "negative"]);
    // Reshape to a target whose element count overflows.
    let reshape = model(
        13,
        vec![node("Reshape", "rs", &["x", "s"], &["y"])],
        vec![value_info("x", &[2, 4])],
        vec![i64s("s", &[i64::MAX, i64::MAX, -1])],
        "y",
    );
    assert_names(&import_err(&reshape), &["Reshape"]);
}

/// Absurd Conv attributes in an ONNX model: each error names the node and the attribute.
#[test]
fn onnx_absurd_conv_attributes() {
    let cases: Vec<(Vec<AttributeProto>, &str)> = vec![
        (vec![ints("strides", &[0, 0])], "stride"),
        (vec![ints("dilations", &[0, 1])], "dilation"),
        (vec![ints("pads", &[-1, 0, 0, 0])], "negative"),
        (vec![ints("pads", &[i64::MAX, 0, 0, 0])], "pad"),
        (vec![ints("strides", &[i64::MAX, 1])], "stride"),
        (vec![int("group", 2)], "groups"),
        (vec![int("group", 0)], "group"),
        (vec![ints("kernel_shape", &[5, 5])], "kernel"),
        (vec![ints("kernel_shape", &[3, 3, 3])], "kernel"),
        (vec![ints("dilations", &[3, 3])], "larger than padded input"),
    ];
    for (attrs, want) in cases {
        let what = format!("{attrs:?}");
        let err = import_err(&conv_model(attrs));
        assert!(err.contains("conv_bad"), "{what}: node not named in: {err}");
        assert!(err.contains(want), "{what}: {want:?} not in: {err}");
    }
    // Rank mismatch: a 2-D kernel on a 3-D input.
    let bytes = model(
        13,
        vec![node("Conv", "conv_bad", &["x", "w"], &["y"])],
        vec![value_info("x", &[1, 3, 5])],
        vec![weight("w", &[4, 3, 3, 3])],
        "y",
    );
    assert_names(&import_err(&bytes), &["conv_bad", "rank"]);
}

/// Clip's bounds: min > max means every output is max (ONNX); an empty bound tensor is an
/// error naming the node.
#[test]
fn onnx_clip_bounds() {
    let clip = |lo: TensorProto| {
        model(
            13,
            vec![node("Clip", "clip", &["x", "lo", "hi"], &["y"])],
            vec![value_info("x", &[1, 4])],
            vec![
                lo,
                TensorProto {
                    name: Some("hi".into()),
                    data_type: Some(1),
                    float_data: vec![1.0],
                    ..Default::default()
                },
            ],
            "y",
        )
    };
    let crossed = clip(TensorProto {
        name: Some("lo".into()),
        data_type: Some(1),
        float_data: vec![3.0],
        ..Default::default()
    });
    let g = import_bytes(&crossed, &ImportOptions::default()).unwrap();
    let y = cpu::run(
        &g,
        &[Tensor::new(vec![1, 4], vec![-5.0, 0.0, 2.0, 9.0]).unwrap()],
    )
    .unwrap();
    assert_eq!(y[0].data(), &[1.0; 4]);
    let empty = clip(TensorProto {
        name: Some("lo".into()),
        dims: vec![0],
        data_type: Some(1),
        ..Default::default()
    });
    assert_names(&import_err(&empty), &["\"clip\"", "empty"]);
}
