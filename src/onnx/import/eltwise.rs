//! Elementwise and per-channel ops: activations (Clip becomes ReLU6 / ReLU where its bounds
//! say so; computed bounds are lowered in [`super::runtime`]), PRelu, inference
//! BatchNormalization (likewise with computed parameters), and Add / Sub / Mul / Div, where a
//! constant operand broadcast along the channels becomes a channel affine (any other constant a
//! `Constant` node read by the broadcasting binary kernel). Binary ops first offer
//! their operands to the GELU recogniser ([`super::gelu`]). [`Importer::binary_vals`] also
//! lowers Pow, Max and Min ([`super::math`]).

use super::gelu::Step;
use super::{Importer, Val, missing_input, node_label};
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
        "Gelu" => match a.string("approximate", "none").as_str() {
            "none" => Activation::Gelu,
            "tanh" => Activation::GeluTanh,
            other => {
                return Err(a.error(
                    "approximate",
                    format!("{other:?} is neither \"none\" nor \"tanh\""),
                ));
            }
        },
        "Clip" if im.opset >= 11 && (im.is_computed(node, 1)? || im.is_computed(node, 2)?) => {
            let x = im.dyn_in(node, 0)?;
            return Ok(Some(Val::Dyn(im.clip_runtime(node, index, x)?)));
        }
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
        let x = self.dyn_in(node, 0)?;
        let eps = a.float("epsilon", 1e-5);
        if a.int("training_mode", 0) != 0 {
            return self.batch_norm_training(node, index, x, eps, a.float("momentum", 0.9));
        }
        // Before opset 14 the statistics outputs meant training, which has no flag there.
        if node.output.iter().skip(1).any(|o| !o.is_empty()) {
            return Err(self.unsupported(
                node,
                "statistics outputs without training_mode (opset 14) are not supported",
            ));
        }
        if (1..=4).try_fold(false, |any, i| {
            Ok::<_, Error>(any || self.is_computed(node, i)?)
        })? {
            return self.batch_norm_runtime(node, index, x, eps);
        }
        let t = |i| self.need_const(node, i).map(|c| c.to_tensor());
        let op = Op::BatchNorm {
            gamma: Some(t(1)?),
            beta: Some(t(2)?),
            mean: t(3)?,
            var: t(4)?,
            eps,
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
        if let Some(Val::Dyn(s)) = self.get(node, 1)?.cloned() {
            // A computed slope of any shape broadcasting to x's:
            // prelu(x) = relu(x) + s * min(x, 0).
            let neg = Op::Activation(Activation::Clip {
                min: f32::MIN,
                max: 0.0,
            });
            let n = self.add(node, index, neg, &[x])?;
            let scaled = self.add(
                node,
                index,
                Op::Binary {
                    op: BinaryOp::Mul,
                    activation: Activation::Identity,
                },
                &[n, s],
            )?;
            let r = self.add(node, index, Op::Activation(Activation::Relu), &[x])?;
            return self.add(
                node,
                index,
                Op::Binary {
                    op: BinaryOp::Add,
                    activation: Activation::Identity,
                },
                &[r, scaled],
            );
        }
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

    /// A binary node: GELU's next step when it continues one ([`super::gelu`]), else
    /// [`Importer::binary_vals`].
    pub(super) fn binary(&mut self, node: &NodeProto, index: usize) -> Result<Val> {
        let operand = |i| {
            self.get(node, i)?
                .cloned()
                .ok_or_else(|| missing_input(node, i))
        };
        let (va, vb) = (operand(0)?, operand(1)?);
        let step = self.gelu_step(node, &va, &vb);
        if let Step::Done(x) = step {
            let y = self.add(node, index, Op::Activation(Activation::Gelu), &[x])?;
            return Ok(Val::Dyn(y));
        }
        let erf = [&va, &vb].into_iter().find_map(|v| match v {
            Val::Gelu { erf, .. } => Some(erf.clone()),
            _ => None,
        });
        let written = self.binary_vals(node, index, node.op_type(), va, vb);
        match (step, erf) {
            // A step that cannot be lowered on its own (a constant the channel affine cannot
            // take) is fine as long as only GELU reads it.
            (Step::Partial { x, stage }, Some(erf)) => Ok(Val::Gelu {
                x,
                stage,
                erf,
                value: match written {
                    Ok(Val::Dyn(v)) => Some(v),
                    _ => None,
                },
            }),
            _ => written,
        }
    }

    /// `a op b` for ONNX binary op `op_type` (Add, Sub, Mul, Div, Pow, Max, Min and the
    /// comparisons) on values of
    /// any kind: two computed tensors become a broadcasting binary node, a constant with a
    /// computed tensor an activation or channel affine ([`Importer::binary_const`]), two
    /// constants fold on the host.
    pub(super) fn binary_vals(
        &mut self,
        node: &NodeProto,
        index: usize,
        op_type: &str,
        a: Val,
        b: Val,
    ) -> Result<Val> {
        let plain = |v: Val| match v {
            Val::Gelu { value: Some(v), .. } => Ok(Val::Dyn(v)),
            Val::Gelu {
                erf, value: None, ..
            } => Err(Error::invalid_op(
                node_label(node),
                format!(
                    "reads a value computed from {erf} that wgconv lowers only as a part of GELU, x * 0.5 * (1 + erf(x / sqrt(2)))"
                ),
            )),
            v => Ok(v),
        };
        let y = match (plain(a)?, plain(b)?) {
            (Val::Dyn(x), Val::Dyn(y)) => {
                let op = BinaryOp::from_onnx(op_type).ok_or_else(|| {
                    Error::invalid_op(node_label(node), format!("{op_type} is not a binary op"))
                })?;
                let op = Op::Binary {
                    op,
                    activation: Activation::Identity,
                };
                self.add(node, index, op, &[x, y])?
            }
            (Val::Dyn(x), Val::Const(c)) => {
                self.binary_const(node, index, op_type, x, &c, false)?
            }
            (Val::Const(c), Val::Dyn(x)) => self.binary_const(node, index, op_type, x, &c, true)?,
            (Val::Const(p), Val::Const(q)) => {
                return Ok(Val::Const(crate::onnx::fold::binary(op_type, &p, &q)?));
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

    /// `x op c` (or `c op x`): Pow, Max and Min with a scalar constant become an activation;
    /// the arithmetic ops, with a constant broadcast along the channels, a channel affine.
    /// Any other constant becomes a `Constant` node read by the broadcasting binary kernel.
    pub(super) fn binary_const(
        &mut self,
        node: &NodeProto,
        index: usize,
        op_type: &str,
        x: ValueId,
        c: &Const,
        const_first: bool,
    ) -> Result<ValueId> {
        if let Some(y) = self.binary_const_fused(node, index, op_type, x, c, const_first)? {
            return Ok(y);
        }
        let op = BinaryOp::from_onnx(op_type).ok_or_else(|| {
            Error::invalid_op(node_label(node), format!("{op_type} is not a binary op"))
        })?;
        let name = format!("{}.constant", Self::base_name(node, index));
        let k = self.materialize(&node_label(node), &name, c)?;
        let op = Op::Binary {
            op,
            activation: Activation::Identity,
        };
        let ins = if const_first { [k, x] } else { [x, k] };
        self.add(node, index, op, &ins)
    }

    /// [`Importer::binary_const`] as an activation or channel affine, or `None` when the
    /// constant does not fit one.
    fn binary_const_fused(
        &mut self,
        node: &NodeProto,
        index: usize,
        op_type: &str,
        x: ValueId,
        c: &Const,
        const_first: bool,
    ) -> Result<Option<ValueId>> {
        if BinaryOp::from_onnx(op_type).is_some_and(BinaryOp::is_logic) {
            return Ok(None);
        }
        if matches!(op_type, "Pow" | "Max" | "Min") {
            let Some(act) = scalar_activation(op_type, c, const_first) else {
                return Ok(None);
            };
            return match act {
                // x^2 as x * x: exact, and no exp2 / log2.
                Activation::Pow { exponent: 2.0 } => {
                    let op = Op::Binary {
                        op: BinaryOp::Mul,
                        activation: Activation::Identity,
                    };
                    self.add(node, index, op, &[x, x])
                }
                act => self.add(node, index, Op::Activation(act), &[x]),
            }
            .map(Some);
        }
        // A constant divided by a computed tensor is no affine of it.
        if op_type == "Div" && const_first {
            return Ok(None);
        }
        let rank = self.shape(x).len();
        if rank < 2 && c.len() == 1 {
            return self
                .binary_const_low_rank(node, index, op_type, x, c, const_first)
                .map(Some);
        }
        let Some(ch_vals) = self.per_channel(x, c) else {
            return Ok(None);
        };
        let ch = ch_vals.len();
        let (scale, shift): (Vec<f32>, Vec<f32>) = match (op_type, const_first) {
            ("Add", _) => (vec![1.0; ch], ch_vals),
            ("Sub", false) => (vec![1.0; ch], ch_vals.iter().map(|v| -v).collect()),
            ("Sub", true) => (vec![-1.0; ch], ch_vals),
            ("Mul", _) => (ch_vals, vec![0.0; ch]),
            ("Div", false) => (ch_vals.iter().map(|v| 1.0 / v).collect(), vec![0.0; ch]),
            _ => return Ok(None),
        };
        self.affine(node, index, x, scale, shift).map(Some)
    }

    /// A scalar constant with a computed tensor of rank 0 or 1, which has no channel axis for
    /// the channel affine: viewed as `[1, n]` around it.
    fn binary_const_low_rank(
        &mut self,
        node: &NodeProto,
        index: usize,
        op_type: &str,
        x: ValueId,
        c: &Const,
        const_first: bool,
    ) -> Result<ValueId> {
        let shape = self.shape(x);
        let n = shape.iter().product::<usize>();
        let as_i64 = |s: &[usize]| s.iter().map(|&d| d as i64).collect::<Vec<_>>();
        let wide = self.add(
            node,
            index,
            Op::Reshape {
                shape: vec![1, n as i64],
            },
            &[x],
        )?;
        let y = self.binary_const(node, index, op_type, wide, c, const_first)?;
        self.add(
            node,
            index,
            Op::Reshape {
                shape: as_i64(&shape),
            },
            &[y],
        )
    }
}

/// The activation computing `x op c` for a scalar constant `c` (or `c op x` when
/// `const_first`): Max and Min a one-sided Clip (ReLU for max(x, 0)), Pow with a constant
/// exponent the Pow activation (Sqrt for 0.5, Identity for 1); `None` for any other constant,
/// a constant base, and NaN bounds (numpy's maximum propagates NaN, a clamp would not).
fn scalar_activation(op_type: &str, c: &Const, const_first: bool) -> Option<Activation> {
    if c.len() != 1 {
        return None;
    }
    let v = c.as_f32()[0];
    Some(match (op_type, const_first) {
        ("Pow", true) => return None,
        ("Pow", false) if v == 1.0 => Activation::Identity,
        ("Pow", false) if v == 0.5 => Activation::Sqrt,
        ("Pow", false) => Activation::Pow { exponent: v },
        ("Max" | "Min", _) if v.is_nan() => return None,
        ("Max", _) if v == 0.0 => Activation::Relu,
        ("Max", _) => Activation::Clip {
            min: v,
            max: f32::INFINITY,
        },
        _ => Activation::Clip {
            min: f32::NEG_INFINITY,
            max: v,
        },
    })
}
