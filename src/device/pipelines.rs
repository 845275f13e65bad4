//! Compiling and binding launches: the pipeline cache (keyed by shader, precision and override
//! constants), [`BufRef`] (a real buffer range), and [`Gpu::dispatch`], which turns a
//! [`Launch`] into a recordable [`Dispatch`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wgpu::util::DeviceExt;

use crate::device::Gpu;
use crate::error::Result;
use crate::kernels::{Binding, Launch};
use crate::precision::Precision;
use crate::shaders::Shader;

/// A byte range of a storage buffer bound to a kernel. Offsets must be multiples of the device's
/// `min_storage_buffer_offset_alignment` (256 on most devices).
#[derive(Clone, Copy, Debug)]
pub struct BufRef<'a> {
    /// The buffer.
    pub buffer: &'a wgpu::Buffer,
    /// Byte offset of the first element.
    pub offset: u64,
    /// Bytes bound.
    pub size: u64,
}

impl<'a> BufRef<'a> {
    /// The first `size` bytes of `buffer`.
    pub fn whole(buffer: &'a wgpu::Buffer, size: u64) -> Self {
        Self {
            buffer,
            offset: 0,
            size: size.max(4),
        }
    }
}

impl Binding for BufRef<'_> {
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

/// Identifies a compiled pipeline: the shader, the precision its source was built for, and its
/// override constants (as f64 bit patterns, so the key is hashable).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipelineKey {
    /// The kernel family.
    pub shader: Shader,
    /// Override constants, sorted by name.
    pub constants: Vec<(&'static str, u64)>,
    /// Storage / accumulation types (the prelude the module was compiled with).
    pub precision: Precision,
}

impl PipelineKey {
    /// An f32 key from constants given as f64.
    pub fn new(shader: Shader, constants: &[(&'static str, f64)]) -> Self {
        let mut constants: Vec<_> = constants.iter().map(|&(k, v)| (k, v.to_bits())).collect();
        constants.sort();
        constants.dedup_by_key(|c| c.0);
        Self {
            shader,
            constants,
            precision: Precision::F32,
        }
    }

    /// The same key for `precision`.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }
}

/// Identifies a compiled shader module: the kernel, its precision prelude, and whether wgpu's
/// runtime bounds checks were compiled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleKey {
    /// The kernel family.
    pub shader: Shader,
    /// The precision prelude.
    pub precision: Precision,
    /// False only for a trusted kernel compiled without bounds checks.
    pub bounds_checked: bool,
}

/// Compiled pipelines, shared by every dispatch of a [`Gpu`].
#[derive(Default)]
pub struct PipelineCache {
    modules: Mutex<HashMap<ModuleKey, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<PipelineKey, Arc<wgpu::ComputePipeline>>>,
}

impl PipelineCache {
    /// Number of distinct pipelines compiled so far.
    pub fn len(&self) -> usize {
        self.pipelines.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// The keys of every pipeline compiled so far (shader + override values), sorted.
    pub fn keys(&self) -> Vec<PipelineKey> {
        let mut k: Vec<PipelineKey> = self
            .pipelines
            .lock()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        k.sort_by(|a, b| {
            (a.shader, a.precision, &a.constants).cmp(&(b.shader, b.precision, &b.constants))
        });
        k
    }

    /// The keys of every shader module compiled so far, sorted.
    pub fn modules(&self) -> Vec<ModuleKey> {
        let mut k: Vec<ModuleKey> = self
            .modules
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        k.sort();
        k
    }

    /// True when no pipeline has been compiled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One recorded-ready kernel launch.
#[derive(Debug)]
pub struct Dispatch {
    label: &'static str,
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    workgroups: [u32; 3],
    // Held so the uniform lives as long as the bind group that reads it.
    _params: wgpu::Buffer,
}

impl Dispatch {
    /// Records this launch into `pass`.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        let [x, y, z] = self.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }

    /// The kernel family's label.
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// Workgroups launched in x, y, z.
    pub fn workgroups(&self) -> [u32; 3] {
        self.workgroups
    }
}

impl Gpu {
    /// The pipeline for `shader` with these override constants, in this handle's precision,
    /// compiled on first use.
    pub fn pipeline(
        &self,
        shader: Shader,
        constants: &[(&'static str, f64)],
    ) -> Result<Arc<wgpu::ComputePipeline>> {
        let precision = self.precision();
        let key = PipelineKey::new(shader, constants).with_precision(precision);
        if let Some(p) = self
            .pipelines
            .pipelines
            .lock()
            .expect("pipeline cache")
            .get(&key)
        {
            return Ok(p.clone());
        }
        let module = self.module(ModuleKey {
            shader,
            precision,
            bounds_checked: self.shader_checks().bounds_checked(shader),
        })?;
        let consts: Vec<(&str, f64)> = key
            .constants
            .iter()
            .map(|&(k, v)| (k, f64::from_bits(v)))
            .collect();
        let pipeline = self.scoped(&format!("creating pipeline {key:?}"), || {
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(shader.label()),
                    layout: None,
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &consts,
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: self.disk_cache.as_ref().map(|c| &c.cache),
                })
        })?;
        if let Some(c) = &self.disk_cache {
            c.touched();
        }
        let pipeline = Arc::new(pipeline);
        self.pipelines
            .pipelines
            .lock()
            .expect("pipeline cache")
            .insert(key, pipeline.clone());
        Ok(pipeline)
    }

    /// The shader module for `key`, compiled on first use. Every handle sharing this cache has
    /// the same setting (`with_precision` copies it), so pipeline keys need not carry it; the
    /// disk pipeline cache is the driver's, keyed by the generated code, so checked and
    /// unchecked modules never share an entry there.
    fn module(&self, key: ModuleKey) -> Result<wgpu::ShaderModule> {
        let mut modules = self.pipelines.modules.lock().expect("module cache");
        if let Some(m) = modules.get(&key) {
            return Ok(m.clone());
        }
        let ModuleKey {
            shader,
            precision,
            bounds_checked,
        } = key;
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(shader.label()),
            source: wgpu::ShaderSource::Wgsl(shader.source(precision).into()),
        };
        let what = format!("compiling shader {} ({precision})", shader.label());
        let m = self.scoped(&what, || {
            if bounds_checked {
                self.device.create_shader_module(desc)
            } else {
                // Only bounds checks go; loop bounding and division guards stay.
                let checks = wgpu::ShaderRuntimeChecks {
                    bounds_checks: false,
                    ..wgpu::ShaderRuntimeChecks::checked()
                };
                // SAFETY: `bounds_checked` is false only for `Shader::TRUSTED` kernels. Each
                // returns before any access unless its index is below a Params count (the
                // .wgsl header names the guard for every buffer index), and `dispatch` binds
                // one of their launches only after `kernels::bounds::check_trusted` has found
                // every index those counts allow inside its binding (wgpu validates that a
                // binding lies inside its buffer). Loops stay bounded, division stays guarded.
                unsafe { self.device.create_shader_module_trusted(desc, checks) }
            }
        })?;
        modules.insert(key, m.clone());
        Ok(m)
    }

    /// Compiles (or finds) `launch`'s pipeline and binds its buffers: a [`Dispatch`] that can be
    /// recorded any number of times.
    pub fn dispatch(&self, launch: &Launch<BufRef<'_>>) -> Result<Dispatch> {
        let shader = launch.shader;
        if !self.shader_checks().bounds_checked(shader) {
            // The module has no runtime bounds checks: its indices must fit these bindings.
            crate::kernels::bounds::check_trusted(launch, self.precision())?;
        }
        let pipeline = self.pipeline(shader, &launch.constants)?;
        // Test-only fault injection: the kernel "forgets" its last workgroup, so its output is
        // wrong; `wgconv validate` must catch it.
        let total_workgroups = if self.fault() == Some(shader) {
            launch.workgroups.saturating_sub(1)
        } else {
            launch.workgroups
        };
        let workgroups = self
            .target()
            .fold_workgroups(shader.label(), total_workgroups)?;
        self.scoped(&format!("binding {}", shader.label()), || {
            let params_buf = self
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(shader.label()),
                    contents: &launch.params,
                    usage: wgpu::BufferUsages::UNIFORM,
                });
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: params_buf.as_entire_binding(),
            }];
            for (i, b) in launch.bindings.iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: b.buffer,
                        offset: b.offset,
                        size: std::num::NonZeroU64::new(b.size),
                    }),
                });
            }
            let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(shader.label()),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
            Dispatch {
                label: shader.label(),
                pipeline: pipeline.clone(),
                bind_group,
                workgroups,
                _params: params_buf,
            }
        })
    }

    /// Records `dispatches` in order into one compute pass of one encoder and submits it once.
    /// Storage writes are visible to later dispatches of the same pass (wgpu inserts barriers).
    pub fn submit(&self, dispatches: &[&Dispatch]) -> Result<()> {
        self.scoped("submit", || {
            let mut enc = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wgconv"),
                });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                for d in dispatches {
                    d.record(&mut pass);
                }
            }
            self.queue.submit([enc.finish()]);
        })
    }
}

/// What a kernel builder returns, ready to bind on a device: one launch or several.
pub trait Encodable {
    /// The bound form.
    type Bound;
    /// Binds every launch on `gpu`.
    fn bind_on(self, gpu: &Gpu) -> Result<Self::Bound>;
}

impl Encodable for Launch<BufRef<'_>> {
    type Bound = Dispatch;
    fn bind_on(self, gpu: &Gpu) -> Result<Dispatch> {
        gpu.dispatch(&self)
    }
}

impl Encodable for Vec<Launch<BufRef<'_>>> {
    type Bound = Vec<Dispatch>;
    fn bind_on(self, gpu: &Gpu) -> Result<Vec<Dispatch>> {
        self.iter().map(|l| gpu.dispatch(l)).collect()
    }
}

impl<const N: usize> Encodable for [Launch<BufRef<'_>>; N] {
    type Bound = Vec<Dispatch>;
    fn bind_on(self, gpu: &Gpu) -> Result<Vec<Dispatch>> {
        self.iter().map(|l| gpu.dispatch(l)).collect()
    }
}

impl Gpu {
    /// Binds what a kernel builder returned (called with [`Gpu::target`]):
    /// `gpu.encode(eltwise::unary(gpu.target(), act, x, y, n))?`.
    pub fn encode<E: Encodable>(&self, built: Result<E>) -> Result<E::Bound> {
        built?.bind_on(self)
    }
}
