//! Transposed convolution cases.

use super::run::launch;
use super::{Case, Outcome};
use crate::compare::Tolerance;
use crate::kernels::{ConvBindings, conv_transpose};
use crate::ops::{ConvSpec, ConvTransposeSpec, Epilogue};
use crate::reference;
use crate::tensor::Tensor;

pub(super) fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (r, k, s, p, op, g) in [
        (2usize, 3usize, 2usize, 1usize, 1usize, 1usize),
        (2, 4, 3, 0, 2, 2),
        (3, 3, 2, 1, 1, 1),
    ] {
        v.push(conv_transpose_case(r, k, s, p, op, g));
    }
    v
}

fn conv_transpose_case(rank: usize, k: usize, s: usize, p: usize, op: usize, g: usize) -> Case {
    let spatial: Vec<usize> = [5, 7, 6][..rank].to_vec();
    let (n, c, o) = (2, 4 * g, 3 * g);
    let mut xs = vec![n, c];
    xs.extend(&spatial);
    let mut ws = vec![c, o / g];
    ws.extend(vec![k; rank]);
    let spec = ConvTransposeSpec::new(ConvSpec::new(&vec![k; rank]).stride(s).pad(p).groups(g))
        .output_padding(&vec![op; rank]);
    Case {
        family: "conv_transpose",
        name: format!("{rank}-D k{k} s{s} p{p} output_padding {op} groups {g} x{xs:?}"),
        run: Box::new(move |gpu| {
            let xt = Tensor::random(xs.clone(), 1);
            let wt = Tensor::random(ws.clone(), 2);
            let bt = Tensor::random(vec![o], 3);
            let out_shape = spec.output_shape(&xs, &ws)?;
            let got = launch(gpu, &[&xt, &wt, &bt], &out_shape, |gg, b, out| {
                let bind = ConvBindings {
                    input: b[0],
                    weight: b[1],
                    bias: Some(b[2]),
                    residual: None,
                    input_scale: None,
                    output: out,
                };
                gg.encode(conv_transpose::conv_transpose(
                    gg.target(),
                    &spec,
                    &xs,
                    &ws,
                    Epilogue::default(),
                    bind,
                ))
            })?;
            let want = reference::conv_transpose::conv_transpose(&spec, &xt, &wt, Some(&bt))?;
            Ok(Outcome {
                got,
                want,
                tolerance: Tolerance::accumulation((c / g) * k.pow(rank as u32) + 1),
            })
        }),
    }
}
