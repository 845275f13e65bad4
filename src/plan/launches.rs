//! The launches of one node: the op's kernel family called with its shapes and bindings. One
//! match arm per op; a convolution's arm defers to its algorithm.

use crate::error::{Error, Result};
use crate::graph::{Node, Op, Operand};
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::kernels::channel_affine::{AffineBindings, channel_affine};
use crate::kernels::se_gate::{SeGateBindings, se_gate};
use crate::kernels::{
    Binding, ConvBindings, Launch, Target, conv_transpose, eltwise, matmul, norm, pad, pool,
    rearrange, reduce, resize, softmax,
};
use crate::ops::Activation;
use crate::tensor::numel;

/// True for ops that launch nothing: their output is their input seen with another shape.
pub fn is_view(op: &Op) -> bool {
    matches!(
        op,
        Op::Flatten { .. } | Op::Reshape { .. } | Op::Dropout { .. } | Op::Identity
    )
}

/// A convolution's bindings: a weight slot given at run time binds the node input it names,
/// a constant one its parameter (parameters in slot order); the input scale is the input
/// [`Op::input_scale_input`] names; the residual is the last input.
fn conv_bindings<B: Binding>(
    op: &Op,
    weight: &Operand,
    bias: Option<&Operand>,
    residual: bool,
    x: &[B],
    p: &[B],
    y: B,
) -> ConvBindings<B> {
    let mut params = p.iter().copied();
    let mut bind = |o: &Operand| match o.input() {
        Some(k) => x[k],
        None => params.next().expect("a parameter per constant weight slot"),
    };
    ConvBindings {
        input: x[0],
        weight: bind(weight),
        bias: bias.map(&mut bind),
        residual: residual.then(|| x[x.len() - 1]),
        input_scale: op.input_scale_input().map(|i| x[i]),
        output: y,
    }
}

/// `e` naming `node` when it is a kernel's refusal.
fn named(node: &Node, e: Error) -> Error {
    match e {
        Error::InvalidOp { op, message } => Error::invalid_op(
            format!("node {:?} ({}): {op}", node.name, node.op.kind()),
            message,
        ),
        e => e,
    }
}

/// The launches of a Concat `node` along `axis`: one copy per input into its place in the
/// output, except empty inputs and those whose producer wrote them there (`in_place`).
#[allow(clippy::too_many_arguments)]
pub fn concat_launches<B: Binding>(
    target: &Target,
    node: &Node,
    axis: usize,
    ins: &[&[usize]],
    out_shape: &[usize],
    x: &[B],
    y: B,
    in_place: &[bool],
) -> Result<Vec<Launch<B>>> {
    let mut out = Vec::with_capacity(x.len());
    let mut offset = 0;
    for i in 0..x.len() {
        if numel(ins[i]) > 0 && !in_place[i] {
            out.push(
                rearrange::copy_into(target, axis, ins[i], out_shape, offset, x[i], y)
                    .map_err(|e| named(node, e))?,
            );
        }
        offset += ins[i][axis];
    }
    Ok(out)
}

/// The launches of `node` for inputs of shapes `ins` bound at `x`, parameters at `p` (in
/// [`super::params::node_params`] order), the output at `y` (of shape `out_shape`), run as
/// `algorithm` with its `scratch` regions when it is a convolution.
#[allow(clippy::too_many_arguments)]
pub fn node_launches<B: Binding>(
    target: &Target,
    node: &Node,
    algorithm: Option<ConvAlgorithm>,
    scratch: &[B],
    ins: &[&[usize]],
    out_shape: &[usize],
    x: &[B],
    p: &[B],
    y: B,
) -> Result<Vec<Launch<B>>> {
    let named = |e: Error| named(node, e);
    if is_view(&node.op) {
        return Ok(Vec::new());
    }
    let d = match &node.op {
        Op::Conv {
            spec,
            weight,
            bias,
            epilogue,
        } => {
            let b = conv_bindings(&node.op, weight, bias.as_ref(), epilogue.residual, x, p, y);
            let a = algorithm.unwrap_or_else(|| {
                algorithm::single_pass_with(spec, ins[0], weight.shape(), epilogue)
            });
            return algorithm::conv_with(
                target,
                &a,
                spec,
                ins[0],
                weight.shape(),
                *epilogue,
                b,
                scratch,
            )
            .map_err(named);
        }
        Op::ConvTranspose {
            spec,
            weight,
            bias,
            epilogue,
        } => conv_transpose::conv_transpose(
            target,
            spec,
            ins[0],
            weight.shape(),
            *epilogue,
            conv_bindings(&node.op, weight, bias.as_ref(), epilogue.residual, x, p, y),
        ),
        Op::BatchNorm { .. } => channel_affine(
            target,
            ins[0],
            Activation::Identity,
            AffineBindings {
                input: x[0],
                scale: p[0],
                shift: p[1],
                residual: None,
                output: y,
            },
        ),
        Op::ChannelAffine {
            activation,
            residual,
            ..
        } => channel_affine(
            target,
            ins[0],
            *activation,
            AffineBindings {
                input: x[0],
                scale: p[0],
                shift: p[1],
                residual: residual.then(|| x[1]),
                output: y,
            },
        ),
        Op::Activation(a) => eltwise::unary(target, *a, x[0], y, numel(ins[0])),
        Op::Binary { op, activation } => {
            eltwise::binary(target, *op, *activation, (x[0], ins[0]), (x[1], ins[1]), y)
        }
        Op::Where => {
            eltwise::where_select(target, (x[0], ins[0]), (x[1], ins[1]), (x[2], ins[2]), y)
        }
        Op::Linear {
            weight, activation, ..
        } => matmul::linear(
            target,
            ins[0],
            weight.shape(),
            *activation,
            x[0],
            p[0],
            p.get(1).copied(),
            y,
        ),
        Op::MatMul => matmul::matmul(target, ins[0], ins[1], x[0], x[1], y),
        Op::Pool(spec) => pool::pool(target, spec, ins[0], x[0], y),
        Op::GlobalPool(kind) => pool::global_pool(target, *kind, ins[0], x[0], y),
        Op::Softmax { axis, kind } => softmax::softmax_kind(target, *kind, *axis, ins[0], x[0], y),
        Op::Reduce(spec) => reduce::reduce(target, spec, ins[0], x[0], y),
        Op::Norm { spec, .. } => norm::norm(
            target,
            spec,
            ins[0],
            norm::NormBindings {
                input: x[0],
                affine: spec.kind.has_affine().then(|| (p[0], p[1])),
                output: y,
            },
        ),
        Op::SeGate {
            b1,
            activation,
            pool,
            ..
        } => se_gate(
            target,
            ins[0][0],
            ins[0][1],
            b1.numel(),
            pool.then(|| numel(&ins[0][2..])),
            *activation,
            SeGateBindings {
                input: x[0],
                w1: p[0],
                b1: p[1],
                w2: p[2],
                b2: p[3],
                gate: y,
            },
        ),
        Op::PixelShuffle(s) => rearrange::pixel_shuffle(target, s, ins[0], x[0], y),
        Op::SpaceToDepth(s) => rearrange::space_to_depth(target, s, ins[0], x[0], y),
        Op::ChannelShuffle(s) => rearrange::channel_shuffle(target, s, ins[0], x[0], y),
        Op::Resize(spec) => resize::resize(target, spec, ins[0], x[0], p[0], y),
        Op::Pad { begin, end, value } => pad::pad(target, begin, end, *value, ins[0], x[0], y),
        Op::Transpose { perm } => rearrange::transpose(target, perm, ins[0], x[0], y),
        Op::Reverse { axes } => rearrange::reverse(target, ins[0], axes, x[0], y),
        Op::Expand { .. } => rearrange::expand(target, ins[0], out_shape, x[0], y),
        // The uploaded parameter copied into the output's region.
        Op::Constant { value } => rearrange::expand(target, value.shape(), out_shape, p[0], y),
        Op::Slice {
            starts,
            ends,
            steps,
        } => rearrange::slice(target, ins[0], starts, ends, steps, x[0], y),
        Op::Concat { axis } => {
            let in_place = vec![false; x.len()];
            return concat_launches(target, node, *axis, ins, out_shape, x, y, &in_place);
        }
        Op::Flatten { .. } | Op::Reshape { .. } | Op::Dropout { .. } | Op::Identity => {
            unreachable!("views return above")
        }
    };
    Ok(vec![d.map_err(named)?])
}
