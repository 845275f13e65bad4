//! Indexing a computed tensor with constant indices, through the data-movement ops: `Tile` as
//! broadcasts of views (an `Expand` between two Reshapes per pair of adjacent tiled dims), and
//! `Gather` as strided slices (one per run of indices with a constant positive step) joined by
//! a `Concat`. Gathers of constants fold on the host ([`super::constant`]).

use super::{Importer, Val, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, ValueId};
use crate::onnx::attrs::Attrs;
use crate::onnx::fold;
use crate::onnx::proto::NodeProto;

pub(super) const OPS: &[&str] = &["Tile", "Gather"];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let y = match node.op_type() {
        "Tile" => im.tile(node, index)?,
        // "Gather"
        _ => im.gather(node, index, a)?,
    };
    Ok(Some(Val::Dyn(y)))
}

fn as_i64(s: &[usize]) -> Vec<i64> {
    s.iter().map(|&d| d as i64).collect()
}

impl Importer<'_> {
    fn tile(&mut self, node: &NodeProto, index: usize) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let mut cur = self.shape(x);
        let reps = self.need_const(node, 1)?.as_i64();
        let r = cur.len();
        if reps.len() != r || reps.iter().any(|&n| n < 0) {
            return Err(Error::invalid_op(
                node_label(node),
                format!("repeats {reps:?} must be {r} non-negative counts, one per dim of {cur:?}"),
            ));
        }
        if reps.contains(&0) {
            return Err(Error::invalid_op(
                node_label(node),
                format!("repeats {reps:?} make an empty tensor: empty tensors are not supported"),
            ));
        }
        let tiled: Vec<usize> = (0..r).filter(|&d| reps[d] > 1).collect();
        let mut y = x;
        let mut k = 0;
        // Two adjacent tiled dims per copy keep its index space (leading dims, two (repeat,
        // extent) pairs, trailing dims) within the strided copy's rank.
        while k < tiled.len() {
            let n = if tiled.get(k + 1) == Some(&(tiled[k] + 1)) {
                2
            } else {
                1
            };
            let group = &tiled[k..k + n];
            let (mut view, mut target) = (Vec::new(), Vec::new());
            for d in 0..r {
                if group.contains(&d) {
                    view.push(1);
                    target.push(reps[d] as usize);
                }
                view.push(cur[d]);
                target.push(cur[d]);
            }
            for &d in group {
                cur[d] *= reps[d] as usize;
            }
            let v = self.add(
                node,
                index,
                Op::Reshape {
                    shape: as_i64(&view),
                },
                &[y],
            )?;
            let e = self.add(node, index, Op::Expand { shape: target }, &[v])?;
            y = self.add(
                node,
                index,
                Op::Reshape {
                    shape: as_i64(&cur),
                },
                &[e],
            )?;
            k += n;
        }
        Ok(y)
    }

    fn gather(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        if xs.is_empty() {
            return Err(Error::invalid_op(
                node_label(node),
                "data is a scalar (rank 0)",
            ));
        }
        let axis = fold::axis("Gather", a.int("axis", 0), xs.len())?;
        let indices = match self.get(node, 1)? {
            Some(Val::Const(c)) => c.clone(),
            _ => {
                return Err(Error::invalid_op(
                    node_label(node),
                    "computed indices have no lowering (only constant ones)",
                ));
            }
        };
        let dim = xs[axis] as i64;
        let idx = indices
            .as_i64()
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + dim } else { i };
                usize::try_from(j)
                    .ok()
                    .filter(|&j| (j as i64) < dim)
                    .ok_or_else(|| {
                        Error::invalid_op(
                            node_label(node),
                            format!("index {i} is out of range for dim {axis} of {xs:?}"),
                        )
                    })
            })
            .collect::<Result<Vec<usize>>>()?;
        if idx.is_empty() {
            return Err(Error::invalid_op(
                node_label(node),
                "no indices: empty tensors are not supported",
            ));
        }
        let mut parts = Vec::new();
        let mut i = 0;
        while i < idx.len() {
            let start = idx[i];
            let step = match idx.get(i + 1) {
                Some(&n) if n > start => n - start,
                _ => 1,
            };
            let mut end = i + 1;
            while end < idx.len() && idx[end] == idx[end - 1] + step {
                end += 1;
            }
            let count = end - i;
            if count == xs[axis] {
                parts.push(x);
            } else {
                let mut starts = vec![0; xs.len()];
                let mut ends = xs.clone();
                let mut steps = vec![1; xs.len()];
                starts[axis] = start;
                ends[axis] = start + (count - 1) * step + 1;
                steps[axis] = step;
                let op = Op::Slice {
                    starts,
                    ends,
                    steps,
                };
                parts.push(self.add(node, index, op, &[x])?);
            }
            i = end;
        }
        let y = match parts[..] {
            [y] => y,
            _ => self.add(node, index, Op::Concat { axis }, &parts)?,
        };
        let mut out = xs[..axis].to_vec();
        out.extend(&indices.shape);
        out.extend(&xs[axis + 1..]);
        if out == self.shape(y) {
            return Ok(y);
        }
        self.add(
            node,
            index,
            Op::Reshape {
                shape: as_i64(&out),
            },
            &[y],
        )
    }
}
