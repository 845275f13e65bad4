//! torchvision's ShuffleNet V2 x1.0 (`torchvision.models.shufflenetv2`).

use crate::blocks::join;
use crate::error::Result;
use crate::graph::{Conv2d, Graph, ValueId};

/// torchvision `InvertedResidual(inp, oup, stride)`: stride 1 splits the channels in half and
/// transforms the second half; stride 2 transforms the input twice (`branch1`, `branch2`).
/// The halves are concatenated and shuffled with 2 groups.
fn unit(g: &mut Graph, x: ValueId, p: &str, oup: usize, stride: usize) -> Result<ValueId> {
    let inp = g.shape(x)[1];
    let bf = oup / 2;
    let (left, right_in) = if stride == 1 {
        let a = g.slice_channels(x, 0, inp / 2)?;
        let b = g.slice_channels(x, inp / 2, inp)?;
        (a, b)
    } else {
        let b1 = join(p, "branch1");
        let y = g.conv2d(
            x,
            &join(&b1, "0"),
            Conv2d::new(inp, 3)
                .stride(stride)
                .pad(1)
                .groups(inp)
                .no_bias(),
        )?;
        let y = g.batch_norm(y, &join(&b1, "1"))?;
        let y = g.conv2d(y, &join(&b1, "2"), Conv2d::new(bf, 1).no_bias())?;
        let y = g.batch_norm(y, &join(&b1, "3"))?;
        (g.relu(y)?, x)
    };
    let b2 = join(p, "branch2");
    let y = g.conv2d(right_in, &join(&b2, "0"), Conv2d::new(bf, 1).no_bias())?;
    let y = g.batch_norm(y, &join(&b2, "1"))?;
    let y = g.relu(y)?;
    let y = g.conv2d(
        y,
        &join(&b2, "3"),
        Conv2d::new(bf, 3)
            .stride(stride)
            .pad(1)
            .groups(bf)
            .no_bias(),
    )?;
    let y = g.batch_norm(y, &join(&b2, "4"))?;
    let y = g.conv2d(y, &join(&b2, "5"), Conv2d::new(bf, 1).no_bias())?;
    let y = g.batch_norm(y, &join(&b2, "6"))?;
    let right = g.relu(y)?;
    let y = g.concat(&[left, right], 1)?;
    g.channel_shuffle(y, 2)
}

/// ShuffleNet V2 x1.0: 2,278,604 parameters.
pub fn shufflenet_v2_x1_0(input: &[usize]) -> Result<Graph> {
    let mut g = Graph::new();
    let x = g.input("x", input);
    let y = g.conv2d(x, "conv1.0", Conv2d::new(24, 3).stride(2).pad(1).no_bias())?;
    let y = g.batch_norm(y, "conv1.1")?;
    let y = g.relu(y)?;
    let mut y = g.max_pool(y, 3, 2, 1, false)?;
    for (stage, (repeats, out)) in [(4, 116), (8, 232), (4, 464)].into_iter().enumerate() {
        for i in 0..repeats {
            let stride = if i == 0 { 2 } else { 1 };
            y = unit(&mut g, y, &format!("stage{}.{i}", stage + 2), out, stride)?;
        }
    }
    let y = g.conv2d(y, "conv5.0", Conv2d::new(1024, 1).no_bias())?;
    let y = g.batch_norm(y, "conv5.1")?;
    let y = g.relu(y)?;
    // torchvision writes `x.mean([2, 3])`.
    let y = g.global_avg_pool(y)?;
    let y = g.flatten(y, 1)?;
    let y = g.linear(y, "fc", 1000, true)?;
    g.output(y);
    Ok(g)
}
