//! CPU reference for constant padding: every output element is the input element at its index
//! minus `begin`, or `value` where that falls outside the input.

use crate::error::Result;
use crate::ops::pad_shape;
use crate::tensor::{Tensor, numel};

/// `x` padded with `begin[d]` leading and `end[d]` trailing `value`s along every dim `d`.
pub fn pad(x: &Tensor, begin: &[usize], end: &[usize], value: f32) -> Result<Tensor> {
    let is = x.shape();
    let os = pad_shape(is, begin, end)?;
    let r = os.len();
    let mut out = Tensor::new(os.clone(), vec![value; numel(&os)])?;
    let mut idx = vec![0usize; r];
    for o in out.data_mut() {
        // Source index, if every coordinate lies inside the input.
        let mut src = Some(0usize);
        for d in 0..r {
            src = match src {
                Some(s) if idx[d] >= begin[d] && idx[d] - begin[d] < is[d] => {
                    Some(s * is[d] + idx[d] - begin[d])
                }
                _ => None,
            };
        }
        if let Some(s) = src {
            *o = x.data()[s];
        }
        // Next output index, row-major.
        for d in (0..r).rev() {
            idx[d] += 1;
            if idx[d] < os[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(out)
}
