//! Hand-written models of ops exporters write in several forms: Upsample and Resize, GELU
//! groupings and standalone Erf, Pad.

use wgconv::graph::Op;
use wgconv::onnx::proto::{AttributeProto, NodeProto, TensorProto};
use wgconv::onnx::{ImportOptions, import_bytes};
use wgconv::ops::{Activation, CoordinateMode, NearestMode, ResizeMode, ResizeSpec};
use wgconv::tensor::Tensor;

use super::{
    attr_f, attr_ints, attr_s, check, floats, int64s, model, model_at, node, run_model, scalar,
    value_info, weight,
};

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

/// Resize-13 with sizes (and an empty roi / scales), nearest round_prefer_ceil; mode=cubic
/// imported as the cubic resize; an unknown mode listed as unsupported.
#[test]
fn resize_sizes_input_cubic_and_unknown_mode() {
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
    let (g, _) = run_model(&bytes("cubic"), &x);
    assert!(
        matches!(&g.nodes()[0].op, Op::Resize(s) if s.mode == ResizeMode::Cubic && s.cubic_a == -0.75),
        "{:?}",
        g.nodes()[0].op
    );
    let err = import_bytes(&bytes("lanczos"), &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"rs\" (Resize)") && err.contains("lanczos"),
        "{err}"
    );
}

/// GELU written by hand in other groupings: (x * 0.5) * (1 + erf(x * 0.70710678)) and
/// x * ((erf(x / 1.41421) + 1) * 0.5) both import as one GELU; an Erf outside the pattern
/// is the Erf activation.
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
    // erf(x) alone is the Erf activation; erf(x / sqrt(2)) + 1 fed to a Relu is the steps as
    // written (the partial GELU read by something else than GELU's next step).
    let x = Tensor::random_range(vec![1, 4], 8, -3.0, 3.0);
    let alone = model(
        vec![node("Erf", "lonely_erf", &["x"], &["y"])],
        vec![value_info("x", &[1, 4])],
        vec![],
        "y",
    );
    let (g, y) = run_model(&alone, &x);
    assert!(matches!(g.nodes()[0].op, Op::Activation(Activation::Erf)));
    check(
        "erf alone",
        &y,
        &wgconv::reference::eltwise::unary(Activation::Erf, &x),
    );
    let relu_of_partial = model(
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
    let (g, y) = run_model(&relu_of_partial, &x);
    assert!(
        !g.nodes()
            .iter()
            .any(|n| matches!(n.op, Op::Activation(Activation::Gelu))),
        "{:?}",
        g.nodes()
    );
    let want = Tensor::new(
        x.shape().to_vec(),
        x.data()
            .iter()
            .map(|&v| (libm::erf(v as f64 / std::f64::consts::SQRT_2) + 1.0).max(0.0) as f32)
            .collect(),
    )
    .unwrap();
    check("relu(erf(x / sqrt(2)) + 1)", &y, &want);
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

/// Resize-19 tf_crop_and_resize over axes [3, 2] (roi and sizes follow that order): columns
/// 0.25..1.25 of [0, 10, 20, 30, 40] sample 1, 3, 5 -> [10, 30, extrapolation_value]. Scales
/// with a crop, and a crop of C, are refused naming the node.
#[test]
fn resize_crop_over_axes_and_its_refusals() {
    let bytes = |inputs: &[&str], roi: &[f32], axes: &[i64], inits: Vec<TensorProto>| {
        model_at(
            19,
            vec![NodeProto {
                attribute: vec![
                    attr_s("mode", "linear"),
                    attr_s("coordinate_transformation_mode", "tf_crop_and_resize"),
                    attr_f("extrapolation_value", -1.0),
                    attr_ints("axes", axes),
                ],
                ..node("Resize", "crop", inputs, &["y"])
            }],
            vec![value_info("x", &[1, 2, 1, 5])],
            [vec![floats("roi", roi)], inits].concat(),
            "y",
        )
    };
    let x = Tensor::new(vec![1, 2, 1, 5], [0., 10., 20., 30., 40.].repeat(2)).unwrap();
    let crop = bytes(
        &["x", "roi", "", "sz"],
        &[0.25, 0.0, 1.25, 1.0],
        &[3, 2],
        vec![int64s("sz", &[3, 1])],
    );
    let (_, y) = run_model(&crop, &x);
    assert_eq!(y.shape(), &[1, 2, 1, 3]);
    assert_eq!(y.data(), &[10., 30., -1., 10., 30., -1.]);
    for (what, inputs, roi, axes, init) in [
        (
            "give sizes",
            ["x", "roi", "s", ""],
            [0.25, 1.25],
            [3],
            floats("s", &[0.6]),
        ),
        (
            "axis 1",
            ["x", "roi", "", "sz"],
            [0.5, 1.0],
            [1],
            int64s("sz", &[2]),
        ),
    ] {
        let err = import_bytes(
            &bytes(&inputs, &roi, &axes, vec![init]),
            &ImportOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("\"crop\" (Resize)") && err.contains(what),
            "{err}"
        );
    }
}
