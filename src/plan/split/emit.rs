//! Turning a split node's [`Part`]s into kernel launches on plan slices.

use super::{Bind, Part};
use crate::error::Result;
use crate::graph::Node;
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::kernels::rearrange::strided_copy;
use crate::kernels::{ConvBindings, Launch, Target, conv_transpose, matmul};
use crate::plan::launches::node_launches;
use crate::plan::{Slice, Store};

impl Bind {
    /// The plan's binding for this one.
    fn slice(&self) -> Slice {
        match *self {
            Bind::Store {
                store,
                offset,
                size,
            } => Slice {
                store,
                offset,
                size,
            },
            Bind::Slot { slot, size } => Slice {
                store: Store::Staging(slot),
                offset: 0,
                size,
            },
        }
    }
}

/// The launches of a split node's `parts` (its own kernel, run as `algorithm`, on each chunk's
/// shapes for [`Part::Node`]).
pub(crate) fn emit(
    target: &Target,
    node: &Node,
    algorithm: Option<ConvAlgorithm>,
    out_shape: &[usize],
    parts: Vec<Part>,
) -> Result<Vec<Launch<Slice>>> {
    let b = |x: &Bind| x.slice();
    // Conv and ConvTranspose parts bind their buffers alike.
    let conv_bindings =
        |input, weight, bias: &Option<Bind>, residual: &Option<Bind>, scale: &Option<Bind>, y| {
            ConvBindings {
                input: b(input),
                weight: b(weight),
                bias: bias.as_ref().map(b),
                residual: residual.as_ref().map(b),
                input_scale: scale.as_ref().map(b),
                output: b(y),
            }
        };
    let mut out = Vec::new();
    for l in &parts {
        let d = match l {
            Part::Copy { plan, src, dst } => {
                strided_copy(target, "split copy", plan, b(src), b(dst))?
            }
            Part::Node {
                shapes,
                ins,
                params: ps,
                out: y,
            } => {
                let shapes: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
                let ins: Vec<Slice> = ins.iter().map(b).collect();
                let ps: Vec<Slice> = ps.iter().map(b).collect();
                out.extend(node_launches(
                    target,
                    node,
                    algorithm,
                    &[],
                    &shapes,
                    out_shape,
                    &ins,
                    &ps,
                    b(y),
                )?);
                continue;
            }
            Part::Conv {
                spec,
                in_shape,
                w_shape,
                epilogue,
                input,
                weight,
                bias,
                residual,
                scale,
                out: y,
            } => {
                // Each chunk is a convolution of its own geometry, run single-pass.
                let a = algorithm::single_pass_with(spec, in_shape, w_shape, epilogue);
                let bindings = conv_bindings(input, weight, bias, residual, scale, y);
                out.extend(algorithm::conv_with(
                    target,
                    &a,
                    spec,
                    in_shape,
                    w_shape,
                    *epilogue,
                    bindings,
                    &[],
                )?);
                continue;
            }
            Part::ConvTranspose {
                spec,
                in_shape,
                w_shape,
                epilogue,
                input,
                weight,
                bias,
                residual,
                out: y,
            } => conv_transpose::conv_transpose(
                target,
                spec,
                in_shape,
                w_shape,
                *epilogue,
                conv_bindings(input, weight, bias, residual, &None, y),
            )?,
            Part::Linear {
                x_shape,
                w_shape,
                activation,
                x,
                w,
                bias,
                out: y,
            } => matmul::linear(
                target,
                x_shape,
                w_shape,
                *activation,
                b(x),
                b(w),
                bias.as_ref().map(b),
                b(y),
            )?,
        };
        out.push(d);
    }
    Ok(out)
}
