//! Normalisations: one case per kind (layer norm twice: a short row and a long one), on odd
//! shapes with random scale and bias.

use super::run::launch;
use super::{Case, Outcome};
use crate::compare::Tolerance;
use crate::kernels::norm::{self, NormBindings};
use crate::ops::NormSpec;
use crate::reference;
use crate::tensor::Tensor;

pub(super) fn cases() -> Vec<Case> {
    [
        (NormSpec::layer(3, 1e-5), vec![3, 5, 7, 9]),
        (NormSpec::layer(1, 1e-5), vec![2, 37, 41]),
        (NormSpec::instance(1e-5), vec![2, 6, 13, 11]),
        (NormSpec::group(3, 1e-5), vec![2, 6, 13, 11]),
        (NormSpec::lp(1, 2), vec![3, 37, 5]),
        (NormSpec::lrn(5, 1e-3, 0.75, 2.0), vec![2, 9, 7, 5]),
    ]
    .into_iter()
    .map(|(spec, shape)| Case {
        family: "norm",
        name: format!("{} of {shape:?}", spec.kind.name()),
        run: Box::new(move |gpu| {
            let x = Tensor::random_range(shape.clone(), 12, -4.0, 4.0);
            let n = spec.param_len(&shape);
            let scale = Tensor::random_range(vec![n], 13, 0.5, 1.5);
            let bias = Tensor::random_range(vec![n], 14, -1.0, 1.0);
            let affine = spec.kind.has_affine();
            let ins: Vec<&Tensor> = if affine {
                vec![&x, &scale, &bias]
            } else {
                vec![&x]
            };
            let got = launch(gpu, &ins, &shape, |g, t, o| {
                let b = NormBindings {
                    input: t[0],
                    affine: affine.then(|| (t[1], t[2])),
                    output: o,
                };
                g.encode(norm::norm(g.target(), &spec, &shape, b))
            })?;
            let (s, b) = if affine {
                (Some(&scale), Some(&bias))
            } else {
                (None, None)
            };
            // Statistics over `len` terms of magnitude <= 4, then outputs of a few units.
            let len = spec.accumulation(&shape) as f64;
            let eps = f32::EPSILON as f64;
            Ok(Outcome {
                got,
                want: reference::norm::norm(&spec, &x, s, b)?,
                tolerance: Tolerance {
                    atol: (8.0 * len * eps).max(1e-5),
                    rtol: 1e-5 + 2.0 * len * eps,
                },
            })
        }),
    })
    .collect()
}
