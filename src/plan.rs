//! Lowering a graph to kernels and memory, as a pure function (no GPU): which kernel runs each
//! node, and where every tensor lives.
//!
//! Activations live in a few arena buffers. Each tensor gets a region of one, assigned by
//! liveness: tensors whose lifetimes (from the step that writes them to the last step that reads
//! them) do not overlap may share bytes. wgpu forbids binding one buffer read-only and
//! read-write in the same dispatch, even at disjoint ranges, so a node's output goes to another
//! buffer than its inputs: the buffers are a colouring of the tensors (a chain alternates
//! between two; an add or a concatenation needs one more). Inside each buffer placement is
//! greedy (each tensor at the lowest offset that clears every already-placed tensor alive at
//! the same time), tried in a few orders (largest first, the classic heuristic for this
//! interval-packing problem; earliest first; longest-lived first), keeping the smallest. Views
//! (flatten, reshape, and inference no-ops) get no region of their own: they alias their
//! source, whose lifetime grows to cover theirs. Offsets are multiples of [`ALIGN`] (256 bytes,
//! WebGPU's largest `min_storage_buffer_offset_alignment`), so every region can be bound on its
//! own.
//!
//! Parameters (weights, folded biases, BatchNorm's per-channel affine) are packed the same way
//! into a parameter buffer; they live for the whole run.
//!
//! A convolution's algorithm ([`ConvAlgorithm`]: the heuristic's, or a per-node override) may
//! ask for scratch regions live only during its step (split-K partial sums, Winograd's
//! transformed tensors). They are placed by the same colouring and packing as tensors, as if
//! each were a value written and last read at that step, conflicting with the node's inputs,
//! its output and the step's other scratch regions.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId, Op, ValueId, passes::batch_norm_affine};
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::precision::Precision;
use crate::tensor::Tensor;

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
    /// Implicit-GEMM convolution split over the reduction, plus a reduce (2 dispatches).
    ConvSplitK,
    /// Pointwise GEMM split over the reduction, plus a reduce (2 dispatches).
    PointwiseSplitK,
    /// Winograd F(2x2, 3x3): input transform, batched GEMM, output transform (3 dispatches).
    Winograd,
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
    /// 2-D resize through a per-axis lookup (a parameter).
    Resize,
    /// Constant padding.
    Pad,
    /// Dimension permutation.
    Transpose,
    /// Concatenation: one copy per input.
    Concat,
    /// Strided slice.
    Slice,
    /// A view: no work, the output aliases the input.
    Alias,
}

/// The kernel for `op` given its input shapes (a convolution's is its heuristic algorithm's).
pub fn choose_kernel(op: &Op, inputs: &[&[usize]]) -> Kernel {
    match op {
        Op::Conv { .. } => choose_algorithm(op, inputs)
            .map(|a| a.kernel())
            .unwrap_or(Kernel::Conv),
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
        Op::Resize(_) => Kernel::Resize,
        Op::Pad { .. } => Kernel::Pad,
        Op::Transpose { .. } => Kernel::Transpose,
        Op::Concat { .. } => Kernel::Concat,
        Op::Slice { .. } => Kernel::Slice,
        Op::Flatten { .. } | Op::Reshape { .. } | Op::Dropout { .. } | Op::Identity => {
            Kernel::Alias
        }
    }
}

/// The heuristic algorithm of a convolution node ([`algorithm::heuristic`]); `None` for other
/// ops.
pub fn choose_algorithm(op: &Op, inputs: &[&[usize]]) -> Option<ConvAlgorithm> {
    match op {
        Op::Conv { spec, weight, .. } => {
            Some(algorithm::heuristic(spec, inputs[0], weight.shape()))
        }
        _ => None,
    }
}

/// The tensors a node's kernel reads besides its inputs (of shapes `inputs`), in binding
/// order: weights and biases, BatchNorm's per-channel scale and shift (computed here in f64),
/// or a resize's coordinate lookup. A convolution's are those of its heuristic algorithm.
pub fn device_params<'a>(op: &'a Op, inputs: &[&[usize]]) -> Vec<Cow<'a, Tensor>> {
    device_params_for(op, inputs, choose_algorithm(op, inputs).as_ref())
}

/// [`device_params`] for a convolution run as `algorithm`: Winograd's weights are transformed
/// on the host (in f64) into the layout its GEMM reads.
pub fn device_params_for<'a>(
    op: &'a Op,
    inputs: &[&[usize]],
    algorithm: Option<&ConvAlgorithm>,
) -> Vec<Cow<'a, Tensor>> {
    if let (Op::Conv { weight, bias, .. }, Some(a)) = (op, algorithm)
        && a.transforms_weights()
    {
        let mut v = vec![Cow::Owned(crate::kernels::winograd::transform_weights(
            weight,
        ))];
        if let Some(b) = bias {
            v.push(Cow::Borrowed(b));
        }
        return v;
    }
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
        Op::Resize(spec) => vec![Cow::Owned(
            crate::kernels::resize::resize_table(spec, inputs[0])
                .expect("shape inference validated the resize"),
        )],
        _ => Vec::new(),
    }
}

/// The storage type of `op`'s [`device_params`] when the graph runs in `precision`: a resize's
/// lookup table stays f32 (f16 cannot hold source indices beyond 2048 exactly); weights, biases
/// and affines take the run's precision.
pub fn param_precision(op: &Op, precision: Precision) -> Precision {
    match op {
        Op::Resize(_) => Precision::F32,
        _ => precision,
    }
}

/// A byte range of one of the plan's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Which buffer (an index into [`Plan::buffers`] for activations; always 0 for
    /// parameters, which have one buffer).
    pub buffer: usize,
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

    /// True if the two ranges share a byte of the same buffer.
    pub fn overlaps(&self, other: &Region) -> bool {
        self.buffer == other.buffer && self.offset < other.end() && other.offset < self.end()
    }
}

/// One node's work.
#[derive(Clone, Debug)]
pub struct Step {
    /// The node.
    pub node: NodeId,
    /// Its kernel.
    pub kernel: Kernel,
    /// Regions of its parameter tensors in the parameter buffer, in [`device_params_for`]
    /// order.
    pub params: Vec<Region>,
    /// A convolution's algorithm (`None` for other ops).
    pub algorithm: Option<ConvAlgorithm>,
    /// Activation-buffer regions live only during this step, in
    /// [`algorithm::scratch_bytes`] order.
    pub scratch: Vec<Region>,
}

/// A graph lowered to kernels and memory.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The nodes in execution order (views included; they dispatch nothing).
    pub steps: Vec<Step>,
    /// For every value, the value whose storage it uses (itself, or a view's source).
    pub storage_of: Vec<ValueId>,
    /// For every value, its region (a view's is its source's).
    pub regions: Vec<Region>,
    /// Sizes of the activation buffers.
    pub buffers: Vec<u64>,
    /// For every value, the inclusive time interval its storage must hold it: time 0 is the
    /// upload of the inputs, time `i + 1` is step `i`, time `steps.len() + 1` the readback.
    pub lifetimes: Vec<(usize, usize)>,
    /// Activation memory: the sum of [`Plan::buffers`].
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

/// Sizes are capped here (256 TiB, beyond any device) so that offsets and sums over a graph's
/// tensors cannot overflow u64.
const MAX_TENSOR_BYTES: u64 = 1 << 48;

/// Bytes of a tensor of `shape` stored in `precision` (at least 4, a multiple of 4, as
/// [`Precision::buffer_bytes`]), capped at [`MAX_TENSOR_BYTES`]: a graph input can declare a
/// shape too big to exist; the plan stays well-formed and the session refuses it against the
/// device's limits.
fn tensor_bytes(shape: &[usize], precision: Precision) -> u64 {
    let n = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    n.max(1)
        .saturating_mul(precision.elem_bytes() as u64)
        .min(MAX_TENSOR_BYTES)
        .div_ceil(4)
        * 4
}

/// Places `order`'s tensors one by one at the lowest aligned offset clear of every placed
/// tensor whose lifetime intersects; returns the regions and the arena size.
fn place(
    order: &[usize],
    lifetimes: &[(usize, usize)],
    size: &dyn Fn(usize) -> u64,
    nv: usize,
) -> (Vec<Region>, u64) {
    let mut regions = vec![
        Region {
            buffer: 0,
            offset: 0,
            bytes: 4
        };
        nv
    ];
    let mut placed: Vec<usize> = Vec::new();
    let mut arena = 0u64;
    for &v in order {
        let bytes = size(v);
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
        regions[v] = Region {
            buffer: 0,
            offset,
            bytes,
        };
        arena = arena.max(aligned(offset + bytes));
        placed.push(v);
    }
    (regions, arena)
}

/// Assigns each root in `order` a buffer not holding any of its conflicts, choosing the one
/// whose first-fit packing grows least (a new buffer grows by the whole tensor).
fn color_buffers(
    order: &[usize],
    conflicts: &[Vec<usize>],
    lifetimes: &[(usize, usize)],
    size: &dyn Fn(usize) -> u64,
    nv: usize,
) -> Vec<usize> {
    const NONE: usize = usize::MAX;
    let mut color = vec![NONE; nv];
    let mut offsets = vec![0u64; nv];
    let mut packed: Vec<(Vec<usize>, u64)> = Vec::new();
    for &v in order {
        let (s, e) = lifetimes[v];
        let mut best: Option<(u64, usize, u64)> = None;
        for b in 0..=packed.len() {
            if conflicts[v].iter().any(|&u| color[u] == b) {
                continue;
            }
            let (off, growth) = match packed.get(b) {
                Some((mine, peak)) => {
                    let mut busy: Vec<(u64, u64)> = mine
                        .iter()
                        .filter(|&&p| lifetimes[p].0 <= e && s <= lifetimes[p].1)
                        .map(|&p| (offsets[p], offsets[p] + size(p)))
                        .collect();
                    busy.sort();
                    let mut off = 0u64;
                    for (start, end) in busy {
                        if off + size(v) <= start {
                            break;
                        }
                        off = off.max(aligned(end));
                    }
                    (off, aligned(off + size(v)).saturating_sub(*peak))
                }
                None => (0, aligned(size(v))),
            };
            if best.is_none_or(|(g0, _, _)| growth < g0) {
                best = Some((growth, b, off));
            }
        }
        let (_, b, off) = best.expect("a new buffer is always allowed");
        if b == packed.len() {
            packed.push((Vec::new(), 0));
        }
        offsets[v] = off;
        packed[b].0.push(v);
        packed[b].1 = packed[b].1.max(aligned(off + size(v)));
        color[v] = b;
    }
    color
}

/// Packs each buffer's tensors with [`place`] under three orders (largest first, earliest
/// first, longest-lived first), keeping the smallest; returns the regions and buffer sizes.
fn pack_buffers(
    roots: &[usize],
    color: &[usize],
    lifetimes: &[(usize, usize)],
    size: &dyn Fn(usize) -> u64,
    nv: usize,
) -> (Vec<Region>, Vec<u64>) {
    let n_buffers = roots.iter().map(|&v| color[v] + 1).max().unwrap_or(1);
    let mut regions = vec![
        Region {
            buffer: 0,
            offset: 0,
            bytes: 4
        };
        nv
    ];
    let mut buffers = Vec::with_capacity(n_buffers);
    for b in 0..n_buffers {
        let mine: Vec<usize> = roots.iter().copied().filter(|&v| color[v] == b).collect();
        let mut by_size = mine.clone();
        by_size.sort_by_key(|&v| (std::cmp::Reverse(size(v)), v));
        let mut by_time = mine.clone();
        by_time.sort_by_key(|&v| (lifetimes[v].0, std::cmp::Reverse(size(v)), v));
        let mut by_span = mine.clone();
        by_span.sort_by_key(|&v| {
            (
                std::cmp::Reverse(lifetimes[v].1 - lifetimes[v].0),
                std::cmp::Reverse(size(v)),
                v,
            )
        });
        let (placed, bytes) = [by_size, by_time, by_span]
            .iter()
            .map(|order| place(order, lifetimes, size, nv))
            .min_by_key(|(_, arena)| *arena)
            .expect("three orders");
        for &v in &mine {
            regions[v] = Region {
                buffer: b,
                ..placed[v]
            };
        }
        buffers.push(bytes.max(ALIGN));
    }
    (regions, buffers)
}

/// Lowers `g` (normally after [`crate::graph::passes::optimize`]).
pub fn plan(g: &Graph) -> Plan {
    plan_with(g, true)
}

/// [`plan`], or with `reuse` false a plan in which no two tensors share bytes (every tensor
/// placed as if alive for the whole run): the one-buffer-per-tensor baseline, for comparisons
/// and for isolating memory-reuse bugs.
pub fn plan_with(g: &Graph, reuse: bool) -> Plan {
    plan_with_algorithms(g, reuse, &HashMap::new())
        .expect("the heuristic's algorithms fit their own nodes")
}

/// [`plan_with`] for tensors stored in `precision` (every byte count scales with its element
/// size).
pub fn plan_for(g: &Graph, reuse: bool, precision: Precision) -> Plan {
    plan_with_algorithms_in(g, reuse, &HashMap::new(), precision)
        .expect("the heuristic's algorithms fit their own nodes")
}

/// [`plan_with`], running each convolution node named in `algorithms` (ids of `g`'s nodes) with
/// that algorithm instead of the heuristic's. Errors when an override names a node that is not
/// a convolution or an algorithm that cannot run the node's shapes.
pub fn plan_with_algorithms(
    g: &Graph,
    reuse: bool,
    algorithms: &HashMap<NodeId, ConvAlgorithm>,
) -> Result<Plan> {
    plan_with_algorithms_in(g, reuse, algorithms, Precision::F32)
}

/// [`plan_with_algorithms`] for tensors (and scratch) stored in `precision`.
pub fn plan_with_algorithms_in(
    g: &Graph,
    reuse: bool,
    algorithms: &HashMap<NodeId, ConvAlgorithm>,
    precision: Precision,
) -> Result<Plan> {
    let nv = g.values().len();
    let n_steps = g.nodes().len();
    for (&id, a) in algorithms {
        let node = g.nodes().get(id.0).ok_or_else(|| {
            Error::invalid_op(
                "plan",
                format!("algorithm override for node {id:?}, the graph has {n_steps} nodes"),
            )
        })?;
        let named = |e: Error| match e {
            Error::InvalidOp { op, message } => Error::invalid_op(
                format!("node {:?} ({}): {op}", node.name, node.op.kind()),
                message,
            ),
            e => e,
        };
        match &node.op {
            Op::Conv { spec, weight, .. } => a
                .supports(spec, g.shape(node.inputs[0]), weight.shape())
                .map_err(named)?,
            op => {
                return Err(named(Error::invalid_op(
                    "plan",
                    format!("{a:?} given for a {} node, not a convolution", op.kind()),
                )));
            }
        }
    }
    // Storage roots: a view stores nothing of its own.
    let mut storage_of: Vec<ValueId> = (0..nv).map(ValueId).collect();
    let mut steps = Vec::with_capacity(n_steps);
    for (i, node) in g.nodes().iter().enumerate() {
        let shapes: Vec<&[usize]> = node.inputs.iter().map(|v| g.shape(*v)).collect();
        let algorithm = algorithms
            .get(&NodeId(i))
            .copied()
            .or_else(|| choose_algorithm(&node.op, &shapes));
        let kernel = match &algorithm {
            Some(a) => a.kernel(),
            None => choose_kernel(&node.op, &shapes),
        };
        if kernel == Kernel::Alias {
            storage_of[node.output.0] = storage_of[node.inputs[0].0];
        }
        steps.push(Step {
            node: NodeId(i),
            kernel,
            params: Vec::new(),
            algorithm,
            scratch: Vec::new(),
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
    // Scratch regions join the placement as pseudo-values nv.. alive only at their step.
    let mut scratch_sizes: Vec<u64> = Vec::new();
    let mut scratch_of: Vec<(usize, usize)> = Vec::new(); // (step, index within the step)
    for (i, (step, node)) in steps.iter().zip(g.nodes()).enumerate() {
        if let (Some(a), Op::Conv { spec, weight, .. }) = (&step.algorithm, &node.op) {
            let sizes = algorithm::scratch_bytes(
                a,
                spec,
                g.shape(node.inputs[0]),
                weight.shape(),
                precision,
            )
            .expect("shape inference validated the convolution");
            for (j, b) in sizes.into_iter().enumerate() {
                scratch_sizes.push(b);
                scratch_of.push((i, j));
                lifetimes.push((i + 1, i + 1));
            }
        }
    }
    let ns = scratch_sizes.len();
    let nt = nv + ns;
    // Buffers: wgpu forbids binding one buffer read-only and read-write in a dispatch, even
    // at disjoint ranges, so a node's output must live in another buffer than its inputs:
    // the buffers colour the "conflict graph" whose edges join each node's inputs to its
    // output. Colour greedily (each tensor into the allowed buffer whose packed size grows
    // least) in two orders, definition order and largest first, and keep the smaller total.
    let roots: Vec<usize> = (0..nv)
        .filter(|&v| storage_of[v] == ValueId(v) && lifetimes[v].0 != usize::MAX)
        .chain(nv..nt)
        .collect();
    let size = |v: usize| {
        if v < nv {
            tensor_bytes(g.shape(ValueId(v)), precision)
        } else {
            scratch_sizes[v - nv]
        }
    };
    let mut conflicts: Vec<Vec<usize>> = vec![Vec::new(); nt];
    for node in g.nodes() {
        let out = storage_of[node.output.0].0;
        if out == node.output.0 {
            for u in &node.inputs {
                let u = storage_of[u.0].0;
                conflicts[out].push(u);
                conflicts[u].push(out);
            }
        }
    }
    // A step's scratch is bound beside its inputs, its output and its other scratch.
    for (s, &(i, _)) in scratch_of.iter().enumerate() {
        let node = &g.nodes()[i];
        let mut others: Vec<usize> = node
            .inputs
            .iter()
            .chain([&node.output])
            .map(|v| storage_of[v.0].0)
            .collect();
        others.extend(
            scratch_of
                .iter()
                .enumerate()
                .filter(|&(t, &(j, _))| j == i && t != s)
                .map(|(t, _)| nv + t),
        );
        for u in others {
            conflicts[nv + s].push(u);
            conflicts[u].push(nv + s);
        }
    }
    let mut by_size = roots.clone();
    by_size.sort_by_key(|&v| (std::cmp::Reverse(size(v)), v));
    let placement_lifetimes: Vec<(usize, usize)> = if reuse {
        lifetimes.clone()
    } else {
        lifetimes
            .iter()
            .map(|&(s, e)| {
                if s == usize::MAX {
                    (s, e)
                } else {
                    (0, n_steps + 1)
                }
            })
            .collect()
    };
    let (regions, buffers) = [roots.clone(), by_size]
        .iter()
        .map(|order| {
            let color = color_buffers(order, &conflicts, &placement_lifetimes, &size, nt);
            pack_buffers(&roots, &color, &placement_lifetimes, &size, nt)
        })
        .min_by_key(|(_, buffers)| buffers.iter().sum::<u64>())
        .expect("two orders");
    let mut regions = regions;
    for (s, &(i, _)) in scratch_of.iter().enumerate() {
        steps[i].scratch.push(regions[nv + s]);
    }
    regions.truncate(nv);
    lifetimes.truncate(nv);
    let arena = buffers.iter().sum();
    for v in 0..nv {
        let r = storage_of[v].0;
        if r != v {
            regions[v] = Region {
                bytes: tensor_bytes(g.shape(ValueId(v)), precision),
                ..regions[r]
            };
            lifetimes[v] = lifetimes[r];
        }
    }
    let naive_bytes = roots.iter().map(|&v| aligned(size(v))).sum();
    // Parameters: packed back to back.
    let mut param_bytes = 0u64;
    for (step, node) in steps.iter_mut().zip(g.nodes()) {
        let shapes: Vec<&[usize]> = node.inputs.iter().map(|v| g.shape(*v)).collect();
        for t in device_params_for(&node.op, &shapes, step.algorithm.as_ref()) {
            let bytes = tensor_bytes(t.shape(), param_precision(&node.op, precision));
            step.params.push(Region {
                buffer: 0,
                offset: param_bytes,
                bytes,
            });
            param_bytes += aligned(bytes);
        }
    }
    Ok(Plan {
        steps,
        storage_of,
        regions,
        buffers,
        lifetimes,
        arena_bytes: arena,
        naive_bytes,
        param_bytes,
    })
}

impl Plan {
    /// Dispatches one run records (a concatenation takes one per input; views none).
    pub fn dispatch_count(&self, g: &Graph) -> usize {
        self.steps
            .iter()
            .map(|s| match (s.kernel, &s.algorithm) {
                (Kernel::Alias, _) => 0,
                (Kernel::Concat, _) => g.node(s.node).inputs.len(),
                (_, Some(a)) => a.dispatch_count(),
                _ => 1,
            })
            .sum()
    }

    /// Checks the plan's invariants, returning the first violation: every region aligned and
    /// inside its buffer, no two values with overlapping lifetimes sharing bytes unless one is
    /// a view of the other, no dispatch writing a buffer it reads, and no more memory than one
    /// buffer per tensor. Scratch regions count as values alive at their step, in buffers
    /// apart from their node's inputs, output and other scratch.
    pub fn verify(&self, g: &Graph) -> std::result::Result<(), String> {
        let n = self.regions.len();
        for (i, step) in self.steps.iter().enumerate() {
            let node = g.node(step.node);
            let t = i + 1;
            for (j, s) in step.scratch.iter().enumerate() {
                if !s.offset.is_multiple_of(ALIGN) || s.end() > self.buffers[s.buffer] {
                    return Err(format!(
                        "node {:?} scratch {j}: region {s:?} misaligned or outside its buffer",
                        node.name
                    ));
                }
                let bound = node.inputs.iter().chain([&node.output]);
                if let Some(v) = bound.clone().find(|v| self.regions[v.0].buffer == s.buffer) {
                    return Err(format!(
                        "node {:?} scratch {j} shares buffer {} with its operand {v:?}",
                        node.name, s.buffer
                    ));
                }
                if step.scratch[..j].iter().any(|o| o.buffer == s.buffer) {
                    return Err(format!(
                        "node {:?} scratch {j} shares buffer {} with another scratch",
                        node.name, s.buffer
                    ));
                }
                for v in 0..n {
                    let (a, b) = self.lifetimes[v];
                    if a != usize::MAX && a <= t && t <= b && self.regions[v].overlaps(s) {
                        return Err(format!(
                            "node {:?} scratch {j} {s:?} overlaps value {v} {:?}, live at step {i}",
                            node.name, self.regions[v]
                        ));
                    }
                }
            }
        }
        for step in &self.steps {
            if step.kernel == Kernel::Alias {
                continue;
            }
            let node = g.node(step.node);
            let out = self.regions[node.output.0].buffer;
            if let Some(v) = node.inputs.iter().find(|v| self.regions[v.0].buffer == out) {
                return Err(format!(
                    "node {:?} writes buffer {out}, which holds its input {v:?}",
                    node.name
                ));
            }
        }
        for v in 0..n {
            let r = self.regions[v];
            if !r.offset.is_multiple_of(ALIGN) {
                return Err(format!("value {v}: offset {} not aligned", r.offset));
            }
            if self.lifetimes[v].0 != usize::MAX && r.end() > self.buffers[r.buffer] {
                return Err(format!(
                    "value {v}: region {r:?} outside its buffer ({} bytes)",
                    self.buffers[r.buffer]
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
