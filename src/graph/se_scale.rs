//! Squeeze-excitation's channel scale moves into the 1x1 convolution after it.
//!
//! SE ends in `y = x * s` with `x` `[N, C, *spatial]` and the gate `s` `[N, C, 1, ..]`, and in
//! MBConv / MobileNetV3 blocks `y` is read only by the 1x1 projection. Since
//! `sum_c W[o, c] (x[n, c, p] s[n, c]) = sum_c W[o, c] s[n, c] x[n, c, p]`, that convolution
//! can multiply each input value by `s[n, c]` as it reads it (`Epilogue::input_scale`, the gate
//! becoming one more input of the node), and `y` (a full write and read of the feature map)
//! is never stored. The product is rounded as the `Mul` rounds it in f32; in f16 with f32
//! accumulation it is not rounded to f16 first, so the fused result is at least as accurate.
//!
//! Only a dense pointwise convolution (1x1, stride 1, unpadded, one group) is rewritten, and
//! only when the product has no other reader and is not a graph output.

use super::passes::{PassStats, sole_reader};
use super::{Graph, Op, ValueId};
use crate::error::Result;
use crate::ops::{BinaryOp, ConvSpec};

/// Fuses every `Mul(x, gate) -> Conv 1x1` as the module comment says, then compacts.
pub fn fuse_se_scale(g: &mut Graph) -> Result<PassStats> {
    let mut n = 0;
    let consumers = g.consumers();
    let uses = g.use_counts();
    for i in 0..g.nodes().len() {
        let node = &g.nodes()[i];
        let Op::Binary {
            op: BinaryOp::Mul,
            activation,
        } = node.op
        else {
            continue;
        };
        if activation != Default::default() || node.inputs.len() != 2 {
            continue;
        }
        let Some((x, gate)) = split_operands(g, node.inputs[0], node.inputs[1]) else {
            continue;
        };
        let Some(conv) = sole_reader(g, &uses, &consumers, node.output) else {
            continue;
        };
        let reader = g.node(conv);
        let Op::Conv { spec, epilogue, .. } = &reader.op else {
            continue;
        };
        if reader.inputs[0] != node.output || epilogue.input_scale || !dense_pointwise(spec) {
            continue;
        }
        let mut op = reader.op.clone();
        if let Op::Conv { epilogue, .. } = &mut op {
            epilogue.input_scale = true;
        }
        // Inputs: x, the run-time weight slots, the gate, then the residual (if fused).
        let mut inputs = reader.inputs.clone();
        inputs[0] = x;
        let at = 1 + reader.op.runtime_operands().len();
        inputs.insert(at, gate);
        g.replace_node(conv, op, inputs)?;
        n += 1;
    }
    g.compact()?;
    Ok(PassStats { rewritten: n })
}

/// `(x, gate)` when one operand is a feature map `[N, C, *spatial]` and the other its gate
/// `[N, C, 1, ..]` (either order).
fn split_operands(g: &Graph, a: ValueId, b: ValueId) -> Option<(ValueId, ValueId)> {
    let is_gate = |x: ValueId, s: ValueId| {
        let (xs, ss) = (g.shape(x), g.shape(s));
        xs.len() >= 3
            && ss.len() == xs.len()
            && ss[..2] == xs[..2]
            && ss[2..].iter().all(|&d| d == 1)
    };
    if is_gate(a, b) {
        Some((a, b))
    } else if is_gate(b, a) {
        Some((b, a))
    } else {
        None
    }
}

/// 1x1 kernel, stride 1, no padding, one group: what the pointwise GEMM runs with the scale on
/// its B operand (rows are input channels).
fn dense_pointwise(spec: &ConvSpec) -> bool {
    spec.groups == 1
        && spec.kernel.iter().all(|&k| k == 1)
        && spec.stride.iter().all(|&s| s == 1)
        && spec.pad_begin.iter().chain(&spec.pad_end).all(|&p| p == 0)
}
