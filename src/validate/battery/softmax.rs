//! Softmax cases: softmax, log-softmax and hardmax over the rows of a classifier head and
//! over the channels of a feature map.

use super::run::launch;
use super::{Case, Outcome};
use crate::compare::Tolerance;
use crate::kernels::softmax;
use crate::ops::SoftmaxKind;
use crate::reference;
use crate::tensor::Tensor;

pub(super) fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case {
        family: "softmax",
        name: "axis 1 [3,1000]".into(),
        run: Box::new(|gpu| {
            let x = Tensor::random_range(vec![3, 1000], 1, -20.0, 20.0);
            let got = launch(gpu, &[&x], &[3, 1000], |g, t, out| {
                g.encode(softmax::softmax(g.target(), 1, &[3, 1000], t[0], out))
            })?;
            Ok(Outcome {
                got,
                want: reference::softmax::softmax(1, &x)?,
                tolerance: Tolerance::elementwise(),
            })
        }),
    });
    for kind in [SoftmaxKind::LogSoftmax, SoftmaxKind::Hardmax] {
        for (shape, axis) in [(vec![3, 1000], 1), (vec![2, 19, 7, 9], 1)] {
            v.push(Case {
                family: "softmax",
                name: format!("{} axis {axis} {shape:?}", kind.name()),
                run: Box::new(move |gpu| {
                    let x = Tensor::random_range(shape.clone(), 2, -20.0, 20.0);
                    let got = launch(gpu, &[&x], &shape, |g, t, out| {
                        g.encode(softmax::softmax_kind(
                            g.target(),
                            kind,
                            axis,
                            &shape,
                            t[0],
                            out,
                        ))
                    })?;
                    // log-softmax: values up to ~40 from a difference and a log, f32 each.
                    let tolerance = match kind {
                        SoftmaxKind::Hardmax => super::exact(),
                        _ => Tolerance {
                            atol: 1e-5,
                            rtol: 1e-5,
                        },
                    };
                    Ok(Outcome {
                        got,
                        want: reference::softmax::softmax_kind(kind, axis, &x)?,
                        tolerance,
                    })
                }),
            });
        }
    }
    v
}
