//! A channel shuffle read only by convolutions moves nothing: each dense convolution reads the
//! unshuffled tensor with its weights' input channels permuted instead.
//!
//! A shuffle makes `s[c] = x[src(c)]`, and `sum_c w[o, c] s[c] = sum_j w'[o, j] x[j]` with
//! `w'[o, src(c)] = w[o, c]`. The permutation also passes through per-channel ops, so a
//! depthwise convolution (its weights and bias permuted the same way), a channel affine or an
//! activation on the shuffled tensor computes its output in unshuffled order, and the
//! permutation moves on to their readers. A shuffle is folded when every path from it ends at
//! dense convolutions; any other reader (a graph output, a Slice, a residual, a Concat) keeps
//! it as it is.
//!
//! ShuffleNet V2's stride-1 units are not folded: there the shuffle's halves feed a Slice to
//! the next Concat and a Slice to a 1x1 convolution. Reading the unshuffled tensor whole, that
//! convolution would need zero weights for the other half (twice its MACs, over a fifth more
//! for the network), and the other half must still be gathered for the Concat, so the copy
//! stays.

use super::passes::PassStats;
use super::{Graph, NodeId, Op, Operand, ValueId};
use crate::error::Result;
use crate::tensor::Tensor;

/// What folding does to one reader of a permuted value.
enum Fold {
    /// A dense convolution: permute its weights' input channels; the permutation ends here.
    Dense(NodeId),
    /// A per-channel op: permute its parameters; its output carries the permutation on.
    PerChannel(NodeId),
}

/// Folds every channel shuffle whose readers all end at dense convolutions, then compacts.
pub fn fold_channel_shuffles(g: &mut Graph) -> Result<PassStats> {
    let mut n = 0;
    for i in 0..g.nodes().len() {
        let node = &g.nodes()[i];
        let Op::ChannelShuffle(s) = node.op else {
            continue;
        };
        let (x, y) = (node.inputs[0], node.output);
        let c = g.shape(y)[1];
        let k = c / s.groups;
        let src: Vec<usize> = (0..c).map(|o| (o % s.groups) * k + o / s.groups).collect();
        let mut folds = Vec::new();
        if !plan_folds(g, &g.consumers(), y, &mut folds) {
            continue;
        }
        for f in &folds {
            match *f {
                Fold::Dense(r) => permute_dense(g.op_mut(r), &src),
                Fold::PerChannel(r) => permute_per_channel(g.op_mut(r), &src),
            }
        }
        for r in g.consumers()[y.0].clone() {
            let mut inputs = g.node(r).inputs.clone();
            inputs[0] = x;
            g.set_inputs(r, inputs);
        }
        n += 1;
    }
    g.compact()?;
    Ok(PassStats { rewritten: n })
}

/// Collects in `folds` what every reader of the permuted value `v` (and, through per-channel
/// ops, their readers) does; false when some path does not end at a dense convolution.
fn plan_folds(g: &Graph, consumers: &[Vec<NodeId>], v: ValueId, folds: &mut Vec<Fold>) -> bool {
    if g.outputs().contains(&v) || consumers[v.0].is_empty() {
        return false;
    }
    for &r in &consumers[v.0] {
        let node = g.node(r);
        // Read once, as the data input: weights, a bias or a residual given at run time would
        // need permuting too.
        if node.inputs.iter().filter(|&&u| u == v).count() != 1 || node.inputs[0] != v {
            return false;
        }
        let c = g.shape(v)[1];
        match &node.op {
            // A scaled input's gate is in the shuffled order too: not folded.
            Op::Conv {
                spec,
                weight: Operand::Const(_),
                epilogue,
                ..
            } if spec.groups == 1 && !epilogue.input_scale => folds.push(Fold::Dense(r)),
            Op::Conv {
                spec,
                weight: Operand::Const(_),
                bias: None | Some(Operand::Const(_)),
                epilogue,
            } if spec.groups == c
                && g.shape(node.output)[1] == c
                && !epilogue.residual
                && !epilogue.input_scale =>
            {
                folds.push(Fold::PerChannel(r));
                if !plan_folds(g, consumers, node.output, folds) {
                    return false;
                }
            }
            Op::ChannelAffine {
                residual: false, ..
            }
            | Op::Activation(_) => {
                folds.push(Fold::PerChannel(r));
                if !plan_folds(g, consumers, node.output, folds) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// `t` with its slice `c` along `axis` moved to `src[c]`.
fn scatter(t: &Tensor, axis: usize, src: &[usize]) -> Tensor {
    let shape = t.shape();
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let c = shape[axis];
    let mut out = Tensor::zeros(shape);
    for a in 0..outer {
        for (from, &to) in src.iter().enumerate() {
            let at = |ch: usize| (a * c + ch) * inner;
            out.data_mut()[at(to)..at(to) + inner]
                .copy_from_slice(&t.data()[at(from)..at(from) + inner]);
        }
    }
    out
}

/// A dense convolution's weights `[O, C, *k]` with input channel `c` moved to `src[c]`.
fn permute_dense(op: &mut Op, src: &[usize]) {
    if let Op::Conv {
        weight: Operand::Const(w),
        ..
    } = op
    {
        *w = scatter(w, 1, src);
    }
}

/// A per-channel op's parameters (a depthwise convolution's `[C, 1, *k]` weights and bias, a
/// channel affine's scale and shift) with channel `c` moved to `src[c]`.
fn permute_per_channel(op: &mut Op, src: &[usize]) {
    match op {
        Op::Conv {
            weight: Operand::Const(w),
            bias,
            ..
        } => {
            *w = scatter(w, 0, src);
            if let Some(Operand::Const(b)) = bias {
                *b = scatter(b, 0, src);
            }
        }
        Op::ChannelAffine { scale, shift, .. } => {
            *scale = scatter(scale, 0, src);
            *shift = scatter(shift, 0, src);
        }
        Op::Activation(_) => {}
        _ => unreachable!("plan_folds admits only per-channel ops"),
    }
}
