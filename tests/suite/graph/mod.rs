//! The graph: builder and shape inference, the passes (each checked on the CPU reference:
//! optimized and original graph agree), and sessions on the device (one submit per run, no
//! allocation on later runs, batch > 1, fused against unfused).

mod builder;
mod optimize;
mod sessions;

use wgconv::compare::{Tolerance, compare};
use wgconv::graph::{Conv2d, Graph, Op, cpu, passes};
use wgconv::session::{Session, SessionOptions};
use wgconv::tensor::Tensor;
use wgconv::{blocks, weights};

use crate::common::gpu;

/// Seeded parameters, BatchNorm calibrated on `inputs` (so every BN output has unit variance
/// and deep graphs keep activations of order one), returned with those inputs.
pub fn initialised(mut g: Graph, seed: u64) -> (Graph, Vec<Tensor>) {
    weights::init_seeded(&mut g, seed);
    let inputs: Vec<Tensor> = g
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, &v)| Tensor::random(g.shape(v).to_vec(), seed + 100 + i as u64))
        .collect();
    weights::calibrate_batch_norm(&mut g, &inputs).unwrap();
    (g, inputs)
}

fn rms(t: &Tensor) -> f64 {
    let s: f64 = t.data().iter().map(|&v| (v as f64) * (v as f64)).sum();
    (s / t.numel().max(1) as f64).sqrt()
}

/// The network tolerance of [`cpu::network_tolerance`] (justified there).
pub fn network_tolerance_from(g: &Graph, values: &[Option<Tensor>]) -> Tolerance {
    cpu::network_tolerance(g, values)
}

/// [`network_tolerance_from`] after running `g` on `inputs` on the CPU.
pub fn network_tolerance(g: &Graph, inputs: &[Tensor]) -> Tolerance {
    network_tolerance_from(g, &cpu::run_all(g, inputs).unwrap())
}

/// Runs `g` on the device (optimized) and on the CPU reference (unoptimized) and compares
/// every output; returns the device outputs and the session's dispatch count.
pub fn check_on_device(what: &str, g: &Graph, inputs: &[Tensor]) -> (Vec<Tensor>, usize) {
    let values = cpu::run_all(g, inputs).unwrap();
    let want: Vec<Tensor> = g
        .outputs()
        .iter()
        .map(|v| values[v.0].clone().unwrap())
        .collect();
    let tol = network_tolerance_from(g, &values);
    let s = Session::new(gpu(), g).unwrap_or_else(|e| panic!("{what}: session: {e}"));
    let got = s.run(inputs).unwrap_or_else(|e| panic!("{what}: run: {e}"));
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert_eq!(a.shape(), b.shape(), "{what}: output {i} shape");
        let c = compare(a.data(), b.data(), tol);
        assert!(
            c.passed(),
            "{what}: output {i}: {c} (tolerance {tol:?}, output rms {:.3e})\n{}",
            rms(b),
            first_divergence(g, inputs)
        );
        eprintln!(
            "{what}: output {i}: max abs err {:.2e} = {:.1}% of the tolerance {:.2e} (output rms {:.2e})",
            c.max_abs,
            100.0 * c.max_abs / tol.atol,
            tol.atol,
            rms(b)
        );
    }
    (got, s.dispatch_count())
}

/// Locates a device/CPU disagreement: runs the optimized graph with every node's output
/// exposed, on the device (no further passes) and on the CPU, and names the first node whose
/// output differs by more than its own accumulation tolerance on its own inputs' scale.
pub fn first_divergence(g: &Graph, inputs: &[Tensor]) -> String {
    let mut h = passes::optimize(g).unwrap();
    let outs: Vec<_> = h.nodes().iter().map(|n| n.output).collect();
    for v in outs {
        h.output(v);
    }
    let dev = Session::with_options(
        gpu(),
        &h,
        SessionOptions {
            optimize: false,
            reuse_memory: true,
            ..Default::default()
        },
    )
    .and_then(|s| s.run(inputs));
    let dev = match dev {
        Ok(d) => d,
        Err(e) => return format!("(could not run the diagnostic: {e})"),
    };
    // The CPU evaluates each node on the device's own inputs, so errors do not compound.
    let mut values = cpu::run_all(&h, inputs).unwrap();
    let first_out = h.outputs().len() - h.nodes().len();
    for (i, node) in h.nodes().iter().enumerate() {
        let got = &dev[first_out + i];
        for (j, &v) in node.inputs.iter().enumerate() {
            if let Some(p) = h.value(v).producer {
                values[v.0] = Some(dev[first_out + p.0].clone());
            }
            let _ = j;
        }
        let ins: Vec<&Tensor> = node
            .inputs
            .iter()
            .map(|v| values[v.0].as_ref().unwrap())
            .collect();
        let want = cpu::eval(&node.op, &ins, h.shape(node.output)).unwrap();
        let shapes: Vec<&[usize]> = node.inputs.iter().map(|v| h.shape(*v)).collect();
        let k = node.op.accumulation(&shapes);
        let scale = ins
            .iter()
            .map(|t| rms(t))
            .fold(rms(&want), f64::max)
            .max(1e-3);
        let tol = Tolerance {
            atol: 0.5 * k as f64 * f32::EPSILON as f64 * scale * 4.0,
            rtol: 1e-5,
        };
        let c = compare(got.data(), want.data(), tol);
        if !c.passed() {
            return format!(
                "first divergent node: #{i} {:?} = {} inputs {shapes:?} -> {:?}: {c}",
                node.name,
                node.op.describe(),
                h.shape(node.output)
            );
        }
    }
    "no single node diverges beyond its own tolerance".into()
}

/// Checks `pass` keeps `g`'s function on the CPU reference.
fn check_pass(what: &str, g: &Graph, inputs: &[Tensor], pass: impl Fn(&mut Graph)) -> Graph {
    let mut h = g.clone();
    pass(&mut h);
    let want = cpu::run(g, inputs).unwrap();
    let got = cpu::run(&h, inputs).unwrap();
    let tol = network_tolerance(g, inputs);
    for (a, b) in got.iter().zip(&want) {
        let c = compare(a.data(), b.data(), tol);
        assert!(c.passed(), "{what}: {c} ({tol:?})");
    }
    h
}

fn count(g: &Graph, f: impl Fn(&Op) -> bool) -> usize {
    g.nodes().iter().filter(|n| f(&n.op)).count()
}

/// A small residual network touching every pass: conv-BN-ReLU, residual blocks with and
/// without projection, a pre-activation block (BN that cannot fold), dropout, an SE block,
/// a concat followed by ReLU, and a classifier.
fn mixed_net(batch: usize) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &[batch, 3, 12, 12]);
    let y = g
        .conv2d(x, "stem.0", Conv2d::new(8, 3).pad(1).no_bias())
        .unwrap();
    let y = g.batch_norm(y, "stem.1").unwrap();
    let y = g.relu(y).unwrap();
    let y = blocks::residual_block(&mut g, y, "res1", 8, 1).unwrap();
    let y = blocks::residual_block(&mut g, y, "res2", 12, 2).unwrap();
    let y = blocks::preact_block(&mut g, y, "pre", 12, 1).unwrap();
    let y = g.dropout(y, 0.3).unwrap();
    let y = blocks::se(&mut g, y, "se", 4).unwrap();
    let y = blocks::fire(&mut g, y, "fire", 4, 6).unwrap();
    let y = g.global_avg_pool(y).unwrap();
    let y = g.flatten(y, 1).unwrap();
    let y = g.linear(y, "fc", 5, true).unwrap();
    g.output(y);
    g
}
