//! Resize and pad cases.

use super::run::{launch, one_input_case};
use super::{Case, Outcome, exact};
use crate::compare::Tolerance;
use crate::kernels::{pad, resize};
use crate::ops::{ResizeMode, ResizeSpec};
use crate::reference;
use crate::tensor::Tensor;

pub(super) fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (name, spec, tolerance) in [
        (
            "bilinear [2,3,13,17] -> 27x9",
            ResizeSpec::torch_bilinear([27, 9], false),
            Tolerance::accumulation(4),
        ),
        (
            "nearest [2,3,13,17] -> 27x9",
            ResizeSpec::torch_nearest([27, 9]),
            exact(),
        ),
        // 4 x 4 taps.
        (
            "bicubic [2,3,13,17] -> 27x9",
            ResizeSpec::new(ResizeMode::Cubic, [27, 9]),
            Tolerance::accumulation(16),
        ),
        // The triangle stretched by 13 / 5 and 17 / 7: 6 x 6 taps.
        (
            "antialiased bilinear [2,3,13,17] -> 5x7",
            ResizeSpec::new(ResizeMode::Linear, [5, 7]).antialias(true),
            Tolerance::accumulation(36),
        ),
    ] {
        v.push(Case {
            family: "resize",
            name: name.into(),
            run: Box::new(move |gpu| {
                let xs = [2, 3, 13, 17];
                let x = Tensor::random(xs.to_vec(), 1);
                let table = resize::resize_table(&spec, &xs)?;
                let got = launch(gpu, &[&x, &table], &spec.output_shape(&xs)?, |g, t, out| {
                    g.encode(resize::resize(g.target(), &spec, &xs, t[0], t[1], out))
                })?;
                Ok(Outcome {
                    got,
                    want: reference::resize::resize(&spec, &x)?,
                    tolerance,
                })
            }),
        });
    }
    let (begin, end) = ([0, 1, 2, 0], [0, 0, 1, 3]);
    v.push(one_input_case(
        "pad",
        "[2,3,9,11] by [0,1,2,0] / [0,0,1,3] with 0.5".into(),
        vec![2, 3, 9, 11],
        |_| Ok(vec![2, 4, 12, 14]),
        move |g, xs, x, out| g.encode(pad::pad(g.target(), &begin, &end, 0.5, xs, x, out)),
        move |x| reference::pad::pad(x, &begin, &end, 0.5),
        exact(),
    ));
    v
}
