//! Convolution algorithms: every way the engine can run one convolution node, the viable
//! configurations for a shape ([`candidates`], for the autotuner), today's choice
//! ([`heuristic`]), and the launches of a chosen one ([`conv_with`]).
//!
//! An algorithm may need scratch memory live only while its node runs (split-K's partial sums,
//! Winograd's transformed tensors): [`scratch_bytes`] sizes it, the planner places it like any
//! tensor (`crate::plan`), and [`conv_with`] takes the regions. Scratch regions must lie in
//! other buffers than the node's input and output and than each other (wgpu forbids one buffer
//! bound read-only and read-write in a dispatch).

use crate::error::{Error, Result};
use crate::kernels::conv::ConvTiling;
use crate::kernels::coop_conv::{self, CoopTiling};
use crate::kernels::matmul::GemmTiling;
use crate::kernels::splitk::Partial;
use crate::kernels::{
    Binding, ConvBindings, Launch, Target, conv, depthwise, matmul, splitk, winograd,
    winograd_fused,
};
use crate::ops::{ConvSpec, Epilogue};
use crate::precision::Precision;
use crate::tensor::numel;

mod heuristic;
use heuristic::fused_winograd_fits;
pub use heuristic::{
    COOP_MIN_EXTENT, coop_pays, heuristic, heuristic_for, heuristic_unfused, heuristic_with,
    single_pass, single_pass_with,
};

/// How one convolution runs. Every variant computes the same function; they differ in speed,
/// dispatch count, scratch memory and (Winograd) rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvAlgorithm {
    /// `conv.wgsl`: implicit GEMM, one dispatch (any convolution).
    Implicit(ConvTiling),
    /// `matmul.wgsl`: a pointwise (1x1, stride 1, unpadded) convolution as a batched GEMM.
    Gemm(GemmTiling),
    /// `depthwise.wgsl` with its own heuristic tiling (2-D, `groups == C`).
    Depthwise,
    /// `conv.wgsl` over `splits` ranges of the reduction, each writing raw partial sums to
    /// scratch `[splits, N, O, *out]`, then `splitk_reduce.wgsl` sums them and applies the
    /// epilogue: more workgroups for layers with few output tiles (any convolution).
    SplitK {
        /// Tiling of each split's implicit GEMM.
        tiling: ConvTiling,
        /// Number of reduction ranges (>= 1).
        splits: u32,
    },
    /// Split-K through `matmul.wgsl` for pointwise convolutions.
    GemmSplitK {
        /// Tiling of each split's GEMM.
        tiling: GemmTiling,
        /// Number of reduction ranges (>= 1).
        splits: u32,
    },
    /// Winograd F(tile x tile, 3x3) in three passes: input transform to scratch, batched GEMM
    /// with the host-transformed weights through `matmul.wgsl`, output transform with the
    /// epilogue. 2-D 3x3 convolutions with stride 1, dilation 1, one group, any padding.
    Winograd {
        /// Output tile side (2: F(2x2, 3x3), the only one implemented).
        tile: u32,
        /// Tiling of the batched GEMM.
        gemm: GemmTiling,
    },
    /// `winograd_fused.wgsl`: Winograd F(2x2, 3x3) in one dispatch, transforms and products
    /// in workgroup memory (no scratch), same host-transformed weights and applicability as
    /// [`ConvAlgorithm::Winograd`].
    WinogradFused,
    /// `coop_conv.wgsl`: implicit GEMM on cooperative matrices (tensor cores), f16 operands
    /// and f32 sums, one dispatch (any convolution; only on a target with
    /// [`Target::tensor_cores`]).
    Coop(CoopTiling),
}

/// Workgroups a GPU of unknown size is assumed to want in flight: about two per compute unit
/// on today's large parts (100-130 SMs/CUs); `Target::workgroups` holds the adapter's own
/// figure where `crate::kernels::occupancy` knows it. Layers launching far fewer leave most of
/// the chip idle. Split-K is considered below half of it in output tiles.
pub const TARGET_WORKGROUPS: u64 = 256;
/// Smallest reduction range per split: its partial tile costs one write and one read of
/// `tile_m * tile_n` floats for `2 * tile_m * tile_n * range` FLOPs, so 256 keeps the extra
/// traffic at >= 64 FLOP/byte, above any GPU's ridge point.
pub const SPLITK_MIN_RANGE: usize = 256;
/// Most splits the heuristic picks (and the candidates list).
pub const SPLITK_MAX_SPLITS: u32 = 32;
/// Winograd F(2x2, 3x3) when both channel counts reach this (see [`heuristic`]).
pub const WINOGRAD_MIN_CHANNELS: usize = 64;
/// ... and its batched GEMM has at least this many columns (2x2 tiles over the batch).
pub const WINOGRAD_MIN_TILES: usize = 32;
/// ... and, for the three-pass kernel only (the fused one has no scratch), each transformed
/// tensor (4x the input or output) stays below half of WebGPU's default
/// `max_storage_buffer_binding_size`, so large maps fall back to the implicit GEMM instead of
/// failing a device limit.
pub const WINOGRAD_MAX_SCRATCH_BYTES: u64 = 64 << 20;

/// The shapes of a convolution problem, validated.
struct Shape {
    out: Vec<usize>,
    /// Output channels per group.
    m: usize,
    /// Output pixels over the batch.
    n: usize,
    /// Reduction length per output.
    k: usize,
}

fn shape(spec: &ConvSpec, input: &[usize], weight: &[usize]) -> Result<Shape> {
    let out = spec.output_shape(input, weight)?;
    let g = spec.groups;
    Ok(Shape {
        m: out[1] / g,
        n: out[0] * numel(&out[2..]),
        k: input[1] / g * numel(&spec.kernel),
        out,
    })
}

/// True when Winograd F(2x2, 3x3) applies: 2-D, 3x3, stride 1, dilation 1, one group.
pub fn winograd_applies(spec: &ConvSpec) -> bool {
    spec.rank() == 2
        && spec.kernel == [3, 3]
        && spec.stride == [1, 1]
        && spec.dilation == [1, 1]
        && spec.groups == 1
}

impl ConvAlgorithm {
    /// Kernel launches per run.
    pub fn dispatch_count(&self) -> usize {
        match self {
            ConvAlgorithm::Implicit(_)
            | ConvAlgorithm::Gemm(_)
            | ConvAlgorithm::Depthwise
            | ConvAlgorithm::WinogradFused
            | ConvAlgorithm::Coop(_) => 1,
            ConvAlgorithm::SplitK { .. } | ConvAlgorithm::GemmSplitK { .. } => 2,
            ConvAlgorithm::Winograd { .. } => 3,
        }
    }

    /// True for the algorithms that take `Epilogue::input_scale`: the pointwise GEMM ones.
    pub fn takes_input_scale(&self) -> bool {
        matches!(self, Self::Gemm(_) | Self::GemmSplitK { .. })
    }

    /// True when the weights bound are not the op's own but a host transform of them
    /// (the planner uploads the transform).
    pub fn transforms_weights(&self) -> bool {
        matches!(
            self,
            ConvAlgorithm::Winograd { .. } | ConvAlgorithm::WinogradFused
        )
    }

    /// Checks that this algorithm can run `spec` on these shapes (shape rules, not device
    /// limits); the error names the algorithm and the shapes.
    pub fn supports(&self, spec: &ConvSpec, input: &[usize], weight: &[usize]) -> Result<()> {
        const OP: &str = "conv algorithm";
        let s = shape(spec, input, weight)?;
        let refuse = |why: &str| {
            Err(Error::invalid_op(
                OP,
                format!(
                    "{self:?} cannot run input {input:?}, weight {weight:?}, kernel {:?}, stride {:?}, dilation {:?}, groups {}: {why}",
                    spec.kernel, spec.stride, spec.dilation, spec.groups
                ),
            ))
        };
        let splits_ok = |splits: u32| splits >= 1 && splits as usize <= s.k.max(1);
        match *self {
            ConvAlgorithm::Implicit(_) => Ok(()),
            ConvAlgorithm::Gemm(_) if !matmul::is_pointwise(spec) => {
                refuse("the GEMM needs a 1x1 kernel, stride 1 and no padding")
            }
            ConvAlgorithm::Gemm(_) => Ok(()),
            ConvAlgorithm::Depthwise if !depthwise::is_depthwise(spec, input) => {
                refuse("the depthwise kernel needs a 2-D convolution with groups == channels")
            }
            ConvAlgorithm::Depthwise => Ok(()),
            ConvAlgorithm::SplitK { splits, .. } if !splits_ok(splits) => {
                refuse("splits must be between 1 and the reduction length")
            }
            ConvAlgorithm::SplitK { .. } => Ok(()),
            ConvAlgorithm::GemmSplitK { .. } if !matmul::is_pointwise(spec) => {
                refuse("the GEMM needs a 1x1 kernel, stride 1 and no padding")
            }
            ConvAlgorithm::GemmSplitK { splits, .. } if !splits_ok(splits) => {
                refuse("splits must be between 1 and the reduction length")
            }
            ConvAlgorithm::GemmSplitK { .. } => Ok(()),
            ConvAlgorithm::Winograd { tile, .. } if tile != 2 => {
                refuse("only F(2x2, 3x3) (tile 2) is implemented")
            }
            ConvAlgorithm::Winograd { .. } | ConvAlgorithm::WinogradFused
                if !winograd_applies(spec) =>
            {
                refuse("Winograd needs a 2-D 3x3 kernel, stride 1, dilation 1 and one group")
            }
            ConvAlgorithm::Winograd { .. } | ConvAlgorithm::WinogradFused => Ok(()),
            ConvAlgorithm::Coop(_) => Ok(()),
        }
    }
}

/// Implicit-GEMM tilings worth trying for a per-group `m x n` GEMM: 4x4 blocks with 4, 8 or 16
/// invocations along channels and 4 to 64 along pixels, and the [`ConvTiling::big`] 128x128,
/// 128x64 and 64x128 tiles with K-chunks of 16 and 32, within the device's invocation and
/// workgroup-memory limits, skipping tiles that a tile half as large already covers.
fn conv_tilings(m: usize, n: usize, limits: &wgpu::Limits) -> Vec<ConvTiling> {
    let useful = |t: &ConvTiling| {
        (t.wg_m == 4 || ((t.tile_m() / 2) as usize) < m)
            && (t.wg_n == 4 || ((t.tile_n() / 2) as usize) < n)
    };
    let small = [4u32, 8, 16].into_iter().flat_map(|wg_m| {
        [4u32, 8, 16, 32, 64]
            .into_iter()
            .map(move |wg_n| ConvTiling {
                wg_m,
                wg_n,
                ..ConvTiling::default()
            })
    });
    let big = [(8, 8), (8, 4), (4, 8)]
        .into_iter()
        .flat_map(|(rm, rn)| [16, 32].map(|tk| ConvTiling::big(rm, rn, tk)));
    small
        .chain(big)
        .filter(|t| {
            useful(t)
                && t.wg_m * t.wg_n <= limits.max_compute_invocations_per_workgroup
                && t.wg_m * t.wg_n <= limits.max_compute_workgroup_size_x
                && t.workgroup_bytes() <= limits.max_compute_workgroup_storage_size as u64
        })
        .collect()
}

/// Split counts worth trying for a reduction of length `k`: each range at least 64 long.
fn split_counts(k: usize) -> Vec<u32> {
    [2u32, 3, 4, 6, 8, 12, 16, 24, 32]
        .into_iter()
        .filter(|&s| k / s as usize >= 64)
        .collect()
}

/// Columns of Winograd F(2x2, 3x3)'s batched GEMM: 2x2 output tiles over the batch.
fn winograd_tiles(out: &[usize]) -> usize {
    out[0] * out[2].div_ceil(2) * out[3].div_ceil(2)
}

/// Every viable configuration for this convolution on a device with `limits`, the heuristic's
/// choice included; empty when the shapes are invalid.
pub fn candidates(
    spec: &ConvSpec,
    input: &[usize],
    weight: &[usize],
    limits: &wgpu::Limits,
) -> Vec<ConvAlgorithm> {
    let Ok(s) = shape(spec, input, weight) else {
        return Vec::new();
    };
    let mut v = Vec::new();
    if depthwise::is_depthwise(spec, input) {
        v.push(ConvAlgorithm::Depthwise);
    }
    let pointwise = matmul::is_pointwise(spec);
    if pointwise {
        let gemm = GemmTiling::candidates(s.m, numel(&s.out[2..]), limits);
        v.extend(gemm.iter().map(|&t| ConvAlgorithm::Gemm(t)));
        for &splits in &split_counts(s.k) {
            v.extend(
                gemm.iter()
                    .map(|&tiling| ConvAlgorithm::GemmSplitK { tiling, splits }),
            );
        }
    }
    let tilings = conv_tilings(s.m, s.n, limits);
    v.extend(tilings.iter().map(|&t| ConvAlgorithm::Implicit(t)));
    for &splits in &split_counts(s.k) {
        v.extend(
            tilings
                .iter()
                .map(|&tiling| ConvAlgorithm::SplitK { tiling, splits }),
        );
    }
    if winograd_applies(spec) && input[1] > 0 {
        v.push(ConvAlgorithm::WinogradFused);
        let (o, c) = (weight[0], input[1]);
        v.extend(
            GemmTiling::candidates(o, winograd_tiles(&s.out), limits)
                .into_iter()
                .filter(|_| c > 0)
                .map(|gemm| ConvAlgorithm::Winograd { tile: 2, gemm }),
        );
    }
    let h = heuristic(spec, input, weight);
    if !v.contains(&h) {
        v.push(h);
    }
    let fused_fits = fused_winograd_fits(limits);
    v.retain(|a| {
        a.supports(spec, input, weight).is_ok()
            && (fused_fits || *a != ConvAlgorithm::WinogradFused)
    });
    v
}

/// Every viable configuration on `target`: [`candidates`] for its limits, plus the tensor-core
/// tilings that fit when [`coop_pays`] ([`heuristic_for`]'s choice included).
pub fn candidates_for(
    target: &Target,
    spec: &ConvSpec,
    input: &[usize],
    weight: &[usize],
) -> Vec<ConvAlgorithm> {
    let mut v = candidates(spec, input, weight, &target.limits);
    if let (Some(config), Ok(s)) = (target.tensor_cores(), shape(spec, input, weight))
        && coop_pays(spec, input, weight)
    {
        v.extend(
            CoopTiling::ALL
                .into_iter()
                .filter(|t| t.check(target, config).is_ok())
                .filter(|t| t.subgroups_m == 1 || (t.tile_m() / 2) < s.m as u32)
                .filter(|t| t.subgroups_n == 1 || (t.tile_n() / 2) < s.n as u32)
                .map(ConvAlgorithm::Coop),
        );
    }
    let h = heuristic_for(target, spec, input, weight);
    if !v.contains(&h) {
        v.push(h);
    }
    v
}

/// Bytes of each scratch region `algorithm` needs for this problem, in the order
/// [`conv_with`] takes them (empty for single-dispatch algorithms), in `precision`: split-K's
/// partial sums are accumulators ([`Precision::acc_bytes`]: f32 in f32 and f16-acc32, f16 in
/// f16), Winograd's transformed tensors V and M are stored elements
/// ([`Precision::elem_bytes`]; the GEMM between them reads and writes Elem).
pub fn scratch_bytes(
    algorithm: &ConvAlgorithm,
    spec: &ConvSpec,
    input: &[usize],
    weight: &[usize],
    precision: Precision,
) -> Result<Vec<u64>> {
    let s = shape(spec, input, weight)?;
    let acc = |elems: usize| (elems.max(1) * precision.acc_bytes()).div_ceil(4) as u64 * 4;
    Ok(match *algorithm {
        ConvAlgorithm::SplitK { splits, .. } | ConvAlgorithm::GemmSplitK { splits, .. } => {
            vec![acc(splits as usize * numel(&s.out))]
        }
        ConvAlgorithm::Winograd { .. } => {
            winograd::scratch_bytes(input, &s.out, precision).to_vec()
        }
        _ => Vec::new(),
    })
}

/// The launches of `algorithm` for `output = act(conv(input, weight) + bias + residual)`, in
/// order. `b.weight` holds the op's weights, or for [`ConvAlgorithm::transforms_weights`]
/// algorithms their host transform; `weight` is the op's weight shape either way. `scratch`
/// holds [`scratch_bytes`]' regions.
#[allow(clippy::too_many_arguments)]
pub fn conv_with<B: Binding>(
    target: &Target,
    algorithm: &ConvAlgorithm,
    spec: &ConvSpec,
    input: &[usize],
    weight: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
    scratch: &[B],
) -> Result<Vec<Launch<B>>> {
    algorithm.supports(spec, input, weight)?;
    let need = scratch_bytes(algorithm, spec, input, weight, target.precision())?;
    if scratch.len() != need.len() || scratch.iter().zip(&need).any(|(r, &n)| r.size() < n) {
        return Err(Error::invalid_op(
            "conv algorithm",
            format!(
                "{algorithm:?} needs scratch regions of {need:?} bytes, got {:?}",
                scratch.iter().map(|r| r.size()).collect::<Vec<_>>()
            ),
        ));
    }
    // Both split-K algorithms differ only in the kernel of their partial sums.
    let split_k = |partial, splits| -> Result<Vec<Launch<B>>> {
        let ds = splitk::two_pass(
            target, spec, input, weight, epilogue, b, partial, splits, scratch[0],
        )?;
        Ok(ds.into())
    };
    Ok(match *algorithm {
        ConvAlgorithm::Implicit(t) => vec![conv::conv_tiled(
            target,
            spec,
            input,
            weight,
            epilogue,
            b,
            Some(t),
        )?],
        ConvAlgorithm::Gemm(t) => vec![matmul::pointwise_tiled(
            target,
            spec,
            input,
            weight,
            epilogue,
            b,
            Some(t),
        )?],
        ConvAlgorithm::Depthwise => {
            vec![depthwise::depthwise(
                target, spec, input, weight, epilogue, b,
            )?]
        }
        ConvAlgorithm::SplitK { tiling, splits } => split_k(Partial::Conv(Some(tiling)), splits)?,
        ConvAlgorithm::GemmSplitK { tiling, splits } => {
            split_k(Partial::Pointwise(Some(tiling)), splits)?
        }
        ConvAlgorithm::Winograd { gemm, .. } => winograd::winograd(
            target,
            spec,
            input,
            weight,
            epilogue,
            b,
            Some(gemm),
            [scratch[0], scratch[1]],
        )?
        .into(),
        ConvAlgorithm::WinogradFused => vec![winograd_fused::winograd_fused(
            target, spec, input, weight, epilogue, b,
        )?],
        ConvAlgorithm::Coop(t) => vec![coop_conv::coop_conv(
            target, spec, input, weight, epilogue, b, t,
        )?],
    })
}
