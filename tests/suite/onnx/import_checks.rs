//! Unsupported and malformed models, and dynamic inputs and weights given as graph inputs.

use prost::Message;
use wgconv::onnx::proto::ModelProto;
use wgconv::onnx::{ImportOptions, import_bytes};
use wgconv::ops::Activation;
use wgconv::session::Session;
use wgconv::tensor::Tensor;

use super::{check, model, node, value_info, weight};
use crate::common::gpu;

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
/// (IR 3) are weights, and weights passed as graph inputs are read at run time or, given as
/// constants, at import.
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
    let x = Tensor::random(vec![2, 3, 5, 5], 3);
    let mut opts = ImportOptions::default();
    opts.input_shapes.insert("x".into(), vec![2, 3, 5, 5]);
    // Without a value the weight is read at run time, and gives what the constant gives.
    let g = import_bytes(&bytes, &opts).unwrap();
    assert_eq!(g.inputs().len(), 2);
    let runtime = Session::new(gpu(), &g)
        .unwrap()
        .run_named(&[("x", &x), ("w", &w)])
        .unwrap()
        .remove(0)
        .1;
    opts.constants.insert("w".into(), w.clone());
    let g = import_bytes(&bytes, &opts).unwrap();
    assert_eq!(g.inputs().len(), 1);
    assert_eq!(g.shape(g.outputs()[0]), &[2, 4, 3, 3]);
    let got = Session::new(gpu(), &g)
        .unwrap()
        .run(std::slice::from_ref(&x))
        .unwrap();
    let b = Tensor::new(vec![4], Tensor::random(vec![4], 2).into_data()).unwrap();
    let want =
        wgconv::reference::conv::conv(&wgconv::ops::ConvSpec::conv2d(3, 3), &x, &w, Some(&b))
            .unwrap();
    check("conv with weight input", &got[0], &want);
    check("conv with weight fed at run time", &runtime, &want);
    // A run-time weight that does not fit the data is refused naming the node.
    let bad = model(
        vec![node("Conv", "c", &["x", "w"], &["y"])],
        vec![
            value_info("x", &[1, 3, 5, 5]),
            value_info("w", &[4, 2, 3, 3]),
        ],
        vec![],
        "y",
    );
    let e = import_bytes(&bad, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"c\"") && e.contains("\"w\""), "{e}");
    let _ = Activation::Relu;
}
