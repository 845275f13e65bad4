//! The seeds' building blocks as builder functions, with PyTorch semantics and the seeds'
//! module attribute names, so a block's parameters carry the same `state_dict` keys as the
//! PyTorch module (under `prefix`).
//!
//! | function | seed module | notes |
//! |---|---|---|
//! | [`conv_bn_act`] | 002 `ConvBnAct` | `Conv_BN_Act.{0,1}` |
//! | [`residual_block`] | 001 `ResidualBlock` | basic block, 1x1 projection shortcut |
//! | [`preact_block`] | 001 `PreActBlock` | BN-ReLU-conv order |
//! | [`bottleneck`] | 001 `Bottleneck` | expansion 4; the projection has a bias |
//! | [`bottleneck_block`], [`linear_bottleneck_block`], [`inverted_residual_block`] | 002 | via `ResBlock` |
//! | [`dws_conv`] | 002 `DWSConv` | depthwise 3x3 + pointwise, each with BN + SiLU |
//! | [`depthwise_separable_conv`] | 000 `depthwiseSeparableConv` | plain convolutions with bias |
//! | [`se`] | 002 `SE` | avg-pool, 1x1, SiLU, 1x1, sigmoid, scale |
//! | [`mb_conv`], [`fused_mb_conv`] | 002 `MBConv`, `FusedMBConv` | |
//! | [`inception_preact`], [`inception_module`] | 001 `Inception`, `InceptionModule` | |
//! | [`fire`] | 000 `SqueezeExcite` (SqueezeNet's Fire with BN) | ReLU after the concat |
//! | [`shufflenet_unit`] | ShuffleNet v1 unit | grouped 1x1, shuffle, depthwise, grouped 1x1 |
//! | [`spatial_separable_conv`] | 003 | `3x1` then `1x3` |

use crate::error::{Error, Result};
use crate::graph::{Conv2d, Graph, ValueId};
use crate::ops::{Activation, PoolKind, PoolSpec};

/// A sub-block builder: `(graph, input, prefix) -> output`.
pub type BlockFn<'a> = &'a dyn Fn(&mut Graph, ValueId, &str) -> Result<ValueId>;

/// `prefix.name`, or `name` when the prefix is empty.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else if name.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn channels(g: &Graph, x: ValueId) -> usize {
    g.shape(x)[1]
}

/// Seed 002's `ConvBnAct`: `Conv2d(bias=False)`, `BatchNorm2d`, activation, as
/// `prefix.Conv_BN_Act.{0,1,2}`. `conv` gives everything but the input channels.
pub fn conv_bn_act(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    conv: Conv2d,
    act: Activation,
) -> Result<ValueId> {
    let p = join(prefix, "Conv_BN_Act");
    let y = g.conv2d(x, &join(&p, "0"), conv.no_bias())?;
    let y = g.batch_norm(y, &join(&p, "1"))?;
    g.act(y, act)
}

/// Seed 002's `ResBlock`: `block(x) + x` when shapes agree, else `shortcut(x) + block(x)`
/// (an error when there is no shortcut, like the seed's assertion). Keys `prefix.block.*`,
/// `prefix.shortcut.*`.
pub fn res_block(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    block: impl FnOnce(&mut Graph, ValueId, &str) -> Result<ValueId>,
    shortcut: Option<BlockFn<'_>>,
) -> Result<ValueId> {
    let y = block(g, x, &join(prefix, "block"))?;
    if g.shape(y) == g.shape(x) {
        return g.add_values(y, x);
    }
    let Some(sc) = shortcut else {
        return Err(Error::invalid_op(
            format!("block {prefix:?} (ResBlock)"),
            format!(
                "output {:?} differs from input {:?} and there is no shortcut",
                g.shape(y),
                g.shape(x)
            ),
        ));
    };
    let s = sc(g, x, &join(prefix, "shortcut"))?;
    g.add_values(s, y)
}

/// The three-conv body shared by seed 002's bottleneck forms: 1x1 to `mid`, 3x3 'same',
/// 1x1 to `out` (SiLU after each, except the last when `linear`).
fn three_conv_body(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    mid: usize,
    out: usize,
    linear: bool,
) -> Result<ValueId> {
    let silu = Activation::Silu;
    let y = conv_bn_act(g, x, &join(prefix, "0"), Conv2d::new(mid, 1), silu)?;
    let y = conv_bn_act(g, y, &join(prefix, "1"), Conv2d::new(mid, 3).same(), silu)?;
    let last = if linear { Activation::Identity } else { silu };
    conv_bn_act(g, y, &join(prefix, "2"), Conv2d::new(out, 1), last)
}

fn seed002_residual(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    mid: usize,
    out: usize,
    linear: bool,
) -> Result<ValueId> {
    let cin = channels(g, x);
    let shortcut = move |g: &mut Graph, x: ValueId, p: &str| {
        conv_bn_act(g, x, p, Conv2d::new(out, 1), Activation::Silu)
    };
    res_block(
        g,
        x,
        prefix,
        |g, x, p| three_conv_body(g, x, p, mid, out, linear),
        if cin != out { Some(&shortcut) } else { None },
    )
}

/// Seed 002's `BottleneckBlock(in, out, compersion_ratio)`: keys `prefix.BottleNeck.*`.
pub fn bottleneck_block(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: usize,
    ratio: usize,
) -> Result<ValueId> {
    seed002_residual(g, x, &join(prefix, "BottleNeck"), out / ratio, out, false)
}

/// Seed 002's `LinearBottleneckBlock`: the bottleneck without the last activation.
pub fn linear_bottleneck_block(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: usize,
    ratio: usize,
) -> Result<ValueId> {
    seed002_residual(g, x, &join(prefix, "BottleNeck"), out / ratio, out, true)
}

/// Seed 002's `InvertedResidualBlock(in, out, expansion_ratio)`: expands to `in * ratio`.
/// Keys `prefix.Block.*`.
pub fn inverted_residual_block(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: usize,
    expansion: usize,
) -> Result<ValueId> {
    let mid = channels(g, x) * expansion;
    seed002_residual(g, x, &join(prefix, "Block"), mid, out, false)
}

/// Seed 002's `DWSConv(in, out)`: depthwise 3x3 'same' + BN + SiLU, pointwise + BN + SiLU.
/// Keys `prefix.Block.{0,1}.Conv_BN_Act.*`.
pub fn dws_conv(g: &mut Graph, x: ValueId, prefix: &str, out: usize) -> Result<ValueId> {
    let cin = channels(g, x);
    let p = join(prefix, "Block");
    let y = conv_bn_act(
        g,
        x,
        &join(&p, "0"),
        Conv2d::new(cin, 3).same().groups(cin),
        Activation::Silu,
    )?;
    conv_bn_act(g, y, &join(&p, "1"), Conv2d::new(out, 1), Activation::Silu)
}

/// Seed 000's `depthwiseSeparableConv(in, out)`: depthwise 3x3 (no padding) then pointwise,
/// both with bias, no normalisation. Keys `prefix.{0,1}`.
pub fn depthwise_separable_conv(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: usize,
) -> Result<ValueId> {
    let cin = channels(g, x);
    let y = g.conv2d(x, &join(prefix, "0"), Conv2d::new(cin, 3).groups(cin))?;
    g.conv2d(y, &join(prefix, "1"), Conv2d::new(out, 1))
}

/// Seed 002's `SE(channels, squeeze_ratio)`: `x * sigmoid(W2 silu(W1 avgpool(x)))` with 1x1
/// convolutions. Keys `prefix.SEBlock.{1,3}`.
pub fn se(g: &mut Graph, x: ValueId, prefix: &str, ratio: usize) -> Result<ValueId> {
    let c = channels(g, x);
    let p = join(prefix, "SEBlock");
    se_with(
        g,
        x,
        (&join(&p, "1"), &join(&p, "3")),
        (c / ratio).max(1),
        Activation::Silu,
    )
}

/// Squeeze-and-excitation with explicit module names for the two 1x1 convolutions (so the
/// zoo can use torchvision's `fc1` / `fc2`).
pub fn se_with(
    g: &mut Graph,
    x: ValueId,
    (fc1, fc2): (&str, &str),
    squeezed: usize,
    act: Activation,
) -> Result<ValueId> {
    let c = channels(g, x);
    let s = g.global_avg_pool(x)?;
    let s = g.conv2d(s, fc1, Conv2d::new(squeezed, 1))?;
    let s = g.act(s, act)?;
    let s = g.conv2d(s, fc2, Conv2d::new(c, 1))?;
    let s = g.act(s, Activation::Sigmoid)?;
    g.mul(x, s)
}

/// Seed 002's `MBConv(in, out, expansion_ratio, squeeze_ratio)`: 1x1 expand, depthwise 3x3,
/// SE, linear 1x1 project, residual, SiLU. The residual needs `out == in` (the seed has no
/// shortcut). Keys `prefix.Block.0.block.{0,1,2,3}`.
pub fn mb_conv(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: usize,
    expansion: usize,
    squeeze_ratio: usize,
) -> Result<ValueId> {
    let exp = channels(g, x) * expansion;
    let expand = [Conv2d::new(exp, 1), Conv2d::new(exp, 3).same().groups(exp)];
    expand_se_project(g, x, prefix, &expand, out, squeeze_ratio)
}

/// Seed 002's `FusedMBConv`: 3x3 expand (instead of 1x1 + depthwise), SE, linear 1x1
/// project, residual, SiLU. Keys `prefix.Block.0.block.{0,1,2}`.
pub fn fused_mb_conv(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: usize,
    expansion: usize,
    squeeze_ratio: usize,
) -> Result<ValueId> {
    let exp = channels(g, x) * expansion;
    expand_se_project(
        g,
        x,
        prefix,
        &[Conv2d::new(exp, 3).same()],
        out,
        squeeze_ratio,
    )
}

/// The seeds' MBConv family: the `expand` convs (each + BN + SiLU), SE, a linear 1x1
/// projection to `out`, the residual, SiLU. Sub-module indices follow the seed's `nn.Sequential`.
fn expand_se_project(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    expand: &[Conv2d],
    out: usize,
    squeeze_ratio: usize,
) -> Result<ValueId> {
    let body = |g: &mut Graph, x: ValueId, p: &str| {
        let mut y = x;
        for (i, conv) in expand.iter().enumerate() {
            y = conv_bn_act(
                g,
                y,
                &join(p, &i.to_string()),
                conv.clone(),
                Activation::Silu,
            )?;
        }
        let n = expand.len();
        let y = se(g, y, &join(p, &n.to_string()), squeeze_ratio)?;
        let project = Conv2d::new(out, 1);
        conv_bn_act(
            g,
            y,
            &join(p, &(n + 1).to_string()),
            project,
            Activation::Identity,
        )
    };
    let y = res_block(g, x, &join(prefix, "Block.0"), body, None)?;
    g.act(y, Activation::Silu)
}

/// Seed 001's `ResidualBlock(in, out, kernel_size=3, stride, padding=1)`: the basic residual
/// block. Keys `conv1`, `bn1`, `conv2`, `bn2`, `shortcut.{0,1}`.
pub fn residual_block(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: usize,
    stride: usize,
) -> Result<ValueId> {
    let cin = channels(g, x);
    let y = g.conv2d(
        x,
        &join(prefix, "conv1"),
        Conv2d::new(out, 3).stride(stride).pad(1).no_bias(),
    )?;
    let y = g.batch_norm(y, &join(prefix, "bn1"))?;
    let y = g.relu(y)?;
    let y = g.conv2d(
        y,
        &join(prefix, "conv2"),
        Conv2d::new(out, 3).pad(1).no_bias(),
    )?;
    let y = g.batch_norm(y, &join(prefix, "bn2"))?;
    let s = if stride != 1 || cin != out {
        let s = g.conv2d(
            x,
            &join(prefix, "shortcut.0"),
            Conv2d::new(out, 1).stride(stride).no_bias(),
        )?;
        g.batch_norm(s, &join(prefix, "shortcut.1"))?
    } else {
        x
    };
    let y = g.add_values(y, s)?;
    g.relu(y)
}

/// Seed 001's `PreActBlock(in, out, stride)`: BN-ReLU-conv twice, projection shortcut without
/// BN, no activation after the add.
pub fn preact_block(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: usize,
    stride: usize,
) -> Result<ValueId> {
    let cin = channels(g, x);
    let y = g.batch_norm(x, &join(prefix, "bn1"))?;
    let y = g.relu(y)?;
    let y = g.conv2d(
        y,
        &join(prefix, "conv1"),
        Conv2d::new(out, 3).stride(stride).pad(1).no_bias(),
    )?;
    let y = g.batch_norm(y, &join(prefix, "bn2"))?;
    let y = g.relu(y)?;
    let y = g.conv2d(
        y,
        &join(prefix, "conv2"),
        Conv2d::new(out, 3).pad(1).no_bias(),
    )?;
    let s = if stride != 1 || cin != out {
        g.conv2d(
            x,
            &join(prefix, "shortcut.0"),
            Conv2d::new(out, 1).stride(stride).no_bias(),
        )?
    } else {
        x
    };
    g.add_values(y, s)
}

/// Seed 001's `Bottleneck(in, out, stride)` with expansion 4: 1x1, 3x3 (stride), 1x1 to
/// `4 * out`, projection shortcut (1x1 conv with bias + BN) when the shape changes.
pub fn bottleneck(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: usize,
    stride: usize,
) -> Result<ValueId> {
    let cin = channels(g, x);
    let wide = out * 4;
    let y = g.conv2d(x, &join(prefix, "conv1"), Conv2d::new(out, 1).no_bias())?;
    let y = g.batch_norm(y, &join(prefix, "bn1"))?;
    let y = g.relu(y)?;
    let y = g.conv2d(
        y,
        &join(prefix, "conv2"),
        Conv2d::new(out, 3).stride(stride).pad(1).no_bias(),
    )?;
    let y = g.batch_norm(y, &join(prefix, "bn2"))?;
    let y = g.relu(y)?;
    let y = g.conv2d(y, &join(prefix, "conv3"), Conv2d::new(wide, 1).no_bias())?;
    let y = g.batch_norm(y, &join(prefix, "bn3"))?;
    let s = if stride != 1 || cin != wide {
        let s = g.conv2d(
            x,
            &join(prefix, "shortcut.0"),
            Conv2d::new(wide, 1).stride(stride),
        )?;
        g.batch_norm(s, &join(prefix, "shortcut.1"))?
    } else {
        x
    };
    let y = g.add_values(y, s)?;
    g.relu(y)
}

/// Seed 001's `Inception(in, out1, out2, out3, out_pool)`: pre-activation branches
/// (BN-ReLU-conv): 1x1; 1x1 -> 3x3; 1x1 -> 5x5; maxpool 3x3 -> 1x1; concatenated.
pub fn inception_preact(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: [usize; 4],
) -> Result<ValueId> {
    let [c1, c2, c3, cp] = out;
    let n = |s: &str| join(prefix, s);
    let bn_relu_conv =
        |g: &mut Graph, x: ValueId, bn: &str, conv: &str, c: Conv2d| -> Result<ValueId> {
            let y = g.batch_norm(x, &n(bn))?;
            let y = g.relu(y)?;
            g.conv2d(y, &n(conv), c)
        };
    let b1 = bn_relu_conv(g, x, "bn1", "conv1", Conv2d::new(c1, 1))?;
    let b2 = bn_relu_conv(g, x, "bn2", "conv2", Conv2d::new(c2, 1).no_bias())?;
    let b2 = bn_relu_conv(g, b2, "bn3", "conv3", Conv2d::new(c2, 3).pad(1))?;
    let b3 = bn_relu_conv(g, x, "bn4", "conv4", Conv2d::new(c3, 1).no_bias())?;
    let b3 = bn_relu_conv(g, b3, "bn5", "conv5", Conv2d::new(c3, 5).pad(2))?;
    let b4 = g.max_pool(x, 3, 1, 1, false)?;
    let b4 = bn_relu_conv(g, b4, "bn6", "conv6", Conv2d::new(cp, 1).no_bias())?;
    g.concat(&[b1, b2, b3, b4], 1)
}

/// Seed 001's `InceptionModule(in, out1, out3, out5, out_pool)`: post-activation branches
/// (conv-BN-ReLU) as `branch{1..4}` Sequentials.
pub fn inception_module(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: [usize; 4],
) -> Result<ValueId> {
    let [c1, c3, c5, cp] = out;
    let n = |s: &str| join(prefix, s);
    let cbr = |g: &mut Graph, x: ValueId, conv: &str, bn: &str, c: Conv2d| {
        let y = g.conv2d(x, &n(conv), c)?;
        let y = g.batch_norm(y, &n(bn))?;
        g.relu(y)
    };
    let b1 = cbr(g, x, "branch1.0", "branch1.1", Conv2d::new(c1, 1))?;
    let b2 = cbr(g, x, "branch2.0", "branch2.1", Conv2d::new(c3, 1))?;
    let b2 = cbr(g, b2, "branch2.3", "branch2.4", Conv2d::new(c3, 3).pad(1))?;
    let b3 = cbr(g, x, "branch3.0", "branch3.1", Conv2d::new(c5, 1))?;
    let b3 = cbr(g, b3, "branch3.3", "branch3.4", Conv2d::new(c5, 5).pad(2))?;
    let b4 = g.max_pool(x, 3, 1, 1, false)?;
    let b4 = cbr(g, b4, "branch4.1", "branch4.2", Conv2d::new(cp, 1))?;
    g.concat(&[b1, b2, b3, b4], 1)
}

/// Seed 000's `SqueezeExcite(in, squeeze, expand)`, SqueezeNet's Fire module with BN:
/// squeeze 1x1 + BN + ReLU, then 1x1 and 3x3 expand (+BN each), concatenated, ReLU.
pub fn fire(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    squeeze: usize,
    expand: usize,
) -> Result<ValueId> {
    let n = |s: &str| join(prefix, s);
    let s = g.conv2d(x, &n("conv1"), Conv2d::new(squeeze, 1))?;
    let s = g.batch_norm(s, &n("bn1"))?;
    let s = g.relu(s)?;
    let e1 = g.conv2d(s, &n("conv2"), Conv2d::new(expand, 1))?;
    let e1 = g.batch_norm(e1, &n("bn2"))?;
    let e3 = g.conv2d(s, &n("conv3"), Conv2d::new(expand, 3).pad(1))?;
    let e3 = g.batch_norm(e3, &n("bn3"))?;
    let y = g.concat(&[e1, e3], 1)?;
    g.relu(y)
}

/// ShuffleNet (v1) unit: grouped 1x1 + BN + ReLU, channel shuffle, depthwise 3x3 (stride) +
/// BN, grouped 1x1 + BN; stride 1 adds the input, stride 2 concatenates a 3x3/2 average pool
/// of it; ReLU. `out` is the unit's output channels (for stride 2 the branch produces
/// `out - in`). Keys `gconv1`, `bn1`, `dwconv`, `bn2`, `gconv2`, `bn3`.
pub fn shufflenet_unit(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    out: usize,
    groups: usize,
    stride: usize,
) -> Result<ValueId> {
    let cin = channels(g, x);
    let n = |s: &str| join(prefix, s);
    let branch_out = if stride == 1 { out } else { out - cin };
    let mid = out / 4;
    let y = g.conv2d(
        x,
        &n("gconv1"),
        Conv2d::new(mid, 1).groups(groups).no_bias(),
    )?;
    let y = g.batch_norm(y, &n("bn1"))?;
    let y = g.relu(y)?;
    let y = g.channel_shuffle(y, groups)?;
    let y = g.conv2d(
        y,
        &n("dwconv"),
        Conv2d::new(mid, 3)
            .stride(stride)
            .pad(1)
            .groups(mid)
            .no_bias(),
    )?;
    let y = g.batch_norm(y, &n("bn2"))?;
    let y = g.conv2d(
        y,
        &n("gconv2"),
        Conv2d::new(branch_out, 1).groups(groups).no_bias(),
    )?;
    let y = g.batch_norm(y, &n("bn3"))?;
    let y = if stride == 1 {
        g.add_values(y, x)?
    } else {
        let mut p = PoolSpec::new(PoolKind::Avg, 3, 2, 1);
        p.count_include_pad = true;
        let s = g.pool(x, p)?;
        g.concat(&[s, y], 1)?
    };
    g.relu(y)
}

/// Seed 003's spatial-separable convolution: `(3, 1)` to `mid` channels then `(1, 3)` to
/// `out`, no bias, no padding. Keys `prefix.{0,1}`.
pub fn spatial_separable_conv(
    g: &mut Graph,
    x: ValueId,
    prefix: &str,
    mid: usize,
    out: usize,
) -> Result<ValueId> {
    let y = g.conv2d(x, &join(prefix, "0"), Conv2d::rect(mid, 3, 1).no_bias())?;
    g.conv2d(y, &join(prefix, "1"), Conv2d::rect(out, 1, 3).no_bias())
}
