//! Elementwise cases: every activation, broadcast binary ops and comparisons, Where.

use super::run::launch;
use super::{Case, Outcome};
use crate::compare::Tolerance;
use crate::kernels::eltwise;
use crate::ops::{Activation, BinaryOp};
use crate::reference;
use crate::tensor::Tensor;

pub(super) fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for act in Activation::all() {
        v.push(Case {
            family: "activation",
            name: act.name().to_string(),
            run: Box::new(move |gpu| {
                let x = Tensor::random_range(vec![4, 7, 9, 11], 1, -8.0, 8.0);
                let got = launch(gpu, &[&x], x.shape(), |g, t, out| {
                    g.encode(eltwise::unary(g.target(), act, t[0], out, 4 * 7 * 9 * 11))
                })?;
                Ok(Outcome {
                    got,
                    want: reference::eltwise::unary(act, &x),
                    tolerance: Tolerance::elementwise(),
                })
            }),
        });
    }
    for (op, sa, sb) in [
        (BinaryOp::Add, vec![2, 4, 5, 5], vec![2, 4, 5, 5]),
        (BinaryOp::Mul, vec![2, 6, 3, 5], vec![2, 6, 1, 1]),
        (BinaryOp::Sub, vec![4, 1], vec![1, 5]),
        (BinaryOp::Div, vec![3, 7], vec![7]),
        (BinaryOp::Pow, vec![2, 3, 4], vec![3, 1]),
        (BinaryOp::Max, vec![2, 5], vec![2, 1]),
        (BinaryOp::Min, vec![6], vec![1]),
        (BinaryOp::Less, vec![3, 7], vec![7]),
        (BinaryOp::GreaterOrEqual, vec![2, 5], vec![2, 1]),
        (BinaryOp::Not, vec![4, 6], vec![4, 6]),
    ] {
        v.push(Case {
            family: "binary",
            name: format!("{op:?} {sa:?} {sb:?}"),
            run: Box::new(move |gpu| {
                let a = Tensor::random(sa.clone(), 1);
                let b = Tensor::random_range(sb.clone(), 2, 0.5, 2.0);
                let want = reference::eltwise::binary(op, Activation::Identity, &a, &b)?;
                let got = launch(gpu, &[&a, &b], want.shape(), |g, t, out| {
                    g.encode(eltwise::binary(
                        g.target(),
                        op,
                        Activation::Identity,
                        (t[0], &sa),
                        (t[1], &sb),
                        out,
                    ))
                })?;
                Ok(Outcome {
                    got,
                    want,
                    tolerance: Tolerance::elementwise(),
                })
            }),
        });
    }
    v.push(Case {
        family: "binary",
        name: "Where [3, 1] [1, 4] [2, 3, 4]".into(),
        run: Box::new(|gpu| {
            let (sc, sx, sy) = ([3, 1], [1, 4], [2, 3, 4]);
            let c = Tensor::random(sc.to_vec(), 3);
            let (x, y) = (
                Tensor::random(sx.to_vec(), 4),
                Tensor::random(sy.to_vec(), 5),
            );
            let want = reference::eltwise::where_select(&c, &x, &y)?;
            let got = launch(gpu, &[&c, &x, &y], want.shape(), |g, t, out| {
                g.encode(eltwise::where_select(
                    g.target(),
                    (t[0], &sc),
                    (t[1], &sx),
                    (t[2], &sy),
                    out,
                ))
            })?;
            Ok(Outcome {
                got,
                want,
                tolerance: Tolerance::elementwise(),
            })
        }),
    });
    v
}
