//! Ops that relabel or permute data: `Reshape`, `Flatten`, `Squeeze`, `Unsqueeze` (all views,
//! lowered to a Reshape with the resolved shape), `Transpose`, `Expand`, `DepthToSpace` and
//! `SpaceToDepth`. Shuffles written as Reshape-Transpose-Reshape are recognised later, on the
//! graph ([`crate::graph::patterns`]).

use super::{Importer, Val, node_label};
use crate::error::{Error, Result};
use crate::graph::Op;
use crate::onnx::attrs::Attrs;
use crate::onnx::fold;
use crate::onnx::proto::NodeProto;
use crate::ops::{ChannelOrder, PixelShuffle, SpaceToDepth};
use crate::tensor::numel;

pub(super) const OPS: &[&str] = &[
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Expand",
    "DepthToSpace",
    "SpaceToDepth",
];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let x = im.dyn_in(node, 0)?;
    let xs = im.shape(x);
    let op = match node.op_type() {
        "Expand" => {
            let target = im.need_const(node, 1)?.as_i64();
            let shape = target
                .iter()
                .map(|&d| usize::try_from(d))
                .collect::<std::result::Result<Vec<usize>, _>>()
                .map_err(|_| {
                    Error::invalid_op(
                        node_label(node),
                        format!("shape {target:?} has a negative dim"),
                    )
                })?;
            let out = crate::ops::broadcast_shape(&xs, &shape)
                .map_err(|e| Error::invalid_op(node_label(node), e.to_string()))?;
            if out.contains(&0) {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!("result {out:?} has no elements: empty tensors are not supported"),
                ));
            }
            Op::Expand { shape }
        }
        "Reshape" => {
            let target = if im.opset < 5 {
                a.ints("shape").unwrap_or_default()
            } else {
                im.need_const(node, 1)?.as_i64()
            };
            let shape = reshape_target(&xs, &target, a.int("allowzero", 0) != 0)?;
            // The graph's Reshape reads 0 as "copy the input's dimension": a real 0 is written
            // so where the input's is 0 too, else as the one inferred dim (-1, here 0).
            let mut inferred = false;
            let mut graph_shape = Vec::with_capacity(shape.len());
            for (i, &d) in shape.iter().enumerate() {
                graph_shape.push(match d {
                    0 if xs.get(i) == Some(&0) => 0,
                    0 if !inferred => {
                        inferred = true;
                        -1
                    }
                    0 => {
                        return Err(Error::invalid_op(
                            node_label(node),
                            format!(
                                "result {shape:?} of {xs:?} has zeros the graph's Reshape cannot express"
                            ),
                        ));
                    }
                    d => d as i64,
                });
            }
            Op::Reshape { shape: graph_shape }
        }
        "Flatten" => {
            let axis = if a.int("axis", 1) < 0 {
                (a.int("axis", 1) + xs.len() as i64) as usize
            } else {
                a.int("axis", 1) as usize
            };
            if axis > xs.len() {
                return Err(a.error("axis", format!("{axis} is out of range for {xs:?}")));
            }
            let shape = vec![numel(&xs[..axis]) as i64, numel(&xs[axis..]) as i64];
            Op::Reshape { shape }
        }
        "Squeeze" | "Unsqueeze" => {
            let axes = im.axes(node, a, 1)?;
            let shape = squeeze_shape(node.op_type(), &xs, axes.as_deref())?;
            Op::Reshape {
                shape: shape.iter().map(|&d| d as i64).collect(),
            }
        }
        "Transpose" => Op::Transpose {
            perm: transpose_perm(a, xs.len())?,
        },
        "DepthToSpace" => {
            let order = if a.string("mode", "DCR") == "CRD" {
                ChannelOrder::Crd
            } else {
                ChannelOrder::Dcr
            };
            let factor = a.int("blocksize", 0).max(0) as usize;
            Op::PixelShuffle(PixelShuffle { factor, order })
        }
        // "SpaceToDepth"
        _ => Op::SpaceToDepth(SpaceToDepth {
            block: a.int("blocksize", 0).max(0) as usize,
            order: ChannelOrder::Dcr,
        }),
    };
    Ok(Some(Val::Dyn(im.add(node, index, op, &[x])?)))
}

/// Transpose's `perm`, reversed dims by default.
pub(super) fn transpose_perm(a: &Attrs<'_>, r: usize) -> Result<Vec<usize>> {
    match a.ints("perm") {
        Some(p) => p.iter().map(|&i| fold::axis("Transpose", i, r)).collect(),
        None => Ok((0..r).rev().collect()),
    }
}

/// Resolves an ONNX Reshape target (0 = copy, -1 = infer) against `input`.
pub(super) fn reshape_target(
    input: &[usize],
    target: &[i64],
    allowzero: bool,
) -> Result<Vec<usize>> {
    let total = crate::tensor::checked_numel(input).ok_or_else(|| {
        Error::invalid_op("Reshape", format!("input shape {input:?} is too large"))
    })?;
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*input.get(i).ok_or_else(|| {
                Error::invalid_op(
                    "Reshape",
                    format!("0 at {i} has no input dimension in {input:?}"),
                )
            })?),
            t if t >= 0 => out.push(t as usize),
            _ => {
                return Err(Error::invalid_op(
                    "Reshape",
                    format!("invalid target {target:?}"),
                ));
            }
        }
    }
    // Products saturate: a target bigger than the input is refused below either way.
    let product = |s: &[usize]| s.iter().fold(1usize, |a, &d| a.saturating_mul(d));
    if let Some(i) = infer {
        let known = product(&out);
        if known == 0 || !total.is_multiple_of(known) {
            return Err(Error::invalid_op(
                "Reshape",
                format!("cannot infer -1 in {target:?} for {input:?}"),
            ));
        }
        out[i] = total / known;
    }
    if product(&out) != total || crate::tensor::checked_numel(&out).is_none() {
        return Err(Error::invalid_op(
            "Reshape",
            format!("{input:?} ({total} elements) cannot become {out:?}"),
        ));
    }
    Ok(out)
}

/// Output shape of Squeeze / Unsqueeze.
pub(super) fn squeeze_shape(op: &str, input: &[usize], axes: Option<&[i64]>) -> Result<Vec<usize>> {
    if op == "Squeeze" {
        let r = input.len();
        let axes: Vec<usize> = match axes {
            Some(a) => a
                .iter()
                .map(|&v| fold::axis(op, v, r))
                .collect::<Result<_>>()?,
            None => (0..r).filter(|&i| input[i] == 1).collect(),
        };
        if let Some(&bad) = axes.iter().find(|&&a| input[a] != 1) {
            return Err(Error::invalid_op(
                op,
                format!("axis {bad} of {input:?} is not 1"),
            ));
        }
        Ok((0..r)
            .filter(|i| !axes.contains(i))
            .map(|i| input[i])
            .collect())
    } else {
        let axes = axes.ok_or_else(|| Error::invalid_op(op, "needs axes"))?;
        let r = input.len() + axes.len();
        let mut axes: Vec<usize> = axes
            .iter()
            .map(|&v| fold::axis(op, v, r))
            .collect::<Result<_>>()?;
        axes.sort();
        let mut out = Vec::with_capacity(r);
        let mut it = input.iter();
        for i in 0..r {
            if axes.contains(&i) {
                out.push(1);
            } else {
                out.push(
                    *it.next()
                        .ok_or_else(|| Error::invalid_op(op, "axes out of range"))?,
                );
            }
        }
        Ok(out)
    }
}
