//! Linear (fully connected) and batched matmul cases.

use super::run::launch;
use super::{Case, Outcome};
use crate::compare::Tolerance;
use crate::kernels::matmul;
use crate::ops::Activation;
use crate::reference;
use crate::tensor::Tensor;

pub(super) fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case {
        family: "linear",
        name: "x[3,1001] w[37,1001]".into(),
        run: Box::new(|gpu| {
            let (x, w, b) = (
                Tensor::random(vec![3, 1001], 1),
                Tensor::random(vec![37, 1001], 2),
                Tensor::random(vec![37], 3),
            );
            let got = launch(gpu, &[&x, &w, &b], &[3, 37], |g, t, out| {
                g.encode(matmul::linear(
                    g.target(),
                    &[3, 1001],
                    &[37, 1001],
                    Activation::Identity,
                    t[0],
                    t[1],
                    Some(t[2]),
                    out,
                ))
            })?;
            Ok(Outcome {
                got,
                want: reference::matmul::linear(&x, &w, Some(&b))?,
                tolerance: Tolerance::accumulation(1002),
            })
        }),
    });
    v.push(Case {
        family: "matmul",
        name: "batched [4,17,33] @ [1,33,65]".into(),
        run: Box::new(|gpu| {
            let (a, b) = (
                Tensor::random(vec![4, 17, 33], 1),
                Tensor::random(vec![1, 33, 65], 2),
            );
            let got = launch(gpu, &[&a, &b], &[4, 17, 65], |g, t, out| {
                g.encode(matmul::matmul(
                    g.target(),
                    &[4, 17, 33],
                    &[1, 33, 65],
                    t[0],
                    t[1],
                    out,
                ))
            })?;
            Ok(Outcome {
                got,
                want: reference::matmul::matmul(&a, &b)?,
                tolerance: Tolerance::accumulation(33),
            })
        }),
    });
    v
}
