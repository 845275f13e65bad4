//! Softmax cases.

use super::run::launch;
use super::{Case, Outcome};
use crate::compare::Tolerance;
use crate::kernels::softmax;
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
    v
}
