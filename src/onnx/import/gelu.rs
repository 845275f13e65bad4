//! GELU through Erf, `x * 0.5 * (1 + erf(x / sqrt(2)))` (nn.GELU below opset 20), recognised
//! while lowering. Unlike the other exporter patterns ([`crate::graph::patterns`]) this one
//! is followed node by node: each step is lowered as written (Erf is the Erf activation) and
//! its value rides along as [`Val::Gelu`] with how much of GELU it holds. The node completing
//! GELU becomes one GELU activation, and the written steps are left dead (compacted away at
//! the end of the import); any other reader just reads the written value.

use super::{Importer, Val, node_label};
use crate::error::Result;
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

/// What a binary node does to a partial GELU among its operands.
pub(super) enum Step {
    /// Neither operand is a partial GELU, or the node does not continue it.
    Not,
    /// The node continues GELU of `x` to `stage`.
    Partial { x: ValueId, stage: Stage },
    /// The node completes GELU of `x`.
    Done(ValueId),
}

/// Erf as the Erf activation; when its input is `x / sqrt(2)` (the division, or a
/// multiplication by 1 / sqrt(2), already lowered to a channel affine) it is also the start of
/// GELU of `x`.
pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    _a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let scaled = im.dyn_in(node, 0)?;
    let gelu_of = match im.producer(scaled) {
        Some((
            Op::ChannelAffine {
                scale,
                shift,
                activation: Activation::Identity,
                residual: false,
            },
            ins,
        )) => {
            let inv_sqrt2 = std::f32::consts::FRAC_1_SQRT_2;
            // 1e-4: exporters write sqrt(2) to as few as 6 digits (1.41421).
            let is_start = shift.data().iter().all(|&b| b == 0.0)
                && scale
                    .data()
                    .iter()
                    .all(|&s| (s / inv_sqrt2 - 1.0).abs() < 1e-4);
            is_start.then_some(ins[0])
        }
        _ => None,
    };
    let e = im.add(node, index, Op::Activation(Activation::Erf), &[scaled])?;
    Ok(Some(match gelu_of {
        Some(x) => Val::Gelu {
            x,
            stage: Stage::Erf,
            erf: node_label(node),
            value: Some(e),
        },
        None => Val::Dyn(e),
    }))
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
    /// `x * (1 + e) / 2`) at binary node `node`: whether it continues or completes GELU.
    pub(super) fn gelu_step(&self, node: &NodeProto, va: &Val, vb: &Val) -> Step {
        let op_type = node.op_type();
        for (p, q, p_first) in [(va, vb, true), (vb, va, false)] {
            let Val::Gelu { x, stage, .. } = p else {
                continue;
            };
            let x = *x;
            let partial = |stage| Step::Partial { x, stage };
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
            // A node that reads a partial GELU but does not continue it reads its value.
            return if done { Step::Done(x) } else { Step::Not };
        }
        Step::Not
    }
}
