//! CPU reference for transposed convolution, written as its scatter definition (the adjoint of
//! a convolution): every input element, through every kernel tap, adds into the output at
//! `o = i*stride - pad_begin + k*dilation`. The GPU kernel gathers instead; the two share no
//! index math beyond the output-shape rule.

use crate::error::{Error, Result};
use crate::ops::ConvTransposeSpec;
use crate::tensor::{Tensor, numel, strides};

/// Calls `f` with every multi-index of `shape`, row-major.
fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; shape.len()];
    loop {
        f(&idx);
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// PyTorch `ConvTransposeNd`: `x` `[N, C, *in]`, `w` `[C, O/groups, *k]`, `bias` `[O]`.
pub fn conv_transpose(
    spec: &ConvTransposeSpec,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
) -> Result<Tensor> {
    // An empty spatial input has no transposed-conv output size (PyTorch rejects it too).
    if x.shape().len() > 2 && x.shape()[2..].contains(&0) {
        return Err(Error::invalid_op(
            "conv_transpose",
            format!("input {:?} has an empty spatial dimension", x.shape()),
        ));
    }
    let out_shape = spec.output_shape(x.shape(), w.shape())?;
    let (n, c, o) = (x.shape()[0], x.shape()[1], out_shape[1]);
    let g = spec.conv.groups;
    let (cpg, opg) = (c / g, o / g);
    if let Some(bt) = bias
        && bt.shape() != [o]
    {
        return Err(Error::invalid_op(
            "conv_transpose",
            format!("bias {:?} must be [{o}]", bt.shape()),
        ));
    }
    let in_sp = &x.shape()[2..];
    let out_sp = &out_shape[2..];
    let out_st = strides(out_sp);
    let out_plane = numel(out_sp);
    let in_plane = numel(in_sp);
    let kvol = numel(&spec.conv.kernel);
    let mut acc = vec![0f64; numel(&out_shape)];
    for img in 0..n {
        for ic in 0..c {
            let grp = ic / cpg;
            for_each_index(in_sp, |i| {
                let in_flat: usize = i.iter().zip(strides(in_sp)).map(|(a, s)| a * s).sum();
                let xv = x.data()[(img * c + ic) * in_plane + in_flat] as f64;
                let mut kflat = 0;
                for_each_index(&spec.conv.kernel, |k| {
                    let tap = kflat;
                    kflat += 1;
                    // Output position this (input, tap) pair lands on, if inside the output.
                    let mut off = 0usize;
                    for d in 0..i.len() {
                        let pos = (i[d] * spec.conv.stride[d] + k[d] * spec.conv.dilation[d])
                            as isize
                            - spec.conv.pad_begin[d] as isize;
                        if pos < 0 || pos as usize >= out_sp[d] {
                            return;
                        }
                        off += pos as usize * out_st[d];
                    }
                    for ol in 0..opg {
                        let oc = grp * opg + ol;
                        let wv = w.data()[(ic * opg + ol) * kvol + tap] as f64;
                        acc[(img * o + oc) * out_plane + off] += xv * wv;
                    }
                });
            });
        }
    }
    if let Some(bt) = bias {
        for (i, v) in acc.iter_mut().enumerate() {
            *v += bt.data()[(i / out_plane) % o] as f64;
        }
    }
    Tensor::new(out_shape, acc.into_iter().map(|v| v as f32).collect())
}
