//! The code paths the cargo-fuzz targets in `fuzz/` drive, shared with
//! `fuzz_regressions.rs` so the inputs the fuzzers found replay on stable in CI. Self-contained
//! (wgconv + arbitrary only): `fuzz/fuzz_targets/*.rs` include this `mod.rs` by path.
//!
//! Every entry point returns `Ok` or a typed [`wgconv::Error`] for bad input; a panic (an
//! overflow under debug assertions included), a hang or a huge allocation is a library bug.

#![allow(dead_code)]

mod families;
pub mod program;
pub mod step;

use arbitrary::{Arbitrary, Unstructured};
use wgconv::graph::{Graph, cpu, passes};
use wgconv::tensor::Tensor;
use wgconv::{Result, plan};

use self::program::Program;

/// Largest graph (sum of all value and parameter elements) the CPU reference runs on, so one
/// fuzz input stays well under a millisecond-scale budget.
const ELEMENT_BUDGET: usize = 1 << 14;
/// Largest multiply-accumulate count the CPU reference runs.
const MAC_BUDGET: u64 = 1 << 20;
/// Largest zero-initialised parameter tensor the builder target asks for (bigger requests go
/// through the explicit-parameter path with a small, mismatched weight instead).
const PARAM_BUDGET: usize = 1 << 16;

/// Fuzz target `onnx_import`: bytes as an ONNX model.
pub fn onnx_import(data: &[u8]) -> Result<()> {
    let g = wgconv::onnx::import_bytes(data, &Default::default())?;
    check_graph(&g)
}

/// Fuzz target `graph_build`: bytes decoded by `arbitrary` into a builder program.
pub fn graph_build(data: &[u8]) -> Result<()> {
    let u = Unstructured::new(data);
    let Ok(prog) = Program::arbitrary_take_rest(u) else {
        return Ok(());
    };
    let g = prog.build()?;
    check_graph(&g)
}

/// What both targets do with a graph that imported or built: the passes, the planner (with its
/// own consistency check), the statistics, and the CPU reference when the graph is tiny.
pub fn check_graph(g: &Graph) -> Result<()> {
    let opt = passes::optimize(g)?;
    for graph in [g, &opt] {
        let _ = graph.describe();
        let _ = graph.parameter_count();
        let _ = graph.accumulation_depth_rss();
        for reuse in [true, false] {
            // A graph beyond the device's limits is refused with a typed error.
            let p = plan::plan_with(graph, reuse)?;
            if let Err(e) = p.verify(graph) {
                panic!(
                    "plan::verify failed (a planner bug): {e}\n{}",
                    graph.describe()
                );
            }
            let _ = p.dispatch_count();
        }
    }
    if !tiny(g) || !tiny(&opt) {
        return Ok(());
    }
    let inputs: Vec<Tensor> = g
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, v)| Tensor::random(g.shape(*v).to_vec(), i as u64))
        .collect();
    let a = cpu::run(g, &inputs)?;
    let b = cpu::run(&opt, &inputs)?;
    assert_eq!(a.len(), b.len(), "optimize changed the number of outputs");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.shape(), y.shape(), "optimize changed an output shape");
    }
    Ok(())
}

/// Whether the CPU reference may run on `g` within the fuzzing budget.
fn tiny(g: &Graph) -> bool {
    let mut total = 0usize;
    for v in g.values() {
        let Some(n) = v
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        else {
            return false;
        };
        total = total.saturating_add(n);
    }
    for node in g.nodes() {
        for (_, t) in node.op.params() {
            total = total.saturating_add(t.numel());
        }
    }
    total <= ELEMENT_BUDGET && g.macs() <= MAC_BUDGET
}
