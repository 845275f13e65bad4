//! Seed 003's CIFAR-10 network (ERA Session 9, `Session9Net`): conv blocks of
//! conv -> ReLU -> BatchNorm -> Dropout(0.1), a depthwise-separable block, dilated strided
//! convolutions instead of pooling, three residual adds, global average pooling and a 1x1
//! classifier. 193,376 parameters.
//!
//! The network ends in `x.view(-1, 10)`; the seed's `log_softmax` is left to the caller (the
//! logits are the output).

use crate::blocks::join;
use crate::error::Result;
use crate::graph::{Conv2d, Graph, ValueId};

/// `conv -> ReLU -> BatchNorm -> Dropout` as Sequential `p.{0,1,2,3}`.
fn block(
    g: &mut Graph,
    x: ValueId,
    p: &str,
    conv: impl FnOnce(&mut Graph, ValueId, &str) -> Result<ValueId>,
) -> Result<ValueId> {
    let y = conv(g, x, &join(p, "0"))?;
    let y = g.relu(y)?;
    let y = g.batch_norm(y, &join(p, "2"))?;
    g.dropout(y, 0.1)
}

fn standard(out: usize) -> impl FnOnce(&mut Graph, ValueId, &str) -> Result<ValueId> {
    move |g, x, p| g.conv2d(x, p, Conv2d::new(out, 3).pad(1).no_bias())
}

/// Kernel 3, stride 2, padding 1, dilation 2 (the seed's "dilated" type), wrapped in a
/// Sequential.
fn dilated(out: usize) -> impl FnOnce(&mut Graph, ValueId, &str) -> Result<ValueId> {
    move |g, x, p| {
        g.conv2d(
            x,
            &join(p, "0"),
            Conv2d::new(out, 3).stride(2).pad(1).dilation(2).no_bias(),
        )
    }
}

/// The seed's "depthwise" type: depthwise 3x3 then pointwise, both padded by 1 (so the 1x1
/// grows the map by 2: 32 -> 34, as the seed's summary shows).
fn depthwise(out: usize) -> impl FnOnce(&mut Graph, ValueId, &str) -> Result<ValueId> {
    move |g, x, p| {
        let c = g.shape(x)[1];
        let y = g.conv2d(
            x,
            &join(p, "0"),
            Conv2d::new(c, 3).pad(1).groups(c).no_bias(),
        )?;
        g.conv2d(y, &join(p, "1"), Conv2d::new(out, 1).pad(1).no_bias())
    }
}

/// The seed-003 CIFAR-10 network for `input` `[N, 3, H, W]` (32 x 32 in the seed).
pub fn cifar10_net(input: &[usize]) -> Result<Graph> {
    let mut g = Graph::new();
    let x = g.input("x", input);
    let g_ = &mut g;
    let y = block(g_, x, "conv_block1", standard(32))?;
    let y = block(g_, y, "conv_block2", depthwise(32))?;
    let y = block(g_, y, "conv_block3", dilated(32))?;
    let y = block(g_, y, "conv_block4", standard(40))?;
    let r = block(g_, y, "conv_block5", standard(40))?;
    let y = g_.add_values(y, r)?;
    let y = block(g_, y, "conv_block6", dilated(40))?;
    let y = block(g_, y, "conv_block7", standard(40))?;
    let r = block(g_, y, "conv_block8", standard(40))?;
    let y = g_.add_values(y, r)?;
    let y = block(g_, y, "conv_block9", dilated(40))?;
    let y = block(g_, y, "conv_block10", standard(64))?;
    let r = block(g_, y, "conv_block11", standard(64))?;
    let y = g_.add_values(y, r)?;
    let y = block(g_, y, "conv_block12", standard(64))?;
    let y = g_.global_avg_pool(y)?;
    let y = g_.conv2d(y, "conv_block14.0", Conv2d::new(10, 1).no_bias())?;
    let y = g_.reshape(y, &[-1, 10])?;
    g.output(y);
    Ok(g)
}
