//! Elementwise and per-channel ops: activations (Clip becomes ReLU6 / ReLU where its bounds
//! say so), PRelu, inference BatchNormalization, and Add / Sub / Mul / Div, where a constant
//! operand broadcast along the channels becomes a channel affine. Binary ops first offer
//! their operands to the GELU recogniser ([`super::gelu`]).

use super::{Importer, Val, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, ValueId};
use crate::onnx::attrs::Attrs;
use crate::onnx::proto::NodeProto;
use crate::onnx::tensor::Const;
use crate::ops::{Activation, BinaryOp};
use crate::tensor::Tensor;

pub(super) const OPS: &[&str] = &[
    "Relu",
    "Sigmoid",
    "Tanh",
    "LeakyRelu",
    "HardSigmoid",
    "HardSwish",
    "Gelu",
    "Clip",
    "PRelu",
    "BatchNormalization",
    "Add",
    "Sub",
    "Mul",
    "Div",
];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let act = match node.op_type() {
        "Relu" => Activation::Relu,
        "Sigmoid" => Activation::Sigmoid,
        "Tanh" => Activation::Tanh,
        "LeakyRelu" => Activation::LeakyRelu {
            slope: a.float("alpha", 0.01),
        },
        "HardSigmoid" => Activation::HardSigmoid {
            alpha: a.float("alpha", 0.2),
            beta: a.float("beta", 0.5),
        },
        "HardSwish" => Activation::HardSwish,
        "Gelu" => Activation::Gelu,
        "Clip" => im.clip(node, a)?,
        "PRelu" => return Ok(Some(Val::Dyn(im.prelu(node, index)?))),
        "BatchNormalization" => return Ok(Some(Val::Dyn(im.batch_norm(node, index, a)?))),
        // "Add" | "Sub" | "Mul" | "Div"
        _ => return im.binary(node, index).map(Some),
    };
    let x = im.dyn_in(node, 0)?;
    Ok(Some(Val::Dyn(im.add(
        node,
        index,
        Op::Activation(act),
        &[x],
    )?)))
}

impl Importer<'_> {
    fn clip(&self, node: &NodeProto, a: &Attrs<'_>) -> Result<Activation> {
        let (min, max) = if self.opset < 11 {
            (a.float("min", f32::MIN), a.float("max", f32::MAX))
        } else {
            let bound = |i: usize, default: f32| -> Result<f32> {
                match self.const_in(node, i)? {
                    None => Ok(default),
                    Some(c) => c.as_f32().first().copied().ok_or_else(|| {
                        Error::invalid_op(
                            node_label(node),
                            format!("input {i} (a bound) is an empty tensor"),
                        )
                    }),
                }
            };
            (bound(1, f32::MIN)?, bound(2, f32::MAX)?)
        };
        if min.is_nan() || max.is_nan() {
            return Err(Error::invalid_op(
                node_label(node),
                format!("NaN bound (min {min}, max {max})"),
            ));
        }
        // ONNX: with min > max every output is max.
        let min = min.min(max);
        Ok(match (min, max) {
            (0.0, 6.0) => Activation::Relu6,
            (0.0, m) if m == f32::MAX => Activation::Relu,
            _ => Activation::Clip { min, max },
        })
    }

    fn batch_norm(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        if a.int("training_mode", 0) != 0 || node.output.iter().skip(1).any(|o| !o.is_empty()) {
            return Err(Error::invalid_op(
                node_label(node),
                "training-mode BatchNormalization is not supported (inference only)",
            ));
        }
        let x = self.dyn_in(node, 0)?;
        let t = |i| self.need_const(node, i).map(|c| c.to_tensor());
        let op = Op::BatchNorm {
            gamma: Some(t(1)?),
            beta: Some(t(2)?),
            mean: t(3)?,
            var: t(4)?,
            eps: a.float("epsilon", 1e-5),
        };
        self.add(node, index, op, &[x])
    }

    /// Per-channel values broadcast from a constant operand of `x`, if it broadcasts along the
    /// channel axis only.
    fn per_channel(&self, x: ValueId, c: &Const) -> Option<Vec<f32>> {
        let xs = self.shape(x);
        if xs.len() < 2 || c.shape.len() > xs.len() {
            return None;
        }
        let lead = xs.len() - c.shape.len();
        let ch = xs[1];
        let mut per = false;
        for (d, &n) in c.shape.iter().enumerate() {
            let axis = lead + d;
            if n == 1 {
                continue;
            }
            if axis == 1 && n == ch {
                per = true;
            } else {
                return None;
            }
        }
        let v = c.as_f32();
        Some(if per { v } else { vec![v[0]; ch] })
    }

    fn affine(
        &mut self,
        node: &NodeProto,
        index: usize,
        x: ValueId,
        scale: Vec<f32>,
        shift: Vec<f32>,
    ) -> Result<ValueId> {
        let ch = scale.len();
        let op = Op::ChannelAffine {
            scale: Tensor::new(vec![ch], scale)?,
            shift: Tensor::new(vec![ch], shift)?,
            activation: Activation::Identity,
            residual: false,
        };
        self.add(node, index, op, &[x])
    }

    fn prelu(&mut self, node: &NodeProto, index: usize) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let slope = self.need_const(node, 1)?;
        if slope.len() == 1 {
            let op = Op::Activation(Activation::LeakyRelu {
                slope: slope.as_f32()[0],
            });
            return self.add(node, index, op, &[x]);
        }
        let s = self.per_channel(x, &slope).ok_or_else(|| {
            Error::invalid_op(
                node_label(node),
                format!("slope {:?} must be a scalar or per-channel", slope.shape),
            )
        })?;
        // prelu(x) = (1 - s) * relu(x) + s * x, as a ReLU and one affine with a residual.
        let ch = s.len();
        let r = self.add(node, index, Op::Activation(Activation::Relu), &[x])?;
        let r_scaled = self.affine(
            node,
            index,
            r,
            s.iter().map(|v| 1.0 - v).collect(),
            vec![0.0; ch],
        )?;
        let op = Op::ChannelAffine {
            scale: Tensor::new(vec![ch], s)?,
            shift: Tensor::zeros(vec![ch]),
            activation: Activation::Identity,
            residual: true,
        };
        self.add(node, index, op, &[x, r_scaled])
    }

    fn binary(&mut self, node: &NodeProto, index: usize) -> Result<Val> {
        let (va, vb) = (self.get(node, 0)?.cloned(), self.get(node, 1)?.cloned());
        if let (Some(a), Some(b)) = (&va, &vb)
            && let Some(v) = self.gelu_step(node, index, a, b)?
        {
            return Ok(v);
        }
        let op_type = node.op_type();
        let y = match (va, vb) {
            (Some(Val::Dyn(x)), Some(Val::Dyn(y))) => {
                let op = match op_type {
                    "Add" => BinaryOp::Add,
                    "Sub" => BinaryOp::Sub,
                    "Mul" => BinaryOp::Mul,
                    _ => BinaryOp::Div,
                };
                let op = Op::Binary {
                    op,
                    activation: Activation::Identity,
                };
                self.add(node, index, op, &[x, y])?
            }
            (Some(Val::Dyn(x)), Some(Val::Const(c))) => {
                self.binary_const(node, index, x, &c, false)?
            }
            (Some(Val::Const(c)), Some(Val::Dyn(x))) => {
                self.binary_const(node, index, x, &c, true)?
            }
            _ => {
                return Err(Error::invalid_op(
                    node_label(node),
                    "operands must be computed tensors or constants",
                ));
            }
        };
        Ok(Val::Dyn(y))
    }

    /// `x op c` (or `c op x`) for a constant broadcast along the channels: a channel affine.
    fn binary_const(
        &mut self,
        node: &NodeProto,
        index: usize,
        x: ValueId,
        c: &Const,
        const_first: bool,
    ) -> Result<ValueId> {
        let op_type = node.op_type();
        let ch_vals = self.per_channel(x, c).ok_or_else(|| {
            Error::invalid_op(
                node_label(node),
                format!(
                    "constant operand {:?} with computed {:?}: only scalars and per-channel constants are supported",
                    c.shape,
                    self.shape(x)
                ),
            )
        })?;
        let ch = ch_vals.len();
        let (scale, shift): (Vec<f32>, Vec<f32>) = match (op_type, const_first) {
            ("Add", _) => (vec![1.0; ch], ch_vals),
            ("Sub", false) => (vec![1.0; ch], ch_vals.iter().map(|v| -v).collect()),
            ("Sub", true) => (vec![-1.0; ch], ch_vals),
            ("Mul", _) => (ch_vals, vec![0.0; ch]),
            ("Div", false) => (ch_vals.iter().map(|v| 1.0 / v).collect(), vec![0.0; ch]),
            _ => {
                return Err(Error::invalid_op(
                    node_label(node),
                    "a constant divided by a computed tensor is not supported",
                ));
            }
        };
        self.affine(node, index, x, scale, shift)
    }
}
