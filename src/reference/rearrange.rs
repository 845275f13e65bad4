//! CPU reference for the data-movement ops, each written from its definition with direct index
//! formulas (not through the kernels' strided-copy mappings).

use crate::error::{Error, Result};
use crate::ops::{ChannelOrder, ChannelShuffle, PixelShuffle, SpaceToDepth};
use crate::tensor::{Tensor, numel};

/// Flat row-major offset of a 4-D index.
fn at4(shape: &[usize], n: usize, c: usize, h: usize, w: usize) -> usize {
    ((n * shape[1] + c) * shape[2] + h) * shape[3] + w
}

/// Depth-to-space: `out[n, c, y, x] = in[n, ch, y / r, x / r]` with `(i, j) = (y % r, x % r)`
/// and `ch = c*r*r + i*r + j` (CRD) or `(i*r + j)*C + c` (DCR), C the output channels.
pub fn pixel_shuffle(op: &PixelShuffle, x: &Tensor) -> Result<Tensor> {
    let os = op.output_shape(x.shape())?;
    let r = op.factor;
    let is = x.shape();
    let mut out = Tensor::zeros(os.clone());
    let (src, dst) = (x.data(), out.data_mut());
    for n in 0..os[0] {
        for c in 0..os[1] {
            for y in 0..os[2] {
                for xx in 0..os[3] {
                    let (i, j) = (y % r, xx % r);
                    let ch = match op.order {
                        ChannelOrder::Crd => c * r * r + i * r + j,
                        ChannelOrder::Dcr => (i * r + j) * os[1] + c,
                    };
                    dst[at4(&os, n, c, y, xx)] = src[at4(is, n, ch, y / r, xx / r)];
                }
            }
        }
    }
    Ok(out)
}

/// Space-to-depth: output channel `co` at `(h, w)` is input channel `c` at `(h*r + i, w*r + j)`
/// with `co = c*r*r + i*r + j` (CRD, PyTorch `pixel_unshuffle`) or `(i*r + j)*C + c` (DCR, ONNX
/// `SpaceToDepth`), C the input channels.
pub fn space_to_depth(op: &SpaceToDepth, x: &Tensor) -> Result<Tensor> {
    let os = op.output_shape(x.shape())?;
    let r = op.block;
    let is = x.shape();
    let c_in = is[1];
    let mut out = Tensor::zeros(os.clone());
    let (src, dst) = (x.data(), out.data_mut());
    for n in 0..os[0] {
        for co in 0..os[1] {
            let (c, i, j) = match op.order {
                ChannelOrder::Crd => (co / (r * r), (co % (r * r)) / r, co % r),
                ChannelOrder::Dcr => (co % c_in, (co / c_in) / r, (co / c_in) % r),
            };
            for h in 0..os[2] {
                for w in 0..os[3] {
                    dst[at4(&os, n, co, h, w)] = src[at4(is, n, c, h * r + i, w * r + j)];
                }
            }
        }
    }
    Ok(out)
}

/// Channel shuffle with g groups of k channels: output channel `o` is input channel
/// `(o % g) * k + o / g`.
pub fn channel_shuffle(op: &ChannelShuffle, x: &Tensor) -> Result<Tensor> {
    let shape = op.output_shape(x.shape())?;
    let (n, c) = (shape[0], shape[1]);
    let s = numel(&shape[2..]);
    let g = op.groups;
    let k = c / g;
    let mut out = Tensor::zeros(shape);
    for b in 0..n {
        for o in 0..c {
            let src_c = (o % g) * k + o / g;
            let from = (b * c + src_c) * s;
            let to = (b * c + o) * s;
            out.data_mut()[to..to + s].copy_from_slice(&x.data()[from..from + s]);
        }
    }
    Ok(out)
}

/// Unravels a flat row-major index.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    idx
}

/// Ravels a multi-index.
fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &n)| acc * n + i)
}

/// `out[idx] = x[src]` with `src[perm[d]] = idx[d]`.
pub fn transpose(perm: &[usize], x: &Tensor) -> Result<Tensor> {
    let is = x.shape();
    let mut sorted = perm.to_vec();
    sorted.sort_unstable();
    if perm.len() != is.len() || sorted.iter().enumerate().any(|(i, &p)| p != i) {
        return Err(Error::invalid_op(
            "transpose",
            format!("perm {perm:?} is not a permutation of the axes of {is:?}"),
        ));
    }
    let os: Vec<usize> = perm.iter().map(|&p| is[p]).collect();
    let mut out = Tensor::zeros(os.clone());
    let mut src = vec![0; is.len()];
    for (flat, o) in out.data_mut().iter_mut().enumerate() {
        let idx = unravel(flat, &os);
        for d in 0..idx.len() {
            src[perm[d]] = idx[d];
        }
        *o = x.data()[ravel(&src, is)];
    }
    Ok(out)
}

/// Concatenation along `axis`: all parts agree on every other dim.
pub fn concat(axis: usize, parts: &[&Tensor]) -> Result<Tensor> {
    let bad = |m: String| Error::invalid_op("concat", m);
    let first = parts
        .first()
        .ok_or_else(|| bad("no inputs".to_string()))?
        .shape();
    if axis >= first.len() {
        return Err(bad(format!("axis {axis} out of range for {first:?}")));
    }
    let mut os = first.to_vec();
    os[axis] = 0;
    for p in parts {
        let s = p.shape();
        if s.len() != first.len() || (0..s.len()).any(|d| d != axis && s[d] != first[d]) {
            return Err(bad(format!(
                "part {s:?} does not match {first:?} off axis {axis}"
            )));
        }
        os[axis] += s[axis];
    }
    let mut out = Tensor::zeros(os.clone());
    for (flat, o) in out.data_mut().iter_mut().enumerate() {
        let mut idx = unravel(flat, &os);
        // Find the part holding this coordinate along the axis.
        for p in parts {
            let n = p.shape()[axis];
            if idx[axis] < n {
                *o = p.data()[ravel(&idx, p.shape())];
                break;
            }
            idx[axis] -= n;
        }
    }
    Ok(out)
}

/// `out[idx] = x[idx']` with `idx'_d = shape_d - 1 - idx_d` along `axes` (`torch.flip`).
pub fn reverse(x: &Tensor, axes: &[usize]) -> Result<Tensor> {
    let s = x.shape();
    if let Some(a) = axes.iter().find(|&&a| a >= s.len()) {
        return Err(Error::invalid_op(
            "reverse",
            format!("axis {a} is outside the rank of {s:?}"),
        ));
    }
    let mut out = Tensor::zeros(s.to_vec());
    for (flat, o) in out.data_mut().iter_mut().enumerate() {
        let mut idx = unravel(flat, s);
        for &a in axes {
            idx[a] = s[a] - 1 - idx[a];
        }
        *o = x.data()[ravel(&idx, s)];
    }
    Ok(out)
}

/// `out[idx] = x[starts + idx * steps]`, with `ceil((end - start) / step)` outputs per dim
/// (none when `end <= start`); starts and ends within the input, steps >= 1.
pub fn slice(x: &Tensor, starts: &[usize], ends: &[usize], steps: &[usize]) -> Result<Tensor> {
    let is = x.shape();
    let r = is.len();
    if starts.len() != r || ends.len() != r || steps.len() != r {
        return Err(Error::invalid_op(
            "slice",
            format!("starts/ends/steps must have {r} entries"),
        ));
    }
    let mut os = Vec::with_capacity(r);
    for d in 0..r {
        if steps[d] == 0 || starts[d] > is[d] || ends[d] > is[d] {
            return Err(Error::invalid_op(
                "slice",
                format!(
                    "dim {d}: start {} end {} step {} invalid for size {}",
                    starts[d], ends[d], steps[d], is[d]
                ),
            ));
        }
        let mut n = 0;
        let mut i = starts[d];
        while i < ends[d] {
            n += 1;
            i += steps[d];
        }
        os.push(n);
    }
    let mut out = Tensor::zeros(os.clone());
    let mut src = vec![0; r];
    for (flat, o) in out.data_mut().iter_mut().enumerate() {
        let idx = unravel(flat, &os);
        for d in 0..r {
            src[d] = starts[d] + idx[d] * steps[d];
        }
        *o = x.data()[ravel(&src, is)];
    }
    Ok(out)
}

/// numpy-broadcast of `x` to the shape both broadcast to (ONNX `Expand`): each output index
/// reads the input at the same index, 0 along the input's size-1 (or missing leading) dims.
pub fn expand(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let out = crate::ops::broadcast_shape(x.shape(), shape)?;
    let lead = out.len() - x.shape().len();
    let mut data = Vec::with_capacity(numel(&out));
    for flat in 0..numel(&out) {
        let (mut rest, mut src, mut scale) = (flat, 0, 1);
        for (i, &d) in out.iter().enumerate().rev() {
            let idx = rest % d;
            rest /= d;
            if i >= lead {
                let own = x.shape()[i - lead];
                if own != 1 {
                    src += idx * scale;
                }
                scale *= own;
            }
        }
        data.push(x.data()[src]);
    }
    Tensor::new(out, data)
}
