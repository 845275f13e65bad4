//! Weight slots given at run time (a graph input or any computed tensor where a model usually
//! has an initializer): BatchNormalization's statistics and affine, Clip's bounds, Gemm's B and
//! C, a normalisation's scale and bias. Constant operands keep their fused kernels; a computed
//! one is lowered onto the broadcasting graph ops, which read it as written. Convolutions bind
//! a computed weight directly ([`crate::graph::Operand`], in [`super::conv`]).

use super::{Importer, Val, missing_input, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, ValueId};
use crate::onnx::proto::NodeProto;
use crate::onnx::tensor::Const;
use crate::ops::{Activation, NormKind, NormSpec, ReduceKind, ReduceSpec};

impl Importer<'_> {
    /// Input `i` as a value: a constant or a computed tensor; `None` when absent.
    pub(super) fn operand(&mut self, node: &NodeProto, i: usize) -> Result<Option<Val>> {
        Ok(match self.get(node, i)? {
            None => None,
            Some(Val::Const(c)) => Some(Val::Const(c.clone())),
            Some(_) => Some(Val::Dyn(self.dyn_in(node, i)?)),
        })
    }

    /// True when input `i` is present and computed (not a constant).
    pub(super) fn is_computed(&self, node: &NodeProto, i: usize) -> Result<bool> {
        Ok(matches!(self.get(node, i)?, Some(v) if !matches!(v, Val::Const(_))))
    }

    /// `a op b` with numpy broadcasting, on computed tensors or constants.
    fn bin(&mut self, node: &NodeProto, index: usize, op: &str, a: Val, b: Val) -> Result<Val> {
        self.binary_vals(node, index, op, a, b)
    }

    /// `v` seen with `shape` (same elements): a view node, or the constant relabelled.
    fn reshaped(&mut self, node: &NodeProto, index: usize, v: Val, shape: &[usize]) -> Result<Val> {
        Ok(match v {
            Val::Const(c) => Val::Const(Const {
                shape: shape.to_vec(),
                data: c.data,
            }),
            v => {
                let x = self.dyn_val(node, v)?;
                let shape = shape.iter().map(|&d| d as i64).collect();
                Val::Dyn(self.add(node, index, Op::Reshape { shape }, &[x])?)
            }
        })
    }

    fn dyn_val(&self, node: &NodeProto, v: Val) -> Result<ValueId> {
        match v {
            Val::Dyn(x) | Val::Gelu { value: Some(x), .. } => Ok(x),
            _ => Err(Error::invalid_op(
                node_label(node),
                "expected a computed tensor",
            )),
        }
    }

    /// A per-channel operand (`[C]`, input `i`) as `[C, 1, ...]`, broadcasting along dim 1
    /// of a rank-`r` tensor; its length is checked so that a wrong one names the input.
    fn per_channel_operand(
        &mut self,
        node: &NodeProto,
        index: usize,
        i: usize,
        v: Val,
        channels: usize,
        r: usize,
    ) -> Result<Val> {
        let shape = match &v {
            Val::Const(c) => c.shape.clone(),
            v => self.shape(self.dyn_val(node, v.clone())?),
        };
        if shape != [channels] {
            return Err(Error::invalid_op(
                node_label(node),
                format!(
                    "input {i} ({:?}) has shape {shape:?}, expected [{channels}] (one per channel)",
                    node.input[i]
                ),
            ));
        }
        let mut to = vec![channels];
        to.resize(r.saturating_sub(1).max(1), 1);
        self.reshaped(node, index, v, &to)
    }

    /// Inference BatchNormalization with computed parameters:
    /// `(x - mean) / sqrt(var + eps) * scale + bias`, each parameter broadcast per channel.
    pub(super) fn batch_norm_runtime(
        &mut self,
        node: &NodeProto,
        index: usize,
        x: ValueId,
        eps: f32,
    ) -> Result<ValueId> {
        let xs = self.shape(x);
        if xs.len() < 2 {
            return Err(Error::invalid_op(
                node_label(node),
                format!("input {xs:?} has no channel dimension"),
            ));
        }
        let mut p = Vec::new();
        for i in 1..=4 {
            let v = self.need_operand(node, i)?;
            p.push(self.per_channel_operand(node, index, i, v, xs[1], xs.len())?);
        }
        let [scale, bias, mean, var] = <[Val; 4]>::try_from(p).expect("four parameters");
        let std = match var {
            // A constant variance folds on the host, in f64.
            Val::Const(c) => Val::Const(Const::f32(
                c.shape.clone(),
                c.as_f32()
                    .iter()
                    .map(|&v| (v as f64 + eps as f64).sqrt() as f32)
                    .collect(),
            )),
            v => {
                let eps = Val::Const(Const::f32(vec![], vec![eps]));
                let s = self.bin(node, index, "Add", v, eps)?;
                let s = self.dyn_val(node, s)?;
                let op = Op::Activation(Activation::Sqrt);
                Val::Dyn(self.add(node, index, op, &[s])?)
            }
        };
        let centred = self.bin(node, index, "Sub", Val::Dyn(x), mean)?;
        let normed = self.bin(node, index, "Div", centred, std)?;
        let scaled = self.bin(node, index, "Mul", normed, scale)?;
        let y = self.bin(node, index, "Add", scaled, bias)?;
        self.dyn_val(node, y)
    }

    /// Training-mode BatchNormalization (opset 14): `Y` normalised with the batch's mean and
    /// population variance over every axis but 1; outputs 1 and 2 are the running statistics
    /// `input * momentum + batch * (1 - momentum)`.
    pub(super) fn batch_norm_training(
        &mut self,
        node: &NodeProto,
        index: usize,
        x: ValueId,
        eps: f32,
        momentum: f32,
    ) -> Result<ValueId> {
        let xs = self.shape(x);
        if xs.len() < 2 {
            return Err(Error::invalid_op(
                node_label(node),
                format!("input {xs:?} has no channel dimension"),
            ));
        }
        let (c, r) = (xs[1], xs.len());
        let mean_op = || {
            Op::Reduce(ReduceSpec {
                kind: ReduceKind::Mean,
                axes: (0..r).filter(|&d| d != 1).collect(),
                keepdims: true,
            })
        };
        let scalar = |v: f32| Val::Const(Const::f32(vec![], vec![v]));
        let mean = self.add(node, index, mean_op(), &[x])?;
        let centred = self.bin(node, index, "Sub", Val::Dyn(x), Val::Dyn(mean))?;
        let sq = self.bin(node, index, "Mul", centred.clone(), centred.clone())?;
        let sq = self.dyn_val(node, sq)?;
        let var = self.add(node, index, mean_op(), &[sq])?;
        let s = self.bin(node, index, "Add", Val::Dyn(var), scalar(eps))?;
        let s = self.dyn_val(node, s)?;
        let std = self.add(node, index, Op::Activation(Activation::Sqrt), &[s])?;
        let mut y = self.bin(node, index, "Div", centred, Val::Dyn(std))?;
        for (i, op) in [(1, "Mul"), (2, "Add")] {
            let v = self.need_operand(node, i)?;
            let v = self.per_channel_operand(node, index, i, v, c, r)?;
            y = self.bin(node, index, op, y, v)?;
        }
        for (i, out, batch) in [(3, 1, mean), (4, 2, var)] {
            let Some(name) = node.output.get(out).filter(|n| !n.is_empty()) else {
                continue;
            };
            let input = self.need_operand(node, i)?;
            let input = self.per_channel_operand(node, index, i, input, c, 1)?;
            let batch = self.reshaped(node, index, Val::Dyn(batch), &[c])?;
            let kept = self.bin(node, index, "Mul", input, scalar(momentum))?;
            let new = self.bin(node, index, "Mul", batch, scalar(1.0 - momentum))?;
            let running = self.bin(node, index, "Add", kept, new)?;
            self.vals.insert(name.clone(), running);
        }
        self.dyn_val(node, y)
    }

    fn need_operand(&mut self, node: &NodeProto, i: usize) -> Result<Val> {
        self.operand(node, i)?.ok_or_else(|| missing_input(node, i))
    }

    /// Clip with a computed bound: `min(max(x, lo), hi)`, which is `hi` everywhere when
    /// `lo > hi` (ONNX) and propagates NaN like the activation.
    pub(super) fn clip_runtime(
        &mut self,
        node: &NodeProto,
        index: usize,
        x: ValueId,
    ) -> Result<ValueId> {
        let mut y = Val::Dyn(x);
        for (i, op) in [(1, "Max"), (2, "Min")] {
            if let Some(bound) = self.operand(node, i)? {
                y = self.bin(node, index, op, y, bound)?;
            }
        }
        self.dyn_val(node, y)
    }

    /// Gemm with a computed B or C: `alpha * A' B' + beta * C` as a transpose where asked, a
    /// matrix product, and broadcasting scale and add.
    pub(super) fn gemm_runtime(
        &mut self,
        node: &NodeProto,
        index: usize,
        a: ValueId,
        trans_b: bool,
        alpha: f32,
        beta: f32,
    ) -> Result<ValueId> {
        let b = self
            .operand(node, 1)?
            .ok_or_else(|| missing_input(node, "1 (B)"))?;
        let y = match b {
            Val::Const(b) if b.shape.len() == 2 => {
                // A constant B is a linear layer (its weight is B transposed, [N, K]).
                let mut w = b.to_tensor();
                if !trans_b {
                    w = crate::reference::rearrange::transpose(&[1, 0], &w)?;
                }
                let op = Op::Linear {
                    weight: w,
                    bias: None,
                    activation: Activation::Identity,
                };
                self.add(node, index, op, &[a])?
            }
            Val::Const(b) => {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!("B {:?} must be 2-D", b.shape),
                ));
            }
            b => {
                let mut b = self.dyn_val(node, b)?;
                if self.shape(b).len() != 2 {
                    return Err(Error::invalid_op(
                        node_label(node),
                        format!("B ({:?}) {:?} must be 2-D", node.input[1], self.shape(b)),
                    ));
                }
                if trans_b {
                    b = self.add(node, index, Op::Transpose { perm: vec![1, 0] }, &[b])?;
                }
                self.add(node, index, Op::MatMul, &[a, b])?
            }
        };
        let mut y = Val::Dyn(y);
        if alpha != 1.0 {
            y = self.bin(
                node,
                index,
                "Mul",
                y,
                Val::Const(Const::f32(vec![], vec![alpha])),
            )?;
        }
        if let Some(c) = self.operand(node, 2)? {
            let c = match (c, beta) {
                (c, 1.0) => c,
                (Val::Const(c), _) => Val::Const(Const::f32(
                    c.shape.clone(),
                    c.as_f32().iter().map(|v| v * beta).collect(),
                )),
                (c, _) => self.bin(
                    node,
                    index,
                    "Mul",
                    c,
                    Val::Const(Const::f32(vec![], vec![beta])),
                )?,
            };
            y = self.bin(node, index, "Add", y, c)?;
        }
        self.dyn_val(node, y)
    }

    /// A normalisation's computed affine on its normalised output `y`: `y * scale + bias`
    /// broadcast as ONNX defines it (layer norm's over the trailing dims, numpy rules;
    /// instance and group norm's per channel; group norm's per group before opset 21).
    pub(super) fn norm_affine_runtime(
        &mut self,
        node: &NodeProto,
        index: usize,
        spec: &NormSpec,
        y: ValueId,
    ) -> Result<ValueId> {
        let xs = self.shape(y);
        let r = xs.len();
        let per_group = spec.kind == NormKind::Group && self.opset < 21 && spec.groups != xs[1];
        // Per group: [N, G, rest] against [G, 1], then back.
        let (mut cur, width) = if per_group {
            let rest = crate::tensor::numel(&xs[1..]) / spec.groups;
            let shape = [xs[0], spec.groups, rest];
            let v = self.reshaped(node, index, Val::Dyn(y), &shape)?;
            (v, spec.groups)
        } else {
            (Val::Dyn(y), xs[1])
        };
        for (i, op) in [(1, "Mul"), (2, "Add")] {
            let Some(p) = self.operand(node, i)? else {
                continue;
            };
            let p = match spec.kind {
                NormKind::Layer => {
                    let ps = match &p {
                        Val::Const(c) => c.shape.clone(),
                        p => self.shape(self.dyn_val(node, p.clone())?),
                    };
                    let ns = &xs[spec.axis..];
                    let lead = ns.len().checked_sub(ps.len());
                    let fits = lead.is_some_and(|lead| {
                        ps.iter().zip(&ns[lead..]).all(|(&a, &b)| a == 1 || a == b)
                    });
                    if !fits {
                        return Err(Error::invalid_op(
                            node_label(node),
                            format!(
                                "input {i} ({:?}) {ps:?} does not broadcast to the normalised shape {ns:?}",
                                node.input[i]
                            ),
                        ));
                    }
                    p
                }
                _ => {
                    let rank = if per_group { 3 } else { r };
                    self.per_channel_operand(node, index, i, p, width, rank)?
                }
            };
            cur = self.bin(node, index, op, cur, p)?;
        }
        if per_group {
            cur = self.reshaped(node, index, cur, &xs)?;
        }
        self.dyn_val(node, cur)
    }
}
