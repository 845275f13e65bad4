//! CPU reference for squeeze-and-excitation's excitation MLP, in f64 from its definition.

use crate::error::{Error, Result};
use crate::ops::Activation;
use crate::reference::activation::apply;
use crate::tensor::{Tensor, numel};

/// SE's squeeze and excitation: for each sample of `x` `[N, C, *spatial]`, the channel means
/// `p` (just the values when the map is already pooled to 1 x 1), then
/// `sigmoid(W2 act(W1 p + b1) + b2)` with `w1` `[R, C]`, `w2` `[C, R]`; output `[N, C, 1, 1]`.
/// The pooled values and hidden activations are rounded to f32, as the device stores them.
pub fn se_gate(
    x: &Tensor,
    w1: &Tensor,
    b1: &Tensor,
    act: Activation,
    w2: &Tensor,
    b2: &Tensor,
) -> Result<Tensor> {
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let s = numel(&x.shape()[2..]);
    let r = b1.numel();
    if s == 0 || w1.shape() != [r, c] || w2.shape() != [c, r] || b2.numel() != c {
        return Err(Error::invalid_op(
            "se_gate",
            format!(
                "input {:?}, w1 {:?}, b1 {:?}, w2 {:?}, b2 {:?} do not fit",
                x.shape(),
                w1.shape(),
                b1.shape(),
                w2.shape(),
                b2.shape()
            ),
        ));
    }
    let p: Vec<f32> = (0..n * c)
        .map(|i| {
            let sum: f64 = x.data()[i * s..(i + 1) * s].iter().map(|&v| v as f64).sum();
            (sum / s as f64) as f32
        })
        .collect();
    let mut out = Tensor::zeros(vec![n, c, 1, 1]);
    for b in 0..n {
        let hidden: Vec<f64> = (0..r)
            .map(|j| {
                let mut acc = b1.data()[j] as f64;
                for i in 0..c {
                    acc += w1.data()[j * c + i] as f64 * p[b * c + i] as f64;
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
