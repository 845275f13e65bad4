//! Nodes that launch nothing because their output is their input's bytes seen another way:
//! the relabelling ops ([`is_view`]: Flatten, Reshape and so Squeeze / Unsqueeze, Dropout,
//! Identity) at offset 0, and a Slice (so each output of a Split) whose output is one
//! contiguous run of its input's row-major elements, at that run's offset.
//!
//! A Slice is contiguous when, scanning from the last dim, every dim is whole up to one cut dim
//! that has step 1 (or keeps one index), and every dim before it keeps one index: channels of a
//! batch-1 tensor, rows of one image. Its consumers bind the run on its own, so its offset must
//! be a multiple of [`ALIGN`]; otherwise, and for strided or batched slices, the copy stays.
//! Such a view shares its input's storage, so the allocator keeps the input alive as long as any
//! view of it is read.

use super::launches::is_view;
use super::{ALIGN, Plan, Rewrites};
use crate::graph::{Graph, Node, Op};
use crate::precision::Precision;
use crate::tensor::numel;

/// The byte offset of `node`'s output in its input's storage when the node is a view (stored
/// in `precision`), `None` when it launches a kernel. Slices are views only with
/// `rewrites.slice_views`.
pub(crate) fn view_offset(
    g: &Graph,
    node: &Node,
    precision: Precision,
    rewrites: &Rewrites,
) -> Option<u64> {
    if is_view(&node.op) {
        return Some(0);
    }
    let Op::Slice { starts, steps, .. } = &node.op else {
        return None;
    };
    if !rewrites.slice_views {
        return None;
    }
    let input = g.shape(node.inputs[0]);
    let out = g.shape(node.output);
    if numel(out) == 0 {
        return None;
    }
    let whole = |d: usize| starts[d] == 0 && out[d] == input[d];
    // The last dim not kept whole; before it one index each.
    let cut = (0..input.len()).rev().find(|&d| !whole(d));
    if let Some(k) = cut
        && ((steps[k] != 1 && out[k] != 1) || out[..k].iter().any(|&d| d != 1))
    {
        return None;
    }
    let mut stride = 1u64;
    let mut first = 0u64;
    for d in (0..input.len()).rev() {
        first += starts[d] as u64 * stride;
        stride *= input[d] as u64;
    }
    let offset = first * precision.elem_bytes() as u64;
    offset.is_multiple_of(ALIGN).then_some(offset)
}

impl Plan {
    /// True when `node` launches nothing: its output is a view of its input.
    pub(crate) fn is_view_node(&self, g: &Graph, node: &Node) -> bool {
        view_offset(g, node, self.target.precision, &self.rewrites).is_some()
    }

    /// Checks that a view lies at its offset inside its input's region.
    pub(crate) fn verify_view(&self, g: &Graph, node: &Node) -> Result<(), String> {
        let Some(offset) = view_offset(g, node, self.target.precision, &self.rewrites) else {
            return Ok(());
        };
        let (x, y) = (self.regions[node.inputs[0].0], self.regions[node.output.0]);
        let shared = self.storage_of[node.inputs[0].0] == self.storage_of[node.output.0];
        if !shared || y.buffer != x.buffer || y.offset != x.offset + offset || y.end() > x.end() {
            return Err(format!(
                "node {:?}: view {y:?} not at byte {offset} inside its input {x:?}",
                node.name
            ));
        }
        Ok(())
    }
}
