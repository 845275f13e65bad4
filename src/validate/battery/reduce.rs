//! Reductions over axes: one case per kind, over a non-contiguous axis set of an odd shape.

use super::run::launch;
use super::{Case, Outcome};
use crate::compare::Tolerance;
use crate::kernels::reduce;
use crate::ops::{ReduceKind, ReduceSpec};
use crate::reference;
use crate::tensor::Tensor;

pub(super) fn cases() -> Vec<Case> {
    ReduceKind::ALL
        .into_iter()
        .map(|kind| Case {
            family: "reduce",
            name: format!("{} axes [0, 2] of [5, 3, 37, 2]", kind.name()),
            run: Box::new(move |gpu| {
                let shape = vec![5, 3, 37, 2];
                // Positive for LogSum, near 1 for Prod: results stay finite and meaningful.
                let (lo, hi) = match kind {
                    ReduceKind::LogSum => (0.05, 2.0),
                    ReduceKind::Prod => (0.9, 1.1),
                    _ => (-4.0, 4.0),
                };
                let x = Tensor::random_range(shape.clone(), 11, lo, hi);
                let spec = ReduceSpec {
                    kind,
                    axes: vec![0, 2],
                    keepdims: true,
                };
                let out = spec.output_shape(&shape)?;
                let got = launch(gpu, &[&x], &out, |g, t, o| {
                    g.encode(reduce::reduce(g.target(), &spec, &shape, t[0], o))
                })?;
                // 185 terms of magnitude <= 16: the f32 sum errs by about 185 * 16 * eps.
                let len = 5 * 37;
                let eps = f32::EPSILON as f64;
                Ok(Outcome {
                    got,
                    want: reference::reduce::reduce(&spec, &x)?,
                    tolerance: Tolerance {
                        atol: 16.0 * len as f64 * eps,
                        rtol: 1e-5 + 2.0 * len as f64 * eps,
                    },
                })
            }),
        })
        .collect()
}
