//! The strided copy (`shaders/strided_copy.wgsl`) every data-movement op maps onto: an index
//! space walked in row-major order, per-dimension element strides and a base offset on each
//! side, dims optionally read backwards. The op mappings are in [`super::rearrange`].

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, Launch, Target};
use crate::shaders::Shader;
use crate::tensor::numel;

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
        pub reversed: u32,
        pub _pad1: u32, pub _pad2: u32,
    }
}

/// A strided copy: for every index `idx` of `dims`,
/// `out[out_offset + sum idx_i * out_strides_i] = in[in_offset + sum j_i * in_strides_i]`
/// with `j_i = idx_i`, or `dims_i - 1 - idx_i` along a reversed dim (a flip, or a slice with
/// negative steps: the input side stays a positive-stride range, walked backwards).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    /// Dims read backwards (missing entries: forwards).
    pub reversed: Vec<bool>,
}

impl CopyPlan {
    /// True when dim `k` is read backwards.
    pub fn is_reversed(&self, k: usize) -> bool {
        self.reversed.get(k).copied().unwrap_or(false)
    }

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
        let mut rev: Vec<bool> = Vec::new();
        for i in 0..self.dims.len() {
            let (d, a, b) = (self.dims[i], self.in_strides[i], self.out_strides[i]);
            if d == 1 {
                continue;
            }
            if let Some(last) = dims.len().checked_sub(1) {
                // The previous (outer) dim steps exactly over this whole dim on both sides (two
                // reversed dims merge into one reversed dim).
                if is[last] == a * d && os[last] == b * d && rev[last] == self.is_reversed(i) {
                    dims[last] *= d;
                    is[last] = a;
                    os[last] = b;
                    continue;
                }
            }
            dims.push(d);
            is.push(a);
            os.push(b);
            rev.push(self.is_reversed(i));
        }
        CopyPlan {
            dims,
            in_strides: is,
            out_strides: os,
            in_offset: self.in_offset,
            out_offset: self.out_offset,
            reversed: rev,
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
    if r < 2
        || p.in_strides[r - 1] == 1
        || p.dims[r - 1] < MIN_TILED_EXTENT
        || p.reversed.contains(&true)
    {
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
        reversed: Vec::new(),
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
        // Bit k: padded dim k is reversed.
        reversed: (0..p.dims.len())
            .filter(|&k| p.is_reversed(k))
            .map(|k| 1u32 << (MAX_RANK - p.dims.len() + k))
            .sum(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::strides;

    #[test]
    fn concat_part_merges_to_two_dims() {
        // [2, 3, 4, 5] into [2, 7, 4, 5]: per batch, 60 contiguous elements on both sides.
        let os = strides(&[2, 7, 4, 5]);
        let p = CopyPlan {
            reversed: Vec::new(),
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
            reversed: Vec::new(),
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
            reversed: Vec::new(),
            dims: vec![1, 3, 8, 2, 8, 2],
            in_strides: vec![768, 256, 8, 128, 1, 64],
            out_strides: strides(&[1, 3, 8, 2, 8, 2]),
            in_offset: 0,
            out_offset: 0,
        };
        assert!(tiled_layout(&q.simplified()).is_none());
    }
}
