//! Normalisations: layer norm's broadcast scale and optional bias, group norm's per-group
//! (opset 18) and per-channel (21) parameters, instance norm, Lp and LRN through a session,
//! and the refusals (parameters of the wrong shape, opsets, stash_type, extra outputs).

use wgconv::graph::Op;
use wgconv::onnx::proto::{AttributeProto, NodeProto, TensorProto};
use wgconv::onnx::{ImportOptions, import_bytes};
use wgconv::ops::{NormKind, NormOutput, NormSpec};
use wgconv::reference;
use wgconv::tensor::Tensor;

use super::{attr_f, attr_i, model_at, node, run_model, value_info, weight};

/// One `op` node named "n" over `x` `[2, 4, 3, 5]` with initializers `init` as inputs 1...
fn norm_model(
    op: &str,
    opset: i64,
    init: Vec<TensorProto>,
    attribute: Vec<AttributeProto>,
) -> Vec<u8> {
    let names: Vec<String> = init.iter().map(|t| t.name().to_string()).collect();
    let mut inputs = vec!["x"];
    inputs.extend(names.iter().map(String::as_str));
    model_at(
        opset,
        vec![NodeProto {
            attribute,
            ..node(op, "n", &inputs, &["y"])
        }],
        vec![value_info("x", &[2, 4, 3, 5])],
        init,
        "y",
    )
}

fn norm_op(g: &wgconv::graph::Graph) -> (NormSpec, Option<Tensor>, Option<Tensor>) {
    match &g.nodes()[0].op {
        Op::Norm { spec, scale, bias } => (*spec, scale.clone(), bias.clone()),
        op => panic!("{op:?}"),
    }
}

fn import_err(m: &[u8]) -> String {
    import_bytes(m, &ImportOptions::default())
        .unwrap_err()
        .to_string()
}

/// The one value of the `[1]` initializer "s".
fn scale_of(m: &[u8]) -> f32 {
    let g = import_bytes(m, &ImportOptions::default()).unwrap();
    norm_op(&g).1.unwrap().data()[0]
}

#[test]
fn layer_norm_broadcasts_scale_and_bias_is_optional() {
    let x = Tensor::random(vec![2, 4, 3, 5], 1);
    let m = norm_model(
        "LayerNormalization",
        17,
        vec![weight("s", &[1, 5], 2)],
        vec![attr_i("axis", -2), attr_f("epsilon", 1e-3)],
    );
    let (g, y) = run_model(&m, &x);
    let (spec, scale, bias) = norm_op(&g);
    assert_eq!(spec, NormSpec::layer(2, 1e-3));
    let scale = scale.unwrap();
    assert_eq!(scale.shape(), &[3, 5]);
    assert!(bias.is_none());
    // Each row of the normalised [3, 5] block repeats the [1, 5] scale.
    assert_eq!(scale.data()[..5], scale.data()[5..10]);
    let want = reference::norm::norm(&spec, &x, Some(&scale), None).unwrap();
    assert_eq!(y.data(), want.data());
    // With a bias, at the newest opset too.
    let m = norm_model(
        "LayerNormalization",
        25,
        vec![weight("s", &[1], 2), weight("b", &[5], 3)],
        vec![],
    );
    let (g, _) = run_model(&m, &x);
    let (spec, scale, bias) = norm_op(&g);
    assert_eq!(spec.axis, 3);
    assert_eq!(scale.unwrap().data(), &[scale_of(&m); 5]);
    assert_eq!(bias.unwrap().shape(), &[5]);
}

/// The optional Mean and InvStdDev outputs, one per row of the normalised dims.
#[test]
fn layer_norm_statistics_outputs() {
    let x = Tensor::random(vec![2, 4, 3, 5], 8);
    for (i, stat) in [(1, NormOutput::Mean), (2, NormOutput::InvStdDev)] {
        let mut outs = vec!["y", "", ""];
        outs[i] = "stat";
        let m = model_at(
            17,
            vec![NodeProto {
                attribute: vec![attr_i("axis", 2)],
                ..node("LayerNormalization", "n", &["x", "s"], &outs)
            }],
            vec![value_info("x", &[2, 4, 3, 5])],
            vec![weight("s", &[3, 5], 1)],
            "stat",
        );
        let (_, y) = run_model(&m, &x);
        let spec = NormSpec::layer(2, 1e-5).with_output(stat);
        assert_eq!(y.shape(), &[2, 4, 1, 1]);
        assert_eq!(y, reference::norm::norm(&spec, &x, None, None).unwrap());
    }
}

#[test]
fn group_norm_parameters_per_group_at_18_per_channel_at_21() {
    let x = Tensor::random(vec![2, 4, 3, 5], 4);
    let groups = vec![attr_i("num_groups", 2)];
    let m18 = norm_model(
        "GroupNormalization",
        18,
        vec![weight("s", &[2], 5), weight("b", &[2], 6)],
        groups.clone(),
    );
    let (g, _) = run_model(&m18, &x);
    let (spec, scale, _) = norm_op(&g);
    assert_eq!(spec, NormSpec::group(2, 1e-5));
    let s = scale.unwrap();
    assert_eq!(s.shape(), &[4]);
    assert_eq!((s.data()[0], s.data()[2]), (s.data()[1], s.data()[3]));
    let m21 = norm_model(
        "GroupNormalization",
        21,
        vec![weight("s", &[4], 5), weight("b", &[4], 6)],
        groups.clone(),
    );
    let (g, _) = run_model(&m21, &x);
    assert_eq!(norm_op(&g).1.unwrap().shape(), &[4]);
    // Per-group parameters at 21 are the wrong count.
    let bad = norm_model(
        "GroupNormalization",
        21,
        vec![weight("s", &[2], 5), weight("b", &[2], 6)],
        groups,
    );
    let e = import_err(&bad);
    assert!(e.contains("\"n\"") && e.contains("per channel"), "{e}");
}

#[test]
fn instance_lp_and_lrn_run() {
    let x = Tensor::random(vec![2, 4, 3, 5], 7);
    let m = norm_model(
        "InstanceNormalization",
        13,
        vec![weight("s", &[4], 1), weight("b", &[4], 2)],
        vec![attr_f("epsilon", 1e-2)],
    );
    assert_eq!(norm_op(&run_model(&m, &x).0).0, NormSpec::instance(1e-2));
    let m = norm_model(
        "LpNormalization",
        7,
        vec![],
        vec![attr_i("axis", 1), attr_i("p", 1)],
    );
    assert_eq!(norm_op(&run_model(&m, &x).0).0, NormSpec::lp(1, 1));
    let m = norm_model(
        "LRN",
        13,
        vec![],
        vec![
            attr_i("size", 3),
            attr_f("alpha", 2e-3),
            attr_f("bias", 2.0),
        ],
    );
    let (g, _) = run_model(&m, &x);
    let spec = norm_op(&g).0;
    assert_eq!(spec.kind, NormKind::Lrn);
    assert_eq!(
        (spec.size, spec.alpha, spec.beta, spec.bias),
        (3, 2e-3, 0.75, 2.0)
    );
}

#[test]
fn refusals_name_the_node() {
    // A scale fed at run time that does not broadcast to the normalised shape.
    let m = model_at(
        17,
        vec![node("LayerNormalization", "n", &["x", "s"], &["y"])],
        vec![value_info("x", &[2, 4, 3, 5]), value_info("s", &[4])],
        vec![],
        "y",
    );
    let e = import_err(&m);
    assert!(e.contains("\"n\"") && e.contains("\"s\""), "{e}");
    let ln = |opset, attrs| {
        norm_model(
            "LayerNormalization",
            opset,
            vec![weight("s", &[5], 1)],
            attrs,
        )
    };
    let e = import_err(&ln(16, vec![]));
    assert!(e.contains("opset 17"), "{e}");
    let e = import_err(&ln(17, vec![attr_i("stash_type", 0)]));
    assert!(e.contains("stash_type"), "{e}");
    let e = import_err(&ln(17, vec![attr_i("axis", 4)]));
    assert!(e.contains("\"n\""), "{e}");
    // Statistics outputs are layer norm's only.
    let m = model_at(
        13,
        vec![node("LpNormalization", "n", &["x"], &["y", "mean"])],
        vec![value_info("x", &[2, 4, 3, 5])],
        vec![],
        "y",
    );
    assert!(import_err(&m).contains("output 1"));
    let e = import_err(&norm_model(
        "LpNormalization",
        13,
        vec![],
        vec![attr_i("p", 3)],
    ));
    assert!(e.contains("\"n\"") && e.contains("p = 3"), "{e}");
    let e = import_err(&norm_model("GroupNormalization", 17, vec![], vec![]));
    assert!(e.contains("opset 18"), "{e}");
    let e = import_err(&norm_model("LRN", 13, vec![], vec![]));
    assert!(e.contains("size"), "{e}");
}

/// What the expanded normalisation functions need besides their own ops: a Cast of a computed
/// tensor to float is the identity (to float16, refused naming the node; the other types are
/// pinned in `math::casts_of_computed_tensors`).
#[test]
fn cast_of_a_computed_tensor_to_float_is_the_identity() {
    let cast = |to| {
        model_at(
            17,
            vec![NodeProto {
                attribute: vec![attr_i("to", to)],
                ..node("Cast", "c", &["x"], &["y"])
            }],
            vec![value_info("x", &[2, 4, 3, 5])],
            vec![],
            "y",
        )
    };
    let x = Tensor::random(vec![2, 4, 3, 5], 9);
    let g = import_bytes(&cast(1), &ImportOptions::default()).unwrap();
    let y = wgconv::graph::cpu::run(&g, std::slice::from_ref(&x)).unwrap();
    assert_eq!(y[0], x);
    let e = import_err(&cast(10));
    assert!(e.contains("\"c\"") && e.contains("Cast"), "{e}");
}
