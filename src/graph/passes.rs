//! Graph rewrites for inference. Each keeps the graph's function (checked in the tests by
//! running the original and the rewritten graph on the CPU reference):
//!
//! - [`remove_identities`]: drops `Dropout`, `Identity` and identity activations.
//! - [`fuse_patterns`]: decomposed SiLU / HardSwish, reshape-transpose-reshape shuffles and
//!   zero padding before a convolution become the dedicated ops (see [`super::patterns`]).
//! - [`fold_batch_norm`]: folds a BatchNorm into the convolution in front of it (weights and
//!   bias), and turns the BatchNorms that cannot be folded (pre-activation blocks, BN after
//!   ReLU) into a per-channel affine op.
//! - [`fold_channel_shuffles`]: a channel shuffle read only by convolutions (through
//!   per-channel ops) becomes a permutation of their weights (see `shuffle_fold`).
//! - [`fuse_residual_add`]: `conv(x) + r` becomes the convolution's residual epilogue.
//! - [`fuse_activations`]: an activation becomes the epilogue of the op in front of it, so the
//!   output is written once; an activation after a concatenation moves into its inputs.
//! - [`fuse_squeeze_excitation`]: SE's two 1x1 convolutions on the pooled vector become one
//!   [`Op::SeGate`] kernel, which also does the pooling on small maps: SE takes 2 dispatches
//!   (gate, channel scale), or 3 on large maps (pool, gate, scale).
//! - [`fuse_se_scale`]: SE's `x * gate` read only by a 1x1 convolution becomes that
//!   convolution's input scale (see `se_scale`): SE then takes 1 dispatch (2 on large maps).
//! - [`Graph::compact`] after each: dead nodes go, the order is topological again.
//!
//! A fusion only happens when the producer's output has no other reader: otherwise the
//! unfused value would still be needed. ([`fuse_patterns`] differs: it recomputes from the
//! pattern's source, so other readers keep the inner nodes alive instead.)

pub use super::patterns::fuse_patterns;
pub use super::se_scale::fuse_se_scale;
pub use super::shuffle_fold::fold_channel_shuffles;
use super::{Graph, NodeId, Op, Operand, Rewrites, ValueId};
use crate::error::Result;
use crate::ops::{Activation, BinaryOp, ConvSpec, PoolKind};
use crate::tensor::Tensor;

/// Runs every pass, in the order that lets each enable the next.
pub fn optimize(g: &Graph) -> Result<Graph> {
    optimize_with(g, &Rewrites::ALL)
}

/// [`optimize`] with the byte-saving passes `rewrites` names (the fusions always run).
pub fn optimize_with(g: &Graph, rewrites: &Rewrites) -> Result<Graph> {
    let mut g = g.clone();
    remove_identities(&mut g)?;
    fuse_patterns(&mut g)?;
    fold_batch_norm(&mut g)?;
    if rewrites.shuffle_fold {
        fold_channel_shuffles(&mut g)?;
    }
    fuse_residual_add(&mut g)?;
    fuse_activations(&mut g)?;
    fuse_squeeze_excitation(&mut g)?;
    if rewrites.se_scale {
        fuse_se_scale(&mut g)?;
    }
    Ok(g)
}

/// What each pass did, for reports and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    /// Nodes removed or rewritten.
    pub rewritten: usize,
}

/// Removes ops that pass their input through in inference.
pub fn remove_identities(g: &mut Graph) -> Result<PassStats> {
    let mut n = 0;
    for i in 0..g.nodes().len() {
        let node = &g.nodes()[i];
        let is_identity = matches!(
            node.op,
            Op::Dropout { .. } | Op::Identity | Op::Activation(Activation::Identity)
        );
        if is_identity {
            let (from, to) = (node.output, node.inputs[0]);
            g.replace_uses(from, to);
            n += 1;
        }
    }
    g.compact()?;
    Ok(PassStats { rewritten: n })
}

/// The single node reading `v`, if `v` has exactly one reader and is not a graph output.
pub(super) fn sole_reader(
    g: &Graph,
    uses: &[usize],
    consumers: &[Vec<NodeId>],
    v: ValueId,
) -> Option<NodeId> {
    if uses[v.0] == 1 && consumers[v.0].len() == 1 {
        Some(consumers[v.0][0])
    } else {
        None
    }
    .filter(|_| !g.outputs().contains(&v))
}

/// BatchNorm's per-channel `(scale, shift)`: `y = x * scale + shift`, computed in f64.
pub fn batch_norm_affine(op: &Op) -> Option<(Vec<f64>, Vec<f64>)> {
    let Op::BatchNorm {
        gamma,
        beta,
        mean,
        var,
        eps,
    } = op
    else {
        return None;
    };
    let c = mean.numel();
    let mut scale = Vec::with_capacity(c);
    let mut shift = Vec::with_capacity(c);
    for i in 0..c {
        let g = gamma.as_ref().map_or(1.0, |t| t.data()[i] as f64);
        let b = beta.as_ref().map_or(0.0, |t| t.data()[i] as f64);
        let s = g / (var.data()[i] as f64 + *eps as f64).sqrt();
        scale.push(s);
        shift.push(b - mean.data()[i] as f64 * s);
    }
    Some((scale, shift))
}

fn to_tensor(v: &[f64]) -> Tensor {
    Tensor::new(vec![v.len()], v.iter().map(|&x| x as f32).collect()).expect("1-D")
}

/// Scales output channel `o` of a convolution's weights by `scale[o]` and maps its bias
/// through `b * scale + shift`.
fn fold_into_conv(
    weight: &mut Tensor,
    bias: &mut Option<Operand>,
    scale: &[f64],
    shift: &[f64],
    transposed: Option<&ConvSpec>,
) {
    let out_ch = scale.len();
    let shape = weight.shape().to_vec();
    let w = weight.data_mut();
    match transposed {
        // An empty weight (zero output channels, or a zero-channel input) has nothing to scale.
        None if w.is_empty() => {}
        None => {
            // [O, C/g, *k]: output channel o owns a contiguous block.
            let per = w.len() / out_ch;
            for (o, block) in w.chunks_mut(per).enumerate() {
                for x in block {
                    *x = (*x as f64 * scale[o]) as f32;
                }
            }
        }
        Some(spec) => {
            // [C, O/g, *k]: input channel c of group c / (C/g) feeds outputs
            // group * (O/g) + j.
            let (cin, opg) = (shape[0], shape[1]);
            let k: usize = shape[2..].iter().product();
            let cpg = cin / spec.groups;
            for c in 0..cin {
                let grp = c / cpg;
                for j in 0..opg {
                    let s = scale[grp * opg + j];
                    for x in &mut w[(c * opg + j) * k..(c * opg + j + 1) * k] {
                        *x = (*x as f64 * s) as f32;
                    }
                }
            }
        }
    }
    let b: Vec<f64> = (0..out_ch)
        .map(|o| {
            let b0 = bias
                .as_ref()
                .and_then(Operand::as_const)
                .map_or(0.0, |t| t.data()[o] as f64);
            b0 * scale[o] + shift[o]
        })
        .collect();
    *bias = Some(to_tensor(&b).into());
}

/// Folds each BatchNorm into the convolution feeding it when that convolution has no fused
/// epilogue yet and no other reader; the remaining BatchNorms become [`Op::ChannelAffine`].
pub fn fold_batch_norm(g: &mut Graph) -> Result<PassStats> {
    let mut n = 0;
    let consumers = g.consumers();
    let uses = g.use_counts();
    for i in 0..g.nodes().len() {
        let node = &g.nodes()[i];
        let Some((scale, shift)) = batch_norm_affine(&node.op) else {
            continue;
        };
        let (bn_out, x) = (node.output, node.inputs[0]);
        let producer = g.value(x).producer;
        let foldable = producer.filter(|&p| {
            // Folding rewrites the weights on the host: not for weights given at run time.
            let op = &g.node(p).op;
            sole_reader(g, &uses, &consumers, x) == Some(NodeId(i))
                && op.runtime_operands().is_empty()
                && match op {
                    Op::Conv { epilogue, .. } | Op::ConvTranspose { epilogue, .. } => {
                        *epilogue == Default::default()
                    }
                    _ => false,
                }
        });
        if let Some(p) = foldable {
            match g.op_mut(p) {
                Op::Conv {
                    weight: Operand::Const(weight),
                    bias,
                    ..
                } => fold_into_conv(weight, bias, &scale, &shift, None),
                Op::ConvTranspose {
                    weight: Operand::Const(weight),
                    bias,
                    spec,
                    ..
                } => {
                    let conv = spec.conv.clone();
                    fold_into_conv(weight, bias, &scale, &shift, Some(&conv))
                }
                _ => unreachable!("checked above"),
            }
            g.replace_uses(bn_out, x);
        } else {
            *g.op_mut(NodeId(i)) = Op::ChannelAffine {
                scale: to_tensor(&scale),
                shift: to_tensor(&shift),
                activation: Activation::Identity,
                residual: false,
            };
        }
        n += 1;
    }
    g.compact()?;
    Ok(PassStats { rewritten: n })
}

/// Makes `a + r` (same shapes) the residual epilogue of `a`'s producer when that is a
/// convolution or channel affine with no activation, no residual yet, and no other reader.
pub fn fuse_residual_add(g: &mut Graph) -> Result<PassStats> {
    let mut n = 0;
    loop {
        let consumers = g.consumers();
        let uses = g.use_counts();
        let mut done = None;
        'nodes: for (i, node) in g.nodes().iter().enumerate() {
            let Op::Binary {
                op: BinaryOp::Add,
                activation: Activation::Identity,
            } = node.op
            else {
                continue;
            };
            let out_shape = g.shape(node.output);
            let (a, b) = (node.inputs[0], node.inputs[1]);
            if g.shape(a) != out_shape || g.shape(b) != out_shape || a == b {
                continue;
            }
            for (main, other) in [(a, b), (b, a)] {
                let Some(p) = g.value(main).producer else {
                    continue;
                };
                if sole_reader(g, &uses, &consumers, main) != Some(NodeId(i)) {
                    continue;
                }
                let fusable = match &g.node(p).op {
                    Op::Conv { epilogue, .. } | Op::ConvTranspose { epilogue, .. } => {
                        *epilogue == Default::default()
                    }
                    Op::ChannelAffine {
                        activation,
                        residual,
                        ..
                    } => *activation == Activation::Identity && !residual,
                    _ => false,
                };
                if fusable {
                    done = Some((p, other, node.output, main));
                    break 'nodes;
                }
            }
        }
        let Some((p, other, add_out, main)) = done else {
            break;
        };
        match g.op_mut(p) {
            Op::Conv { epilogue, .. } | Op::ConvTranspose { epilogue, .. } => {
                epilogue.residual = true
            }
            Op::ChannelAffine { residual, .. } => *residual = true,
            _ => unreachable!("checked above"),
        }
        let mut inputs = g.node(p).inputs.clone();
        inputs.push(other);
        g.set_inputs(p, inputs);
        g.replace_uses(add_out, main);
        // The add node is now dead; compaction re-sorts so `other` is computed before `p`.
        g.compact()?;
        n += 1;
    }
    Ok(PassStats { rewritten: n })
}

/// The fused activation slot of an op, if it has one and it is still free.
fn free_activation_slot(op: &mut Op) -> Option<&mut Activation> {
    let slot = match op {
        Op::Conv { epilogue, .. } | Op::ConvTranspose { epilogue, .. } => &mut epilogue.activation,
        Op::Linear { activation, .. }
        | Op::ChannelAffine { activation, .. }
        | Op::Binary { activation, .. } => activation,
        _ => return None,
    };
    (*slot == Activation::Identity).then_some(slot)
}

/// Moves each activation into the epilogue of its producer (or, after a concatenation, into
/// every producer of the concatenated parts).
pub fn fuse_activations(g: &mut Graph) -> Result<PassStats> {
    let mut n = 0;
    let consumers = g.consumers();
    let uses = g.use_counts();
    for i in 0..g.nodes().len() {
        let node = &g.nodes()[i];
        let Op::Activation(act) = node.op else {
            continue;
        };
        let (x, out) = (node.inputs[0], node.output);
        if sole_reader(g, &uses, &consumers, x) != Some(NodeId(i)) {
            continue;
        }
        let Some(p) = g.value(x).producer else {
            continue;
        };
        if free_activation_slot(g.op_mut(p)).is_some() {
            *free_activation_slot(g.op_mut(p)).expect("checked") = act;
            g.replace_uses(out, x);
            n += 1;
            continue;
        }
        // act(cat(a, b, ..)) == cat(act(a), act(b), ..): push it into every part when each
        // part has a free slot and no other reader.
        if let Op::Concat { .. } = g.node(p).op {
            let parts = g.node(p).inputs.clone();
            let mut distinct = parts.clone();
            distinct.sort();
            distinct.dedup();
            let ok = distinct.len() == parts.len()
                && parts.iter().all(|&v| {
                    sole_reader(g, &uses, &consumers, v) == Some(p)
                        && g.value(v).producer.is_some_and(|q| {
                            let mut op = g.node(q).op.clone();
                            free_activation_slot(&mut op).is_some()
                        })
                });
            if ok {
                for v in parts {
                    let q = g.value(v).producer.expect("checked");
                    *free_activation_slot(g.op_mut(q)).expect("checked") = act;
                }
                g.replace_uses(out, x);
                n += 1;
            }
        }
    }
    g.compact()?;
    Ok(PassStats { rewritten: n })
}

/// A 1x1, stride-1, unpadded, ungrouped convolution's `(weight [O, C], bias [O], activation)`.
fn as_dense_1x1(op: &Op) -> Option<(Tensor, Tensor, Activation)> {
    let Op::Conv {
        spec,
        weight,
        bias,
        epilogue,
    } = op
    else {
        return None;
    };
    let unit = spec.kernel.iter().all(|&k| k == 1)
        && spec.stride.iter().all(|&s| s == 1)
        && spec.pad_begin.iter().chain(&spec.pad_end).all(|&p| p == 0)
        && spec.groups == 1
        && !epilogue.residual;
    if !unit {
        return None;
    }
    let (o, c) = (weight.shape()[0], weight.shape()[1]);
    let w = weight.as_const()?.clone().reshape(vec![o, c]).ok()?;
    let b = match bias {
        Some(b) => b.as_const()?.clone(),
        None => Tensor::zeros(vec![o]),
    };
    Some((w, b, epilogue.activation))
}

/// Replaces SE's `conv1x1(+act) -> conv1x1(+sigmoid)` on a globally average-pooled vector
/// with one [`Op::SeGate`], which also absorbs the pooling when the map is small enough for
/// the gate kernel to average it ([`crate::ops::pool_fusable_into_se_gate`]). Run after
/// [`fuse_activations`].
pub fn fuse_squeeze_excitation(g: &mut Graph) -> Result<PassStats> {
    let mut n = 0;
    let consumers = g.consumers();
    let uses = g.use_counts();
    for i in 0..g.nodes().len() {
        let pool = &g.nodes()[i];
        // The gate kernel reads [N, C, H, W] maps; other ranks keep their pooling node.
        if !matches!(pool.op, Op::GlobalPool(PoolKind::Avg)) || g.shape(pool.inputs[0]).len() != 4 {
            continue;
        }
        let pooled = pool.output;
        let Some(c1) = sole_reader(g, &uses, &consumers, pooled) else {
            continue;
        };
        let Some((w1, b1, act)) = as_dense_1x1(&g.node(c1).op) else {
            continue;
        };
        let hidden = g.node(c1).output;
        let Some(c2) = sole_reader(g, &uses, &consumers, hidden) else {
            continue;
        };
        let Some((w2, b2, Activation::Sigmoid)) = as_dense_1x1(&g.node(c2).op) else {
            continue;
        };
        let gate = g.node(c2).output;
        // The gate must scale a feature map (SE's `x * gate`), so the rewrite is SE.
        let scales = consumers[gate.0].iter().all(|&m| {
            matches!(
                g.node(m).op,
                Op::Binary {
                    op: BinaryOp::Mul,
                    ..
                }
            )
        });
        if !scales || w2.shape()[0] != w1.shape()[1] {
            continue;
        }
        // Fold the pooling in too when the gate kernel can average the map cheaply: SE then
        // takes 2 dispatches (gate, scale) instead of 3.
        let x = pool.inputs[0];
        let xs = g.shape(x);
        let fuse_pool = crate::ops::pool_fusable_into_se_gate(xs[1], xs[2..].iter().product());
        *g.op_mut(c2) = Op::SeGate {
            w1,
            b1,
            activation: act,
            w2,
            b2,
            pool: fuse_pool,
        };
        g.set_inputs(c2, vec![if fuse_pool { x } else { pooled }]);
        n += 1;
    }
    g.compact()?;
    Ok(PassStats { rewritten: n })
}
