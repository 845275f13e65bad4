//! Adapter and device choice, limits, and turning wgpu's asynchronous errors into [`Error`]s.
//!
//! [`GpuOptions`] restrict the backend and pick an adapter by name (the command line reads
//! them from `WGCONV_BACKEND` / `WGCONV_ADAPTER` through [`GpuOptions::from_env`]); otherwise
//! the best adapter found is used (discrete > integrated > virtual > CPU).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub mod cache;
mod convert;
mod coop;
mod options;
mod pipelines;
mod poller;
mod report;
mod tensor;
pub mod timer;

use std::any::Any;

use crate::error::{Error, Result};
use crate::kernels::Target;
use crate::precision::Precision;
use crate::shaders::Shader;
use cache::{DiskPipelineCache, PipelineCacheState};
use poller::Poller;

pub use convert::Rgba8Frames;
pub use options::{GpuOptions, ShaderChecks, parse_backend};
pub use pipelines::{BufRef, Dispatch, ModuleKey, PipelineCache, PipelineKey};
pub use report::adapter_reports;
pub use tensor::GpuTensor;

/// A GPU device with its queue, the adapter it came from, a pipeline cache, and the precision
/// its kernels store tensors in. [`Gpu::with_precision`] gives another handle on the same device
/// (same queue, same pipeline cache) whose kernels, uploads and downloads use another precision;
/// kernel host functions take the precision from the handle they are given, so their signatures
/// do not change with it.
///
/// ```
/// use wgconv::{Gpu, GpuOptions, Precision, Tensor};
///
/// // No cache directory: nothing is written to disk.
/// let gpu = Gpu::with_options(&GpuOptions { cache_dir: None, ..GpuOptions::default() })?;
/// println!("running on {}", gpu.describe());
/// let t = Tensor::new(vec![2, 2], vec![1.0, 2.5, -3.0, 0.125])?;
/// let on_device = gpu.upload(&t)?;
/// assert_eq!(on_device.precision(), Precision::F32);
/// assert_eq!(gpu.download(&on_device)?, t);
/// # Ok::<(), wgconv::Error>(())
/// ```
pub struct Gpu {
    pub(crate) adapter: wgpu::Adapter,
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    features: wgpu::Features,
    pub(crate) pipelines: Arc<PipelineCache>,
    lost: Arc<Mutex<Option<String>>>,
    /// Completes readbacks' futures (one thread per device, started on first use).
    poller: Arc<Poller>,
    fault: Option<Shader>,
    shader_checks: ShaderChecks,
    precision: Precision,
    /// The usable cache directory, if any.
    cache_dir: Option<PathBuf>,
    /// Whether the pipeline cache was asked for (kept for [`Gpu::fresh_device`]).
    want_pipeline_cache: bool,
    pub(crate) disk_cache: Option<Arc<DiskPipelineCache>>,
    /// Per-device state of a layer above (the session layer's autotuner), shared by every
    /// handle of this device.
    upper: Arc<std::sync::OnceLock<Arc<dyn Any + Send + Sync>>>,
    target: Target,
}

impl Drop for Gpu {
    fn drop(&mut self) {
        if let Some(c) = &self.disk_cache {
            c.save();
        }
    }
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu").field("adapter", &self.info).finish()
    }
}

const NO_ADAPTER_HINT: &str = "On Linux without a GPU, install Mesa's software Vulkan driver \
    (lavapipe): apt-get install mesa-vulkan-drivers libvulkan1. Otherwise install your GPU's \
    Vulkan/Metal/DX12 driver, or unset WGCONV_BACKEND / WGCONV_ADAPTER.";

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

fn default_backends() -> wgpu::Backends {
    wgpu::Backends::all()
}

/// Ranks adapters so that real GPUs win over software ones.
fn device_type_rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

fn backend_rank(b: wgpu::Backend) -> u8 {
    // Compute on GL is the least capable path; prefer anything else on the same device.
    match b {
        wgpu::Backend::Gl => 1,
        _ => 0,
    }
}

/// Every adapter wgpu finds for these backends.
pub fn enumerate_adapters(backends: Option<wgpu::Backends>) -> Vec<wgpu::AdapterInfo> {
    pollster::block_on(adapters_async(backends.unwrap_or_else(default_backends)))
        .into_iter()
        .map(|a| a.get_info())
        .collect()
}

/// Every adapter wgpu finds for these backends, as adapters to open devices on.
pub async fn adapters_async(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    instance(backends).enumerate_adapters(backends).await
}

/// The cache directory `options` ask for, if usable.
impl Gpu {
    /// The best adapter, with [`GpuOptions::default`] (no environment variables are read:
    /// `Gpu::with_options(&GpuOptions::from_env()?)` honours `WGCONV_BACKEND` and friends).
    pub fn new() -> Result<Self> {
        Self::with_options(&GpuOptions::default())
    }

    /// An adapter chosen by `options` ([`Gpu::new_async`] waited on).
    pub fn with_options(options: &GpuOptions) -> Result<Self> {
        pollster::block_on(Self::new_async(options))
    }

    /// An adapter chosen by `options`, awaiting adapter enumeration and device creation
    /// instead of blocking the caller's thread.
    pub async fn new_async(options: &GpuOptions) -> Result<Self> {
        let backends = options.backends.unwrap_or_else(default_backends);
        let candidates = async |backends: wgpu::Backends| {
            let mut adapters = adapters_async(backends).await;
            if let Some(name) = &options.adapter_name {
                let needle = name.to_lowercase();
                adapters.retain(|a| a.get_info().name.to_lowercase().contains(&needle));
            }
            adapters
        };
        // GL is probed only when asked for or when no primary backend has a matching adapter:
        // initialising EGL without a desktop session makes Mesa print warnings, and compute on
        // GL is the least capable path anyway.
        let mut adapters = if options.backends.is_none() {
            let primary = candidates(wgpu::Backends::PRIMARY).await;
            if primary.is_empty() {
                candidates(wgpu::Backends::GL).await
            } else {
                primary
            }
        } else {
            candidates(backends).await
        };
        adapters.sort_by_key(|a| {
            let i = a.get_info();
            (device_type_rank(i.device_type), backend_rank(i.backend))
        });
        let Some(adapter) = adapters.into_iter().next() else {
            return Err(Error::NoAdapter {
                tried: format!("{backends:?}"),
                filter: options
                    .adapter_name
                    .as_ref()
                    .map(|n| format!(", adapter name containing {n:?}"))
                    .unwrap_or_default(),
                hint: NO_ADAPTER_HINT,
            });
        };
        Self::on_adapter(adapter, options).await
    }

    /// A device on `adapter`, with the limits, fault and caches `options` ask for (its
    /// adapter choice is not used).
    pub async fn on_adapter(adapter: wgpu::Adapter, options: &GpuOptions) -> Result<Self> {
        let cache_dir = options.cache_dir.clone().filter(|d| cache::usable(d));
        let mut gpu = Self::from_adapter(
            adapter,
            options.limits.clone(),
            options.fault,
            cache_dir,
            options.pipeline_cache,
            options.tensor_cores,
        )
        .await?;
        gpu.shader_checks = options.shader_checks;
        gpu.target.f32_tensor_cores = options.f32_tensor_cores;
        Ok(gpu)
    }

    async fn from_adapter(
        adapter: wgpu::Adapter,
        limits: Option<wgpu::Limits>,
        fault: Option<Shader>,
        cache_dir: Option<PathBuf>,
        want_pipeline_cache: bool,
        tensor_cores: bool,
    ) -> Result<Self> {
        let info = adapter.get_info();
        let (coop_features, experimental) = coop::request(&adapter, tensor_cores);
        let use_pipeline_cache = want_pipeline_cache
            && cache_dir.is_some()
            && wgpu::util::pipeline_cache_key(&info).is_some();
        let mut wanted = wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY;
        if use_pipeline_cache {
            wanted |= wgpu::Features::PIPELINE_CACHE;
        }
        let features = adapter.features() & (wanted | coop_features);
        let limits = limits.unwrap_or_else(|| adapter.limits());
        let desc = wgpu::DeviceDescriptor {
            label: Some("wgconv"),
            required_features: features,
            required_limits: limits.clone(),
            // SAFETY: experimental features are enabled only for cooperative matrices, used
            // by one kernel that checks itself on the device before sessions rely on it.
            experimental_features: if experimental {
                unsafe { wgpu::ExperimentalFeatures::enabled() }
            } else {
                wgpu::ExperimentalFeatures::disabled()
            },
            ..Default::default()
        };
        let (device, queue) =
            adapter
                .request_device(&desc)
                .await
                .map_err(|e| Error::RequestDevice {
                    adapter: info.name.clone(),
                    message: e.to_string(),
                })?;
        // Errors outside our scopes must not abort the process (wgpu's default handler panics).
        // Only on devices wgconv made: an application's device keeps the application's handler.
        device.on_uncaptured_error(Arc::new(|e| {
            log::error!("uncaptured GPU error: {e}");
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_in_cb = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut l) = lost_in_cb.lock() {
                *l = Some(format!("{reason:?}: {message}"));
            }
        });
        Ok(Self::assemble(
            adapter,
            device,
            queue,
            lost,
            fault,
            cache_dir,
            want_pipeline_cache,
        ))
    }

    /// Runs wgconv on a device the application created (to share it with its own GPU work:
    /// [`GpuTensor`]s and [`crate::Session::run_gpu`] then pass data without leaving the GPU).
    /// wgconv installs neither an uncaptured-error handler nor a device-lost callback on it:
    /// both stay the application's, and its errors are caught in wgconv's own (thread-local)
    /// error scopes. It uses the features and limits the device was created with: f16
    /// precisions need `SHADER_F16` on it, GPU timing `TIMESTAMP_QUERY`. The cache directory
    /// is [`cache::default_dir`] (autotuning choices, when a session autotunes); no wgpu
    /// pipeline cache is kept.
    /// Sessions on one device share it safely, from any thread (a session serialises its own
    /// runs).
    pub fn from_wgpu(adapter: wgpu::Adapter, device: wgpu::Device, queue: wgpu::Queue) -> Self {
        Self::assemble(
            adapter,
            device,
            queue,
            Arc::new(Mutex::new(None)),
            None,
            cache::default_dir().filter(|d| cache::usable(d)),
            false,
        )
    }

    /// A handle on a device, whoever created it: its features and limits are the device's.
    fn assemble(
        adapter: wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
        lost: Arc<Mutex<Option<String>>>,
        fault: Option<Shader>,
        cache_dir: Option<PathBuf>,
        want_pipeline_cache: bool,
    ) -> Self {
        let info = adapter.get_info();
        let features = device.features()
            & (wgpu::Features::SHADER_F16
                | wgpu::Features::TIMESTAMP_QUERY
                | wgpu::Features::PIPELINE_CACHE);
        let coop = coop::device_config(&adapter, device.features());
        let limits = device.limits();
        let disk_cache = match &cache_dir {
            Some(dir)
                if want_pipeline_cache && features.contains(wgpu::Features::PIPELINE_CACHE) =>
            {
                DiskPipelineCache::open(&device, &info, dir).map(Arc::new)
            }
            _ => None,
        };
        let workgroups = crate::kernels::occupancy::target_workgroups(&info.name);
        Self {
            poller: Arc::new(Poller::new(device.clone())),
            adapter,
            device,
            queue,
            info,
            target: Target::new(limits.clone())
                .with_workgroups(workgroups)
                .with_coop(coop),
            limits,
            features,
            pipelines: Arc::new(PipelineCache::default()),
            lost,
            fault,
            shader_checks: ShaderChecks::default(),
            precision: Precision::F32,
            cache_dir,
            want_pipeline_cache,
            disk_cache,
            upper: Arc::new(std::sync::OnceLock::new()),
        }
    }

    /// A second device on the same adapter, with the same limits and cache settings and an
    /// empty in-memory pipeline cache: what a freshly started process gets (benchmarks time
    /// cold starts on it). Its wgpu pipeline cache, when enabled, is loaded from the file as
    /// it is now (see [`Gpu::pipeline_cache_state`]); driver-level shader caches (Mesa's,
    /// NVIDIA's), if any, are outside wgconv's control.
    pub fn fresh_device(&self) -> Result<Gpu> {
        // Whatever this device compiled is on disk before the new one reads the file.
        self.save_pipeline_cache();
        let mut g = pollster::block_on(Self::from_adapter(
            self.adapter.clone(),
            Some(self.limits.clone()),
            self.fault,
            self.cache_dir.clone(),
            self.want_pipeline_cache,
            self.target.coop.is_some(),
        ))?;
        g.precision = self.precision;
        g.shader_checks = self.shader_checks;
        g.target = self.target.clone();
        Ok(g)
    }

    /// What this device's wgpu pipeline cache started from: off, cold (empty) or warm
    /// (loaded from the cache file).
    pub fn pipeline_cache_state(&self) -> PipelineCacheState {
        self.disk_cache
            .as_ref()
            .map_or(PipelineCacheState::Off, |c| c.state())
    }

    /// The pipeline cache file, when the pipeline cache is on.
    pub fn pipeline_cache_path(&self) -> Option<&Path> {
        self.disk_cache.as_ref().map(|c| c.path())
    }

    /// The state a layer above keeps per device (the autotuner), made by `init` on first use
    /// and shared by every [`Gpu::with_precision`] handle of this device. One slot: the first
    /// type stored wins; `None` when another type holds it.
    pub(crate) fn upper_state<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Option<&T> {
        self.upper
            .get_or_init(|| Arc::new(init()))
            .downcast_ref::<T>()
    }

    /// What kernel launches are built against: this handle's precision and the device's limits.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The cache directory in use (pipeline cache, autotuning), if any is usable.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    /// Writes the pipeline cache to its file if pipelines were created since the last save
    /// (sessions call this when they finish building; dropping the device does too). True
    /// when a file was written; failures are not errors.
    pub fn save_pipeline_cache(&self) -> bool {
        self.disk_cache.as_ref().is_some_and(|c| c.save())
    }

    /// The precision this handle's kernels store tensors in (f32 unless made by
    /// [`Gpu::with_precision`]).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// True when the device has `SHADER_F16` enabled (requested whenever the adapter offers
    /// it), so [`Precision::F16`] and [`Precision::F16AccF32`] can run.
    pub fn has_shader_f16(&self) -> bool {
        self.features.contains(wgpu::Features::SHADER_F16)
    }

    /// True when kernels can run in `precision` on this device.
    pub fn supports(&self, precision: Precision) -> bool {
        !precision.is_f16() || self.has_shader_f16()
    }

    /// A handle on the same device, queue and pipeline cache whose kernels, uploads and
    /// downloads use `precision`; [`Error::MissingFeature`] when the device cannot (f16 without
    /// `SHADER_F16`).
    pub fn with_precision(&self, precision: Precision) -> Result<Gpu> {
        if !self.supports(precision) {
            return Err(Error::MissingFeature {
                what: format!("precision {precision}"),
                feature: "shader-f16",
                adapter: format!("{} ({:?})", self.info.name, self.info.backend),
            });
        }
        Ok(Gpu {
            adapter: self.adapter.clone(),
            device: self.device.clone(),
            queue: self.queue.clone(),
            info: self.info.clone(),
            limits: self.limits.clone(),
            features: self.features,
            pipelines: self.pipelines.clone(),
            lost: self.lost.clone(),
            poller: self.poller.clone(),
            fault: self.fault,
            shader_checks: self.shader_checks,
            precision,
            cache_dir: self.cache_dir.clone(),
            want_pipeline_cache: self.want_pipeline_cache,
            disk_cache: self.disk_cache.clone(),
            upper: self.upper.clone(),
            target: self.target.with_precision(precision),
        })
    }

    /// The kernel family made deliberately wrong for testing, if any.
    pub fn fault(&self) -> Option<Shader> {
        self.fault
    }

    /// Which kernels this device compiles without runtime bounds checks.
    pub fn shader_checks(&self) -> ShaderChecks {
        self.shader_checks
    }

    /// Pipelines compiled on this device so far.
    pub fn pipeline_cache(&self) -> &PipelineCache {
        &self.pipelines
    }

    /// The adapter this context runs on.
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// The limits the device was created with.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// The optional features enabled on the device (a subset of `SHADER_F16 | TIMESTAMP_QUERY |
    /// PIPELINE_CACHE`).
    pub fn features(&self) -> wgpu::Features {
        self.features
    }

    /// The wgpu device, for embedding wgconv next to other GPU work.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The wgpu queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// The wgpu adapter.
    pub fn adapter(&self) -> &wgpu::Adapter {
        &self.adapter
    }

    /// One line naming the adapter, backend and type.
    pub fn describe(&self) -> String {
        let i = &self.info;
        format!(
            "{} ({:?}, {:?}, driver {} {})",
            i.name, i.backend, i.device_type, i.driver, i.driver_info
        )
    }

    /// An error if the device has been lost.
    pub fn check_alive(&self) -> Result<()> {
        match self.lost.lock().ok().and_then(|l| l.clone()) {
            Some(reason) => Err(Error::DeviceLost { reason }),
            None => Ok(()),
        }
    }

    /// Runs `f` inside validation and out-of-memory error scopes and converts what they catch
    /// ([`Gpu::scoped_async`] waited on: on native wgpu the scopes' results are ready at once).
    pub(crate) fn scoped<T>(&self, during: &str, f: impl FnOnce() -> T) -> Result<T> {
        pollster::block_on(self.scoped_async(during, f))
    }

    /// Runs `f` now, inside validation and out-of-memory error scopes, and returns a future of
    /// what they catch. wgpu keeps error scopes per thread, so the scopes are pushed and popped
    /// around `f` on the caller's thread before anything is awaited; only their results (a
    /// browser's WebGPU delivers them later) are awaited.
    pub(crate) fn scoped_async<T>(
        &self,
        during: &str,
        f: impl FnOnce() -> T,
    ) -> impl Future<Output = Result<T>> {
        let scoped = self.check_alive().map(|()| {
            let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
            let value = f();
            (value, validation.pop(), oom.pop())
        });
        let during = during.to_string();
        async move {
            let (value, validation, oom) = scoped?;
            let (validation, oom) = (validation.await, oom.await);
            self.scope_result(during, value, validation, oom)
        }
    }

    fn scope_result<T>(
        &self,
        during: String,
        value: T,
        validation: Option<wgpu::Error>,
        oom: Option<wgpu::Error>,
    ) -> Result<T> {
        if let Some(e) = oom {
            return Err(Error::OutOfMemory {
                during,
                message: e.to_string(),
            });
        }
        if let Some(e) = validation {
            return Err(Error::Validation {
                during,
                message: e.to_string(),
            });
        }
        self.check_alive()?;
        Ok(value)
    }

    /// Blocks until all submitted work has finished.
    pub fn wait_idle(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Readback(e.to_string()))?;
        self.check_alive()
    }
}
