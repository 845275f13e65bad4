//! torchvision's MobileNetV2 (`torchvision.models.mobilenetv2`, width 1.0).

use crate::blocks::join;
use crate::error::Result;
use crate::graph::{Conv2d, Graph, ValueId};
use crate::ops::Activation;

/// torchvision `Conv2dNormActivation`: conv (no bias) as `p.0`, BN as `p.1`, activation.
pub(crate) fn conv_norm_act(
    g: &mut Graph,
    x: ValueId,
    p: &str,
    conv: Conv2d,
    act: Activation,
    eps: f32,
) -> Result<ValueId> {
    let y = g.conv2d(x, &join(p, "0"), conv.no_bias())?;
    let y = g.batch_norm_eps(y, &join(p, "1"), eps)?;
    g.act(y, act)
}

/// torchvision `InvertedResidual(inp, oup, stride, expand_ratio)`.
fn inverted_residual(
    g: &mut Graph,
    x: ValueId,
    p: &str,
    oup: usize,
    stride: usize,
    t: usize,
) -> Result<ValueId> {
    let inp = g.shape(x)[1];
    let hidden = inp * t;
    let relu6 = Activation::Relu6;
    let c = join(p, "conv");
    let mut i = 0;
    let mut y = x;
    if t != 1 {
        y = conv_norm_act(g, y, &join(&c, "0"), Conv2d::new(hidden, 1), relu6, 1e-5)?;
        i = 1;
    }
    let dw = Conv2d::new(hidden, 3).stride(stride).pad(1).groups(hidden);
    y = conv_norm_act(g, y, &join(&c, &i.to_string()), dw, relu6, 1e-5)?;
    y = g.conv2d(
        y,
        &join(&c, &(i + 1).to_string()),
        Conv2d::new(oup, 1).no_bias(),
    )?;
    y = g.batch_norm(y, &join(&c, &(i + 2).to_string()))?;
    if stride == 1 && inp == oup {
        y = g.add_values(x, y)?;
    }
    Ok(y)
}

/// MobileNetV2: 3,504,872 parameters.
pub fn mobilenet_v2(input: &[usize]) -> Result<Graph> {
    let mut g = Graph::new();
    let x = g.input("x", input);
    let relu6 = Activation::Relu6;
    let mut y = conv_norm_act(
        &mut g,
        x,
        "features.0",
        Conv2d::new(32, 3).stride(2).pad(1),
        relu6,
        1e-5,
    )?;
    let settings = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];
    let mut idx = 1;
    for (t, c, n, s) in settings {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            y = inverted_residual(&mut g, y, &format!("features.{idx}"), c, stride, t)?;
            idx += 1;
        }
    }
    y = conv_norm_act(
        &mut g,
        y,
        &format!("features.{idx}"),
        Conv2d::new(1280, 1),
        relu6,
        1e-5,
    )?;
    let y = g.global_avg_pool(y)?;
    let y = g.flatten(y, 1)?;
    let y = g.dropout(y, 0.2)?;
    let y = g.linear(y, "classifier.1", 1000, true)?;
    g.output(y);
    Ok(g)
}
