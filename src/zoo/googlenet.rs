//! torchvision's GoogLeNet without the auxiliary heads (`torchvision.models.googlenet`,
//! `aux_logits=False`, `transform_input=False`). Like torchvision, the "5x5" branch uses a 3x3
//! convolution.

use crate::blocks::join;
use crate::error::Result;
use crate::graph::{Conv2d, Graph, ValueId};

/// torchvision `BasicConv2d`: conv (no bias) `p.conv`, BN (eps 0.001) `p.bn`, ReLU.
fn basic_conv(g: &mut Graph, x: ValueId, p: &str, conv: Conv2d) -> Result<ValueId> {
    let y = g.conv2d(x, &join(p, "conv"), conv.no_bias())?;
    let y = g.batch_norm_eps(y, &join(p, "bn"), 1e-3)?;
    g.relu(y)
}

/// torchvision `Inception(in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)`.
fn inception(g: &mut Graph, x: ValueId, p: &str, c: [usize; 6]) -> Result<ValueId> {
    let [c1, c3r, c3, c5r, c5, pp] = c;
    let b1 = basic_conv(g, x, &join(p, "branch1"), Conv2d::new(c1, 1))?;
    let b2 = basic_conv(g, x, &join(p, "branch2.0"), Conv2d::new(c3r, 1))?;
    let b2 = basic_conv(g, b2, &join(p, "branch2.1"), Conv2d::new(c3, 3).pad(1))?;
    let b3 = basic_conv(g, x, &join(p, "branch3.0"), Conv2d::new(c5r, 1))?;
    let b3 = basic_conv(g, b3, &join(p, "branch3.1"), Conv2d::new(c5, 3).pad(1))?;
    let b4 = g.max_pool(x, 3, 1, 1, true)?;
    let b4 = basic_conv(g, b4, &join(p, "branch4.1"), Conv2d::new(pp, 1))?;
    g.concat(&[b1, b2, b3, b4], 1)
}

/// GoogLeNet: 6,624,904 parameters.
pub fn googlenet(input: &[usize]) -> Result<Graph> {
    let mut g = Graph::new();
    let x = g.input("x", input);
    let y = basic_conv(&mut g, x, "conv1", Conv2d::new(64, 7).stride(2).pad(3))?;
    let y = g.max_pool(y, 3, 2, 0, true)?;
    let y = basic_conv(&mut g, y, "conv2", Conv2d::new(64, 1))?;
    let y = basic_conv(&mut g, y, "conv3", Conv2d::new(192, 3).pad(1))?;
    let y = g.max_pool(y, 3, 2, 0, true)?;
    let y = inception(&mut g, y, "inception3a", [64, 96, 128, 16, 32, 32])?;
    let y = inception(&mut g, y, "inception3b", [128, 128, 192, 32, 96, 64])?;
    let y = g.max_pool(y, 3, 2, 0, true)?;
    let y = inception(&mut g, y, "inception4a", [192, 96, 208, 16, 48, 64])?;
    let y = inception(&mut g, y, "inception4b", [160, 112, 224, 24, 64, 64])?;
    let y = inception(&mut g, y, "inception4c", [128, 128, 256, 24, 64, 64])?;
    let y = inception(&mut g, y, "inception4d", [112, 144, 288, 32, 64, 64])?;
    let y = inception(&mut g, y, "inception4e", [256, 160, 320, 32, 128, 128])?;
    let y = g.max_pool(y, 2, 2, 0, true)?;
    let y = inception(&mut g, y, "inception5a", [256, 160, 320, 32, 128, 128])?;
    let y = inception(&mut g, y, "inception5b", [384, 192, 384, 48, 128, 128])?;
    let y = g.global_avg_pool(y)?;
    let y = g.flatten(y, 1)?;
    let y = g.dropout(y, 0.2)?;
    let y = g.linear(y, "fc", 1000, true)?;
    g.output(y);
    Ok(g)
}
