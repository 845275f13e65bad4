//! torchvision's EfficientNet-B0 (`torchvision.models.efficientnet`).

use super::mobilenet::conv_norm_act;
use crate::blocks::{join, se_with};
use crate::error::Result;
use crate::graph::{Conv2d, Graph, ValueId};
use crate::ops::Activation;

/// torchvision `MBConv`: optional 1x1 expand, depthwise kxk, SE (squeeze = in / 4, SiLU),
/// linear 1x1 project; residual when the shape is kept (stochastic depth is the identity in
/// inference).
fn mb_conv(
    g: &mut Graph,
    x: ValueId,
    p: &str,
    t: usize,
    k: usize,
    stride: usize,
    out: usize,
) -> Result<ValueId> {
    let inp = g.shape(x)[1];
    let exp = inp * t;
    let silu = Activation::Silu;
    let b = join(p, "block");
    let mut i = 0;
    let mut y = x;
    if exp != inp {
        y = conv_norm_act(g, y, &join(&b, "0"), Conv2d::new(exp, 1), silu, 1e-5)?;
        i = 1;
    }
    let dw = Conv2d::new(exp, k)
        .stride(stride)
        .pad((k - 1) / 2)
        .groups(exp);
    y = conv_norm_act(g, y, &join(&b, &i.to_string()), dw, silu, 1e-5)?;
    let se = join(&b, &(i + 1).to_string());
    y = se_with(
        g,
        y,
        (&join(&se, "fc1"), &join(&se, "fc2")),
        (inp / 4).max(1),
        silu,
    )?;
    y = conv_norm_act(
        g,
        y,
        &join(&b, &(i + 2).to_string()),
        Conv2d::new(out, 1),
        Activation::Identity,
        1e-5,
    )?;
    if stride == 1 && inp == out {
        y = g.add_values(y, x)?;
    }
    Ok(y)
}

/// EfficientNet-B0: 5,288,548 parameters.
pub fn efficientnet_b0(input: &[usize]) -> Result<Graph> {
    let mut g = Graph::new();
    let x = g.input("x", input);
    let silu = Activation::Silu;
    let mut y = conv_norm_act(
        &mut g,
        x,
        "features.0",
        Conv2d::new(32, 3).stride(2).pad(1),
        silu,
        1e-5,
    )?;
    // (expand ratio, kernel, stride, out channels, layers)
    let stages = [
        (1, 3, 1, 16, 1),
        (6, 3, 2, 24, 2),
        (6, 5, 2, 40, 2),
        (6, 3, 2, 80, 3),
        (6, 5, 1, 112, 3),
        (6, 5, 2, 192, 4),
        (6, 3, 1, 320, 1),
    ];
    for (si, (t, k, s, c, n)) in stages.into_iter().enumerate() {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            y = mb_conv(
                &mut g,
                y,
                &format!("features.{}.{i}", si + 1),
                t,
                k,
                stride,
                c,
            )?;
        }
    }
    y = conv_norm_act(&mut g, y, "features.8", Conv2d::new(1280, 1), silu, 1e-5)?;
    let y = g.global_avg_pool(y)?;
    let y = g.flatten(y, 1)?;
    let y = g.dropout(y, 0.2)?;
    let y = g.linear(y, "classifier.1", 1000, true)?;
    g.output(y);
    Ok(g)
}
