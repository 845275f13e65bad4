//! torchvision's SqueezeNet 1.1 (`torchvision.models.squeezenet`).

use crate::blocks::join;
use crate::error::Result;
use crate::graph::{Conv2d, Graph, ValueId};

/// torchvision `Fire(inplanes, squeeze, expand1x1, expand3x3)`: no BatchNorm, ReLU on each part.
fn fire(
    g: &mut Graph,
    x: ValueId,
    p: &str,
    squeeze: usize,
    e1: usize,
    e3: usize,
) -> Result<ValueId> {
    let s = g.conv2d(x, &join(p, "squeeze"), Conv2d::new(squeeze, 1))?;
    let s = g.relu(s)?;
    let a = g.conv2d(s, &join(p, "expand1x1"), Conv2d::new(e1, 1))?;
    let a = g.relu(a)?;
    let b = g.conv2d(s, &join(p, "expand3x3"), Conv2d::new(e3, 3).pad(1))?;
    let b = g.relu(b)?;
    g.concat(&[a, b], 1)
}

/// SqueezeNet 1.1: 1,235,496 parameters.
pub fn squeezenet1_1(input: &[usize]) -> Result<Graph> {
    let mut g = Graph::new();
    let x = g.input("x", input);
    let y = g.conv2d(x, "features.0", Conv2d::new(64, 3).stride(2))?;
    let y = g.relu(y)?;
    let y = g.max_pool(y, 3, 2, 0, true)?;
    let y = fire(&mut g, y, "features.3", 16, 64, 64)?;
    let y = fire(&mut g, y, "features.4", 16, 64, 64)?;
    let y = g.max_pool(y, 3, 2, 0, true)?;
    let y = fire(&mut g, y, "features.6", 32, 128, 128)?;
    let y = fire(&mut g, y, "features.7", 32, 128, 128)?;
    let y = g.max_pool(y, 3, 2, 0, true)?;
    let y = fire(&mut g, y, "features.9", 48, 192, 192)?;
    let y = fire(&mut g, y, "features.10", 48, 192, 192)?;
    let y = fire(&mut g, y, "features.11", 64, 256, 256)?;
    let y = fire(&mut g, y, "features.12", 64, 256, 256)?;
    let y = g.dropout(y, 0.5)?;
    let y = g.conv2d(y, "classifier.1", Conv2d::new(1000, 1))?;
    let y = g.relu(y)?;
    let y = g.global_avg_pool(y)?;
    let y = g.flatten(y, 1)?;
    g.output(y);
    Ok(g)
}
