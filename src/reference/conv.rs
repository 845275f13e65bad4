//! CPU reference for N-d (1-D, 2-D, 3-D) convolution, straight from the definition:
//! `y[b, o, p] = bias[o] + sum_{c in group(o)} sum_q x[b, c, p*s - pad_begin + q*d] * w[o, c, q]`
//! with out-of-range input positions reading zero. f64 accumulation.

use crate::error::{Error, Result};
use crate::ops::{Activation, ConvSpec};
use crate::reference::activation::apply;
use crate::tensor::{Tensor, numel, strides};

/// Steps a multi-index through `extent` in row-major order; false after the last one.
fn next_index(idx: &mut [usize], extent: &[usize]) -> bool {
    for d in (0..idx.len()).rev() {
        idx[d] += 1;
        if idx[d] < extent[d] {
            return true;
        }
        idx[d] = 0;
    }
    false
}

/// The convolution (plus bias) in f64, row-major over the output shape.
fn conv_f64(
    spec: &ConvSpec,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
) -> Result<(Vec<usize>, Vec<f64>)> {
    let out_shape = spec.output_shape(x.shape(), w.shape())?;
    let (batch, c, o) = (x.shape()[0], x.shape()[1], w.shape()[0]);
    if let Some(b) = bias
        && b.shape() != [o]
    {
        return Err(Error::invalid_op(
            "conv",
            format!("bias shape {:?} must be [{o}]", b.shape()),
        ));
    }
    let g = spec.groups;
    let (c_per_group, o_per_group) = (c / g, o / g);
    let r = spec.rank();
    let in_sp = &x.shape()[2..];
    let out_sp = &out_shape[2..];
    let xs = strides(x.shape());
    let ws = strides(w.shape());
    let (xd, wd) = (x.data(), w.data());

    let mut out = Vec::with_capacity(numel(&out_shape));
    let mut coord = vec![0usize; r];
    for b in 0..batch {
        for oc in 0..o {
            let group = oc / o_per_group;
            let start = bias.map_or(0.0, |t| t.data()[oc] as f64);
            let mut p = vec![0usize; r];
            loop {
                let mut acc = start;
                for ci in 0..c_per_group {
                    let ic = group * c_per_group + ci;
                    let mut q = vec![0usize; r];
                    loop {
                        // Input position of tap q for output position p, in padded-input terms.
                        let inside = (0..r).all(|d| {
                            let padded = p[d] * spec.stride[d] + q[d] * spec.dilation[d];
                            let ok = padded >= spec.pad_begin[d]
                                && padded - spec.pad_begin[d] < in_sp[d];
                            if ok {
                                coord[d] = padded - spec.pad_begin[d];
                            }
                            ok
                        });
                        if inside {
                            let mut xi = b * xs[0] + ic * xs[1];
                            let mut wi = oc * ws[0] + ci * ws[1];
                            for d in 0..r {
                                xi += coord[d] * xs[2 + d];
                                wi += q[d] * ws[2 + d];
                            }
                            acc += xd[xi] as f64 * wd[wi] as f64;
                        }
                        if !next_index(&mut q, &spec.kernel) {
                            break;
                        }
                    }
                }
                out.push(acc);
                if !next_index(&mut p, out_sp) {
                    break;
                }
            }
        }
    }
    Ok((out_shape, out))
}

/// `conv(x, w) + bias` with PyTorch `ConvNd` semantics; `x` `[N, C, *s]`, `w` `[O, C/g, *k]`,
/// `bias` `[O]`.
pub fn conv(spec: &ConvSpec, x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (shape, y) = conv_f64(spec, x, w, bias)?;
    Tensor::new(shape, y.into_iter().map(|v| v as f32).collect())
}

/// The fused epilogue `act(conv(x, w) + bias + residual)`, summed in f64 before one rounding.
pub fn conv_epilogue(
    spec: &ConvSpec,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    residual: Option<&Tensor>,
    act: Activation,
) -> Result<Tensor> {
    let (shape, mut y) = conv_f64(spec, x, w, bias)?;
    if let Some(res) = residual {
        if res.shape() != shape.as_slice() {
            return Err(Error::invalid_op(
                "conv",
                format!(
                    "residual shape {:?} must equal the output shape {shape:?}",
                    res.shape()
                ),
            ));
        }
        for (v, &r) in y.iter_mut().zip(res.data()) {
            *v += r as f64;
        }
    }
    Tensor::new(shape, y.into_iter().map(|v| apply(act, v) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-computed 1-D case: x = [1, 2, 3, 4], w = [1, -1], stride 2, pad 1 on the left:
    /// padded [0, 1, 2, 3, 4] -> taps (0,1), (2,3) -> [0-1, 2-3] = [-1, -1], plus bias 0.5.
    #[test]
    fn hand_computed_1d() {
        let spec = ConvSpec::new(&[2]).stride(2).pads(&[1], &[0]);
        let x = Tensor::new(vec![1, 1, 4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let w = Tensor::new(vec![1, 1, 2], vec![1.0, -1.0]).unwrap();
        let b = Tensor::new(vec![1], vec![0.5]).unwrap();
        let y = conv(&spec, &x, &w, Some(&b)).unwrap();
        assert_eq!(y.shape(), &[1, 1, 2]);
        assert_eq!(y.data(), &[-0.5, -0.5]);
    }

    /// Groups: 2 groups of one channel each is two independent 1-channel convolutions; a
    /// 2-dilated 2x2 kernel on a 3x3 input reads only the corners.
    #[test]
    fn grouped_dilated_2d() {
        let spec = ConvSpec::conv2d(2, 2).dilation(2).groups(2);
        let x = Tensor::new(vec![1, 2, 3, 3], (0..18).map(|v| v as f32).collect()).unwrap();
        let w = Tensor::new(
            vec![2, 1, 2, 2],
            vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, -1.0],
        )
        .unwrap();
        let y = conv(&spec, &x, &w, None).unwrap();
        assert_eq!(y.shape(), &[1, 2, 1, 1]);
        // Channel 0 corners 0 + 2 + 6 + 8; channel 1 corners 9 - 17.
        assert_eq!(y.data(), &[16.0, -8.0]);
    }

    #[test]
    fn epilogue_adds_residual_then_activates() {
        let spec = ConvSpec::new(&[1]);
        let x = Tensor::new(vec![1, 1, 2], vec![1.0, -3.0]).unwrap();
        let w = Tensor::new(vec![1, 1, 1], vec![2.0]).unwrap();
        let res = Tensor::new(vec![1, 1, 2], vec![1.0, 1.0]).unwrap();
        let y = conv_epilogue(&spec, &x, &w, None, Some(&res), Activation::Relu).unwrap();
        assert_eq!(y.data(), &[3.0, 0.0]);
        let bad = Tensor::zeros(vec![1, 1, 3]);
        assert!(conv_epilogue(&spec, &x, &w, None, Some(&bad), Activation::Relu).is_err());
    }
}
