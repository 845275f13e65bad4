//! Running a graph on the device.
//!
//! [`Session::new`] optimises the graph ([`crate::graph::passes::optimize`]), plans it
//! ([`crate::plan::plan`]) and creates everything a run needs, once: the activation buffers, the
//! parameter buffer (uploaded here), the readback buffer, and one [`Dispatch`] per kernel launch
//! (pipeline, uniform, bind group). [`Session::run`] then only writes the inputs into their buffers
//! with `queue.write_buffer`, records every dispatch into one compute pass of one command
//! encoder, appends the copies of the outputs into the readback buffer, submits once, and maps
//! the readback buffer. It creates no buffer and no bind group; the counters let tests check
//! that.
//!
//! A session is `Send + Sync`; concurrent runs are serialised (they share the buffers).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::graph::{Graph, Node, NodeId, Op, ValueId, passes};
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::kernels::channel_affine::{AffineBindings, channel_affine};
use crate::kernels::se_gate::{SeGateBindings, se_gate};
use crate::kernels::{
    BufRef, ConvBindings, Dispatch, conv_transpose, eltwise, matmul, pad, pool, rearrange, resize,
    softmax,
};
use crate::ops::Activation;
use crate::plan::{self, Kernel, Plan, Region};
use crate::precision::Precision;
use crate::split::lower::NodeViews;
use crate::split::{self, Launch, Lowering, Store, View};
use crate::tensor::{Tensor, numel};

/// How a session prepares its graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// Run the graph passes (BatchNorm folding, epilogue fusion, SE fusion) first.
    pub optimize: bool,
    /// Let tensors whose lifetimes do not overlap share memory (see [`crate::plan`]); off,
    /// every tensor has its own bytes.
    pub reuse_memory: bool,
    /// Storage (and accumulation) type of activations and weights on the device; `None`: the
    /// precision of the [`Gpu`] handle (f32 unless made by [`Gpu::with_precision`]). f16
    /// precisions need `SHADER_F16` ([`Error::MissingFeature`] otherwise); inputs and outputs
    /// stay f32 tensors either way (converted on upload and readback).
    pub precision: Option<Precision>,
    /// Per-node convolution algorithms overriding the heuristic
    /// ([`crate::kernels::algorithm::heuristic`]). Node ids are those of the graph the session
    /// runs ([`Session::graph`]: after the passes when `optimize` is on; the passes are
    /// deterministic, so `passes::optimize(graph)` numbers nodes the same way).
    pub algorithms: HashMap<NodeId, ConvAlgorithm>,
    /// Choose every other convolution's algorithm by timing the candidates on this device
    /// the first time its shape is seen, remembering the choice per adapter in the cache
    /// directory ([`crate::tune`]). Off by default: building then takes predictable time and
    /// every build makes the same (heuristic) choices; turn it on for long-lived sessions.
    pub autotune: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            optimize: true,
            reuse_memory: true,
            precision: None,
            algorithms: HashMap::new(),
            autotune: false,
        }
    }
}

/// What a session has done so far (a snapshot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Completed runs.
    pub runs: u64,
    /// Kernel launches recorded, over all runs.
    pub dispatches: u64,
    /// Queue submissions, over all runs.
    pub submits: u64,
    /// Bytes written to the device (parameters at creation, inputs at each run).
    pub bytes_uploaded: u64,
    /// Bytes copied back to the host.
    pub bytes_read_back: u64,
    /// GPU buffers created (activation buffers, parameters, readback, staging buffers of
    /// split nodes, one uniform per dispatch).
    pub buffers_created: u64,
    /// Bind groups created (one per dispatch).
    pub bind_groups_created: u64,
}

#[derive(Default)]
struct AtomicCounters {
    runs: AtomicU64,
    dispatches: AtomicU64,
    submits: AtomicU64,
    bytes_uploaded: AtomicU64,
    bytes_read_back: AtomicU64,
    buffers_created: AtomicU64,
    bind_groups_created: AtomicU64,
}

/// A graph compiled for one device: buffers, pipelines and bind groups built once, run many
/// times.
pub struct Session<'g> {
    gpu: GpuHandle<'g>,
    precision: Precision,
    graph: Graph,
    plan: Plan,
    arenas: Vec<wgpu::Buffer>,
    // Held for the bind groups that read it.
    _params: Vec<wgpu::Buffer>,
    readback: wgpu::Buffer,
    dispatches: Vec<Dispatch>,
    /// Staging buffers of nodes split to fit the binding limit (see [`crate::split`]).
    staging: Vec<wgpu::Buffer>,
    inputs: Vec<(String, Region, Vec<usize>)>,
    /// (region, readback offset, shape) per output.
    outputs: Vec<(Region, u64, Vec<usize>)>,
    readback_bytes: u64,
    counters: AtomicCounters,
    lock: Mutex<()>,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("nodes", &self.graph.nodes().len())
            .field("dispatches", &self.dispatches.len())
            .field("activation_bytes", &self.plan.arena_bytes)
            .finish()
    }
}

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC
}

/// The device a session runs on: borrowed from the caller, or shared ownership (sessions
/// created from a model file own their device).
enum GpuHandle<'g> {
    Borrowed(&'g Gpu),
    Shared(std::sync::Arc<Gpu>),
}

impl std::ops::Deref for GpuHandle<'_> {
    type Target = Gpu;
    fn deref(&self) -> &Gpu {
        match self {
            GpuHandle::Borrowed(g) => g,
            GpuHandle::Shared(g) => g,
        }
    }
}

impl Session<'static> {
    /// Prepares `graph` on a device the session shares ownership of.
    pub fn with_shared_gpu(
        gpu: std::sync::Arc<Gpu>,
        graph: &Graph,
        options: SessionOptions,
    ) -> Result<Self> {
        Self::build(GpuHandle::Shared(gpu), graph, options)
    }
}

impl<'g> Session<'g> {
    /// Optimises, plans and prepares `graph` on `gpu`.
    pub fn new(gpu: &'g Gpu, graph: &Graph) -> Result<Self> {
        Self::with_options(gpu, graph, SessionOptions::default())
    }

    /// Prepares `graph` with explicit options.
    pub fn with_options(gpu: &'g Gpu, graph: &Graph, options: SessionOptions) -> Result<Self> {
        Self::build(GpuHandle::Borrowed(gpu), graph, options)
    }

    /// The device this session runs on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The storage precision of activations and weights on the device.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    fn build(handle: GpuHandle<'g>, graph: &Graph, options: SessionOptions) -> Result<Self> {
        let precision = options.precision.unwrap_or(handle.precision());
        // Kernels take their precision from the handle they are given.
        let gpu = &handle.with_precision(precision)?;
        let graph = if options.optimize {
            passes::optimize(graph)?
        } else {
            let mut g = graph.clone();
            g.compact()?;
            g
        };
        let mut algorithms = options.algorithms.clone();
        if options.autotune {
            let tuner = gpu.tuner();
            for (i, node) in graph.nodes().iter().enumerate() {
                if algorithms.contains_key(&NodeId(i)) || node.inputs.is_empty() {
                    continue;
                }
                if let Some(choice) =
                    tuner.conv_algorithm(gpu, &node.op, graph.shape(node.inputs[0]))
                {
                    algorithms.insert(NodeId(i), choice);
                }
            }
            tuner.save();
        }
        single_pass_where_split(gpu, &graph, &mut algorithms);
        let plan =
            plan::plan_with_algorithms_in(&graph, options.reuse_memory, &algorithms, precision)?;
        let counters = AtomicCounters::default();
        let align = gpu.limits().min_storage_buffer_offset_alignment as u64;
        if !plan::ALIGN.is_multiple_of(align.max(1)) {
            return Err(Error::DeviceLimit {
                what: "buffer plan alignment".into(),
                limit_name: "min_storage_buffer_offset_alignment",
                limit: plan::ALIGN,
                needed: align,
            });
        }
        // Tensors beyond the binding limit are split into chunks at dispatch building; a
        // buffer beyond `max_buffer_size` cannot exist at all.
        check_tensor_sizes(gpu, &graph, &plan)?;
        let max_buffer = gpu.limits().max_buffer_size;
        let sizes = plan
            .buffers
            .iter()
            .enumerate()
            .map(|(i, &b)| (format!("activation buffer {i}"), b));
        for (what, bytes) in sizes {
            if bytes > max_buffer {
                return Err(Error::DeviceLimit {
                    what,
                    limit_name: "max_buffer_size",
                    limit: max_buffer,
                    needed: bytes,
                });
            }
        }

        // Parameters beyond `max_buffer_size` in all go to several buffers.
        let param_parts = param_buffers(&plan, max_buffer);
        let (arenas, params, readback, outputs, readback_bytes) =
            gpu.scoped("allocating session buffers", || {
                let arenas: Vec<wgpu::Buffer> = plan
                    .buffers
                    .iter()
                    .map(|&size| {
                        gpu.device().create_buffer(&wgpu::BufferDescriptor {
                            label: Some("wgconv activations"),
                            size,
                            usage: storage_usage(),
                            mapped_at_creation: false,
                        })
                    })
                    .collect();
                let params: Vec<wgpu::Buffer> = param_parts
                    .iter()
                    .map(|&(_, size)| {
                        gpu.device().create_buffer(&wgpu::BufferDescriptor {
                            label: Some("wgconv parameters"),
                            size: size.max(4),
                            usage: storage_usage(),
                            mapped_at_creation: false,
                        })
                    })
                    .collect();
                let mut outputs = Vec::new();
                let mut off = 0u64;
                for &v in graph.outputs() {
                    let r = plan.regions[v.0];
                    let shape = graph.shape(v).to_vec();
                    let bytes = precision.buffer_bytes(numel(&shape));
                    outputs.push((r, off, shape));
                    off += bytes.div_ceil(8) * 8;
                }
                let readback = gpu.device().create_buffer(&wgpu::BufferDescriptor {
                    label: Some("wgconv readback"),
                    size: off.max(8),
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                (arenas, params, readback, outputs, off)
            })?;
        counters
            .buffers_created
            .fetch_add(1 + (params.len() + arenas.len()) as u64, Ordering::Relaxed);

        // Parameters: written once.
        for (step, node) in plan.steps.iter().zip(graph.nodes()) {
            let shapes: Vec<&[usize]> = node.inputs.iter().map(|v| graph.shape(*v)).collect();
            for (region, t) in step.params.iter().zip(plan::device_params_for(
                &node.op,
                &shapes,
                step.algorithm.as_ref(),
            )) {
                let (b, offset) = param_loc(&param_parts, region.offset);
                let bytes = plan::param_precision(&node.op, precision).encode(t.data());
                gpu.queue().write_buffer(&params[b], offset, &bytes);
                counters
                    .bytes_uploaded
                    .fetch_add(region.bytes, Ordering::Relaxed);
            }
        }

        let params = Params {
            buffers: params,
            parts: param_parts,
        };
        let (dispatches, staging) = build_dispatches(gpu, &graph, &plan, &arenas, &params)?;
        counters
            .buffers_created
            .fetch_add((dispatches.len() + staging.len()) as u64, Ordering::Relaxed);
        counters
            .bind_groups_created
            .fetch_add(dispatches.len() as u64, Ordering::Relaxed);

        let inputs = graph
            .inputs()
            .iter()
            .map(|&v| {
                (
                    graph.value(v).name.clone(),
                    plan.regions[v.0],
                    graph.shape(v).to_vec(),
                )
            })
            .collect();
        gpu.save_pipeline_cache();
        Ok(Self {
            gpu: handle,
            precision,
            graph,
            plan,
            arenas,
            _params: params.buffers,
            readback,
            dispatches,
            staging,
            inputs,
            outputs,
            readback_bytes,
            counters,
            lock: Mutex::new(()),
        })
    }

    /// The graph this session runs (after its passes).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The buffer plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Kernel launches per run.
    pub fn dispatch_count(&self) -> usize {
        self.dispatches.len()
    }

    /// Bytes of the staging buffers that nodes split to fit the device's
    /// `max_storage_buffer_binding_size` use (0 when nothing is split).
    pub fn staging_bytes(&self) -> u64 {
        self.staging.iter().map(|b| b.size()).sum()
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counters {
            runs: l(&c.runs),
            dispatches: l(&c.dispatches),
            submits: l(&c.submits),
            bytes_uploaded: l(&c.bytes_uploaded),
            bytes_read_back: l(&c.bytes_read_back),
            buffers_created: l(&c.buffers_created),
            bind_groups_created: l(&c.bind_groups_created),
        }
    }

    fn lock_runs(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        self.lock.lock().map_err(|_| {
            Error::invalid_op(
                "session",
                "a previous run panicked while holding the session",
            )
        })
    }

    fn check_inputs(&self, inputs: &[Tensor]) -> Result<()> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::invalid_op(
                "session",
                format!(
                    "the graph has {} input(s), got {}",
                    self.inputs.len(),
                    inputs.len()
                ),
            ));
        }
        for ((name, _, shape), t) in self.inputs.iter().zip(inputs) {
            if t.shape() != shape.as_slice() {
                return Err(Error::invalid_op(
                    format!("session input {name:?}"),
                    format!("expects shape {shape:?}, got {:?}", t.shape()),
                ));
            }
        }
        Ok(())
    }

    /// Queues the writes of `inputs` into their buffers; returns the bytes written.
    fn queue_inputs(&self, inputs: &[Tensor]) -> u64 {
        let mut uploaded = 0;
        for ((_, region, _), t) in self.inputs.iter().zip(inputs) {
            if t.numel() > 0 {
                let bytes = self.precision.encode(t.data());
                self.gpu
                    .queue()
                    .write_buffer(&self.arenas[region.buffer], region.offset, &bytes);
                uploaded += bytes.len() as u64;
            }
        }
        self.counters
            .bytes_uploaded
            .fetch_add(uploaded, Ordering::Relaxed);
        uploaded
    }

    /// Writes `inputs` (one per graph input, in order) into the session's input buffers
    /// without running anything: with [`Session::record`], for timing the kernels alone.
    pub fn write_inputs(&self, inputs: &[Tensor]) -> Result<()> {
        let _guard = self.lock_runs()?;
        self.check_inputs(inputs)?;
        self.gpu
            .scoped("session input upload", || self.queue_inputs(inputs))?;
        Ok(())
    }

    /// Records every kernel launch of one forward pass, in order, into `pass`, reading the
    /// inputs last written by [`Session::write_inputs`] or [`Session::run`]. No upload, no
    /// readback, nothing created: the caller submits (benchmarks wrap the pass in GPU
    /// timestamps). The caller should not overlap this with runs from other threads: they
    /// share the activation buffers (the queue keeps it memory-safe, not meaningful).
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        for d in &self.dispatches {
            d.record(pass);
        }
        self.counters
            .dispatches
            .fetch_add(self.dispatches.len() as u64, Ordering::Relaxed);
    }

    /// Runs the graph on `inputs` (one per graph input, in order) and returns its outputs.
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let _guard = self.lock_runs()?;
        self.check_inputs(inputs)?;
        let gpu: &Gpu = &self.gpu;
        gpu.scoped("session run", || {
            self.queue_inputs(inputs);
            let mut enc = gpu
                .device()
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wgconv session"),
                });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("wgconv session"),
                    timestamp_writes: None,
                });
                for d in &self.dispatches {
                    d.record(&mut pass);
                }
            }
            for (region, off, shape) in &self.outputs {
                let bytes = self.precision.buffer_bytes(numel(shape));
                if numel(shape) > 0 {
                    enc.copy_buffer_to_buffer(
                        &self.arenas[region.buffer],
                        region.offset,
                        &self.readback,
                        *off,
                        bytes,
                    );
                }
            }
            gpu.queue().submit([enc.finish()]);
            let c = &self.counters;
            c.submits.fetch_add(1, Ordering::Relaxed);
            c.dispatches
                .fetch_add(self.dispatches.len() as u64, Ordering::Relaxed);
        })?;
        let all = gpu.map_and_read_bytes(&self.readback, self.readback_bytes)?;
        let mut out = Vec::with_capacity(self.outputs.len());
        let mut read = 0;
        for (_, off, shape) in &self.outputs {
            let n = numel(shape);
            let data = self.precision.decode(&all[*off as usize..], n);
            out.push(Tensor::new(shape.clone(), data)?);
            read += (n * self.precision.elem_bytes()) as u64;
        }
        self.counters
            .bytes_read_back
            .fetch_add(read, Ordering::Relaxed);
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }
}

/// The parameter buffers and the range of the plan's parameter space each holds.
struct Params {
    buffers: Vec<wgpu::Buffer>,
    /// (first byte, bytes) per buffer, in order.
    parts: Vec<(u64, u64)>,
}

/// Cuts the plan's parameter regions (packed back to back, each within `max`) into runs of at
/// most `max` bytes, one buffer each: (first byte, bytes) per buffer.
fn param_buffers(plan: &Plan, max: u64) -> Vec<(u64, u64)> {
    let mut regions: Vec<Region> = plan
        .steps
        .iter()
        .flat_map(|s| s.params.iter().copied())
        .collect();
    regions.sort_by_key(|r| r.offset);
    let mut parts: Vec<(u64, u64)> = Vec::new();
    for r in regions {
        match parts.last_mut() {
            Some((start, size)) if r.end() - *start <= max => *size = r.end() - *start,
            _ => parts.push((r.offset, r.bytes)),
        }
    }
    if parts.is_empty() {
        parts.push((0, 4));
    }
    parts
}

/// The buffer holding the parameter region at `offset`, and the offset in it (region offsets
/// are aligned, and so are the buffers' first bytes).
fn param_loc(parts: &[(u64, u64)], offset: u64) -> (usize, u64) {
    let i = parts.partition_point(|&(start, _)| start <= offset) - 1;
    (i, offset - parts[i].0)
}

/// Refuses, naming the node, op and tensor, any tensor larger than the device's
/// `max_buffer_size` (no buffer can hold it, so no split helps).
fn check_tensor_sizes(gpu: &Gpu, g: &Graph, plan: &Plan) -> Result<()> {
    let max = gpu.limits().max_buffer_size;
    let refuse = |node: &str, kind: &str, tensor: &str, bytes: u64| Error::DeviceLimit {
        what: format!("node {node:?} ({kind}): tensor {tensor}"),
        limit_name: "max_buffer_size",
        limit: max,
        needed: bytes,
    };
    for &v in g.inputs() {
        let bytes = plan.regions[v.0].bytes;
        if bytes > max {
            let name = &g.value(v).name;
            return Err(refuse(
                name,
                "input",
                &format!("{name:?} {:?}", g.shape(v)),
                bytes,
            ));
        }
    }
    for (step, node) in plan.steps.iter().zip(g.nodes()) {
        let bytes = plan.regions[node.output.0].bytes;
        if bytes > max {
            let what = format!("{:?} {:?}", g.value(node.output).name, g.shape(node.output));
            return Err(refuse(&node.name, node.op.kind(), &what, bytes));
        }
        for (i, r) in step.params.iter().enumerate() {
            if r.bytes > max {
                return Err(refuse(
                    &node.name,
                    node.op.kind(),
                    &format!("parameter {i}"),
                    r.bytes,
                ));
            }
        }
    }
    Ok(())
}

/// Builds every kernel launch of `plan`, in order, and the staging buffers of split nodes.
fn build_dispatches(
    gpu: &Gpu,
    g: &Graph,
    plan: &Plan,
    arenas: &[wgpu::Buffer],
    params: &Params,
) -> Result<(Vec<Dispatch>, Vec<wgpu::Buffer>)> {
    let val = |v: ValueId| {
        let r = plan.regions[v.0];
        BufRef {
            buffer: &arenas[r.buffer],
            offset: r.offset,
            size: r.bytes,
        }
    };
    // Nodes binding a tensor beyond the binding limit are lowered to chunks first (a pure
    // pass), so that the staging buffers they share can be sized and created once.
    let limit = gpu.limits().max_storage_buffer_binding_size;
    let mut lowering = Lowering::new(gpu);
    let mut lowered: Vec<Option<Vec<Launch>>> = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let node = g.node(step.node);
        let too_big = step.kernel != Kernel::Alias
            && node
                .inputs
                .iter()
                .chain([&node.output])
                .map(|v| plan.regions[v.0].bytes)
                .chain(step.params.iter().map(|r| r.bytes))
                .any(|b| b > limit);
        if !too_big {
            lowered.push(None);
            continue;
        }
        let view = |v: ValueId| {
            let r = plan.regions[v.0];
            (
                g.value(v).name.clone(),
                View::new(Store::Arena(r.buffer), r.offset, g.shape(v)),
            )
        };
        let shapes: Vec<&[usize]> = node.inputs.iter().map(|v| g.shape(*v)).collect();
        let nv = NodeViews {
            node,
            ins: node.inputs.iter().map(|&v| view(v)).collect(),
            params: step
                .params
                .iter()
                .zip(plan::device_params_for(
                    &node.op,
                    &shapes,
                    step.algorithm.as_ref(),
                ))
                .map(|(r, t)| {
                    let (b, offset) = param_loc(&params.parts, r.offset);
                    // Views count elements of the session's precision; a parameter kept in
                    // another (Resize's f32 table in an f16 session) is only ever bound whole,
                    // so it is viewed as the same bytes in session elements.
                    let ratio = plan::param_precision(&node.op, gpu.precision()).elem_bytes()
                        / gpu.precision().elem_bytes();
                    if ratio == 1 {
                        View::new(Store::Params(b), offset, t.shape())
                    } else {
                        View::new(Store::Params(b), offset, &[t.numel() * ratio])
                    }
                })
                .collect(),
            out: view(node.output),
        };
        split::lower::lower(&nv, &mut lowering)?;
        lowered.push(Some(lowering.take()));
    }
    let slots: Vec<wgpu::Buffer> = gpu.scoped("allocating staging buffers", || {
        lowering
            .slot_sizes
            .iter()
            .map(|&size| {
                gpu.device().create_buffer(&wgpu::BufferDescriptor {
                    label: Some("wgconv staging"),
                    size: size.div_ceil(4) * 4,
                    usage: wgpu::BufferUsages::STORAGE,
                    mapped_at_creation: false,
                })
            })
            .collect()
    })?;
    let mut out = Vec::new();
    for (step, launches) in plan.steps.iter().zip(&lowered) {
        let node = g.node(step.node);
        let ins: Vec<&[usize]> = node.inputs.iter().map(|v| g.shape(*v)).collect();
        let out_shape = g.shape(node.output);
        let scratch: Vec<BufRef<'_>> = step
            .scratch
            .iter()
            .map(|r| BufRef {
                buffer: &arenas[r.buffer],
                offset: r.offset,
                size: r.bytes,
            })
            .collect();
        let mut emit = |shapes: &[&[usize]],
                        x: &[BufRef<'_>],
                        p: &[BufRef<'_>],
                        y: BufRef<'_>,
                        out: &mut Vec<Dispatch>| {
            let kernel = NodeKernel {
                family: step.kernel,
                algorithm: step.algorithm,
                scratch: &scratch,
            };
            emit_node(gpu, node, kernel, shapes, out_shape, x, p, y, out)
        };
        match launches {
            Some(l) => split::emit(gpu, l, arenas, &params.buffers, &slots, &mut emit, &mut out)?,
            None => {
                let p: Vec<BufRef<'_>> = step
                    .params
                    .iter()
                    .map(|r| {
                        let (b, offset) = param_loc(&params.parts, r.offset);
                        BufRef {
                            buffer: &params.buffers[b],
                            offset,
                            size: r.bytes,
                        }
                    })
                    .collect();
                let x: Vec<BufRef<'_>> = node.inputs.iter().map(|&v| val(v)).collect();
                emit(&ins, &x, &p, val(node.output), &mut out)?;
            }
        }
    }
    Ok((out, slots))
}

/// Gives every convolution that the session will have to split (a tensor, or the scratch of
/// its algorithm, beyond `max_storage_buffer_binding_size`) the single-pass algorithm: the
/// splitter (`crate::split`) cuts plain convolutions over untransformed weights, so split-K and
/// Winograd give way there, whatever was asked.
fn single_pass_where_split(gpu: &Gpu, g: &Graph, algorithms: &mut HashMap<NodeId, ConvAlgorithm>) {
    let limit = gpu.limits().max_storage_buffer_binding_size;
    // Stored in the session's precision (the handle's).
    let precision = gpu.precision();
    let bytes = |shape: &[usize]| precision.buffer_bytes(numel(shape));
    for (i, node) in g.nodes().iter().enumerate() {
        let Op::Conv { spec, weight, .. } = &node.op else {
            continue;
        };
        let input = g.shape(node.inputs[0]);
        let chosen = algorithms
            .get(&NodeId(i))
            .copied()
            .unwrap_or_else(|| algorithm::heuristic(spec, input, weight.shape()));
        let scratch = algorithm::scratch_bytes(&chosen, spec, input, weight.shape(), precision)
            .unwrap_or_default();
        let split = node
            .inputs
            .iter()
            .chain([&node.output])
            .map(|v| bytes(g.shape(*v)))
            .chain([bytes(weight.shape())])
            .chain(scratch)
            .any(|b| b > limit);
        if split {
            algorithms.insert(
                NodeId(i),
                algorithm::single_pass(spec, input, weight.shape()),
            );
        }
    }
}

/// How a node runs: its kernel family, and for a convolution the planned algorithm and its
/// scratch regions.
struct NodeKernel<'a> {
    family: Kernel,
    algorithm: Option<ConvAlgorithm>,
    scratch: &'a [BufRef<'a>],
}

/// Emits `node`'s kernel(s) for inputs of shapes `ins` bound at `x`, parameters at `p`, the
/// output at `y` (of shape `out_shape` for a concatenation, the only op that needs it).
#[allow(clippy::too_many_arguments)]
fn emit_node(
    gpu: &Gpu,
    node: &Node,
    kernel: NodeKernel<'_>,
    ins: &[&[usize]],
    out_shape: &[usize],
    x: &[BufRef<'_>],
    p: &[BufRef<'_>],
    y: BufRef<'_>,
    out: &mut Vec<Dispatch>,
) -> Result<()> {
    let named = |e: Error| match e {
        Error::InvalidOp { op, message } => Error::invalid_op(
            format!("node {:?} ({}): {op}", node.name, node.op.kind()),
            message,
        ),
        e => e,
    };
    let d = match (&node.op, kernel.family) {
        (_, Kernel::Alias) => return Ok(()),
        (
            Op::Conv {
                spec,
                weight,
                epilogue,
                ..
            },
            _,
        ) => {
            let b = ConvBindings {
                input: x[0],
                weight: p[0],
                bias: p.get(1).copied(),
                residual: epilogue.residual.then(|| x[1]),
                output: y,
            };
            let a = kernel
                .algorithm
                .unwrap_or_else(|| algorithm::single_pass(spec, ins[0], weight.shape()));
            let ds = algorithm::conv_with(
                gpu,
                &a,
                spec,
                ins[0],
                weight.shape(),
                *epilogue,
                b,
                kernel.scratch,
            )
            .map_err(named)?;
            out.extend(ds);
            return Ok(());
        }
        (
            Op::ConvTranspose {
                spec,
                weight,
                epilogue,
                ..
            },
            _,
        ) => conv_transpose::conv_transpose(
            gpu,
            spec,
            ins[0],
            weight.shape(),
            *epilogue,
            ConvBindings {
                input: x[0],
                weight: p[0],
                bias: p.get(1).copied(),
                residual: epilogue.residual.then(|| x[1]),
                output: y,
            },
        ),
        (Op::BatchNorm { .. }, _) => channel_affine(
            gpu,
            ins[0],
            Activation::Identity,
            AffineBindings {
                input: x[0],
                scale: p[0],
                shift: p[1],
                residual: None,
                output: y,
            },
        ),
        (
            Op::ChannelAffine {
                activation,
                residual,
                ..
            },
            _,
        ) => channel_affine(
            gpu,
            ins[0],
            *activation,
            AffineBindings {
                input: x[0],
                scale: p[0],
                shift: p[1],
                residual: residual.then(|| x[1]),
                output: y,
            },
        ),
        (Op::Activation(a), _) => eltwise::unary(gpu, *a, x[0], y, numel(ins[0])),
        (Op::Binary { op, activation }, _) => {
            eltwise::binary(gpu, *op, *activation, (x[0], ins[0]), (x[1], ins[1]), y)
        }
        (
            Op::Linear {
                weight, activation, ..
            },
            _,
        ) => matmul::linear(
            gpu,
            ins[0],
            weight.shape(),
            *activation,
            x[0],
            p[0],
            p.get(1).copied(),
            y,
        ),
        (Op::MatMul, _) => matmul::matmul(gpu, ins[0], ins[1], x[0], x[1], y),
        (Op::Pool(spec), _) => pool::pool(gpu, spec, ins[0], x[0], y),
        (Op::GlobalPool(kind), _) => pool::global_pool(gpu, *kind, ins[0], x[0], y),
        (Op::Softmax { axis }, _) => softmax::softmax(gpu, *axis, ins[0], x[0], y),
        (
            Op::SeGate {
                b1,
                activation,
                pool,
                ..
            },
            _,
        ) => se_gate(
            gpu,
            ins[0][0],
            ins[0][1],
            b1.numel(),
            pool.then(|| numel(&ins[0][2..])),
            *activation,
            SeGateBindings {
                input: x[0],
                w1: p[0],
                b1: p[1],
                w2: p[2],
                b2: p[3],
                gate: y,
            },
        ),
        (Op::PixelShuffle(s), _) => rearrange::pixel_shuffle(gpu, s, ins[0], x[0], y),
        (Op::SpaceToDepth(s), _) => rearrange::space_to_depth(gpu, s, ins[0], x[0], y),
        (Op::ChannelShuffle(s), _) => rearrange::channel_shuffle(gpu, s, ins[0], x[0], y),
        (Op::Resize(spec), _) => resize::resize(gpu, spec, ins[0], x[0], p[0], y),
        (Op::Pad { begin, end, value }, _) => pad::pad(gpu, begin, end, *value, ins[0], x[0], y),
        (Op::Transpose { perm }, _) => rearrange::transpose(gpu, perm, ins[0], x[0], y),
        (
            Op::Slice {
                starts,
                ends,
                steps,
            },
            _,
        ) => rearrange::slice(gpu, ins[0], starts, ends, steps, x[0], y),
        (Op::Concat { axis }, _) => {
            let mut offset = 0;
            for i in 0..x.len() {
                let d = rearrange::copy_into(gpu, *axis, ins[i], out_shape, offset, x[i], y)
                    .map_err(named)?;
                out.push(d);
                offset += ins[i][*axis];
            }
            return Ok(());
        }
        (Op::Flatten { .. } | Op::Reshape { .. } | Op::Dropout { .. } | Op::Identity, _) => {
            unreachable!("views are Kernel::Alias")
        }
    };
    out.push(d.map_err(named)?);
    Ok(())
}
