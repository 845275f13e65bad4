//! Reductions over axes: `ReduceSum`, `ReduceMean`, `ReduceMax`, `ReduceMin`, `ReduceProd`,
//! `ReduceL1`, `ReduceL2`, `ReduceSumSquare`, `ReduceLogSum`, `ReduceLogSumExp`. `ReduceMean`
//! over H and W of an `[N, C, H, W]` tensor stays a global average pool (its faster kernel and
//! the SE-block fusion look for it). `ArgMax` / `ArgMin` are the index kinds over one `axis`;
//! their int64 output is the index as an f32 value (exact below 2^24; the shape rule refuses
//! longer axes).

use super::{Importer, Val, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, ValueId};
use crate::onnx::attrs::Attrs;
use crate::onnx::fold;
use crate::onnx::proto::NodeProto;
use crate::ops::{PoolKind, ReduceKind, ReduceSpec};

pub(super) const OPS: &[&str] = &[
    "ReduceSum",
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceSumSquare",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ArgMax",
    "ArgMin",
];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let kind = ReduceKind::from_onnx(node.op_type()).ok_or_else(|| {
        Error::invalid_op(node_label(node), "not a reduction over axes".to_string())
    })?;
    if kind.is_arg() {
        return Ok(Some(Val::Dyn(im.arg(node, index, a, kind)?)));
    }
    Ok(Some(Val::Dyn(im.reduce(node, index, a, kind)?)))
}

impl Importer<'_> {
    /// `ArgMax` / `ArgMin`: one `axis` (negative from opset 11), `keepdims`,
    /// `select_last_index` (opset 12) choosing the last of tied extremes.
    fn arg(
        &mut self,
        node: &NodeProto,
        index: usize,
        a: &Attrs<'_>,
        kind: ReduceKind,
    ) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let r = self.shape(x).len();
        let axis = fold::axis(node.op_type(), a.int("axis", 0), r)
            .map_err(|e| Error::invalid_op(node_label(node), e.to_string()))?;
        let kind = match (kind, a.int("select_last_index", 0) != 0) {
            (ReduceKind::ArgMax, true) => ReduceKind::ArgMaxLast,
            (ReduceKind::ArgMin, true) => ReduceKind::ArgMinLast,
            (k, _) => k,
        };
        let spec = ReduceSpec {
            kind,
            axes: vec![axis],
            keepdims: a.int("keepdims", 1) != 0,
        };
        self.add(node, index, Op::Reduce(spec), &[x])
    }

    fn reduce(
        &mut self,
        node: &NodeProto,
        index: usize,
        a: &Attrs<'_>,
        kind: ReduceKind,
    ) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        let r = xs.len();
        let keepdims = a.int("keepdims", 1) != 0;
        // Axes are an attribute before opset 18 (ReduceSum: 13), an optional input after;
        // `axes` reads whichever the node has.
        let given = self.axes(node, a, 1)?.unwrap_or_default();
        let axes: Vec<usize> = if given.is_empty() {
            // No axes: all of them, or with noop_with_empty_axes none (the kind then applies
            // to each element alone: ReduceSumSquare squares).
            if a.int("noop_with_empty_axes", 0) != 0 {
                Vec::new()
            } else {
                (0..r).collect()
            }
        } else {
            let mut v = given
                .iter()
                .map(|&ax| fold::axis(node.op_type(), ax, r))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| Error::invalid_op(node_label(node), e.to_string()))?;
            v.sort_unstable();
            if v.windows(2).any(|w| w[0] == w[1]) {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!("axes {given:?} name a dim twice (rank {r})"),
                ));
            }
            v
        };
        if kind == ReduceKind::Mean && r == 4 && axes == [2, 3] && xs[2] * xs[3] > 0 {
            let pooled = self.add(node, index, Op::GlobalPool(PoolKind::Avg), &[x])?;
            if keepdims {
                return Ok(pooled);
            }
            let shape = vec![xs[0] as i64, xs[1] as i64];
            return self.add(node, index, Op::Reshape { shape }, &[pooled]);
        }
        let spec = ReduceSpec {
            kind,
            axes,
            keepdims,
        };
        self.add(node, index, Op::Reduce(spec), &[x])
    }
}
