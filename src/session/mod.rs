//! Running a graph on the device: execution only, every decision is the plan's.
//!
//! [`Session::new`] optimises the graph ([`crate::graph::passes::optimize`]), asks the autotuner
//! for algorithms when enabled, lowers it ([`crate::plan::lower`]), then (`build.rs`) creates
//! what the plan lists, once: the activation, parameter (uploaded here), staging and readback
//! buffers, and one [`Dispatch`] per planned launch (pipeline, uniform, bind group).
//! [`Session::run`] (`run.rs`) then only writes the inputs into their buffers with
//! `queue.write_buffer`, records every dispatch into one compute pass of one command encoder,
//! appends the copies of the outputs into a readback buffer, submits once, and maps it. It
//! creates no bind group, and no buffer unless it runs alongside others (one readback buffer
//! per run in flight); the counters let tests check that.
//! [`Session::run_gpu`] (`gpu_io.rs`) takes inputs and gives outputs that stay on the device.
//!
//! A session is `Send + Sync`. Runs share the activation buffers, so an async mutex orders
//! their host-side half (input writes, recording, submission: the queue then runs their GPU
//! work in that order); it is released before the GPU executes, so while one run's work is on
//! the GPU the next run uploads, records and submits, and each reads back through a buffer of
//! its own (`readback.rs`). [`Session::run_async`] waits for its turn without blocking a
//! thread; blocking runs are their async forms waited on with `pollster`.

mod build;
mod gpu_io;
mod host_data;
mod params;
mod readback;
mod run;
mod self_check;

pub use gpu_io::GpuInput;
pub use host_data::HostData;
pub use params::ParamStore;
pub use self_check::NodeCheck;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::device::{Dispatch, Gpu};
use crate::error::Result;
use crate::graph::{Graph, NodeId};
use crate::kernels::algorithm::ConvAlgorithm;
use crate::plan::{Plan, Region};
use crate::precision::Precision;

/// How a session prepares its graph.
///
/// ```
/// use wgconv::graph::{Conv2d, Graph};
/// use wgconv::{Gpu, GpuOptions, Session, SessionOptions, weights};
///
/// let mut g = Graph::new();
/// let x = g.input("x", &[1, 3, 8, 8]);
/// let y = g.conv2d(x, "conv", Conv2d::new(4, 3).pad(1).no_bias())?;
/// let y = g.batch_norm(y, "bn")?;
/// let y = g.relu(y)?;
/// g.output(y);
/// weights::init_seeded(&mut g, 4);
/// let gpu = Gpu::with_options(&GpuOptions { cache_dir: None, ..GpuOptions::default() })?;
/// let fused = Session::new(&gpu, &g)?; // BatchNorm folded, ReLU fused into the conv
/// let plain = Session::with_options(&gpu, &g, SessionOptions { optimize: false, ..Default::default() })?;
/// assert!(fused.dispatch_count() < plain.dispatch_count());
/// # Ok::<(), wgconv::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// Run the graph passes (BatchNorm folding, epilogue fusion, SE fusion) first.
    pub optimize: bool,
    /// Let tensors whose lifetimes do not overlap share memory (see [`crate::plan`]); off,
    /// every tensor has its own bytes.
    pub reuse_memory: bool,
    /// Storage (and accumulation) type of activations and weights on the device; `None`: the
    /// precision of the [`Gpu`] handle (f32 unless made by [`Gpu::with_precision`]). f16
    /// precisions need `SHADER_F16` ([`crate::Error::MissingFeature`] otherwise); host inputs and
    /// outputs stay f32 tensors either way (converted on upload and readback), while GPU
    /// tensors ([`Session::run_gpu`]) are in this precision.
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
    /// Before using a fast convolution algorithm (split-K, Winograd) on a node, check it on
    /// this device: a small problem of the node's shape class in the session's precision
    /// against the CPU reference, under the algorithm's stated bound, once per device
    /// ([`crate::tune::self_check`]). A failing one is replaced by the plain kernel for that
    /// node ([`Session::disabled_fast_paths`]). On by default: these paths cannot all be
    /// tested in CI on the adapter they run on, and a wrong result costs more than the
    /// milliseconds the checks take; off, builds skip them.
    pub self_check: bool,
    /// Let f32 convolutions run on tensor cores (cooperative matrices), with operands rounded
    /// to f16 while staged and sums kept in f32 — PyTorch's `allow_tf32` in spirit, and off by
    /// default for the same reason: each product then carries f16's relative error (2^-11,
    /// about 5e-4, against f32's 6e-8), so results differ from f32 in the 3rd-4th significant
    /// digit, and inputs beyond 65504 become infinities. `None`: the [`Gpu`] handle's setting
    /// ([`Gpu::with_f32_tensor_cores`]). No effect in the f16 precisions (which use tensor
    /// cores whenever the device has them) or on a device without them
    /// ([`Session::tensor_core_note`] says so).
    pub f32_tensor_cores: Option<bool>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            optimize: true,
            reuse_memory: true,
            precision: None,
            algorithms: HashMap::new(),
            autotune: false,
            self_check: true,
            f32_tensor_cores: None,
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
    /// Bytes written from the host to the device (parameters at creation, inputs at each
    /// host run; none for [`Session::run_gpu`]).
    pub bytes_uploaded: u64,
    /// Bytes copied back to the host (none for [`Session::run_gpu`]).
    pub bytes_read_back: u64,
    /// GPU buffers created (activation buffers, parameters, readback, staging buffers of
    /// split nodes, one uniform per dispatch, the output tensors of [`Session::run_gpu`]).
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
///
/// Inputs go by position ([`Session::run`]), by name ([`Session::run_named`]), or borrowed
/// from the caller's slices ([`Session::run_borrowed`]); all give the same outputs:
///
/// ```
/// use wgconv::graph::{Conv2d, Graph, cpu};
/// use wgconv::{Error, Session, SessionConfig, Tensor, weights};
///
/// let mut g = Graph::new();
/// let x = g.input("x", &[1, 2, 6, 6]);
/// let y = g.conv2d(x, "conv", Conv2d::new(4, 3))?;
/// g.output_named(y, "y");
/// weights::init_seeded(&mut g, 1);
/// let session = Session::from_graph(&g, &SessionConfig::default().cache_dir(None))?;
/// assert_eq!(session.outputs(), [("y".to_string(), vec![1, 4, 4, 4])]);
///
/// let input = Tensor::random(vec![1, 2, 6, 6], 2);
/// let by_position = session.run(std::slice::from_ref(&input))?;
/// let by_name = session.run_named(&[("x", &input)])?;
/// let borrowed = session.run_borrowed(&[("x", input.data(), input.shape())])?;
/// assert_eq!(by_name[0].1, by_position[0]);
/// assert_eq!(borrowed[0].1, by_position[0]);
/// let want = cpu::run(&g, &[input.clone()])?;
/// assert!(by_position[0].data().iter().zip(want[0].data()).all(|(a, b)| (a - b).abs() < 1e-4));
///
/// let err = session.run_named(&[("image", &input)]).unwrap_err();
/// assert!(matches!(err, Error::UnknownInput { name, .. } if name == "image"));
/// # Ok::<(), wgconv::Error>(())
/// ```
pub struct Session<'g> {
    gpu: GpuHandle<'g>,
    precision: Precision,
    graph: Graph,
    plan: Plan,
    arenas: Vec<wgpu::Buffer>,
    /// The parameter buffers the dispatches bind (held here: the store holds them weakly).
    params: Vec<std::sync::Arc<wgpu::Buffer>>,
    store: std::sync::Arc<ParamStore>,
    /// Readback buffers, one per run in flight.
    readback: readback::ReadbackPool,
    dispatches: Vec<Dispatch>,
    /// Staging buffers of nodes split to fit the binding limit (see [`crate::split`]).
    staging: Vec<wgpu::Buffer>,
    inputs: Vec<(String, Region, Vec<usize>)>,
    /// (region, readback offset, shape) per output.
    outputs: Vec<(Region, u64, Vec<usize>)>,
    counters: AtomicCounters,
    /// Orders runs' host-side halves (input writes to submission); not held while the GPU runs.
    lock: futures_intrusive::sync::Mutex<()>,
    /// Staging for host inputs the convert kernel widens, per (input, source format).
    host_staging: std::sync::Mutex<
        std::collections::HashMap<
            (usize, crate::kernels::convert::SourceFormat),
            std::sync::Arc<host_data::Staging>,
        >,
    >,
    /// The fast paths the plan relied on and their self-checks.
    self_checks: Vec<NodeCheck>,
    /// Why the f32 tensor-core opt-in had no effect, if it had none.
    tensor_core_note: Option<String>,
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
        Self::build(GpuHandle::Shared(gpu), graph, options, Default::default())
    }

    /// Prepares `graph` on a shared device, binding its parameters from `store` (uploading
    /// there only the ones it does not hold yet): sessions of one model at different shapes
    /// share their weights this way.
    pub fn with_param_store(
        gpu: std::sync::Arc<Gpu>,
        graph: &Graph,
        options: SessionOptions,
        store: std::sync::Arc<ParamStore>,
    ) -> Result<Self> {
        Self::build(GpuHandle::Shared(gpu), graph, options, store)
    }
}

impl<'g> Session<'g> {
    /// Optimises, plans and prepares `graph` on `gpu`.
    pub fn new(gpu: &'g Gpu, graph: &Graph) -> Result<Self> {
        Self::with_options(gpu, graph, SessionOptions::default())
    }

    /// Prepares `graph` with explicit options.
    pub fn with_options(gpu: &'g Gpu, graph: &Graph, options: SessionOptions) -> Result<Self> {
        Self::build(GpuHandle::Borrowed(gpu), graph, options, Default::default())
    }

    /// The device this session runs on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The storage precision of activations and weights on the device.
    pub fn precision(&self) -> Precision {
        self.precision
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

    /// Bytes of the device buffers this session owns (activations, staging, readback: one
    /// readback buffer per run that was ever in flight at once; its
    /// parameters are the store's, [`Session::param_store`]).
    pub fn device_bytes(&self) -> u64 {
        self.arenas
            .iter()
            .chain(&self.staging)
            .map(|b| b.size())
            .sum::<u64>()
            + self.readback.device_bytes()
    }

    /// Bytes of the activation buffers (the plan's arenas: intermediate tensors and scratch).
    pub fn arena_bytes(&self) -> u64 {
        self.arenas.iter().map(|b| b.size()).sum()
    }

    /// Bytes of the parameter buffers this session binds.
    pub fn param_bytes(&self) -> u64 {
        self.params.iter().map(|b| b.size()).sum()
    }

    /// The store its parameters live in.
    pub fn param_store(&self) -> &std::sync::Arc<ParamStore> {
        &self.store
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
}
