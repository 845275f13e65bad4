//! Convolution on cooperative matrices (tensor cores, `shaders/coop_conv.wgsl`): any
//! convolution `conv.wgsl` runs, as an implicit GEMM whose 16x16x16 products take f16 operands
//! and accumulate in f32, with the usual fused epilogue.
//!
//! Only for a [`Target`] whose device reported a usable configuration ([`CoopConfig`], found
//! by `crate::device`) and whose precision allows f16 operands ([`Target::tensor_cores`]: the
//! f16 precisions, or f32 with [`Target::f32_tensor_cores`]). No adapter in CI has one, so the
//! kernel is validated by naga in the tests and checks itself on the device before a session
//! relies on it (`crate::tune::self_check`).

use crate::error::{Error, Result};
use crate::kernels::conv::{implicit_gemm_params, validate};
use crate::kernels::{Binding, ConvBindings, Launch, Target};
use crate::ops::{ConvSpec, Epilogue};
use crate::shaders::Shader;

const OP: &str = "coop_conv";
/// Side of one cooperative-matrix block (the only size the kernel is written for).
pub const BLOCK: u32 = 16;
/// Output rows and columns one subgroup owns: 2x2 blocks.
const PER_SUBGROUP: u32 = 2 * BLOCK;

/// A cooperative-matrix configuration the kernel can use on a device: 16x16x16 blocks, f16 A
/// and B, f32 accumulators, at subgroup scope, with the device's one subgroup size. Plain data,
/// so that planning stays a pure function and tests can build a target that claims one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CoopConfig {
    /// Invocations per subgroup (the adapter's minimum and maximum agree on it: the kernel's
    /// workgroup is a whole number of subgroups of this size).
    pub subgroup_size: u32,
}

impl CoopConfig {
    /// The configuration for an adapter reporting `properties` with subgroups of
    /// `subgroup_min..=subgroup_max` invocations: `None` unless it offers 16x16x16 with f16
    /// A/B and f32 C and a single subgroup size (a varying size would change how many
    /// subgroups a workgroup holds, which the tiling fixes). 8x8 configurations (Metal's
    /// simdgroups, some Vulkan drivers' f32 ones) are not served: the kernel's blocks are 16.
    pub fn from_adapter(
        properties: &[wgpu::CooperativeMatrixProperties],
        subgroup_min: u32,
        subgroup_max: u32,
    ) -> Option<Self> {
        use wgpu::CooperativeScalarType as T;
        let usable = properties.iter().any(|p| {
            (p.m_size, p.n_size, p.k_size) == (BLOCK, BLOCK, BLOCK)
                && p.ab_type == T::F16
                && p.cr_type == T::F32
        });
        (usable && subgroup_min == subgroup_max && subgroup_min > 0).then_some(Self {
            subgroup_size: subgroup_min,
        })
    }
}

/// Workgroup shape: `subgroups_m x subgroups_n` subgroups, each owning 2x2 blocks of 16x16
/// outputs, so a workgroup computes a `(32*subgroups_m) x (32*subgroups_n)` tile (output
/// channels x output pixels), staging `tk` reduction steps per barrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CoopTiling {
    /// Subgroups along output channels.
    pub subgroups_m: u32,
    /// Subgroups along output pixels.
    pub subgroups_n: u32,
    /// Reduction chunk staged in workgroup memory (a multiple of 16).
    pub tk: u32,
}

impl CoopTiling {
    /// Every tiling worth considering, the preferred first: 64x64 tiles with K-chunks of 32
    /// (four subgroups, 13.5 KiB of workgroup memory), then wider and
    /// narrower ones.
    pub const ALL: [CoopTiling; 10] = [
        Self::new(2, 2, 32),
        Self::new(2, 4, 32),
        Self::new(4, 2, 32),
        Self::new(4, 4, 32),
        Self::new(1, 4, 32),
        Self::new(1, 2, 32),
        Self::new(2, 1, 32),
        Self::new(1, 1, 32),
        Self::new(2, 2, 16),
        Self::new(1, 1, 16),
    ];

    const fn new(subgroups_m: u32, subgroups_n: u32, tk: u32) -> Self {
        Self {
            subgroups_m,
            subgroups_n,
            tk,
        }
    }

    /// Output channels per workgroup tile.
    pub fn tile_m(&self) -> u32 {
        self.subgroups_m * PER_SUBGROUP
    }

    /// Output pixels per workgroup tile.
    pub fn tile_n(&self) -> u32 {
        self.subgroups_n * PER_SUBGROUP
    }

    /// Invocations per workgroup on a device with `config`.
    pub fn invocations(&self, config: CoopConfig) -> u32 {
        config.subgroup_size * self.subgroups_m * self.subgroups_n
    }

    /// Bytes of workgroup memory the shader declares: the f16 weight tile `tile_m x (tk + 8)`,
    /// the f16 im2col tile `tk x (tile_n + 8)` and one f32 16x16 block per subgroup.
    pub fn workgroup_bytes(&self) -> u64 {
        let a = self.tile_m() * (self.tk + 8);
        let b = self.tk * (self.tile_n() + 8);
        let c = self.subgroups_m * self.subgroups_n * BLOCK * BLOCK;
        2 * (a + b) as u64 + 4 * c as u64
    }

    /// The tiling for a per-group GEMM of `m` rows and `n` columns: the first of
    /// [`CoopTiling::ALL`] that fits the device, with fewer subgroups along a dimension that a
    /// smaller tile already covers (a 32-channel layer does not idle half its workgroup).
    pub fn for_problem(m: usize, n: usize, target: &Target, config: CoopConfig) -> Option<Self> {
        let useful = |t: &CoopTiling| {
            (t.subgroups_m == 1 || (t.tile_m() / 2) < m as u32)
                && (t.subgroups_n == 1 || (t.tile_n() / 2) < n as u32)
        };
        Self::ALL
            .into_iter()
            .find(|t| useful(t) && t.check(target, config).is_ok())
    }

    /// Checks the shader's requirements and the device's limits.
    pub fn check(&self, target: &Target, config: CoopConfig) -> Result<()> {
        let threads = self.invocations(config);
        let tile_n = self.tile_n();
        let ok = self.subgroups_m >= 1
            && self.subgroups_n >= 1
            && self.tk >= BLOCK
            && self.tk.is_multiple_of(BLOCK)
            // Each invocation gathers one im2col column over a whole run of rows.
            && threads.is_multiple_of(tile_n)
            && self.tk.is_multiple_of(threads / tile_n);
        if !ok {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "tiling {self:?} at subgroup size {}: tk must be a multiple of 16, the \
                     invocations a multiple of the tile width {tile_n}, and tk a multiple of \
                     the rows they stage at once",
                    config.subgroup_size
                ),
            ));
        }
        let limits = target.limits();
        for (name, limit, needed) in [
            (
                "max_compute_invocations_per_workgroup",
                limits.max_compute_invocations_per_workgroup as u64,
                threads as u64,
            ),
            (
                "max_compute_workgroup_size_x",
                limits.max_compute_workgroup_size_x as u64,
                threads as u64,
            ),
            (
                "max_compute_workgroup_storage_size",
                limits.max_compute_workgroup_storage_size as u64,
                self.workgroup_bytes(),
            ),
        ] {
            if needed > limit {
                return Err(Error::DeviceLimit {
                    what: format!("{OP} tiling {self:?}"),
                    limit_name: name,
                    limit,
                    needed,
                });
            }
        }
        Ok(())
    }
}

/// `output = act(conv(input, weight) + bias + residual)` on cooperative matrices, for any
/// convolution `crate::kernels::conv::conv` takes. Fails with [`Error::MissingFeature`] on a
/// target without tensor cores for its precision ([`Target::tensor_cores`]).
pub fn coop_conv<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
    tiling: CoopTiling,
) -> Result<Launch<B>> {
    let Some(config) = target.tensor_cores() else {
        return Err(Error::MissingFeature {
            what: format!(
                "the tensor-core convolution in {}{}",
                target.precision,
                if target.precision.is_f16() || target.coop.is_none() {
                    ""
                } else {
                    " (f32 needs the f32_tensor_cores opt-in)"
                }
            ),
            feature: "wgpu-cooperative-matrix (16x16x16 f16 x f16 + f32, one subgroup size)",
            adapter: "this target".into(),
        });
    };
    tiling.check(target, config)?;
    validate(target, OP, spec, input_shape, weight_shape, epilogue, &b)?;
    let (params, _) = implicit_gemm_params(
        OP,
        spec,
        input_shape,
        weight_shape,
        (tiling.tile_m() as usize, tiling.tile_n() as usize),
        tiling.tk as usize,
        1,
    )?;
    let mut constants = epilogue.activation.constants().to_vec();
    constants.extend(tiling_constants(tiling, config));
    constants.extend([
        ("HAS_BIAS", b.bias.is_some() as u32 as f64),
        ("HAS_RESIDUAL", b.residual.is_some() as u32 as f64),
    ]);
    // Unused optional inputs are bound to a valid read-only buffer; the flags gate the reads.
    let total = params.groups as u64 * params.tiles_m as u64 * params.tiles_n as u64;
    target.launch(
        Shader::CoopConv,
        &constants,
        &params,
        &[
            b.input,
            b.weight,
            b.bias.unwrap_or(b.weight),
            b.residual.unwrap_or(b.input),
            b.output,
        ],
        total,
    )
}

/// The override constants of `tiling` on a device with `config` (what naga is checked with).
pub fn tiling_constants(tiling: CoopTiling, config: CoopConfig) -> [(&'static str, f64); 4] {
    [
        ("SUBGROUPS_M", tiling.subgroups_m as f64),
        ("SUBGROUPS_N", tiling.subgroups_n as f64),
        ("SG_SIZE", config.subgroup_size as f64),
        ("TK", tiling.tk as f64),
    ]
}
