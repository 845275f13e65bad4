//! Elementwise math: the unary ops that are activations (Abs ... Mish, with their attributes
//! and the ONNX defaults), Pow, Max and Min on two operands, and the variadic Max / Min /
//! Sum / Mean, lowered to a chain of binary nodes (Mean: the Sum chain times 1 / N); the
//! comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual) and Not as binary rows
//! producing the engine's bool, 1.0 / 0.0 in f32 (ONNX bool outputs compare as 0 / 1); Where
//! as the ternary select kernel (a constant operand read as a `Constant` node).

use super::{Importer, Val, missing_input, node_label};
use crate::error::{Error, Result};
use crate::graph::Op;
use crate::onnx::attrs::Attrs;
use crate::onnx::proto::NodeProto;
use crate::onnx::tensor::Const;
use crate::ops::{Activation, BinaryOp};

pub(super) const OPS: &[&str] = &[
    "Abs",
    "Neg",
    "Exp",
    "Log",
    "Sqrt",
    "Reciprocal",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Softplus",
    "Softsign",
    "Elu",
    "Selu",
    "Celu",
    "ThresholdedRelu",
    "Mish",
    "Pow",
    "Max",
    "Min",
    "Sum",
    "Mean",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
    "Not",
    "Where",
];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let act = match node.op_type() {
        "Abs" => Activation::Abs,
        "Neg" => Activation::Neg,
        "Exp" => Activation::Exp,
        "Log" => Activation::Log,
        "Sqrt" => Activation::Sqrt,
        "Reciprocal" => Activation::Reciprocal,
        "Floor" => Activation::Floor,
        "Ceil" => Activation::Ceil,
        "Round" => Activation::Round,
        "Sign" => Activation::Sign,
        "Softplus" => Activation::Softplus,
        "Softsign" => Activation::Softsign,
        "Mish" => Activation::Mish,
        // Defaults from the ONNX operator specs (unchanged in every opset that has the op).
        "Elu" => Activation::Elu {
            alpha: a.float_strict("alpha", 1.0)?,
        },
        "Selu" => Activation::Selu {
            alpha: a.float_strict("alpha", 1.673_263_2)?,
            gamma: a.float_strict("gamma", 1.050_701)?,
        },
        "Celu" => {
            let alpha = a.float_strict("alpha", 1.0)?;
            // CELU divides by alpha; the spec leaves alpha = 0 undefined.
            if alpha == 0.0 || !alpha.is_finite() {
                return Err(a.error(
                    "alpha",
                    format!("{alpha} (CELU needs a finite non-zero alpha)"),
                ));
            }
            Activation::Celu { alpha }
        }
        "ThresholdedRelu" => Activation::ThresholdedRelu {
            alpha: a.float_strict("alpha", 1.0)?,
        },
        "Pow" | "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" => {
            return im.binary(node, index).map(Some);
        }
        "Where" => {
            let ins = (0..3)
                .map(|i| im.dyn_in(node, i))
                .collect::<Result<Vec<_>>>()?;
            return Ok(Some(Val::Dyn(im.add(node, index, Op::Where, &ins)?)));
        }
        "Not" => {
            // The binary kernel's Not reads only its first operand: bind x twice.
            let x = im.dyn_in(node, 0)?;
            let op = Op::Binary {
                op: BinaryOp::Not,
                activation: Activation::Identity,
            };
            return Ok(Some(Val::Dyn(im.add(node, index, op, &[x, x])?)));
        }
        // "Max" | "Min" | "Sum" | "Mean" with any number of inputs
        _ => return variadic(im, node, index).map(Some),
    };
    let x = im.dyn_in(node, 0)?;
    Ok(Some(Val::Dyn(im.add(
        node,
        index,
        Op::Activation(act),
        &[x],
    )?)))
}

/// Max / Min / Sum / Mean of N >= 1 inputs (numpy-broadcast together): a chain of binary
/// nodes, left to right; Mean multiplies the Sum chain by 1 / N.
fn variadic(im: &mut Importer<'_>, node: &NodeProto, index: usize) -> Result<Val> {
    let op_type = node.op_type();
    let vals = node
        .input
        .iter()
        .enumerate()
        .filter(|(_, name)| !name.is_empty())
        .map(|(i, _)| {
            im.get(node, i)?
                .cloned()
                .ok_or_else(|| missing_input(node, i))
        })
        .collect::<Result<Vec<Val>>>()?;
    let Some((first, rest)) = vals.split_first() else {
        return Err(Error::invalid_op(
            node_label(node),
            format!("{op_type} needs at least one input"),
        ));
    };
    let step = match op_type {
        "Max" => "Max",
        "Min" => "Min",
        _ => "Add",
    };
    let mut acc = first.clone();
    for v in rest {
        acc = im.binary_vals(node, index, step, acc, v.clone())?;
    }
    if op_type == "Mean" && !rest.is_empty() {
        let inv = Const::f32(vec![], vec![1.0 / vals.len() as f32]);
        acc = im.binary_vals(node, index, "Mul", acc, Val::Const(inv))?;
    }
    Ok(acc)
}
