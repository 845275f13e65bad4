//! Shapes and values known only at run time: a [`DynamicSession`] plans a model anew for each
//! shape signature it meets and keeps the plans in a bounded cache.
//!
//! A [`Session`] is fixed at creation: its input shapes, and every weight and shape-like
//! operand. A `DynamicSession` takes any input shapes consistent with the model (ONNX
//! `dim_param`s, or the dimensions a graph's caller opens), and any input in any slot: float
//! inputs are written to the device at every run (a weight given at run time is read by its
//! kernel from that buffer, in its ONNX layout); inputs that set shapes (a Reshape's shape,
//! axes, pads, Resize scales or sizes) and integer inputs are read on the host and join the
//! plan key. The first run of a signature imports and
//! plans it; later runs reuse that plan's buffers, pipelines and bind groups. Pipelines live
//! in the device's cache and parameters in one [`ParamStore`] for the whole session, so a new
//! plan uploads only what no plan had (a resize's lookup table for a new size, say).
//!
//! ```no_run
//! use wgconv::{DynamicSession, SessionConfig, Tensor};
//! let session = DynamicSession::from_onnx_path("model.onnx", &SessionConfig::default())?;
//! for batch in [1, 8, 3] {
//!     let x = Tensor::zeros(vec![batch, 3, 224, 224]);
//!     let out = session.run_named(&[("input", &x)])?;
//!     println!("batch {batch}: {:?}", out[0].1.shape());
//! }
//! println!("{} plans built", session.counters().plans_built);
//! # Ok::<(), wgconv::Error>(())
//! ```

mod cache;
mod gpu_io;
mod inputs;

#[cfg(feature = "onnx")]
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::model::SessionConfig;
#[cfg(feature = "onnx")]
use crate::onnx::{ImportOptions, import_bytes_at};
use crate::session::{ParamStore, Session, SessionOptions};
use crate::tensor::Tensor;
use cache::{PlanCache, Signature};
use inputs::InputView;
pub use inputs::{Dim, InputInfo, InputKind};

/// Plans kept when [`SessionConfig::plan_cache`] is not set.
pub const DEFAULT_PLAN_CACHE: usize = 8;

/// Where a signature's graph comes from.
enum Source {
    /// Imported anew per signature, with the signature's shapes and integer values.
    #[cfg(feature = "onnx")]
    Onnx {
        bytes: Vec<u8>,
        base: Option<PathBuf>,
        import: ImportOptions,
    },
    /// Re-inferred with the signature's input shapes.
    Graph(Graph),
}

/// What a dynamic session has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DynamicCounters {
    /// Runs completed.
    pub runs: u64,
    /// Signatures planned (imports, plans, buffers, bind groups built).
    pub plans_built: u64,
    /// Runs that found their plan in the cache.
    pub plan_hits: u64,
    /// Plans dropped from the cache to make room.
    pub evictions: u64,
    /// Plans in the cache now.
    pub cached_plans: usize,
    /// Parameter bytes written to the device, over all plans.
    pub param_bytes_uploaded: u64,
}

/// A model that runs at whatever shapes and shape-like values each run brings (module docs).
/// `Send + Sync`: runs of different signatures proceed on their own plans; runs of one
/// signature are serialised by its plan.
///
/// A built graph whose batch dimension is left open:
///
/// ```
/// use wgconv::graph::{Conv2d, Graph};
/// use wgconv::{Dim, DynamicSession, SessionConfig, Tensor, weights};
///
/// let mut g = Graph::new();
/// let x = g.input("x", &[1, 3, 8, 8]);
/// let y = g.conv2d(x, "conv", Conv2d::new(4, 3).stride(2).pad(1))?;
/// g.output(y);
/// weights::init_seeded(&mut g, 5);
/// // Axis 0 of input "x" is the symbol N; the other dimensions stay as built.
/// let config = SessionConfig::default().cache_dir(None);
/// let session = DynamicSession::from_graph(&g, &[("x", 0, "N")], &config)?;
/// assert_eq!(session.inputs()[0].dims_text(), "[N, 3, 8, 8]");
/// assert_eq!(session.inputs()[0].dims.as_ref().unwrap()[0], Dim::sym("N"));
/// for batch in [2, 1, 2] {
///     let y = session.run(&[Tensor::random(vec![batch, 3, 8, 8], 1)])?;
///     assert_eq!(y[0].shape(), &[batch, 4, 4, 4]);
/// }
/// let c = session.counters();
/// assert_eq!((c.runs, c.plans_built, c.plan_hits), (3, 2, 1));
/// # Ok::<(), wgconv::Error>(())
/// ```
pub struct DynamicSession {
    gpu: Arc<Gpu>,
    source: Source,
    inputs: Vec<InputInfo>,
    options: SessionOptions,
    params: Arc<ParamStore>,
    cache: Mutex<PlanCache>,
    runs: AtomicU64,
    plans_built: AtomicU64,
    plan_hits: AtomicU64,
    evictions: AtomicU64,
}

impl std::fmt::Debug for DynamicSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicSession")
            .field("inputs", &self.inputs)
            .field("counters", &self.counters())
            .finish()
    }
}

impl DynamicSession {
    #[cfg(feature = "onnx")]
    /// An ONNX file (external data next to it). Dimensions fixed in `config.import` are
    /// fixed; inputs given there as constants are not inputs any more.
    pub fn from_onnx_path(path: impl AsRef<Path>, config: &SessionConfig) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(Error::io("reading", path))?;
        let base = Some(path.parent().map(Path::to_path_buf).unwrap_or_default());
        Self::onnx(bytes, base, config)
    }

    #[cfg(feature = "onnx")]
    /// An ONNX model in memory (external data files are not reachable this way).
    pub fn from_onnx_bytes(bytes: &[u8], config: &SessionConfig) -> Result<Self> {
        Self::onnx(bytes.to_vec(), None, config)
    }

    /// A built graph whose input dimensions `open` lists (input name, axis, symbol) may
    /// change per run; the others stay as built. Every run's shapes are inferred through the
    /// graph (a reshape to a fixed shape pins what it reads).
    pub fn from_graph(
        graph: &Graph,
        open: &[(&str, usize, &str)],
        config: &SessionConfig,
    ) -> Result<Self> {
        let inputs = inputs::graph_inputs(graph, open)?;
        Self::new(Source::Graph(graph.clone()), inputs, config)
    }

    #[cfg(feature = "onnx")]
    fn onnx(bytes: Vec<u8>, base: Option<PathBuf>, config: &SessionConfig) -> Result<Self> {
        let inputs = inputs::onnx_inputs(&bytes, &config.import)?;
        let source = Source::Onnx {
            bytes,
            base,
            import: config.import.clone(),
        };
        Self::new(source, inputs, config)
    }

    fn new(source: Source, inputs: Vec<InputInfo>, config: &SessionConfig) -> Result<Self> {
        let session = Self {
            gpu: config.device()?,
            source,
            inputs,
            options: config.session.clone(),
            params: Arc::new(ParamStore::new()),
            cache: Mutex::new(PlanCache::new(
                config.plan_cache.unwrap_or(DEFAULT_PLAN_CACHE),
            )),
            runs: AtomicU64::new(0),
            plans_built: AtomicU64::new(0),
            plan_hits: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        };
        // Shapes fixed in advance: plan now, so errors and the cost come at creation.
        if let Some(fixed) = session.fixed_shapes() {
            let zeros: Vec<Tensor> = fixed.into_iter().map(Tensor::zeros).collect();
            session.plan_for(&zeros.iter().collect::<Vec<_>>())?;
        }
        Ok(session)
    }

    /// Every input's shape when none is symbolic and none is read on the host.
    fn fixed_shapes(&self) -> Option<Vec<Vec<usize>>> {
        self.inputs
            .iter()
            .map(|i| match (&i.dims, i.kind) {
                (Some(d), InputKind::Float) => d
                    .iter()
                    .map(|d| match d {
                        Dim::Fixed(n) => Some(*n),
                        Dim::Symbolic(_) => None,
                    })
                    .collect(),
                _ => None,
            })
            .collect()
    }

    /// The model's inputs, in the order [`DynamicSession::run`] takes them, with symbolic
    /// dimensions as such.
    pub fn inputs(&self) -> &[InputInfo] {
        &self.inputs
    }

    /// The device.
    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }

    /// The counters so far.
    pub fn counters(&self) -> DynamicCounters {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DynamicCounters {
            runs: l(&self.runs),
            plans_built: l(&self.plans_built),
            plan_hits: l(&self.plan_hits),
            evictions: l(&self.evictions),
            cached_plans: self.cache.lock().map_or(0, |c| c.count()),
            param_bytes_uploaded: self.params.uploaded_bytes(),
        }
    }

    /// Device bytes held now: the cached plans' buffers and the parameters they bind.
    pub fn device_bytes(&self) -> u64 {
        let plans: u64 = self
            .cache
            .lock()
            .map_or(0, |c| c.sessions().map(|s| s.device_bytes()).sum());
        plans + self.params.live_bytes()
    }

    /// Runs with one tensor per input, in [`DynamicSession::inputs`] order (integer inputs
    /// as tensors of whole numbers); returns the outputs in the model's order.
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let refs: Vec<&Tensor> = inputs.iter().collect();
        Ok(self.run_refs(&refs)?.into_iter().map(|(_, t)| t).collect())
    }

    /// Runs with inputs given by name; returns every output with its name.
    pub fn run_named(&self, inputs: &[(&str, &Tensor)]) -> Result<Vec<(String, Tensor)>> {
        let ordered = self.order_by_name(inputs)?;
        self.run_refs(&ordered)
    }

    /// `inputs` in [`DynamicSession::inputs`] order; unknown, repeated and missing names are
    /// typed errors.
    fn order_by_name<T: Copy>(&self, inputs: &[(&str, T)]) -> Result<Vec<T>> {
        let names: Vec<String> = self.inputs.iter().map(|i| i.name.clone()).collect();
        crate::model::order_by_name(&names, inputs.iter().copied())
    }

    fn run_refs(&self, inputs: &[&Tensor]) -> Result<Vec<(String, Tensor)>> {
        let session = self.plan_for(inputs)?;
        let fed: Vec<(&str, &Tensor)> = self
            .inputs
            .iter()
            .zip(inputs)
            .filter(|(info, _)| info.kind == InputKind::Float)
            .map(|(info, t)| (info.name.as_str(), *t))
            .collect();
        let out = session.run_named(&fed)?;
        self.runs.fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }

    /// The plan (a fixed-shape [`Session`]) that runs these inputs: from the cache, or built
    /// now. Inputs are checked first; nothing is built for inputs that do not fit.
    pub fn plan_for(&self, inputs: &[&Tensor]) -> Result<Arc<Session<'static>>> {
        let views: Vec<InputView<'_>> = inputs.iter().map(|&t| t.into()).collect();
        self.plan_for_views(&views)
    }

    /// [`DynamicSession::plan_for`] on what planning reads of each input.
    fn plan_for_views(&self, inputs: &[InputView<'_>]) -> Result<Arc<Session<'static>>> {
        inputs::check(&self.inputs, inputs)?;
        let key = Signature {
            shapes: inputs.iter().map(|t| t.shape.to_vec()).collect(),
            values: self
                .inputs
                .iter()
                .zip(inputs)
                .map(|(info, t)| match (info.kind, t.host) {
                    (InputKind::Host, Some(h)) => h.data().iter().map(|x| x.to_bits()).collect(),
                    _ => Vec::new(),
                })
                .collect(),
        };
        let mut cache = self.cache.lock().map_err(|_| {
            Error::invalid_op(
                "dynamic session",
                "a thread panicked while planning a signature",
            )
        })?;
        if let Some(s) = cache.get(&key) {
            self.plan_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(s);
        }
        let graph = self.graph_for(inputs)?;
        let session = Arc::new(Session::with_param_store(
            self.gpu.clone(),
            &graph,
            self.options.clone(),
            self.params.clone(),
        )?);
        self.plans_built.fetch_add(1, Ordering::Relaxed);
        let evicted = cache.insert(key, session.clone());
        self.evictions.fetch_add(evicted as u64, Ordering::Relaxed);
        Ok(session)
    }

    /// The graph for one signature.
    fn graph_for(&self, inputs: &[InputView<'_>]) -> Result<Graph> {
        match &self.source {
            #[cfg(feature = "onnx")]
            Source::Onnx {
                bytes,
                base,
                import: base_opts,
            } => {
                let mut opts = base_opts.clone();
                for (info, t) in self.inputs.iter().zip(inputs) {
                    match info.kind {
                        InputKind::Float => {
                            opts.input_shapes
                                .insert(info.name.clone(), t.shape.to_vec());
                        }
                        InputKind::Host => {
                            let host = t.host.ok_or_else(|| {
                                info.mismatch("values on the host (it sets shapes)", "none")
                            })?;
                            opts.constants.insert(info.name.clone(), host.clone());
                        }
                    }
                }
                import_bytes_at(bytes, base.as_deref(), &opts)
            }
            Source::Graph(g) => {
                let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape.to_vec()).collect();
                g.with_input_shapes(&shapes)
            }
        }
    }
}
