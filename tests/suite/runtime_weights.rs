//! Weights given at run time: convolutions and transposed convolutions whose weight, bias and
//! residual are graph inputs, run in a session in every precision against the CPU reference
//! on the operands as the device stores them; such a convolution never runs Winograd (nor is
//! it autotuned), and one that would need splitting is a typed device-limit error.

use proptest::prelude::*;
use wgconv::compare::{F16Tolerance, Tolerance, compare, compare_f16};
use wgconv::graph::{Graph, Op, Operand, cpu};
use wgconv::kernels::algorithm::ConvAlgorithm;
use wgconv::ops::{Activation, ConvSpec, ConvTransposeSpec, Epilogue};
use wgconv::plan::{PlanOptions, lower};
use wgconv::problem::ConvProblem;
use wgconv::session::{Session, SessionOptions};
use wgconv::tensor::Tensor;
use wgconv::{Error, Precision};

use crate::common::gpu;
use crate::conv::conv_problem;
use crate::conv_transpose::{ConvTransposeProblem, problem as conv_transpose_problem};

/// The geometry of a convolution-like node, either kind.
#[derive(Clone, Debug)]
enum Kind {
    Conv(ConvSpec),
    Transpose(ConvTransposeSpec),
}

/// One node over graph inputs `x`, `w`, optional `b` and residual `r` (in that order), every
/// weight slot read at run time.
fn graph(kind: &Kind, shapes: &[&[usize]], bias: bool, residual: bool, act: Activation) -> Graph {
    let mut g = Graph::new();
    let names = ["x", "w", "b"];
    let mut ins: Vec<_> = (0..2 + bias as usize)
        .map(|i| g.input(names[i], shapes[i]))
        .collect();
    let slot = |i: usize| Operand::Input {
        index: i,
        shape: shapes[i].to_vec(),
    };
    let (weight, b) = (slot(1), bias.then(|| slot(2)));
    let epilogue = Epilogue {
        activation: act,
        residual,
        input_scale: false,
    };
    let op = match kind {
        Kind::Conv(spec) => Op::Conv {
            spec: spec.clone(),
            weight,
            bias: b,
            epilogue,
        },
        Kind::Transpose(spec) => Op::ConvTranspose {
            spec: spec.clone(),
            weight,
            bias: b,
            epilogue,
        },
    };
    let out = match kind {
        Kind::Conv(spec) => spec.output_shape(shapes[0], shapes[1]),
        Kind::Transpose(spec) => spec.output_shape(shapes[0], shapes[1]),
    }
    .unwrap();
    if residual {
        ins.push(g.input("r", &out));
    }
    let y = g.add("conv", op, &ins).unwrap();
    g.output(y);
    g
}

fn map(t: &Tensor, f: impl Fn(f32) -> f32) -> Tensor {
    Tensor::new(t.shape().to_vec(), t.data().iter().map(|&x| f(x)).collect()).unwrap()
}

/// Runs the node with inputs `data` (x, w, [b], [r]) in every precision against the CPU
/// executor on the same graph; `k` bounds the terms per output.
fn check(
    what: &str,
    kind: &Kind,
    data: &[Tensor],
    bias: bool,
    residual: bool,
    act: Activation,
    k: usize,
) {
    let shapes: Vec<&[usize]> = data.iter().map(Tensor::shape).collect();
    let g = graph(kind, &shapes, bias, residual, act);
    for p in Precision::ALL {
        // The device stores f16 operands; the reference sees them rounded the same way.
        let stored: Vec<Tensor> = match p {
            Precision::F32 => data.to_vec(),
            _ => data
                .iter()
                .map(|t| map(t, |x| Precision::F16.round(x)))
                .collect(),
        };
        let want = cpu::run(&g, &stored).unwrap().remove(0);
        let s = Session::with_options(
            gpu(),
            &g,
            SessionOptions {
                precision: Some(p),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{what} {p}: {e}"));
        let got = s.run(&stored).unwrap().remove(0);
        assert_eq!(got.shape(), want.shape(), "{what} {p}");
        let c = match p {
            Precision::F32 => compare(got.data(), want.data(), Tolerance::accumulation(k)),
            _ => {
                // Sums of absolute terms: the same node on |operands| without activation.
                let h = graph(kind, &shapes, bias, residual, Activation::Identity);
                let abs: Vec<Tensor> = stored.iter().map(|t| map(t, f32::abs)).collect();
                let sums = cpu::run(&h, &abs).unwrap().remove(0);
                let tol = F16Tolerance::new(k, p).slope(1.5);
                compare_f16(got.data(), want.data(), sums.data(), tol)
            }
        };
        assert!(c.passed(), "{what} {p}: {c}");
    }
}

fn conv_case(pr: &ConvProblem) {
    let d = pr.data().unwrap();
    let mut data = vec![d.x, d.w];
    data.extend(d.bias);
    data.extend(d.residual);
    let kind = Kind::Conv(pr.spec.clone());
    check(
        &format!("{pr:?}"),
        &kind,
        &data,
        pr.bias,
        pr.residual,
        pr.act,
        pr.k(),
    );
}

fn conv_transpose_case(pr: &ConvTransposeProblem) {
    let (xs, ws) = pr.shapes();
    let mut data = vec![Tensor::random(xs, pr.seed), Tensor::random(ws, pr.seed + 1)];
    if pr.bias {
        data.push(Tensor::random(vec![pr.o], pr.seed + 2));
    }
    if pr.residual {
        data.push(Tensor::random(pr.out_shape().unwrap(), pr.seed + 3));
    }
    let kind = Kind::Transpose(pr.spec.clone());
    let what = format!("{pr:?}");
    check(
        &what,
        &kind,
        &data,
        pr.bias,
        pr.residual,
        pr.act,
        pr.terms(),
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    /// Ranks 1-3, groups, stride, dilation, padding, bias or not, residual, batch 1-3.
    #[test]
    fn conv_with_runtime_weights(pr in conv_problem()) {
        conv_case(&pr);
    }

    /// Ranks 1-3, groups, stride, padding, output padding, bias or not, batch 1-2.
    #[test]
    fn conv_transpose_with_runtime_weights(pr in conv_transpose_problem()) {
        conv_transpose_case(&pr);
    }
}

/// Pinned: grouped, strided, dilated, asymmetric padding, batch 2, one input channel per group.
#[test]
fn grouped_strided_dilated_batch() {
    let spec = ConvSpec {
        kernel: vec![3, 2],
        stride: vec![2, 1],
        pad_begin: vec![1, 0],
        pad_end: vec![2, 1],
        dilation: vec![2, 1],
        groups: 3,
    };
    for bias in [false, true] {
        conv_case(
            &ConvProblem::new(spec.clone(), &[2, 3, 9, 7], 6)
                .bias(bias)
                .seed(5),
        );
    }
}

/// A shape the heuristic runs as Winograd with constant weights runs single-pass when they
/// are given at run time (Winograd transforms them on the host), and still matches.
#[test]
fn runtime_weights_never_run_winograd() {
    let spec = ConvSpec::conv2d(3, 3).pad(1);
    let pr = ConvProblem::new(spec.clone(), &[1, 64, 16, 16], 64).bias(true);
    let d = pr.data().unwrap();
    let shapes: Vec<&[usize]> = vec![d.x.shape(), d.w.shape(), &[64]];
    let g = graph(
        &Kind::Conv(spec),
        &shapes,
        true,
        false,
        Activation::Identity,
    );
    let target = gpu().target();
    let plan = lower(&g, target, &PlanOptions::default()).unwrap();
    let a = plan.steps[0].algorithm.expect("a convolution");
    assert!(!a.transforms_weights(), "{a:?}");
    assert!(
        plan.steps[0].params.is_empty(),
        "run-time weights are no parameters"
    );
    // With constant weights the same shape does run Winograd (the fused kernel).
    let mut c = Graph::new();
    let x = c.input("x", d.x.shape());
    let y = c
        .conv(x, "conv", pr.spec.clone(), d.w.clone(), d.bias.clone())
        .unwrap();
    c.output(y);
    let plan = lower(&c, target, &PlanOptions::default()).unwrap();
    assert_eq!(plan.steps[0].algorithm, Some(ConvAlgorithm::WinogradFused));
    // Asking for Winograd on run-time weights is refused naming the node.
    let mut opts = PlanOptions::default();
    opts.algorithms
        .insert(wgconv::graph::NodeId(0), plan.steps[0].algorithm.unwrap());
    let e = lower(&g, target, &opts).unwrap_err().to_string();
    assert!(e.contains("\"conv\"") && e.contains("run time"), "{e}");
    // The autotuner leaves it to the heuristic's untransformed choice.
    let tuned = SessionOptions {
        autotune: true,
        ..Default::default()
    };
    let s = Session::with_options(gpu(), &g, tuned).unwrap();
    let a = s.plan().steps[0].algorithm.expect("a convolution");
    assert!(!a.transforms_weights(), "{a:?}");
    conv_case(&pr);
}

/// A run-time weight is bound whole: a node that would need splitting is a typed device-limit
/// error naming it, not a wrong cut.
#[test]
fn oversized_runtime_conv_is_a_device_limit() {
    let spec = ConvSpec::conv2d(3, 3).pad(1);
    let shapes: Vec<&[usize]> = vec![&[4, 8, 32, 32], &[8, 8, 3, 3]];
    let g = graph(
        &Kind::Conv(spec),
        &shapes,
        false,
        false,
        Activation::Identity,
    );
    let mut target = gpu().target().clone();
    target.limits.max_storage_buffer_binding_size = 64 * 1024;
    match lower(&g, &target, &PlanOptions::default()) {
        Err(e @ Error::DeviceLimit { .. }) => {
            let m = e.to_string();
            assert!(m.contains("\"conv\"") && m.contains("run time"), "{m}");
        }
        other => panic!("expected a device-limit error, got {other:?}"),
    }
}

/// A run-time weight whose shape does not fit the node is an error naming the node.
#[test]
fn wrong_runtime_weight_shape_names_the_node() {
    let spec = ConvSpec::conv2d(3, 3);
    let mut g = Graph::new();
    let x = g.input("x", &[1, 3, 8, 8]);
    let w = g.input("w", &[4, 2, 3, 3]);
    let op = Op::Conv {
        spec,
        weight: Operand::Input {
            index: 1,
            shape: vec![4, 2, 3, 3],
        },
        bias: None,
        epilogue: Epilogue::default(),
    };
    let e = g.add("conv", op.clone(), &[x, w]).unwrap_err().to_string();
    assert!(e.contains("\"conv\""), "{e}");
    // The slot's declared shape must be its input's.
    let w3 = g.input("w3", &[4, 3, 3, 3]);
    let e = g.add("conv", op, &[x, w3]).unwrap_err().to_string();
    assert!(e.contains("\"conv\"") && e.contains("input 1"), "{e}");
}
