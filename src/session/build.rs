//! Building a session: optimise, tune, lower, then create and upload what the plan lists and
//! encode every planned launch.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::params::ParamStore;
use super::readback::ReadbackPool;
use super::self_check;
use super::{AtomicCounters, GpuHandle, Session, SessionOptions};
use crate::device::{BufRef, Dispatch, Gpu};
use crate::error::Result;
use crate::graph::{Graph, NodeId, passes};
use crate::plan::{self, Plan, PlanOptions, Slice, Store, param_precision};
use crate::tensor::numel;
use crate::tune::GpuTuner;

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC
}

/// The buffers a plan names. Parameters live in the store, one buffer per tensor: for each of
/// the plan's parameter buffers, the (region offset, store buffer) of the tensors placed in it,
/// by offset.
struct Buffers {
    arenas: Vec<wgpu::Buffer>,
    params: Vec<Vec<(u64, Arc<wgpu::Buffer>)>>,
    staging: Vec<wgpu::Buffer>,
}

impl Buffers {
    fn bind(&self, s: &Slice) -> BufRef<'_> {
        let (buffer, offset) = match s.store {
            Store::Arena(i) => (&self.arenas[i], s.offset),
            Store::Staging(i) => (&self.staging[i], s.offset),
            // A split node may bind part of a tensor: find the tensor the range starts in.
            Store::Params(i) => {
                let tensors = &self.params[i];
                let at = tensors.partition_point(|(start, _)| *start <= s.offset) - 1;
                let (start, buffer) = &tensors[at];
                (&**buffer, s.offset - start)
            }
        };
        BufRef {
            buffer,
            offset,
            size: s.size,
        }
    }
}

impl<'g> Session<'g> {
    pub(super) fn build(
        handle: GpuHandle<'g>,
        graph: &Graph,
        options: SessionOptions,
        store: Arc<ParamStore>,
    ) -> Result<Self> {
        let precision = options.precision.unwrap_or(handle.precision());
        // Kernels take their precision from the handle they are given.
        let f32_tensor_cores = options
            .f32_tensor_cores
            .unwrap_or(handle.f32_tensor_cores());
        let gpu = &handle
            .with_precision(precision)?
            .with_f32_tensor_cores(f32_tensor_cores);
        let tensor_core_note = self_check::tensor_core_note(gpu);
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
        let plan_options = PlanOptions {
            no_reuse: !options.reuse_memory,
            algorithms,
            ..Default::default()
        };
        let plan = plan::lower(&graph, gpu.target(), &plan_options)?;
        let (plan, self_checks) = if options.self_check {
            self_check::checked_plan(gpu, &graph, plan, &plan_options)?
        } else {
            (plan, Vec::new())
        };
        let counters = AtomicCounters::default();
        let store_created = store.buffers_created();
        let store_uploaded = store.uploaded_bytes();
        let buffers = allocate(gpu, &graph, &plan, &store)?;
        let (outputs, readback_bytes) = readback_layout(&graph, &plan);
        let readback = ReadbackPool::new(gpu, readback_bytes)?;
        // Parameters count where this build uploaded them (none when the store had them all).
        let created = (buffers.arenas.len() + buffers.staging.len() + 1) as u64
            + (store.buffers_created() - store_created);
        counters
            .buffers_created
            .fetch_add(created, Ordering::Relaxed);
        counters
            .bytes_uploaded
            .fetch_add(store.uploaded_bytes() - store_uploaded, Ordering::Relaxed);
        let dispatches: Vec<Dispatch> = plan
            .launches()
            .map(|l| gpu.dispatch(&l.clone().map(|s| buffers.bind(&s))))
            .collect::<Result<_>>()?;
        // One uniform and one bind group per dispatch.
        counters
            .buffers_created
            .fetch_add(dispatches.len() as u64, Ordering::Relaxed);
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
            arenas: buffers.arenas,
            params: buffers
                .params
                .into_iter()
                .flatten()
                .map(|(_, b)| b)
                .collect(),
            store,
            readback,
            dispatches,
            staging: buffers.staging,
            inputs,
            outputs,
            counters,
            lock: futures_intrusive::sync::Mutex::new((), true),
            host_staging: Default::default(),
            self_checks,
            tensor_core_note,
        })
    }
}

/// Creates the plan's activation and staging buffers, and finds or uploads its parameters in
/// `store`.
fn allocate(gpu: &Gpu, graph: &Graph, plan: &Plan, store: &ParamStore) -> Result<Buffers> {
    let (arenas, staging) = gpu.scoped("allocating session buffers", || {
        let make = |label, size: u64, usage| {
            gpu.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(4),
                usage,
                mapped_at_creation: false,
            })
        };
        let arenas = plan
            .buffers
            .iter()
            .map(|&b| make("wgconv activations", b, storage_usage()))
            .collect();
        let staging = plan
            .staging
            .iter()
            .map(|&b| make("wgconv staging", b, wgpu::BufferUsages::STORAGE))
            .collect();
        (arenas, staging)
    })?;
    let mut params = vec![Vec::new(); plan.param_buffers.len()];
    for step in &plan.steps {
        let op = &graph.node(step.node).op;
        for (region, data) in step.params.iter().zip(&step.param_data) {
            let bytes = param_precision(op, plan.precision()).encode(data.tensor(op).data());
            let buffer = store.get_or_upload(gpu, &bytes)?;
            params[region.buffer].push((region.offset, buffer));
        }
    }
    for tensors in &mut params {
        tensors.sort_by_key(|(offset, _)| *offset);
    }
    Ok(Buffers {
        arenas,
        params,
        staging,
    })
}

/// Where each output lands in the readback buffer: (region, offset, shape) per output, and the
/// readback buffer's size.
fn readback_layout(graph: &Graph, plan: &Plan) -> (Vec<(plan::Region, u64, Vec<usize>)>, u64) {
    let mut outputs = Vec::new();
    let mut off = 0u64;
    for &v in graph.outputs() {
        let shape = graph.shape(v).to_vec();
        let bytes = plan.precision().buffer_bytes(numel(&shape));
        outputs.push((plan.regions[v.0], off, shape));
        off += bytes.div_ceil(8) * 8;
    }
    (outputs, off)
}
