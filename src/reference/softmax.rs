//! CPU reference for softmax, in f64.

use crate::error::{Error, Result};
use crate::ops::SoftmaxKind;
use crate::tensor::{Tensor, numel};

/// `y[.., k, ..] = exp(x_k - max) / sum_j exp(x_j - max)` along `axis`.
pub fn softmax(axis: usize, x: &Tensor) -> Result<Tensor> {
    softmax_kind(SoftmaxKind::Softmax, axis, x)
}

/// Softmax, `log(softmax)` computed as `(x_k - max) - log(sum_j exp(x_j - max))`, or hardmax
/// (1 at the first maximum) along `axis`.
pub fn softmax_kind(kind: SoftmaxKind, axis: usize, x: &Tensor) -> Result<Tensor> {
    let s = x.shape();
    if axis >= s.len() {
        return Err(Error::invalid_op(
            kind.name(),
            format!("axis {axis} is out of range for shape {s:?}"),
        ));
    }
    let outer = numel(&s[..axis]);
    let len = s[axis];
    let inner = numel(&s[axis + 1..]);
    let mut out = Tensor::zeros(s.to_vec());
    let at = |o: usize, k: usize, i: usize| (o * len + k) * inner + i;
    for o in 0..outer {
        for i in 0..inner {
            let m = (0..len)
                .map(|k| x.data()[at(o, k, i)] as f64)
                .fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = (0..len)
                .map(|k| (x.data()[at(o, k, i)] as f64 - m).exp())
                .sum();
            let first = (0..len).find(|&k| x.data()[at(o, k, i)] as f64 == m);
            for k in 0..len {
                let v = x.data()[at(o, k, i)] as f64;
                out.data_mut()[at(o, k, i)] = match kind {
                    SoftmaxKind::Softmax => ((v - m).exp() / sum) as f32,
                    SoftmaxKind::LogSoftmax => ((v - m) - sum.ln()) as f32,
                    SoftmaxKind::Hardmax => (first == Some(k)) as u8 as f32,
                };
            }
        }
    }
    Ok(out)
}
