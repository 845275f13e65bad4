//! The network graph: typed ops with host-side parameters, values with inferred shapes, and the
//! passes that rewrite it. Nothing here knows about wgpu; [`crate::plan`] lowers a graph to
//! kernels and buffers, [`crate::session`] runs it on the device, [`cpu`] runs it on the CPU
//! reference.
//!
//! Every node has exactly one output value (PyTorch's `chunk` becomes two `Slice` nodes). Nodes
//! are kept in a topological order; [`Graph::compact`] restores it after a pass has rewired
//! inputs.

mod builder;
pub mod cpu;
mod infer;
mod op;
pub mod passes;
pub mod patterns;
mod rewrites;
mod se_scale;
mod shuffle_fold;

use std::collections::{HashMap, HashSet};

pub use builder::Conv2d;
pub use op::{Op, Operand};
pub use rewrites::Rewrites;

use crate::error::{Error, Result};
use crate::tensor::{Tensor, checked_numel, numel};

/// Identifies a value (a tensor flowing between nodes) in a [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub usize);

/// Identifies a node in a [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub usize);

/// A tensor flowing through the graph.
#[derive(Clone, Debug)]
pub struct Value {
    /// The graph input's name, or the producing node's name.
    pub name: String,
    /// Inferred shape.
    pub shape: Vec<usize>,
    /// The node computing it; `None` for graph inputs.
    pub producer: Option<NodeId>,
}

/// One operation.
#[derive(Clone, Debug)]
pub struct Node {
    /// Unique name; for modules with parameters it is the PyTorch module path, so the
    /// parameters' `state_dict` keys are `name + "." + field`.
    pub name: String,
    /// What it computes, with its parameters.
    pub op: Op,
    /// Input values, in the op's order.
    pub inputs: Vec<ValueId>,
    /// The output value.
    pub output: ValueId,
}

/// `op`'s output shape for node `name`, as a typed error naming the node, the op and the input
/// shapes when they do not fit. Shape rules do plain arithmetic on dimensions: they only ever
/// see (and make) shapes whose tensors could exist in memory.
fn infer_checked(name: &str, op: &Op, shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let err = |message: String| {
        Error::invalid_op(
            format!("node {name:?} ({})", op.kind()),
            format!("{message} (input shapes {shapes:?})"),
        )
    };
    if let Some(s) = shapes.iter().find(|s| checked_numel(s).is_none()) {
        return Err(err(format!(
            "input shape {s:?} is too large (its f32 size overflows the address space)"
        )));
    }
    let shape = op.infer(shapes).map_err(err)?;
    if checked_numel(&shape).is_none() {
        return Err(err(format!(
            "output shape {shape:?} is too large (its f32 size overflows the address space)"
        )));
    }
    Ok(shape)
}

/// A directed acyclic graph of [`Node`]s over [`Value`]s, built with one method per PyTorch
/// module (the builder API) and run on the CPU by [`cpu::run`] (the reference sessions are
/// checked against).
///
/// ```
/// use wgconv::graph::{Conv2d, Graph, cpu};
/// use wgconv::{Tensor, weights};
///
/// let mut g = Graph::new();
/// let x = g.input("x", &[1, 3, 8, 8]);
/// let y = g.conv2d(x, "features.0", Conv2d::new(8, 3).stride(2).pad(1))?;
/// let y = g.relu(y)?;
/// g.output_named(y, "features");
/// weights::init_seeded(&mut g, 11);
/// assert_eq!(g.shape(y), &[1, 8, 4, 4]);
/// assert_eq!(g.parameter_count(), 8 * 3 * 3 * 3 + 8);
/// let out = cpu::run(&g, &[Tensor::random(vec![1, 3, 8, 8], 1)])?;
/// assert!(out[0].data().iter().all(|&v| v >= 0.0));
/// # Ok::<(), wgconv::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    values: Vec<Value>,
    inputs: Vec<ValueId>,
    outputs: Vec<ValueId>,
    /// The name each output is returned under, parallel to `outputs`.
    output_names: Vec<String>,
    names: HashSet<String>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a graph input of the given shape.
    pub fn input(&mut self, name: &str, shape: &[usize]) -> ValueId {
        let id = ValueId(self.values.len());
        self.values.push(Value {
            name: name.to_string(),
            shape: shape.to_vec(),
            producer: None,
        });
        self.inputs.push(id);
        id
    }

    /// Marks `v` as a graph output (outputs are returned in the order they are marked).
    pub fn output(&mut self, v: ValueId) {
        let name = self.values[v.0].name.clone();
        self.output_named(v, &name);
    }

    /// Marks `v` as a graph output returned under `name` (an ONNX model's output name).
    pub fn output_named(&mut self, v: ValueId, name: &str) {
        self.outputs.push(v);
        self.output_names.push(name.to_string());
    }

    /// The names outputs are returned under, in output order.
    pub fn output_names(&self) -> &[String] {
        &self.output_names
    }

    /// Adds a node, inferring its output shape. An empty `name` gets a generated one
    /// (`<op>_<index>`). Errors name the node, the op and the input shapes.
    pub fn add(&mut self, name: &str, op: Op, inputs: &[ValueId]) -> Result<ValueId> {
        let name = if name.is_empty() {
            let mut i = self.nodes.len();
            loop {
                let n = format!("{}_{i}", op.kind());
                if !self.names.contains(&n) {
                    break n;
                }
                i += 1;
            }
        } else {
            name.to_string()
        };
        if self.names.contains(&name) {
            return Err(Error::invalid_op(
                format!("node {name:?} ({})", op.kind()),
                "a node with this name already exists (names are state_dict prefixes)",
            ));
        }
        for &v in inputs {
            if v.0 >= self.values.len() {
                return Err(Error::invalid_op(
                    format!("node {name:?} ({})", op.kind()),
                    format!("input {v:?} does not exist"),
                ));
            }
        }
        let shapes: Vec<&[usize]> = inputs
            .iter()
            .map(|v| self.values[v.0].shape.as_slice())
            .collect();
        let shape = infer_checked(&name, &op, &shapes)?;
        let node = NodeId(self.nodes.len());
        let out = ValueId(self.values.len());
        self.values.push(Value {
            name: name.clone(),
            shape,
            producer: Some(node),
        });
        self.names.insert(name.clone());
        self.nodes.push(Node {
            name,
            op,
            inputs: inputs.to_vec(),
            output: out,
        });
        Ok(out)
    }

    /// The nodes, in topological order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// One node.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    /// Mutable access to one node's op (parameters, fused epilogues). Changing shapes through
    /// it is a bug; [`Graph::reinfer`] checks.
    pub fn op_mut(&mut self, id: NodeId) -> &mut Op {
        &mut self.nodes[id.0].op
    }

    /// Every value (graph inputs and node outputs).
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// One value.
    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.0]
    }

    /// The shape of a value.
    pub fn shape(&self, id: ValueId) -> &[usize] {
        &self.values[id.0].shape
    }

    /// Graph inputs, in declaration order.
    pub fn inputs(&self) -> &[ValueId] {
        &self.inputs
    }

    /// Graph outputs, in the order they were marked.
    pub fn outputs(&self) -> &[ValueId] {
        &self.outputs
    }

    /// The node with this name.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name).map(NodeId)
    }

    /// `base` if no node has that name yet, else `base_k` with the first free k.
    pub fn unique_name(&self, base: &str) -> String {
        if !self.names.contains(base) {
            return base.to_string();
        }
        (1..)
            .map(|k| format!("{base}_{k}"))
            .find(|n| !self.names.contains(n))
            .expect("unbounded")
    }

    /// For every value, the nodes reading it (a node reading a value twice is listed twice).
    pub fn consumers(&self) -> Vec<Vec<NodeId>> {
        let mut c = vec![Vec::new(); self.values.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for v in &n.inputs {
                c[v.0].push(NodeId(i));
            }
        }
        c
    }

    /// Number of readers of each value, graph outputs counting as one reader each.
    pub fn use_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.values.len()];
        for n in &self.nodes {
            for v in &n.inputs {
                c[v.0] += 1;
            }
        }
        for v in &self.outputs {
            c[v.0] += 1;
        }
        c
    }

    /// Replaces every read of `from` (node inputs and graph outputs) with `to`.
    pub(crate) fn replace_uses(&mut self, from: ValueId, to: ValueId) {
        for n in &mut self.nodes {
            for v in &mut n.inputs {
                if *v == from {
                    *v = to;
                }
            }
        }
        for v in &mut self.outputs {
            if *v == from {
                *v = to;
            }
        }
    }

    /// Sets a node's inputs (a pass fusing a residual add appends the residual).
    pub(crate) fn set_inputs(&mut self, id: NodeId, inputs: Vec<ValueId>) {
        self.nodes[id.0].inputs = inputs;
    }

    /// Makes node `id` compute `op` on `inputs`, keeping its name. When that changes the output
    /// shape (same element count, e.g. a shuffle recognised at the reshape that ends it), a
    /// Reshape back to the old shape, named [`Graph::unique_name`] of the node's, follows it, so
    /// readers are unaffected. Nothing changes on error. The appended Reshape breaks the
    /// topological order until [`Graph::compact`].
    pub(crate) fn replace_node(&mut self, id: NodeId, op: Op, inputs: Vec<ValueId>) -> Result<()> {
        let name = self.nodes[id.0].name.clone();
        if let Some(v) = inputs.iter().find(|v| v.0 >= self.values.len()) {
            return Err(Error::invalid_op(
                format!("node {name:?} ({})", op.kind()),
                format!("input {v:?} does not exist"),
            ));
        }
        let shapes: Vec<&[usize]> = inputs
            .iter()
            .map(|v| self.values[v.0].shape.as_slice())
            .collect();
        let shape = infer_checked(&name, &op, &shapes)?;
        let out = self.nodes[id.0].output;
        let old = self.values[out.0].shape.clone();
        let back = Op::Reshape {
            shape: old.iter().map(|&d| d as i64).collect(),
        };
        if shape != old && back.infer(&[&shape]).as_deref() != Ok(old.as_slice()) {
            return Err(Error::invalid_op(
                format!("node {name:?} ({})", op.kind()),
                format!("replacing it changes its output {old:?} to {shape:?}"),
            ));
        }
        let node = &mut self.nodes[id.0];
        node.op = op;
        node.inputs = inputs;
        if shape == old {
            return Ok(());
        }
        self.values[out.0].shape = shape;
        let reshape_name = self.unique_name(&name);
        let r = self.add(&reshape_name, back, &[out])?;
        // Every reader of `out` but the new Reshape now reads the Reshape.
        self.replace_uses(out, r);
        let last = self.nodes.len() - 1;
        self.nodes[last].inputs = vec![out];
        Ok(())
    }

    /// Trainable parameter count (what PyTorch's `sum(p.numel() for p in m.parameters())`
    /// reports: weights, biases, BatchNorm's affine pair; not running statistics).
    pub fn parameter_count(&self) -> usize {
        self.nodes.iter().map(|n| n.op.trainable_params()).sum()
    }

    /// Every parameter tensor with its `state_dict` key.
    pub fn state_dict(&self) -> Vec<(String, &Tensor)> {
        let mut out = Vec::new();
        for n in &self.nodes {
            for (field, t) in n.op.params() {
                out.push((format!("{}.{field}", n.name), t));
            }
        }
        out
    }

    /// Mutable parameter tensors with their `state_dict` keys.
    pub fn state_dict_mut(&mut self) -> Vec<(String, &mut Tensor)> {
        let mut out = Vec::new();
        for n in &mut self.nodes {
            let name = n.name.clone();
            for (field, t) in n.op.params_mut() {
                out.push((format!("{name}.{field}"), t));
            }
        }
        out
    }

    /// Re-runs shape inference over the whole graph (after inputs changed shape or a pass
    /// rewired nodes), naming the first node that no longer type-checks.
    pub fn reinfer(&mut self) -> Result<()> {
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            let shapes: Vec<&[usize]> = n
                .inputs
                .iter()
                .map(|v| self.values[v.0].shape.as_slice())
                .collect();
            let shape = infer_checked(&n.name, &n.op, &shapes)?;
            let out = n.output;
            self.values[out.0].shape = shape;
        }
        Ok(())
    }

    /// The same graph with inputs of `shapes` (one per input, in order), shapes re-inferred.
    pub fn with_input_shapes(&self, shapes: &[Vec<usize>]) -> Result<Graph> {
        if shapes.len() != self.inputs.len() {
            return Err(Error::CountMismatch {
                what: "input shape",
                expected: self.inputs.len(),
                got: shapes.len(),
            });
        }
        let mut g = self.clone();
        for (&v, s) in self.inputs.iter().zip(shapes) {
            g.values[v.0].shape = s.clone();
        }
        g.reinfer()?;
        Ok(g)
    }

    /// The same graph for a batch of `n`: every input's leading dimension becomes `n` and
    /// shapes are re-inferred (reshapes must keep the batch dimension with `0` or `-1`).
    pub fn with_batch(&self, n: usize) -> Result<Graph> {
        let mut g = self.clone();
        for &v in &g.inputs.clone() {
            if let Some(d) = g.values[v.0].shape.first_mut() {
                *d = n;
            }
        }
        g.reinfer()?;
        Ok(g)
    }

    /// Removes nodes whose outputs no graph output depends on, restores a topological order
    /// and renumbers nodes and values. Graph inputs are kept even when unused.
    pub fn compact(&mut self) -> Result<()> {
        // Liveness: walk back from the outputs.
        let mut live_nodes = vec![false; self.nodes.len()];
        let mut stack: Vec<ValueId> = self.outputs.clone();
        let mut seen = vec![false; self.values.len()];
        while let Some(v) = stack.pop() {
            if std::mem::replace(&mut seen[v.0], true) {
                continue;
            }
            if let Some(p) = self.values[v.0].producer {
                live_nodes[p.0] = true;
                stack.extend(self.nodes[p.0].inputs.iter().copied());
            }
        }
        // Kahn's algorithm, preferring the existing order (keeps the summary in module order).
        let mut indeg = vec![0usize; self.nodes.len()];
        let mut readers: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if !live_nodes[i] {
                continue;
            }
            for v in &n.inputs {
                if let Some(p) = self.values[v.0].producer {
                    indeg[i] += 1;
                    readers[p.0].push(i);
                }
            }
        }
        let mut ready: std::collections::BTreeSet<usize> = (0..self.nodes.len())
            .filter(|&i| live_nodes[i] && indeg[i] == 0)
            .collect();
        let mut order = Vec::new();
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &r in &readers[i] {
                indeg[r] -= 1;
                if indeg[r] == 0 {
                    ready.insert(r);
                }
            }
        }
        let live_count = live_nodes.iter().filter(|&&l| l).count();
        if order.len() != live_count {
            return Err(Error::invalid_op("graph", "the graph has a cycle"));
        }
        // Renumber values: inputs first, then node outputs in the new order.
        let mut value_map: HashMap<ValueId, ValueId> = HashMap::new();
        let mut values = Vec::new();
        for &v in &self.inputs {
            value_map.insert(v, ValueId(values.len()));
            values.push(self.values[v.0].clone());
        }
        let mut nodes = Vec::with_capacity(order.len());
        let mut old_nodes: Vec<Option<Node>> = std::mem::take(&mut self.nodes)
            .into_iter()
            .map(Some)
            .collect();
        for (new_i, &old_i) in order.iter().enumerate() {
            let mut n = old_nodes[old_i].take().expect("each node once");
            let out = ValueId(values.len());
            let mut val = self.values[n.output.0].clone();
            val.producer = Some(NodeId(new_i));
            values.push(val);
            value_map.insert(n.output, out);
            n.output = out;
            nodes.push(n);
        }
        for n in &mut nodes {
            for v in &mut n.inputs {
                *v = value_map[v];
            }
        }
        self.inputs = self.inputs.iter().map(|v| value_map[v]).collect();
        self.outputs = self.outputs.iter().map(|v| value_map[v]).collect();
        self.names = nodes.iter().map(|n| n.name.clone()).collect();
        self.nodes = nodes;
        self.values = values;
        Ok(())
    }

    /// Bytes of one f32 tensor per value (inputs and every node output): what a runtime that
    /// gives each tensor its own buffer allocates for activations.
    pub fn activation_bytes(&self) -> u64 {
        self.values.iter().map(|v| numel(&v.shape) as u64 * 4).sum()
    }

    /// Multiply-accumulates of one forward pass.
    pub fn macs(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| {
                let shapes: Vec<&[usize]> = n.inputs.iter().map(|v| self.shape(*v)).collect();
                n.op.macs(&shapes, self.shape(n.output))
            })
            .fold(0u64, u64::saturating_add)
    }

    /// The longest chain of accumulation lengths from an input to an output: the sum over the
    /// nodes on the path of the terms each output element sums (see [`Op::accumulation`]).
    /// Tests scale their tolerance by it: rounding errors of successive layers add up.
    pub fn accumulation_depth(&self) -> usize {
        let mut depth = vec![0usize; self.values.len()];
        for n in &self.nodes {
            let shapes: Vec<&[usize]> = n.inputs.iter().map(|v| self.shape(*v)).collect();
            let inp = n.inputs.iter().map(|v| depth[v.0]).max().unwrap_or(0);
            depth[n.output.0] = inp + n.op.accumulation(&shapes);
        }
        self.outputs.iter().map(|v| depth[v.0]).max().unwrap_or(0)
    }

    /// Like [`Graph::accumulation_depth`] but summing squares: the largest root-sum-square of
    /// accumulation lengths along a path. Rounding errors of different layers are independent,
    /// so their variances add: this is the depth that scales a statistical error bound.
    pub fn accumulation_depth_rss(&self) -> f64 {
        let mut sq = vec![0f64; self.values.len()];
        for n in &self.nodes {
            let shapes: Vec<&[usize]> = n.inputs.iter().map(|v| self.shape(*v)).collect();
            let inp = n.inputs.iter().map(|v| sq[v.0]).fold(0.0, f64::max);
            let k = n.op.accumulation(&shapes) as f64;
            sq[n.output.0] = inp + k * k;
        }
        self.outputs
            .iter()
            .map(|v| sq[v.0])
            .fold(0.0, f64::max)
            .sqrt()
    }

    /// A one-line-per-node description (for debugging and error reports).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for v in &self.inputs {
            s += &format!("input {} {:?}\n", self.value(*v).name, self.shape(*v));
        }
        for n in &self.nodes {
            let ins: Vec<String> = n
                .inputs
                .iter()
                .map(|v| self.value(*v).name.clone())
                .collect();
            s += &format!(
                "{} = {}({}) -> {:?}\n",
                n.name,
                n.op.describe(),
                ins.join(", "),
                self.shape(n.output)
            );
        }
        s
    }
}
