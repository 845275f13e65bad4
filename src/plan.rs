//! Lowering a graph to kernels and memory, as a pure function (no GPU): which kernel runs each
//! node, and where every tensor lives.
//!
//! Activations share one arena buffer. Each tensor gets a region of it, assigned by liveness:
//! tensors whose lifetimes (from the step that writes them to the last step that reads them)
//! do not overlap may share bytes. Placement is greedy by size (largest first, lowest offset
//! that clears every already-placed tensor alive at the same time), the classic heuristic for
//! this interval-packing problem. Views (flatten, reshape, and inference no-ops) get no region
//! of their own: they alias their source, whose lifetime grows to cover theirs. Offsets are
//! multiples of [`ALIGN`] (256 bytes, WebGPU's largest `min_storage_buffer_offset_alignment`),
//! so every region can be bound on its own.
//!
//! Parameters (weights, folded biases, BatchNorm's per-channel affine) are packed the same way
//! into a parameter buffer; they live for the whole run.

use std::borrow::Cow;

use crate::graph::{Graph, NodeId, Op, ValueId, passes::batch_norm_affine};
use crate::ops::ConvSpec;
use crate::tensor::{Tensor, numel};

/// Alignment of every region's offset, in bytes.
pub const ALIGN: u64 = 256;

/// The kernel family a node runs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// General implicit-GEMM convolution (any rank, groups, dilation).
    Conv,
    /// Depthwise convolution (one input channel per group).
    Depthwise,
    /// 1x1 convolution as a GEMM.
    Pointwise,
    /// Transposed convolution.
    ConvTranspose,
    /// `x W^T + b`.
    Linear,
    /// `a @ b`.
    MatMul,
    /// Elementwise activation.
    Activation,
    /// Broadcasting binary op.
    Binary,
    /// Window pooling.
    Pool,
    /// Global pooling.
    GlobalPool,
    /// Softmax.
    Softmax,
    /// Per-channel `x * scale + shift` (+ residual, activation): unfolded BatchNorm.
    ChannelAffine,
    /// SE's excitation MLP.
    SeGate,
    /// Depth-to-space.
    PixelShuffle,
    /// Space-to-depth.
    SpaceToDepth,
    /// Channel shuffle.
    ChannelShuffle,
    /// Dimension permutation.
    Transpose,
    /// Concatenation: one copy per input.
    Concat,
    /// Strided slice.
    Slice,
    /// A view: no work, the output aliases the input.
    Alias,
}

/// A 1x1, unit-stride, unpadded convolution (what a GEMM computes directly).
fn is_pointwise(spec: &ConvSpec) -> bool {
    crate::kernels::matmul::is_pointwise(spec)
}

/// One channel per group, the depthwise kernel's case.
fn is_depthwise(spec: &ConvSpec, input: &[usize]) -> bool {
    crate::kernels::depthwise::is_depthwise(spec, input)
}

/// The kernel for `op` given its input shapes.
pub fn choose_kernel(op: &Op, inputs: &[&[usize]]) -> Kernel {
    match op {
        Op::Conv { spec, .. } => {
            if is_depthwise(spec, inputs[0]) {
                Kernel::Depthwise
            } else if is_pointwise(spec) {
                Kernel::Pointwise
            } else {
                Kernel::Conv
            }
        }
        Op::ConvTranspose { .. } => Kernel::ConvTranspose,
        Op::BatchNorm { .. } | Op::ChannelAffine { .. } => Kernel::ChannelAffine,
        Op::Activation(_) => Kernel::Activation,
        Op::Binary { .. } => Kernel::Binary,
        Op::Linear { .. } => Kernel::Linear,
        Op::MatMul => Kernel::MatMul,
        Op::Pool(_) => Kernel::Pool,
        Op::GlobalPool(_) => Kernel::GlobalPool,
        Op::Softmax { .. } => Kernel::Softmax,
        Op::SeGate { .. } => Kernel::SeGate,
        Op::PixelShuffle(_) => Kernel::PixelShuffle,
        Op::SpaceToDepth(_) => Kernel::SpaceToDepth,
        Op::ChannelShuffle(_) => Kernel::ChannelShuffle,
        Op::Transpose { .. } => Kernel::Transpose,
        Op::Concat { .. } => Kernel::Concat,
        Op::Slice { .. } => Kernel::Slice,
        Op::Flatten { .. } | Op::Reshape { .. } | Op::Dropout { .. } | Op::Identity => {
            Kernel::Alias
        }
    }
}

/// The tensors a node's kernel reads besides its inputs, in binding order: weights and
/// biases, or BatchNorm's per-channel scale and shift (computed here in f64).
pub fn device_params(op: &Op) -> Vec<Cow<'_, Tensor>> {
    match op {
        Op::Conv { weight, bias, .. }
        | Op::ConvTranspose { weight, bias, .. }
        | Op::Linear { weight, bias, .. } => {
            let mut v = vec![Cow::Borrowed(weight)];
            if let Some(b) = bias {
                v.push(Cow::Borrowed(b));
            }
            v
        }
        Op::ChannelAffine { scale, shift, .. } => {
            vec![Cow::Borrowed(scale), Cow::Borrowed(shift)]
        }
        Op::BatchNorm { .. } => {
            let (s, b) = batch_norm_affine(op).expect("batch norm");
            let t = |v: Vec<f64>| {
                Cow::Owned(
                    Tensor::new(vec![v.len()], v.into_iter().map(|x| x as f32).collect())
                        .expect("1-D"),
                )
            };
            vec![t(s), t(b)]
        }
        Op::SeGate { w1, b1, w2, b2, .. } => vec![
            Cow::Borrowed(w1),
            Cow::Borrowed(b1),
            Cow::Borrowed(w2),
            Cow::Borrowed(b2),
        ],
        _ => Vec::new(),
    }
}

/// A byte range of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Byte offset (a multiple of [`ALIGN`]).
    pub offset: u64,
    /// Bytes of the tensor (at least 4: wgpu rejects empty bindings).
    pub bytes: u64,
}

impl Region {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.offset + self.bytes
    }

    /// True if the two ranges share a byte.
    pub fn overlaps(&self, other: &Region) -> bool {
        self.offset < other.end() && other.offset < self.end()
    }
}

/// One node's work.
#[derive(Clone, Debug)]
pub struct Step {
    /// The node.
    pub node: NodeId,
    /// Its kernel.
    pub kernel: Kernel,
    /// Regions of its parameter tensors in the parameter buffer, in [`device_params`] order.
    pub params: Vec<Region>,
}

/// A graph lowered to kernels and memory.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The nodes in execution order (views included; they dispatch nothing).
    pub steps: Vec<Step>,
    /// For every value, the value whose storage it uses (itself, or a view's source).
    pub storage_of: Vec<ValueId>,
    /// For every value, its region of the arena (a view's is its source's).
    pub regions: Vec<Region>,
    /// For every value, the inclusive time interval its storage must hold it: time 0 is the
    /// upload of the inputs, time `i + 1` is step `i`, time `steps.len() + 1` the readback.
    pub lifetimes: Vec<(usize, usize)>,
    /// Arena size: the peak of live activation memory under this placement.
    pub arena_bytes: u64,
    /// What one buffer per tensor would take (every value that has its own storage, each
    /// rounded up to [`ALIGN`]).
    pub naive_bytes: u64,
    /// Parameter buffer size.
    pub param_bytes: u64,
}

fn aligned(bytes: u64) -> u64 {
    bytes.div_ceil(ALIGN) * ALIGN
}

fn tensor_bytes(shape: &[usize]) -> u64 {
    (numel(shape).max(1) * 4) as u64
}

/// Lowers `g` (normally after [`crate::graph::passes::optimize`]).
pub fn plan(g: &Graph) -> Plan {
    let nv = g.values().len();
    let n_steps = g.nodes().len();
    // Storage roots: a view stores nothing of its own.
    let mut storage_of: Vec<ValueId> = (0..nv).map(ValueId).collect();
    let mut steps = Vec::with_capacity(n_steps);
    for (i, node) in g.nodes().iter().enumerate() {
        let shapes: Vec<&[usize]> = node.inputs.iter().map(|v| g.shape(*v)).collect();
        let kernel = choose_kernel(&node.op, &shapes);
        if kernel == Kernel::Alias {
            storage_of[node.output.0] = storage_of[node.inputs[0].0];
        }
        steps.push(Step {
            node: NodeId(i),
            kernel,
            params: Vec::new(),
        });
    }
    // Lifetimes of the roots: from the write to the last read through any alias.
    let mut lifetimes = vec![(usize::MAX, 0usize); nv];
    for &v in g.inputs() {
        lifetimes[v.0] = (0, 0);
    }
    for (i, node) in g.nodes().iter().enumerate() {
        let t = i + 1;
        let root = storage_of[node.output.0];
        if root == node.output {
            lifetimes[root.0] = (t, t);
        }
        for v in &node.inputs {
            let r = storage_of[v.0];
            lifetimes[r.0].1 = lifetimes[r.0].1.max(t);
        }
        if root != node.output {
            lifetimes[root.0].1 = lifetimes[root.0].1.max(t);
        }
    }
    for &v in g.outputs() {
        let r = storage_of[v.0];
        lifetimes[r.0].1 = n_steps + 1;
    }
    // Greedy by size.
    let roots: Vec<usize> = (0..nv)
        .filter(|&v| storage_of[v] == ValueId(v) && lifetimes[v].0 != usize::MAX)
        .collect();
    let mut order = roots.clone();
    order.sort_by_key(|&v| (std::cmp::Reverse(tensor_bytes(g.shape(ValueId(v)))), v));
    let mut regions = vec![
        Region {
            offset: 0,
            bytes: 4
        };
        nv
    ];
    let mut placed: Vec<usize> = Vec::new();
    let mut arena = 0u64;
    for &v in &order {
        let bytes = tensor_bytes(g.shape(ValueId(v)));
        let (s, e) = lifetimes[v];
        let mut busy: Vec<Region> = placed
            .iter()
            .filter(|&&p| lifetimes[p].0 <= e && s <= lifetimes[p].1)
            .map(|&p| regions[p])
            .collect();
        busy.sort_by_key(|r| r.offset);
        let mut offset = 0u64;
        for r in &busy {
            if offset + bytes <= r.offset {
                break;
            }
            offset = offset.max(aligned(r.end()));
        }
        regions[v] = Region { offset, bytes };
        arena = arena.max(aligned(offset + bytes));
        placed.push(v);
    }
    for v in 0..nv {
        let r = storage_of[v].0;
        if r != v {
            regions[v] = Region {
                offset: regions[r].offset,
                bytes: tensor_bytes(g.shape(ValueId(v))),
            };
            lifetimes[v] = lifetimes[r];
        }
    }
    let naive_bytes = roots
        .iter()
        .map(|&v| aligned(tensor_bytes(g.shape(ValueId(v)))))
        .sum();
    // Parameters: packed back to back.
    let mut param_bytes = 0u64;
    for (step, node) in steps.iter_mut().zip(g.nodes()) {
        for t in device_params(&node.op) {
            let bytes = tensor_bytes(t.shape());
            step.params.push(Region {
                offset: param_bytes,
                bytes,
            });
            param_bytes += aligned(bytes);
        }
    }
    Plan {
        steps,
        storage_of,
        regions,
        lifetimes,
        arena_bytes: arena,
        naive_bytes,
        param_bytes,
    }
}

impl Plan {
    /// Dispatches one run records (a concatenation takes one per input; views none).
    pub fn dispatch_count(&self, g: &Graph) -> usize {
        self.steps
            .iter()
            .map(|s| match s.kernel {
                Kernel::Alias => 0,
                Kernel::Concat => g.node(s.node).inputs.len(),
                _ => 1,
            })
            .sum()
    }

    /// Checks the plan's invariants, returning the first violation: every region aligned and
    /// inside the arena, and no two values with overlapping lifetimes sharing bytes unless one
    /// is a view of the other.
    pub fn verify(&self) -> Result<(), String> {
        let n = self.regions.len();
        for v in 0..n {
            let r = self.regions[v];
            if r.offset % ALIGN != 0 {
                return Err(format!("value {v}: offset {} not aligned", r.offset));
            }
            if self.lifetimes[v].0 != usize::MAX && r.end() > self.arena_bytes {
                return Err(format!(
                    "value {v}: region {r:?} outside the arena ({} bytes)",
                    self.arena_bytes
                ));
            }
        }
        for a in 0..n {
            for b in a + 1..n {
                if self.storage_of[a] == self.storage_of[b] {
                    continue;
                }
                let (la, lb) = (self.lifetimes[a], self.lifetimes[b]);
                if la.0 == usize::MAX || lb.0 == usize::MAX {
                    continue;
                }
                let live_together = la.0 <= lb.1 && lb.0 <= la.1;
                if live_together && self.regions[a].overlaps(&self.regions[b]) {
                    return Err(format!(
                        "values {a} {la:?} and {b} {lb:?} are live together and overlap: {:?} / {:?}",
                        self.regions[a], self.regions[b]
                    ));
                }
            }
        }
        if self.arena_bytes > self.naive_bytes {
            return Err(format!(
                "arena {} exceeds one-buffer-per-tensor {}",
                self.arena_bytes, self.naive_bytes
            ));
        }
        Ok(())
    }
}
