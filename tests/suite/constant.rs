//! Constant nodes (a host tensor uploaded as a parameter, one strided copy into the output's
//! region) on the device against the CPU reference in every precision, read by a broadcasting
//! node, as the only output, split to fit a small binding limit, and their errors; empty
//! tensors (an empty slice, an empty constant, an empty part of a concat) end to end.

use proptest::prelude::*;
use wgconv::Precision;
use wgconv::graph::{Graph, Op, cpu};
use wgconv::ops::{Activation, BinaryOp};
use wgconv::plan::{PlanOptions, default_target, lower};
use wgconv::session::{Session, SessionOptions};
use wgconv::tensor::Tensor;

use crate::common::gpu;

/// Random values in [-2, 2) rounded to f16, so that copies and comparisons are exact in every
/// precision.
fn values(shape: &[usize], seed: u64) -> Tensor {
    let t = Tensor::random_range(shape.to_vec(), seed, -2.0, 2.0);
    let v = t.data().iter().map(|&x| Precision::F16.round(x)).collect();
    Tensor::new(shape.to_vec(), v).unwrap()
}

fn session(g: &Graph, p: Precision) -> Session<'static> {
    let opts = SessionOptions {
        precision: Some(p),
        ..Default::default()
    };
    Session::with_options(gpu(), g, opts).unwrap()
}

/// `k = Constant(value)` and `x < k` (broadcast), both outputs, equal to the reference exactly.
fn check(value_shape: &[usize], x_shape: &[usize], seed: u64) {
    let value = values(value_shape, seed);
    let x = values(x_shape, seed + 1);
    let mut g = Graph::new();
    let xi = g.input("x", x_shape);
    let k = g
        .add(
            "k",
            Op::Constant {
                value: value.clone(),
            },
            &[],
        )
        .unwrap();
    let less = Op::Binary {
        op: BinaryOp::Less,
        activation: Activation::Identity,
    };
    let y = g.add("lt", less, &[xi, k]).unwrap();
    g.output(k);
    g.output(y);
    let want = cpu::run(&g, std::slice::from_ref(&x)).unwrap();
    assert_eq!(want[0], value);
    for p in Precision::ALL {
        let got = session(&g, p).run(std::slice::from_ref(&x)).unwrap();
        assert_eq!(got, want, "{p}: constant {value_shape:?}, x {x_shape:?}");
    }
}

#[test]
fn constant_pinned() {
    for (value, x) in [
        // A scalar, and the ONNX Shape / Size outputs' ranks.
        (vec![], vec![2, 3]),
        (vec![1], vec![5]),
        (vec![3, 1], vec![2, 3, 4]),
        // The constant is the larger operand: the output takes its shape.
        (vec![2, 3, 4], vec![4]),
        (vec![7, 5, 3], vec![7, 1, 3]),
        (vec![1, 1, 1, 1], vec![1]),
        (vec![3, 1, 5, 2], vec![3, 4, 1, 2]),
    ] {
        check(&value, &x, 3);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn random_constant(
        dims in prop::collection::vec(1usize..6, 0..5),
        ones in prop::collection::vec(any::<bool>(), 5),
        drop in 0usize..2, seed in 0u64..100,
    ) {
        let x: Vec<usize> = dims
            .iter()
            .zip(&ones)
            .map(|(&d, &o)| if o { 1 } else { d })
            .skip(drop.min(dims.len()))
            .collect();
        check(&dims, &x, seed);
    }
}

/// A graph whose only output is a constant (ONNX `Shape` of an input) runs, its input unread.
#[test]
fn constant_output_with_an_unread_input() {
    let value = Tensor::new(vec![3], vec![2.0, 3.0, 4.0]).unwrap();
    let mut g = Graph::new();
    g.input("x", &[2, 3, 4]);
    let k = g
        .add(
            "shape",
            Op::Constant {
                value: value.clone(),
            },
            &[],
        )
        .unwrap();
    g.output(k);
    let x = Tensor::random(vec![2, 3, 4], 1);
    for p in Precision::ALL {
        assert_eq!(
            session(&g, p).run(std::slice::from_ref(&x)).unwrap()[0],
            value
        );
    }
}

/// A constant beyond a 1 KiB binding limit lowers to chunk copies binding within the limit.
#[test]
fn constant_split() {
    let value = values(&[4, 16, 32], 5);
    let mut g = Graph::new();
    g.input("x", &[1]);
    let k = g
        .add(
            "k",
            Op::Constant {
                value: value.clone(),
            },
            &[],
        )
        .unwrap();
    g.output(k);
    let mut target = default_target();
    target.limits.max_storage_buffer_binding_size = 1 << 10;
    let p = lower(&g, &target, &PlanOptions::default()).unwrap();
    assert!(p.steps[0].split && p.dispatch_count() > 1);
    for l in p.launches() {
        assert!(l.bindings.iter().all(|b| b.size <= 1 << 10));
    }
}

#[test]
fn constant_errors() {
    let mut g = Graph::new();
    let x = g.input("x", &[3]);
    let op = Op::Constant {
        value: Tensor::zeros(vec![3]),
    };
    let err = g.add("k", op, &[x]).unwrap_err().to_string();
    assert!(
        err.contains("\"k\" (constant)") && err.contains("0 input"),
        "{err}"
    );
}

/// Empty tensors end to end: an empty slice of the input and an empty constant as outputs, and
/// a concat of the input with both (their launches are skipped; nothing empty is bound).
#[test]
fn empty_tensors_run() {
    let mut g = Graph::new();
    let x = g.input("x", &[2, 3, 5]);
    let empty = Op::Slice {
        starts: vec![0, 3, 0],
        ends: vec![2, 3, 5],
        steps: vec![1, 1, 1],
    };
    let s = g.add("s", empty, &[x]).unwrap();
    let k = g
        .add(
            "k",
            Op::Constant {
                value: Tensor::zeros(vec![2, 0, 5]),
            },
            &[],
        )
        .unwrap();
    let c = g.add("c", Op::Concat { axis: 1 }, &[s, x, k]).unwrap();
    for v in [s, k, c] {
        g.output(v);
    }
    let x = values(&[2, 3, 5], 9);
    let want = cpu::run(&g, std::slice::from_ref(&x)).unwrap();
    assert_eq!(want[0].shape(), [2, 0, 5]);
    assert_eq!(want[2], x);
    for p in Precision::ALL {
        let s = session(&g, p);
        assert_eq!(
            s.plan().dispatch_count(),
            1,
            "{p}: only the concat's copy of x"
        );
        assert_eq!(s.run(std::slice::from_ref(&x)).unwrap(), want, "{p}");
    }
}
