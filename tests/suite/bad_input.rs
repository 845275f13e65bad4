//! Bad input of every kind (issue 7): corrupt ONNX, wrong inputs, zero-sized dimensions, absurd
//! attributes, broken safetensors. Each is a typed error whose message names what is wrong and
//! where; none panics, none reaches the GPU in a state that could hang it.

use std::path::Path;
use std::process::Command;

use prost::Message;
use wgconv::graph::{Conv2d, Graph, Op, cpu};
use wgconv::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto,
    ValueInfoProto, tensor_shape_proto, type_proto,
};
use wgconv::onnx::{ImportOptions, import_bytes};
use wgconv::ops::{
    Activation, ChannelOrder, ConvSpec, ConvTransposeSpec, PoolKind, PoolSpec, ResizeMode,
    ResizeSpec,
};
use wgconv::{Error, Session, Tensor, weights};

use crate::common::gpu;

// ---------------------------------------------------------------------------------------------
// Small ONNX model builders.

fn value_info(name: &str, shape: &[i64]) -> ValueInfoProto {
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

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
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

fn weight(name: &str, shape: &[i64]) -> TensorProto {
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

fn model(
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

fn assert_names(err: &str, wants: &[&str]) {
    for w in wants {
        assert!(err.contains(w), "{w:?} not in: {err}");
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

    for (dt, name) in [(14, "Complex64"), (8, "String"), (0, "Undefined")] {
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

// ---------------------------------------------------------------------------------------------
// Wrong inputs at run time.

fn small_session_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("image", &[1, 3, 6, 6]);
    let y = g.conv2d(x, "conv", Conv2d::new(4, 3).pad(1)).unwrap();
    g.output(y);
    g
}

/// `run_named` with an unknown, missing, repeated or mis-shaped input: errors naming it.
#[test]
fn run_named_rejects_wrong_inputs() {
    let s = Session::new(gpu(), &small_session_graph()).unwrap();
    let good = Tensor::random(vec![1, 3, 6, 6], 1);
    assert_eq!(s.run_named(&[("image", &good)]).unwrap().len(), 1);

    let err = s.run_named(&[("imag", &good)]).unwrap_err().to_string();
    assert_names(&err, &["\"imag\"", "\"image\""]);
    let err = s.run_named(&[]).unwrap_err().to_string();
    assert_names(&err, &["missing", "\"image\""]);
    let err = s
        .run_named(&[("image", &good), ("image", &good)])
        .unwrap_err()
        .to_string();
    assert_names(&err, &["\"image\"", "twice"]);
    let wrong = Tensor::random(vec![1, 3, 6, 7], 2);
    let err = s.run_named(&[("image", &wrong)]).unwrap_err().to_string();
    assert_names(&err, &["[1, 3, 6, 7]", "[1, 3, 6, 6]"]);
    let empty = Tensor::zeros(vec![0, 3, 6, 6]);
    assert!(s.run_named(&[("image", &empty)]).is_err());
    // The session still works afterwards.
    assert_eq!(s.run_named(&[("image", &good)]).unwrap().len(), 1);
}

/// A `.npy` file with the given dtype descriptor, shape and raw data.
fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

fn wgconv_cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wgconv"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `wgconv run --input` with an int8 or complex `.npy`, or one of the wrong shape: a failing
/// exit whose message names the file or input and what is wrong.
#[test]
fn cli_run_rejects_bad_npy_inputs() {
    let dir = std::env::temp_dir().join(format!("wgconv-bad-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/fire/model.onnx");
    let model = model.to_str().unwrap();
    let n = 16 * 10 * 10;
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "int8.npy",
            npy_bytes("|i1", &[1, 16, 10, 10], &vec![1u8; n]),
            vec!["int8.npy", "\"i1\"", "not supported"],
        ),
        (
            "complex.npy",
            npy_bytes("<c8", &[1, 16, 10, 10], &vec![0u8; n * 8]),
            vec!["complex.npy", "\"c8\"", "not supported"],
        ),
        (
            "truncated.npy",
            npy_bytes("<f4", &[1, 16, 10, 10], &[0u8; 100]),
            vec!["truncated.npy"],
        ),
        (
            "shape.npy",
            npy_bytes("<f4", &[1, 16, 9, 10], &vec![0u8; 16 * 9 * 10 * 4]),
            vec!["input", "[1, 16, 9, 10]"],
        ),
    ];
    for (file, bytes, wants) in cases {
        let path = dir.join(file);
        std::fs::write(&path, bytes).unwrap();
        let arg = format!("input={}", path.display());
        let (ok, out) = wgconv_cli(&["run", model, "--input", &arg, "--runs", "1"]);
        assert!(!ok, "{file}: succeeded:\n{out}");
        assert!(!out.contains("panicked"), "{file}: panicked:\n{out}");
        for w in wants {
            assert!(out.contains(w), "{file}: {w:?} not in:\n{out}");
        }
    }
    // An input name the model does not have.
    let path = dir.join("good.npy");
    std::fs::write(&path, npy_bytes("<f4", &[1, 16, 10, 10], &vec![0u8; n * 4])).unwrap();
    let arg = format!("nope={}", path.display());
    let (ok, out) = wgconv_cli(&["run", model, "--input", &arg, "--runs", "1"]);
    assert!(
        !ok && out.contains("nope") && !out.contains("panicked"),
        "{out}"
    );
    std::fs::remove_dir_all(dir).ok();
}

// ---------------------------------------------------------------------------------------------
// Zero-sized dimensions.

/// An input with a zero dimension through every kind of op: either a typed error naming the
/// node, or a graph whose CPU and GPU runs both return empty outputs (no dispatch of zero
/// workgroups reaches the device, nothing hangs).
#[test]
fn zero_sized_dimensions() {
    type Build = fn(&mut Graph, wgconv::graph::ValueId) -> wgconv::Result<wgconv::graph::ValueId>;
    let ops: Vec<(&str, Build)> = vec![
        ("conv", |g, x| g.conv2d(x, "c", Conv2d::new(4, 3).pad(1))),
        ("conv1x1", |g, x| g.conv2d(x, "c", Conv2d::new(4, 1))),
        ("depthwise", |g, x| {
            g.conv2d(x, "c", Conv2d::new(4, 3).pad(1).groups(4))
        }),
        ("conv_t", |g, x| {
            let spec = ConvTransposeSpec::new(ConvSpec::conv2d(2, 2).stride(2));
            g.conv_transpose(x, "ct", 2, spec, true)
        }),
        ("bn", |g, x| g.batch_norm(x, "bn")),
        ("relu", |g, x| g.relu(x)),
        ("max_pool", |g, x| g.max_pool(x, 2, 2, 0, false)),
        ("gap", |g, x| g.global_avg_pool(x)),
        ("flatten", |g, x| g.flatten(x, 1)),
        ("softmax", |g, x| g.softmax(x, 1)),
        ("add", |g, x| g.add_values(x, x)),
        ("concat", |g, x| g.concat(&[x, x], 1)),
        ("pixel_shuffle", |g, x| g.pixel_shuffle(x, 2)),
        ("space_to_depth", |g, x| {
            g.space_to_depth(x, 2, ChannelOrder::Crd)
        }),
        ("channel_shuffle", |g, x| g.channel_shuffle(x, 2)),
        ("resize", |g, x| {
            g.resize(x, ResizeSpec::new(ResizeMode::Nearest, [8, 8]))
        }),
        ("pad", |g, x| g.pad(x, &[0, 0, 1, 1], &[0, 0, 1, 1], 0.0)),
        ("transpose", |g, x| g.transpose(x, &[0, 2, 3, 1])),
    ];
    for shape in [[0usize, 4, 4, 4], [1, 0, 4, 4], [1, 4, 0, 4]] {
        for (what, build) in &ops {
            let mut g = Graph::new();
            let x = g.input("x", &shape);
            let y = match build(&mut g, x) {
                Ok(y) => y,
                Err(e) => {
                    let msg = e.to_string();
                    assert!(
                        matches!(e, Error::InvalidOp { .. }) && !msg.is_empty(),
                        "{what} {shape:?}: {msg}"
                    );
                    continue;
                }
            };
            g.output(y);
            let input = Tensor::zeros(shape.to_vec());
            let want = cpu::run(&g, std::slice::from_ref(&input))
                .unwrap_or_else(|e| panic!("{what} {shape:?}: CPU: {e}"));
            match Session::new(gpu(), &g) {
                Ok(s) => {
                    let got = s
                        .run(&[input])
                        .unwrap_or_else(|e| panic!("{what} {shape:?}: GPU: {e}"));
                    assert_eq!(got[0].shape(), want[0].shape(), "{what} {shape:?}");
                    assert_eq!(got[0].data(), want[0].data(), "{what} {shape:?}");
                }
                Err(e) => assert!(!e.to_string().is_empty(), "{what} {shape:?}"),
            }
        }
    }
}

/// Ops that would produce zero elements from a non-empty input are refused at build time,
/// naming the node and the range.
#[test]
fn ops_producing_zero_elements() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 4, 4]);
    let err = g.slice_channels(x, 2, 2).unwrap_err().to_string();
    assert_names(&err, &["slice", "2..2"]);
    let err = g.reshape(x, &[0, 0, 0, 0, 0]).unwrap_err().to_string();
    assert_names(&err, &["reshape", "invalid"]);
    let e = g.input("e", &[1, 4, 0, 4]);
    let err = g.global_avg_pool(e).unwrap_err().to_string();
    assert_names(&err, &["global_avg_pool", "non-empty"]);
    let err = g
        .resize(x, ResizeSpec::new(ResizeMode::Linear, [0, 4]))
        .unwrap_err()
        .to_string();
    assert_names(&err, &["resize", "[0, 4]"]);
    let err = g.max_pool(x, 5, 1, 0, false).unwrap_err().to_string();
    assert_names(&err, &["max_pool", "larger than padded input"]);
}

// ---------------------------------------------------------------------------------------------
// Absurd attributes through the builder.

/// Zero, huge and mismatched hyper-parameters: every one a typed error naming the node or op
/// and the value, none an overflow or an allocation of the requested size.
#[test]
fn absurd_builder_attributes() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 6, 6]);
    let big = usize::MAX;
    let conv = |c: Conv2d| {
        let mut h = Graph::new();
        let x = h.input("x", &[1, 4, 6, 6]);
        h.conv2d(x, "conv_bad", c).unwrap_err().to_string()
    };
    let cases = [
        (conv(Conv2d::new(4, 3).stride(0)), "stride"),
        (conv(Conv2d::new(4, 3).dilation(0)), "dilation"),
        (conv(Conv2d::new(4, 3).groups(0)), "groups"),
        (conv(Conv2d::new(4, 3).groups(3)), "groups 3"),
        (conv(Conv2d::new(4, 7)), "larger than padded input"),
        (conv(Conv2d::new(4, 0)), "zero extent"),
        (conv(Conv2d::new(4, big)), "exceeds the limit"),
        (conv(Conv2d::new(4, 3).pad(big)), "exceeds the limit"),
        (conv(Conv2d::new(4, 3).stride(big)), "exceeds the limit"),
        (
            conv(Conv2d::new(4, 3).dilation(1 << 40)),
            "exceeds the limit",
        ),
        (conv(Conv2d::new(big, 1)), "too large"),
    ];
    for (err, want) in &cases {
        assert!(err.contains("conv_bad"), "node not named: {err}");
        assert!(err.contains(want), "{want:?} not in: {err}");
    }

    // Rank mismatch: a 3-D kernel on a 4-D input.
    let err = g
        .conv_nd(x, "conv3d", 4, ConvSpec::new(&[1, 1, 1]), false)
        .unwrap_err()
        .to_string();
    assert_names(&err, &["conv3d", "rank"]);
    // Transposed convolution whose stride overflows the output extent.
    let spec = ConvTransposeSpec::new(ConvSpec::conv2d(2, 2).strides(&[1 << 30, 1 << 30]));
    let mut h = Graph::new();
    let xh = h.input("x", &[1, 1, 1 << 40, 2]);
    let err = h
        .conv_transpose(xh, "up", 1, spec, false)
        .unwrap_err()
        .to_string();
    assert_names(&err, &["up", "overflows"]);

    let pool = |spec: PoolSpec| {
        let mut h = Graph::new();
        let x = h.input("x", &[1, 4, 6, 6]);
        h.pool(x, spec).unwrap_err().to_string()
    };
    assert_names(
        &pool(PoolSpec::new(PoolKind::Max, 0, 1, 0)),
        &["max_pool", ">= 1"],
    );
    assert_names(
        &pool(PoolSpec::new(PoolKind::Avg, 2, 0, 0)),
        &["avg_pool", ">= 1"],
    );
    assert_names(
        &pool(PoolSpec::new(PoolKind::Max, 2, 2, 2)),
        &["max_pool", "half the window"],
    );
    assert_names(
        &pool(PoolSpec::new(PoolKind::Max, big, 1, 0)),
        &["exceeds the limit"],
    );

    let e = |r: wgconv::Result<wgconv::graph::ValueId>| r.unwrap_err().to_string();
    assert_names(&e(g.pixel_shuffle(x, 0)), &["pixel_shuffle", "factor"]);
    assert_names(
        &e(g.pixel_shuffle(x, big)),
        &["pixel_shuffle", "exceeds the limit"],
    );
    assert_names(
        &e(g.space_to_depth(x, 4, ChannelOrder::Dcr)),
        &["space_to_depth", "block 4"],
    );
    assert_names(
        &e(g.channel_shuffle(x, 3)),
        &["channel_shuffle", "groups 3"],
    );
    assert_names(
        &e(g.channel_shuffle(x, 0)),
        &["channel_shuffle", "groups 0"],
    );
    let r = ResizeSpec::new(ResizeMode::Nearest, [big, 2]);
    assert_names(&e(g.resize(x, r)), &["resize", "exceeds the limit"]);
    let r = ResizeSpec::new(ResizeMode::Linear, [4, 4]).scale([f64::NAN, 1.0]);
    assert_names(&e(g.resize(x, r)), &["resize", "finite"]);
    assert_names(
        &e(g.pad(x, &[0, 0, big, 0], &[0; 4], 0.0)),
        &["pad", "exceeds the limit"],
    );
    assert_names(
        &e(g.pad(x, &[0, 0], &[0, 0], 0.0)),
        &["pad", "one entry per dim"],
    );
    assert_names(&e(g.reshape(x, &[i64::MAX, 2])), &["reshape", "144"]);
    assert_names(&e(g.reshape(x, &[-1, -1])), &["reshape", "invalid"]);
    assert_names(&e(g.concat(&[x, x], 7)), &["concat", "axis 7"]);
    assert_names(
        &e(g.transpose(x, &[0, 1, 1, 2])),
        &["transpose", "permutation"],
    );
    assert_names(&e(g.softmax(x, 4)), &["softmax", "axis 4"]);
    assert_names(&e(g.flatten(x, 9)), &["flatten", "start dim 9"]);
    assert_names(&e(g.linear(x, "fc", 3, true)), &["\"fc\"", "[N, K]"]);
    let clip = Activation::Clip { min: 2.0, max: 1.0 };
    assert_names(&e(g.act(x, clip)), &["clip", "min 2"]);
    let clip = Activation::Clip {
        min: f32::NAN,
        max: 1.0,
    };
    assert_names(&e(g.act(x, clip)), &["clip", "NaN"]);
    let op = Op::Slice {
        starts: vec![0, 0, 0, 0],
        ends: vec![1, 4, 6, big],
        steps: vec![1, 1, 1, 1],
    };
    assert_names(&e(g.add("sl", op, &[x])), &["\"sl\"", "outside"]);
    // Nothing above changed the graph's usable state.
    let y = g.relu(x).unwrap();
    g.output(y);
    assert_eq!(
        cpu::run(&g, &[Tensor::zeros(vec![1, 4, 6, 6])])
            .unwrap()
            .len(),
        1
    );
}

/// A graph input declaring a shape that cannot exist (graph inputs are declared infallibly):
/// the first node reading it, and a session of an input-only graph, are typed errors.
#[test]
fn graph_input_too_large_to_exist() {
    let mut g = Graph::new();
    let x = g.input("x", &[1 << 40, 1 << 40, 1 << 40]);
    let err = g.relu(x).unwrap_err().to_string();
    assert_names(&err, &["relu", "too large"]);
    g.output(x);
    let err = Session::new(gpu(), &g).unwrap_err();
    assert!(matches!(err, Error::DeviceLimit { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Safetensors.

fn conv_net() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 3, 8, 8]);
    let y = g.conv2d(x, "conv", Conv2d::new(4, 3)).unwrap();
    g.output(y);
    g
}

fn safetensors_file(entries: &[(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<_> = entries
        .iter()
        .map(|(k, dt, s, b)| {
            (
                k.to_string(),
                safetensors::tensor::TensorView::new(*dt, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// Wrong dtype, truncated, corrupt header, mis-sized data: errors naming the tensor or file.
#[test]
fn safetensors_bad_files() {
    use safetensors::Dtype;
    let mut g = conv_net();
    let w = (Dtype::F32, vec![4, 3, 3, 3], vec![0u8; 108 * 4]);
    let b = (Dtype::F32, vec![4], vec![0u8; 16]);
    let good = safetensors_file(&[
        ("conv.weight", w.0, w.1.clone(), w.2.clone()),
        ("conv.bias", b.0, b.1.clone(), b.2.clone()),
    ]);
    weights::load_safetensors(&mut g, &good).unwrap();

    // Wrong dtype: integers where floats are needed.
    let ints = safetensors_file(&[
        ("conv.weight", Dtype::I32, w.1.clone(), w.2.clone()),
        ("conv.bias", b.0, b.1.clone(), b.2.clone()),
    ]);
    let err = weights::load_safetensors(&mut g, &ints).unwrap_err();
    assert!(matches!(err, Error::Weights { .. }), "{err:?}");
    assert_names(&err.to_string(), &["conv.weight", "I32", "not supported"]);

    // Truncated anywhere: an error, never a panic.
    for cut in [0, 4, 8, 20, good.len() / 2, good.len() - 1] {
        let err = weights::load_safetensors(&mut g, &good[..cut])
            .unwrap_err()
            .to_string();
        assert!(err.contains("safetensors"), "cut at {cut}: {err}");
    }
    // A header length far beyond the file.
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(weights::load_safetensors(&mut g, &huge).is_err());
    // A header whose offsets do not match the shape (hand-written JSON).
    let header = br#"{"conv.weight":{"dtype":"F32","shape":[4,3,3,3],"data_offsets":[0,8]},"conv.bias":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#;
    let mut bad = (header.len() as u64).to_le_bytes().to_vec();
    bad.extend(header);
    bad.extend([0u8; 24]);
    let err = weights::load_safetensors(&mut g, &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("safetensors"), "{err}");
    // Missing and mis-shaped (zoo.rs covers a whole network; here the one-layer case).
    let missing = safetensors_file(&[("conv.weight", w.0, w.1.clone(), w.2.clone())]);
    let err = weights::load_safetensors(&mut g, &missing)
        .unwrap_err()
        .to_string();
    assert_names(&err, &["conv.bias", "missing", "[4]"]);
    let reshaped = safetensors_file(&[
        ("conv.weight", w.0, vec![4, 27], w.2.clone()),
        ("conv.bias", b.0, b.1.clone(), b.2.clone()),
    ]);
    let err = weights::load_safetensors(&mut g, &reshaped)
        .unwrap_err()
        .to_string();
    assert_names(&err, &["conv.weight", "[4, 27]", "[4, 3, 3, 3]"]);
}

/// Re-inference for another batch size goes through the same checks as building.
#[test]
fn with_batch_too_large() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 1 << 20, 1 << 20]);
    let y = g.relu(x).unwrap();
    g.output(y);
    let err = g.with_batch(1 << 40).unwrap_err().to_string();
    assert_names(&err, &["relu", "too large"]);
    assert_eq!(g.with_batch(3).unwrap().shape(y), &[3, 4, 1 << 20, 1 << 20]);
}

/// Statistics of a valid but absurdly large graph saturate instead of overflowing.
#[test]
fn statistics_of_huge_graphs_saturate() {
    let mut g = Graph::new();
    let x = g.input("x", &[1 << 15, 1, 1 << 15, 1 << 15]);
    let w = Tensor::zeros(vec![1, 1, 1, 1]);
    let y = g.conv(x, "c", ConvSpec::conv2d(1, 1), w, None).unwrap();
    let spec = ConvTransposeSpec::new(ConvSpec::conv2d(1, 1));
    let z = g.conv_transpose(y, "t", 1, spec, false).unwrap();
    g.output(z);
    assert!(g.macs() >= 1 << 45);
    let _ = (g.activation_bytes(), g.accumulation_depth(), g.describe());
    // Memory is planned with saturating sizes; the tensors are then refused against the
    // device limits, naming the first that does not fit (the input).
    match wgconv::plan::plan(&g) {
        Err(Error::DeviceLimit { what, .. }) => assert!(what.contains("\"x\""), "{what}"),
        other => panic!("expected a device-limit error, got {other:?}"),
    }
}
