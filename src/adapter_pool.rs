//! One model on several adapters: a [`Pool`] builds a session on every adapter an
//! [`AdapterFilter`] matches and sends each run to the least-loaded one.
//!
//! Each run goes whole to one adapter, whose session gives exactly what a session of its own
//! on that adapter would (adapters may differ from each other in the last bits). The load is
//! the count of runs in flight per adapter, taken when a run is dispatched; ties go to the
//! adapter that has been given fewer runs, so calls that overlap (threads, or futures joined
//! on one executor) spread across the adapters.
//!
//! ```
//! use wgconv::graph::{Conv2d, Graph};
//! use wgconv::{AdapterFilter, Pool, SessionConfig, Tensor, weights};
//!
//! let mut graph = Graph::new();
//! let x = graph.input("x", &[1, 3, 8, 8]);
//! let y = graph.conv2d(x, "conv", Conv2d::new(4, 3).pad(1))?;
//! graph.output(y);
//! weights::init_seeded(&mut graph, 3);
//! let config = SessionConfig::default().cache_dir(None);
//! let pool = Pool::new(&graph, &config, &AdapterFilter::default())?;
//! let y = pool.run(&[Tensor::zeros(vec![1, 3, 8, 8])])?;
//! assert_eq!(y[0].shape(), &[1, 4, 8, 8]);
//! let adapters = pool.adapters();
//! assert_eq!(adapters.iter().map(|a| a.runs).sum::<u64>(), 1);
//! for a in &adapters {
//!     println!("{} ({:?}): {} runs", a.name, a.backend, a.runs);
//! }
//! # Ok::<(), wgconv::Error>(())
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::device::{Gpu, adapters_async};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::model::SessionConfig;
use crate::session::Session;
use crate::tensor::Tensor;

/// Which adapters a [`Pool`] uses; every condition given must hold. The default takes every
/// adapter of every backend (GL included).
///
/// ```
/// use wgconv::AdapterFilter;
/// use wgconv::device::enumerate_adapters;
///
/// let all = enumerate_adapters(None);
/// let vulkan = AdapterFilter::default().backends(wgpu::Backends::VULKAN);
/// let matched = all.iter().filter(|info| vulkan.matches(info)).count();
/// assert_eq!(matched, enumerate_adapters(Some(wgpu::Backends::VULKAN)).len());
/// // Discrete or integrated GPUs only (no software rasteriser), by name.
/// let gpus = AdapterFilter::default()
///     .name("radeon")
///     .device_type(wgpu::DeviceType::DiscreteGpu)
///     .device_type(wgpu::DeviceType::IntegratedGpu);
/// assert!(all.iter().filter(|i| gpus.matches(i)).all(|i| i.name.to_lowercase().contains("radeon")));
/// ```
#[derive(Clone, Debug, Default)]
pub struct AdapterFilter {
    /// Only these backends.
    pub backends: Option<wgpu::Backends>,
    /// Only adapters whose name contains this (case-insensitive).
    pub name: Option<String>,
    /// Only these device types (any when empty).
    pub device_types: Vec<wgpu::DeviceType>,
}

impl AdapterFilter {
    /// Restricts the backends.
    pub fn backends(mut self, backends: wgpu::Backends) -> Self {
        self.backends = Some(backends);
        self
    }

    /// Restricts the adapter name to those containing `name` (case-insensitive).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Adds a device type to those accepted.
    pub fn device_type(mut self, device_type: wgpu::DeviceType) -> Self {
        self.device_types.push(device_type);
        self
    }

    /// True when `info` passes every condition.
    pub fn matches(&self, info: &wgpu::AdapterInfo) -> bool {
        self.backends
            .is_none_or(|b| b.contains(wgpu::Backends::from(info.backend)))
            && self
                .name
                .as_ref()
                .is_none_or(|n| info.name.to_lowercase().contains(&n.to_lowercase()))
            && (self.device_types.is_empty() || self.device_types.contains(&info.device_type))
    }

    /// The conditions, for error messages.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = &self.name {
            parts.push(format!("name containing {n:?}"));
        }
        if !self.device_types.is_empty() {
            parts.push(format!("device type in {:?}", self.device_types));
        }
        parts.iter().map(|p| format!(", {p}")).collect()
    }
}

/// What a pool reports about one of its adapters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolAdapter {
    /// The adapter's name, as the driver reports it.
    pub name: String,
    /// The backend the session runs through.
    pub backend: wgpu::Backend,
    /// Discrete, integrated, CPU (software), ...
    pub device_type: wgpu::DeviceType,
    /// Runs given to this adapter so far.
    pub runs: u64,
}

struct Member {
    session: Session<'static>,
    in_flight: AtomicUsize,
    runs: AtomicU64,
}

/// A run's claim on a member; dropping it (run finished, failed or cancelled) releases it.
struct Claim<'p>(&'p Member);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A model's session on each chosen adapter, runs spread by load. `Send + Sync`. The
/// module docs have an example.
pub struct Pool {
    members: Vec<Member>,
    skipped: Vec<(String, Error)>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("adapters", &self.adapters())
            .finish()
    }
}

impl Pool {
    /// [`Pool::new_async`] waited on.
    pub fn new(graph: &Graph, config: &SessionConfig, filter: &AdapterFilter) -> Result<Self> {
        pollster::block_on(Self::new_async(graph, config, filter))
    }

    /// Builds `graph` on every adapter `filter` matches, each on a device of its own opened
    /// with `config.gpu`'s limits and caches (its adapter choice is the filter's). An adapter
    /// that cannot serve the model (a missing feature, a limit too small) is skipped and
    /// reported on stderr and by [`Pool::skipped`]. Errors: [`Error::NoAdapter`] when nothing
    /// matches, the first adapter's error when none can serve, [`Error::InvalidSetting`] for a
    /// `config.shared_gpu` (a pool opens its own devices).
    pub async fn new_async(
        graph: &Graph,
        config: &SessionConfig,
        filter: &AdapterFilter,
    ) -> Result<Self> {
        if let Some(g) = &config.shared_gpu {
            return Err(Error::InvalidSetting {
                name: "shared_gpu",
                value: g.describe(),
                reason: "a pool opens a device on each adapter it uses; leave it unset".into(),
            });
        }
        let options = config.gpu_options()?;
        let backends = filter.backends.unwrap_or_else(wgpu::Backends::all);
        let adapters: Vec<wgpu::Adapter> = adapters_async(backends)
            .await
            .into_iter()
            .filter(|a| filter.matches(&a.get_info()))
            .collect();
        if adapters.is_empty() {
            return Err(Error::NoAdapter {
                tried: format!("{backends:?}"),
                filter: filter.describe(),
                hint: "wgconv::device::adapter_reports lists the adapters found",
            });
        }
        let mut members = Vec::new();
        let mut skipped = Vec::new();
        for adapter in adapters {
            let name = format!(
                "{} ({:?})",
                adapter.get_info().name,
                adapter.get_info().backend
            );
            let built = match Gpu::on_adapter(adapter, &options).await {
                Ok(gpu) => Session::with_shared_gpu(Arc::new(gpu), graph, config.session.clone()),
                Err(e) => Err(e),
            };
            match built {
                Ok(session) => members.push(Member {
                    session,
                    in_flight: AtomicUsize::new(0),
                    runs: AtomicU64::new(0),
                }),
                Err(e) => {
                    log::warn!("the pool skips {name}: {e}");
                    skipped.push((name, e));
                }
            }
        }
        if members.is_empty() {
            return Err(skipped.remove(0).1);
        }
        Ok(Self { members, skipped })
    }

    /// The adapters in use, in the order wgpu listed them, with their run counts.
    pub fn adapters(&self) -> Vec<PoolAdapter> {
        self.members
            .iter()
            .map(|m| {
                let info = m.session.gpu().adapter_info();
                PoolAdapter {
                    name: info.name.clone(),
                    backend: info.backend,
                    device_type: info.device_type,
                    runs: m.runs.load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    /// The adapters that matched but could not serve the model, and why.
    pub fn skipped(&self) -> &[(String, Error)] {
        &self.skipped
    }

    /// Claims the least-loaded member: fewest runs in flight, then fewest runs given.
    fn claim(&self) -> Claim<'_> {
        let member = self
            .members
            .iter()
            .min_by_key(|m| {
                (
                    m.in_flight.load(Ordering::Relaxed),
                    m.runs.load(Ordering::Relaxed),
                )
            })
            .expect("a pool has at least one member (checked at creation)");
        member.in_flight.fetch_add(1, Ordering::Relaxed);
        member.runs.fetch_add(1, Ordering::Relaxed);
        Claim(member)
    }

    /// [`Pool::run_async`] waited on.
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        pollster::block_on(self.run_async(inputs))
    }

    /// [`Session::run_async`] on the least-loaded adapter, chosen when the future is first
    /// polled; futures in flight together run on different adapters at once.
    ///
    /// ```
    /// # use wgconv::graph::Graph;
    /// use wgconv::{AdapterFilter, Pool, SessionConfig, Tensor};
    /// # let mut g = Graph::new();
    /// # let x = g.input("x", &[1, 4]);
    /// # let y = g.relu(x)?;
    /// # g.output(y);
    /// let pool = Pool::new(&g, &SessionConfig::default().cache_dir(None), &AdapterFilter::default())?;
    /// let x = Tensor::new(vec![1, 4], vec![-1.0, 1.0, -2.0, 2.0])?;
    /// // Runs from two threads at once go to different adapters when the pool has several.
    /// let (a, b) = std::thread::scope(|s| {
    ///     let a = s.spawn(|| pollster::block_on(pool.run_async(std::slice::from_ref(&x))));
    ///     let b = s.spawn(|| pollster::block_on(pool.run_async(std::slice::from_ref(&x))));
    ///     (a.join().expect("no panic"), b.join().expect("no panic"))
    /// });
    /// assert_eq!(a?[0].data(), &[0.0, 1.0, 0.0, 2.0]);
    /// assert_eq!(b?[0].data(), &[0.0, 1.0, 0.0, 2.0]);
    /// assert_eq!(pool.adapters().iter().map(|a| a.runs).sum::<u64>(), 2);
    /// # Ok::<(), wgconv::Error>(())
    /// ```
    pub async fn run_async(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let claim = self.claim();
        claim.0.session.run_async(inputs).await
    }

    /// [`Pool::run_named_async`] waited on.
    pub fn run_named(&self, inputs: &[(&str, &Tensor)]) -> Result<Vec<(String, Tensor)>> {
        pollster::block_on(self.run_named_async(inputs))
    }

    /// [`Session::run_named_async`] on the least-loaded adapter.
    pub async fn run_named_async(
        &self,
        inputs: &[(&str, &Tensor)],
    ) -> Result<Vec<(String, Tensor)>> {
        let claim = self.claim();
        claim.0.session.run_named_async(inputs).await
    }
}
