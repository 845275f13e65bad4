//! Ops that cut, join or extend regions of a tensor: `Slice`, `Split` (one Slice per output),
//! `Concat` and constant `Pad` (negative pads crop first). Zero padding in front of a Conv
//! becomes the Conv's own later, on the graph ([`crate::graph::patterns`]).

use super::{Importer, Val, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, ValueId};
use crate::onnx::attrs::Attrs;
use crate::onnx::fold;
use crate::onnx::proto::NodeProto;

pub(super) const OPS: &[&str] = &["Concat", "Split", "Slice", "Pad"];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let y = match node.op_type() {
        "Concat" => {
            let x0 = im.dyn_in(node, 0)?;
            let axis = fold::axis("Concat", a.int("axis", 1), im.shape(x0).len())?;
            let xs = (0..node.input.len())
                .map(|i| im.dyn_in(node, i))
                .collect::<Result<Vec<_>>>()?;
            im.add(node, index, Op::Concat { axis }, &xs)?
        }
        "Split" => {
            im.split(node, index, a)?;
            return Ok(None);
        }
        "Slice" => {
            let x = im.dyn_in(node, 0)?;
            let (starts, ends, steps, reversed) = im.slice_params(node, a, &im.shape(x))?;
            let op = Op::Slice {
                starts,
                ends,
                steps,
            };
            let y = im.add(node, index, op, &[x])?;
            // Negative steps: the ascending selection, then flipped along those axes.
            if reversed.is_empty() {
                y
            } else {
                im.add(node, index, Op::Reverse { axes: reversed }, &[y])?
            }
        }
        // "Pad"
        _ => im.pad(node, index, a)?,
    };
    Ok(Some(Val::Dyn(y)))
}

impl Importer<'_> {
    fn split(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<()> {
        let x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        let axis = fold::axis("Split", a.int("axis", 0), xs.len())?;
        let dim = xs[axis];
        let n_out = node.output.len();
        // `split` is an attribute before opset 13 and input 1 from it (checked up front).
        let split = match a.ints("split") {
            Some(s) => Some(s),
            None => self.const_in(node, 1)?.map(|c| c.as_i64()),
        };
        let wrong = |why: String| Err(Error::invalid_op(node_label(node), why));
        if a.has("num_outputs") {
            let n = a.int("num_outputs", 0);
            if split.is_some() {
                return wrong("both split and num_outputs are given".into());
            }
            if n != n_out as i64 {
                return wrong(format!("num_outputs {n} but {n_out} outputs"));
            }
        }
        let sizes: Vec<usize> = match split {
            Some(s) => s.iter().map(|&v| v.max(0) as usize).collect(),
            // Before opset 18 the parts must be equal; from 18 the last may be smaller.
            None if self.opset < 18 && !dim.is_multiple_of(n_out.max(1)) => {
                return wrong(format!(
                    "dimension {dim} does not split into {n_out} equal parts (uneven parts need opset 18)"
                ));
            }
            None => {
                let chunk = dim.div_ceil(n_out.max(1));
                (0..n_out)
                    .map(|i| chunk.min(dim.saturating_sub(i * chunk)))
                    .collect()
            }
        };
        if sizes.len() != n_out || sizes.iter().sum::<usize>() != dim {
            return Err(Error::invalid_op(
                node_label(node),
                format!("split sizes {sizes:?} do not cover dimension {dim} in {n_out} outputs"),
            ));
        }
        let mut start = 0;
        for (out, &len) in node.output.iter().zip(&sizes) {
            let mut starts = vec![0; xs.len()];
            let mut ends = xs.clone();
            starts[axis] = start;
            ends[axis] = start + len;
            let name = format!("{}_{out}", self.unique_name(node, index));
            let v = self.g.add(
                &name,
                Op::Slice {
                    starts,
                    ends,
                    steps: vec![1; xs.len()],
                },
                &[x],
            )?;
            self.vals.insert(out.clone(), Val::Dyn(v));
            start += len;
        }
        Ok(())
    }

    /// Slice's (starts, ends, axes, steps), from inputs (opset >= 10) or attributes.
    #[allow(clippy::type_complexity)]
    pub(super) fn slice_args(
        &self,
        node: &NodeProto,
        a: &Attrs<'_>,
        r: usize,
    ) -> Result<(Vec<i64>, Vec<i64>, Vec<usize>, Vec<i64>)> {
        let (starts, ends, axes, steps) = if self.opset < 10 {
            (
                a.ints("starts").unwrap_or_default(),
                a.ints("ends").unwrap_or_default(),
                a.ints("axes"),
                None,
            )
        } else {
            (
                self.need_const(node, 1)?.as_i64(),
                self.need_const(node, 2)?.as_i64(),
                self.const_in(node, 3)?.map(|c| c.as_i64()),
                self.const_in(node, 4)?.map(|c| c.as_i64()),
            )
        };
        let axes: Vec<usize> = match axes {
            Some(ax) => ax
                .iter()
                .map(|&v| fold::axis("Slice", v, r))
                .collect::<Result<_>>()?,
            None => (0..starts.len()).collect(),
        };
        let steps = steps.unwrap_or_else(|| vec![1; axes.len()]);
        if starts.len() != axes.len() || ends.len() != axes.len() || steps.len() != axes.len() {
            return Err(Error::invalid_op(
                node_label(node),
                "starts, ends, axes and steps lengths differ",
            ));
        }
        Ok((starts, ends, axes, steps))
    }

    /// Ascending starts, ends and steps per dim, and the axes a negative step walks backwards.
    #[allow(clippy::type_complexity)]
    fn slice_params(
        &self,
        node: &NodeProto,
        a: &Attrs<'_>,
        shape: &[usize],
    ) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>)> {
        let r = shape.len();
        let (starts, ends, axes, steps) = self.slice_args(node, a, r)?;
        let (mut s, mut e, mut st) = (vec![0; r], shape.to_vec(), vec![1; r]);
        let mut reversed = Vec::new();
        for (k, &ax) in axes.iter().enumerate() {
            let back;
            (s[ax], e[ax], st[ax], back) =
                fold::slice_range("Slice", shape[ax], starts[k], ends[k], steps[k])?;
            if back && e[ax] - s[ax] > 1 {
                reversed.push(ax);
            }
        }
        reversed.sort_unstable();
        reversed.dedup();
        Ok((s, e, st, reversed))
    }

    /// Constant padding; negative pads crop first (a slice).
    fn pad(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let mut x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        let r = xs.len();
        if a.string("mode", "constant") != "constant" {
            return Err(a.error("mode", "only constant padding is supported"));
        }
        let pads = if self.opset < 11 {
            a.ints("pads").unwrap_or_default()
        } else {
            self.need_const(node, 1)?.as_i64()
        };
        let value = if self.opset < 11 {
            a.float("value", 0.0)
        } else {
            self.const_in(node, 2)?
                .and_then(|c| c.as_f32().first().copied())
                .unwrap_or(0.0)
        };
        // Opset 18: pads for a subset of the axes.
        let axes: Vec<usize> = match self.const_in(node, 3)? {
            Some(c) if self.opset >= 18 => c
                .as_i64()
                .iter()
                .map(|&v| fold::axis("Pad", v, r))
                .collect::<Result<_>>()?,
            _ => (0..r).collect(),
        };
        let k = axes.len();
        if pads.len() != 2 * k {
            return Err(Error::invalid_op(
                node_label(node),
                format!("pads {pads:?} need {} entries for input {xs:?}", 2 * k),
            ));
        }
        let (mut begin, mut end) = (vec![0i64; r], vec![0i64; r]);
        for (i, &ax) in axes.iter().enumerate() {
            begin[ax] = pads[i];
            end[ax] = pads[k + i];
        }
        if begin.iter().chain(&end).any(|&p| p < 0) {
            let starts: Vec<usize> = begin.iter().map(|&b| (-b).max(0) as usize).collect();
            let ends: Vec<usize> = (0..r)
                .map(|d| xs[d].saturating_sub((-end[d]).max(0) as usize))
                .collect();
            if (0..r).any(|d| starts[d] >= ends[d]) {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!("negative pads {pads:?} crop all of {xs:?}"),
                ));
            }
            let op = Op::Slice {
                starts,
                ends,
                steps: vec![1; r],
            };
            x = self.add(node, index, op, &[x])?;
        }
        let begin: Vec<usize> = begin.iter().map(|&p| p.max(0) as usize).collect();
        let end: Vec<usize> = end.iter().map(|&p| p.max(0) as usize).collect();
        if begin.iter().chain(&end).all(|&p| p == 0) {
            return Ok(x);
        }
        let op = Op::Pad { begin, end, value };
        self.add(node, index, op, &[x])
    }
}
