//! CPU reference for squeeze-and-excitation's excitation MLP, in f64 from its definition.

use crate::error::{Error, Result};
use crate::ops::Activation;
use crate::reference::activation::apply;
use crate::tensor::{Tensor, numel};

/// SE's excitation: for each sample of `p` `[N, C, ...]` (only the first C elements per sample
/// are read, the pooled values), `sigmoid(W2 act(W1 p + b1) + b2)` with `w1` `[R, C]`, `w2`
/// `[C, R]`. The hidden activations are rounded to f32, as the device stores them.
pub fn se_gate(
    p: &Tensor,
    w1: &Tensor,
    b1: &Tensor,
    act: Activation,
    w2: &Tensor,
    b2: &Tensor,
) -> Result<Tensor> {
    let (n, c) = (p.shape()[0], p.shape()[1]);
    let r = b1.numel();
    if numel(p.shape()) != n * c || w1.shape() != [r, c] || w2.shape() != [c, r] || b2.numel() != c
    {
        return Err(Error::invalid_op(
            "se_gate",
            format!(
                "pooled {:?}, w1 {:?}, b1 {:?}, w2 {:?}, b2 {:?} do not fit",
                p.shape(),
                w1.shape(),
                b1.shape(),
                w2.shape(),
                b2.shape()
            ),
        ));
    }
    let mut out = p.clone();
    for b in 0..n {
        let hidden: Vec<f64> = (0..r)
            .map(|j| {
                let mut acc = b1.data()[j] as f64;
                for i in 0..c {
                    acc += w1.data()[j * c + i] as f64 * p.data()[b * c + i] as f64;
                }
                apply(act, acc) as f32 as f64
            })
            .collect();
        for i in 0..c {
            let mut acc = b2.data()[i] as f64;
            for (j, h) in hidden.iter().enumerate() {
                acc += w2.data()[i * r + j] as f64 * h;
            }
            out.data_mut()[b * c + i] = apply(Activation::Sigmoid, acc) as f32;
        }
    }
    Ok(out)
}
