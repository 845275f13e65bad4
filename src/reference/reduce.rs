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
        ReduceKind::ArgMax => arg(g, true, false),
        ReduceKind::ArgMin => arg(g, false, false),
        ReduceKind::ArgMaxLast => arg(g, true, true),
        ReduceKind::ArgMinLast => arg(g, false, true),
    }
}

/// The index of the extreme of `g` (the largest if `max`), NaN beyond every number as numpy
/// has it; of tied extremes (NaNs tie with each other) the first, or the `last`.
fn arg(g: &[f64], max: bool, last: bool) -> f64 {
    // A sort key where NaN is the extreme.
    let key = |v: f64| match (v.is_nan(), max) {
        (true, true) => f64::INFINITY,
        (true, false) => f64::NEG_INFINITY,
        (false, true) => v,
        (false, false) => -v,
    };
    let (mut best, mut best_nan) = (0, g[0].is_nan());
    for (i, &v) in g.iter().enumerate().skip(1) {
        let (kb, kv) = (key(g[best]), key(v));
        // NaN outranks an infinity of the same side, which has the same key.
        let better = if v.is_nan() != best_nan {
            v.is_nan()
        } else {
            kv > kb || (last && kv == kb)
        };
        if better {
            best = i;
            best_nan = v.is_nan();
        }
    }
    best as f64
}
