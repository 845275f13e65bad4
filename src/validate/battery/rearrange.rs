//! Data movement cases: pixel shuffle, space to depth, channel shuffle, transpose, concat.

use super::run::one_input_case;
use super::{Case, Outcome, exact};
use crate::kernels::rearrange;
use crate::ops::{ChannelOrder, ChannelShuffle, PixelShuffle, SpaceToDepth};
use crate::reference;
use crate::tensor::Tensor;

pub(super) fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for order in [ChannelOrder::Crd, ChannelOrder::Dcr] {
        let op = PixelShuffle { factor: 3, order };
        v.push(one_input_case(
            "pixel_shuffle",
            format!("r3 {order:?} [2,18,5,7]"),
            vec![2, 18, 5, 7],
            move |xs| op.output_shape(xs),
            move |g, xs, x, out| g.encode(rearrange::pixel_shuffle(g.target(), &op, xs, x, out)),
            move |x| reference::rearrange::pixel_shuffle(&op, x),
            exact(),
        ));
        let op = SpaceToDepth { block: 2, order };
        v.push(one_input_case(
            "space_to_depth",
            format!("r2 {order:?} [1,3,10,14]"),
            vec![1, 3, 10, 14],
            move |xs| op.output_shape(xs),
            move |g, xs, x, out| g.encode(rearrange::space_to_depth(g.target(), &op, xs, x, out)),
            move |x| reference::rearrange::space_to_depth(&op, x),
            exact(),
        ));
    }
    let op = ChannelShuffle { groups: 3 };
    v.push(one_input_case(
        "channel_shuffle",
        "g3 [2,12,5,5]".into(),
        vec![2, 12, 5, 5],
        |xs| Ok(xs.to_vec()),
        move |g, xs, x, out| g.encode(rearrange::channel_shuffle(g.target(), &op, xs, x, out)),
        move |x| reference::rearrange::channel_shuffle(&op, x),
        exact(),
    ));
    let perm = [0, 2, 3, 1];
    v.push(one_input_case(
        "transpose",
        "perm [0,2,3,1] [2,5,33,17]".into(),
        vec![2, 5, 33, 17],
        |_| Ok(vec![2, 33, 17, 5]),
        move |g, xs, x, out| g.encode(rearrange::transpose(g.target(), &perm, xs, x, out)),
        move |x| reference::rearrange::transpose(&perm, x),
        exact(),
    ));
    v.push(Case {
        family: "concat",
        name: "axis 1 [2,3,4,5] + [2,6,4,5]".into(),
        run: Box::new(|gpu| {
            let (a, b) = (
                Tensor::random(vec![2, 3, 4, 5], 1),
                Tensor::random(vec![2, 6, 4, 5], 2),
            );
            let bufs = [gpu.upload(&a)?, gpu.upload(&b)?];
            let out = gpu.zeros(&[2, 9, 4, 5])?;
            let d0 = gpu.encode(rearrange::copy_into(
                gpu.target(),
                1,
                a.shape(),
                &[2, 9, 4, 5],
                0,
                bufs[0].binding(),
                out.binding(),
            ))?;
            let d1 = gpu.encode(rearrange::copy_into(
                gpu.target(),
                1,
                b.shape(),
                &[2, 9, 4, 5],
                3,
                bufs[1].binding(),
                out.binding(),
            ))?;
            gpu.submit(&[&d0, &d1])?;
            Ok(Outcome {
                got: gpu.download(&out)?,
                want: reference::rearrange::concat(1, &[&a, &b])?,
                tolerance: exact(),
            })
        }),
    });
    v
}
