//! Reductions over axes: axes as an attribute (opset 11) and as an input (18), noop with empty
//! axes, the ReduceMean-over-H-and-W global-pool fast path, and refused axes. Softmax,
//! LogSoftmax and Hardmax before opset 13 (coerced to 2-D) and from it (one axis).

use wgconv::graph::Op;
use wgconv::onnx::proto::{AttributeProto, NodeProto};
use wgconv::onnx::{ImportOptions, import_bytes};
use wgconv::ops::{PoolKind, ReduceKind, ReduceSpec, SoftmaxKind};
use wgconv::reference;
use wgconv::tensor::Tensor;

use super::{attr_i, attr_ints, int64s, model_at, node, run_model, value_info};

/// One reduction node over `x` `[2, 3, 4, 5]`: axes as an attribute before opset 18, as an
/// input from it.
fn reduce_model(op: &str, opset: i64, axes: Option<&[i64]>, attrs: Vec<AttributeProto>) -> Vec<u8> {
    let mut attribute = attrs;
    let (inputs, init) = match axes {
        Some(a) if opset >= 18 => (vec!["x", "axes"], vec![int64s("axes", a)]),
        Some(a) => {
            attribute.push(attr_ints("axes", a));
            (vec!["x"], vec![])
        }
        None => (vec!["x"], vec![]),
    };
    model_at(
        opset,
        vec![NodeProto {
            attribute,
            ..node(op, "r", &inputs, &["y"])
        }],
        vec![value_info("x", &[2, 3, 4, 5])],
        init,
        "y",
    )
}

fn only_op(bytes: &[u8]) -> Op {
    let g = import_bytes(bytes, &ImportOptions::default()).unwrap();
    g.nodes()[0].op.clone()
}

#[test]
fn axes_as_attribute_and_as_input() {
    let x = Tensor::random(vec![2, 3, 4, 5], 1);
    for opset in [11, 18] {
        let m = reduce_model(
            "ReduceL2",
            opset,
            Some(&[-1, 1]),
            vec![attr_i("keepdims", 0)],
        );
        let (g, y) = run_model(&m, &x);
        assert_eq!(y.shape(), &[2, 4]);
        let Op::Reduce(spec) = &g.nodes()[0].op else {
            panic!("{:?}", g.nodes()[0].op)
        };
        let want = ReduceSpec {
            kind: ReduceKind::L2,
            axes: vec![1, 3],
            keepdims: false,
        };
        assert_eq!(spec, &want);
    }
    // ReduceSum takes axes as an input from opset 13.
    let m13 = model_at(
        13,
        vec![node("ReduceSum", "r", &["x", "axes"], &["y"])],
        vec![value_info("x", &[2, 3, 4, 5])],
        vec![int64s("axes", &[0])],
        "y",
    );
    let (_, y) = run_model(&m13, &x);
    assert_eq!(y.shape(), &[1, 3, 4, 5]);
}

#[test]
fn default_and_empty_axes() {
    let x = Tensor::random(vec![2, 3, 4, 5], 2);
    let (_, y) = run_model(&reduce_model("ReduceMax", 18, None, vec![]), &x);
    assert_eq!(y.shape(), &[1, 1, 1, 1]);
    let noop = reduce_model(
        "ReduceSumSquare",
        18,
        None,
        vec![attr_i("noop_with_empty_axes", 1)],
    );
    let (_, y) = run_model(&noop, &x);
    assert_eq!(y.shape(), x.shape());
    for (a, b) in y.data().iter().zip(x.data()) {
        assert!((a - b * b).abs() <= 1e-6 * a.abs().max(1.0));
    }
}

#[test]
fn spatial_reduce_mean_stays_a_global_pool() {
    let m = reduce_model("ReduceMean", 13, Some(&[2, 3]), vec![]);
    assert!(matches!(only_op(&m), Op::GlobalPool(PoolKind::Avg)));
    let m = reduce_model("ReduceMean", 13, Some(&[1]), vec![]);
    assert!(matches!(only_op(&m), Op::Reduce(_)));
}

#[test]
fn bad_axes_name_the_node() {
    for axes in [&[4][..], &[-5], &[1, -3]] {
        let m = reduce_model("ReduceProd", 13, Some(axes), vec![]);
        let e = import_bytes(&m, &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"r\"") && e.contains("ReduceProd"), "{e}");
    }
}

/// Opset 11 LogSoftmax on axis 1 of [2, 3, 4, 5] normalises each image's 60 values together;
/// opset 13 Hardmax on axis 1 marks the first maximum over the 3 channels.
#[test]
fn softmax_family_before_and_from_opset_13() {
    let x = Tensor::random(vec![2, 3, 4, 5], 3);
    let one = |op: &str, opset: i64| {
        model_at(
            opset,
            vec![NodeProto {
                attribute: vec![attr_i("axis", 1)],
                ..node(op, "s", &["x"], &["y"])
            }],
            vec![value_info("x", &[2, 3, 4, 5])],
            vec![],
            "y",
        )
    };
    let (_, y) = run_model(&one("LogSoftmax", 11), &x);
    let flat = x.clone().reshape(vec![2, 60]).unwrap();
    let want = reference::softmax::softmax_kind(SoftmaxKind::LogSoftmax, 1, &flat).unwrap();
    assert_eq!(y.shape(), x.shape());
    for (a, b) in y.data().iter().zip(want.data()) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    let (g, y) = run_model(&one("Hardmax", 13), &x);
    assert!(matches!(
        g.nodes()[0].op,
        Op::Softmax {
            axis: 1,
            kind: SoftmaxKind::Hardmax
        }
    ));
    assert_eq!(y.data().iter().sum::<f32>(), 40.0);
}
