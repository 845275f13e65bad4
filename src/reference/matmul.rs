//! CPU reference for GEMM-shaped ops: numpy `matmul`, `Linear`, and the 1x1 (pointwise)
//! convolution, each a direct loop over its definition with f64 accumulation.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// numpy `matmul` for operands of any rank: 1-D operands promoted, batch dims broadcast. Each
/// output batch index maps to each operand's by clamping broadcast dims to 0, index by index
/// (no stride tricks: the kernel's merged batch levels are what this checks).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let s = crate::ops::matmul_shape(a.shape(), b.shape())?;
    let (m, k, n) = (s.m, s.k, s.n);
    let batches: usize = s.batch.iter().product();
    // Index of the batch entry `idx` (of the output's batch dims) in an operand's batch dims.
    let entry = |dims: &[usize], mut idx: usize| {
        let mut at = 0;
        let mut scale = 1;
        for (i, &d) in s.batch.iter().enumerate().rev() {
            let j = idx % d;
            idx /= d;
            if dims[i] != 1 {
                at += j * scale;
            }
            scale *= dims[i];
        }
        at
    };
    let mut out = Vec::with_capacity(batches * m * n);
    for bi in 0..batches {
        let (ia, ib) = (entry(&s.a_batch, bi), entry(&s.b_batch, bi));
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0f64;
                for p in 0..k {
                    acc += a.data()[(ia * m + i) * k + p] as f64
                        * b.data()[(ib * k + p) * n + j] as f64;
                }
                out.push(acc as f32);
            }
        }
    }
    Tensor::new(s.out, out)
}

/// `x W^T + bias` with `x` `[N, K]`, `w` `[M, K]`, `bias` `[M]`: PyTorch `nn.Linear`.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (sx, sw) = (x.shape(), w.shape());
    let (&[rows, k], &[m, wk]) = (sx, sw) else {
        return Err(Error::invalid_op(
            "linear",
            format!("input {sx:?} and weight {sw:?} must have rank 2"),
        ));
    };
    if k != wk {
        return Err(Error::invalid_op(
            "linear",
            format!("input {sx:?} does not match weight {sw:?}"),
        ));
    }
    if let Some(bt) = bias
        && bt.shape() != [m]
    {
        return Err(Error::invalid_op(
            "linear",
            format!("bias {:?} must be [{m}]", bt.shape()),
        ));
    }
    let mut out = Vec::with_capacity(rows * m);
    for r in 0..rows {
        for j in 0..m {
            let mut acc = bias.map_or(0.0, |bt| bt.data()[j] as f64);
            for p in 0..k {
                acc += x.data()[r * k + p] as f64 * w.data()[j * k + p] as f64;
            }
            out.push(acc as f32);
        }
    }
    Tensor::new(vec![rows, m], out)
}

/// A 1x1 convolution with `groups`: `x` `[N, C, *spatial]`, `w` `[O, C/groups, 1, ..]`,
/// `bias` `[O]`; output `[N, O, *spatial]`.
pub fn pointwise(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, groups: usize) -> Result<Tensor> {
    let (sx, sw) = (x.shape(), w.shape());
    let bad = |msg: String| {
        Err(Error::invalid_op(
            "pointwise conv",
            format!("{msg} (input {sx:?}, weight {sw:?}, groups {groups})"),
        ))
    };
    if sx.len() < 3 || sw.len() != sx.len() || sw[2..].iter().any(|&k| k != 1) {
        return bad("needs input [N, C, *spatial] and a 1x1 weight of the same rank".into());
    }
    let (n, c, o) = (sx[0], sx[1], sw[0]);
    if groups == 0 || c % groups != 0 || o % groups != 0 || sw[1] * groups != c {
        return bad("groups must divide both channel counts and match the weight".into());
    }
    if let Some(bt) = bias
        && bt.shape() != [o]
    {
        return bad(format!("bias {:?} must be [{o}]", bt.shape()));
    }
    let hw: usize = sx[2..].iter().product();
    let (cpg, opg) = (c / groups, o / groups);
    let mut shape = sx.to_vec();
    shape[1] = o;
    let mut out = Tensor::zeros(shape);
    let od = out.data_mut();
    for img in 0..n {
        for oc in 0..o {
            let g = oc / opg;
            for p in 0..hw {
                let mut acc = bias.map_or(0.0, |bt| bt.data()[oc] as f64);
                for ic in 0..cpg {
                    let xin = x.data()[(img * c + g * cpg + ic) * hw + p] as f64;
                    acc += xin * w.data()[oc * cpg + ic] as f64;
                }
                od[(img * o + oc) * hw + p] = acc as f32;
            }
        }
    }
    Ok(out)
}
