//! Builder programs: running decoded steps through the graph builder within the fuzzing budget.

use arbitrary::Arbitrary;
use wgconv::Result;
use wgconv::graph::{Conv2d, Graph, Op, ValueId};
use wgconv::ops::{
    Activation, BinaryOp, ChannelOrder, ConvSpec, ConvTransposeSpec, CoordinateMode, NearestMode,
    PoolKind, PoolSpec, ResizeMode, ResizeSpec,
};
use wgconv::tensor::Tensor;

use super::PARAM_BUDGET;
use super::step::{Item, N, Step};

fn n2(a: [N; 2]) -> [usize; 2] {
    [a[0].0, a[1].0]
}

pub(super) fn ns(v: &[N]) -> Vec<usize> {
    v.iter().take(6).map(|n| n.0).collect()
}

/// A builder program: the first input's shape, then the steps.
#[derive(Arbitrary, Debug)]
pub struct Program {
    pub input: Vec<N>,
    pub steps: Vec<Item>,
}

/// Element count for the budget checks, zero dims counted as one (as
/// `wgconv::tensor::checked_numel` does), saturating.
pub(super) fn sat_product(xs: &[usize]) -> usize {
    xs.iter().fold(1usize, |a, &b| a.saturating_mul(b.max(1)))
}

impl Program {
    /// Runs the steps; a step the graph rejects is skipped (its error must be typed, which
    /// `?`-free skipping still checks: a panic inside propagates).
    pub fn build(&self) -> Result<Graph> {
        let mut g = Graph::new();
        let mut vals: Vec<ValueId> = vec![g.input("x", &ns(&self.input))];
        let mut outputs = 0;
        for (i, item) in self.steps.iter().take(32).enumerate() {
            let name = format!("n{i}");
            let step = match item {
                Item::Step(s) => s,
                Item::Family(f) => {
                    if let Some(r) = f.build(&mut g, &vals, &name, i as u64) {
                        keep(&mut vals, r);
                    }
                    continue;
                }
            };
            let pick = |x: u8| vals[x as usize % vals.len()];
            let r: Result<ValueId> = match step {
                Step::Input(dims) => Ok(g.input(&format!("in{i}"), &ns(dims))),
                Step::Conv2d {
                    x,
                    out,
                    kernel,
                    stride,
                    pad,
                    dilation,
                    groups,
                    bias,
                } => {
                    let x = pick(*x);
                    let c = Conv2d {
                        out_channels: out.0,
                        kernel: n2(*kernel),
                        stride: n2(*stride),
                        padding: n2(*pad),
                        dilation: n2(*dilation),
                        groups: groups.0,
                        bias: *bias,
                    };
                    let cin = g.shape(x).get(1).copied().unwrap_or(1);
                    let w = sat_product(&[out.0, cin, kernel[0].0, kernel[1].0]);
                    if w <= PARAM_BUDGET {
                        g.conv2d(x, &name, c)
                    } else {
                        // Same geometry with a small weight: the shape rule must reject the
                        // mismatch (or the geometry) without allocating.
                        let wt = Tensor::zeros(vec![1, 1, 1, 1]);
                        g.conv(x, &name, c.spec(), wt, None)
                    }
                }
                Step::ConvSpec {
                    x,
                    kernel,
                    stride,
                    pad_begin,
                    pad_end,
                    dilation,
                    groups,
                    weight,
                    bias,
                    residual,
                } => {
                    let spec = ConvSpec {
                        kernel: ns(kernel),
                        stride: ns(stride),
                        pad_begin: ns(pad_begin),
                        pad_end: ns(pad_end),
                        dilation: ns(dilation),
                        groups: groups.0,
                    };
                    let wshape = ns(weight);
                    if sat_product(&wshape) > PARAM_BUDGET {
                        continue;
                    }
                    let b = bias
                        .filter(|b| b.0 <= PARAM_BUDGET)
                        .map(|b| Tensor::zeros(vec![b.0]));
                    let mut ins = vec![pick(*x)];
                    let mut epilogue = wgconv::ops::Epilogue::default();
                    if let Some(r) = residual {
                        ins.push(pick(*r));
                        epilogue.residual = true;
                    }
                    let op = Op::Conv {
                        spec,
                        weight: Tensor::random(wshape, i as u64).into(),
                        bias: b.map(Into::into),
                        epilogue,
                    };
                    g.add(&name, op, &ins)
                }
                Step::ConvNd {
                    x,
                    out,
                    kernel,
                    stride,
                    pad,
                    groups,
                    bias,
                } => {
                    let x = pick(*x);
                    let k = ns(kernel);
                    let cin = g.shape(x).get(1).copied().unwrap_or(1);
                    let mut w = vec![out.0, cin];
                    w.extend(&k);
                    if sat_product(&w) > PARAM_BUDGET {
                        continue;
                    }
                    let spec = ConvSpec::new(&k)
                        .stride(stride.0)
                        .pad(pad.0)
                        .groups(groups.0);
                    g.conv_nd(x, &name, out.0, spec, *bias)
                }
                Step::ConvTranspose {
                    x,
                    out,
                    kernel,
                    stride,
                    pad,
                    dilation,
                    output_padding,
                    groups,
                    bias,
                } => {
                    let x = pick(*x);
                    let k = ns(kernel);
                    let cin = g.shape(x).get(1).copied().unwrap_or(1);
                    let mut w = vec![out.0, cin];
                    w.extend(&k);
                    if sat_product(&w) > PARAM_BUDGET {
                        continue;
                    }
                    let conv = ConvSpec::new(&k)
                        .strides(&ns(stride))
                        .pads(&ns(pad), &ns(pad))
                        .dilations(&ns(dilation))
                        .groups(groups.0);
                    let spec = ConvTransposeSpec::new(conv).output_padding(&ns(output_padding));
                    g.conv_transpose(x, &name, out.0, spec, *bias)
                }
                Step::BatchNorm { x, eps } => {
                    let x = pick(*x);
                    if g.shape(x).get(1).is_some_and(|&c| c > PARAM_BUDGET) {
                        continue;
                    }
                    g.batch_norm_eps(x, &name, *eps)
                }
                Step::Act { x, which, a, b } => {
                    let act = match which % 11 {
                        0 => Activation::Identity,
                        1 => Activation::Relu,
                        2 => Activation::Relu6,
                        3 => Activation::Clip { min: *a, max: *b },
                        4 => Activation::LeakyRelu { slope: *a },
                        5 => Activation::Silu,
                        6 => Activation::Sigmoid,
                        7 => Activation::HardSigmoid {
                            alpha: *a,
                            beta: *b,
                        },
                        8 => Activation::HardSwish,
                        9 => Activation::Gelu,
                        _ => Activation::Tanh,
                    };
                    g.act(pick(*x), act)
                }
                Step::Binary { a, b, op } => {
                    let op = match op % 4 {
                        0 => BinaryOp::Add,
                        1 => BinaryOp::Sub,
                        2 => BinaryOp::Mul,
                        _ => BinaryOp::Div,
                    };
                    g.binary(op, pick(*a), pick(*b))
                }
                Step::Linear { x, out, bias } => {
                    let x = pick(*x);
                    let k = g.shape(x).get(1).copied().unwrap_or(1);
                    if sat_product(&[out.0, k]) > PARAM_BUDGET {
                        continue;
                    }
                    g.linear(x, &name, out.0, *bias)
                }
                Step::MatMul { a, b } => g.matmul(pick(*a), pick(*b)),
                Step::Pool {
                    x,
                    max,
                    kernel,
                    stride,
                    pad_begin,
                    pad_end,
                    dilation,
                    ceil_mode,
                    count_include_pad,
                } => {
                    let spec = PoolSpec {
                        kind: if *max { PoolKind::Max } else { PoolKind::Avg },
                        kernel: n2(*kernel).to_vec(),
                        stride: n2(*stride).to_vec(),
                        pad_begin: n2(*pad_begin).to_vec(),
                        pad_end: n2(*pad_end).to_vec(),
                        dilation: n2(*dilation).to_vec(),
                        ceil_mode: *ceil_mode,
                        count_include_pad: *count_include_pad,
                    };
                    g.pool(pick(*x), spec)
                }
                Step::GlobalPool { x, max } => {
                    let kind = if *max { PoolKind::Max } else { PoolKind::Avg };
                    g.add(&name, Op::GlobalPool(kind), &[pick(*x)])
                }
                Step::Flatten { x, start } => g.flatten(pick(*x), start.0),
                Step::Reshape { x, shape } => {
                    let s: Vec<i64> = shape.iter().take(6).map(|d| d.0).collect();
                    g.reshape(pick(*x), &s)
                }
                Step::Transpose { x, perm } => g.transpose(pick(*x), &ns(perm)),
                Step::Concat { xs, axis } => {
                    let xs: Vec<ValueId> = xs.iter().take(4).map(|x| pick(*x)).collect();
                    g.concat(&xs, axis.0)
                }
                Step::SliceChannels { x, start, end } => g.slice_channels(pick(*x), start.0, end.0),
                Step::Slice {
                    x,
                    starts,
                    ends,
                    steps,
                } => {
                    let op = Op::Slice {
                        starts: ns(starts),
                        ends: ns(ends),
                        steps: ns(steps),
                    };
                    g.add(&name, op, &[pick(*x)])
                }
                Step::ChannelShuffle { x, groups } => g.channel_shuffle(pick(*x), groups.0),
                Step::PixelShuffle { x, factor } => g.pixel_shuffle(pick(*x), factor.0),
                Step::SpaceToDepth { x, block, dcr } => {
                    let order = if *dcr {
                        ChannelOrder::Dcr
                    } else {
                        ChannelOrder::Crd
                    };
                    g.space_to_depth(pick(*x), block.0, order)
                }
                Step::Resize {
                    x,
                    linear,
                    coordinate,
                    nearest,
                    out,
                    scale,
                } => {
                    let mode = if *linear {
                        ResizeMode::Linear
                    } else {
                        ResizeMode::Nearest
                    };
                    let coordinate = match coordinate % 6 {
                        0 => CoordinateMode::HalfPixel,
                        1 => CoordinateMode::PytorchHalfPixel,
                        2 => CoordinateMode::AlignCorners,
                        3 => CoordinateMode::Asymmetric,
                        4 => CoordinateMode::TfHalfPixelForNn,
                        _ => CoordinateMode::HalfPixel,
                    };
                    let nearest = match nearest % 4 {
                        0 => NearestMode::RoundPreferFloor,
                        1 => NearestMode::RoundPreferCeil,
                        2 => NearestMode::Floor,
                        _ => NearestMode::Ceil,
                    };
                    let mut spec = ResizeSpec::new(mode, n2(*out))
                        .coordinate(coordinate)
                        .nearest_mode(nearest);
                    spec.scale = *scale;
                    g.resize(pick(*x), spec)
                }
                Step::Pad {
                    x,
                    begin,
                    end,
                    value,
                } => g.pad(pick(*x), &ns(begin), &ns(end), *value),
                Step::Softmax { x, axis } => g.softmax(pick(*x), axis.0),
                Step::Dropout { x, p } => g.dropout(pick(*x), *p),
                Step::Output { x } => {
                    g.output(pick(*x));
                    outputs += 1;
                    continue;
                }
            };
            keep(&mut vals, r);
        }
        if outputs == 0 {
            g.output(*vals.last().expect("one input at least"));
        }
        Ok(g)
    }
}

/// Keeps a step's value; a rejected step must be a typed error naming something, and the graph
/// stays usable.
fn keep(vals: &mut Vec<ValueId>, r: Result<ValueId>) {
    match r {
        Ok(v) => vals.push(v),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
