//! The least traffic any plan of a graph could have, the yardstick of [`super::Traffic`].
//!
//! Defined on the graph as given (normally after [`crate::graph::passes::optimize`], so after
//! fusion), element sizes of `precision` (parameters in [`param_precision`]):
//! - pure data movement is free: Reshape, Flatten, Dropout, Identity, Transpose, ChannelShuffle,
//!   PixelShuffle, SpaceToDepth, Slice, Concat, Expand, Pad, Reverse and Constant write nothing
//!   and read nothing (a consumer can read through them with its own indexing);
//! - every other node writes its output once and reads each distinct input once, and its
//!   parameters once;
//! - an input seen through data movement costs what its consumer must read of the data behind
//!   it: `min(bytes of the input as seen, what the movement reads)`, recursively, where a
//!   movement reads the sum over its inputs (a Slice reads its slice, an Expand or Pad only its
//!   source, a Concat its parts), and a graph input or Constant is data of its own size.
//!
//! So each graph input and parameter is read once per consumer, each tensor that must exist
//! (the output of a computing node) is written once and read once per consumer, and nothing is
//! charged for moving data around. Graph outputs are not read back here (the readback is no
//! launch).

use crate::graph::{Graph, NodeId, Op, ValueId};
use crate::plan::param_precision;
use crate::precision::Precision;
use crate::tensor::numel;

/// True for ops that only move or rearrange data (free in the minimum).
pub fn is_data_movement(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape { .. }
            | Op::Flatten { .. }
            | Op::Dropout { .. }
            | Op::Identity
            | Op::Transpose { .. }
            | Op::ChannelShuffle(_)
            | Op::PixelShuffle(_)
            | Op::SpaceToDepth(_)
            | Op::Slice { .. }
            | Op::Concat { .. }
            | Op::Expand { .. }
            | Op::Pad { .. }
            | Op::Reverse { .. }
            | Op::Constant { .. }
    )
}

/// Per value, the bytes a consumer must read to see it (see the module doc).
fn read_costs(g: &Graph, precision: Precision) -> Vec<u64> {
    let elem = precision.elem_bytes() as u64;
    let mut cost: Vec<u64> = g
        .values()
        .iter()
        .enumerate()
        .map(|(v, _)| numel(g.shape(ValueId(v))) as u64 * elem)
        .collect();
    // Nodes are in execution order, so a movement's inputs are costed before it.
    for node in g.nodes() {
        let out = node.output.0;
        cost[out] = match &node.op {
            Op::Constant { value } => {
                value.numel() as u64 * param_precision(&node.op, precision).elem_bytes() as u64
            }
            op if is_data_movement(op) => {
                let behind: u64 = node.inputs.iter().map(|v| cost[v.0]).sum();
                cost[out].min(behind)
            }
            _ => cost[out],
        };
    }
    cost
}

/// One node's share of [`minimum_bytes`]: zero for data movement; else its distinct inputs as
/// its consumer must read them, its parameters and its output.
pub fn node_minimum(g: &Graph, id: NodeId, precision: Precision) -> u64 {
    node_cost(g, id, precision, &read_costs(g, precision))
}

fn node_cost(g: &Graph, id: NodeId, precision: Precision, cost: &[u64]) -> u64 {
    let node = g.node(id);
    if is_data_movement(&node.op) {
        return 0;
    }
    let mut inputs: Vec<ValueId> = node.inputs.clone();
    inputs.sort_by_key(|v| v.0);
    inputs.dedup();
    let reads: u64 = inputs.iter().map(|v| cost[v.0]).sum();
    let param_elem = param_precision(&node.op, precision).elem_bytes() as u64;
    let params: u64 = node
        .op
        .params()
        .iter()
        .map(|(_, t)| t.numel() as u64 * param_elem)
        .sum();
    let elem = precision.elem_bytes() as u64;
    reads + params + numel(g.shape(node.output)) as u64 * elem
}

/// The least bytes any plan of `g` in `precision` moves (see the module doc).
pub fn minimum_bytes(g: &Graph, precision: Precision) -> u64 {
    let cost = read_costs(g, precision);
    (0..g.nodes().len())
        .map(|i| node_cost(g, NodeId(i), precision, &cost))
        .sum()
}
