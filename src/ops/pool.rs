//! Window pooling geometry (PyTorch `MaxPool1d..3d` / `AvgPool1d..3d` / `LPPool1d..3d`, ONNX
//! `MaxPool` / `AveragePool` / `LpPool`) over 1 to 3 spatial dims.

use crate::error::{Error, Result};

/// The reduction over a window (or over every spatial position, for the global pools).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// Maximum over the window (padding never wins).
    Max,
    /// Mean over the window.
    Avg,
    /// `(sum |x|^p)^(1/p)` over the window (padding adds 0), `p >= 1`.
    Lp(u32),
    /// ONNX MaxPool's second output: the flattened index into the whole input
    /// `[N, C, *spatial]` of the window's maximum (the first one; the first NaN if any), as an
    /// exact integer value; -1 for a window entirely in padding. Windowed only. The spatial
    /// part is row-major, or with `column_major` (ONNX `storage_order = 1`) column-major: the
    /// first spatial dim varies fastest.
    MaxIndex {
        /// Spatial index in column-major order.
        column_major: bool,
    },
}

impl PoolKind {
    /// The kind's row: its `POOL_KIND` override value in `shaders/pool.wgsl` and
    /// `shaders/global_pool.wgsl`, its window and global op names, and its window and global
    /// PyTorch modules. A new reduction is a variant, a row here, a case in both shaders and an
    /// arm in `reference::pool`.
    fn row(self) -> (u32, [&'static str; 2], [&'static str; 2]) {
        match self {
            PoolKind::Max => (
                0,
                ["max_pool", "global_max_pool"],
                ["MaxPool2d", "AdaptiveMaxPool2d"],
            ),
            PoolKind::Avg => (
                1,
                ["avg_pool", "global_avg_pool"],
                ["AvgPool2d", "AdaptiveAvgPool2d"],
            ),
            PoolKind::Lp(_) => (2, ["lp_pool", "global_lp_pool"], ["LPPool2d", "LPPool2d"]),
            PoolKind::MaxIndex { column_major } => (
                3 + column_major as u32,
                ["max_pool_indices", "global_max_pool_indices"],
                ["MaxPool2d(return_indices)", "MaxPool2d(return_indices)"],
            ),
        }
    }

    /// The `POOL_KIND` override value.
    pub fn code(self) -> u32 {
        self.row().0
    }

    /// The op's name: windowed, or `global` over every spatial position.
    pub fn name(self, global: bool) -> &'static str {
        self.row().1[global as usize]
    }

    /// PyTorch's module: windowed, or `global` (adaptive to 1x1).
    pub fn torch_module(self, global: bool) -> &'static str {
        self.row().2[global as usize]
    }

    /// The `p` of an Lp pool (1 for the other kinds, where the shaders ignore it).
    pub fn p(self) -> u32 {
        match self {
            PoolKind::Lp(p) => p,
            _ => 1,
        }
    }

    /// Whether the kind writes indices.
    pub fn is_index(self) -> bool {
        matches!(self, PoolKind::MaxIndex { .. })
    }

    /// Fails for kinds without a global form, or an Lp pool's `p` outside `1..=MAX_LP_P`.
    pub fn check(self, global: bool) -> Result<()> {
        let op = self.name(global);
        if global && self.is_index() {
            return Err(Error::invalid_op(op, "max indices have no global form"));
        }
        if let PoolKind::Lp(p) = self
            && !(1..=MAX_LP_P).contains(&p)
        {
            return Err(Error::invalid_op(
                op,
                format!("p = {p} must be 1 to {MAX_LP_P} (|x|^p overflows f32 beyond)"),
            ));
        }
        Ok(())
    }
}

/// Global pooling's output shape for `input` `[N, C, *spatial]`: `[N, C, 1, ..]`.
pub fn global_pool_output_shape(kind: PoolKind, input: &[usize]) -> Result<Vec<usize>> {
    kind.check(true)?;
    if input.len() < 3 || input[2..].contains(&0) {
        return Err(Error::invalid_op(
            kind.name(true),
            format!("input {input:?} must be [N, C, *spatial] with a non-empty spatial part"),
        ));
    }
    let mut out = input.to_vec();
    out[2..].fill(1);
    Ok(out)
}

/// The largest Lp pool `p`: the shaders raise |x| to it by repeated multiplication, and
/// |x|^32 already overflows f32 for |x| > 16.
pub const MAX_LP_P: u32 = 32;

/// The most spatial dims a window pool has (1-D and 2-D are 3-D with leading size-1 dims).
pub const MAX_POOL_RANK: usize = 3;

/// A pooling window over the last `kernel.len()` (1 to 3) dims of `[N, C, *spatial]`; every
/// vector has one entry per spatial dim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolSpec {
    /// The reduction.
    pub kind: PoolKind,
    /// Window extent.
    pub kernel: Vec<usize>,
    /// Stride.
    pub stride: Vec<usize>,
    /// Padding before each spatial dim.
    pub pad_begin: Vec<usize>,
    /// Padding after each spatial dim.
    pub pad_end: Vec<usize>,
    /// Distance between taps.
    pub dilation: Vec<usize>,
    /// Round the output size up instead of down; a window must still start inside the input or
    /// its leading padding.
    pub ceil_mode: bool,
    /// Average pooling divides by the window's taps inside the padded input, not only those
    /// inside the input (PyTorch default `True`).
    pub count_include_pad: bool,
}

impl PoolSpec {
    /// A 2-D `k x k` window with stride `s` and symmetric padding `p`.
    pub fn new(kind: PoolKind, k: usize, s: usize, p: usize) -> Self {
        Self::nd(kind, 2, k, s, p)
    }

    /// A window of `rank` spatial dims, `k` wide in each, with stride `s` and symmetric
    /// padding `p`.
    pub fn nd(kind: PoolKind, rank: usize, k: usize, s: usize, p: usize) -> Self {
        Self {
            kind,
            kernel: vec![k; rank],
            stride: vec![s; rank],
            pad_begin: vec![p; rank],
            pad_end: vec![p; rank],
            dilation: vec![1; rank],
            ceil_mode: false,
            count_include_pad: true,
        }
    }

    /// Spatial dims.
    pub fn rank(&self) -> usize {
        self.kernel.len()
    }

    /// Taps per window.
    pub fn window(&self) -> usize {
        self.kernel.iter().product()
    }

    /// Output shape for `input` `[N, C, *spatial]`.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let op = self.kind.name(false);
        self.kind.check(false)?;
        let r = self.rank();
        if !(1..=MAX_POOL_RANK).contains(&r)
            || [&self.stride, &self.pad_begin, &self.pad_end, &self.dilation]
                .iter()
                .any(|v| v.len() != r)
        {
            return Err(Error::invalid_op(
                op,
                format!(
                    "kernel {:?}, stride {:?}, pads {:?}/{:?} and dilation {:?} must have one \
                     entry per spatial dim, 1 to {MAX_POOL_RANK}",
                    self.kernel, self.stride, self.pad_begin, self.pad_end, self.dilation
                ),
            ));
        }
        if input.len() != r + 2 {
            return Err(Error::invalid_op(
                op,
                format!("input {input:?} must be [N, C] and {r} spatial dims"),
            ));
        }
        super::check_param(op, "kernel", &self.kernel)?;
        super::check_param(op, "stride", &self.stride)?;
        super::check_param(op, "pad_begin", &self.pad_begin)?;
        super::check_param(op, "pad_end", &self.pad_end)?;
        super::check_param(op, "dilation", &self.dilation)?;
        if self.kernel.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(Error::invalid_op(
                op,
                format!(
                    "kernel {:?}, stride {:?} and dilation {:?} must be >= 1",
                    self.kernel, self.stride, self.dilation
                ),
            ));
        }
        // Indices are written as f32 values, exact only up to 2^24.
        let len = input.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if self.kind.is_index() && len.is_none_or(|n| n > MAX_POOL_INDEX + 1) {
            return Err(Error::invalid_op(
                op,
                format!("input {input:?} has indices beyond {MAX_POOL_INDEX}, not exact as f32"),
            ));
        }
        let mut out = vec![input[0], input[1]];
        for i in 0..r {
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            // ONNX's rule (PyTorch's is stricter: at most half the window): every window then
            // holds at least one padded-input position.
            if self.pad_begin[i] >= span || self.pad_end[i] >= span {
                return Err(Error::invalid_op(
                    op,
                    format!(
                        "padding {:?}/{:?} must be smaller than the window {:?}",
                        self.pad_begin, self.pad_end, self.kernel
                    ),
                ));
            }
            let padded = super::add3(
                op,
                "padded input",
                input[2 + i],
                self.pad_begin[i],
                self.pad_end[i],
            )?;
            if padded < span {
                return Err(Error::invalid_op(
                    op,
                    format!("window {span} is larger than padded input {padded} in dim {i}"),
                ));
            }
            let num = padded - span;
            let mut o = if self.ceil_mode {
                num.div_ceil(self.stride[i]) + 1
            } else {
                num / self.stride[i] + 1
            };
            // The last window must start inside the input or the leading padding.
            if self.ceil_mode && (o - 1) * self.stride[i] >= input[2 + i] + self.pad_begin[i] {
                o -= 1;
            }
            out.push(o);
        }
        Ok(out)
    }
}

/// The largest index [`PoolKind::MaxIndex`] writes exactly: every integer up to 2^24 is an f32.
pub const MAX_POOL_INDEX: usize = 1 << 24;

/// Whether fusing the global average pool into the gate kernel pays for `channels` maps of
/// `spatial` values: each of the 256 invocations then averages whole channels serially, so the
/// serial work `ceil(C / 256) * S` must stay small: at most 512 loads, about what one launch
/// of a separate pooling kernel costs in latency. At 224 x 224, EfficientNet-B0's SE layers at
/// 7 x 7 and at 14 x 14 with <= 512 channels qualify; the 112 x 112 to 28 x 28 ones keep the
/// separate, fully parallel pooling kernel. (A heuristic from launch-latency arithmetic, not
/// yet timed on real GPUs.)
pub fn pool_fusable_into_se_gate(channels: usize, spatial: usize) -> bool {
    channels.div_ceil(256) * spatial <= 512
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_mode_drops_window_starting_in_padding() {
        // PyTorch: MaxPool2d(2, 2, padding=1, ceil_mode=True) on 4x4 gives 3x3, not 4x4.
        let mut p = PoolSpec::new(PoolKind::Max, 2, 2, 1);
        p.ceil_mode = true;
        assert_eq!(p.output_shape(&[1, 1, 4, 4]).unwrap(), vec![1, 1, 3, 3]);
        // GoogLeNet's MaxPool2d(3, 2, ceil_mode=True) on 112 gives 56.
        let mut g = PoolSpec::new(PoolKind::Max, 3, 2, 0);
        g.ceil_mode = true;
        assert_eq!(
            g.output_shape(&[1, 64, 112, 112]).unwrap(),
            vec![1, 64, 56, 56]
        );
    }
}
