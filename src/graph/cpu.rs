//! Runs a graph on the CPU reference: the oracle the device results are compared with.
//!
//! Every op evaluates with f64 accumulation from its definition. The data-movement, pooling,
//! softmax, matmul and transposed-convolution ops call [`crate::reference`]; 2-D convolution
//! (nearly all of a CNN's work) uses [`conv2d`] here, a direct loop nest ordered for speed
//! (one output plane of f64 accumulators at a time, each weight tap swept over a row) so that
//! whole networks can be checked in CI; it is itself checked against
//! [`crate::reference::conv::conv`] in the tests. Other ranks use the reference directly.

use crate::compare::Tolerance;
use crate::error::{Error, Result};
use crate::graph::{Graph, Node, NodeId, Op, Operand};
use crate::ops::{Activation, ConvSpec};
use crate::reference;
use crate::reference::activation::apply;
use crate::tensor::{Tensor, numel};

/// Runs `g` on `inputs` (one per graph input, in order) and returns the outputs.
pub fn run(g: &Graph, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
    let values = run_all(g, inputs)?;
    Ok(g.outputs()
        .iter()
        .map(|v| values[v.0].clone().expect("outputs are computed"))
        .collect())
}

/// Runs `g` and returns every value (inputs and node outputs, indexed by `ValueId`).
pub fn run_all(g: &Graph, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
    let mut values = start(g, inputs)?;
    for node in g.nodes() {
        let out = eval_node(g, node, &values)?;
        values[node.output.0] = Some(out);
    }
    Ok(values)
}

/// [`crate::weights::calibrate_batch_norm`]: runs the graph, setting each BatchNorm's running
/// statistics from its actual input first.
pub(crate) fn run_calibrating(g: &mut Graph, inputs: &[Tensor]) -> Result<()> {
    let mut values = start(g, inputs)?;
    for i in 0..g.nodes().len() {
        let x = g.nodes()[i].inputs.first().copied();
        if let (Op::BatchNorm { mean, var, .. }, Some(x)) = (g.op_mut(NodeId(i)), x) {
            let t = values[x.0].as_ref().expect("topological order");
            let (m, v) = channel_stats(t);
            // Calibrated statistics must normalise without making the network ill-conditioned:
            // - One variance for the layer (the channels' average), so a channel that happens
            //   to vary little (mostly cut by a ReLU) is not blown up by 1/sqrt(var + eps).
            // - Channel means shrunk towards the layer's mean by count / (count + 16), count
            //   the values per channel: with few values (a batch of one at 1x1) the exact mean
            //   would cancel the signal, leaving rounding noise as the BN's output.
            // - The variance (about the means used) at least a tenth of the input's mean
            //   square, so a BN never magnifies its input's rounding error more than ~3x.
            let c = m.len().max(1) as f64;
            let count = (t.numel() / m.len().max(1)) as f64;
            let w = count / (count + 16.0);
            let layer_mean = m.iter().sum::<f64>() / c;
            let used: Vec<f64> = m.iter().map(|mc| w * mc + (1.0 - w) * layer_mean).collect();
            let layer_var = v
                .iter()
                .zip(&m)
                .zip(&used)
                .map(|((v, m), u)| v + (m - u) * (m - u))
                .sum::<f64>()
                / c;
            let mean_sq = v.iter().zip(&m).map(|(v, m)| v + m * m).sum::<f64>() / c;
            let layer_var = layer_var.max(0.1 * mean_sq);
            mean.data_mut()
                .iter_mut()
                .zip(&used)
                .for_each(|(d, s)| *d = *s as f32);
            var.data_mut()
                .iter_mut()
                .for_each(|d| *d = layer_var.max(1e-6) as f32);
        }
        let node = &g.nodes()[i];
        let out = eval_node(g, node, &values)?;
        values[node.output.0] = Some(out);
    }
    Ok(())
}

/// The tolerance for a whole network's outputs, from every value of its CPU run.
///
/// `Tolerance::accumulation(k)` bounds one sum of k products by 0.5 * k * eps for operands in
/// [-1, 1]; its model (see `compare.rs`) is a rounding error of about k * eps * sigma, sigma
/// the products' RMS (at most 1/3 there), with a 1.5x margin: 0.5 * k * eps * 3 sigma. Here
/// sigma is the largest RMS of any activation in the network (He-scaled weights are below 1,
/// so products are no larger than activations). Layers are normalised (calibrated BatchNorm
/// that never magnifies more than ~3x, He-scaled weights), so an error passes through later
/// layers with gain about one; the rounding errors of different layers are independent, so
/// their variances add, and the bound at the output is 0.5 * eps * 3 sigma * sqrt(sum k^2)
/// over the layers of the longest path (`Graph::accumulation_depth_rss`, on the unoptimized
/// graph). A 1e-5 relative term covers the transcendental activations. Measured errors are a
/// few percent of it or less, and a wrong channel in one layer exceeds it
/// (the test `zoo::network_check_catches_a_small_corruption`).
pub fn network_tolerance(g: &Graph, values: &[Option<Tensor>]) -> Tolerance {
    let d = g.accumulation_depth_rss().max(1.0);
    let sigma = values
        .iter()
        .flatten()
        .map(rms)
        .fold(0.0f64, f64::max)
        .max(1e-3);
    Tolerance {
        atol: 0.5 * d * f32::EPSILON as f64 * 3.0 * sigma,
        rtol: 1e-5,
    }
}

fn rms(t: &Tensor) -> f64 {
    let s: f64 = t.data().iter().map(|&v| (v as f64) * (v as f64)).sum();
    (s / t.numel().max(1) as f64).sqrt()
}

/// Per-channel (dim 1) mean and population variance in f64.
fn channel_stats(t: &Tensor) -> (Vec<f64>, Vec<f64>) {
    let s = t.shape();
    let (n, c) = (s[0], s[1]);
    let inner = numel(&s[2..]);
    let mut mean = vec![0.0; c];
    let mut var = vec![0.0; c];
    let count = (n * inner).max(1) as f64;
    for ch in 0..c {
        let mut sum = 0.0;
        let mut sq = 0.0;
        for b in 0..n {
            for &x in &t.data()[(b * c + ch) * inner..][..inner] {
                sum += x as f64;
                sq += x as f64 * x as f64;
            }
        }
        let m = sum / count;
        mean[ch] = m;
        var[ch] = (sq / count - m * m).max(0.0);
    }
    (mean, var)
}

fn start(g: &Graph, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
    if inputs.len() != g.inputs().len() {
        return Err(Error::invalid_op(
            "graph",
            format!(
                "expects {} input(s), got {}",
                g.inputs().len(),
                inputs.len()
            ),
        ));
    }
    let mut values: Vec<Option<Tensor>> = vec![None; g.values().len()];
    for (&v, t) in g.inputs().iter().zip(inputs) {
        if t.shape() != g.shape(v) {
            return Err(Error::invalid_op(
                format!("graph input {:?}", g.value(v).name),
                format!("expects shape {:?}, got {:?}", g.shape(v), t.shape()),
            ));
        }
        values[v.0] = Some(t.clone());
    }
    Ok(values)
}

fn eval_node(g: &Graph, node: &Node, values: &[Option<Tensor>]) -> Result<Tensor> {
    let ins: Vec<&Tensor> = node
        .inputs
        .iter()
        .map(|v| values[v.0].as_ref().expect("topological order"))
        .collect();
    let out_shape = g.shape(node.output);
    eval(&node.op, &ins, out_shape).map_err(|e| match e {
        Error::InvalidOp { op, message } => Error::invalid_op(
            format!("node {:?} ({}): {op}", node.name, node.op.kind()),
            message,
        ),
        e => e,
    })
}

/// `act(t + residual)` elementwise, in f64.
fn finish(mut t: Tensor, residual: Option<&Tensor>, act: Activation) -> Tensor {
    match residual {
        Some(r) => t
            .data_mut()
            .iter_mut()
            .zip(r.data())
            .for_each(|(y, &r)| *y = apply(act, *y as f64 + r as f64) as f32),
        None if act != Activation::Identity => t
            .data_mut()
            .iter_mut()
            .for_each(|y| *y = apply(act, *y as f64) as f32),
        None => {}
    }
    t
}

/// `x[n, c, ..] * s[n, c]` for `s` `[N, C, 1, ..]`, rounded to f32 like the graph's `Mul`.
fn scale_channels(x: &Tensor, s: &Tensor) -> Tensor {
    let mut y = x.clone();
    let plane: usize = x.shape()[2..].iter().product();
    if plane > 0 {
        for (block, &f) in y.data_mut().chunks_mut(plane).zip(s.data()) {
            block.iter_mut().for_each(|v| *v *= f);
        }
    }
    y
}

/// A weight slot's tensor: the constant, or the node input it reads.
fn operand<'a>(o: &'a Operand, ins: &[&'a Tensor]) -> &'a Tensor {
    match o {
        Operand::Const(t) => t,
        Operand::Input { index, .. } => ins[*index],
    }
}

/// Evaluates one op.
pub fn eval(op: &Op, ins: &[&Tensor], out_shape: &[usize]) -> Result<Tensor> {
    // An empty output needs no work; the references' loops over its other dimensions (which
    // may be huge: `[0, 1 << 40]` is a valid empty shape) would only spin.
    if numel(out_shape) == 0 {
        return Ok(Tensor::zeros(out_shape.to_vec()));
    }
    let t = match op {
        Op::Conv {
            spec,
            weight,
            bias,
            epilogue,
        } => {
            let (w, b) = (operand(weight, ins), bias.as_ref().map(|b| operand(b, ins)));
            let scaled = op
                .input_scale_input()
                .map(|i| scale_channels(ins[0], ins[i]));
            let x = scaled.as_ref().unwrap_or(ins[0]);
            let y = if spec.rank() == 2 {
                conv2d(spec, x, w, b)?
            } else {
                reference::conv::conv(spec, x, w, b)?
            };
            let res = epilogue.residual.then(|| ins[ins.len() - 1]);
            finish(y, res, epilogue.activation)
        }
        Op::ConvTranspose {
            spec,
            weight,
            bias,
            epilogue,
        } => {
            let (w, b) = (operand(weight, ins), bias.as_ref().map(|b| operand(b, ins)));
            let y = reference::conv_transpose::conv_transpose(spec, ins[0], w, b)?;
            let res = epilogue.residual.then(|| ins[ins.len() - 1]);
            finish(y, res, epilogue.activation)
        }
        Op::BatchNorm { .. } => {
            let (scale, shift) = crate::graph::passes::batch_norm_affine(op).expect("batch norm");
            reference::channel_affine::channel_affine(
                ins[0],
                &scale,
                &shift,
                None,
                Activation::Identity,
            )?
        }
        Op::ChannelAffine {
            scale,
            shift,
            activation,
            residual,
        } => {
            let s: Vec<f64> = scale.data().iter().map(|&v| v as f64).collect();
            let b: Vec<f64> = shift.data().iter().map(|&v| v as f64).collect();
            reference::channel_affine::channel_affine(
                ins[0],
                &s,
                &b,
                residual.then(|| ins[1]),
                *activation,
            )?
        }
        Op::Activation(a) => reference::eltwise::unary(*a, ins[0]),
        Op::Binary { op, activation } => {
            reference::eltwise::binary(*op, *activation, ins[0], ins[1])?
        }
        Op::Constant { value } => value.clone(),
        Op::Where => reference::eltwise::where_select(ins[0], ins[1], ins[2])?,
        Op::Linear {
            weight,
            bias,
            activation,
        } => {
            let y = reference::matmul::linear(ins[0], weight, bias.as_ref())?;
            finish(y, None, *activation)
        }
        Op::MatMul => reference::matmul::matmul(ins[0], ins[1])?,
        Op::Pool(spec) => reference::pool::pool(spec, ins[0])?,
        Op::GlobalPool(kind) => reference::pool::global_pool(*kind, ins[0])?,
        Op::Softmax { axis, kind } => reference::softmax::softmax_kind(*kind, *axis, ins[0])?,
        Op::Reduce(spec) => reference::reduce::reduce(spec, ins[0])?,
        Op::Norm { spec, scale, bias } => {
            reference::norm::norm(spec, ins[0], scale.as_ref(), bias.as_ref())?
        }
        Op::Flatten { .. } | Op::Reshape { .. } => ins[0].clone().reshape(out_shape.to_vec())?,
        Op::Dropout { .. } | Op::Identity => ins[0].clone(),
        Op::Transpose { perm } => reference::rearrange::transpose(perm, ins[0])?,
        Op::Reverse { axes } => reference::rearrange::reverse(ins[0], axes)?,
        Op::Expand { shape } => reference::rearrange::expand(ins[0], shape)?,
        Op::PixelShuffle(p) => reference::rearrange::pixel_shuffle(p, ins[0])?,
        Op::SpaceToDepth(p) => reference::rearrange::space_to_depth(p, ins[0])?,
        Op::ChannelShuffle(p) => reference::rearrange::channel_shuffle(p, ins[0])?,
        Op::Resize(spec) => reference::resize::resize(spec, ins[0])?,
        Op::Pad { begin, end, value } => reference::pad::pad(ins[0], begin, end, *value)?,
        Op::Concat { axis } => reference::rearrange::concat(*axis, ins)?,
        Op::Slice {
            starts,
            ends,
            steps,
        } => reference::rearrange::slice(ins[0], starts, ends, steps)?,
        Op::SeGate {
            w1,
            b1,
            activation,
            w2,
            b2,
            ..
        } => reference::se_gate::se_gate(ins[0], w1, b1, *activation, w2, b2)?,
    };
    if t.shape() != out_shape {
        return Err(Error::invalid_op(
            op.kind(),
            format!(
                "CPU result has shape {:?}, shape inference said {out_shape:?}",
                t.shape()
            ),
        ));
    }
    Ok(t)
}

/// 2-D convolution plus bias, f64 accumulation, PyTorch semantics (`x` `[N, C, H, W]`, `w`
/// `[O, C/g, kh, kw]`). For each output plane, every (input channel, tap) weight is swept
/// over the rows of valid output positions: the same sum as the definition, in an order that
/// streams memory.
pub fn conv2d(spec: &ConvSpec, x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let os = spec.output_shape(x.shape(), w.shape())?;
    let (n, c, h, wi) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (o, oh, ow) = (os[1], os[2], os[3]);
    if let Some(b) = bias
        && b.shape() != [o]
    {
        return Err(Error::invalid_op(
            "conv",
            format!("bias {:?} must be [{o}]", b.shape()),
        ));
    }
    let g = spec.groups;
    let (cpg, opg) = (c / g, o / g);
    let (kh, kw) = (spec.kernel[0], spec.kernel[1]);
    let (sh, sw) = (spec.stride[0], spec.stride[1]);
    let (dh, dw) = (spec.dilation[0], spec.dilation[1]);
    let (ph, pw) = (spec.pad_begin[0] as isize, spec.pad_begin[1] as isize);
    // Output columns whose tap kx lands inside the input: iw = ox*sw + kx*dw - pw in [0, W).
    let col_range = |kx: usize| -> (usize, usize) {
        let off = (kx * dw) as isize - pw;
        let lo = if off >= 0 {
            0
        } else {
            ((-off) as usize).div_ceil(sw)
        };
        let hi_excl = if (wi as isize) - off <= 0 {
            0
        } else {
            (((wi as isize - off) as usize).div_ceil(sw)).min(ow)
        };
        (lo.min(ow), hi_excl.max(lo.min(ow)))
    };
    let cols: Vec<(usize, usize)> = (0..kw).map(col_range).collect();
    let mut out = vec![0f32; numel(&os)];
    let mut acc = vec![0f64; oh * ow];
    for b in 0..n {
        for oc in 0..o {
            let grp = oc / opg;
            acc.fill(bias.map_or(0.0, |t| t.data()[oc] as f64));
            for ci in 0..cpg {
                let ic = grp * cpg + ci;
                let plane = &x.data()[(b * c + ic) * h * wi..][..h * wi];
                let wbase = (oc * cpg + ci) * kh * kw;
                for ky in 0..kh {
                    for oy in 0..oh {
                        let iy = (oy * sh + ky * dh) as isize - ph;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        let row = &plane[iy as usize * wi..][..wi];
                        let arow = &mut acc[oy * ow..][..ow];
                        for (kx, &(lo, hi)) in cols.iter().enumerate() {
                            let wv = w.data()[wbase + ky * kw + kx] as f64;
                            let off = (kx * dw) as isize - pw;
                            for (ox, a) in arow.iter_mut().enumerate().take(hi).skip(lo) {
                                let ix = (ox * sw) as isize + off;
                                *a += wv * row[ix as usize] as f64;
                            }
                        }
                    }
                }
            }
            let dst = &mut out[(b * o + oc) * oh * ow..][..oh * ow];
            for (d, a) in dst.iter_mut().zip(&acc) {
                *d = *a as f32;
            }
        }
    }
    Tensor::new(os, out)
}
