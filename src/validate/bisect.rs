//! Model bisection: run a network node by node on a device, each node fed the CPU reference's
//! values of its inputs, and compare each output with the reference. The first node out of
//! tolerance is the first kernel that computes wrong on this device, whatever came before.

use serde::Serialize;

use crate::compare::compare;
use crate::device::Gpu;
use crate::error::Result;
use crate::graph::{Graph, cpu};
use crate::session::{Session, SessionOptions};
use crate::tensor::Tensor;

/// One node's check.
#[derive(Clone, Debug, Serialize)]
pub struct NodeCheck {
    /// Position in the graph.
    pub index: usize,
    /// Node name (PyTorch module path or ONNX node name).
    pub name: String,
    /// Op kind.
    pub op: String,
    /// Input shapes.
    pub input_shapes: Vec<Vec<usize>>,
    /// Output shape.
    pub output_shape: Vec<usize>,
    /// Largest absolute error against the reference.
    pub max_abs: f64,
    /// Within tolerance.
    pub passed: bool,
    /// Comparison details or the error.
    pub detail: String,
}

impl std::fmt::Display for NodeCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} node {} {:?} ({}) {:?} -> {:?}: max abs err {:.2e}{}",
            if self.passed { "ok  " } else { "FAIL" },
            self.index,
            self.name,
            self.op,
            self.input_shapes,
            self.output_shape,
            self.max_abs,
            if self.passed {
                String::new()
            } else {
                format!("; {}", self.detail)
            }
        )
    }
}

/// Checks every node of `g` (unoptimized, so each node is one op of the model) on `gpu`, in
/// order, stopping after the first failure. Returns the checks made.
pub fn bisect(gpu: &Gpu, g: &Graph, inputs: &[Tensor]) -> Result<Vec<NodeCheck>> {
    let values = cpu::run_all(g, inputs)?;
    let mut checks = Vec::new();
    for (index, node) in g.nodes().iter().enumerate() {
        let ins: Vec<Tensor> = node
            .inputs
            .iter()
            .map(|v| {
                values[v.0]
                    .clone()
                    .expect("the reference computed every input")
            })
            .collect();
        let want = values[node.output.0]
            .clone()
            .expect("the reference computed every node");
        let mut single = Graph::new();
        let ids: Vec<_> = node
            .inputs
            .iter()
            .enumerate()
            .map(|(i, v)| single.input(&format!("in{i}"), g.shape(*v)))
            .collect();
        let y = single.add(&node.name, node.op.clone(), &ids)?;
        single.output(y);
        let mut check = NodeCheck {
            index,
            name: node.name.clone(),
            op: node.op.kind().to_string(),
            input_shapes: node.inputs.iter().map(|v| g.shape(*v).to_vec()).collect(),
            output_shape: g.shape(node.output).to_vec(),
            max_abs: f64::NAN,
            passed: false,
            detail: String::new(),
        };
        let opts = SessionOptions {
            optimize: false,
            reuse_memory: true,
            ..Default::default()
        };
        match Session::with_options(gpu, &single, opts).and_then(|s| s.run(&ins)) {
            Ok(out) => {
                let mut known: Vec<Option<Tensor>> = ins.iter().cloned().map(Some).collect();
                known.push(Some(want.clone()));
                let tol = cpu::network_tolerance(&single, &known);
                let c = compare(out[0].data(), want.data(), tol);
                check.max_abs = c.max_abs;
                check.passed = c.passed();
                check.detail = c.to_string();
            }
            Err(e) => check.detail = e.to_string(),
        }
        let failed = !check.passed;
        checks.push(check);
        if failed {
            break;
        }
    }
    Ok(checks)
}
