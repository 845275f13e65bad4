//! Shape rules: the output shape of each [`Op`] for its input shapes, with the checks of its
//! parameters and arity.

use crate::ops::{Activation, broadcast_shape, pad_shape};
use crate::tensor::{Tensor, numel};

use super::Op;

fn check_vec(what: &str, t: &Tensor, len: usize) -> Result<(), String> {
    check_len(what, t.shape(), len)
}

fn check_len(what: &str, shape: &[usize], len: usize) -> Result<(), String> {
    if shape != [len] {
        return Err(format!("{what} has shape {shape:?}, expected [{len}]"));
    }
    Ok(())
}

/// A convolution's inputs: the data, its run-time weight slots (input k of the operand's
/// shape, in order from 1), its input scale `[N, C, 1, ..]` when fused, then the residual
/// when fused.
fn check_conv_inputs(op: &Op, inputs: &[&[usize]], residual: bool) -> Result<(), String> {
    let rt = op.runtime_operands();
    let scale = op.input_scale_input();
    arity(
        inputs,
        1 + rt.len() + scale.is_some() as usize + residual as usize,
    )?;
    if let Some(i) = scale {
        let x = inputs[0];
        let mut want = vec![1; x.len()];
        want[..2.min(x.len())].copy_from_slice(&x[..2.min(x.len())]);
        if inputs[i] != want.as_slice() {
            return Err(format!(
                "input scale {:?} must be [N, C, 1, ..] = {want:?} for input {x:?}",
                inputs[i]
            ));
        }
    }
    for (k, o) in rt.iter().enumerate() {
        if o.input() != Some(k + 1) {
            return Err(format!(
                "run-time weight slots must be inputs 1.., one reads input {:?}",
                o.input()
            ));
        }
        if inputs[k + 1] != o.shape() {
            return Err(format!(
                "input {} has shape {:?}, its weight slot is {:?}",
                k + 1,
                inputs[k + 1],
                o.shape()
            ));
        }
    }
    Ok(())
}

/// Parameters the kernels' `clamp` cannot take: WGSL leaves `clamp(x, lo, hi)` with
/// `lo > hi` to the implementation, and NaN bounds have no meaning.
fn check_activation(a: Activation) -> Result<(), String> {
    if let Activation::Clip { min, max } = a
        && (min.is_nan() || max.is_nan() || min > max)
    {
        return Err(format!("clip bounds min {min} > max {max} (or NaN)"));
    }
    Ok(())
}

fn arity(inputs: &[&[usize]], n: usize) -> Result<(), String> {
    if inputs.len() != n {
        return Err(format!("expects {n} input(s), got {}", inputs.len()));
    }
    Ok(())
}

impl Op {
    /// The output shape for these input shapes, or a message saying what does not fit.
    pub fn infer(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        match self {
            Op::Conv {
                spec,
                weight,
                bias,
                epilogue,
            } => {
                check_conv_inputs(self, inputs, epilogue.residual)?;
                let out = spec
                    .output_shape(inputs[0], weight.shape())
                    .map_err(|e| e.to_string())?;
                if let Some(b) = bias {
                    check_len("bias", b.shape(), out[1])?;
                }
                let last = inputs[inputs.len() - 1];
                if epilogue.residual && last != out.as_slice() {
                    return Err(format!(
                        "residual {last:?} must have the output's shape {out:?}"
                    ));
                }
                Ok(out)
            }
            Op::ConvTranspose {
                spec,
                weight,
                bias,
                epilogue,
            } => {
                if epilogue.input_scale {
                    return Err("a transposed convolution cannot scale its input".into());
                }
                check_conv_inputs(self, inputs, epilogue.residual)?;
                let out = spec
                    .output_shape(inputs[0], weight.shape())
                    .map_err(|e| e.to_string())?;
                if let Some(b) = bias {
                    check_len("bias", b.shape(), out[1])?;
                }
                let last = inputs[inputs.len() - 1];
                if epilogue.residual && last != out.as_slice() {
                    return Err(format!(
                        "residual {last:?} must have the output's shape {out:?}"
                    ));
                }
                Ok(out)
            }
            Op::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                eps,
            } => {
                arity(inputs, 1)?;
                let x = inputs[0];
                if x.len() < 2 {
                    return Err(format!("input {x:?} needs a channel dimension"));
                }
                let c = x[1];
                for (what, t) in [("running_mean", Some(mean)), ("running_var", Some(var))]
                    .into_iter()
                    .chain([("weight", gamma.as_ref()), ("bias", beta.as_ref())])
                {
                    if let Some(t) = t {
                        check_vec(what, t, c)?;
                    }
                }
                if eps.is_nan() || *eps <= 0.0 {
                    return Err(format!("eps {eps} must be positive"));
                }
                Ok(x.to_vec())
            }
            Op::ChannelAffine {
                scale,
                shift,
                residual,
                ..
            } => {
                arity(inputs, if *residual { 2 } else { 1 })?;
                let x = inputs[0];
                if x.len() < 2 {
                    return Err(format!("input {x:?} needs a channel dimension"));
                }
                check_vec("scale", scale, x[1])?;
                check_vec("shift", shift, x[1])?;
                if *residual && inputs[1] != x {
                    return Err(format!(
                        "residual {:?} must have the input's shape {x:?}",
                        inputs[1]
                    ));
                }
                Ok(x.to_vec())
            }
            Op::Activation(a) => {
                arity(inputs, 1)?;
                check_activation(*a)?;
                Ok(inputs[0].to_vec())
            }
            Op::Dropout { .. } | Op::Identity => {
                arity(inputs, 1)?;
                Ok(inputs[0].to_vec())
            }
            Op::Binary { .. } => {
                arity(inputs, 2)?;
                broadcast_shape(inputs[0], inputs[1]).map_err(|e| e.to_string())
            }
            Op::Constant { value } => {
                arity(inputs, 0)?;
                Ok(value.shape().to_vec())
            }
            Op::Where => {
                arity(inputs, 3)?;
                crate::ops::where_shape(inputs[0], inputs[1], inputs[2]).map_err(|e| e.to_string())
            }
            Op::Linear { weight, bias, .. } => {
                arity(inputs, 1)?;
                let x = inputs[0];
                let w = weight.shape();
                if x.len() != 2 || w.len() != 2 || x[1] != w[1] {
                    return Err(format!(
                        "input {x:?} must be [N, K] and weight {w:?} [M, K] with the same K"
                    ));
                }
                if let Some(b) = bias {
                    check_vec("bias", b, w[0])?;
                }
                Ok(vec![x[0], w[0]])
            }
            Op::MatMul => {
                arity(inputs, 2)?;
                crate::ops::matmul_output_shape(inputs[0], inputs[1]).map_err(|e| e.to_string())
            }
            Op::Pool(spec) => {
                arity(inputs, 1)?;
                spec.output_shape(inputs[0]).map_err(|e| e.to_string())
            }
            Op::GlobalPool(kind) => {
                arity(inputs, 1)?;
                crate::ops::global_pool_output_shape(*kind, inputs[0]).map_err(|e| e.to_string())
            }
            Op::Reduce(spec) => {
                arity(inputs, 1)?;
                spec.output_shape(inputs[0]).map_err(|e| e.to_string())
            }
            Op::Norm { spec, scale, bias } => {
                arity(inputs, 1)?;
                let x = inputs[0];
                let out = spec.output_shape(x).map_err(|e| e.to_string())?;
                for (what, t) in [("scale", scale), ("bias", bias)] {
                    match t {
                        Some(_) if !spec.kind.has_affine() => {
                            return Err(format!("{} takes no {what}", spec.kind.name()));
                        }
                        // Layer norm's are of the normalised shape: only the count matters.
                        Some(t) if t.numel() != spec.param_len(x) => {
                            return Err(format!(
                                "{what} has shape {:?}, expected {} elements",
                                t.shape(),
                                spec.param_len(x)
                            ));
                        }
                        Some(_) | None => {}
                    }
                }
                Ok(out)
            }
            Op::Softmax { axis, .. } => {
                arity(inputs, 1)?;
                if *axis >= inputs[0].len() {
                    return Err(format!("axis {axis} out of range"));
                }
                Ok(inputs[0].to_vec())
            }
            Op::Flatten { start } => {
                arity(inputs, 1)?;
                let x = inputs[0];
                if *start >= x.len() {
                    return Err(format!("start dim {start} out of range"));
                }
                let mut out = x[..*start].to_vec();
                out.push(x[*start..].iter().product());
                Ok(out)
            }
            Op::Reshape { shape } => {
                arity(inputs, 1)?;
                let x = inputs[0];
                let mut out = Vec::with_capacity(shape.len());
                let mut infer_at = None;
                for (i, &d) in shape.iter().enumerate() {
                    match d {
                        0 if i < x.len() => out.push(x[i]),
                        -1 if infer_at.is_none() => {
                            infer_at = Some(i);
                            out.push(1);
                        }
                        d if d > 0 => out.push(d as usize),
                        _ => return Err(format!("target shape {shape:?} is invalid")),
                    }
                }
                // Saturating: a target larger than the input fails the count check below.
                let known = out.iter().fold(1usize, |a, &d| a.saturating_mul(d));
                if let Some(i) = infer_at {
                    if known == 0 || !numel(x).is_multiple_of(known) {
                        return Err(format!("cannot infer -1 in {shape:?}"));
                    }
                    out[i] = numel(x) / known;
                }
                let count = out.iter().fold(1usize, |a, &d| a.saturating_mul(d));
                if count != numel(x) || crate::tensor::checked_numel(&out).is_none() {
                    return Err(format!(
                        "target {out:?} does not have the input's {} elements",
                        numel(x)
                    ));
                }
                Ok(out)
            }
            Op::Expand { shape } => {
                arity(inputs, 1)?;
                crate::ops::broadcast_shape(inputs[0], shape).map_err(|e| e.to_string())
            }
            Op::Reverse { axes } => {
                arity(inputs, 1)?;
                match axes.iter().find(|&&a| a >= inputs[0].len()) {
                    Some(a) => Err(format!("axis {a} is outside the rank of {:?}", inputs[0])),
                    None => Ok(inputs[0].to_vec()),
                }
            }
            Op::Transpose { perm } => {
                arity(inputs, 1)?;
                crate::ops::transpose_shape(perm, inputs[0]).map_err(|e| e.to_string())
            }
            Op::PixelShuffle(p) => {
                arity(inputs, 1)?;
                p.output_shape(inputs[0]).map_err(|e| e.to_string())
            }
            Op::SpaceToDepth(p) => {
                arity(inputs, 1)?;
                p.output_shape(inputs[0]).map_err(|e| e.to_string())
            }
            Op::ChannelShuffle(p) => {
                arity(inputs, 1)?;
                p.output_shape(inputs[0]).map_err(|e| e.to_string())
            }
            Op::Resize(spec) => {
                arity(inputs, 1)?;
                spec.output_shape(inputs[0]).map_err(|e| e.to_string())
            }
            Op::Pad { begin, end, .. } => {
                arity(inputs, 1)?;
                pad_shape(inputs[0], begin, end).map_err(|e| e.to_string())
            }
            Op::Concat { axis } => {
                if inputs.is_empty() {
                    return Err("needs at least one input".into());
                }
                let first = inputs[0];
                if *axis >= first.len() {
                    return Err(format!("axis {axis} out of range"));
                }
                let mut out = first.to_vec();
                out[*axis] = 0;
                for s in inputs {
                    if s.len() != first.len()
                        || s.iter()
                            .zip(first)
                            .enumerate()
                            .any(|(i, (a, b))| i != *axis && a != b)
                    {
                        return Err(format!("inputs must agree on every dimension but {axis}"));
                    }
                    out[*axis] = out[*axis]
                        .checked_add(s[*axis])
                        .ok_or_else(|| format!("concatenated dim {axis} overflows"))?;
                }
                Ok(out)
            }
            Op::Slice {
                starts,
                ends,
                steps,
            } => {
                arity(inputs, 1)?;
                let x = inputs[0];
                if starts.len() != x.len() || ends.len() != x.len() || steps.len() != x.len() {
                    return Err(format!(
                        "starts {starts:?}, ends {ends:?}, steps {steps:?} need {} entries",
                        x.len()
                    ));
                }
                let mut out = Vec::new();
                for d in 0..x.len() {
                    if steps[d] == 0 || starts[d] > x[d] || ends[d] > x[d] {
                        return Err(format!(
                            "dim {d}: range {}..{} step {} is outside 0..{} (or steps by 0)",
                            starts[d], ends[d], steps[d], x[d]
                        ));
                    }
                    // An empty range (start >= end) makes an empty tensor.
                    out.push(ends[d].saturating_sub(starts[d]).div_ceil(steps[d]));
                }
                Ok(out)
            }
            Op::SeGate {
                w1,
                b1,
                w2,
                b2,
                pool,
                ..
            } => {
                arity(inputs, 1)?;
                let x = inputs[0];
                if x.len() != 4 || (!pool && (x[2] != 1 || x[3] != 1)) || numel(&x[2..]) == 0 {
                    return Err(format!(
                        "input {x:?} must be {}",
                        if *pool {
                            "a non-empty [N, C, H, W] map"
                        } else {
                            "pooled to [N, C, 1, 1]"
                        }
                    ));
                }
                let (c, r) = (x[1], b1.numel());
                if w1.shape() != [r, c] || w2.shape() != [c, r] {
                    return Err(format!(
                        "fc1 {:?} / fc2 {:?} must be [{r}, {c}] / [{c}, {r}]",
                        w1.shape(),
                        w2.shape()
                    ));
                }
                check_vec("fc2.bias", b2, c)?;
                Ok(vec![x[0], c, 1, 1])
            }
        }
    }
}
