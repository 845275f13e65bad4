//! Normalisations: `LayerNormalization`, `InstanceNormalization`, `GroupNormalization`,
//! `LpNormalization`, `LRN`. Constant scale and bias are reshaped on the host to what the
//! kernel indexes: layer norm's broadcast to the normalised shape, group norm's per channel
//! (opset 18 gives one per group); computed ones follow the unscaled normalisation as
//! broadcasting Mul / Add ([`super::runtime`]).

use super::{Importer, Val, missing_input, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, ValueId};
use crate::onnx::attrs::Attrs;
use crate::onnx::fold;
use crate::onnx::proto::NodeProto;
use crate::onnx::tensor::Const;
use crate::ops::{NormKind, NormOutput, NormSpec};
use crate::tensor::{Tensor, numel};

pub(super) const OPS: &[&str] = &[
    "LayerNormalization",
    "InstanceNormalization",
    "GroupNormalization",
    "LpNormalization",
    "LRN",
];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let label = || node_label(node);
    let kind = NormKind::from_onnx(node.op_type())
        .ok_or_else(|| Error::invalid_op(label(), "not a normalisation".to_string()))?;
    let x = im.dyn_in(node, 0)?;
    let xs = im.shape(x);
    let r = xs.len();
    let bad = |m: String| Error::invalid_op(label(), m);
    let eps = a.float_strict("epsilon", 1e-5)?;
    let spec = match kind {
        NormKind::Layer => {
            let axis =
                fold::axis(node.op_type(), a.int("axis", -1), r).map_err(|e| bad(e.to_string()))?;
            NormSpec::layer(axis, eps)
        }
        NormKind::Instance => NormSpec::instance(eps),
        NormKind::Group => {
            let g = a.int("num_groups", 0);
            if g < 1 {
                return Err(bad(format!("num_groups {g} must be given and >= 1")));
            }
            NormSpec::group(g as usize, eps)
        }
        NormKind::Lp => {
            let axis =
                fold::axis(node.op_type(), a.int("axis", -1), r).map_err(|e| bad(e.to_string()))?;
            let p = a.int("p", 2);
            if p != 1 && p != 2 {
                return Err(bad(format!("p = {p} (ONNX defines 1 and 2)")));
            }
            NormSpec::lp(axis, p as u32)
        }
        NormKind::Lrn => {
            let size = a.int("size", 0);
            if size < 1 {
                return Err(bad(format!("size {size} must be given and >= 1")));
            }
            NormSpec::lrn(
                size as usize,
                a.float_strict("alpha", 1e-4)?,
                a.float_strict("beta", 0.75)?,
                a.float_strict("bias", 1.0)?,
            )
        }
    };
    spec.check(&xs).map_err(|e| bad(e.to_string()))?;
    if kind.has_affine() && (im.is_computed(node, 1)? || im.is_computed(node, 2)?) {
        if kind != NormKind::Layer && im.get(node, 2)?.is_none() {
            return Err(missing_input(node, "2 (the bias)"));
        }
        let y = im.add(
            node,
            index,
            Op::Norm {
                spec,
                scale: None,
                bias: None,
            },
            &[x],
        )?;
        let y = im.norm_affine_runtime(node, index, &spec, y)?;
        stats(im, node, index, &spec, x)?;
        return Ok(Some(Val::Dyn(y)));
    }
    let (scale, bias) = if kind.has_affine() {
        let scale = im.need_const(node, 1)?;
        // Layer norm's bias is optional; instance and group norm's are not.
        let bias = match kind {
            NormKind::Layer => im.const_in(node, 2)?,
            _ => Some(im.need_const(node, 2)?),
        };
        let fit = |c: Const, what: &str| {
            param(&spec, &xs, &c, im.opset).map_err(|m| bad(format!("{what} {:?}: {m}", c.shape)))
        };
        let bias = bias.map(|b| fit(b, "bias")).transpose()?;
        (Some(fit(scale, "scale")?), bias)
    } else {
        (None, None)
    };
    let op = Op::Norm { spec, scale, bias };
    let y = im.add(node, index, op, &[x])?;
    stats(im, node, index, &spec, x)?;
    Ok(Some(Val::Dyn(y)))
}

/// Layer norm's optional Mean and InvStdDev outputs: a statistics node each.
fn stats(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    spec: &NormSpec,
    x: ValueId,
) -> Result<()> {
    for (i, stat) in [(1, NormOutput::Mean), (2, NormOutput::InvStdDev)] {
        if let Some(name) = node.output.get(i).filter(|n| !n.is_empty()) {
            if spec.kind != NormKind::Layer {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!("has no output {i}"),
                ));
            }
            let op = Op::Norm {
                spec: spec.with_output(stat),
                scale: None,
                bias: None,
            };
            let v = im.add(node, index, op, &[x])?;
            im.vals.insert(name.clone(), Val::Dyn(v));
        }
    }
    Ok(())
}

/// A scale or bias as the kernel indexes it: layer norm's broadcast (numpy rules) to the
/// normalised shape `xs[axis..]`; instance norm's `[C]`; group norm's `[C]`, from `[G]`
/// before opset 21 (each group's value repeated over its channels).
fn param(
    spec: &NormSpec,
    xs: &[usize],
    c: &Const,
    opset: i64,
) -> std::result::Result<Tensor, String> {
    let v = c.as_f32();
    match spec.kind {
        NormKind::Layer => {
            let ns = &xs[spec.axis..];
            let s = &c.shape;
            if s.len() > ns.len() {
                return Err(format!("has more dims than the normalised shape {ns:?}"));
            }
            let lead = ns.len() - s.len();
            if s.iter().zip(&ns[lead..]).any(|(&a, &b)| a != 1 && a != b) {
                return Err(format!("does not broadcast to the normalised shape {ns:?}"));
            }
            // Strides of the parameter over the normalised dims; 0 where it broadcasts.
            let mut strides = vec![0; ns.len()];
            let mut st = 1;
            for d in (0..s.len()).rev() {
                if s[d] != 1 {
                    strides[lead + d] = st;
                }
                st *= s[d];
            }
            let data = (0..numel(ns))
                .map(|mut i| {
                    let mut off = 0;
                    for d in (0..ns.len()).rev() {
                        off += (i % ns[d]) * strides[d];
                        i /= ns[d];
                    }
                    v[off]
                })
                .collect();
            Tensor::new(ns.to_vec(), data).map_err(|e| e.to_string())
        }
        NormKind::Group if opset < 21 && spec.groups != xs[1] => {
            if v.len() != spec.groups {
                return Err(format!(
                    "must have one value per group ({}) before opset 21",
                    spec.groups
                ));
            }
            let cpg = xs[1] / spec.groups;
            let data = (0..xs[1]).map(|ch| v[ch / cpg]).collect();
            Tensor::new(vec![xs[1]], data).map_err(|e| e.to_string())
        }
        _ => {
            if v.len() != xs[1] {
                return Err(format!("must have one value per channel ({})", xs[1]));
            }
            Tensor::new(vec![xs[1]], v).map_err(|e| e.to_string())
        }
    }
}
