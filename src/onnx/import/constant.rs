//! Constants and pass-throughs: `Constant`, `Shape` (shapes are static, so it is always a
//! constant), `Identity` / `Dropout`, and the host folding of nodes whose inputs are all
//! constants (the exporters' shape arithmetic).

use super::{Importer, Val, missing_input, node_label, shape_ops};
use crate::error::{Error, Result};
use crate::graph::Op;
use crate::onnx::attrs::Attrs;
use crate::onnx::fold;
use crate::onnx::proto::NodeProto;
use crate::onnx::tensor::{Const, ConstData, unsupported_type};
use crate::ops::{Activation, BinaryOp};

pub(super) const OPS: &[&str] = &[
    "Constant", "Shape", "Size", "Identity", "Dropout", "Cast", "CastLike",
];

/// Ops imported only when every input is a constant (folded); there is no graph op for them.
#[cfg(test)]
pub(super) const FOLD_ONLY: &[&str] = &["ConstantOfShape"];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    Ok(Some(match node.op_type() {
        "Constant" => Val::Const(constant(node, a)?),
        "Shape" => {
            let x = im.dyn_in(node, 0)?;
            Val::Const(shape_const(&im.shape(x), a))
        }
        "CastLike" => im.cast_like(node)?,
        // Shapes are static: the element count is a constant (expanded layer norm's).
        "Size" => {
            let n = match im.get(node, 0)? {
                Some(Val::Const(c)) => c.len(),
                _ => {
                    let x = im.dyn_in(node, 0)?;
                    crate::tensor::numel(&im.shape(x))
                }
            };
            Val::Const(Const::i64(vec![], vec![n as i64]))
        }
        // Computed tensors are f32 (constant Casts fold before this): a Cast to float or
        // double is the identity (expanded functions cast to their stash type), to an integer
        // type a truncation toward zero (values beyond the type's range are not wrapped), to
        // bool `x != 0` (Not twice, NaN true).
        "Cast" => {
            let x = im.dyn_in(node, 0)?;
            let unary = |op| Op::Binary {
                op,
                activation: Activation::Identity,
            };
            match a.int("to", 0) {
                1 | 11 => Val::Dyn(x),
                2..=7 | 12 | 13 => {
                    Val::Dyn(im.add(node, index, Op::Activation(Activation::Trunc), &[x])?)
                }
                9 => {
                    let z = im.add(node, index, unary(BinaryOp::Not), &[x, x])?;
                    Val::Dyn(im.add(node, index, unary(BinaryOp::Not), &[z, z])?)
                }
                to => {
                    return Err(Error::invalid_op(
                        node_label(node),
                        format!(
                            "Cast of a computed tensor to type {to} has no lowering (float, double, integers and bool do)"
                        ),
                    ));
                }
            }
        }
        // "Identity" | "Dropout"
        _ => {
            let x = im
                .inference_dropout(node)?
                .get(node, 0)?
                .cloned()
                .ok_or_else(|| missing_input(node, 0))?;
            // Dropout's mask keeps every element (inference, or a ratio of 0): all true.
            if let Some(mask) = node.output.get(1).filter(|m| !m.is_empty()) {
                let shape = match &x {
                    Val::Const(c) => c.shape.clone(),
                    Val::Dyn(v) | Val::Gelu { value: Some(v), .. } => im.shape(*v),
                    Val::Gelu { .. } => {
                        let v = im.dyn_in(node, 0)?;
                        im.shape(v)
                    }
                };
                let ones = Const::i64(shape.clone(), vec![1; crate::tensor::numel(&shape)]);
                im.vals.insert(mask.clone(), Val::Const(ones));
            }
            x
        }
    }))
}

fn constant(node: &NodeProto, a: &Attrs<'_>) -> Result<Const> {
    if let Some(t) = a.tensor("value")? {
        return Ok(t);
    }
    if a.has("value_float") {
        return Ok(Const::f32(vec![], vec![a.float("value_float", 0.0)]));
    }
    if let Some(v) = a.floats("value_floats").filter(|_| a.has("value_floats")) {
        return Ok(Const::f32(vec![v.len()], v));
    }
    if a.has("value_int") {
        return Ok(Const::i64(vec![], vec![a.int("value_int", 0)]));
    }
    if let Some(v) = a.ints("value_ints") {
        return Ok(Const::i64(vec![v.len()], v));
    }
    Err(Error::invalid_op(
        node_label(node),
        "Constant without a supported value attribute",
    ))
}

/// `Shape` with the opset-15 `start` / `end` attributes.
fn shape_const(shape: &[usize], a: &Attrs<'_>) -> Const {
    let r = shape.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let (s, e) = (clamp(a.int("start", 0)), clamp(a.int("end", r)));
    let dims: Vec<i64> = shape[s..e.max(s)].iter().map(|&d| d as i64).collect();
    Const::i64(vec![dims.len()], dims)
}

impl Importer<'_> {
    /// `CastLike(x, like)`: `x` in the element type of `like`. Computed tensors are f32 in the
    /// engine, so a cast to a float type is the identity for them; a constant is converted
    /// (to integers by truncation, as Cast does).
    fn cast_like(&self, node: &NodeProto) -> Result<Val> {
        let like_int = match self.get(node, 1)? {
            Some(Val::Const(c)) => matches!(c.data, ConstData::I64(_)),
            Some(_) => false,
            None => {
                return Err(missing_input(node, "1 (target_type)"));
            }
        };
        match self.get(node, 0)?.cloned() {
            Some(Val::Const(x)) if like_int => {
                Ok(Val::Const(Const::i64(x.shape.clone(), x.as_i64())))
            }
            Some(Val::Const(x)) => Ok(Val::Const(Const::f32(x.shape.clone(), x.as_f32()))),
            Some(_) if like_int => Err(Error::invalid_op(
                node_label(node),
                "a computed tensor cast to an integer type: computed tensors are float",
            )),
            Some(v) => Ok(v),
            None => Err(missing_input(node, 0)),
        }
    }

    /// Itself, when `node` is not a Dropout in training mode (opset 12's input 2), which drops
    /// random elements: only inference (the identity) is supported. A zero ratio drops nothing.
    fn inference_dropout(&self, node: &NodeProto) -> Result<&Self> {
        if node.op_type() != "Dropout" || self.opset < 12 {
            return Ok(self);
        }
        let zero = |v: Option<&Val>| match v {
            Some(Val::Const(c)) => c.as_f32().iter().all(|&x| x == 0.0),
            _ => false,
        };
        let training = self.get(node, 2)?;
        if training.is_none() || zero(training) || zero(self.get(node, 1)?) {
            return Ok(self);
        }
        Err(self.unsupported(
            node,
            "training_mode is not a constant false and the ratio is not 0: training-mode Dropout (random) is not supported",
        ))
    }

    /// Folds a node whose inputs are all constants; `None` when the op is not foldable.
    pub(super) fn fold(&self, node: &NodeProto, a: &Attrs<'_>) -> Result<Option<Const>> {
        let c = |i: usize| self.need_const(node, i);
        Ok(Some(match node.op_type() {
            // A mask output is bound by `lower`.
            "Identity" | "Dropout" if node.output.len() < 2 => {
                self.inference_dropout(node)?.need_const(node, 0)?
            }
            "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Equal" | "Less" | "Greater"
            | "LessOrEqual" | "GreaterOrEqual" => fold::binary(node.op_type(), &c(0)?, &c(1)?)?,
            // Bool constants are 0 / 1 (any integer or float: non-zero is true).
            "Not" => {
                let x = c(0)?;
                let v = x.as_f32().iter().map(|&v| (v == 0.0) as i64).collect();
                Const::i64(x.shape.clone(), v)
            }
            "Shape" => shape_const(&c(0)?.shape, a),
            // Shape arithmetic (expanded layer norm negates a rank).
            "Neg" => {
                let x = c(0)?;
                match x.data {
                    ConstData::F32(v) => Const::f32(x.shape, v.iter().map(|v| -v).collect()),
                    ConstData::I64(v) => {
                        Const::i64(x.shape, v.iter().map(|v| v.wrapping_neg()).collect())
                    }
                }
            }
            "Gather" => fold::gather(&c(0)?, &c(1)?, a.int("axis", 0))?,
            "Concat" => {
                let parts = (0..node.input.len()).map(c).collect::<Result<Vec<_>>>()?;
                fold::concat(&parts, a.int("axis", 0))?
            }
            "Cast" => {
                let x = c(0)?;
                let to = a.int("to", 1);
                if let Some(why) = unsupported_type(i32::try_from(to).unwrap_or(-1)) {
                    return Err(a.error("to", why));
                }
                // TensorProto.DataType: 1 float, 10 float16, 11 double; everything else integral.
                match to {
                    1 | 10 | 11 => Const::f32(x.shape.clone(), x.as_f32()),
                    _ => Const::i64(x.shape.clone(), x.as_i64()),
                }
            }
            "ConstantOfShape" => {
                let dims = c(0)?.as_i64();
                let shape: Vec<usize> = dims
                    .iter()
                    .map(|&d| usize::try_from(d))
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        Error::invalid_op(
                            node_label(node),
                            format!("negative dimension in the shape {dims:?}"),
                        )
                    })?;
                let n = fold::fold_len("ConstantOfShape", &shape)?;
                match a.tensor("value")? {
                    Some(v) => match v.data {
                        ConstData::F32(x) => {
                            Const::f32(shape, vec![x.first().copied().unwrap_or(0.0); n])
                        }
                        ConstData::I64(x) => {
                            Const::i64(shape, vec![x.first().copied().unwrap_or(0); n])
                        }
                    },
                    None => Const::f32(shape, vec![0.0; n]),
                }
            }
            "Transpose" => {
                let x = c(0)?;
                let perm = shape_ops::transpose_perm(a, x.shape.len())?;
                fold::transpose(&x, &perm)?
            }
            "Unsqueeze" | "Squeeze" => {
                let x = c(0)?;
                let axes = self.axes(node, a, 1)?;
                let shape = shape_ops::squeeze_shape(node.op_type(), &x.shape, axes.as_deref())?;
                Const {
                    shape,
                    data: x.data,
                }
            }
            "Reshape" => {
                let x = c(0)?;
                let target = c(1)?.as_i64();
                let shape =
                    shape_ops::reshape_target(&x.shape, &target, a.int("allowzero", 0) != 0)?;
                Const {
                    shape,
                    data: x.data,
                }
            }
            "Slice" => {
                let x = c(0)?;
                let (starts, ends, axes, steps) = self.slice_args(node, a, x.shape.len())?;
                let mut picks: Vec<Vec<usize>> =
                    x.shape.iter().map(|&d| (0..d).collect()).collect();
                for (k, &ax) in axes.iter().enumerate() {
                    picks[ax] = fold::slice_indices(x.shape[ax], starts[k], ends[k], steps[k])?;
                }
                fold::slice(&x, &picks)
            }
            _ => return Ok(None),
        }))
    }
}
