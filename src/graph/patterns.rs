//! Undoes the decompositions that exporters (and hand-built graphs) write for ops wgconv has a
//! kernel for, so they run as one op:
//!
//! - `x * sigmoid(x)` becomes SiLU, `x * hardsigmoid(x)` (alpha 1/6, beta 1/2) HardSwish;
//! - `x * relu6(x + 3) / 6` (the `+ 3` and `/ 6` as channel affines) becomes HardSwish;
//! - Reshape -> Transpose -> Reshape chains become a channel shuffle, pixel shuffle or
//!   space-to-depth;
//! - zero padding of the spatial dims in front of a convolution becomes its padding.
//!
//! Each rewrite recomputes the pattern's result from its source at the node that ends it (which
//! keeps its name); the pattern's inner nodes are left to [`Graph::compact`], which drops them
//! when nothing else reads them. Other readers of inner values therefore never block a rewrite.
//!
//! GELU through Erf is not here: Erf is no graph op, so the ONNX importer recognises the whole
//! `x * 0.5 * (1 + erf(x / sqrt(2)))` while it lowers the nodes.
//!
//! The ONNX importer runs [`fuse_patterns`] on every graph it makes;
//! [`super::passes::optimize`] runs it too, for graphs built with the builder.

use super::passes::PassStats;
use super::{Graph, Node, NodeId, Op, ValueId};
use crate::error::Result;
use crate::ops::{Activation, BinaryOp, ChannelOrder, ChannelShuffle, PixelShuffle, SpaceToDepth};

/// Rewrites every pattern, in node order, then compacts.
pub fn fuse_patterns(g: &mut Graph) -> Result<PassStats> {
    let mut n = 0;
    for i in 0..g.nodes().len() {
        let node = &g.nodes()[i];
        let found = match &node.op {
            Op::Binary {
                op: BinaryOp::Mul,
                activation: Activation::Identity,
            } => gated_activation(g, node),
            Op::ChannelAffine { .. } => hard_swish_over_six(g, node),
            Op::Reshape { .. } | Op::Flatten { .. } => shuffle(g, node),
            Op::Conv { .. } => conv_absorbing_pad(g, node),
            _ => None,
        };
        // A fused op may refuse shapes its decomposition takes (a shuffle of zero groups in an
        // empty tensor): the node then stays as it was, which is always correct.
        if let Some((op, inputs)) = found
            && g.replace_node(NodeId(i), op, inputs).is_ok()
        {
            n += 1;
        }
    }
    g.compact()?;
    Ok(PassStats { rewritten: n })
}

/// What a node becomes: an op and its inputs.
type Rewrite = Option<(Op, Vec<ValueId>)>;

fn producer(g: &Graph, v: ValueId) -> Option<&Node> {
    g.value(v).producer.map(|p| g.node(p))
}

/// `x * sigmoid(x)` -> SiLU, `x * hardsigmoid(x)` -> HardSwish.
fn gated_activation(g: &Graph, node: &Node) -> Rewrite {
    let [a, b] = node.inputs[..] else {
        return None;
    };
    for (x, gate) in [(a, b), (b, a)] {
        let Some(p) = producer(g, gate) else {
            continue;
        };
        let fused = match p.op {
            Op::Activation(Activation::Sigmoid) => Activation::Silu,
            Op::Activation(Activation::HardSigmoid { alpha, beta })
                if (alpha - 1.0 / 6.0).abs() < 1e-6 && (beta - 0.5).abs() < 1e-6 =>
            {
                Activation::HardSwish
            }
            _ => continue,
        };
        if p.inputs == [x] {
            return Some((Op::Activation(fused), vec![x]));
        }
    }
    None
}

/// The input of a channel affine `x * scale + shift` with every scale and shift as given and
/// nothing fused.
fn affine_input(g: &Graph, v: ValueId, scale_is: f32, shift_is: f32) -> Option<ValueId> {
    match &producer(g, v)?.op {
        Op::ChannelAffine {
            scale,
            shift,
            activation: Activation::Identity,
            residual: false,
        } if scale.data().iter().all(|&s| s == scale_is)
            && shift.data().iter().all(|&b| b == shift_is) =>
        {
            Some(producer(g, v)?.inputs[0])
        }
        _ => None,
    }
}

/// `x * relu6(x + 3) / 6` -> HardSwish, recognised at the `/ 6` (an affine of scale 1/6 as f32).
fn hard_swish_over_six(g: &Graph, node: &Node) -> Rewrite {
    let m = affine_input(g, node.output, 1.0 / 6.0, 0.0)?;
    let mul = producer(g, m)?;
    let Op::Binary {
        op: BinaryOp::Mul,
        activation: Activation::Identity,
    } = mul.op
    else {
        return None;
    };
    let [a, b] = mul.inputs[..] else {
        return None;
    };
    for (x, gate) in [(a, b), (b, a)] {
        let Some(relu6) = producer(g, gate) else {
            continue;
        };
        let is_relu6 = match relu6.op {
            Op::Activation(Activation::Relu6) => true,
            Op::Activation(Activation::Clip { min, max }) => min == 0.0 && max == 6.0,
            _ => false,
        };
        if is_relu6 && affine_input(g, relu6.inputs[0], 1.0, 3.0) == Some(x) {
            return Some((Op::Activation(Activation::HardSwish), vec![x]));
        }
    }
    None
}

/// Reshape -> Transpose -> Reshape chains that are a channel shuffle, pixel shuffle or
/// space-to-depth, recognised at the last reshape. Reshapes only relabel row-major data, so
/// any chain of them before the Transpose, and any shape after it, are equivalent to the
/// canonical 4-D views ([`Graph::replace_node`] reshapes to the node's shape when it differs).
fn shuffle(g: &Graph, node: &Node) -> Rewrite {
    let t = producer(g, node.inputs[0])?;
    let Op::Transpose { perm } = &t.op else {
        return None;
    };
    // The earliest 4-D value the Transpose's input is a chain of reshapes of.
    let mut src = None;
    let mut v = t.inputs[0];
    while let Some(p) = producer(g, v).filter(|p| is_view(&p.op)) {
        v = p.inputs[0];
        if g.shape(v).len() == 4 {
            src = Some(v);
        }
    }
    let src = src?;
    let s = g.shape(src);
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let m = g.shape(t.inputs[0]);
    let op = match (m.len(), perm.as_slice()) {
        (5, [0, 2, 1, 3, 4]) if m[0] == n && prod(&m[1..3]) == Some(c) && m[3..] == [h, w] => {
            Op::ChannelShuffle(ChannelShuffle { groups: m[1] })
        }
        (6, [0, 1, 4, 2, 5, 3])
            if m[0] == n && m[2] == m[3] && prod(&m[1..4]) == Some(c) && m[4..] == [h, w] =>
        {
            Op::PixelShuffle(PixelShuffle {
                factor: m[2],
                order: ChannelOrder::Crd,
            })
        }
        (6, [0, 3, 4, 1, 5, 2])
            if m[0] == n && m[1] == m[2] && prod(&m[1..4]) == Some(c) && m[4..] == [h, w] =>
        {
            Op::PixelShuffle(PixelShuffle {
                factor: m[1],
                order: ChannelOrder::Dcr,
            })
        }
        (6, [0, 1, 3, 5, 2, 4])
            if m[..2] == [n, c]
                && m[3] == m[5]
                && prod(&m[2..4]) == Some(h)
                && prod(&m[4..6]) == Some(w) =>
        {
            Op::SpaceToDepth(SpaceToDepth {
                block: m[3],
                order: ChannelOrder::Crd,
            })
        }
        (6, [0, 3, 5, 1, 2, 4])
            if m[..2] == [n, c]
                && m[3] == m[5]
                && prod(&m[2..4]) == Some(h)
                && prod(&m[4..6]) == Some(w) =>
        {
            Op::SpaceToDepth(SpaceToDepth {
                block: m[3],
                order: ChannelOrder::Dcr,
            })
        }
        _ => return None,
    };
    Some((op, vec![src]))
}

/// The product of `dims`; `None` on overflow (possible beside a zero dim).
fn prod(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |p, &d| p.checked_mul(d))
}

/// Ops that only relabel row-major data.
fn is_view(op: &Op) -> bool {
    matches!(op, Op::Reshape { .. } | Op::Flatten { .. })
}

/// A convolution reading zero padding of the spatial dims (any chain of it) reads the unpadded
/// value with that much more padding of its own.
fn conv_absorbing_pad(g: &Graph, node: &Node) -> Rewrite {
    let Op::Conv {
        spec,
        weight,
        bias,
        epilogue,
    } = &node.op
    else {
        return None;
    };
    let r = spec.rank();
    let mut spec = spec.clone();
    let mut x = node.inputs[0];
    while let Some(p) = producer(g, x) {
        let Op::Pad { begin, end, value } = &p.op else {
            break;
        };
        let spatial_zeros = *value == 0.0
            && r > 0
            && begin.len() == r + 2
            && end.len() == r + 2
            && begin[..2] == [0, 0]
            && end[..2] == [0, 0];
        if !spatial_zeros {
            break;
        }
        let add = |pads: &[usize], extra: &[usize]| -> Option<Vec<usize>> {
            pads.iter()
                .zip(extra)
                .map(|(a, b)| a.checked_add(*b))
                .collect()
        };
        let (Some(b), Some(e)) = (
            add(&spec.pad_begin, &begin[2..]),
            add(&spec.pad_end, &end[2..]),
        ) else {
            break;
        };
        (spec.pad_begin, spec.pad_end) = (b, e);
        x = p.inputs[0];
    }
    if x == node.inputs[0] {
        return None;
    }
    let mut inputs = node.inputs.clone();
    inputs[0] = x;
    let op = Op::Conv {
        spec,
        weight: weight.clone(),
        bias: bias.clone(),
        epilogue: *epilogue,
    };
    Some((op, inputs))
}
