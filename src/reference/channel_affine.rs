//! CPU reference for the per-channel affine (an unfolded BatchNorm), in f64 from its
//! definition.

use crate::error::{Error, Result};
use crate::ops::Activation;
use crate::reference::activation::apply;
use crate::tensor::{Tensor, numel};

/// `act(x[n, c, ..] * scale[c] + shift[c] + residual[n, c, ..])`.
pub fn channel_affine(
    x: &Tensor,
    scale: &[f64],
    shift: &[f64],
    residual: Option<&Tensor>,
    act: Activation,
) -> Result<Tensor> {
    let s = x.shape();
    if s.len() < 2 || scale.len() != s[1] || shift.len() != s[1] {
        return Err(Error::invalid_op(
            "channel_affine",
            format!(
                "input {s:?} needs {} scales and shifts, got {} and {}",
                s.get(1).copied().unwrap_or(0),
                scale.len(),
                shift.len()
            ),
        ));
    }
    if let Some(r) = residual
        && r.shape() != s
    {
        return Err(Error::invalid_op(
            "channel_affine",
            format!("residual {:?} must match input {s:?}", r.shape()),
        ));
    }
    let inner = numel(&s[2..]);
    let mut out = x.clone();
    let mut i = 0;
    for _n in 0..s[0] {
        for c in 0..s[1] {
            for _ in 0..inner {
                let mut v = x.data()[i] as f64 * scale[c] + shift[c];
                if let Some(r) = residual {
                    v += r.data()[i] as f64;
                }
                out.data_mut()[i] = apply(act, v) as f32;
                i += 1;
            }
        }
    }
    Ok(out)
}
