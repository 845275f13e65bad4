//! Data movement (`shaders/strided_copy.wgsl`): pixel shuffle / depth-to-space, space-to-depth,
//! channel shuffle, transpose, concat (one [`copy_into`] per input) and slice / split.
//!
//! Every op is a mapping onto one strided copy: an index space `dims`, walked in row-major
//! order, with per-dimension element strides and a base offset on each side. The mappings are
//! documented at each function; the CPU references in `crate::reference::rearrange` are written
//! from the op definitions instead, so a wrong mapping cannot agree with its own oracle.

use crate::error::{Error, Result};
use crate::kernels::{Binding, Launch, Target};
use crate::ops::{ChannelOrder, ChannelShuffle, PixelShuffle, SpaceToDepth};
use crate::tensor::{numel, strides};

pub use super::strided_copy::{CopyPlan, MAX_RANK, StridedCopyParams, strided_copy};

/// Depth-to-space `[N, C*r*r, H, W]` -> `[N, C, H*r, W*r]`.
///
/// Mapping: the output viewed as `[N, C, H, r_i, W, r_j]` (dense) is walked in that order; the
/// input element is channel `c*r*r + i*r + j` (CRD) or `(i*r + j)*C + c` (DCR) at `(h, w)`, so
/// the input strides are `N: C*r*r*H*W, C: r*r*H*W (CRD) | H*W (DCR), H: W, i: r*H*W (CRD) |
/// r*C*H*W (DCR), W: 1, j: H*W (CRD) | C*H*W (DCR)`.
pub fn pixel_shuffle<B: Binding>(
    target: &Target,
    op: &PixelShuffle,
    input_shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let plan = pixel_shuffle_plan(op, input_shape)?;
    strided_copy(target, "pixel_shuffle", &plan, input, output)
}

/// The [`CopyPlan`] of [`pixel_shuffle`].
pub fn pixel_shuffle_plan(op: &PixelShuffle, input_shape: &[usize]) -> Result<CopyPlan> {
    let out_shape = op.output_shape(input_shape)?;
    let r = op.factor;
    let (n, c, h, w) = (out_shape[0], out_shape[1], input_shape[2], input_shape[3]);
    let hw = h * w;
    let (sc, si, sj) = match op.order {
        ChannelOrder::Crd => (r * r * hw, r * hw, hw),
        ChannelOrder::Dcr => (hw, r * c * hw, c * hw),
    };
    let plan = CopyPlan {
        reversed: Vec::new(),
        dims: vec![n, c, h, r, w, r],
        in_strides: vec![c * r * r * hw, sc, w, si, 1, sj],
        out_strides: strides(&[n, c, h, r, w, r]),
        in_offset: 0,
        out_offset: 0,
    };
    Ok(plan)
}

/// Space-to-depth `[N, C, H*r, W*r]` -> `[N, C*r*r, H, W]`, the inverse of [`pixel_shuffle`]
/// with the same order.
///
/// Mapping: the output viewed as `[N, C, r_i, r_j, H, W]` (CRD) or `[N, r_i, r_j, C, H, W]`
/// (DCR), dense, is walked in that order; its element `(c, i, j, h, w)` is input
/// `(c, h*r + i, w*r + j)`, so with input width `Wi = W*r` the input strides are
/// `C: Hi*Wi, i: Wi, j: 1, H: r*Wi, W: r`.
pub fn space_to_depth<B: Binding>(
    target: &Target,
    op: &SpaceToDepth,
    input_shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let plan = space_to_depth_plan(op, input_shape)?;
    strided_copy(target, "space_to_depth", &plan, input, output)
}

/// The [`CopyPlan`] of [`space_to_depth`].
pub fn space_to_depth_plan(op: &SpaceToDepth, input_shape: &[usize]) -> Result<CopyPlan> {
    let out_shape = op.output_shape(input_shape)?;
    let r = op.block;
    let (n, c, hi, wi) = (
        input_shape[0],
        input_shape[1],
        input_shape[2],
        input_shape[3],
    );
    let (h, w) = (out_shape[2], out_shape[3]);
    let (dims, in_strides) = match op.order {
        ChannelOrder::Crd => (
            vec![n, c, r, r, h, w],
            vec![c * hi * wi, hi * wi, wi, 1, r * wi, r],
        ),
        ChannelOrder::Dcr => (
            vec![n, r, r, c, h, w],
            vec![c * hi * wi, wi, 1, hi * wi, r * wi, r],
        ),
    };
    let plan = CopyPlan {
        reversed: Vec::new(),
        out_strides: strides(&dims),
        dims,
        in_strides,
        in_offset: 0,
        out_offset: 0,
    };
    Ok(plan)
}

/// ShuffleNet channel shuffle on `[N, g*k, *spatial]`.
///
/// Mapping: output channel `kk*g + gg` is input channel `gg*k + kk`; walking the output as
/// `[N, k, g, S]` (S = spatial size, dense) the input strides are `N: C*S, k: S, g: k*S, S: 1`.
pub fn channel_shuffle<B: Binding>(
    target: &Target,
    op: &ChannelShuffle,
    input_shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let plan = channel_shuffle_plan(op, input_shape)?;
    strided_copy(target, "channel_shuffle", &plan, input, output)
}

/// The [`CopyPlan`] of [`channel_shuffle`].
pub fn channel_shuffle_plan(op: &ChannelShuffle, input_shape: &[usize]) -> Result<CopyPlan> {
    op.output_shape(input_shape)?;
    let (n, c) = (input_shape[0], input_shape[1]);
    let s = numel(&input_shape[2..]);
    let (g, k) = (op.groups, c / op.groups);
    let dims = vec![n, k, g, s];
    let plan = CopyPlan {
        reversed: Vec::new(),
        in_strides: vec![c * s, s, k * s, 1],
        out_strides: strides(&dims),
        dims,
        in_offset: 0,
        out_offset: 0,
    };
    Ok(plan)
}

/// `out = input.permute(perm)` (ONNX `Transpose`), rank <= 6.
///
/// Mapping: walk the dense output; output dim `i` steps the input by `in_strides[perm[i]]`.
pub fn transpose<B: Binding>(
    target: &Target,
    perm: &[usize],
    input_shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let plan = transpose_plan(perm, input_shape)?;
    strided_copy(target, "transpose", &plan, input, output)
}

/// The [`CopyPlan`] of [`transpose`].
pub fn transpose_plan(perm: &[usize], input_shape: &[usize]) -> Result<CopyPlan> {
    let out_shape = crate::ops::transpose_shape(perm, input_shape)?;
    let s = strides(input_shape);
    let plan = CopyPlan {
        reversed: Vec::new(),
        in_strides: perm.iter().map(|&p| s[p]).collect(),
        out_strides: strides(&out_shape),
        dims: out_shape,
        in_offset: 0,
        out_offset: 0,
    };
    Ok(plan)
}

/// The [`CopyPlan`] of [`expand`]: the dense output walked with the input's strides, 0 along
/// broadcast dims (so each input element is read once per copy it makes).
pub fn expand_plan(input_shape: &[usize], out_shape: &[usize]) -> Result<CopyPlan> {
    if crate::ops::broadcast_shape(input_shape, out_shape)? != out_shape {
        return Err(Error::invalid_op(
            "expand",
            format!("{input_shape:?} does not broadcast to {out_shape:?}"),
        ));
    }
    Ok(CopyPlan {
        reversed: Vec::new(),
        in_strides: crate::ops::broadcast_strides(input_shape, out_shape),
        out_strides: strides(out_shape),
        dims: out_shape.to_vec(),
        in_offset: 0,
        out_offset: 0,
    })
}

/// `out = broadcast(input)` to `out_shape` (ONNX `Expand` after its shape rule).
pub fn expand<B: Binding>(
    target: &Target,
    input_shape: &[usize],
    out_shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let plan = expand_plan(input_shape, out_shape)?;
    strided_copy(target, "expand", &plan, input, output)
}

/// Writes `input` (shape `part_shape`) into `output` (shape `out_shape`) starting at index
/// `offset` along `axis`; a concat is one call per input with increasing offsets.
///
/// Mapping: walk the dense part; strides are the part's own on the input side and the
/// output's on the output side, with `offset * out_strides[axis]` as output offset.
pub fn copy_into<B: Binding>(
    target: &Target,
    axis: usize,
    part_shape: &[usize],
    out_shape: &[usize],
    offset: usize,
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let plan = copy_into_plan(axis, part_shape, out_shape, offset)?;
    strided_copy(target, "concat", &plan, input, output)
}

/// The [`CopyPlan`] of [`copy_into`].
pub fn copy_into_plan(
    axis: usize,
    part_shape: &[usize],
    out_shape: &[usize],
    offset: usize,
) -> Result<CopyPlan> {
    let r = out_shape.len();
    let fits = part_shape.len() == r
        && axis < r
        && (0..r).all(|i| i == axis || part_shape[i] == out_shape[i])
        && offset
            .checked_add(part_shape[axis])
            .is_some_and(|e| e <= out_shape[axis]);
    if !fits {
        return Err(Error::invalid_op(
            "concat",
            format!(
                "part {part_shape:?} at offset {offset} along axis {axis} does not fit in {out_shape:?}"
            ),
        ));
    }
    let os = strides(out_shape);
    let plan = CopyPlan {
        reversed: Vec::new(),
        dims: part_shape.to_vec(),
        in_strides: strides(part_shape),
        out_offset: offset * os[axis],
        out_strides: os,
        in_offset: 0,
    };
    Ok(plan)
}

/// Output shape of [`slice`](fn@slice): `ceil((end - start) / step)` per dim, 0 when `end <= start`.
pub fn slice_shape(
    input_shape: &[usize],
    starts: &[usize],
    ends: &[usize],
    steps: &[usize],
) -> Result<Vec<usize>> {
    let r = input_shape.len();
    let ok = starts.len() == r
        && ends.len() == r
        && steps.len() == r
        && (0..r)
            .all(|i| steps[i] >= 1 && starts[i] <= input_shape[i] && ends[i] <= input_shape[i]);
    if !ok {
        return Err(Error::invalid_op(
            "slice",
            format!(
                "starts {starts:?}, ends {ends:?}, steps {steps:?} must have one entry per dim of {input_shape:?}, lie within it, with steps >= 1"
            ),
        ));
    }
    Ok((0..r)
        .map(|i| ends[i].saturating_sub(starts[i]).div_ceil(steps[i]))
        .collect())
}

/// `out = input[starts:ends:steps]` per dim (positive steps; used by Slice and Split). Starts
/// and ends are already clamped to the input (`0 <= start, end <= dim`).
///
/// Mapping: walk the dense output; dim `i` steps the input by `steps[i] * in_strides[i]`,
/// starting at `sum starts[i] * in_strides[i]`.
pub fn slice<B: Binding>(
    target: &Target,
    input_shape: &[usize],
    starts: &[usize],
    ends: &[usize],
    steps: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let plan = slice_plan(input_shape, starts, ends, steps)?;
    strided_copy(target, "slice", &plan, input, output)
}

/// `out = input` flipped along `axes` (`torch.flip`; with a positive-step slice, an ONNX Slice
/// with negative steps).
///
/// Mapping: the identity copy with `axes` read backwards.
pub fn reverse<B: Binding>(
    target: &Target,
    input_shape: &[usize],
    axes: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    strided_copy(
        target,
        "reverse",
        &reverse_plan(input_shape, axes)?,
        input,
        output,
    )
}

/// The [`CopyPlan`] of [`reverse`].
pub fn reverse_plan(input_shape: &[usize], axes: &[usize]) -> Result<CopyPlan> {
    if let Some(a) = axes.iter().find(|&&a| a >= input_shape.len()) {
        return Err(Error::invalid_op(
            "reverse",
            format!(
                "axis {a} is outside the rank {} of {input_shape:?}",
                input_shape.len()
            ),
        ));
    }
    Ok(CopyPlan {
        dims: input_shape.to_vec(),
        in_strides: strides(input_shape),
        out_strides: strides(input_shape),
        in_offset: 0,
        out_offset: 0,
        reversed: (0..input_shape.len()).map(|d| axes.contains(&d)).collect(),
    })
}

/// The [`CopyPlan`] of [`slice`](fn@slice).
pub fn slice_plan(
    input_shape: &[usize],
    starts: &[usize],
    ends: &[usize],
    steps: &[usize],
) -> Result<CopyPlan> {
    let out_shape = slice_shape(input_shape, starts, ends, steps)?;
    let s = strides(input_shape);
    let empty = numel(&out_shape) == 0;
    let plan = CopyPlan {
        reversed: Vec::new(),
        in_strides: (0..s.len()).map(|i| s[i] * steps[i]).collect(),
        out_strides: strides(&out_shape),
        // An empty slice may start at the end of the input; it reads nothing.
        in_offset: if empty {
            0
        } else {
            starts.iter().zip(&s).map(|(a, b)| a * b).sum()
        },
        dims: out_shape,
        out_offset: 0,
    };
    Ok(plan)
}
