//! The code paths the cargo-fuzz targets in `fuzz/` drive, shared with
//! `fuzz_regressions.rs` so the inputs the fuzzers found replay on stable in CI. Self-contained
//! (wgconv + arbitrary only): `fuzz/fuzz_targets/*.rs` include this file by path.
//!
//! Every entry point returns `Ok` or a typed [`wgconv::Error`] for bad input; a panic (an
//! overflow under debug assertions included), a hang or a huge allocation is a library bug.

#![allow(dead_code)]

use arbitrary::{Arbitrary, Unstructured};
use wgconv::graph::{Conv2d, Graph, Op, ValueId, cpu, passes};
use wgconv::ops::{
    Activation, BinaryOp, ChannelOrder, ConvSpec, ConvTransposeSpec, CoordinateMode, NearestMode,
    PoolKind, PoolSpec, ResizeMode, ResizeSpec,
};
use wgconv::tensor::Tensor;
use wgconv::{Result, plan};

/// Largest graph (sum of all value and parameter elements) the CPU reference runs on, so one
/// fuzz input stays well under a millisecond-scale budget.
const ELEMENT_BUDGET: usize = 1 << 14;
/// Largest multiply-accumulate count the CPU reference runs.
const MAC_BUDGET: u64 = 1 << 20;
/// Largest zero-initialised parameter tensor the builder target asks for (bigger requests go
/// through the explicit-parameter path with a small, mismatched weight instead).
const PARAM_BUDGET: usize = 1 << 16;

/// Fuzz target `onnx_import`: bytes as an ONNX model.
pub fn onnx_import(data: &[u8]) -> Result<()> {
    let g = wgconv::onnx::import_bytes(data, &Default::default())?;
    check_graph(&g)
}

/// Fuzz target `graph_build`: bytes decoded by `arbitrary` into a builder program.
pub fn graph_build(data: &[u8]) -> Result<()> {
    let u = Unstructured::new(data);
    let Ok(prog) = Program::arbitrary_take_rest(u) else {
        return Ok(());
    };
    let g = prog.build()?;
    check_graph(&g)
}

/// What both targets do with a graph that imported or built: the passes, the planner (with its
/// own consistency check), the statistics, and the CPU reference when the graph is tiny.
pub fn check_graph(g: &Graph) -> Result<()> {
    let opt = passes::optimize(g)?;
    for graph in [g, &opt] {
        let _ = graph.describe();
        let _ = graph.parameter_count();
        let _ = graph.accumulation_depth_rss();
        for reuse in [true, false] {
            // A graph beyond the device's limits is refused with a typed error.
            let p = plan::plan_with(graph, reuse)?;
            if let Err(e) = p.verify(graph) {
                panic!(
                    "plan::verify failed (a planner bug): {e}\n{}",
                    graph.describe()
                );
            }
            let _ = p.dispatch_count();
        }
    }
    if !tiny(g) || !tiny(&opt) {
        return Ok(());
    }
    let inputs: Vec<Tensor> = g
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, v)| Tensor::random(g.shape(*v).to_vec(), i as u64))
        .collect();
    let a = cpu::run(g, &inputs)?;
    let b = cpu::run(&opt, &inputs)?;
    assert_eq!(a.len(), b.len(), "optimize changed the number of outputs");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.shape(), y.shape(), "optimize changed an output shape");
    }
    Ok(())
}

/// Whether the CPU reference may run on `g` within the fuzzing budget.
fn tiny(g: &Graph) -> bool {
    let mut total = 0usize;
    for v in g.values() {
        let Some(n) = v
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        else {
            return false;
        };
        total = total.saturating_add(n);
    }
    for node in g.nodes() {
        for (_, t) in node.op.params() {
            total = total.saturating_add(t.numel());
        }
    }
    total <= ELEMENT_BUDGET && g.macs() <= MAC_BUDGET
}

/// A dimension or hyper-parameter: mostly small, sometimes an edge value that shape arithmetic
/// must survive (0, u32 limits, usize limits).
#[derive(Clone, Copy, Debug)]
pub struct N(pub usize);

impl<'a> Arbitrary<'a> for N {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let b = u8::arbitrary(u)?;
        Ok(N(match b {
            0..=239 => (b % 8) as usize,
            240 => u32::MAX as usize,
            241 => u32::MAX as usize + 1,
            242 => usize::MAX,
            243 => usize::MAX / 2,
            244 => 1 << 31,
            245 => 1 << 20,
            246 => 1 << 16,
            247 => 1 << 32 | 1,
            248 => (1 << 21) + 3,
            _ => u16::arbitrary(u)? as usize,
        }))
    }
}

/// A reshape target entry: `-1`, `0`, small, or extreme.
#[derive(Clone, Copy, Debug)]
pub struct Dim64(pub i64);

impl<'a> Arbitrary<'a> for Dim64 {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let b = u8::arbitrary(u)?;
        Ok(Dim64(match b {
            0..=199 => (b % 9) as i64 - 1,
            200 => i64::MAX,
            201 => i64::MIN,
            202 => -2,
            203 => u32::MAX as i64 + 1,
            204 => 1 << 40,
            _ => i64::arbitrary(u)?,
        }))
    }
}

fn n2(a: [N; 2]) -> [usize; 2] {
    [a[0].0, a[1].0]
}

fn ns(v: &[N]) -> Vec<usize> {
    v.iter().take(6).map(|n| n.0).collect()
}

/// One builder call; operands index the values made so far (modulo their count).
#[derive(Arbitrary, Debug)]
pub enum Step {
    Input(Vec<N>),
    Conv2d {
        x: u8,
        out: N,
        kernel: [N; 2],
        stride: [N; 2],
        pad: [N; 2],
        dilation: [N; 2],
        groups: N,
        bias: bool,
    },
    ConvSpec {
        x: u8,
        kernel: Vec<N>,
        stride: Vec<N>,
        pad_begin: Vec<N>,
        pad_end: Vec<N>,
        dilation: Vec<N>,
        groups: N,
        weight: Vec<N>,
        bias: Option<N>,
        residual: Option<u8>,
    },
    ConvNd {
        x: u8,
        out: N,
        kernel: Vec<N>,
        stride: N,
        pad: N,
        groups: N,
        bias: bool,
    },
    ConvTranspose {
        x: u8,
        out: N,
        kernel: Vec<N>,
        stride: Vec<N>,
        pad: Vec<N>,
        dilation: Vec<N>,
        output_padding: Vec<N>,
        groups: N,
        bias: bool,
    },
    BatchNorm {
        x: u8,
        eps: f32,
    },
    Act {
        x: u8,
        which: u8,
        a: f32,
        b: f32,
    },
    Binary {
        a: u8,
        b: u8,
        op: u8,
    },
    Linear {
        x: u8,
        out: N,
        bias: bool,
    },
    MatMul {
        a: u8,
        b: u8,
    },
    Pool {
        x: u8,
        max: bool,
        kernel: [N; 2],
        stride: [N; 2],
        pad_begin: [N; 2],
        pad_end: [N; 2],
        dilation: [N; 2],
        ceil_mode: bool,
        count_include_pad: bool,
    },
    GlobalPool {
        x: u8,
        max: bool,
    },
    Flatten {
        x: u8,
        start: N,
    },
    Reshape {
        x: u8,
        shape: Vec<Dim64>,
    },
    Transpose {
        x: u8,
        perm: Vec<N>,
    },
    Concat {
        xs: Vec<u8>,
        axis: N,
    },
    SliceChannels {
        x: u8,
        start: N,
        end: N,
    },
    Slice {
        x: u8,
        starts: Vec<N>,
        ends: Vec<N>,
        steps: Vec<N>,
    },
    ChannelShuffle {
        x: u8,
        groups: N,
    },
    PixelShuffle {
        x: u8,
        factor: N,
    },
    SpaceToDepth {
        x: u8,
        block: N,
        dcr: bool,
    },
    Resize {
        x: u8,
        linear: bool,
        coordinate: u8,
        nearest: u8,
        out: [N; 2],
        scale: Option<[f64; 2]>,
    },
    Pad {
        x: u8,
        begin: Vec<N>,
        end: Vec<N>,
        value: f32,
    },
    Softmax {
        x: u8,
        axis: N,
    },
    Dropout {
        x: u8,
        p: f32,
    },
    Output {
        x: u8,
    },
}

/// A builder program: the first input's shape, then the steps.
#[derive(Arbitrary, Debug)]
pub struct Program {
    pub input: Vec<N>,
    pub steps: Vec<Step>,
}

/// Element count for the budget checks, zero dims counted as one (as
/// `wgconv::tensor::checked_numel` does), saturating.
fn sat_product(xs: &[usize]) -> usize {
    xs.iter().fold(1usize, |a, &b| a.saturating_mul(b.max(1)))
}

impl Program {
    /// Runs the steps; a step the graph rejects is skipped (its error must be typed, which
    /// `?`-free skipping still checks: a panic inside propagates).
    pub fn build(&self) -> Result<Graph> {
        let mut g = Graph::new();
        let mut vals: Vec<ValueId> = vec![g.input("x", &ns(&self.input))];
        let mut outputs = 0;
        for (i, step) in self.steps.iter().take(32).enumerate() {
            let pick = |x: u8| vals[x as usize % vals.len()];
            let name = format!("n{i}");
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
                        weight: Tensor::random(wshape, i as u64),
                        bias: b,
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
                        kernel: n2(*kernel),
                        stride: n2(*stride),
                        pad_begin: n2(*pad_begin),
                        pad_end: n2(*pad_end),
                        dilation: n2(*dilation),
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
            // A rejected step must be a typed error naming something; the graph stays usable.
            match r {
                Ok(v) => vals.push(v),
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
        if outputs == 0 {
            g.output(*vals.last().expect("one input at least"));
        }
        Ok(g)
    }
}
