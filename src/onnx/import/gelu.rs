//! GELU through Erf, `x * 0.5 * (1 + erf(x / sqrt(2)))` (nn.GELU below opset 20), recognised
//! while lowering. Unlike the other exporter patterns ([`crate::graph::patterns`]) this one
//! cannot wait for the typed graph: Erf has no graph op, so the partial values ride along as
//! [`Val::Gelu`] until the node completing GELU, and any other reader of them is an error.

use super::{Importer, Val, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, ValueId};
use crate::onnx::attrs::Attrs;
use crate::onnx::proto::NodeProto;
use crate::onnx::tensor::Const;
use crate::ops::Activation;

pub(super) const OPS: &[&str] = &["Erf"];

/// How much of `gelu(x) = x * 0.5 * (1 + erf(x / sqrt(2)))` a value holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// `erf(x / sqrt(2))`.
    Erf,
    /// `1 + erf(..)`.
    OnePlusErf,
    /// `0.5 * (1 + erf(..))`.
    HalfOnePlusErf,
    /// `x * (1 + erf(..))`: twice GELU.
    Twice,
}

/// `Erf(x / sqrt(2))` (the division, or a multiplication by 1 / sqrt(2), already lowered to a
/// channel affine): the start of GELU. Any other Erf is refused, naming the node.
pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    _index: usize,
    _a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let scaled = im.dyn_in(node, 0)?;
    if let Some((
        Op::ChannelAffine {
            scale,
            shift,
            activation: Activation::Identity,
            residual: false,
        },
        ins,
    )) = im.producer(scaled)
    {
        let inv_sqrt2 = std::f32::consts::FRAC_1_SQRT_2;
        // 1e-4: exporters write sqrt(2) to as few as 6 digits (1.41421).
        if shift.data().iter().all(|&b| b == 0.0)
            && scale
                .data()
                .iter()
                .all(|&s| (s / inv_sqrt2 - 1.0).abs() < 1e-4)
        {
            return Ok(Some(Val::Gelu {
                x: ins[0],
                stage: Stage::Erf,
                erf: node_label(node),
            }));
        }
    }
    Err(Error::invalid_op(
        node_label(node),
        "a standalone Erf is not supported; Erf is imported only inside GELU, x * 0.5 * (1 + erf(x / sqrt(2)))",
    ))
}

/// True for a one-element constant equal to `v` (to f32 rounding of the exporters' literals).
fn is_scalar(c: &Const, v: f32) -> bool {
    c.len() == 1 && (c.as_f32()[0] - v).abs() <= 1e-6 * v.abs().max(1.0)
}

impl Importer<'_> {
    /// True when `h` is `0.5 * x` (a channel affine of `x` with scale 0.5, no shift).
    fn is_half_of(&self, h: ValueId, x: ValueId) -> bool {
        matches!(
            self.producer(h),
            Some((Op::ChannelAffine { scale, shift, activation: Activation::Identity, residual: false }, ins))
                if ins[0] == x
                    && scale.data().iter().all(|&s| s == 0.5)
                    && shift.data().iter().all(|&b| b == 0.0)
        )
    }

    /// One step of `x * 0.5 * (1 + erf(x / sqrt(2)))` in any operand order and grouping
    /// (`(x * (1 + e)) * 0.5`, `x * ((1 + e) * 0.5)`, `(x * 0.5) * (1 + e)`,
    /// `x * (1 + e) / 2`) at binary node `node`: the next partial value, or GELU itself once
    /// complete. `None` when neither operand is part of the pattern; an error when one is but
    /// the step does not continue it.
    pub(super) fn gelu_step(
        &mut self,
        node: &NodeProto,
        index: usize,
        va: &Val,
        vb: &Val,
    ) -> Result<Option<Val>> {
        let op_type = node.op_type();
        for (p, q, p_first) in [(va, vb, true), (vb, va, false)] {
            let Val::Gelu { x, stage, erf } = p else {
                continue;
            };
            let (x, erf) = (*x, erf.clone());
            let partial = |stage| {
                Ok(Some(Val::Gelu {
                    x,
                    stage,
                    erf: erf.clone(),
                }))
            };
            use Stage::*;
            let done = match (op_type, stage, q) {
                ("Add", Erf, Val::Const(c)) if is_scalar(c, 1.0) => return partial(OnePlusErf),
                ("Mul", OnePlusErf, Val::Const(c)) if is_scalar(c, 0.5) => {
                    return partial(HalfOnePlusErf);
                }
                ("Mul", OnePlusErf, Val::Dyn(y)) if *y == x => return partial(Twice),
                ("Mul", OnePlusErf, Val::Dyn(h)) => self.is_half_of(*h, x),
                ("Mul", HalfOnePlusErf, Val::Dyn(y)) => *y == x,
                ("Mul", Twice, Val::Const(c)) => is_scalar(c, 0.5),
                ("Div", Twice, Val::Const(c)) => p_first && is_scalar(c, 2.0),
                _ => false,
            };
            if !done {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!(
                        "reads a value computed from {erf}, but does not continue GELU, x * 0.5 * (1 + erf(x / sqrt(2))); a standalone Erf is not supported"
                    ),
                ));
            }
            let y = self.add(node, index, Op::Activation(Activation::Gelu), &[x])?;
            return Ok(Some(Val::Dyn(y)));
        }
        Ok(None)
    }
}
