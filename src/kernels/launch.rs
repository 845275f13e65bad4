//! A kernel launch as data: which shader, its override constants, the bytes of its `Params`
//! uniform, its storage bindings and its workgroup count. Building one needs only a [`Target`]
//! (precision and device limits), never a GPU; the device layer (`crate::device`) turns a
//! launch into a pipeline and a bind group.
//!
//! Bindings are generic: the planner binds symbolic buffer ranges (`crate::plan::Slice`), tests
//! and tools bind real buffers (`crate::device::BufRef`). Both say where their bytes start and
//! how many there are, which is all the launch checks.

use crate::error::{Error, Result};
use crate::kernels::coop_conv::CoopConfig;
use crate::precision::Precision;
use crate::shaders::Shader;

/// The device facts a launch is built against: storage precision, limits, size and tensor cores.
#[derive(Clone, Debug)]
pub struct Target {
    /// Storage / accumulation types of the shaders' `Elem` and `Acc`.
    pub precision: Precision,
    /// The device's limits (workgroup counts, binding sizes, workgroup memory).
    pub limits: wgpu::Limits,
    /// Workgroups the GPU wants in flight, the tile and split-K heuristics' goal
    /// (`crate::kernels::occupancy`).
    pub workgroups: u64,
    /// The device's usable cooperative-matrix configuration, if any.
    pub coop: Option<CoopConfig>,
    /// Let an f32 target use tensor cores, rounding operands to f16 (off by default; see
    /// `crate::SessionOptions::f32_tensor_cores`).
    pub f32_tensor_cores: bool,
}

/// A byte range a launch binds as storage.
pub trait Binding: Copy + std::fmt::Debug {
    /// Byte offset of the first element in its buffer.
    fn offset(&self) -> u64;
    /// Bytes bound.
    fn size(&self) -> u64;
    /// The same range with `size` bytes.
    fn resized(self, size: u64) -> Self;
}

/// One kernel launch: binding 0 is `params` as a uniform, bindings 1.. are `bindings` as
/// storage, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Launch<B> {
    /// The kernel family.
    pub shader: Shader,
    /// Override constants (name, value), as the pipeline is specialised.
    pub constants: Vec<(&'static str, f64)>,
    /// The `Params` uniform's bytes.
    pub params: Vec<u8>,
    /// Storage bindings 1.., in order.
    pub bindings: Vec<B>,
    /// Workgroups in all (folded over x, y, z by [`Target::fold_workgroups`]).
    pub workgroups: u64,
}

impl<B> Launch<B> {
    /// The same launch with every binding mapped through `f`.
    pub fn map<C>(self, f: impl FnMut(B) -> C) -> Launch<C> {
        Launch {
            shader: self.shader,
            constants: self.constants,
            params: self.params,
            bindings: self.bindings.into_iter().map(f).collect(),
            workgroups: self.workgroups,
        }
    }
}

impl Target {
    /// A target with `limits`, storing f32, without tensor cores, for a GPU of unknown size
    /// ([`crate::kernels::algorithm::TARGET_WORKGROUPS`]).
    pub fn new(limits: wgpu::Limits) -> Self {
        Self {
            precision: Precision::F32,
            limits,
            workgroups: crate::kernels::algorithm::TARGET_WORKGROUPS,
            coop: None,
            f32_tensor_cores: false,
        }
    }

    /// The same target for a GPU that wants `workgroups` in flight.
    pub fn with_workgroups(&self, workgroups: u64) -> Self {
        Self {
            workgroups,
            ..self.clone()
        }
    }

    /// The same target storing `precision`.
    pub fn with_precision(&self, precision: Precision) -> Self {
        Self {
            precision,
            ..self.clone()
        }
    }

    /// The same target with the cooperative-matrix configuration `coop`.
    pub fn with_coop(&self, coop: Option<CoopConfig>) -> Self {
        Self {
            coop,
            ..self.clone()
        }
    }

    /// The same target with the f32 tensor-core opt-in set to `on`.
    pub fn with_f32_tensor_cores(&self, on: bool) -> Self {
        Self {
            f32_tensor_cores: on,
            ..self.clone()
        }
    }

    /// The cooperative-matrix configuration kernels may use in this target's precision: the
    /// device's, in f16 and f16-acc32 (f16 operands, f32 sums: within both bounds), and in f32
    /// only with [`Target::f32_tensor_cores`].
    pub fn tensor_cores(&self) -> Option<CoopConfig> {
        self.coop
            .filter(|_| self.precision.is_f16() || self.f32_tensor_cores)
    }

    /// Storage precision.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Device limits.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// Bytes of `n` elements of this target's storage type, for binding-size checks (no
    /// padding: a binding holding them may be larger).
    pub fn elem_bytes(&self, n: usize) -> u64 {
        (n * self.precision.elem_bytes()) as u64
    }

    /// Fails unless `binding` holds `elems` elements of the storage type: the host half of a
    /// trusted kernel's bounds proof (`Shader::TRUSTED`), so it names the op and the binding.
    pub fn require_elems<B: Binding>(
        &self,
        op: &str,
        what: &str,
        binding: &B,
        elems: usize,
    ) -> Result<()> {
        // Saturating: a product that overflows can never be bound, so it must fail too.
        let need = (elems as u64).saturating_mul(self.precision.elem_bytes() as u64);
        if binding.size() < need {
            return Err(Error::invalid_op(
                op,
                format!(
                    "{what} binding has {} bytes, {elems} elements need {need}",
                    binding.size()
                ),
            ));
        }
        Ok(())
    }

    /// Splits `total` workgroups over x, y, z so that no dimension exceeds the device limit.
    /// Shaders recover the flat index with `flat_workgroup_id` and skip indices `>= total`.
    pub fn fold_workgroups(&self, what: &str, total: u64) -> Result<[u32; 3]> {
        let max = self.limits.max_compute_workgroups_per_dimension.max(1) as u64;
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

    /// A launch of `shader`, checked against the limits: the workgroups fold, every binding's
    /// offset is aligned and its size within `max_storage_buffer_binding_size`.
    pub fn launch<P: GpuParams, B: Binding>(
        &self,
        shader: Shader,
        constants: &[(&'static str, f64)],
        params: &P,
        bindings: &[B],
        total_workgroups: u64,
    ) -> Result<Launch<B>> {
        self.fold_workgroups(shader.label(), total_workgroups)?;
        let align = self.limits.min_storage_buffer_offset_alignment as u64;
        let max_binding = self.limits.max_storage_buffer_binding_size;
        for (i, b) in bindings.iter().enumerate() {
            if b.offset() % align.max(1) != 0 {
                return Err(Error::invalid_op(
                    shader.label(),
                    format!(
                        "binding {} offset {} is not a multiple of {align}",
                        i + 1,
                        b.offset()
                    ),
                ));
            }
            if b.size() > max_binding {
                return Err(Error::DeviceLimit {
                    what: format!("{} binding {}", shader.label(), i + 1),
                    limit_name: "max_storage_buffer_binding_size",
                    limit: max_binding,
                    needed: b.size(),
                });
            }
        }
        Ok(Launch {
            shader,
            constants: constants.to_vec(),
            params: bytemuck::bytes_of(params).to_vec(),
            bindings: bindings.to_vec(),
            workgroups: total_workgroups,
        })
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
/// Fields need no docs of their own: each mirrors the field of that name in the WGSL struct
/// the struct's doc names, where it is described.
#[macro_export]
macro_rules! gpu_params {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        #[allow(missing_docs)]
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
