//! CPU reference for 2-D resize, written per output element straight from the ONNX `Resize`
//! definition (source coordinate, then nearest rounding or the linear / cubic filter over every
//! input position it reaches, the edge repeated beyond the input), in f64.

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
        CoordinateMode::TfCropAndResize => {
            let [start, end] = spec.roi[axis];
            let resized = match spec.scale {
                Some(s) => s[axis] * len_in as f64,
                None => len_out as f64,
            };
            let span = len_in as f64 - 1.0;
            if resized == 1.0 {
                (end - start) * span / 2.0 + start * span
            } else {
                xf * (end - start) * span / (resized - 1.0) + start * span
            }
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

/// Keys' cubic convolution kernel with coefficient `a` at distance `d`.
fn keys(a: f64, d: f64) -> f64 {
    let d = d.abs();
    if d < 1.0 {
        (a + 2.0) * d.powi(3) - (a + 3.0) * d.powi(2) + 1.0
    } else if d < 2.0 {
        a * d.powi(3) - 5.0 * a * d.powi(2) + 8.0 * a * d - 4.0 * a
    } else {
        0.0
    }
}

/// `(index, weight)` pairs of the input elements that make up coordinate `v` of an axis whose
/// scale factor is `scale`; `None` where tf_crop_and_resize samples outside the input.
fn taps(spec: &ResizeSpec, v: f64, len: usize, scale: f64) -> Option<Vec<(usize, f64)>> {
    if spec.coordinate == CoordinateMode::TfCropAndResize && (v < 0.0 || v > len as f64 - 1.0) {
        return None;
    }
    let (radius, filter): (f64, &dyn Fn(f64) -> f64) = match spec.mode {
        ResizeMode::Nearest => return Some(vec![(nearest(spec.nearest_mode, v, len), 1.0)]),
        ResizeMode::Linear => (1.0, &|d: f64| (1.0 - d.abs()).max(0.0)),
        ResizeMode::Cubic => (2.0, &|d: f64| keys(spec.cubic_a, d)),
    };
    // Antialiasing a downsample samples the filter at scale * distance.
    let s = if spec.antialias && scale < 1.0 {
        scale
    } else {
        1.0
    };
    let (lo, hi) = (
        (v - radius / s).floor() as i64,
        (v + radius / s).ceil() as i64,
    );
    let mut t: Vec<(i64, f64)> = (lo..=hi)
        .map(|i| (i, filter(s * (i as f64 - v))))
        .filter(|&(i, _)| !(spec.exclude_outside && (i < 0 || i >= len as i64)))
        .collect();
    let sum: f64 = t.iter().map(|p| p.1).sum();
    if sum != 0.0 {
        t.iter_mut().for_each(|p| p.1 /= sum);
    }
    Some(
        t.into_iter()
            .map(|(i, w)| (clamp_index(i as f64, len), w))
            .collect(),
    )
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
                let sy = spec.scale.map_or(oh as f64 / h as f64, |s| s[0]);
                let ty = taps(spec, source_coordinate(spec, 0, oy, h, oh), h, sy);
                for ox in 0..ow {
                    let sx = spec.scale.map_or(ow as f64 / w as f64, |s| s[1]);
                    let tx = taps(spec, source_coordinate(spec, 1, ox, w, ow), w, sx);
                    let (Some(ty), Some(tx)) = (&ty, tx) else {
                        dst[((b * c + ch) * oh + oy) * ow + ox] = spec.extrapolation;
                        continue;
                    };
                    let mut acc = 0f64;
                    for &(iy, wy) in ty {
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
