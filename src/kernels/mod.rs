//! Host side of the kernels: pipeline cache, parameter uniforms, bind groups, dispatch sizing.
//!
//! Each family module turns an op description (`crate::ops`) plus buffer bindings into a
//! [`Dispatch`]: a pipeline, a bind group and a workgroup count, built once and recordable into
//! any compute pass any number of times.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wgpu::util::DeviceExt;

use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::precision::Precision;
use crate::shaders::Shader;

pub mod algorithm;
pub mod channel_affine;
pub mod conv;
pub mod conv_transpose;
pub mod depthwise;
pub mod eltwise;
pub mod matmul;
pub mod pad;
pub mod pool;
pub mod rearrange;
pub mod resize;
pub mod se_gate;
pub mod softmax;
pub mod splitk;
pub mod winograd;

/// The Rust mirror of each shader's `Params` uniform: `(field, offset)` list and size. The
/// match is exhaustive so a new shader cannot skip the layout test.
pub fn params_layout(shader: Shader) -> (&'static [(&'static str, usize)], usize) {
    fn of<P: GpuParams>() -> (&'static [(&'static str, usize)], usize) {
        (P::FIELDS, std::mem::size_of::<P>())
    }
    match shader {
        Shader::Eltwise => of::<eltwise::EltwiseParams>(),
        Shader::Conv => of::<conv::ConvParams>(),
        Shader::Depthwise => of::<depthwise::DepthwiseParams>(),
        Shader::Matmul => of::<matmul::MatmulParams>(),
        Shader::ConvTranspose => of::<conv_transpose::ConvTransposeParams>(),
        Shader::StridedCopy => of::<rearrange::StridedCopyParams>(),
        Shader::Pool => of::<pool::PoolParams>(),
        Shader::GlobalPool => of::<pool::GlobalPoolParams>(),
        Shader::Softmax => of::<softmax::SoftmaxParams>(),
        Shader::ChannelAffine => of::<channel_affine::ChannelAffineParams>(),
        Shader::SeGate => of::<se_gate::SeGateParams>(),
        Shader::Resize => of::<resize::ResizeParams>(),
        Shader::Pad => of::<pad::PadParams>(),
        Shader::SplitkReduce => of::<splitk::SplitkReduceParams>(),
        Shader::WinogradInput => of::<winograd::WinogradInputParams>(),
        Shader::WinogradOutput => of::<winograd::WinogradOutputParams>(),
    }
}

/// A `#[repr(C)]` uniform mirrored by a WGSL `struct Params`; `FIELDS` lists each field's name
/// and byte offset so a test can compare them with naga's layout of the WGSL struct.
pub trait GpuParams: bytemuck::Pod {
    /// `(name, byte offset)` per field, in declaration order.
    const FIELDS: &'static [(&'static str, usize)];
}

/// Declares a kernel's `Params` uniform. Every field is a 4-byte scalar and the field count is a
/// multiple of four, so the layout is the same in Rust and in WGSL's uniform address space.
#[macro_export]
macro_rules! gpu_params {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty),*
        }

        impl $crate::kernels::GpuParams for $name {
            const FIELDS: &'static [(&'static str, usize)] =
                &[$((stringify!($field), core::mem::offset_of!($name, $field))),*];
        }

        const _: () = assert!(core::mem::size_of::<$name>() % 16 == 0, "pad Params to 16 bytes");
    };
}

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

/// The buffers of a convolution-like kernel (conv, depthwise, pointwise, transposed conv).
#[derive(Clone, Copy, Debug)]
pub struct ConvBindings<'a> {
    /// `[N, C, *spatial]`.
    pub input: BufRef<'a>,
    /// Weights in PyTorch layout (`[O, C/g, *k]`, or `[C, O/g, *k]` for transposed conv).
    pub weight: BufRef<'a>,
    /// `[O]`, added before the activation.
    pub bias: Option<BufRef<'a>>,
    /// A tensor of the output's shape added before the activation (requires
    /// `Epilogue::residual`).
    pub residual: Option<BufRef<'a>>,
    /// `[N, O, *out_spatial]`.
    pub output: BufRef<'a>,
}

/// Bytes of `n` elements of this handle's storage type, for binding-size checks (no padding:
/// a binding holding them may be larger).
pub(crate) fn elem_bytes(gpu: &Gpu, n: usize) -> u64 {
    (n * gpu.precision().elem_bytes()) as u64
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

/// Compiled pipelines, shared by every dispatch of a [`Gpu`].
#[derive(Default)]
pub struct PipelineCache {
    modules: Mutex<HashMap<(Shader, Precision), wgpu::ShaderModule>>,
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
        let module = {
            let mut modules = self.pipelines.modules.lock().expect("module cache");
            match modules.get(&(shader, precision)) {
                Some(m) => m.clone(),
                None => {
                    let what = format!("compiling shader {} ({precision})", shader.label());
                    let m = self.scoped(&what, || {
                        self.device
                            .create_shader_module(wgpu::ShaderModuleDescriptor {
                                label: Some(shader.label()),
                                source: wgpu::ShaderSource::Wgsl(shader.source(precision).into()),
                            })
                    })?;
                    modules.insert((shader, precision), m.clone());
                    m
                }
            }
        };
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

    /// Splits `total` workgroups over x, y, z so that no dimension exceeds the device limit.
    /// Shaders recover the flat index with `flat_workgroup_id` and skip indices `>= total`.
    pub fn fold_workgroups(&self, what: &str, total: u64) -> Result<[u32; 3]> {
        let max = self.limits().max_compute_workgroups_per_dimension.max(1) as u64;
        if total == 0 {
            return Ok([0, 1, 1]);
        }
        let x = total.min(max);
        let rest = total.div_ceil(x);
        let y = rest.min(max);
        let z = rest.div_ceil(y);
        if z > max {
            return Err(Error::DeviceLimit {
                what: format!("{what}: {total} workgroups"),
                limit_name: "max_compute_workgroups_per_dimension^3",
                limit: max * max * max,
                needed: total,
            });
        }
        Ok([x as u32, y as u32, z as u32])
    }

    /// Builds a [`Dispatch`]: binding 0 is `params` as a uniform, bindings 1.. are `buffers` as
    /// storage, in order; `total_workgroups` are folded by [`Gpu::fold_workgroups`].
    pub fn dispatch<P: GpuParams>(
        &self,
        shader: Shader,
        constants: &[(&'static str, f64)],
        params: &P,
        buffers: &[BufRef<'_>],
        total_workgroups: u64,
    ) -> Result<Dispatch> {
        let pipeline = self.pipeline(shader, constants)?;
        // Test-only fault injection: the kernel "forgets" its last workgroup, so its output is
        // wrong; `wgconv validate` must catch it.
        let total_workgroups = if self.fault() == Some(shader) {
            total_workgroups.saturating_sub(1)
        } else {
            total_workgroups
        };
        let workgroups = self.fold_workgroups(shader.label(), total_workgroups)?;
        let align = self.limits().min_storage_buffer_offset_alignment as u64;
        let max_binding = self.limits().max_storage_buffer_binding_size;
        for (i, b) in buffers.iter().enumerate() {
            if b.offset % align != 0 {
                return Err(Error::invalid_op(
                    shader.label(),
                    format!(
                        "binding {} offset {} is not a multiple of {align}",
                        i + 1,
                        b.offset
                    ),
                ));
            }
            if b.size > max_binding {
                return Err(Error::DeviceLimit {
                    what: format!("{} binding {}", shader.label(), i + 1),
                    limit_name: "max_storage_buffer_binding_size",
                    limit: max_binding,
                    needed: b.size,
                });
            }
        }
        self.scoped(&format!("binding {}", shader.label()), || {
            let params_buf = self
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(shader.label()),
                    contents: bytemuck::bytes_of(params),
                    usage: wgpu::BufferUsages::UNIFORM,
                });
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: params_buf.as_entire_binding(),
            }];
            for (i, b) in buffers.iter().enumerate() {
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
