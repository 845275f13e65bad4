//! The [`Family`] steps through the graph builder: N-d and Lp pools, MaxPool indices, every
//! resize mode, constants, run-time convolution weights, expand, reductions, norms, the softmax
//! kinds, `Where`, and every activation and binary op.

use wgconv::Result;
use wgconv::graph::{Graph, Op, Operand, ValueId};
use wgconv::ops::{
    Activation, BinaryOp, ConvSpec, ConvTransposeSpec, CoordinateMode, Epilogue, NearestMode,
    NormKind, NormOutput, NormSpec, PoolKind, PoolSpec, ReduceKind, ReduceSpec, ResizeMode,
    ResizeSpec, SoftmaxKind,
};
use wgconv::tensor::{Tensor, checked_numel};

use super::PARAM_BUDGET;
use super::program::{ns, sat_product};
use super::step::Family;

/// Every activation, the parametrised ones taking `a` and `b`.
fn activation(which: u8, a: f32, b: f32) -> Activation {
    match which % 29 {
        0 => Activation::Identity,
        1 => Activation::Relu,
        2 => Activation::Relu6,
        3 => Activation::Clip { min: a, max: b },
        4 => Activation::LeakyRelu { slope: a },
        5 => Activation::Silu,
        6 => Activation::Sigmoid,
        7 => Activation::HardSigmoid { alpha: a, beta: b },
        8 => Activation::HardSwish,
        9 => Activation::Gelu,
        10 => Activation::Tanh,
        11 => Activation::Abs,
        12 => Activation::Neg,
        13 => Activation::Exp,
        14 => Activation::Log,
        15 => Activation::Sqrt,
        16 => Activation::Reciprocal,
        17 => Activation::Floor,
        18 => Activation::Ceil,
        19 => Activation::Trunc,
        20 => Activation::Round,
        21 => Activation::Sign,
        22 => Activation::Erf,
        23 => Activation::Softplus,
        24 => Activation::Softsign,
        25 => Activation::Elu { alpha: a },
        26 => Activation::Selu { alpha: a, gamma: b },
        27 => Activation::Celu { alpha: a },
        _ => Activation::ThresholdedRelu { alpha: a },
    }
}

fn pool_kind(kind: u8, p: usize) -> PoolKind {
    match kind % 5 {
        0 => PoolKind::Max,
        1 => PoolKind::Avg,
        2 => PoolKind::Lp(p as u32),
        3 => PoolKind::MaxIndex {
            column_major: false,
        },
        _ => PoolKind::MaxIndex { column_major: true },
    }
}

fn coordinate(c: u8) -> CoordinateMode {
    match c % 7 {
        0 => CoordinateMode::HalfPixel,
        1 => CoordinateMode::PytorchHalfPixel,
        2 => CoordinateMode::AlignCorners,
        3 => CoordinateMode::Asymmetric,
        4 => CoordinateMode::TfHalfPixelForNn,
        5 => CoordinateMode::HalfPixelSymmetric,
        _ => CoordinateMode::TfCropAndResize,
    }
}

fn nearest_mode(n: u8) -> NearestMode {
    match n % 4 {
        0 => NearestMode::RoundPreferFloor,
        1 => NearestMode::RoundPreferCeil,
        2 => NearestMode::Floor,
        _ => NearestMode::Ceil,
    }
}

impl Family {
    /// Adds the step's node; `None` when it would ask for a parameter over the budget.
    pub fn build(
        &self,
        g: &mut Graph,
        vals: &[ValueId],
        name: &str,
        seed: u64,
    ) -> Option<Result<ValueId>> {
        let pick = |x: u8| vals[x as usize % vals.len()];
        Some(match self {
            Family::PoolNd {
                x,
                kind,
                p,
                kernel,
                stride,
                pad_begin,
                pad_end,
                dilation,
                ceil_mode,
                count_include_pad,
            } => {
                let spec = PoolSpec {
                    kind: pool_kind(*kind, p.0),
                    kernel: ns(kernel),
                    stride: ns(stride),
                    pad_begin: ns(pad_begin),
                    pad_end: ns(pad_end),
                    dilation: ns(dilation),
                    ceil_mode: *ceil_mode,
                    count_include_pad: *count_include_pad,
                };
                g.pool(pick(*x), spec)
            }
            Family::Resize {
                x,
                mode,
                coordinate: c,
                nearest,
                out,
                scale,
                cubic_a,
                exclude_outside,
                antialias,
                roi,
                extrapolation,
            } => {
                let mode = match mode % 3 {
                    0 => ResizeMode::Nearest,
                    1 => ResizeMode::Linear,
                    _ => ResizeMode::Cubic,
                };
                let mut spec = ResizeSpec::new(mode, [out[0].0, out[1].0])
                    .coordinate(coordinate(*c))
                    .nearest_mode(nearest_mode(*nearest));
                spec.scale = *scale;
                spec.cubic_a = *cubic_a;
                spec.exclude_outside = *exclude_outside;
                spec.antialias = *antialias;
                spec.roi = *roi;
                spec.extrapolation = *extrapolation;
                g.resize(pick(*x), spec)
            }
            Family::Constant { shape } => {
                let shape = ns(shape);
                if sat_product(&shape) > PARAM_BUDGET {
                    return None;
                }
                let value = Tensor::random(shape, seed);
                g.add(name, Op::Constant { value }, &[])
            }
            Family::ConvInputWeight {
                x,
                w,
                b,
                transpose,
                stride,
                pad_begin,
                pad_end,
                dilation,
                output_padding,
                groups,
                slot,
                shape,
            } => {
                let w = pick(*w);
                let wshape = shape.as_deref().map_or_else(|| g.shape(w).to_vec(), ns);
                let conv = ConvSpec {
                    kernel: wshape.get(2..).unwrap_or_default().to_vec(),
                    stride: ns(stride),
                    pad_begin: ns(pad_begin),
                    pad_end: ns(pad_end),
                    dilation: ns(dilation),
                    groups: groups.0,
                };
                let weight = Operand::Input {
                    index: slot.map_or(1, usize::from),
                    shape: wshape,
                };
                let mut ins = vec![pick(*x), w];
                let bias = b.map(|b| {
                    let b = pick(b);
                    ins.push(b);
                    Operand::Input {
                        index: 2,
                        shape: g.shape(b).to_vec(),
                    }
                });
                let epilogue = Epilogue::default();
                let op = if *transpose {
                    let spec = ConvTransposeSpec::new(conv).output_padding(&ns(output_padding));
                    Op::ConvTranspose {
                        spec,
                        weight,
                        bias,
                        epilogue,
                    }
                } else {
                    Op::Conv {
                        spec: conv,
                        weight,
                        bias,
                        epilogue,
                    }
                };
                g.add(name, op, &ins)
            }
            Family::Expand { x, shape } => {
                let op = Op::Expand { shape: ns(shape) };
                g.add(name, op, &[pick(*x)])
            }
            Family::Reduce {
                x,
                kind,
                axes,
                keepdims,
            } => {
                let spec = ReduceSpec {
                    kind: ReduceKind::ALL[*kind as usize % ReduceKind::ALL.len()],
                    axes: ns(axes),
                    keepdims: *keepdims,
                };
                g.add(name, Op::Reduce(spec), &[pick(*x)])
            }
            Family::Norm {
                x,
                kind,
                output,
                axis,
                epsilon,
                groups,
                p,
                size,
                alpha,
                beta,
                bias,
                affine,
            } => {
                let x = pick(*x);
                let spec = NormSpec {
                    kind: NormKind::ALL[*kind as usize % NormKind::ALL.len()],
                    axis: axis.0,
                    epsilon: *epsilon,
                    groups: groups.0,
                    p: p.0 as u32,
                    size: size.0,
                    alpha: *alpha,
                    beta: *beta,
                    bias: *bias,
                    output: match output % 3 {
                        0 => NormOutput::Normalized,
                        1 => NormOutput::Mean,
                        _ => NormOutput::InvStdDev,
                    },
                };
                // The affine's length exists only for a shape the graph accepts (graph inputs
                // are unchecked) and a spec that shape passes.
                let shape = g.shape(x).to_vec();
                let len = match checked_numel(&shape).map(|_| spec.output_shape(&shape)) {
                    Some(Ok(_)) => spec.param_len(&shape),
                    _ => 0,
                };
                if len > PARAM_BUDGET {
                    return None;
                }
                let (scale, bias) = if *affine && len > 0 {
                    (
                        Some(Tensor::random(vec![len], seed)),
                        Some(Tensor::random(vec![len], seed + 1)),
                    )
                } else {
                    (None, None)
                };
                g.add(name, Op::Norm { spec, scale, bias }, &[x])
            }
            Family::Softmax { x, kind, axis } => {
                let op = Op::Softmax {
                    axis: axis.0,
                    kind: SoftmaxKind::ALL[*kind as usize % SoftmaxKind::ALL.len()],
                };
                g.add(name, op, &[pick(*x)])
            }
            Family::Where { c, x, y } => g.add(name, Op::Where, &[pick(*c), pick(*x), pick(*y)]),
            Family::Act { x, which, a, b } => g.act(pick(*x), activation(*which, *a, *b)),
            Family::Binary { a, b, op, act } => {
                let op = Op::Binary {
                    op: BinaryOp::ALL[*op as usize % BinaryOp::ALL.len()],
                    activation: activation(*act, 0.0, 6.0),
                };
                g.add(name, op, &[pick(*a), pick(*b)])
            }
            Family::Identity { x } => g.add(name, Op::Identity, &[pick(*x)]),
        })
    }
}
