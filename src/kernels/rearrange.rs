//! Data movement (`shaders/strided_copy.wgsl`): pixel shuffle / depth-to-space, space-to-depth,
//! channel shuffle, transpose, concat (one [`copy_into`] per input) and slice / split.
//!
//! Every op is a mapping onto one strided copy: an index space `dims`, walked in row-major
//! order, with per-dimension element strides and a base offset on each side. The mappings are
//! documented at each function; the CPU references in `crate::reference::rearrange` are written
//! from the op definitions instead, so a wrong mapping cannot agree with its own oracle.

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, Launch, Target};
use crate::ops::{ChannelOrder, ChannelShuffle, PixelShuffle, SpaceToDepth};
use crate::shaders::Shader;
use crate::tensor::{numel, strides};

/// Invocations per workgroup.
const WORKGROUP: u64 = 256;
/// Elements per invocation on the flat path (`ELEMS` in the shader).
const ELEMS: u64 = 4;
/// Side of the transpose tile (`TILE` in the shader).
const TILE: usize = 32;
/// The tiled path is used when both tile dims are at least this long; shorter ones would leave
/// most of the 32x32 tile idle and the flat path coalesces them well enough.
const MIN_TILED_EXTENT: usize = 16;
/// Rank of the kernel's index space.
pub const MAX_RANK: usize = 6;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/strided_copy.wgsl`.
    pub struct StridedCopyParams {
        pub total: u32,
        pub d0: u32, pub d1: u32, pub d2: u32, pub d3: u32, pub d4: u32, pub d5: u32,
        pub is0: u32, pub is1: u32, pub is2: u32, pub is3: u32, pub is4: u32, pub is5: u32,
        pub os0: u32, pub os1: u32, pub os2: u32, pub os3: u32, pub os4: u32, pub os5: u32,
        pub in_offset: u32,
        pub out_offset: u32,
        pub _pad0: u32, pub _pad1: u32, pub _pad2: u32,
    }
}

/// A strided copy: for every index `idx` of `dims`,
/// `out[out_offset + sum idx_i * out_strides_i] = in[in_offset + sum idx_i * in_strides_i]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyPlan {
    /// The index space (any rank; it must simplify to at most [`MAX_RANK`] dims).
    pub dims: Vec<usize>,
    /// Input element stride per dim.
    pub in_strides: Vec<usize>,
    /// Output element stride per dim.
    pub out_strides: Vec<usize>,
    /// Input element offset.
    pub in_offset: usize,
    /// Output element offset.
    pub out_offset: usize,
}

impl CopyPlan {
    /// Elements copied.
    pub fn total(&self) -> usize {
        numel(&self.dims)
    }

    /// The same copy with size-1 dims dropped and adjacent dims merged where both sides are
    /// contiguous across them, so the kernel unravels as few dims as possible (a concat part
    /// `[N, Cp, H, W]` becomes `[N, Cp*H*W]`).
    pub fn simplified(&self) -> CopyPlan {
        let mut dims: Vec<usize> = Vec::new();
        let mut is: Vec<usize> = Vec::new();
        let mut os: Vec<usize> = Vec::new();
        for i in 0..self.dims.len() {
            let (d, a, b) = (self.dims[i], self.in_strides[i], self.out_strides[i]);
            if d == 1 {
                continue;
            }
            if let Some(last) = dims.len().checked_sub(1) {
                // The previous (outer) dim steps exactly over this whole dim on both sides.
                if is[last] == a * d && os[last] == b * d {
                    dims[last] *= d;
                    is[last] = a;
                    os[last] = b;
                    continue;
                }
            }
            dims.push(d);
            is.push(a);
            os.push(b);
        }
        CopyPlan {
            dims,
            in_strides: is,
            out_strides: os,
            in_offset: self.in_offset,
            out_offset: self.out_offset,
        }
    }

    /// One past the largest input and output element index touched (0, 0 when empty).
    pub fn extents(&self) -> (usize, usize) {
        if self.total() == 0 {
            return (0, 0);
        }
        let reach = |s: &[usize]| -> usize {
            self.dims
                .iter()
                .zip(s)
                .map(|(&d, &st)| (d - 1) * st)
                .sum::<usize>()
        };
        (
            self.in_offset + reach(&self.in_strides) + 1,
            self.out_offset + reach(&self.out_strides) + 1,
        )
    }
}

/// Chooses the tiled transpose path: the innermost dim (`d5`, unit output stride in every
/// mapping here) is not contiguous in the input but another long dim is. Returns the plan with
/// that dim moved to position `rank - 2`.
fn tiled_layout(p: &CopyPlan) -> Option<CopyPlan> {
    let r = p.dims.len();
    if r < 2 || p.in_strides[r - 1] == 1 || p.dims[r - 1] < MIN_TILED_EXTENT {
        return None;
    }
    let k = (0..r - 1).find(|&k| p.in_strides[k] == 1 && p.dims[k] >= MIN_TILED_EXTENT)?;
    let mut order: Vec<usize> = (0..r - 1).filter(|&i| i != k).collect();
    order.push(k);
    order.push(r - 1);
    Some(CopyPlan {
        dims: order.iter().map(|&i| p.dims[i]).collect(),
        in_strides: order.iter().map(|&i| p.in_strides[i]).collect(),
        out_strides: order.iter().map(|&i| p.out_strides[i]).collect(),
        in_offset: p.in_offset,
        out_offset: p.out_offset,
    })
}

/// Runs any [`CopyPlan`]. `op` names the caller in errors. Checks that both bindings hold every
/// element the plan touches and that all indices fit the kernel's u32 arithmetic.
pub fn strided_copy<B: Binding>(
    target: &Target,
    op: &str,
    plan: &CopyPlan,
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let n = plan.dims.len();
    if plan.in_strides.len() != n || plan.out_strides.len() != n {
        return Err(Error::invalid_op(
            op,
            format!(
                "copy of dims {:?} needs one stride per dim, got {:?} and {:?}",
                plan.dims, plan.in_strides, plan.out_strides
            ),
        ));
    }
    let (in_end, out_end) = plan.extents();
    for (what, end, b) in [("input", in_end, input), ("output", out_end, output)] {
        if target.elem_bytes(end) > b.size() {
            return Err(Error::invalid_op(
                op,
                format!(
                    "{what} binding of {} bytes is too small for {end} elements (copy of {:?})",
                    b.size(),
                    plan.dims
                ),
            ));
        }
        // Intermediate sums in the shader stay below the final index; also leave room for the
        // flat path's per-workgroup overshoot.
        to_u32(
            op,
            &format!("{what} index range"),
            end + (WORKGROUP * ELEMS) as usize,
        )?;
    }
    let simple = plan.simplified();
    if simple.dims.len() > MAX_RANK {
        return Err(Error::invalid_op(
            op,
            format!(
                "copy of dims {:?} needs {} dims after merging, the kernel takes {MAX_RANK}",
                plan.dims,
                simple.dims.len()
            ),
        ));
    }
    let tiled = tiled_layout(&simple);
    let p = tiled.as_ref().unwrap_or(&simple);
    // Left-pad to six dims: size 1, stride 0.
    let pad = |v: &[usize], fill: usize| -> [usize; MAX_RANK] {
        let mut out = [fill; MAX_RANK];
        out[MAX_RANK - v.len()..].copy_from_slice(v);
        out
    };
    let d = pad(&p.dims, 1);
    let is = pad(&p.in_strides, 0);
    let os = pad(&p.out_strides, 0);
    let u = |v: usize| to_u32(op, "copy size", v);
    let total = plan.total();
    let params = StridedCopyParams {
        total: u(total)?,
        d0: u(d[0])?,
        d1: u(d[1])?,
        d2: u(d[2])?,
        d3: u(d[3])?,
        d4: u(d[4])?,
        d5: u(d[5])?,
        is0: u(is[0])?,
        is1: u(is[1])?,
        is2: u(is[2])?,
        is3: u(is[3])?,
        is4: u(is[4])?,
        is5: u(is[5])?,
        os0: u(os[0])?,
        os1: u(os[1])?,
        os2: u(os[2])?,
        os3: u(os[3])?,
        os4: u(os[4])?,
        os5: u(os[5])?,
        in_offset: u(p.in_offset)?,
        out_offset: u(p.out_offset)?,
        ..Default::default()
    };
    let (workgroups, flag) = if tiled.is_some() {
        let outer = (d[0] * d[1] * d[2] * d[3]) as u64;
        let tiles = d[4].div_ceil(TILE) as u64 * d[5].div_ceil(TILE) as u64;
        // The shader computes `wg / tiles` on u32.
        to_u32(op, "tile count", (outer * tiles) as usize)?;
        (outer * tiles, 1.0)
    } else {
        ((total as u64).div_ceil(WORKGROUP * ELEMS), 0.0)
    };
    // The flat path unravels only the live dims; the tiled path ignores RANK (fixed so that
    // it compiles once).
    let rank = if tiled.is_some() {
        MAX_RANK
    } else {
        p.dims.len().max(1)
    };
    target.launch(
        Shader::StridedCopy,
        &[("TILED", flag), ("RANK", rank as f64)],
        &params,
        &[input, output],
        workgroups,
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_part_merges_to_two_dims() {
        // [2, 3, 4, 5] into [2, 7, 4, 5]: per batch, 60 contiguous elements on both sides.
        let os = strides(&[2, 7, 4, 5]);
        let p = CopyPlan {
            dims: vec![2, 3, 4, 5],
            in_strides: strides(&[2, 3, 4, 5]),
            out_strides: os,
            in_offset: 0,
            out_offset: 40,
        };
        let s = p.simplified();
        assert_eq!(s.dims, vec![2, 60]);
        assert_eq!(s.in_strides, vec![60, 1]);
        assert_eq!(s.out_strides, vec![140, 1]);
        assert_eq!(p.extents(), (120, 40 + 140 + 60));
    }

    #[test]
    fn inner_transpose_takes_tiled_path() {
        // [4, 40, 50] -> perm [0, 2, 1]: output inner dim (40) has input stride 50, the output
        // middle dim (50) has input stride 1.
        let p = CopyPlan {
            dims: vec![4, 50, 40],
            in_strides: vec![2000, 1, 50],
            out_strides: strides(&[4, 50, 40]),
            in_offset: 0,
            out_offset: 0,
        };
        let t = tiled_layout(&p.simplified()).expect("tiled");
        assert_eq!(t.dims, vec![4, 50, 40]);
        // A pixel shuffle's short inner dim (r = 2) stays on the flat path.
        let q = CopyPlan {
            dims: vec![1, 3, 8, 2, 8, 2],
            in_strides: vec![768, 256, 8, 128, 1, 64],
            out_strides: strides(&[1, 3, 8, 2, 8, 2]),
            in_offset: 0,
            out_offset: 0,
        };
        assert!(tiled_layout(&q.simplified()).is_none());
    }
}
