//! Reductions over windows: `MaxPool` (with its indices) / `AveragePool` / `LpPool` (1-D to 3-D),
//! the global pools, and `Softmax`,
//! `LogSoftmax`, `Hardmax`
//! (`ReduceMean` over the spatial axes becomes a global pool in `reduce.rs`).

use super::conv::explicit_pads;
use super::{Importer, Val, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, ValueId};
use crate::onnx::attrs::Attrs;
use crate::onnx::fold;
use crate::onnx::proto::NodeProto;
use crate::ops::{MAX_POOL_RANK, PoolKind, PoolSpec, SoftmaxKind};

pub(super) const OPS: &[&str] = &[
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "GlobalLpPool",
    "LpPool",
    "Softmax",
    "LogSoftmax",
    "Hardmax",
];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let y = match node.op_type() {
        "MaxPool" | "AveragePool" | "LpPool" => im.pool(node, index, a)?,
        "GlobalAveragePool" => {
            let x = im.dyn_in(node, 0)?;
            im.add(node, index, Op::GlobalPool(PoolKind::Avg), &[x])?
        }
        "GlobalMaxPool" => {
            let x = im.dyn_in(node, 0)?;
            im.add(node, index, Op::GlobalPool(PoolKind::Max), &[x])?
        }
        "GlobalLpPool" => {
            let x = im.dyn_in(node, 0)?;
            im.add(node, index, Op::GlobalPool(lp_kind(a)?), &[x])?
        }
        // "Softmax" | "LogSoftmax" | "Hardmax"
        _ => im.softmax(node, index, a)?,
    };
    Ok(Some(Val::Dyn(y)))
}

/// LpPool's and GlobalLpPool's kind from `p` (an integer from opset 2, default 2).
fn lp_kind(a: &Attrs<'_>) -> Result<PoolKind> {
    u32::try_from(a.int("p", 2))
        .ok()
        .filter(|&p| p >= 1)
        .map(PoolKind::Lp)
        .ok_or_else(|| a.error("p", "must be an integer >= 1"))
}

impl Importer<'_> {
    fn softmax(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let kind = SoftmaxKind::from_onnx(node.op_type())
            .ok_or_else(|| Error::invalid_op(node_label(node), "not a softmax".to_string()))?;
        let x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        let r = xs.len();
        let default = if self.opset >= 13 { -1 } else { 1 };
        let axis = fold::axis(node.op_type(), a.int("axis", default), r)
            .map_err(|e| a.error("axis", e))?;
        if self.opset >= 13 || axis + 1 == r {
            return self.add(node, index, Op::Softmax { axis, kind }, &[x]);
        }
        // Before opset 13 the input is coerced to 2-D, [prod(dims < axis), prod(dims >= axis)],
        // and normalised along its second dim.
        let rows = xs[..axis].iter().product::<usize>() as i64;
        let cols = xs[axis..].iter().product::<usize>() as i64;
        let flat = self.add(
            node,
            index,
            Op::Reshape {
                shape: vec![rows, cols],
            },
            &[x],
        )?;
        let y = self.add(node, index, Op::Softmax { axis: 1, kind }, &[flat])?;
        let shape = xs.iter().map(|&d| d as i64).collect();
        self.add(node, index, Op::Reshape { shape }, &[y])
    }

    fn pool(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        let r = xs.len().saturating_sub(2);
        if !(1..=MAX_POOL_RANK).contains(&r) {
            return Err(Error::invalid_op(
                node_label(node),
                format!("input {xs:?} must be [N, C] and 1 to {MAX_POOL_RANK} spatial dims"),
            ));
        }
        let kind = match node.op_type() {
            "MaxPool" => PoolKind::Max,
            "AveragePool" => PoolKind::Avg,
            // "LpPool"
            _ => lp_kind(a)?,
        };
        let Some(k) = a.ints("kernel_shape") else {
            return Err(a.missing("kernel_shape"));
        };
        if k.len() != r {
            return Err(a.error(
                "kernel_shape",
                format!("{k:?} must have one entry per spatial dim of {xs:?}"),
            ));
        }
        let k = a.usizes("kernel_shape", r, 1)?;
        let s = a.usizes("strides", r, 1)?;
        let d = a.usizes("dilations", r, 1)?;
        if s.len() != r || d.len() != r || k.contains(&0) || s.contains(&0) || d.contains(&0) {
            return Err(Error::invalid_op(
                node_label(node),
                format!(
                    "kernel_shape {k:?}, strides {s:?} and dilations {d:?} must be {r} values >= 1"
                ),
            ));
        }
        let (mut begin, mut end) = explicit_pads(a, r)?;
        match a.string("auto_pad", "NOTSET").as_str() {
            "NOTSET" => {}
            "VALID" => (begin, end) = (vec![0; r], vec![0; r]),
            mode => {
                for i in 0..r {
                    let input = xs[2 + i];
                    let out = input.div_ceil(s[i]);
                    let span = d[i] * (k[i] - 1) + 1;
                    let total = (out.saturating_sub(1) * s[i] + span).saturating_sub(input);
                    let h = total / 2;
                    (begin[i], end[i]) = if mode == "SAME_LOWER" {
                        (total - h, h)
                    } else {
                        (h, total - h)
                    };
                }
            }
        }
        let spec = PoolSpec {
            kind,
            kernel: k,
            stride: s,
            pad_begin: begin,
            pad_end: end,
            dilation: d,
            ceil_mode: a.int("ceil_mode", 0) != 0,
            count_include_pad: a.int("count_include_pad", 0) != 0,
        };
        let indices = node.output.get(1).filter(|o| !o.is_empty());
        if let Some(out) = indices {
            let name = format!("{}_{out}", self.unique_name(node, index));
            let spec = PoolSpec {
                kind: PoolKind::MaxIndex {
                    column_major: match a.int("storage_order", 0) {
                        0 => false,
                        1 => true,
                        v => return Err(a.error("storage_order", format!("{v} is not 0 or 1"))),
                    },
                },
                ..spec.clone()
            };
            let v = self.g.add(&name, Op::Pool(spec), &[x])?;
            self.vals.insert(out.clone(), Val::Dyn(v));
        }
        self.add(node, index, Op::Pool(spec), &[x])
    }
}
