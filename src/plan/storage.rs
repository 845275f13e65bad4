//! Which storage each value uses: its own region, its source's (a view, at its offset there:
//! see `views`), or a chunk of a Concat's output that its producer writes straight into (a
//! Concat in place).
//!
//! A Concat whose output dims before the axis are all 1 (channels at batch 1, or axis 0) holds
//! its inputs as contiguous chunks back to back. An input whose producer launches a kernel that
//! writes its whole output (not a view, constant or Concat; not a graph output; not fed twice
//! to this Concat; not already in place in an earlier Concat) gets the chunk as its region, so
//! the Concat copies only the other inputs. So does the source of consecutive inputs that are
//! views laying out its bytes in order (YOLOv8's C2f splits a convolution's output in two
//! halves and concatenates them again): the source is written into their chunks. A chunk must
//! start at a multiple of [`ALIGN`] (it is bound on its own), and the Concat's output must fit
//! one binding (the splitter's concat copies every input). A producer reading another chunk of
//! the same output stays apart, as it would bind one buffer both for reading and writing:
//! chunks are taken greedily in input order, each unless its producer reads an earlier one or
//! an earlier one's producer reads it (so of a chain of pools, every other one goes in place).

use super::alloc::tensor_bytes;
use super::views::view_offset;
use super::{ALIGN, Rewrites};
use crate::graph::{Graph, Op, ValueId};
use crate::precision::Precision;
use crate::tensor::numel;

/// Every value's storage: the value whose region it uses (itself, a view's source, or the
/// Concat output it is written into) and its byte offset in that region.
pub(crate) struct Storage {
    pub root: Vec<ValueId>,
    pub offset: Vec<u64>,
    /// Per node, its output's offset in its input's storage when it is a view.
    pub view: Vec<Option<u64>>,
}

/// The storage of every value of `g` stored in `precision`, with Concats whose output is at
/// most `binding_limit` bytes done in place where they can be (if `rewrites` says so).
pub(crate) fn storage(
    g: &Graph,
    precision: Precision,
    binding_limit: u64,
    rewrites: &Rewrites,
) -> Storage {
    let nv = g.values().len();
    let view: Vec<Option<u64>> = g
        .nodes()
        .iter()
        .map(|node| view_offset(g, node, precision, rewrites))
        .collect();
    let mut root: Vec<ValueId> = (0..nv).map(ValueId).collect();
    for (node, at) in g.nodes().iter().zip(&view) {
        if at.is_some() {
            root[node.output.0] = root[node.inputs[0].0];
        }
    }
    let chunks = if rewrites.concat_in_place {
        chunks(g, &root, &view, precision, binding_limit)
    } else {
        vec![None; nv]
    };
    let mut offset = vec![0u64; nv];
    for (node, at) in g.nodes().iter().zip(&view) {
        let o = node.output.0;
        if let Some(at) = at {
            let x = node.inputs[0].0;
            (root[o], offset[o]) = (root[x], offset[x] + at);
        } else if let Some((concat, at)) = chunks[o] {
            // A Concat's output is its own root: Concats never go in place themselves.
            (root[o], offset[o]) = (concat, at);
        }
    }
    Storage { root, offset, view }
}

/// For every value written in place, the Concat output holding it and its byte offset there.
/// `view_root` maps each value to the source of its views; `view` tells which nodes are views.
fn chunks(
    g: &Graph,
    view_root: &[ValueId],
    view: &[Option<u64>],
    precision: Precision,
    binding_limit: u64,
) -> Vec<Option<(ValueId, u64)>> {
    let nv = g.values().len();
    let mut producer = vec![None; nv];
    // Each value's byte offset in its view root's storage.
    let mut view_at = vec![0u64; nv];
    for (node, at) in g.nodes().iter().zip(view) {
        producer[node.output.0] = Some((node, at.is_some()));
        if let Some(at) = at {
            view_at[node.output.0] = view_at[node.inputs[0].0] + at;
        }
    }
    let elem = precision.elem_bytes() as u64;
    let bytes = |v: ValueId| numel(g.shape(v)) as u64 * elem;
    let mut chunks: Vec<Option<(ValueId, u64)>> = vec![None; nv];
    for node in g.nodes() {
        let Op::Concat { axis } = node.op else {
            continue;
        };
        let out_shape = g.shape(node.output);
        if out_shape[..axis].iter().any(|&d| d != 1)
            || tensor_bytes(out_shape, precision) > binding_limit
        {
            continue;
        }
        // Runs of consecutive inputs with one view root, each with its byte offset.
        let mut runs: Vec<(ValueId, u64, Vec<ValueId>)> = Vec::new();
        let mut at = 0u64;
        for &v in &node.inputs {
            let root = view_root[v.0];
            match runs.last_mut() {
                Some((r, _, members)) if *r == root => members.push(v),
                _ => runs.push((root, at, vec![v])),
            }
            at += bytes(v);
        }
        let candidates: Vec<(ValueId, u64)> = runs
            .iter()
            .filter(|(root, at, members)| {
                let writes = producer[root.0].is_some_and(|(p, is_view)| {
                    !is_view && !matches!(p.op, Op::Concat { .. } | Op::Constant { .. })
                });
                let once = runs.iter().filter(|r| r.0 == *root).count() == 1;
                writes
                    && once
                    && bytes(*root) > 0
                    && at.is_multiple_of(ALIGN)
                    && chunks[root.0].is_none()
                    && !g.outputs().contains(root)
                    && tiles_root(members, *root, &view_at, &bytes)
            })
            .map(|(root, at, _)| (*root, *at))
            .collect();
        // Greedily in input order: a producer may not read a chunk of the same output, in
        // either direction.
        let reads =
            |p: &crate::graph::Node, c: ValueId| p.inputs.iter().any(|u| view_root[u.0] == c);
        let mut accepted: Vec<(ValueId, u64)> = Vec::new();
        for (v, at) in candidates {
            let producer_of = |v: ValueId| producer[v.0].expect("candidates have producers").0;
            let clash = accepted
                .iter()
                .any(|&(a, _)| reads(producer_of(v), a) || reads(producer_of(a), v));
            if !clash {
                accepted.push((v, at));
            }
        }
        for (v, at) in accepted {
            chunks[v.0] = Some((node.output, at));
        }
    }
    chunks
}

/// True when `members` (consecutive Concat inputs sharing the view root `root`) lay out
/// `root`'s bytes exactly, in order: `root` itself, or views of it back to back from its
/// first byte to its last (a Split's outputs, concatenated again in order).
fn tiles_root(
    members: &[ValueId],
    root: ValueId,
    view_at: &[u64],
    bytes: &impl Fn(ValueId) -> u64,
) -> bool {
    let mut end = 0u64;
    for &v in members {
        if view_at[v.0] != end {
            return false;
        }
        end += bytes(v);
    }
    end == bytes(root)
}
