//! Elementwise math from ONNX: attributes with their defaults and typed errors, Pow / Max /
//! Min with a constant operand (an activation, or a Constant node), the variadic Max / Min /
//! Sum / Mean, and Casts of computed tensors.

use wgconv::graph::Op;
use wgconv::onnx::proto::{AttributeProto, NodeProto};
use wgconv::onnx::{ImportOptions, import_bytes};
use wgconv::ops::{Activation, BinaryOp};
use wgconv::reference::eltwise;
use wgconv::tensor::Tensor;

use super::{
    attr_f, attr_i, attr_s, check, floats, model, model_at, node, run_model, scalar, value_info,
};

fn with(mut n: NodeProto, attrs: Vec<AttributeProto>) -> NodeProto {
    n.attribute = attrs;
    n
}

/// One-node models `y = op(x)` import as the activation with the spec's defaults or the given
/// attributes, and run on the device like the reference.
#[test]
fn unary_ops_import_with_their_attributes() {
    let x = Tensor::random_range(vec![2, 3, 4, 5], 3, -3.0, 3.0);
    let cases: Vec<(&str, Vec<AttributeProto>, Activation)> = vec![
        ("Abs", vec![], Activation::Abs),
        ("Softplus", vec![], Activation::Softplus),
        ("Elu", vec![], Activation::Elu { alpha: 1.0 }),
        (
            "Elu",
            vec![attr_f("alpha", 0.5)],
            Activation::Elu { alpha: 0.5 },
        ),
        ("Selu", vec![], Activation::SELU_DEFAULT),
        (
            "Celu",
            vec![attr_f("alpha", 2.0)],
            Activation::Celu { alpha: 2.0 },
        ),
        (
            "ThresholdedRelu",
            vec![],
            Activation::ThresholdedRelu { alpha: 1.0 },
        ),
        (
            "Gelu",
            vec![attr_s("approximate", "tanh")],
            Activation::GeluTanh,
        ),
        ("Mish", vec![], Activation::Mish),
        ("Round", vec![], Activation::Round),
    ];
    for (op, attrs, act) in cases {
        let bytes = model_at(
            20,
            vec![with(node(op, "n", &["x"], &["y"]), attrs)],
            vec![value_info("x", &[2, 3, 4, 5])],
            vec![],
            "y",
        );
        let (g, y) = run_model(&bytes, &x);
        assert!(
            matches!(&g.nodes()[0].op, Op::Activation(a) if *a == act),
            "{op}: {:?}",
            g.nodes()[0].op
        );
        check(op, &y, &eltwise::unary(act, &x));
    }
}

/// An attribute of the wrong type, or CELU's alpha = 0, is an error naming the node.
#[test]
fn bad_attributes_are_errors_naming_the_node() {
    for (op, attr) in [
        ("Selu", attr_i("gamma", 2)),
        ("Elu", attr_s("alpha", "1")),
        ("Celu", attr_f("alpha", 0.0)),
        ("Gelu", attr_s("approximate", "sigmoid")),
    ] {
        let name = attr.name().to_string();
        let bytes = model_at(
            20,
            vec![with(node(op, "bad_node", &["x"], &["y"]), vec![attr])],
            vec![value_info("x", &[1, 4])],
            vec![],
            "y",
        );
        let err = import_bytes(&bytes, &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(op) && err.contains(&name), "{op}: {err}");
    }
}

/// Pow, Max and Min with a scalar constant become one activation (x^2 a multiplication);
/// with two computed operands, a broadcasting binary node.
#[test]
fn pow_max_min_with_constants_and_computed_operands() {
    let x = Tensor::random_range(vec![1, 3, 2, 4], 4, -2.0, 2.0);
    let map = |f: &dyn Fn(f32) -> f32| {
        Tensor::new(x.shape().to_vec(), x.data().iter().map(|&v| f(v)).collect()).unwrap()
    };
    let one = |op: &str, c: f32, const_first: bool| {
        let ins: [&str; 2] = if const_first { ["c", "x"] } else { ["x", "c"] };
        model(
            vec![node(op, "n", &ins, &["y"])],
            vec![value_info("x", &[1, 3, 2, 4])],
            vec![scalar("c", c)],
            "y",
        )
    };
    let (g, y) = run_model(&one("Pow", 2.0, false), &x);
    assert!(matches!(
        g.nodes()[0].op,
        Op::Binary {
            op: BinaryOp::Mul,
            ..
        }
    ));
    check("x^2", &y, &map(&|v| v * v));
    let (_, y) = run_model(&one("Pow", 3.0, false), &x);
    check("x^3", &y, &map(&|v| v * v * v));
    let (_, y) = run_model(&one("Max", 0.25, true), &x);
    check("max(0.25, x)", &y, &map(&|v| v.max(0.25)));
    let (_, y) = run_model(&one("Min", -0.5, false), &x);
    check("min(x, -0.5)", &y, &map(&|v| v.min(-0.5)));
    // A constant base has no activation: it becomes a Constant node read by Pow.
    let (g, y) = run_model(&one("Pow", 2.0, true), &x);
    assert!(
        g.nodes()
            .iter()
            .any(|n| matches!(n.op, Op::Constant { .. }))
    );
    check("2^x", &y, &map(&|v| 2f32.powf(v)));
    // x ^ relu(x) + 0.5: both computed.
    let bytes = model(
        vec![
            node("Relu", "r", &["x"], &["r"]),
            node("Add", "a", &["r", "half"], &["e"]),
            node("Pow", "p", &["x", "e"], &["y"]),
        ],
        vec![value_info("x", &[1, 3, 2, 4])],
        vec![scalar("half", 0.5)],
        "y",
    );
    let (_, y) = run_model(&bytes, &x);
    check(
        "x ^ (relu(x) + 0.5)",
        &y,
        &map(&|v| (v as f64).powf(v.max(0.0) as f64 + 0.5) as f32),
    );
}

/// Sum / Mean / Max / Min of N inputs, computed and constant (per-channel) mixed, at rank 4
/// and rank 1 (no channel axis: a scalar constant goes through a [1, n] view).
#[test]
fn variadic_ops_chain_their_inputs() {
    let x = Tensor::random_range(vec![1, 3, 2, 2], 5, -2.0, 2.0);
    let c = [0.5f32, -1.0, 2.0];
    let variadic = |op: &str| {
        model(
            vec![
                node("Relu", "r", &["x"], &["r"]),
                node(op, "v", &["x", "c", "r"], &["y"]),
            ],
            vec![value_info("x", &[1, 3, 2, 2])],
            vec![{
                let mut t = floats("c", &c);
                t.dims = vec![3, 1, 1];
                t
            }],
            "y",
        )
    };
    let want = |f: &dyn Fn(f32, f32, f32) -> f32| {
        let v = x
            .data()
            .iter()
            .enumerate()
            .map(|(i, &v)| f(v, c[i / 4], v.max(0.0)))
            .collect();
        Tensor::new(x.shape().to_vec(), v).unwrap()
    };
    let (_, y) = run_model(&variadic("Sum"), &x);
    check("sum", &y, &want(&|a, b, c| a + b + c));
    let (_, y) = run_model(&variadic("Mean"), &x);
    check("mean", &y, &want(&|a, b, c| (a + b + c) / 3.0));
    // Max / Min have no per-channel affine: the constant is a Constant node they read.
    let (_, y) = run_model(&variadic("Max"), &x);
    check("max", &y, &want(&|a, b, c| a.max(b).max(c)));

    let x1 = Tensor::random_range(vec![5], 6, -2.0, 2.0);
    let rank1 = |op: &str| {
        model(
            vec![
                node("Neg", "n", &["x"], &["m"]),
                node(op, "v", &["x", "m", "two"], &["y"]),
            ],
            vec![value_info("x", &[5])],
            vec![scalar("two", 2.0)],
            "y",
        )
    };
    let want1 = |f: &dyn Fn(f32) -> f32| {
        Tensor::new(vec![5], x1.data().iter().map(|&v| f(v)).collect()).unwrap()
    };
    let (_, y) = run_model(&rank1("Mean"), &x1);
    check("mean rank 1", &y, &want1(&|_| 2.0 / 3.0));
    let (_, y) = run_model(&rank1("Max"), &x1);
    check("max rank 1", &y, &want1(&|v| v.abs().max(2.0)));
    let (_, y) = run_model(&rank1("Min"), &x1);
    check("min rank 1", &y, &want1(&|v| -v.abs()));
}

/// A Cast of a computed tensor: to double the identity, to an integer type a truncation toward
/// zero, to bool `x != 0`; to float16 refused naming the node. Exact in every precision.
#[test]
fn casts_of_computed_tensors() {
    let x = Tensor::new(vec![6], vec![-2.5, -0.75, 0.0, 0.5, 1.0, 3.75]).unwrap();
    let cast = |to: i64| {
        model(
            vec![with(
                node("Cast", "c", &["x"], &["y"]),
                vec![attr_i("to", to)],
            )],
            vec![value_info("x", &[6])],
            vec![],
            "y",
        )
    };
    for (to, want) in [
        (11, x.data().to_vec()),
        (6, vec![-2.0, 0.0, 0.0, 0.0, 1.0, 3.0]),
        (7, vec![-2.0, 0.0, 0.0, 0.0, 1.0, 3.0]),
        (9, vec![1.0, 1.0, 0.0, 1.0, 1.0, 1.0]),
    ] {
        let g = import_bytes(&cast(to), &ImportOptions::default()).unwrap();
        for p in wgconv::Precision::ALL {
            let opts = wgconv::session::SessionOptions {
                precision: Some(p),
                ..Default::default()
            };
            let got = wgconv::Session::with_options(crate::common::gpu(), &g, opts)
                .unwrap()
                .run(std::slice::from_ref(&x))
                .unwrap();
            assert_eq!(got[0].data(), want.as_slice(), "to {to}, {p}");
        }
    }
    let err = import_bytes(&cast(10), &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"c\" (Cast)") && err.contains("type 10"),
        "{err}"
    );
}
