//! The accepted opsets (1 to 25; below 7 only ops defined as at 7) and the ops whose import depends on the opset, each pinned
//! by one small model at two opsets. These run on the CPU reference only.

use wgconv::graph::{Graph, Op};
use wgconv::onnx::proto::{AttributeProto, NodeProto, TensorProto, ValueInfoProto};
use wgconv::onnx::{ImportOptions, import_bytes};
use wgconv::tensor::Tensor;

use super::{attr_i, attr_ints, attr_s, floats, int64s, model_at, node, value_info};

fn with(n: NodeProto, attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        attribute: attrs,
        ..n
    }
}

/// Imports one node reading `x` of `shape` at `opset`; the error text on failure.
fn import_at(
    opset: i64,
    n: NodeProto,
    shape: &[i64],
    init: Vec<TensorProto>,
) -> Result<Graph, String> {
    let out = n.output[0].clone();
    let bytes = model_at(opset, vec![n], vec![value_info("x", shape)], init, &out);
    import_bytes(&bytes, &ImportOptions::default()).map_err(|e| e.to_string())
}

fn refused(r: Result<Graph, String>, wants: &[&str]) {
    let Err(err) = r else {
        panic!("accepted; wanted an error with {wants:?}")
    };
    for w in wants {
        assert!(err.contains(w), "{w:?} not in: {err}");
    }
}

fn out_shapes(g: &Graph) -> Vec<Vec<usize>> {
    g.outputs().iter().map(|&v| g.shape(v).to_vec()).collect()
}

/// Opsets 7 to 25 are read as declared; 1 to 6 when every node's op has the definition it has at
/// 7 (Relu changed at 6, Not never); others are refused naming the range.
#[test]
fn opsets_1_to_25_are_accepted_and_others_refused() {
    for opset in [6, 7, 13, 22, 23, 25] {
        import_at(opset, node("Relu", "r", &["x"], &["y"]), &[1, 2], vec![])
            .unwrap_or_else(|e| panic!("opset {opset}: {e}"));
    }
    for opset in [1, 5] {
        import_at(opset, node("Not", "n", &["x"], &["y"]), &[1, 2], vec![])
            .unwrap_or_else(|e| panic!("opset {opset}: {e}"));
        let r = import_at(opset, node("Relu", "r", &["x"], &["y"]), &[1, 2], vec![]);
        refused(
            r,
            &["\"r\" (Relu)", &format!("opset {opset}"), "from opset 6"],
        );
    }
    // An op that appeared after 7 stays refused below it.
    let r = import_at(3, node("Erf", "e", &["x"], &["y"]), &[1, 2], vec![]);
    refused(r, &["\"e\" (Erf)", "from opset 9"]);
    for (opset, why) in [(26, "newer"), (0, "older")] {
        let r = import_at(opset, node("Relu", "r", &["x"], &["y"]), &[1, 2], vec![]);
        refused(r, &[&format!("opset {opset}"), why, "1..=25"]);
    }
}

/// Softmax before opset 13 normalises over the input coerced to 2-D at `axis` (all trailing
/// dims at once); from 13 over `axis` alone.
#[test]
fn softmax_coerced_2d_before_13_single_axis_from_13() {
    let x = Tensor::random(vec![2, 3, 4], 3);
    let sums = |opset: i64| {
        let n = with(
            node("Softmax", "s", &["x"], &["y"]),
            vec![attr_i("axis", 1)],
        );
        let g = import_at(opset, n, &[2, 3, 4], vec![]).unwrap();
        let y = wgconv::graph::cpu::run(&g, std::slice::from_ref(&x)).unwrap();
        assert_eq!(y[0].shape(), &[2, 3, 4]);
        y[0].data().to_vec()
    };
    let old = sums(11);
    for b in 0..2 {
        let s: f32 = old[b * 12..(b + 1) * 12].iter().sum();
        assert!((s - 1.0).abs() < 1e-5, "opset 11 batch {b}: {s}");
    }
    let new = sums(13);
    for b in 0..2 {
        for w in 0..4 {
            let s: f32 = (0..3).map(|c| new[b * 12 + c * 4 + w]).sum();
            assert!((s - 1.0).abs() < 1e-5, "opset 13 ({b}, {w}): {s}");
        }
    }
}

/// Split: `split` is an attribute before 13 and an input from 13; `num_outputs` (18) allows
/// a smaller last part, which before 18 is an error.
#[test]
fn split_sizes_attribute_input_and_num_outputs() {
    let split = |inputs: &[&str], outs: &[&str]| node("Split", "sp", inputs, outs);
    let attr = with(
        split(&["x"], &["a", "b"]),
        vec![attr_ints("split", &[1, 4])],
    );
    let g = import_at(11, attr.clone(), &[5, 2], vec![]).unwrap();
    assert_eq!(out_shapes(&g), [vec![1, 2]]);
    refused(
        import_at(13, attr, &[5, 2], vec![]),
        &["\"sp\" (Split)", "opset 13", "attribute split", "input 1"],
    );
    let input = split(&["x", "s"], &["a", "b"]);
    let g = import_at(13, input.clone(), &[5, 2], vec![int64s("s", &[2, 3])]).unwrap();
    assert_eq!(out_shapes(&g), [vec![2, 2]]);
    refused(
        import_at(11, input, &[5, 2], vec![int64s("s", &[2, 3])]),
        &["opset 11", "input 1 (split)", "from opset 13"],
    );
    let three = with(
        split(&["x"], &["a", "b", "c"]),
        vec![attr_i("num_outputs", 3)],
    );
    // The graph output is the third part: 5 = 2 + 2 + 1.
    let bytes = model_at(
        18,
        vec![three.clone()],
        vec![value_info("x", &[5, 2])],
        vec![],
        "c",
    );
    let g = import_bytes(&bytes, &ImportOptions::default()).unwrap();
    assert_eq!(out_shapes(&g), [vec![1, 2]]);
    refused(
        import_at(17, three, &[5, 2], vec![]),
        &["attribute num_outputs", "from opset 18"],
    );
    refused(
        import_at(13, split(&["x"], &["a", "b", "c"]), &[5, 2], vec![]),
        &["5 does not split into 3 equal parts"],
    );
}

/// Squeeze / Unsqueeze `axes`: an attribute before 13, an input from 13.
#[test]
fn unsqueeze_axes_attribute_before_13_input_from_13() {
    let attr = with(
        node("Unsqueeze", "u", &["x"], &["y"]),
        vec![attr_ints("axes", &[0])],
    );
    let g = import_at(12, attr.clone(), &[2, 3], vec![]).unwrap();
    assert_eq!(out_shapes(&g), [vec![1, 2, 3]]);
    refused(import_at(13, attr, &[2, 3], vec![]), &["attribute axes"]);
    let input = node("Squeeze", "s", &["x", "ax"], &["y"]);
    let g = import_at(13, input.clone(), &[2, 1, 3], vec![int64s("ax", &[1])]).unwrap();
    assert_eq!(out_shapes(&g), [vec![2, 3]]);
    refused(
        import_at(12, input, &[2, 1, 3], vec![int64s("ax", &[1])]),
        &["input 1 (axes)"],
    );
}

/// ReduceMean `axes`: an attribute before 18, an input from 18.
#[test]
fn reduce_mean_axes_attribute_before_18_input_from_18() {
    let attr = with(
        node("ReduceMean", "m", &["x"], &["y"]),
        vec![attr_ints("axes", &[2, 3])],
    );
    let g = import_at(17, attr.clone(), &[1, 2, 3, 3], vec![]).unwrap();
    assert_eq!(out_shapes(&g), [vec![1, 2, 1, 1]]);
    refused(import_at(18, attr, &[1, 2, 3, 3], vec![]), &["opset 18"]);
    let input = node("ReduceMean", "m", &["x", "ax"], &["y"]);
    let ax = || vec![int64s("ax", &[2, 3])];
    let g = import_at(18, input.clone(), &[1, 2, 3, 3], ax()).unwrap();
    assert_eq!(out_shapes(&g), [vec![1, 2, 1, 1]]);
    refused(
        import_at(17, input, &[1, 2, 3, 3], ax()),
        &["input 1 (axes)"],
    );
    // From 18 an absent or empty axes input means every axis (keepdims: all ones);
    // noop_with_empty_axes exists only from 18.
    let all = node("ReduceMean", "m", &["x", "e"], &["y"]);
    let g = import_at(18, all, &[1, 2, 3, 3], vec![int64s("e", &[])]).unwrap();
    assert_eq!(out_shapes(&g), [vec![1, 1, 1, 1]]);
    let noop = with(
        node("ReduceMean", "m", &["x"], &["y"]),
        vec![attr_i("noop_with_empty_axes", 1)],
    );
    refused(
        import_at(17, noop, &[1, 2, 3, 3], vec![]),
        &["noop_with_empty_axes", "from opset 18"],
    );
}

/// Clip bounds and Pad's pads: attributes before 11, inputs from 11.
#[test]
fn clip_and_pad_attributes_before_11() {
    let clip = with(
        node("Clip", "c", &["x"], &["y"]),
        vec![
            AttributeProto {
                name: Some("min".into()),
                f: Some(0.0),
                r#type: Some(1),
                ..Default::default()
            },
            AttributeProto {
                name: Some("max".into()),
                f: Some(6.0),
                r#type: Some(1),
                ..Default::default()
            },
        ],
    );
    let g = import_at(10, clip.clone(), &[1, 2], vec![]).unwrap();
    assert!(matches!(g.nodes()[0].op, Op::Activation(_)));
    refused(import_at(11, clip, &[1, 2], vec![]), &["attribute max"]);
    let by_input = || vec![floats("lo", &[0.0]), floats("hi", &[6.0])];
    let clip = node("Clip", "c", &["x", "lo", "hi"], &["y"]);
    import_at(11, clip.clone(), &[1, 2], by_input()).unwrap();
    refused(import_at(10, clip, &[1, 2], by_input()), &["input 1 (min)"]);
    let pad = with(
        node("Pad", "p", &["x"], &["y"]),
        vec![attr_ints("pads", &[0, 1, 0, 1])],
    );
    let g = import_at(10, pad.clone(), &[1, 2], vec![]).unwrap();
    assert_eq!(out_shapes(&g), [vec![1, 4]]);
    refused(import_at(11, pad, &[1, 2], vec![]), &["attribute pads"]);
}

/// Reshape `allowzero` exists from opset 14; Upsample only up to 9 (deprecated at 10).
#[test]
fn reshape_allowzero_from_14_upsample_until_9() {
    let reshape = with(
        node("Reshape", "r", &["x", "t"], &["y"]),
        vec![attr_i("allowzero", 1)],
    );
    let t = || vec![int64s("t", &[3, 2])];
    let g = import_at(14, reshape.clone(), &[2, 3], t()).unwrap();
    assert_eq!(out_shapes(&g), [vec![3, 2]]);
    refused(
        import_at(13, reshape, &[2, 3], t()),
        &["attribute allowzero", "from opset 14"],
    );
    let up = node("Upsample", "up", &["x", "s"], &["y"]);
    let s = || vec![floats("s", &[1.0, 1.0, 2.0, 2.0])];
    let g = import_at(9, up.clone(), &[1, 1, 2, 2], s()).unwrap();
    assert_eq!(out_shapes(&g), [vec![1, 1, 4, 4]]);
    refused(
        import_at(10, up, &[1, 1, 2, 2], s()),
        &["\"up\" (Upsample)", "opset 10", "deprecated", "Resize"],
    );
}

/// Resize coordinate modes by opset: none at 10, tf_half_pixel_for_nn until 17,
/// half_pixel_symmetric from 19; mode cubic from 11.
#[test]
fn resize_coordinate_modes_by_opset() {
    let resize = |mode: &str| {
        with(
            node("Resize", "rs", &["x", "", "s"], &["y"]),
            vec![attr_s("coordinate_transformation_mode", mode)],
        )
    };
    let s = || vec![floats("s", &[1.0, 1.0, 2.0, 2.0])];
    let at = |opset, mode| import_at(opset, resize(mode), &[1, 1, 2, 2], s());
    at(17, "tf_half_pixel_for_nn").unwrap();
    refused(at(18, "tf_half_pixel_for_nn"), &["removed at opset 18"]);
    at(19, "half_pixel_symmetric").unwrap();
    refused(at(18, "half_pixel_symmetric"), &["from opset 19"]);
    let ten = with(
        node("Resize", "rs", &["x", "s"], &["y"]),
        vec![attr_s("coordinate_transformation_mode", "align_corners")],
    );
    refused(
        import_at(10, ten, &[1, 1, 2, 2], s()),
        &["attribute coordinate_transformation_mode", "from opset 11"],
    );
    let cubic = with(
        node("Resize", "rs", &["x", "s"], &["y"]),
        vec![attr_s("mode", "cubic")],
    );
    refused(
        import_at(10, cubic, &[1, 1, 2, 2], s()),
        &["\"rs\" (Resize)", "cubic", "from opset 11"],
    );
    let eleven = with(
        node("Resize", "rs", &["x", "", "s"], &["y"]),
        vec![attr_s("mode", "cubic")],
    );
    import_at(11, eleven, &[1, 1, 2, 2], s()).unwrap();
}

/// Dropout from opset 12 takes `training_mode` as an input: true (with a nonzero ratio) drops
/// random elements and is refused; false is the identity.
#[test]
fn dropout_training_mode_is_refused() {
    let bool_t = |v: i32| TensorProto {
        name: Some("t".into()),
        data_type: Some(9),
        int32_data: vec![v],
        ..Default::default()
    };
    let relu = node("Relu", "r", &["d"], &["y"]);
    let bytes = |t: i32| {
        model_at(
            12,
            vec![
                node("Dropout", "drop", &["x", "", "t"], &["d"]),
                relu.clone(),
            ],
            vec![value_info("x", &[1, 2])],
            vec![bool_t(t)],
            "y",
        )
    };
    import_bytes(&bytes(0), &ImportOptions::default()).unwrap();
    let err = import_bytes(&bytes(1), &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"drop\" (Dropout)") && err.contains("training_mode"),
        "{err}"
    );
}

/// The narrow element types of opsets 19-25 are refused by name, not misread.
#[test]
fn narrow_element_types_are_refused() {
    let mut input: ValueInfoProto = value_info("x", &[1, 2]);
    if let Some(wgconv::onnx::proto::type_proto::Value::TensorType(t)) =
        input.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.elem_type = Some(17);
    }
    let bytes = model_at(
        23,
        vec![node("Relu", "r", &["x"], &["y"])],
        vec![input],
        vec![],
        "y",
    );
    let err = import_bytes(&bytes, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("FLOAT8E4M3FN"), "{err}");
    let w = TensorProto {
        name: Some("w".into()),
        dims: vec![2],
        data_type: Some(21),
        raw_data: Some(vec![0x21]),
        ..Default::default()
    };
    let r = import_at(24, node("Add", "a", &["x", "w"], &["y"]), &[1, 2], vec![w]);
    refused(r, &["\"w\"", "UINT4"]);
    let cast = with(node("Cast", "c", &["k"], &["kc"]), vec![attr_i("to", 23)]);
    let bytes = model_at(
        25,
        vec![cast, node("Reshape", "r", &["x", "kc"], &["y"])],
        vec![value_info("x", &[1, 2])],
        vec![int64s("k", &[2])],
        "y",
    );
    let err = import_bytes(&bytes, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"c\" (Cast)") && err.contains("FLOAT4E2M1"),
        "{err}"
    );
}

/// The README's list of supported ops, between its markers: `SUPPORTED_OPS`, wrapped.
fn readme_ops_block() -> String {
    let mut lines = vec![String::new()];
    let n = wgconv::onnx::SUPPORTED_OPS.len();
    for (i, op) in wgconv::onnx::SUPPORTED_OPS.iter().enumerate() {
        let item = format!("`{op}`{}", if i + 1 < n { "," } else { "." });
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.len() + 1 + item.len() > 95 {
            lines.push(item);
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(&item);
        }
    }
    lines.join("\n") + "\n"
}

#[test]
fn readme_lists_the_supported_ops() {
    const START: &str = "<!-- supported-ops:start -->\n";
    const END: &str = "<!-- supported-ops:end -->";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = text.split_once(START).expect("README has the start marker");
    let (listed, tail) = rest.split_once(END).expect("README has the end marker");
    let want = readme_ops_block();
    if listed == want {
        return;
    }
    if std::env::var_os("WGCONV_README_BLESS").is_some() {
        std::fs::write(&path, format!("{head}{START}{want}{END}{tail}")).unwrap();
        return;
    }
    panic!(
        "README.md's supported-ops list differs from SUPPORTED_OPS (WGCONV_README_BLESS=1 rewrites it); it should read:\n{want}"
    );
}

/// ArgMax's select_last_index exists from opset 12 (then it picks the last-index kind);
/// LessOrEqual / GreaterOrEqual from 12, Where from 9.
#[test]
fn arg_and_logic_ops_by_opset() {
    let arg = with(
        node("ArgMax", "am", &["x"], &["y"]),
        vec![attr_i("axis", 1), attr_i("select_last_index", 1)],
    );
    refused(
        import_at(11, arg.clone(), &[2, 5], vec![]),
        &["select_last_index"],
    );
    let g = import_at(12, arg, &[2, 5], vec![]).unwrap();
    assert_eq!(out_shapes(&g), [vec![2, 1]]);
    assert!(g.nodes().iter().any(|n| matches!(
        &n.op,
        Op::Reduce(s) if s.kind == wgconv::ops::ReduceKind::ArgMaxLast && s.axes == [1]
    )));
    let le = node("LessOrEqual", "le", &["x", "x"], &["y"]);
    refused(import_at(11, le.clone(), &[2, 5], vec![]), &["opset 12"]);
    assert_eq!(
        out_shapes(&import_at(12, le, &[2, 5], vec![]).unwrap()),
        [vec![2, 5]]
    );
    let w = node("Where", "w", &["x", "x", "x"], &["y"]);
    refused(import_at(8, w.clone(), &[3], vec![]), &["opset 9"]);
    assert_eq!(
        out_shapes(&import_at(9, w, &[3], vec![]).unwrap()),
        [vec![3]]
    );
    // A comparison reads a constant operand as a Constant node.
    let lt = node("Less", "lt", &["x", "c"], &["y"]);
    let g = import_at(13, lt, &[2, 5], vec![floats("c", &[0.5])]).unwrap();
    assert!(
        g.nodes()
            .iter()
            .any(|n| matches!(n.op, Op::Constant { .. }))
    );
    assert_eq!(out_shapes(&g), [vec![2, 5]]);
}
