//! Lowering a graph to launches and memory, as a pure function (no GPU):
//! `Graph + Target (precision, device limits) + options -> Plan { buffers, params, launches }`.
//!
//! The lowering is a short pipeline of rewrites, one file each:
//! - `select`: each convolution's algorithm (override, heuristic, single-pass where split);
//! - [`params`]: every node's parameter tensors, derived ones (BatchNorm's affine, Winograd's
//!   transformed weights, resize lookups) computed once and held by the plan;
//! - `storage`: which values share storage (views with their source, contiguous slices at
//!   their offset: `views`; a Concat's inputs written in place, each in its chunk of the
//!   Concat's output);
//! - `alloc`: activation and scratch regions placed in a few arena buffers by liveness;
//! - [`launches`]: each node's kernel launches, bound to symbolic [`Slice`]s of those buffers;
//! - `split`: nodes binding a tensor beyond `max_storage_buffer_binding_size` lowered to
//!   chunked launches over sub-ranges and staging buffers instead.
//!
//! The session (`crate::session`) then only allocates the buffers, uploads the parameters and
//! encodes each launch. Parameters depend on the graph and the chosen algorithms only; buffers
//! and launches on the input shapes too.

mod alloc;
pub mod launches;
pub mod params;
mod select;
pub(crate) mod split;
mod storage;
mod verify;
mod views;

use std::collections::HashMap;

use crate::error::{Error, Result};
pub use crate::graph::Rewrites;
use crate::graph::{Graph, NodeId, Op, ValueId};
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::kernels::{Binding, Launch, Target};
use crate::precision::Precision;
use crate::tensor::numel;
use alloc::{aligned, tensor_bytes};
use launches::{concat_launches, node_launches};
pub use params::{ParamData, device_params_for, param_precision};

/// Alignment of every region's offset, in bytes (WebGPU's largest
/// `min_storage_buffer_offset_alignment`, so every region can be bound on its own).
pub const ALIGN: u64 = 256;

/// A byte range of one of the plan's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Which buffer: an index into [`Plan::buffers`] for activations and scratch, into
    /// [`Plan::param_buffers`] for parameters.
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

/// Which of the plan's buffers a launch binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Store {
    /// An activation arena ([`Plan::buffers`]).
    Arena(usize),
    /// A parameter buffer ([`Plan::param_buffers`]).
    Params(usize),
    /// A staging buffer of split nodes ([`Plan::staging`]).
    Staging(usize),
}

/// A symbolic binding: a byte range of one of the plan's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    /// The buffer.
    pub store: Store,
    /// First byte.
    pub offset: u64,
    /// Bytes bound.
    pub size: u64,
}

impl Binding for Slice {
    fn offset(&self) -> u64 {
        self.offset
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn resized(self, size: u64) -> Self {
        Self { size, ..self }
    }
}

impl Slice {
    fn arena(r: Region) -> Self {
        Self {
            store: Store::Arena(r.buffer),
            offset: r.offset,
            size: r.bytes,
        }
    }

    fn params(r: Region) -> Self {
        Self {
            store: Store::Params(r.buffer),
            offset: r.offset,
            size: r.bytes,
        }
    }
}

/// One node's work.
#[derive(Clone, Debug)]
pub struct Step {
    /// The node.
    pub node: NodeId,
    /// A convolution's algorithm (`None` for other ops).
    pub algorithm: Option<ConvAlgorithm>,
    /// Its parameter tensors, in binding order.
    pub param_data: Vec<ParamData>,
    /// Their regions (in [`Plan::param_buffers`]).
    pub params: Vec<Region>,
    /// Activation-buffer regions live only during this step, in
    /// [`algorithm::scratch_bytes`] order.
    pub scratch: Vec<Region>,
    /// True when the node was split to fit the binding limit (`plan/split`).
    pub split: bool,
    /// Its kernel launches, in order (none for views).
    pub launches: Vec<Launch<Slice>>,
}

/// A graph lowered to launches and memory.
#[derive(Clone, Debug)]
pub struct Plan {
    /// What the launches were built for.
    pub target: Target,
    /// The nodes in execution order (views included; they launch nothing).
    pub steps: Vec<Step>,
    /// For every value, the value whose storage it uses: itself, a view's source, or the
    /// Concat output its producer writes it into (in place, at its chunk's offset).
    pub storage_of: Vec<ValueId>,
    /// For every value, its region (a view's lies in its source's; a Concat input written in
    /// place has its chunk of the Concat's).
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
    /// Sizes of the parameter buffers (each within `max_buffer_size`).
    pub param_buffers: Vec<u64>,
    /// Parameter bytes in all (regions back to back, aligned).
    pub param_bytes: u64,
    /// Sizes of the staging buffers of split nodes (empty when nothing is split).
    pub staging: Vec<u64>,
    /// The byte-saving rewrites it was planned with.
    pub rewrites: Rewrites,
}

/// What a plan is asked for besides the graph and the target.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// With `false`, no two tensors share bytes (every tensor placed as if alive for the whole
    /// run): the one-buffer-per-tensor baseline, for comparisons and for isolating memory-reuse
    /// bugs.
    pub no_reuse: bool,
    /// Per-node convolution algorithms overriding the heuristic.
    pub algorithms: HashMap<NodeId, ConvAlgorithm>,
    /// Which byte-saving rewrites run (all by default).
    pub rewrites: Rewrites,
}

/// WebGPU's default limits in f32: what [`plan`] lowers for.
pub fn default_target() -> Target {
    Target::new(wgpu::Limits::default())
}

/// Lowers `g` (normally after [`crate::graph::passes::optimize`]) for WebGPU's default limits
/// in f32.
pub fn plan(g: &Graph) -> Result<Plan> {
    plan_with(g, true)
}

/// [`plan`], or with `reuse` false the one-buffer-per-tensor baseline.
pub fn plan_with(g: &Graph, reuse: bool) -> Result<Plan> {
    let options = PlanOptions {
        no_reuse: !reuse,
        ..Default::default()
    };
    lower(g, &default_target(), &options)
}

/// Lowers `g` for `target`. A graph without outputs is refused; other errors name the node:
/// an override that does not fit its node, a tensor or buffer beyond `max_buffer_size`, a node
/// that cannot be split to fit the binding limit, a kernel's own refusal of its shapes.
pub fn lower(g: &Graph, target: &Target, options: &PlanOptions) -> Result<Plan> {
    check_alignment(target)?;
    if g.outputs().is_empty() {
        // Nothing to compute (an ONNX graph may declare no outputs).
        return Err(Error::invalid_op("plan", "the graph has no outputs"));
    }
    let precision = target.precision;
    let algorithms = select::algorithms(g, target, &options.algorithms, &options.rewrites)?;
    let storage = storage::storage(
        g,
        precision,
        target.limits.max_storage_buffer_binding_size,
        &options.rewrites,
    );
    let scratch_sizes = g
        .nodes()
        .iter()
        .zip(&algorithms)
        .map(|(node, a)| match (a, &node.op) {
            (Some(a), crate::graph::Op::Conv { spec, weight, .. }) => algorithm::scratch_bytes(
                a,
                spec,
                g.shape(node.inputs[0]),
                weight.shape(),
                precision,
            )
            .expect("shape inference validated the convolution"),
            _ => Vec::new(),
        })
        .collect::<Vec<_>>();
    let memory = alloc::allocate(g, &storage, &scratch_sizes, !options.no_reuse, precision);
    let param_data: Vec<Vec<ParamData>> = g
        .nodes()
        .iter()
        .zip(&algorithms)
        .map(|(node, a)| {
            let shapes: Vec<&[usize]> = node.inputs.iter().map(|v| g.shape(*v)).collect();
            params::node_params(&node.op, &shapes, a.as_ref())
        })
        .collect();
    let (param_regions, param_buffers, param_bytes) = place_params(g, &param_data, target);
    let mut plan = Plan {
        target: target.clone(),
        steps: Vec::with_capacity(g.nodes().len()),
        storage_of: storage.root,
        regions: memory.regions,
        arena_bytes: memory.buffers.iter().sum(),
        buffers: memory.buffers,
        lifetimes: memory.lifetimes,
        naive_bytes: memory.naive_bytes,
        param_buffers,
        param_bytes,
        staging: Vec::new(),
        rewrites: options.rewrites,
    };
    for (i, ((algorithm, param_data), (params, scratch))) in algorithms
        .into_iter()
        .zip(param_data)
        .zip(param_regions.into_iter().zip(memory.scratch))
        .enumerate()
    {
        plan.steps.push(Step {
            node: NodeId(i),
            algorithm,
            param_data,
            params,
            scratch,
            split: false,
            launches: Vec::new(),
        });
    }
    check_sizes(g, &plan)?;
    build_launches(g, &mut plan)?;
    Ok(plan)
}

/// Refuses a device whose offset alignment does not divide [`ALIGN`].
fn check_alignment(target: &Target) -> Result<()> {
    let align = target.limits.min_storage_buffer_offset_alignment as u64;
    if !ALIGN.is_multiple_of(align.max(1)) {
        return Err(Error::DeviceLimit {
            what: "buffer plan alignment".into(),
            limit_name: "min_storage_buffer_offset_alignment",
            limit: ALIGN,
            needed: align,
        });
    }
    Ok(())
}

/// Packs every parameter back to back, then cuts the sequence into buffers of at most
/// `max_buffer_size`: per step its regions (buffer, offset in it), the buffer sizes, and the
/// total bytes.
fn place_params(
    g: &Graph,
    data: &[Vec<ParamData>],
    target: &Target,
) -> (Vec<Vec<Region>>, Vec<u64>, u64) {
    let max = target.limits.max_buffer_size;
    let mut global: Vec<Vec<Region>> = Vec::with_capacity(data.len());
    let mut total = 0u64;
    for (node, ps) in g.nodes().iter().zip(data) {
        let precision = param_precision(&node.op, target.precision);
        global.push(
            ps.iter()
                .map(|p| {
                    let bytes = tensor_bytes(p.tensor(&node.op).shape(), precision);
                    let r = Region {
                        buffer: 0,
                        offset: total,
                        bytes,
                    };
                    total += aligned(bytes);
                    r
                })
                .collect(),
        );
    }
    // Runs of regions within `max`, one buffer each: (first byte, bytes).
    let mut parts: Vec<(u64, u64)> = Vec::new();
    for r in global.iter().flatten() {
        match parts.last_mut() {
            Some((start, size)) if r.end() - *start <= max => *size = r.end() - *start,
            _ => parts.push((r.offset, r.bytes)),
        }
    }
    if parts.is_empty() {
        parts.push((0, 4));
    }
    let local = global
        .into_iter()
        .map(|rs| {
            rs.into_iter()
                .map(|r| {
                    let b = parts.partition_point(|&(start, _)| start <= r.offset) - 1;
                    Region {
                        buffer: b,
                        offset: r.offset - parts[b].0,
                        bytes: r.bytes,
                    }
                })
                .collect()
        })
        .collect();
    (local, parts.iter().map(|&(_, b)| b.max(4)).collect(), total)
}

/// Refuses, naming the node, op and tensor, any tensor or buffer larger than the device's
/// `max_buffer_size` (no buffer can hold it, so no split helps).
fn check_sizes(g: &Graph, plan: &Plan) -> Result<()> {
    let max = plan.target.limits.max_buffer_size;
    let refuse = |what: String, bytes: u64| Error::DeviceLimit {
        what,
        limit_name: "max_buffer_size",
        limit: max,
        needed: bytes,
    };
    for &v in g.inputs() {
        let bytes = plan.regions[v.0].bytes;
        if bytes > max {
            let name = &g.value(v).name;
            return Err(refuse(
                format!("node {name:?} (input): tensor {name:?} {:?}", g.shape(v)),
                bytes,
            ));
        }
    }
    for (step, node) in plan.steps.iter().zip(g.nodes()) {
        let named =
            |tensor: &str| format!("node {:?} ({}): tensor {tensor}", node.name, node.op.kind());
        let bytes = plan.regions[node.output.0].bytes;
        if bytes > max {
            let what = format!("{:?} {:?}", g.value(node.output).name, g.shape(node.output));
            return Err(refuse(named(&what), bytes));
        }
        for (i, r) in step.params.iter().enumerate() {
            if r.bytes > max {
                return Err(refuse(named(&format!("parameter {i}")), r.bytes));
            }
        }
    }
    for (i, &bytes) in plan.buffers.iter().enumerate() {
        if bytes > max {
            return Err(refuse(format!("activation buffer {i}"), bytes));
        }
    }
    Ok(())
}

/// Every step's launches: the node's kernel on its whole tensors, or, where a tensor exceeds
/// the binding limit, the splitter's chunks (whose staging buffers are sized over all nodes).
fn build_launches(g: &Graph, plan: &mut Plan) -> Result<()> {
    let target = plan.target.clone();
    let limit = target.limits.max_storage_buffer_binding_size;
    let mut lowering = split::Lowering::new(&target);
    for i in 0..plan.steps.len() {
        let node = g.node(NodeId(i));
        let out_shape = g.shape(node.output);
        // An empty output has nothing to compute (and wgpu binds no empty range).
        if plan.is_view_node(g, node) || numel(out_shape) == 0 {
            continue;
        }
        let step = &plan.steps[i];
        let ins: Vec<&[usize]> = node.inputs.iter().map(|v| g.shape(*v)).collect();
        let too_big = node
            .inputs
            .iter()
            .chain([&node.output])
            .map(|v| plan.regions[v.0].bytes)
            .chain(step.params.iter().map(|r| r.bytes))
            .any(|b| b > limit);
        let launches = if too_big {
            let views = split::lower::NodeViews::new(g, node, plan, step);
            split::lower::lower(&views, &mut lowering)?;
            split::emit(&target, node, step.algorithm, out_shape, lowering.take())?
        } else {
            let value = |v: &ValueId| Slice::arena(plan.regions[v.0]);
            let x: Vec<Slice> = node.inputs.iter().map(value).collect();
            let p: Vec<Slice> = step.params.iter().map(|&r| Slice::params(r)).collect();
            let scratch: Vec<Slice> = step.scratch.iter().map(|&r| Slice::arena(r)).collect();
            let y = value(&node.output);
            match node.op {
                Op::Concat { axis } => {
                    let root = plan.storage_of[node.output.0];
                    let in_place: Vec<bool> = node
                        .inputs
                        .iter()
                        .map(|v| plan.storage_of[v.0] == root)
                        .collect();
                    concat_launches(&target, node, axis, &ins, out_shape, &x, y, &in_place)?
                }
                _ => node_launches(
                    &target,
                    node,
                    step.algorithm,
                    &scratch,
                    &ins,
                    out_shape,
                    &x,
                    &p,
                    y,
                )?,
            }
        };
        plan.steps[i].split = too_big;
        plan.steps[i].launches = launches;
    }
    plan.staging = lowering
        .slot_sizes
        .iter()
        .map(|&b| b.div_ceil(4) * 4)
        .collect();
    Ok(())
}

impl Plan {
    /// Kernel launches one run records.
    pub fn dispatch_count(&self) -> usize {
        self.steps.iter().map(|s| s.launches.len()).sum()
    }

    /// Every launch in execution order.
    pub fn launches(&self) -> impl Iterator<Item = &Launch<Slice>> {
        self.steps.iter().flat_map(|s| s.launches.iter())
    }

    /// Size of one of the plan's buffers.
    pub fn store_bytes(&self, store: Store) -> u64 {
        match store {
            Store::Arena(i) => self.buffers[i],
            Store::Params(i) => self.param_buffers[i],
            Store::Staging(i) => self.staging[i],
        }
    }

    /// The storage precision the plan was lowered for.
    pub fn precision(&self) -> Precision {
        self.target.precision
    }
}
