//! Lossless rearrangements: pixel shuffle / depth-to-space, space-to-depth / pixel unshuffle,
//! channel shuffle. Each is a permutation of a reshaped tensor; the comments give it.

use crate::error::{Error, Result};

/// Channel order of depth-to-space and space-to-depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelOrder {
    /// Column-row-depth: channel = c * r^2 + i * r + j. PyTorch `pixel_shuffle` /
    /// `pixel_unshuffle`, ONNX `DepthToSpace` mode CRD.
    Crd,
    /// Depth-column-row: channel = (i * r + j) * C + c. ONNX `DepthToSpace` default (DCR) and
    /// ONNX / TensorFlow `SpaceToDepth`.
    Dcr,
}

/// Depth-to-space: `[N, C*r*r, H, W]` -> `[N, C, H*r, W*r]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PixelShuffle {
    /// Upscale factor r.
    pub factor: usize,
    /// Channel order.
    pub order: ChannelOrder,
}

impl PixelShuffle {
    /// Output shape.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let r = self.factor;
        super::check_param("pixel_shuffle", "factor", &[r])?;
        if input.len() != 4 || r == 0 || !input[1].is_multiple_of(r * r) {
            return Err(Error::invalid_op(
                "pixel_shuffle",
                format!("input {input:?} must be [N, C*{r}*{r}, H, W] with factor >= 1"),
            ));
        }
        let op = "pixel_shuffle";
        Ok(vec![
            input[0],
            input[1] / (r * r),
            super::mul(op, "output height", input[2], r)?,
            super::mul(op, "output width", input[3], r)?,
        ])
    }
}

/// Space-to-depth: `[N, C, H*r, W*r]` -> `[N, C*r*r, H, W]`, the exact inverse of
/// [`PixelShuffle`] with the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpaceToDepth {
    /// Block size r.
    pub block: usize,
    /// Channel order (`Crd` = PyTorch `pixel_unshuffle`, `Dcr` = ONNX `SpaceToDepth`).
    pub order: ChannelOrder,
}

impl SpaceToDepth {
    /// Output shape.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let r = self.block;
        super::check_param("space_to_depth", "block", &[r])?;
        if input.len() != 4 || r == 0 || !input[2].is_multiple_of(r) || !input[3].is_multiple_of(r)
        {
            return Err(Error::invalid_op(
                "space_to_depth",
                format!("input {input:?} must be [N, C, H, W] with H and W divisible by block {r}"),
            ));
        }
        let c = super::mul("space_to_depth", "output channels", input[1], r * r)?;
        Ok(vec![input[0], c, input[2] / r, input[3] / r])
    }
}

/// ShuffleNet's channel shuffle: `[N, g*k, H, W]` viewed as `[N, g, k, H, W]`, transposed to
/// `[N, k, g, H, W]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelShuffle {
    /// Number of groups g.
    pub groups: usize,
}

impl ChannelShuffle {
    /// Output shape (the input's).
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.len() < 2 || self.groups == 0 || !input[1].is_multiple_of(self.groups) {
            return Err(Error::invalid_op(
                "channel_shuffle",
                format!(
                    "groups {} must divide the channels of {input:?}",
                    self.groups
                ),
            ));
        }
        Ok(input.to_vec())
    }
}

/// Output shape of a transpose: `out[i] = input[perm[i]]`, any rank (the copy kernel's own limit
/// is on the rank left after merging contiguous dims).
pub fn transpose_shape(perm: &[usize], input_shape: &[usize]) -> Result<Vec<usize>> {
    let r = input_shape.len();
    let mut seen = vec![false; r];
    let ok = perm.len() == r
        && perm
            .iter()
            .all(|&p| p < r && !std::mem::replace(&mut seen[p], true));
    if !ok {
        return Err(Error::invalid_op(
            "transpose",
            format!("perm {perm:?} is not a permutation of the axes of {input_shape:?}"),
        ));
    }
    Ok(perm.iter().map(|&p| input_shape[p]).collect())
}
