//! Reductions over windows: `MaxPool` / `AveragePool` (2-D), the global pools, and `Softmax`,
//! `LogSoftmax`, `Hardmax`
//! (`ReduceMean` over the spatial axes becomes a global pool in `reduce.rs`).

use super::conv::explicit_pads;
use super::{Importer, Val, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, ValueId};
use crate::onnx::attrs::Attrs;
use crate::onnx::fold;
use crate::onnx::proto::NodeProto;
use crate::ops::{PoolKind, PoolSpec, SoftmaxKind};

pub(super) const OPS: &[&str] = &[
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
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
        "MaxPool" | "AveragePool" => im.pool(node, index, a)?,
        "GlobalAveragePool" => {
            let x = im.dyn_in(node, 0)?;
            im.add(node, index, Op::GlobalPool(PoolKind::Avg), &[x])?
        }
        "GlobalMaxPool" => {
            let x = im.dyn_in(node, 0)?;
            im.add(node, index, Op::GlobalPool(PoolKind::Max), &[x])?
        }
        // "Softmax" | "LogSoftmax" | "Hardmax"
        _ => im.softmax(node, index, a)?,
    };
    Ok(Some(Val::Dyn(y)))
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
        if xs.len() != 4 {
            return Err(Error::invalid_op(
                node_label(node),
                format!("only 2-D pooling is supported, input is {xs:?}"),
            ));
        }
        let kind = if node.op_type() == "MaxPool" {
            PoolKind::Max
        } else {
            PoolKind::Avg
        };
        let k = a.usizes("kernel_shape", 2, 1)?;
        let s = a.usizes("strides", 2, 1)?;
        let d = a.usizes("dilations", 2, 1)?;
        let (mut begin, mut end) = explicit_pads(a, 2)?;
        match a.string("auto_pad", "NOTSET").as_str() {
            "NOTSET" => {}
            "VALID" => (begin, end) = (vec![0; 2], vec![0; 2]),
            mode => {
                for i in 0..2 {
                    let input = xs[2 + i];
                    let out = input.div_ceil(s[i]);
                    let span = d[i] * (k[i] - 1) + 1;
                    let total = ((out - 1) * s[i] + span).saturating_sub(input);
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
            kernel: [k[0], k[1]],
            stride: [s[0], s[1]],
            pad_begin: [begin[0], begin[1]],
            pad_end: [end[0], end[1]],
            dilation: [d[0], d[1]],
            ceil_mode: a.int("ceil_mode", 0) != 0,
            count_include_pad: a.int("count_include_pad", 0) != 0,
        };
        self.add(node, index, Op::Pool(spec), &[x])
    }
}
