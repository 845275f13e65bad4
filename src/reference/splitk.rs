//! CPU reference for the split-K reduction: the sum over slices, then the epilogue.

use crate::error::{Error, Result};
use crate::ops::Activation;
use crate::reference::activation::apply;
use crate::tensor::{Tensor, numel};

/// `act(sum_s partial[s] + bias[o] + residual)` for `partial` `[S, N, O, *spatial]`, bias `[O]`,
/// residual `[N, O, *spatial]`; returns `[N, O, *spatial]`.
pub fn reduce(
    partial: &Tensor,
    bias: Option<&Tensor>,
    residual: Option<&Tensor>,
    act: Activation,
) -> Result<Tensor> {
    let shape = partial.shape();
    if shape.len() < 3 {
        return Err(Error::invalid_op(
            "split-K reduce",
            format!("partial sums {shape:?} must be [splits, N, O, *spatial]"),
        ));
    }
    let out_shape = shape[1..].to_vec();
    let (splits, n, o, sp) = (shape[0], shape[1], shape[2], numel(&shape[3..]));
    let len = numel(&out_shape);
    let mut out = Tensor::zeros(out_shape);
    for b in 0..n {
        for c in 0..o {
            for p in 0..sp {
                let i = (b * o + c) * sp + p;
                let mut v: f64 = (0..splits)
                    .map(|s| partial.data()[s * len + i] as f64)
                    .sum();
                if let Some(bias) = bias {
                    v += bias.data()[c] as f64;
                }
                if let Some(r) = residual {
                    v += r.data()[i] as f64;
                }
                out.data_mut()[i] = apply(act, v) as f32;
            }
        }
    }
    Ok(out)
}
