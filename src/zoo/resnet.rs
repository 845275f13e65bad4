//! torchvision's ResNet-18/34/50 (`torchvision.models.resnet`, v1.5: the stride sits in the
//! 3x3 convolution of the bottleneck).

use crate::blocks::join;
use crate::error::Result;
use crate::graph::{Conv2d, Graph, ValueId};

/// torchvision `BasicBlock`: conv3x3(stride)-BN-ReLU-conv3x3-BN, `downsample.{0,1}`, add, ReLU.
fn basic_block(
    g: &mut Graph,
    x: ValueId,
    p: &str,
    planes: usize,
    stride: usize,
) -> Result<ValueId> {
    let cin = g.shape(x)[1];
    let y = g.conv2d(
        x,
        &join(p, "conv1"),
        Conv2d::new(planes, 3).stride(stride).pad(1).no_bias(),
    )?;
    let y = g.batch_norm(y, &join(p, "bn1"))?;
    let y = g.relu(y)?;
    let y = g.conv2d(
        y,
        &join(p, "conv2"),
        Conv2d::new(planes, 3).pad(1).no_bias(),
    )?;
    let y = g.batch_norm(y, &join(p, "bn2"))?;
    let identity = downsample(g, x, p, cin, planes, stride)?;
    let y = g.add_values(y, identity)?;
    g.relu(y)
}

/// torchvision `Bottleneck` (expansion 4).
fn bottleneck(g: &mut Graph, x: ValueId, p: &str, planes: usize, stride: usize) -> Result<ValueId> {
    let cin = g.shape(x)[1];
    let y = g.conv2d(x, &join(p, "conv1"), Conv2d::new(planes, 1).no_bias())?;
    let y = g.batch_norm(y, &join(p, "bn1"))?;
    let y = g.relu(y)?;
    let y = g.conv2d(
        y,
        &join(p, "conv2"),
        Conv2d::new(planes, 3).stride(stride).pad(1).no_bias(),
    )?;
    let y = g.batch_norm(y, &join(p, "bn2"))?;
    let y = g.relu(y)?;
    let y = g.conv2d(y, &join(p, "conv3"), Conv2d::new(planes * 4, 1).no_bias())?;
    let y = g.batch_norm(y, &join(p, "bn3"))?;
    let identity = downsample(g, x, p, cin, planes * 4, stride)?;
    let y = g.add_values(y, identity)?;
    g.relu(y)
}

fn downsample(
    g: &mut Graph,
    x: ValueId,
    p: &str,
    cin: usize,
    out: usize,
    stride: usize,
) -> Result<ValueId> {
    if stride == 1 && cin == out {
        return Ok(x);
    }
    let s = g.conv2d(
        x,
        &join(p, "downsample.0"),
        Conv2d::new(out, 1).stride(stride).no_bias(),
    )?;
    g.batch_norm(s, &join(p, "downsample.1"))
}

fn resnet(input: &[usize], layers: [usize; 4], deep: bool, classes: usize) -> Result<Graph> {
    let mut g = Graph::new();
    let x = g.input("x", input);
    let y = g.conv2d(x, "conv1", Conv2d::new(64, 7).stride(2).pad(3).no_bias())?;
    let y = g.batch_norm(y, "bn1")?;
    let y = g.relu(y)?;
    let mut y = g.max_pool(y, 3, 2, 1, false)?;
    for (i, (&n, planes)) in layers.iter().zip([64, 128, 256, 512]).enumerate() {
        for b in 0..n {
            let stride = if i > 0 && b == 0 { 2 } else { 1 };
            let p = format!("layer{}.{b}", i + 1);
            y = if deep {
                bottleneck(&mut g, y, &p, planes, stride)?
            } else {
                basic_block(&mut g, y, &p, planes, stride)?
            };
        }
    }
    let y = g.global_avg_pool(y)?;
    let y = g.flatten(y, 1)?;
    let y = g.linear(y, "fc", classes, true)?;
    g.output(y);
    Ok(g)
}

/// ResNet-18: 11,689,512 parameters.
pub fn resnet18(input: &[usize]) -> Result<Graph> {
    resnet(input, [2, 2, 2, 2], false, 1000)
}

/// ResNet-34: 21,797,672 parameters.
pub fn resnet34(input: &[usize]) -> Result<Graph> {
    resnet(input, [3, 4, 6, 3], false, 1000)
}

/// ResNet-50: 25,557,032 parameters.
pub fn resnet50(input: &[usize]) -> Result<Graph> {
    resnet(input, [3, 4, 6, 3], true, 1000)
}
