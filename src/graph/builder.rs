//! The builder API: one method per PyTorch module or function, e.g.
//!
//! ```
//! # use wgconv::graph::{Graph, Conv2d};
//! # fn main() -> wgconv::Result<()> {
//! let mut g = Graph::new();
//! let x = g.input("x", &[1, 3, 32, 32]);
//! let y = g.conv2d(x, "conv1", Conv2d::new(16, 3).pad(1).no_bias())?;
//! let y = g.batch_norm(y, "bn1")?;
//! let y = g.relu(y)?;
//! g.output(y);
//! assert_eq!(g.shape(y), &[1, 16, 32, 32]);
//! # Ok(()) }
//! ```
//!
//! Parameters are host tensors. The shape-only constructors (`conv2d`, `linear`,
//! `batch_norm`) create them zeroed (BatchNorm as the identity); fill them with
//! [`crate::weights`] (a safetensors file or seeded initialisation) or pass tensors to the
//! explicit forms (`conv`, `linear_with`, `batch_norm_with`).

use super::{Graph, Op, ValueId};
use crate::error::{Error, Result};
use crate::ops::{
    Activation, BinaryOp, ChannelOrder, ChannelShuffle, ConvSpec, ConvTransposeSpec, Epilogue,
    PixelShuffle, PoolKind, PoolSpec, ResizeSpec, SoftmaxKind, SpaceToDepth,
};
use crate::tensor::Tensor;

/// `nn.Conv2d` hyper-parameters (in-channels come from the input). Defaults as PyTorch:
/// stride 1, no padding, no dilation, one group, with bias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conv2d {
    /// Output channels.
    pub out_channels: usize,
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[sh, sw]`.
    pub stride: [usize; 2],
    /// Symmetric padding `[ph, pw]`.
    pub padding: [usize; 2],
    /// `[dh, dw]`.
    pub dilation: [usize; 2],
    /// Channel groups.
    pub groups: usize,
    /// Whether the layer has a bias.
    pub bias: bool,
}

impl Conv2d {
    /// A `k x k` convolution to `out_channels`.
    pub fn new(out_channels: usize, k: usize) -> Self {
        Self::rect(out_channels, k, k)
    }

    /// A `kh x kw` convolution (spatial-separable convolutions use `3 x 1` and `1 x 3`).
    pub fn rect(out_channels: usize, kh: usize, kw: usize) -> Self {
        Self {
            out_channels,
            kernel: [kh, kw],
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
            bias: true,
        }
    }

    /// Stride in both dimensions.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }

    /// Padding in both dimensions.
    pub fn pad(mut self, p: usize) -> Self {
        self.padding = [p, p];
        self
    }

    /// PyTorch's `padding='same'` for stride 1 and odd extents: `d * (k - 1) / 2`.
    pub fn same(mut self) -> Self {
        self.padding = [
            self.dilation[0] * (self.kernel[0] - 1) / 2,
            self.dilation[1] * (self.kernel[1] - 1) / 2,
        ];
        self
    }

    /// Dilation in both dimensions.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = [d, d];
        self
    }

    /// Channel groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }

    /// Without bias (`bias=False`).
    pub fn no_bias(mut self) -> Self {
        self.bias = false;
        self
    }

    /// Sets whether there is a bias.
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// The geometry as a [`ConvSpec`].
    pub fn spec(&self) -> ConvSpec {
        ConvSpec::conv2d(self.kernel[0], self.kernel[1])
            .strides(&self.stride)
            .pads(&self.padding, &self.padding)
            .dilations(&self.dilation)
            .groups(self.groups)
    }
}

/// Zeroed parameters for node `name`, refused (typed error) when the shape could not exist.
fn zeros(name: &str, what: &str, shape: Vec<usize>) -> Result<Tensor> {
    if crate::tensor::checked_numel(&shape).is_none() {
        return Err(Error::invalid_op(
            format!("node {name:?} ({what})"),
            format!("parameter shape {shape:?} is too large"),
        ));
    }
    Ok(Tensor::zeros(shape))
}

impl Graph {
    fn channels(&self, x: ValueId, what: &str, name: &str) -> Result<usize> {
        let s = self.shape(x);
        if s.len() < 2 {
            return Err(Error::invalid_op(
                format!("node {name:?} ({what})"),
                format!("input {s:?} has no channel dimension"),
            ));
        }
        Ok(s[1])
    }

    /// A convolution with explicit parameters (any spatial rank).
    pub fn conv(
        &mut self,
        x: ValueId,
        name: &str,
        spec: ConvSpec,
        weight: Tensor,
        bias: Option<Tensor>,
    ) -> Result<ValueId> {
        self.add(
            name,
            Op::Conv {
                spec,
                weight: weight.into(),
                bias: bias.map(Into::into),
                epilogue: Epilogue::default(),
            },
            &[x],
        )
    }

    /// `nn.Conv2d` with zeroed parameters of the right shapes.
    pub fn conv2d(&mut self, x: ValueId, name: &str, c: Conv2d) -> Result<ValueId> {
        let cin = self.channels(x, "conv", name)?;
        if c.groups == 0 || cin % c.groups != 0 {
            return Err(Error::invalid_op(
                format!("node {name:?} (conv)"),
                format!(
                    "groups {} must divide the {cin} input channels of {:?}",
                    c.groups,
                    self.shape(x)
                ),
            ));
        }
        let wshape = vec![c.out_channels, cin / c.groups, c.kernel[0], c.kernel[1]];
        // The geometry first, so a kernel that cannot fit is an error, not an allocation.
        let spec = c.spec();
        spec.output_shape(self.shape(x), &wshape)
            .map_err(|e| Error::invalid_op(format!("node {name:?} (conv)"), e.to_string()))?;
        let weight = zeros(name, "conv", wshape)?;
        let bias = if c.bias {
            Some(zeros(name, "conv", vec![c.out_channels])?)
        } else {
            None
        };
        self.conv(x, name, spec, weight, bias)
    }

    /// An N-d convolution (`nn.Conv1d` / `nn.Conv3d`) with zeroed parameters.
    pub fn conv_nd(
        &mut self,
        x: ValueId,
        name: &str,
        out_channels: usize,
        spec: ConvSpec,
        bias: bool,
    ) -> Result<ValueId> {
        let cin = self.channels(x, "conv", name)?;
        let g = spec.groups.max(1);
        let mut wshape = vec![out_channels, cin / g];
        wshape.extend(&spec.kernel);
        spec.output_shape(self.shape(x), &wshape)
            .map_err(|e| Error::invalid_op(format!("node {name:?} (conv)"), e.to_string()))?;
        let bias = if bias {
            Some(zeros(name, "conv", vec![out_channels])?)
        } else {
            None
        };
        let weight = zeros(name, "conv", wshape)?;
        self.conv(x, name, spec, weight, bias)
    }

    /// `nn.ConvTranspose{1,2,3}d` with zeroed parameters.
    pub fn conv_transpose(
        &mut self,
        x: ValueId,
        name: &str,
        out_channels: usize,
        spec: ConvTransposeSpec,
        bias: bool,
    ) -> Result<ValueId> {
        let cin = self.channels(x, "conv_transpose", name)?;
        let g = spec.conv.groups.max(1);
        let mut wshape = vec![cin, out_channels / g];
        wshape.extend(&spec.conv.kernel);
        spec.output_shape(self.shape(x), &wshape).map_err(|e| {
            Error::invalid_op(format!("node {name:?} (conv_transpose)"), e.to_string())
        })?;
        let bias = if bias {
            Some(zeros(name, "conv_transpose", vec![out_channels])?)
        } else {
            None
        };
        let weight = zeros(name, "conv_transpose", wshape)?;
        self.add(
            name,
            Op::ConvTranspose {
                spec,
                weight: weight.into(),
                bias: bias.map(Into::into),
                epilogue: Epilogue::default(),
            },
            &[x],
        )
    }

    /// `nn.BatchNorm2d(C)` (eps 1e-5, affine) as the identity: gamma 1, beta 0, mean 0, var 1.
    pub fn batch_norm(&mut self, x: ValueId, name: &str) -> Result<ValueId> {
        self.batch_norm_eps(x, name, 1e-5)
    }

    /// `nn.BatchNorm2d(C, eps)`.
    pub fn batch_norm_eps(&mut self, x: ValueId, name: &str, eps: f32) -> Result<ValueId> {
        let c = self.channels(x, "batch_norm", name)?;
        let ones = Tensor::new(vec![c], vec![1.0; c])?;
        self.batch_norm_with(
            x,
            name,
            Some(ones.clone()),
            Some(Tensor::zeros(vec![c])),
            Tensor::zeros(vec![c]),
            ones,
            eps,
        )
    }

    /// BatchNorm with explicit parameters (`gamma`/`beta` `None` for `affine=False`).
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm_with(
        &mut self,
        x: ValueId,
        name: &str,
        gamma: Option<Tensor>,
        beta: Option<Tensor>,
        mean: Tensor,
        var: Tensor,
        eps: f32,
    ) -> Result<ValueId> {
        self.add(
            name,
            Op::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                eps,
            },
            &[x],
        )
    }

    /// An activation module (`nn.ReLU`, `nn.SiLU`, ...); `Identity` adds nothing.
    pub fn act(&mut self, x: ValueId, act: Activation) -> Result<ValueId> {
        if act == Activation::Identity {
            return Ok(x);
        }
        self.add("", Op::Activation(act), &[x])
    }

    /// `nn.ReLU`.
    pub fn relu(&mut self, x: ValueId) -> Result<ValueId> {
        self.act(x, Activation::Relu)
    }

    /// `a op b` with broadcasting.
    pub fn binary(&mut self, op: BinaryOp, a: ValueId, b: ValueId) -> Result<ValueId> {
        self.add(
            "",
            Op::Binary {
                op,
                activation: Activation::Identity,
            },
            &[a, b],
        )
    }

    /// `a + b`.
    pub fn add_values(&mut self, a: ValueId, b: ValueId) -> Result<ValueId> {
        self.binary(BinaryOp::Add, a, b)
    }

    /// `a * b` (SE's channel scale broadcasts `[N, C, 1, 1]` over `[N, C, H, W]`).
    pub fn mul(&mut self, a: ValueId, b: ValueId) -> Result<ValueId> {
        self.binary(BinaryOp::Mul, a, b)
    }

    /// `nn.Linear(K, out_features)` with zeroed parameters.
    pub fn linear(
        &mut self,
        x: ValueId,
        name: &str,
        out_features: usize,
        bias: bool,
    ) -> Result<ValueId> {
        let s = self.shape(x);
        if s.len() != 2 {
            return Err(Error::invalid_op(
                format!("node {name:?} (linear)"),
                format!("input {s:?} must be [N, K] (flatten first)"),
            ));
        }
        let k = s[1];
        let bias = if bias {
            Some(zeros(name, "linear", vec![out_features])?)
        } else {
            None
        };
        let weight = zeros(name, "linear", vec![out_features, k])?;
        self.linear_with(x, name, weight, bias)
    }

    /// `nn.Linear` with explicit parameters.
    pub fn linear_with(
        &mut self,
        x: ValueId,
        name: &str,
        weight: Tensor,
        bias: Option<Tensor>,
    ) -> Result<ValueId> {
        self.add(
            name,
            Op::Linear {
                weight,
                bias,
                activation: Activation::Identity,
            },
            &[x],
        )
    }

    /// `a @ b`.
    pub fn matmul(&mut self, a: ValueId, b: ValueId) -> Result<ValueId> {
        self.add("", Op::MatMul, &[a, b])
    }

    /// A pooling module.
    pub fn pool(&mut self, x: ValueId, spec: PoolSpec) -> Result<ValueId> {
        self.add("", Op::Pool(spec), &[x])
    }

    /// `nn.MaxPool2d(k, s, p)`, optionally with `ceil_mode`.
    pub fn max_pool(
        &mut self,
        x: ValueId,
        k: usize,
        s: usize,
        p: usize,
        ceil_mode: bool,
    ) -> Result<ValueId> {
        let mut spec = PoolSpec::new(PoolKind::Max, k, s, p);
        spec.ceil_mode = ceil_mode;
        self.pool(x, spec)
    }

    /// `nn.AdaptiveAvgPool2d(1)`.
    pub fn global_avg_pool(&mut self, x: ValueId) -> Result<ValueId> {
        self.add("", Op::GlobalPool(PoolKind::Avg), &[x])
    }

    /// `torch.flatten(x, start)`.
    pub fn flatten(&mut self, x: ValueId, start: usize) -> Result<ValueId> {
        self.add("", Op::Flatten { start }, &[x])
    }

    /// `x.reshape(shape)` (`0` keeps a dimension, `-1` is inferred).
    pub fn reshape(&mut self, x: ValueId, shape: &[i64]) -> Result<ValueId> {
        self.add(
            "",
            Op::Reshape {
                shape: shape.to_vec(),
            },
            &[x],
        )
    }

    /// `x.permute(perm)` materialised.
    pub fn transpose(&mut self, x: ValueId, perm: &[usize]) -> Result<ValueId> {
        self.add(
            "",
            Op::Transpose {
                perm: perm.to_vec(),
            },
            &[x],
        )
    }

    /// `torch.cat(xs, axis)`.
    pub fn concat(&mut self, xs: &[ValueId], axis: usize) -> Result<ValueId> {
        self.add("", Op::Concat { axis }, xs)
    }

    /// Channels `start..end` of `x` (one half of PyTorch's `x.chunk(2, dim=1)`).
    pub fn slice_channels(&mut self, x: ValueId, start: usize, end: usize) -> Result<ValueId> {
        let s = self.shape(x).to_vec();
        let mut starts = vec![0; s.len()];
        let mut ends = s.clone();
        if s.len() >= 2 {
            starts[1] = start;
            ends[1] = end;
        }
        self.add(
            "",
            Op::Slice {
                starts,
                ends,
                steps: vec![1; s.len()],
            },
            &[x],
        )
    }

    /// ShuffleNet's channel shuffle with `groups` groups.
    pub fn channel_shuffle(&mut self, x: ValueId, groups: usize) -> Result<ValueId> {
        self.add("", Op::ChannelShuffle(ChannelShuffle { groups }), &[x])
    }

    /// `nn.PixelShuffle(r)`.
    pub fn pixel_shuffle(&mut self, x: ValueId, r: usize) -> Result<ValueId> {
        self.add(
            "",
            Op::PixelShuffle(PixelShuffle {
                factor: r,
                order: ChannelOrder::Crd,
            }),
            &[x],
        )
    }

    /// `nn.PixelUnshuffle(r)` (or ONNX `SpaceToDepth` with `ChannelOrder::Dcr`).
    pub fn space_to_depth(&mut self, x: ValueId, r: usize, order: ChannelOrder) -> Result<ValueId> {
        self.add("", Op::SpaceToDepth(SpaceToDepth { block: r, order }), &[x])
    }

    /// `F.interpolate` / `nn.Upsample` of `[N, C, H, W]` (see [`ResizeSpec`] for the modes;
    /// [`ResizeSpec::torch_nearest`] and [`ResizeSpec::torch_bilinear`] are PyTorch's).
    pub fn resize(&mut self, x: ValueId, spec: ResizeSpec) -> Result<ValueId> {
        self.add("", Op::Resize(spec), &[x])
    }

    /// Constant padding: `begin[d]` leading and `end[d]` trailing `value`s along every dim
    /// (`F.pad(x, ..., value=value)`, which lists the pads last dim first).
    pub fn pad(
        &mut self,
        x: ValueId,
        begin: &[usize],
        end: &[usize],
        value: f32,
    ) -> Result<ValueId> {
        let op = Op::Pad {
            begin: begin.to_vec(),
            end: end.to_vec(),
            value,
        };
        self.add("", op, &[x])
    }

    /// `nn.Softmax(dim=axis)`.
    pub fn softmax(&mut self, x: ValueId, axis: usize) -> Result<ValueId> {
        self.add(
            "",
            Op::Softmax {
                axis,
                kind: SoftmaxKind::Softmax,
            },
            &[x],
        )
    }

    /// `nn.Dropout(p)`: the identity in inference.
    pub fn dropout(&mut self, x: ValueId, p: f32) -> Result<ValueId> {
        self.add("", Op::Dropout { p }, &[x])
    }
}
