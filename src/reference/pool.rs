//! CPU reference for window and global pooling, f64 accumulation.

use crate::error::{Error, Result};
use crate::ops::{PoolKind, PoolSpec};
use crate::tensor::{Tensor, numel};

/// 2-D pooling of `[N, C, H, W]` from the definition: output `(y, x)`'s window covers padded
/// rows `y*sh - pad_top + ky*dh` (ky < kh) and likewise for columns. Max takes the largest
/// in-input tap (-inf if none); average sums in-input taps and divides by the number of taps
/// inside the padded input `[-pad_begin, size + pad_end)` (count_include_pad) or inside the
/// input.
pub fn pool(spec: &PoolSpec, x: &Tensor) -> Result<Tensor> {
    let os = spec.output_shape(x.shape())?;
    let is = x.shape();
    let (h, w) = (is[2] as i64, is[3] as i64);
    let mut out = Tensor::zeros(os.clone());
    let mut k = 0;
    for n in 0..os[0] {
        for c in 0..os[1] {
            let plane = &x.data()[(n * is[1] + c) * is[2] * is[3]..][..is[2] * is[3]];
            for y in 0..os[2] {
                for xx in 0..os[3] {
                    let mut max = f64::NEG_INFINITY;
                    let mut sum = 0.0f64;
                    let (mut inside, mut padded) = (0usize, 0usize);
                    for ky in 0..spec.kernel[0] {
                        for kx in 0..spec.kernel[1] {
                            let iy = (y * spec.stride[0] + ky * spec.dilation[0]) as i64
                                - spec.pad_begin[0] as i64;
                            let ix = (xx * spec.stride[1] + kx * spec.dilation[1]) as i64
                                - spec.pad_begin[1] as i64;
                            if iy < h + spec.pad_end[0] as i64 && ix < w + spec.pad_end[1] as i64 {
                                padded += 1;
                            }
                            if iy >= 0 && iy < h && ix >= 0 && ix < w {
                                let v = plane[(iy * w + ix) as usize] as f64;
                                max = nan_max(max, v);
                                sum += v;
                                inside += 1;
                            }
                        }
                    }
                    out.data_mut()[k] = match spec.kind {
                        PoolKind::Max => max as f32,
                        PoolKind::Avg => {
                            let div = if spec.count_include_pad {
                                padded
                            } else {
                                inside
                            };
                            (sum / div.max(1) as f64) as f32
                        }
                    };
                    k += 1;
                }
            }
        }
    }
    Ok(out)
}

/// Global pooling of `[N, C, *spatial]` to `[N, C, 1, ..]` (one 1 per spatial dim).
pub fn global_pool(kind: PoolKind, x: &Tensor) -> Result<Tensor> {
    let is = x.shape();
    if is.len() < 3 || is[2..].contains(&0) {
        return Err(Error::invalid_op(
            "global_pool",
            format!("input {is:?} must be [N, C, *spatial] with a non-empty spatial part"),
        ));
    }
    let len = numel(&is[2..]);
    let mut os = vec![is[0], is[1]];
    os.resize(is.len(), 1);
    let data = x
        .data()
        .chunks(len)
        .map(|row| match kind {
            PoolKind::Max => {
                row.iter()
                    .fold(f64::NEG_INFINITY, |m, &v| nan_max(m, v as f64)) as f32
            }
            PoolKind::Avg => (row.iter().map(|&v| v as f64).sum::<f64>() / len as f64) as f32,
        })
        .collect();
    Tensor::new(os, data)
}

/// `max` that propagates NaN, as PyTorch's max pooling does (`f64::max` would drop it).
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}
