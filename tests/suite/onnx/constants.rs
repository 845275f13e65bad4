//! ONNX constants where the engine needs a computed tensor: graph outputs that fold to
//! constants (Shape, int64 arithmetic), constant operands of any shape (a Constant node), and
//! the refusal of integers that f32 cannot hold exactly.

use wgconv::graph::Op;
use wgconv::onnx::{ImportOptions, import_bytes};
use wgconv::session::Session;
use wgconv::tensor::Tensor;

use super::{check, floats, int64s, model, node, run_model, value_info};
use crate::common::gpu;

/// `Shape(x) + [10, 20, 30]` folds on the host; the output is a Constant node of floats.
#[test]
fn constant_outputs_run() {
    let bytes = model(
        vec![
            node("Shape", "s", &["x"], &["s"]),
            node("Add", "a", &["s", "c"], &["y"]),
        ],
        vec![value_info("x", &[2, 3, 4])],
        vec![int64s("c", &[10, 20, 30])],
        "y",
    );
    let g = import_bytes(&bytes, &ImportOptions::default()).unwrap();
    assert!(matches!(g.nodes()[0].op, Op::Constant { .. }));
    let x = Tensor::random(vec![2, 3, 4], 1);
    let got = Session::new(gpu(), &g).unwrap().run(&[x]).unwrap();
    assert_eq!(got[0].data(), [12.0, 23.0, 34.0]);
}

/// `Where(x < c, c, x)` (the maximum) with `c` of shape `[3, 1]`: the constant is read by Less and Where.
#[test]
fn constant_operands_of_any_shape() {
    let c = [0.5f32, -1.0, 2.0];
    let mut ct = floats("c", &c);
    ct.dims = vec![3, 1];
    let bytes = model(
        vec![
            node("Less", "lt", &["x", "c"], &["m"]),
            node("Where", "w", &["m", "c", "x"], &["y"]),
        ],
        vec![value_info("x", &[2, 3, 4])],
        vec![ct],
        "y",
    );
    let x = Tensor::random_range(vec![2, 3, 4], 2, -2.0, 2.0);
    let (g, y) = run_model(&bytes, &x);
    // One Constant node for both readers.
    let constants = g
        .nodes()
        .iter()
        .filter(|n| matches!(n.op, Op::Constant { .. }))
        .count();
    assert_eq!(constants, 1);
    let want: Vec<f32> = x
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| v.max(c[(i / 4) % 3]))
        .collect();
    check("max(x, c)", &y, &Tensor::new(vec![2, 3, 4], want).unwrap());
}

/// An int64 constant beyond 2^24 has no exact f32: refused naming the output.
#[test]
fn large_integer_constants_are_refused() {
    let bytes = model(
        vec![],
        vec![value_info("x", &[1])],
        vec![int64s("big", &[3, 1 << 25])],
        "big",
    );
    let err = import_bytes(&bytes, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("output \"big\"") && err.contains("2^24"),
        "{err}"
    );
}

/// Dropout's mask in inference, and in training with a ratio of 0, keeps every element: a
/// constant of ones with the input's shape.
#[test]
fn dropout_mask_is_all_ones() {
    let x = Tensor::random(vec![2, 3], 3);
    let inference = node("Dropout", "d", &["x"], &["y", "m"]);
    let training = node("Dropout", "d", &["x", "r", "t"], &["y", "m"]);
    for n in [inference, training] {
        let bytes = model(
            vec![n],
            vec![value_info("x", &[2, 3])],
            vec![floats("r", &[0.0]), int64s("t", &[1])],
            "m",
        );
        let g = import_bytes(&bytes, &ImportOptions::default()).unwrap();
        let got = Session::new(gpu(), &g)
            .unwrap()
            .run(std::slice::from_ref(&x))
            .unwrap();
        assert_eq!(got[0], Tensor::new(vec![2, 3], vec![1.0; 6]).unwrap());
    }
}
