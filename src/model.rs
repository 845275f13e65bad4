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
use std::path::PathBuf;
use std::sync::Arc;

use crate::device::{Gpu, GpuOptions, GpuTensor};
use crate::error::{Error, Result};
use crate::graph::Graph;
#[cfg(feature = "onnx")]
use crate::onnx::{ImportOptions, import_bytes, import_path};
use crate::precision::Precision;
use crate::session::{HostData, Session, SessionOptions};
use crate::tensor::Tensor;

/// How to create a session: which adapter, the shapes of dynamic inputs, and graph options.
///
/// Two sessions sharing one device (and its pipeline cache):
///
/// ```
/// use std::sync::Arc;
/// use wgconv::graph::Graph;
/// use wgconv::{Gpu, GpuOptions, Session, SessionConfig};
///
/// let mut g = Graph::new();
/// let x = g.input("x", &[1, 8]);
/// let y = g.relu(x)?;
/// g.output(y);
/// let gpu = Arc::new(Gpu::with_options(&GpuOptions { cache_dir: None, ..GpuOptions::default() })?);
/// let config = SessionConfig { shared_gpu: Some(gpu.clone()), ..SessionConfig::default() }
///     .self_check(false)
///     .plan_cache(2);
/// let a = Session::from_graph(&g, &config)?;
/// let b = Session::from_graph(&g, &config)?;
/// assert!(std::ptr::eq(a.gpu(), b.gpu()));
/// assert_eq!(a.gpu().describe(), gpu.describe());
/// # Ok::<(), wgconv::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct SessionConfig {
    /// Adapter choice and caches ([`GpuOptions::default`] when `None`; the environment is
    /// read only through an explicit [`GpuOptions::from_env`]).
    pub gpu: Option<GpuOptions>,
    /// A device to share instead of opening one.
    pub shared_gpu: Option<Arc<Gpu>>,
    /// ONNX import: input shapes and weights given as graph inputs.
    #[cfg(feature = "onnx")]
    pub import: ImportOptions,
    /// Graph passes and memory reuse.
    pub session: SessionOptions,
    /// Plans a [`crate::DynamicSession`] keeps, one per shape signature (default
    /// [`crate::dynamic::DEFAULT_PLAN_CACHE`]); the least recently used is evicted and its
    /// buffers freed.
    pub plan_cache: Option<usize>,
}

impl SessionConfig {
    /// Fixes the shape of ONNX input `name` (required for dynamic dimensions).
    #[cfg(feature = "onnx")]
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

    /// Where the device keeps its caches ([`GpuOptions::cache_dir`]): `None` writes nothing
    /// to disk. No effect on a [`SessionConfig::shared_gpu`], which has its own.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.gpu.get_or_insert_with(GpuOptions::default).cache_dir = dir;
        self
    }

    /// Checks fast convolution paths on the device before using them
    /// ([`SessionOptions::self_check`]; on by default).
    pub fn self_check(mut self, on: bool) -> Self {
        self.session.self_check = on;
        self
    }

    /// Lets f32 convolutions use tensor cores, operands rounded to f16
    /// ([`SessionOptions::f32_tensor_cores`]; off by default).
    pub fn f32_tensor_cores(mut self, on: bool) -> Self {
        self.session.f32_tensor_cores = Some(on);
        self
    }

    /// Keeps up to `plans` plans in a [`crate::DynamicSession`].
    pub fn plan_cache(mut self, plans: usize) -> Self {
        self.plan_cache = Some(plans);
        self
    }

    /// The device to run on: the shared one, or one opened as the options say.
    pub(crate) fn device(&self) -> Result<Arc<Gpu>> {
        pollster::block_on(self.device_async())
    }

    /// [`SessionConfig::device`], awaiting device creation.
    pub(crate) async fn device_async(&self) -> Result<Arc<Gpu>> {
        if let Some(g) = &self.shared_gpu {
            return Ok(g.clone());
        }
        Ok(Arc::new(Gpu::new_async(&self.gpu_options()?).await?))
    }

    /// The adapter options: as given, or the defaults (no environment is read).
    pub(crate) fn gpu_options(&self) -> Result<GpuOptions> {
        match &self.gpu {
            Some(o) => Ok(o.clone()),
            None => Ok(GpuOptions::default()),
        }
    }
}

impl Session<'static> {
    #[cfg(feature = "onnx")]
    /// Imports an ONNX file (external data next to it) and prepares it on a device.
    pub fn from_onnx_path(
        path: impl AsRef<std::path::Path>,
        config: &SessionConfig,
    ) -> Result<Self> {
        let graph = import_path(path.as_ref(), &config.import)?;
        Self::from_graph(&graph, config)
    }

    #[cfg(feature = "onnx")]
    /// Imports an ONNX model from memory and prepares it on a device.
    pub fn from_onnx_bytes(bytes: &[u8], config: &SessionConfig) -> Result<Self> {
        pollster::block_on(Self::from_onnx_bytes_async(bytes, config))
    }

    /// Prepares a graph (built with the builder API or the zoo) on a device.
    pub fn from_graph(graph: &Graph, config: &SessionConfig) -> Result<Self> {
        pollster::block_on(Self::from_graph_async(graph, config))
    }

    #[cfg(feature = "onnx")]
    /// [`Session::from_onnx_bytes`], awaiting device creation.
    pub async fn from_onnx_bytes_async(bytes: &[u8], config: &SessionConfig) -> Result<Self> {
        let graph = import_bytes(bytes, &config.import)?;
        Self::from_graph_async(&graph, config).await
    }

    /// [`Session::from_graph`], awaiting adapter enumeration and device creation. The build
    /// itself (planning, uploads, pipelines) does not wait on the GPU: its error scopes
    /// resolve at once on native wgpu.
    pub async fn from_graph_async(graph: &Graph, config: &SessionConfig) -> Result<Self> {
        let gpu = config.device_async().await?;
        Session::with_shared_gpu(gpu, graph, config.session.clone())
    }
}

/// Puts inputs given by name in the order of `expected` (the model's input names): an
/// error names an unknown input (with the model's inputs), one given twice, or a missing one.
pub(crate) fn order_by_name<'a, T>(
    expected: &[String],
    inputs: impl Iterator<Item = (&'a str, T)>,
) -> Result<Vec<T>> {
    let mut given: HashMap<&str, T> = HashMap::new();
    for (name, t) in inputs {
        if !expected.iter().any(|e| e == name) {
            return Err(Error::UnknownInput {
                name: name.to_string(),
                known: expected.to_vec(),
            });
        }
        if given.insert(name, t).is_some() {
            return Err(Error::DuplicateInput {
                name: name.to_string(),
            });
        }
    }
    expected
        .iter()
        .map(|n| {
            given.remove(n.as_str()).ok_or_else(|| Error::MissingInput {
                name: n.clone(),
                expected: expected.to_vec(),
            })
        })
        .collect()
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

    /// Puts inputs given by name in the order of [`Session::inputs`].
    fn order_by_name<'a, T>(&self, inputs: impl Iterator<Item = (&'a str, T)>) -> Result<Vec<T>> {
        let names: Vec<String> = self.inputs().into_iter().map(|(n, _)| n).collect();
        order_by_name(&names, inputs)
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

    /// Runs with inputs given by name; returns every output with its name
    /// ([`Session::run_named_async`] waited on).
    pub fn run_named(&self, inputs: &[(&str, &Tensor)]) -> Result<Vec<(String, Tensor)>> {
        pollster::block_on(self.run_named_async(inputs))
    }

    /// [`Session::run_async`] with inputs given by name; returns every output with its name.
    pub async fn run_named_async(
        &self,
        inputs: &[(&str, &Tensor)],
    ) -> Result<Vec<(String, Tensor)>> {
        let ordered = self.order_by_name(
            inputs
                .iter()
                .map(|&(n, t)| (n, (t.shape(), HostData::F32(t.data())))),
        )?;
        Ok(self.name_outputs(self.run_host_async(&ordered).await?))
    }

    /// Runs with inputs given by name as borrowed `(name, elements, shape)`: the elements
    /// go to the device straight from the caller's slices (f32 sessions copy their bytes as
    /// they are). Returns every output with its name.
    pub fn run_borrowed(
        &self,
        inputs: &[(&str, &[f32], &[usize])],
    ) -> Result<Vec<(String, Tensor)>> {
        let ordered = self.order_by_name(
            inputs
                .iter()
                .map(|&(n, data, shape)| (n, (shape, HostData::F32(data)))),
        )?;
        let outputs = pollster::block_on(self.run_host_async(&ordered))?;
        Ok(self.name_outputs(outputs))
    }

    /// Runs with inputs given by name as borrowed `(name, elements, shape)` in f32, f16 or
    /// u8 ([`HostData`]); returns every output with its name. f32 elements, and f16 ones for
    /// f16 sessions, go to the device straight from the caller's slices; the others are
    /// widened on the device.
    ///
    /// ```
    /// # use wgconv::graph::Graph;
    /// use wgconv::session::HostData;
    /// use wgconv::{Session, SessionConfig};
    /// # let mut g = Graph::new();
    /// # let x = g.input("pixels", &[1, 4]);
    /// # let y = g.relu(x)?;
    /// # g.output_named(y, "y");
    /// let session = Session::from_graph(&g, &SessionConfig::default().cache_dir(None))?;
    /// // An 8-bit image input: one byte per element crosses the bus, widened on the device.
    /// let bytes: [u8; 4] = [0, 1, 128, 255];
    /// let out = session.run_host_data(&[("pixels", HostData::U8(&bytes), &[1, 4])])?;
    /// assert_eq!(out[0].1.data(), &[0.0, 1.0, 128.0, 255.0]);
    /// # Ok::<(), wgconv::Error>(())
    /// ```
    pub fn run_host_data(
        &self,
        inputs: &[(&str, HostData<'_>, &[usize])],
    ) -> Result<Vec<(String, Tensor)>> {
        let ordered =
            self.order_by_name(inputs.iter().map(|&(n, data, shape)| (n, (shape, data))))?;
        let outputs = pollster::block_on(self.run_host_async(&ordered))?;
        Ok(self.name_outputs(outputs))
    }

    /// [`Session::run_gpu`] with inputs given by name; returns every output, still on the
    /// device, with its name.
    pub fn run_gpu_named(&self, inputs: &[(&str, &GpuTensor)]) -> Result<Vec<(String, GpuTensor)>> {
        let ordered = self.order_by_name(inputs.iter().copied())?;
        Ok(self.name_outputs(self.run_gpu(&ordered)?))
    }
}
