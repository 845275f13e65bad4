//! CPU reference for 2-D resize, written per output element straight from the ONNX `Resize`
//! definition (source coordinate, then nearest rounding or linear weights over neighbours
//! clamped to the input), in f64.

use crate::error::Result;
use crate::ops::{CoordinateMode, NearestMode, ResizeMode, ResizeSpec};
use crate::tensor::Tensor;

/// `v / scale` for `axis`: by the given scale, or by `len_out / len_in` computed as
/// `v * len_in / len_out` (exact whenever the quotient is representable, as with a given
/// scale, so ties and whole numbers land exactly where the mathematics puts them).
fn over_scale(spec: &ResizeSpec, axis: usize, v: f64, len_in: usize, len_out: usize) -> f64 {
    match spec.scale {
        Some(s) => v / s[axis],
        None => v * len_in as f64 / len_out as f64,
    }
}

/// The input coordinate that output coordinate `x` of `axis` maps to.
fn source_coordinate(
    spec: &ResizeSpec,
    axis: usize,
    x: usize,
    len_in: usize,
    len_out: usize,
) -> f64 {
    let xf = x as f64;
    match spec.coordinate {
        CoordinateMode::HalfPixel => over_scale(spec, axis, xf + 0.5, len_in, len_out) - 0.5,
        CoordinateMode::PytorchHalfPixel => {
            if len_out > 1 {
                over_scale(spec, axis, xf + 0.5, len_in, len_out) - 0.5
            } else {
                0.0
            }
        }
        CoordinateMode::AlignCorners => {
            // The resized length is the output's, or `scale * in` (not rounded) when the
            // scales were given, as ONNX's Resize defines it.
            let resized = match spec.scale {
                Some(s) => s[axis] * len_in as f64,
                None => len_out as f64,
            };
            if len_out > 1 && resized != 1.0 {
                xf * (len_in as f64 - 1.0) / (resized - 1.0)
            } else {
                0.0
            }
        }
        CoordinateMode::Asymmetric => over_scale(spec, axis, xf, len_in, len_out),
        CoordinateMode::TfHalfPixelForNn => over_scale(spec, axis, xf + 0.5, len_in, len_out),
        CoordinateMode::HalfPixelSymmetric => {
            // adjustment = out / (scale * in): 1 when the scale is out / in.
            let adjustment = match spec.scale {
                Some(s) => len_out as f64 / (s[axis] * len_in as f64),
                None => 1.0,
            };
            let center = len_in as f64 / 2.0;
            center * (1.0 - adjustment) + over_scale(spec, axis, xf + 0.5, len_in, len_out) - 0.5
        }
    }
}

/// Index `i` clamped to `0..len`.
fn clamp_index(i: f64, len: usize) -> usize {
    i.max(0.0).min(len as f64 - 1.0) as usize
}

/// The nearest input index to `v`.
fn nearest(mode: NearestMode, v: f64, len: usize) -> usize {
    let below = v.floor();
    let is_half = v - below == 0.5;
    let i = match mode {
        NearestMode::RoundPreferFloor if is_half => below,
        NearestMode::RoundPreferCeil if is_half => below + 1.0,
        NearestMode::RoundPreferFloor | NearestMode::RoundPreferCeil => v.round(),
        NearestMode::Floor => below,
        NearestMode::Ceil => v.ceil(),
    };
    clamp_index(i, len)
}

/// `(index, weight)` pairs of the input elements that make up coordinate `v` of an axis.
fn taps(spec: &ResizeSpec, v: f64, len: usize) -> Vec<(usize, f64)> {
    match spec.mode {
        ResizeMode::Nearest => vec![(nearest(spec.nearest_mode, v, len), 1.0)],
        ResizeMode::Linear => {
            let below = v.floor();
            let t = v - below;
            vec![
                (clamp_index(below, len), 1.0 - t),
                (clamp_index(below + 1.0, len), t),
            ]
        }
    }
}

/// `x` `[N, C, H, W]` resized to `[N, C, spec.out[0], spec.out[1]]`.
pub fn resize(spec: &ResizeSpec, x: &Tensor) -> Result<Tensor> {
    let os = spec.output_shape(x.shape())?;
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (oh, ow) = (os[2], os[3]);
    let mut out = Tensor::zeros(os);
    let (src, dst) = (x.data(), out.data_mut());
    for b in 0..n {
        for ch in 0..c {
            let plane = &src[(b * c + ch) * h * w..][..h * w];
            for oy in 0..oh {
                let ty = taps(spec, source_coordinate(spec, 0, oy, h, oh), h);
                for ox in 0..ow {
                    let tx = taps(spec, source_coordinate(spec, 1, ox, w, ow), w);
                    let mut acc = 0f64;
                    for &(iy, wy) in &ty {
                        for &(ix, wx) in &tx {
                            acc += wy * wx * plane[iy * w + ix] as f64;
                        }
                    }
                    dst[((b * c + ch) * oh + oy) * ow + ox] = acc as f32;
                }
            }
        }
    }
    Ok(out)
}
