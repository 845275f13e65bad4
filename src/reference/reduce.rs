//! CPU reference for reductions over axes, in f64.

use crate::error::Result;
use crate::ops::{ReduceKind, ReduceSpec};
use crate::tensor::{Tensor, numel};

/// `spec` applied to `x`: every input element is sent to the output element of its kept
/// coordinates, then each output's list is reduced.
pub fn reduce(spec: &ReduceSpec, x: &Tensor) -> Result<Tensor> {
    let s = x.shape();
    let out_shape = spec.output_shape(s)?;
    let kept: Vec<usize> = (0..s.len()).filter(|&d| !spec.reduces(d)).collect();
    let mut groups: Vec<Vec<f64>> = vec![Vec::new(); numel(&out_shape)];
    let mut coord = vec![0usize; s.len()];
    for &v in x.data() {
        let o = kept.iter().fold(0, |o, &d| o * s[d] + coord[d]);
        groups[o].push(v as f64);
        // Next coordinate, last dim fastest.
        for d in (0..s.len()).rev() {
            coord[d] += 1;
            if coord[d] < s[d] {
                break;
            }
            coord[d] = 0;
        }
    }
    let data = groups
        .iter()
        .map(|g| reduce_set(spec.kind, g) as f32)
        .collect();
    Tensor::new(out_shape, data)
}

/// `kind` over one reduced set.
pub fn reduce_set(kind: ReduceKind, g: &[f64]) -> f64 {
    if g.is_empty() {
        return kind.empty_value() as f64;
    }
    let sum = |f: &dyn Fn(f64) -> f64| g.iter().map(|&v| f(v)).sum::<f64>();
    // NaN wins max and min, as in the kernel and PyTorch.
    let pick = |better: &dyn Fn(f64, f64) -> bool| {
        g.iter().copied().fold(g[0], |a, b| {
            if a.is_nan() || (!b.is_nan() && !better(b, a)) {
                a
            } else {
                b
            }
        })
    };
    match kind {
        ReduceKind::Sum => sum(&|v| v),
        ReduceKind::Mean => sum(&|v| v) / g.len() as f64,
        ReduceKind::Max => pick(&|b, a| b > a),
        ReduceKind::Min => pick(&|b, a| b < a),
        ReduceKind::Prod => g.iter().product(),
        ReduceKind::L1 => sum(&|v| v.abs()),
        ReduceKind::L2 => sum(&|v| v * v).sqrt(),
        ReduceKind::SumSquare => sum(&|v| v * v),
        ReduceKind::LogSum => sum(&|v| v).ln(),
        ReduceKind::LogSumExp => {
            let m = pick(&|b, a| b > a);
            if !m.is_finite() {
                return m;
            }
            m + sum(&|v| (v - m).exp()).ln()
        }
    }
}
