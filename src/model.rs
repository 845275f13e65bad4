//! The embedding API: a [`Session`] made straight from an ONNX file, ONNX bytes or a graph,
//! owning its device, with inputs and outputs by name.
//!
//! ```no_run
//! use wgconv::{Session, SessionConfig, Tensor};
//! let session = Session::from_onnx_path("model.onnx", &SessionConfig::default().input_shape("input", &[1, 3, 224, 224]))?;
//! let x = Tensor::zeros(vec![1, 3, 224, 224]);
//! for (name, y) in session.run_named(&[("input", &x)])? {
//!     println!("{name}: {:?}", y.shape());
//! }
//! # Ok::<(), wgconv::Error>(())
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::device::{Gpu, GpuOptions, GpuTensor};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::onnx::{ImportOptions, import_bytes, import_path};
use crate::precision::Precision;
use crate::session::{Session, SessionOptions};
use crate::tensor::Tensor;

/// How to create a session: which adapter, the shapes of dynamic inputs, and graph options.
#[derive(Clone, Debug, Default)]
pub struct SessionConfig {
    /// Adapter choice (defaults from `WGCONV_BACKEND` / `WGCONV_ADAPTER` when `None`).
    pub gpu: Option<GpuOptions>,
    /// A device to share instead of opening one.
    pub shared_gpu: Option<Arc<Gpu>>,
    /// ONNX import: input shapes and weights given as graph inputs.
    pub import: ImportOptions,
    /// Graph passes and memory reuse.
    pub session: SessionOptions,
    /// Plans a [`crate::DynamicSession`] keeps, one per shape signature (default
    /// [`crate::dynamic::DEFAULT_PLAN_CACHE`]); the least recently used is evicted and its
    /// buffers freed.
    pub plan_cache: Option<usize>,
}

impl SessionConfig {
    /// Fixes the shape of input `name` (required for dynamic dimensions).
    pub fn input_shape(mut self, name: &str, shape: &[usize]) -> Self {
        self.import
            .input_shapes
            .insert(name.to_string(), shape.to_vec());
        self
    }

    /// Runs in `precision` (f16 needs the adapter's `SHADER_F16`).
    pub fn precision(mut self, precision: Precision) -> Self {
        self.session.precision = Some(precision);
        self
    }

    /// Autotunes the convolutions ([`SessionOptions::autotune`], [`crate::tune`]): slower
    /// first builds, faster runs, choices remembered per adapter in the cache directory.
    pub fn autotune(mut self, on: bool) -> Self {
        self.session.autotune = on;
        self
    }

    /// Checks fast convolution paths on the device before using them
    /// ([`SessionOptions::self_check`]; on by default).
    pub fn self_check(mut self, on: bool) -> Self {
        self.session.self_check = on;
        self
    }

    /// Keeps up to `plans` plans in a [`crate::DynamicSession`].
    pub fn plan_cache(mut self, plans: usize) -> Self {
        self.plan_cache = Some(plans);
        self
    }

    /// The device to run on: the shared one, or one opened as the options say.
    pub(crate) fn device(&self) -> Result<Arc<Gpu>> {
        if let Some(g) = &self.shared_gpu {
            return Ok(g.clone());
        }
        let opts = match &self.gpu {
            Some(o) => o.clone(),
            None => GpuOptions::from_env()?,
        };
        Ok(Arc::new(Gpu::with_options(&opts)?))
    }
}

impl Session<'static> {
    /// Imports an ONNX file (external data next to it) and prepares it on a device.
    pub fn from_onnx_path(path: impl AsRef<Path>, config: &SessionConfig) -> Result<Self> {
        let graph = import_path(path.as_ref(), &config.import)?;
        Self::from_graph(&graph, config)
    }

    /// Imports an ONNX model from memory and prepares it on a device.
    pub fn from_onnx_bytes(bytes: &[u8], config: &SessionConfig) -> Result<Self> {
        let graph = import_bytes(bytes, &config.import)?;
        Self::from_graph(&graph, config)
    }

    /// Prepares a graph (built with the builder API or the zoo) on a device.
    pub fn from_graph(graph: &Graph, config: &SessionConfig) -> Result<Self> {
        Session::with_shared_gpu(config.device()?, graph, config.session.clone())
    }
}

impl Session<'_> {
    /// Input names and shapes, in the order [`Session::run`] takes them.
    pub fn inputs(&self) -> Vec<(String, Vec<usize>)> {
        let g = self.graph();
        g.inputs()
            .iter()
            .map(|&v| (g.value(v).name.clone(), g.shape(v).to_vec()))
            .collect()
    }

    /// Output names and shapes, in the order [`Session::run`] returns them.
    pub fn outputs(&self) -> Vec<(String, Vec<usize>)> {
        let g = self.graph();
        g.output_names()
            .iter()
            .cloned()
            .zip(g.outputs().iter().map(|&v| g.shape(v).to_vec()))
            .collect()
    }

    /// Puts inputs given by name in the order of [`Session::inputs`]: an error names an
    /// input given twice, an unknown one (with the model's inputs) or a missing one.
    fn order_by_name<'a, T: Copy>(
        &self,
        inputs: impl Iterator<Item = (&'a str, T)>,
    ) -> Result<Vec<T>> {
        let mut given: HashMap<&str, T> = HashMap::new();
        for (name, t) in inputs {
            if given.insert(name, t).is_some() {
                return Err(Error::invalid_op(
                    "session",
                    format!("input {name:?} given twice"),
                ));
            }
        }
        let expected = self.inputs();
        let unknown: Vec<&str> = given
            .keys()
            .copied()
            .filter(|n| !expected.iter().any(|(e, _)| e == n))
            .collect();
        if !unknown.is_empty() {
            let names: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::invalid_op(
                "session",
                format!("unknown input(s) {unknown:?}; the model's inputs are {names:?}"),
            ));
        }
        expected
            .iter()
            .map(|(n, _)| {
                given
                    .get(n.as_str())
                    .copied()
                    .ok_or_else(|| Error::invalid_op("session", format!("missing input {n:?}")))
            })
            .collect()
    }

    /// Pairs each output with its name.
    fn name_outputs<T>(&self, outs: Vec<T>) -> Vec<(String, T)> {
        self.graph()
            .output_names()
            .iter()
            .cloned()
            .zip(outs)
            .collect()
    }

    /// Runs with inputs given by name; returns every output with its name.
    pub fn run_named(&self, inputs: &[(&str, &Tensor)]) -> Result<Vec<(String, Tensor)>> {
        let ordered =
            self.order_by_name(inputs.iter().map(|&(n, t)| (n, (t.shape(), t.data()))))?;
        Ok(self.name_outputs(self.run_host(&ordered)?))
    }

    /// Runs with inputs given by name as borrowed `(name, elements, shape)`: the elements
    /// go to the device straight from the caller's slices (f32 sessions copy their bytes as
    /// they are). Returns every output with its name.
    pub fn run_borrowed(
        &self,
        inputs: &[(&str, &[f32], &[usize])],
    ) -> Result<Vec<(String, Tensor)>> {
        let ordered =
            self.order_by_name(inputs.iter().map(|&(n, data, shape)| (n, (shape, data))))?;
        Ok(self.name_outputs(self.run_host(&ordered)?))
    }

    /// [`Session::run_gpu`] with inputs given by name; returns every output, still on the
    /// device, with its name.
    pub fn run_gpu_named(&self, inputs: &[(&str, &GpuTensor)]) -> Result<Vec<(String, GpuTensor)>> {
        let ordered = self.order_by_name(inputs.iter().copied())?;
        Ok(self.name_outputs(self.run_gpu(&ordered)?))
    }

    /// [`Session::run_named`] on a worker thread, as a future (for async callers that must not
    /// block their executor). Requires an `Arc` to the session.
    pub fn run_async(
        self: &Arc<Self>,
        inputs: Vec<(String, Tensor)>,
    ) -> impl std::future::Future<Output = Result<Vec<(String, Tensor)>>> + Send + 'static
    where
        Self: 'static,
    {
        let (tx, rx) = futures_intrusive::channel::shared::oneshot_channel();
        let session = self.clone();
        std::thread::spawn(move || {
            let refs: Vec<(&str, &Tensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t)).collect();
            let _ = tx.send(session.run_named(&refs));
        });
        async move {
            rx.receive().await.unwrap_or_else(|| {
                Err(Error::invalid_op(
                    "session",
                    "worker thread ended without a result",
                ))
            })
        }
    }
}
