//! The typed ops of the graph: parameters, and the facts the summary and the planner need
//! (parameter counts, MACs, accumulation lengths, PyTorch module names). Shape rules are in
//! `infer.rs`.

use crate::ops::{
    Activation, BinaryOp, ChannelShuffle, ConvSpec, ConvTransposeSpec, Epilogue, NormSpec,
    PixelShuffle, PoolKind, PoolSpec, ReduceSpec, ResizeSpec, SoftmaxKind, SpaceToDepth,
};
use crate::tensor::{Tensor, numel};

/// A weight slot of a convolution: a host tensor (a parameter, uploaded once), or the node's
/// input `index`, a graph tensor written at run time in the same layout. The planner binds
/// either where the kernel reads the weight; host transforms (BatchNorm folding, Winograd)
/// need the constant.
#[derive(Clone, Debug)]
pub enum Operand {
    /// A parameter held on the host.
    Const(Tensor),
    /// Read from the node's input `index` at run time.
    Input {
        /// Which of the node's inputs.
        index: usize,
        /// Its shape, in the layout the constant would have.
        shape: Vec<usize>,
    },
}

impl Operand {
    /// The weight's shape, constant or not.
    pub fn shape(&self) -> &[usize] {
        match self {
            Operand::Const(t) => t.shape(),
            Operand::Input { shape, .. } => shape,
        }
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        numel(self.shape())
    }

    /// The host tensor, when the operand is a constant.
    pub fn as_const(&self) -> Option<&Tensor> {
        match self {
            Operand::Const(t) => Some(t),
            Operand::Input { .. } => None,
        }
    }

    /// The host tensor to modify, when the operand is a constant.
    pub fn as_const_mut(&mut self) -> Option<&mut Tensor> {
        match self {
            Operand::Const(t) => Some(t),
            Operand::Input { .. } => None,
        }
    }

    /// The node input this operand is read from, if it is not a constant.
    pub fn input(&self) -> Option<usize> {
        match self {
            Operand::Const(_) => None,
            Operand::Input { index, .. } => Some(*index),
        }
    }
}

impl From<Tensor> for Operand {
    fn from(t: Tensor) -> Self {
        Operand::Const(t)
    }
}

/// One operation with its parameters (host tensors in PyTorch layouts).
#[derive(Clone, Debug)]
pub enum Op {
    /// N-d convolution; `weight` `[O, C/g, *k]`, `bias` `[O]`. With `epilogue.residual` the
    /// node's last input has the output's shape and is added before the activation.
    Conv {
        /// Kernel size, stride, padding, dilation, groups.
        spec: ConvSpec,
        /// `[O, C/g, *k]`.
        weight: Operand,
        /// `[O]`.
        bias: Option<Operand>,
        /// Activation and residual add fused after the convolution.
        epilogue: Epilogue,
    },
    /// Transposed convolution; `weight` `[C, O/g, *k]`.
    ConvTranspose {
        /// Kernel size, stride, padding, output padding, dilation, groups.
        spec: ConvTransposeSpec,
        /// `[C, O/g, *k]`.
        weight: Operand,
        /// `[O]`.
        bias: Option<Operand>,
        /// Activation and residual add fused after the convolution.
        epilogue: Epilogue,
    },
    /// Inference batch normalisation over dim 1: `(x - mean) / sqrt(var + eps) * gamma + beta`.
    BatchNorm {
        /// Scale per channel (`weight`; ones when absent).
        gamma: Option<Tensor>,
        /// Shift per channel (`bias`; zeros when absent).
        beta: Option<Tensor>,
        /// Running mean per channel.
        mean: Tensor,
        /// Running variance per channel.
        var: Tensor,
        /// Added to the variance.
        eps: f32,
    },
    /// `act(x * scale[c] + shift[c] (+ residual))` over dim 1: what a BatchNorm that cannot be
    /// folded into a convolution becomes. With `residual` the node has a second input.
    ChannelAffine {
        /// Multiplier per channel.
        scale: Tensor,
        /// Added per channel.
        shift: Tensor,
        /// Applied last.
        activation: Activation,
        /// Whether a second input is added before the activation.
        residual: bool,
    },
    /// An elementwise activation (a PyTorch activation module).
    Activation(Activation),
    /// `act(a op b)` with broadcasting.
    Binary {
        /// The elementwise operation.
        op: BinaryOp,
        /// Applied to the result.
        activation: Activation,
    },
    /// `cond != 0 ? x : y` over inputs `[cond, x, y]`, broadcast together (ONNX `Where`).
    Where,
    /// `act(x W^T + b)`, `x` `[N, K]`, `weight` `[M, K]`, `bias` `[M]` (PyTorch `nn.Linear`).
    Linear {
        /// `[M, K]`.
        weight: Tensor,
        /// `[M]`.
        bias: Option<Tensor>,
        /// Applied to the result.
        activation: Activation,
    },
    /// `a @ b` for `[M, K] x [K, N]`.
    MatMul,
    /// Max or average pooling over a window.
    Pool(PoolSpec),
    /// Pooling over all of H x W to `[N, C, 1, 1]` (`AdaptiveAvgPool2d(1)` and friends).
    GlobalPool(PoolKind),
    /// Softmax (or its log, or hardmax) along an axis.
    Softmax {
        /// The axis normalised over.
        axis: usize,
        /// Softmax, log-softmax or hardmax.
        kind: SoftmaxKind,
    },
    /// A reduction over any set of axes (ONNX `ReduceSum` and friends).
    Reduce(ReduceSpec),
    /// A normalisation (layer, instance, group, Lp, LRN); `scale` and `bias` have
    /// `spec.param_len(input)` elements (absent: ones and zeros; none for Lp and LRN).
    Norm {
        /// Which normalisation, over which axes, with its constants.
        spec: NormSpec,
        /// Multiplier (ones when absent).
        scale: Option<Tensor>,
        /// Added after scaling (zeros when absent).
        bias: Option<Tensor>,
    },
    /// `torch.flatten(x, start_dim)`: a view.
    Flatten {
        /// The first dimension folded into the last.
        start: usize,
    },
    /// A view with a new shape; `0` copies the input's dimension, `-1` is inferred (ONNX).
    Reshape {
        /// The target shape, with ONNX's `0` and `-1`.
        shape: Vec<i64>,
    },
    /// numpy-broadcast of the input to `shape` (ONNX `Expand`: either side may be 1).
    Expand {
        /// The shape broadcast to.
        shape: Vec<usize>,
    },
    /// Permutes dimensions.
    Transpose {
        /// Output dimension `i` is input dimension `perm[i]`.
        perm: Vec<usize>,
    },
    /// Depth-to-space.
    PixelShuffle(PixelShuffle),
    /// Space-to-depth.
    SpaceToDepth(SpaceToDepth),
    /// ShuffleNet channel shuffle.
    ChannelShuffle(ChannelShuffle),
    /// 2-D resize of `[N, C, H, W]`: nearest, bilinear, bicubic (ONNX `Resize` / `Upsample`,
    /// `F.interpolate`).
    Resize(ResizeSpec),
    /// Constant padding: `begin[d]` leading and `end[d]` trailing `value`s along every dim
    /// (ONNX `Pad` mode constant, `F.pad`).
    Pad {
        /// Leading padding per dimension.
        begin: Vec<usize>,
        /// Trailing padding per dimension.
        end: Vec<usize>,
        /// The padding value.
        value: f32,
    },
    /// Concatenation along an axis.
    Concat {
        /// The axis the inputs are joined along.
        axis: usize,
    },
    /// Reverses the order along `axes` (`torch.flip`; an ONNX Slice with negative steps is a
    /// positive-step slice then this).
    Reverse {
        /// The axes reversed.
        axes: Vec<usize>,
    },
    /// Strided slice; `starts`, `ends`, `steps` have one entry per dimension.
    Slice {
        /// First index per dimension.
        starts: Vec<usize>,
        /// One past the last index per dimension.
        ends: Vec<usize>,
        /// Step per dimension (at least 1).
        steps: Vec<usize>,
    },
    /// Identity in inference (kept so the graph mirrors the PyTorch module list).
    Dropout {
        /// The training-time drop probability (unused in inference).
        p: f32,
    },
    /// Passes its input through (PyTorch `nn.Identity`).
    Identity,
    /// A host tensor materialised on the device (no inputs): an ONNX constant read where a
    /// computed tensor is needed. Integer constants arrive as f32 of exact value.
    Constant {
        /// The tensor.
        value: Tensor,
    },
    /// Squeeze-and-excitation's excitation, `sigmoid(W2 act(W1 p + b1) + b2)` with `w1`
    /// `[R, C]`, `w2` `[C, R]`, on a pooled `[N, C, 1, 1]` input, or with `pool` on the
    /// feature map `[N, C, H, W]` (p its channel means). Output `[N, C, 1, 1]`. Made by
    /// [`crate::graph::passes::fuse_squeeze_excitation`] from two 1x1 convolutions (and the
    /// global average pool before them).
    SeGate {
        /// Squeeze weights `[R, C]`.
        w1: Tensor,
        /// Squeeze bias `[R]`.
        b1: Tensor,
        /// After the squeeze.
        activation: Activation,
        /// Excitation weights `[C, R]`.
        w2: Tensor,
        /// Excitation bias `[C]`.
        b2: Tensor,
        /// Whether the input is the feature map (pooled here) rather than its channel means.
        pool: bool,
    },
}

/// The parameter tensors of an op with their `state_dict` field names; one body for the
/// shared and the mutable accessor (match ergonomics give `&` or `&mut` bindings).
macro_rules! param_list {
    ($op:expr) => {{
        let mut v = Vec::new();
        match $op {
            Op::Conv { weight, bias, .. } | Op::ConvTranspose { weight, bias, .. } => {
                if let Operand::Const(w) = weight {
                    v.push(("weight", w));
                }
                if let Some(Operand::Const(b)) = bias {
                    v.push(("bias", b));
                }
            }
            Op::Linear { weight, bias, .. } => {
                v.push(("weight", weight));
                if let Some(b) = bias {
                    v.push(("bias", b));
                }
            }
            Op::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                ..
            } => {
                if let Some(g) = gamma {
                    v.push(("weight", g));
                }
                if let Some(b) = beta {
                    v.push(("bias", b));
                }
                v.push(("running_mean", mean));
                v.push(("running_var", var));
            }
            Op::ChannelAffine { scale, shift, .. } => {
                v.push(("scale", scale));
                v.push(("shift", shift));
            }
            Op::Norm { scale, bias, .. } => {
                if let Some(s) = scale {
                    v.push(("weight", s));
                }
                if let Some(b) = bias {
                    v.push(("bias", b));
                }
            }
            Op::SeGate { w1, b1, w2, b2, .. } => {
                v.push(("fc1.weight", w1));
                v.push(("fc1.bias", b1));
                v.push(("fc2.weight", w2));
                v.push(("fc2.bias", b2));
            }
            _ => {}
        }
        v
    }};
}

impl Op {
    /// A short lowercase name of the op kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv { .. } => "conv",
            Op::ConvTranspose { .. } => "conv_transpose",
            Op::BatchNorm { .. } => "batch_norm",
            Op::ChannelAffine { .. } => "channel_affine",
            Op::Activation(a) => a.name(),
            Op::Binary { op, .. } => op.name(),
            Op::Where => "where",
            Op::Linear { .. } => "linear",
            Op::MatMul => "matmul",
            Op::Pool(p) => p.kind.name(false),
            Op::GlobalPool(kind) => kind.name(true),
            Op::Softmax { kind, .. } => kind.name(),
            Op::Reduce(spec) => spec.kind.name(),
            Op::Norm { spec, .. } => spec.kind.name(),
            Op::Flatten { .. } => "flatten",
            Op::Reshape { .. } => "reshape",
            Op::Transpose { .. } => "transpose",
            Op::Expand { .. } => "expand",
            Op::PixelShuffle(_) => "pixel_shuffle",
            Op::SpaceToDepth(_) => "space_to_depth",
            Op::ChannelShuffle(_) => "channel_shuffle",
            Op::Resize(_) => "resize",
            Op::Pad { .. } => "pad",
            Op::Concat { .. } => "concat",
            Op::Slice { .. } => "slice",
            Op::Reverse { .. } => "reverse",
            Op::Dropout { .. } => "dropout",
            Op::Identity => "identity",
            Op::Constant { .. } => "constant",
            Op::SeGate { .. } => "se_gate",
        }
    }

    /// The weight slots read from node inputs at run time (a convolution's weight or bias
    /// given as a graph tensor), in input order.
    pub fn runtime_operands(&self) -> Vec<&Operand> {
        match self {
            Op::Conv { weight, bias, .. } | Op::ConvTranspose { weight, bias, .. } => {
                let mut v: Vec<&Operand> = std::iter::once(weight)
                    .chain(bias)
                    .filter(|o| o.input().is_some())
                    .collect();
                v.sort_by_key(|o| o.input());
                v
            }
            _ => Vec::new(),
        }
    }

    /// The input holding a convolution's channel scale (`Epilogue::input_scale`): right after
    /// the run-time weight slots, before the residual.
    pub fn input_scale_input(&self) -> Option<usize> {
        match self {
            Op::Conv { epilogue, .. } if epilogue.input_scale => {
                Some(1 + self.runtime_operands().len())
            }
            _ => None,
        }
    }

    /// The kind plus its fused parts, e.g. `conv+bias+residual+relu`.
    pub fn describe(&self) -> String {
        let mut s = self.kind().to_string();
        let (bias, ep_act, residual) = match self {
            Op::Conv { bias, epilogue, .. } | Op::ConvTranspose { bias, epilogue, .. } => {
                (bias.is_some(), epilogue.activation, epilogue.residual)
            }
            Op::Linear {
                bias, activation, ..
            } => (bias.is_some(), *activation, false),
            Op::ChannelAffine {
                activation,
                residual,
                ..
            } => (false, *activation, *residual),
            Op::Binary { activation, .. } => (false, *activation, false),
            _ => (false, Activation::Identity, false),
        };
        if let Op::Conv { spec, .. } = self {
            s += &format!("{:?}", spec.kernel);
            if spec.groups > 1 {
                s += &format!("/g{}", spec.groups);
            }
        }
        if self.input_scale_input().is_some() {
            s += "+input_scale";
        }
        if bias {
            s += "+bias";
        }
        if residual {
            s += "+residual";
        }
        if ep_act != Activation::Identity {
            s += "+";
            s += ep_act.name();
        }
        s
    }

    /// The PyTorch module class this op corresponds to (torchsummary's row label), or `None`
    /// for what PyTorch code writes as a function (`x + y`, `torch.cat`, `x.view`), which
    /// torchsummary does not list.
    pub fn torch_module(&self) -> Option<String> {
        let dims = |r: usize| format!("{r}d");
        Some(match self {
            Op::Conv { spec, .. } => format!("Conv{}", dims(spec.rank())),
            Op::ConvTranspose { spec, .. } => format!("ConvTranspose{}", dims(spec.conv.rank())),
            Op::BatchNorm { .. } => "BatchNorm2d".into(),
            Op::Activation(a) => a.torch_module().into(),
            Op::Linear { .. } => "Linear".into(),
            // The rows name the 2-D modules; 1-D and 3-D pools are their siblings.
            Op::Pool(p) => p.kind.torch_module(false).replace("2d", &dims(p.rank())),
            Op::GlobalPool(kind) => kind.torch_module(true).into(),
            Op::Softmax { kind, .. } => kind.torch_module().into(),
            Op::Norm { spec, .. } => spec.kind.torch_module()?.into(),
            Op::PixelShuffle(_) => "PixelShuffle".into(),
            Op::SpaceToDepth(_) => "PixelUnshuffle".into(),
            Op::Resize(_) => "Upsample".into(),
            Op::Dropout { .. } => "Dropout".into(),
            Op::Identity => "Identity".into(),
            // Fused forms stand for several modules; the summary of an optimized graph still
            // shows them.
            Op::ChannelAffine { .. } => "ChannelAffine".into(),
            Op::SeGate { .. } => "SqueezeExcitation".into(),
            Op::Binary { .. }
            | Op::Constant { .. }
            | Op::Where
            | Op::MatMul
            | Op::Reduce(_)
            | Op::Flatten { .. }
            | Op::Reshape { .. }
            | Op::Transpose { .. }
            | Op::Expand { .. }
            | Op::ChannelShuffle(_)
            | Op::Pad { .. }
            | Op::Concat { .. }
            | Op::Reverse { .. }
            | Op::Slice { .. } => return None,
        })
    }

    /// Parameter tensors with their `state_dict` field names.
    pub fn params(&self) -> Vec<(&'static str, &Tensor)> {
        param_list!(self)
    }

    /// Mutable parameter tensors with their `state_dict` field names.
    pub(crate) fn params_mut(&mut self) -> Vec<(&'static str, &mut Tensor)> {
        param_list!(self)
    }

    /// Trainable parameters (BatchNorm's running statistics are buffers, not parameters).
    pub fn trainable_params(&self) -> usize {
        self.params()
            .iter()
            .filter(|(f, _)| !f.starts_with("running_"))
            .map(|(_, t)| t.numel())
            .sum()
    }

    /// Multiply-accumulates of this node for these input and output shapes (convolutions,
    /// linear layers and matrix products; elementwise work is not counted, like most
    /// summaries).
    pub fn macs(&self, inputs: &[&[usize]], output: &[usize]) -> u64 {
        match self {
            Op::Conv { spec, .. } => spec.macs(output, inputs[0][1]),
            Op::ConvTranspose { weight, .. } => {
                // Every input element is scattered through (O/g) * prod(k) weights.
                (numel(inputs[0]) as u64).saturating_mul(numel(&weight.shape()[1..]) as u64)
            }
            Op::Linear { weight, .. } => (output[0] as u64).saturating_mul(weight.numel() as u64),
            Op::MatMul => {
                (numel(output) as u64).saturating_mul(inputs[0][inputs[0].len() - 1] as u64)
            }
            Op::SeGate { w1, w2, .. } => {
                (inputs[0][0] as u64).saturating_mul((w1.numel() + w2.numel()) as u64)
            }
            _ => 0,
        }
    }

    /// Terms summed into one output element (the accumulation length that bounds its f32
    /// rounding error); 1 for ops that round once.
    pub fn accumulation(&self, inputs: &[&[usize]]) -> usize {
        match self {
            Op::Conv { spec, .. } => {
                (inputs[0][1] / spec.groups) * spec.kernel.iter().product::<usize>()
            }
            Op::ConvTranspose { spec, weight, .. } => {
                // Each output gathers at most (C/g) * prod(k / stride) contributions.
                let c = &spec.conv;
                weight.shape()[0] / c.groups
                    * c.kernel
                        .iter()
                        .zip(&c.stride)
                        .map(|(k, s)| k.div_ceil(*s))
                        .product::<usize>()
            }
            Op::Linear { weight, .. } => weight.shape()[1],
            Op::MatMul => inputs[0][inputs[0].len() - 1],
            Op::GlobalPool(_) => inputs[0][2..].iter().product(),
            Op::Pool(p) => p.window(),
            Op::SeGate { w1, w2, pool, .. } => {
                let s: usize = if *pool {
                    inputs[0][2..].iter().product()
                } else {
                    1
                };
                s + w1.shape()[1] + w2.shape()[1]
            }
            Op::Softmax { axis, .. } => inputs[0][*axis],
            Op::Reduce(spec) => spec.reduced_len(inputs[0]),
            Op::Norm { spec, .. } => spec.accumulation(inputs[0]),
            Op::Resize(spec) => {
                let (x, [oh, ow]) = (inputs[0], spec.out);
                spec.taps(0, x[2], oh) * spec.taps(1, x[3], ow)
            }
            _ => 1,
        }
    }
}
