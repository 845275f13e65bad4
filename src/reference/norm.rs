//! CPU reference for the normalisations, in f64. Written per kind from the definitions (the
//! groups of elements are gathered by coordinates, not by the kernel's row arithmetic).

use crate::error::{Error, Result};
use crate::ops::{NormKind, NormOutput, NormSpec};
use crate::tensor::{Tensor, numel};

/// `spec` applied to `x` with `scale` and `bias` (of `spec.param_len(x.shape())` elements;
/// ones and zeros when absent).
pub fn norm(
    spec: &NormSpec,
    x: &Tensor,
    scale: Option<&Tensor>,
    bias: Option<&Tensor>,
) -> Result<Tensor> {
    let s = x.shape();
    spec.check(s)?;
    let plen = spec.param_len(s);
    for (what, t) in [("scale", scale), ("bias", bias)] {
        if let Some(t) = t
            && t.numel() != plen
        {
            return Err(Error::invalid_op(
                spec.kind.name(),
                format!("{what} has {} elements, {s:?} needs {plen}", t.numel()),
            ));
        }
    }
    let param =
        |t: Option<&Tensor>, i: usize, default: f64| t.map_or(default, |t| t.data()[i] as f64);
    let xd: Vec<f64> = x.data().iter().map(|&v| v as f64).collect();
    let mut out = vec![0.0f64; xd.len()];
    let n = s.first().copied().unwrap_or(1);
    let c = s.get(1).copied().unwrap_or(1);
    let spatial = numel(s.get(2..).unwrap_or(&[]));
    // Each group: the flat indices of its elements and, per element, its parameter index.
    let mut groups: Vec<Vec<(usize, usize)>> = Vec::new();
    match spec.kind {
        NormKind::Layer => {
            let len = numel(&s[spec.axis..]);
            for r in 0..numel(&s[..spec.axis]) {
                groups.push((0..len).map(|k| (r * len + k, k)).collect());
            }
        }
        NormKind::Instance | NormKind::Group => {
            let g = if spec.kind == NormKind::Group {
                spec.groups
            } else {
                c
            };
            let cpg = c / g;
            for b in 0..n {
                for gi in 0..g {
                    let mut v = Vec::new();
                    for ch in gi * cpg..(gi + 1) * cpg {
                        for p in 0..spatial {
                            v.push(((b * c + ch) * spatial + p, ch));
                        }
                    }
                    groups.push(v);
                }
            }
        }
        NormKind::Lp => {
            let len = s[spec.axis];
            let inner = numel(&s[spec.axis + 1..]);
            for o in 0..numel(&s[..spec.axis]) {
                for i in 0..inner {
                    groups.push((0..len).map(|k| ((o * len + k) * inner + i, 0)).collect());
                }
            }
        }
        NormKind::Lrn => {
            let before = (spec.size - 1) / 2;
            let after = spec.size - 1 - before;
            for (i, o) in out.iter_mut().enumerate() {
                let ch = (i / spatial) % c;
                let plane = i - ch * spatial;
                let lo = ch.saturating_sub(before);
                let hi = (ch + after).min(c - 1);
                let sq: f64 = (lo..=hi).map(|j| xd[plane + j * spatial].powi(2)).sum();
                let d = (spec.bias as f64 + spec.alpha as f64 / spec.size as f64 * sq)
                    .powf(spec.beta as f64);
                *o = xd[i] / d;
            }
        }
    }
    let mut stats = Vec::with_capacity(groups.len());
    for g in &groups {
        let len = g.len() as f64;
        if spec.kind == NormKind::Lp {
            let norm = if spec.p == 1 {
                g.iter().map(|&(i, _)| xd[i].abs()).sum::<f64>()
            } else {
                g.iter().map(|&(i, _)| xd[i] * xd[i]).sum::<f64>().sqrt()
            };
            // A zero row stays zero (ONNX's node tests expect 0, not 0 / 0).
            for &(i, _) in g {
                out[i] = if norm == 0.0 { 0.0 } else { xd[i] / norm };
            }
            continue;
        }
        let mean = g.iter().map(|&(i, _)| xd[i]).sum::<f64>() / len;
        let var = g.iter().map(|&(i, _)| (xd[i] - mean).powi(2)).sum::<f64>() / len;
        let inv = 1.0 / (var + spec.epsilon as f64).sqrt();
        stats.push(match spec.output {
            NormOutput::Mean => mean,
            _ => inv,
        });
        for &(i, p) in g {
            out[i] = (xd[i] - mean) * inv * param(scale, p, 1.0) + param(bias, p, 0.0);
        }
    }
    if spec.output != NormOutput::Normalized {
        // One statistic per row (layer norm's rows are in row-major order).
        return Tensor::new(
            spec.output_shape(s)?,
            stats.into_iter().map(|v| v as f32).collect(),
        );
    }
    Tensor::new(s.to_vec(), out.into_iter().map(|v| v as f32).collect())
}
