//! Convolution geometry: the one place that knows how output sizes follow from kernel, stride,
//! padding and dilation, for 1-D, 2-D and 3-D convolutions and their transposes.

use crate::error::{Error, Result};

/// A convolution's hyper-parameters, PyTorch semantics. Spatial vectors all have the same length
/// (the spatial rank: 1, 2 or 3). Depthwise, dilated, grouped and spatial-separable convolutions
/// are values of this struct, not separate types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConvSpec {
    /// Kernel extent per spatial dimension.
    pub kernel: Vec<usize>,
    /// Stride per spatial dimension (>= 1).
    pub stride: Vec<usize>,
    /// Zero padding before each spatial dimension.
    pub pad_begin: Vec<usize>,
    /// Zero padding after each spatial dimension (may differ from `pad_begin`).
    pub pad_end: Vec<usize>,
    /// Dilation per spatial dimension (>= 1).
    pub dilation: Vec<usize>,
    /// Channel groups; `groups == in_channels` is a depthwise convolution.
    pub groups: usize,
}

impl ConvSpec {
    /// A convolution with the given kernel extent, stride 1, no padding, no dilation, one group.
    pub fn new(kernel: &[usize]) -> Self {
        let r = kernel.len();
        Self {
            kernel: kernel.to_vec(),
            stride: vec![1; r],
            pad_begin: vec![0; r],
            pad_end: vec![0; r],
            dilation: vec![1; r],
            groups: 1,
        }
    }

    /// A 2-D convolution with a `kh x kw` kernel.
    pub fn conv2d(kh: usize, kw: usize) -> Self {
        Self::new(&[kh, kw])
    }

    /// Same stride in every dimension.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = vec![s; self.kernel.len()];
        self
    }

    /// Per-dimension strides.
    pub fn strides(mut self, s: &[usize]) -> Self {
        self.stride = s.to_vec();
        self
    }

    /// Same symmetric padding in every dimension.
    pub fn pad(mut self, p: usize) -> Self {
        self.pad_begin = vec![p; self.kernel.len()];
        self.pad_end = vec![p; self.kernel.len()];
        self
    }

    /// Per-dimension, possibly asymmetric padding.
    pub fn pads(mut self, begin: &[usize], end: &[usize]) -> Self {
        self.pad_begin = begin.to_vec();
        self.pad_end = end.to_vec();
        self
    }

    /// Same dilation in every dimension.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = vec![d; self.kernel.len()];
        self
    }

    /// Per-dimension dilations.
    pub fn dilations(mut self, d: &[usize]) -> Self {
        self.dilation = d.to_vec();
        self
    }

    /// Channel groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }

    /// Number of spatial dimensions.
    pub fn rank(&self) -> usize {
        self.kernel.len()
    }

    /// Checks internal consistency (lengths agree, strides and dilations positive, groups > 0).
    pub fn validate(&self, op: &str) -> Result<()> {
        let r = self.kernel.len();
        if !(1..=3).contains(&r) {
            return Err(Error::invalid_op(
                op,
                format!(
                    "spatial rank must be 1, 2 or 3, got kernel {:?}",
                    self.kernel
                ),
            ));
        }
        for (name, v) in [
            ("stride", &self.stride),
            ("pad_begin", &self.pad_begin),
            ("pad_end", &self.pad_end),
            ("dilation", &self.dilation),
        ] {
            if v.len() != r {
                return Err(Error::invalid_op(
                    op,
                    format!(
                        "{name} {v:?} has {} entries, kernel {:?} has {r}",
                        v.len(),
                        self.kernel
                    ),
                ));
            }
        }
        super::check_param(op, "kernel", &self.kernel)?;
        super::check_param(op, "stride", &self.stride)?;
        super::check_param(op, "pad_begin", &self.pad_begin)?;
        super::check_param(op, "pad_end", &self.pad_end)?;
        super::check_param(op, "dilation", &self.dilation)?;
        super::check_param(op, "groups", &[self.groups])?;
        if self.kernel.contains(&0) {
            return Err(Error::invalid_op(
                op,
                format!("kernel {:?} has a zero extent", self.kernel),
            ));
        }
        if self.stride.contains(&0) {
            return Err(Error::invalid_op(
                op,
                format!("stride {:?} must be >= 1", self.stride),
            ));
        }
        if self.dilation.contains(&0) {
            return Err(Error::invalid_op(
                op,
                format!("dilation {:?} must be >= 1", self.dilation),
            ));
        }
        if self.groups == 0 {
            return Err(Error::invalid_op(op, "groups must be >= 1"));
        }
        Ok(())
    }

    /// Output shape of a convolution of `input` `[N, C, *spatial]` with `weight`
    /// `[O, C / groups, *kernel]`: `[N, O, *out]`, `out = (in + pb + pe - d*(k-1) - 1) / s + 1`.
    pub fn output_shape(&self, input: &[usize], weight: &[usize]) -> Result<Vec<usize>> {
        const OP: &str = "conv";
        self.validate(OP)?;
        let r = self.rank();
        if input.len() != r + 2 {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "input shape {input:?} must have rank {} for a {r}-D kernel",
                    r + 2
                ),
            ));
        }
        if weight.len() != r + 2 {
            return Err(Error::invalid_op(
                OP,
                format!("weight shape {weight:?} must have rank {}", r + 2),
            ));
        }
        let (c, o, g) = (input[1], weight[0], self.groups);
        if c % g != 0 || o % g != 0 {
            return Err(Error::invalid_op(
                OP,
                format!("groups {g} must divide input channels {c} and output channels {o}"),
            ));
        }
        if weight[1] != c / g {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "weight {weight:?} expects {} input channels per group, input {input:?} with {g} groups has {}",
                    weight[1],
                    c / g
                ),
            ));
        }
        if weight[2..] != self.kernel[..] {
            return Err(Error::invalid_op(
                OP,
                format!("weight {weight:?} does not match kernel {:?}", self.kernel),
            ));
        }
        let mut out = vec![input[0], o];
        for i in 0..r {
            let padded = super::add3(
                OP,
                "padded input",
                input[2 + i],
                self.pad_begin[i],
                self.pad_end[i],
            )?;
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            if padded < span {
                return Err(Error::invalid_op(
                    OP,
                    format!(
                        "dilated kernel extent {span} is larger than padded input {padded} in spatial dim {i} (input {input:?})"
                    ),
                ));
            }
            out.push((padded - span) / self.stride[i] + 1);
        }
        Ok(out)
    }

    /// Multiply-accumulates of one convolution with this output shape.
    pub fn macs(&self, output: &[usize], in_channels: usize) -> u64 {
        // Saturating: a summary of an absurd (but valid) graph must not overflow.
        let prod =
            |xs: &mut dyn Iterator<Item = usize>| xs.fold(1u64, |a, d| a.saturating_mul(d as u64));
        let per_out = prod(&mut std::iter::once(in_channels / self.groups.max(1)))
            .saturating_mul(prod(&mut self.kernel.iter().copied()));
        prod(&mut output.iter().copied()).saturating_mul(per_out)
    }
}

/// A transposed convolution's hyper-parameters, PyTorch `ConvTransposeNd` semantics.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConvTransposeSpec {
    /// Geometry of the convolution this is the transpose (gradient) of.
    pub conv: ConvSpec,
    /// Extra rows/columns added at the end of each output dimension (< stride or < dilation).
    pub output_padding: Vec<usize>,
}

impl ConvTransposeSpec {
    /// A transposed convolution over `conv`'s geometry with no output padding.
    pub fn new(conv: ConvSpec) -> Self {
        let r = conv.rank();
        Self {
            conv,
            output_padding: vec![0; r],
        }
    }

    /// Sets `output_padding`.
    pub fn output_padding(mut self, p: &[usize]) -> Self {
        self.output_padding = p.to_vec();
        self
    }

    /// Output shape for `input` `[N, C, *spatial]` and `weight` `[C, O / groups, *kernel]`:
    /// `out = (in - 1)*s - pb - pe + d*(k-1) + output_padding + 1`.
    pub fn output_shape(&self, input: &[usize], weight: &[usize]) -> Result<Vec<usize>> {
        const OP: &str = "conv_transpose";
        let c = &self.conv;
        c.validate(OP)?;
        let r = c.rank();
        if self.output_padding.len() != r {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "output_padding {:?} must have {r} entries",
                    self.output_padding
                ),
            ));
        }
        if input.len() != r + 2 || weight.len() != r + 2 {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "input {input:?} and weight {weight:?} must both have rank {}",
                    r + 2
                ),
            ));
        }
        let g = c.groups;
        if !input[1].is_multiple_of(g) {
            return Err(Error::invalid_op(
                OP,
                format!("groups {g} must divide input channels {}", input[1]),
            ));
        }
        if weight[0] != input[1] {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "weight {weight:?} expects {} input channels, input {input:?} has {}",
                    weight[0], input[1]
                ),
            ));
        }
        if weight[2..] != c.kernel[..] {
            return Err(Error::invalid_op(
                OP,
                format!("weight {weight:?} does not match kernel {:?}", c.kernel),
            ));
        }
        let mut out = vec![input[0], super::mul(OP, "output channels", weight[1], g)?];
        for i in 0..r {
            let op = self.output_padding[i];
            if op >= c.stride[i] && op >= c.dilation[i] {
                return Err(Error::invalid_op(
                    OP,
                    format!(
                        "output_padding {op} must be smaller than stride {} or dilation {} (dim {i})",
                        c.stride[i], c.dilation[i]
                    ),
                ));
            }
            if input[2 + i] == 0 {
                return Err(Error::invalid_op(
                    OP,
                    format!("input {input:?} is empty in spatial dim {i}"),
                ));
            }
            super::check_param(OP, "output_padding", &self.output_padding)?;
            // Parameters are at most MAX_PARAM (validate): d * (k - 1) cannot overflow.
            let full = super::add3(
                OP,
                "output extent",
                super::mul(OP, "output extent", input[2 + i] - 1, c.stride[i])?,
                c.dilation[i] * (c.kernel[i] - 1),
                op + 1,
            )?;
            let cut = c.pad_begin[i] + c.pad_end[i];
            if full <= cut {
                return Err(Error::invalid_op(
                    OP,
                    format!("padding {cut} removes the whole output ({full}) in spatial dim {i}"),
                ));
            }
            out.push(full - cut);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shapes printed in shared/seeds/000 (PyTorch's own outputs).
    #[test]
    fn seed_shapes() {
        let dilated = ConvSpec::conv2d(3, 3).dilation(2);
        assert_eq!(
            dilated
                .output_shape(&[1, 3, 512, 512], &[32, 3, 3, 3])
                .unwrap(),
            vec![1, 32, 508, 508]
        );
        let c3 = ConvSpec::new(&[3, 3, 3]).stride(2).pad(1);
        assert_eq!(
            c3.output_shape(&[1, 16, 3, 512, 512], &[32, 16, 3, 3, 3])
                .unwrap(),
            vec![1, 32, 2, 256, 256]
        );
        let t = ConvTransposeSpec::new(ConvSpec::conv2d(3, 3).stride(2));
        assert_eq!(
            t.output_shape(&[1, 32, 128, 128], &[32, 16, 3, 3]).unwrap(),
            vec![1, 16, 257, 257]
        );
        let s2d_conv = ConvSpec::conv2d(8, 8).stride(8).pad(1);
        assert_eq!(
            s2d_conv
                .output_shape(&[1, 3, 512, 512], &[32, 3, 8, 8])
                .unwrap(),
            vec![1, 32, 64, 64]
        );
    }

    #[test]
    fn rejects_bad_geometry() {
        assert!(
            ConvSpec::conv2d(3, 3)
                .stride(0)
                .output_shape(&[1, 1, 5, 5], &[1, 1, 3, 3])
                .is_err()
        );
        assert!(
            ConvSpec::conv2d(7, 7)
                .output_shape(&[1, 1, 5, 5], &[1, 1, 7, 7])
                .is_err()
        );
        assert!(
            ConvSpec::conv2d(3, 3)
                .groups(2)
                .output_shape(&[1, 3, 5, 5], &[2, 1, 3, 3])
                .is_err()
        );
    }
}
