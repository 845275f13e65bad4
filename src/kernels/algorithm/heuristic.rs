//! Today's choice of algorithm for a convolution ([`heuristic`], [`heuristic_for`] on a
//! target, [`heuristic_with`] for an epilogue that scales the input) and the one-dispatch
//! fallback ([`single_pass`]). The figures behind each rule are in the doc comments; none was
//! timed on a GPU (none has been lent), and lavapipe's ranking must not drive them.

use super::{
    ConvAlgorithm, SPLITK_MAX_SPLITS, SPLITK_MIN_RANGE, Shape, TARGET_WORKGROUPS,
    WINOGRAD_MAX_SCRATCH_BYTES, WINOGRAD_MIN_CHANNELS, WINOGRAD_MIN_TILES, shape, winograd_applies,
    winograd_tiles,
};
use crate::kernels::conv::ConvTiling;
use crate::kernels::coop_conv::CoopTiling;
use crate::kernels::matmul::GemmTiling;
use crate::kernels::{Target, depthwise, matmul, winograd, winograd_fused};
use crate::ops::{ConvSpec, Epilogue};
use crate::precision::Precision;
use crate::tensor::numel;

/// Smallest GEMM extent (per-group output channels, output pixels, reduction) for tensor
/// cores: a 16x16x16 block is one instruction at many times the f32 FMA rate, but below 16
/// along any dimension most of each block multiplies zero padding, where the scalar kernels'
/// 4x4 register blocks waste less.
pub const COOP_MIN_EXTENT: usize = 16;

/// True when the tensor-core kernel pays for this convolution: not depthwise, and at least
/// [`COOP_MIN_EXTENT`] along each of M, N and K.
pub fn coop_pays(spec: &ConvSpec, input: &[usize], weight: &[usize]) -> bool {
    let Ok(s) = shape(spec, input, weight) else {
        return false;
    };
    !depthwise::is_depthwise(spec, input) && s.m.min(s.n).min(s.k) >= COOP_MIN_EXTENT
}

/// [`heuristic`] on `target`: the tensor-core kernel when the target offers it in its
/// precision ([`Target::tensor_cores`]), [`coop_pays`] and a tiling fits the device; it comes
/// before Winograd (which saves 2.25x the multiplies, tensor cores run them 8-16x faster than
/// f32 FMAs) and split-K (its larger tiles already cut the workgroup count; splitting them
/// would add a pass). Otherwise [`heuristic`] aimed at the target's workgroups in flight
/// ([`Target::workgroups`]).
pub fn heuristic_for(
    target: &Target,
    spec: &ConvSpec,
    input: &[usize],
    weight: &[usize],
) -> ConvAlgorithm {
    if let (Some(config), Ok(s)) = (target.tensor_cores(), shape(spec, input, weight))
        && coop_pays(spec, input, weight)
        && let Some(t) = CoopTiling::for_problem(s.m, s.n, target, config)
    {
        return ConvAlgorithm::Coop(t);
    }
    let fits = fused_winograd_fits(&target.limits);
    scalar_heuristic(target.workgroups, fits, spec, input, weight)
}

/// [`heuristic_for`] with the fused Winograd kernel ruled out (the planner's
/// `Rewrites::winograd_fused` off): the three-pass kernel where Winograd pays.
pub fn heuristic_unfused(
    target: &Target,
    spec: &ConvSpec,
    input: &[usize],
    weight: &[usize],
) -> ConvAlgorithm {
    match heuristic_for(target, spec, input, weight) {
        ConvAlgorithm::WinogradFused => {
            scalar_heuristic(target.workgroups, false, spec, input, weight)
        }
        chosen => chosen,
    }
}

/// True when the fused Winograd kernel's workgroup memory (16 KiB with f32 sums, the most any
/// precision needs) fits `limits`; WebGPU's default limit is exactly that.
pub(super) fn fused_winograd_fits(limits: &wgpu::Limits) -> bool {
    winograd_fused::workgroup_bytes(Precision::F32)
        <= limits.max_compute_workgroup_storage_size as u64
}

/// The split count for a GEMM with `tiles` output tiles and reduction `k`, or `None` when the
/// layer already fills the GPU or its reduction is too short to split.
fn splitk_splits(tiles: u64, k: usize, workgroups: u64) -> Option<u32> {
    if tiles == 0 || tiles >= workgroups / 2 {
        return None;
    }
    let by_occupancy = workgroups.div_ceil(tiles);
    let by_range = (k / SPLITK_MIN_RANGE) as u64;
    let splits = by_occupancy.min(by_range).min(SPLITK_MAX_SPLITS as u64);
    (splits >= 2).then_some(splits as u32)
}

/// Today's choice for this convolution (shapes assumed valid; an invalid problem gets the
/// implicit GEMM, whose dispatch then reports the error):
/// - depthwise (`groups == C`, 2-D): the depthwise kernel;
/// - Winograd F(2x2, 3x3) for 3x3 / stride 1 / dilation 1 / one group with C and O >= 64 and
///   at least 32 2x2 tiles: it saves 2.25x the multiplies (16 per 4 outputs instead of 36).
///   The fused kernel ([`ConvAlgorithm::WinogradFused`]) keeps its transformed tensors in
///   workgroup memory, so the 64 MiB scratch cap does not apply to it. The thresholds are
///   the three-pass kernel's, whose 4x input and 4x output round trips made it pay only where
///   the layer is compute bound (saved 10*C*O FLOPs per output pixel against ~32*(C+O) extra
///   bytes: C*O/(C+O) above ~3x a GPU's FLOP/byte ridge of 10-20); whether the fused kernel
///   pays below them is unmeasured on a real GPU. The three-pass kernel is chosen only where
///   the fused one's 16 KiB of workgroup memory exceeds the device's limit (and while each
///   transformed tensor stays under 64 MiB); it stays a tuner candidate;
/// - split-K when the implicit GEMM (or pointwise GEMM) launches fewer than 128 workgroups and
///   the reduction is long: splits = min(256 / tiles, K / 256, 32), so the launch approaches
///   ~256 workgroups while each split still reduces >= 256 terms;
/// - otherwise the pointwise GEMM for 1x1 convolutions and the implicit GEMM for the rest,
///   the latter with 128-wide tiles where they still launch 256 workgroups
///   ([`ConvTiling::for_problem`]).
///
/// The figures 256 and 128 are for a GPU of unknown size ([`TARGET_WORKGROUPS`]);
/// [`heuristic_for`] takes the adapter's own.
pub fn heuristic(spec: &ConvSpec, input: &[usize], weight: &[usize]) -> ConvAlgorithm {
    let fits = fused_winograd_fits(&wgpu::Limits::default());
    scalar_heuristic(TARGET_WORKGROUPS, fits, spec, input, weight)
}

/// [`heuristic`] for a GPU that wants `workgroups` in flight (`Target::workgroups`), where the
/// fused Winograd kernel fits the workgroup memory or not (`fused_fits`).
fn scalar_heuristic(
    workgroups: u64,
    fused_fits: bool,
    spec: &ConvSpec,
    input: &[usize],
    weight: &[usize],
) -> ConvAlgorithm {
    let Ok(s) = shape(spec, input, weight) else {
        return ConvAlgorithm::Implicit(ConvTiling::default());
    };
    if depthwise::is_depthwise(spec, input) {
        return ConvAlgorithm::Depthwise;
    }
    let winograd_pays = winograd_applies(spec)
        && input[1] >= WINOGRAD_MIN_CHANNELS
        && weight[0] >= WINOGRAD_MIN_CHANNELS
        && winograd_tiles(&s.out) >= WINOGRAD_MIN_TILES;
    if winograd_pays && fused_fits {
        return ConvAlgorithm::WinogradFused;
    }
    if winograd_pays
        // Capped at f32 sizes, so that the choice does not depend on the precision.
        && winograd::scratch_bytes(input, &s.out, Precision::F32)
            .iter()
            .all(|&b| b <= WINOGRAD_MAX_SCRATCH_BYTES)
    {
        return ConvAlgorithm::Winograd {
            tile: 2,
            // One product per transform point.
            gemm: GemmTiling::for_occupancy(weight[0], winograd_tiles(&s.out), 16, workgroups),
        };
    }
    if matmul::is_pointwise(spec) {
        return pointwise_heuristic(workgroups, spec, &s);
    }
    let tiling = ConvTiling::for_occupancy(s.m, s.n, workgroups);
    let tiles = spec.groups as u64
        * s.m.div_ceil(tiling.tile_m() as usize) as u64
        * s.n.div_ceil(tiling.tile_n() as usize) as u64;
    if let Some(splits) = splitk_splits(tiles, s.k, workgroups) {
        return ConvAlgorithm::SplitK { tiling, splits };
    }
    ConvAlgorithm::Implicit(tiling)
}

/// The pointwise GEMM, split-K when the layer launches too few tiles (see [`heuristic`]).
fn pointwise_heuristic(workgroups: u64, spec: &ConvSpec, s: &Shape) -> ConvAlgorithm {
    let spatial = numel(&s.out[2..]);
    let batch = s.out[0] * spec.groups;
    let tiling = GemmTiling::for_occupancy(s.m, spatial, batch, workgroups);
    let tiles = tiling.tiles(s.m, spatial, batch);
    if let Some(splits) = splitk_splits(tiles, s.k, workgroups) {
        return ConvAlgorithm::GemmSplitK { tiling, splits };
    }
    ConvAlgorithm::Gemm(tiling)
}

/// [`heuristic_for`] for a convolution with `epilogue`: with an input scale, the pointwise GEMM
/// choice (never tensor cores or depthwise); `None` when the convolution is not pointwise.
pub fn heuristic_with(
    target: &Target,
    spec: &ConvSpec,
    input: &[usize],
    weight: &[usize],
    epilogue: &Epilogue,
) -> Option<ConvAlgorithm> {
    let h = heuristic_for(target, spec, input, weight);
    if !epilogue.input_scale || h.takes_input_scale() {
        return Some(h);
    }
    let s = shape(spec, input, weight).ok()?;
    matmul::is_pointwise(spec).then(|| pointwise_heuristic(target.workgroups, spec, &s))
}

/// [`single_pass`] for a convolution with `epilogue`: the GEMM when it scales its input.
pub fn single_pass_with(
    spec: &ConvSpec,
    input: &[usize],
    weight: &[usize],
    epilogue: &Epilogue,
) -> ConvAlgorithm {
    if let Ok(s) = shape(spec, input, weight)
        && epilogue.input_scale
        && matmul::is_pointwise(spec)
    {
        let batch = s.out[0] * spec.groups;
        return ConvAlgorithm::Gemm(GemmTiling::for_workload(s.m, numel(&s.out[2..]), batch));
    }
    single_pass(spec, input, weight)
}

/// The one-dispatch algorithm for a convolution (no scratch, untransformed weights): what the
/// heuristic picks when split-K and Winograd are ruled out.
pub fn single_pass(spec: &ConvSpec, input: &[usize], weight: &[usize]) -> ConvAlgorithm {
    let Ok(s) = shape(spec, input, weight) else {
        return ConvAlgorithm::Implicit(ConvTiling::default());
    };
    if depthwise::is_depthwise(spec, input) {
        ConvAlgorithm::Depthwise
    } else if matmul::is_pointwise(spec) {
        let batch = s.out[0] * spec.groups;
        ConvAlgorithm::Gemm(GemmTiling::for_workload(s.m, numel(&s.out[2..]), batch))
    } else {
        ConvAlgorithm::Implicit(ConvTiling::for_problem(s.m, s.n))
    }
}
