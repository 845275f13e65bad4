//! Window pooling geometry (PyTorch `MaxPool2d` / `AvgPool2d` / ONNX `MaxPool` / `AveragePool`).

use crate::error::{Error, Result};

/// Max or average.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// Maximum over the window (padding never wins).
    Max,
    /// Mean over the window.
    Avg,
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
}

/// A 2-D pooling window.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolSpec {
    /// Max or average.
    pub kind: PoolKind,
    /// Window extent `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride `[sh, sw]`.
    pub stride: [usize; 2],
    /// Padding before `[top, left]`.
    pub pad_begin: [usize; 2],
    /// Padding after `[bottom, right]`.
    pub pad_end: [usize; 2],
    /// Dilation (max pooling only; average pooling requires 1).
    pub dilation: [usize; 2],
    /// Round the output size up instead of down; a window must still start inside the input or
    /// its leading padding.
    pub ceil_mode: bool,
    /// Average pooling divides by the full window including padding (PyTorch default `True`).
    pub count_include_pad: bool,
}

impl PoolSpec {
    /// A `k x k` window with stride `s` and symmetric padding `p`.
    pub fn new(kind: PoolKind, k: usize, s: usize, p: usize) -> Self {
        Self {
            kind,
            kernel: [k, k],
            stride: [s, s],
            pad_begin: [p, p],
            pad_end: [p, p],
            dilation: [1, 1],
            ceil_mode: false,
            count_include_pad: true,
        }
    }

    /// Output shape for `input` `[N, C, H, W]`.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let op = self.kind.name(false);
        if input.len() != 4 {
            return Err(Error::invalid_op(
                op,
                format!("input {input:?} must be [N, C, H, W]"),
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
        if self.kind == PoolKind::Avg && self.dilation != [1, 1] {
            return Err(Error::invalid_op(op, "average pooling has no dilation"));
        }
        let mut out = vec![input[0], input[1]];
        for i in 0..2 {
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            // ONNX's rule (PyTorch's is stricter: at most half the window): every window then
            // holds at least one input element.
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
