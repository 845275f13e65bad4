//! CPU reference for window and global pooling, f64 accumulation.

use crate::error::Result;
use crate::ops::{PoolKind, PoolSpec, global_pool_output_shape};
use crate::tensor::{Tensor, numel};

/// Every multi-index below `dims`, row-major (one empty index when `dims` is empty).
fn positions(dims: &[usize]) -> Vec<Vec<usize>> {
    let mut all = vec![vec![]];
    for &d in dims {
        all = all
            .into_iter()
            .flat_map(|p| {
                (0..d).map(move |i| {
                    let mut q = p.clone();
                    q.push(i);
                    q
                })
            })
            .collect();
    }
    all
}

/// Pooling of `[N, C, *spatial]` from the definition: output position `o`'s window covers the
/// padded positions `o[i]*stride[i] - pad_begin[i] + t[i]*dilation[i]` for every tap
/// `t < kernel`. Max takes the largest in-input tap (-inf if none); MaxIndex its flattened
/// index into the input (the first maximum, or the first NaN; -1 if none), the spatial part
/// row-major or (column_major) with the first spatial dim fastest; average sums the
/// in-input taps and divides by the number of taps inside the padded input
/// `[-pad_begin, size + pad_end)` (count_include_pad) or inside the input; Lp is
/// `(sum |x|^p)^(1/p)` over in-input taps.
pub fn pool(spec: &PoolSpec, x: &Tensor) -> Result<Tensor> {
    let os = spec.output_shape(x.shape())?;
    let is = x.shape();
    let spatial = &is[2..];
    let plane_len = numel(spatial);
    let taps = positions(&spec.kernel);
    let outs = positions(&os[2..]);
    let mut out = Vec::with_capacity(numel(&os));
    for plane in 0..os[0] * os[1] {
        let base = plane * plane_len;
        for o in &outs {
            let (mut max, mut arg) = (f64::NEG_INFINITY, None::<usize>);
            let (mut sum, mut lp) = (0.0f64, 0.0f64);
            let (mut inside, mut padded) = (0usize, 0usize);
            for t in &taps {
                let at: Vec<i64> = (0..spec.rank())
                    .map(|i| {
                        (o[i] * spec.stride[i] + t[i] * spec.dilation[i]) as i64
                            - spec.pad_begin[i] as i64
                    })
                    .collect();
                if (0..spec.rank()).all(|i| at[i] < (spatial[i] + spec.pad_end[i]) as i64) {
                    padded += 1;
                }
                if !(0..spec.rank()).all(|i| at[i] >= 0 && at[i] < spatial[i] as i64) {
                    continue;
                }
                let flat = at
                    .iter()
                    .zip(spatial)
                    .fold(0usize, |f, (&a, &d)| f * d + a as usize);
                let v = x.data()[base + flat] as f64;
                let wins = match arg {
                    None => true,
                    Some(_) => !max.is_nan() && (v.is_nan() || v > max),
                };
                if wins {
                    let index = match spec.kind {
                        PoolKind::MaxIndex { column_major: true } => at
                            .iter()
                            .zip(spatial)
                            .rev()
                            .fold(0usize, |f, (&a, &d)| f * d + a as usize),
                        _ => flat,
                    };
                    (max, arg) = (v, Some(base + index));
                }
                sum += v;
                lp += v.abs().powi(spec.kind.p() as i32);
                inside += 1;
            }
            out.push(match spec.kind {
                PoolKind::Max => max as f32,
                PoolKind::MaxIndex { .. } => arg.map_or(-1.0, |a| a as f64) as f32,
                PoolKind::Avg => {
                    let div = if spec.count_include_pad {
                        padded
                    } else {
                        inside
                    };
                    (sum / div.max(1) as f64) as f32
                }
                PoolKind::Lp(p) => lp.powf(1.0 / p as f64) as f32,
            });
        }
    }
    Tensor::new(os, out)
}

/// Global pooling of `[N, C, *spatial]` to `[N, C, 1, ..]` (one 1 per spatial dim).
pub fn global_pool(kind: PoolKind, x: &Tensor) -> Result<Tensor> {
    let os = global_pool_output_shape(kind, x.shape())?;
    let len = numel(&x.shape()[2..]);
    let data = x
        .data()
        .chunks(len)
        .map(|row| match kind {
            PoolKind::Max | PoolKind::MaxIndex { .. } => {
                row.iter()
                    .fold(f64::NEG_INFINITY, |m, &v| nan_max(m, v as f64)) as f32
            }
            PoolKind::Avg => (row.iter().map(|&v| v as f64).sum::<f64>() / len as f64) as f32,
            PoolKind::Lp(p) => row
                .iter()
                .map(|&v| (v as f64).abs().powi(p as i32))
                .sum::<f64>()
                .powf(1.0 / p as f64) as f32,
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
