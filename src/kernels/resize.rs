//! 2-D resize, nearest, bilinear or bicubic, antialiased or not (`shaders/resize.wgsl`).
//!
//! The coordinate transformation and the filter weights run on the host, once per output row
//! and column, in f64 ([`resize_table`]); the kernel only sums its taps through that lookup. f32 division
//! on GPUs is not correctly rounded (WGSL allows 2.5 ULP), which would move nearest-mode ties
//! and whole-number coordinates between backends; the host's f64 coordinates are exact
//! wherever the mathematics gives a tie.

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, Launch, Target};
use crate::ops::{CoordinateMode, NearestMode, ResizeMode, ResizeSpec};
use crate::shaders::Shader;
use crate::tensor::{Tensor, numel};

/// Invocations per workgroup (`WG` in the shader).
const WORKGROUP: u64 = 256;
/// Output rows per invocation (`ROWS` in the shader).
const ROWS: usize = 4;
/// Source indices travel as f32 whole numbers: exact below 2^24.
const MAX_EXTENT: usize = 1 << 24;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/resize.wgsl`.
    pub struct ResizeParams {
        pub total: u32,
        pub in_h: u32,
        pub in_w: u32,
        pub out_h: u32,
        pub out_w: u32,
        pub row_groups: u32,
        pub taps_h: u32,
        pub taps_w: u32,
        pub extrapolation: f32,
        pub _pad0: u32,
        pub _pad1: u32,
        pub _pad2: u32,
    }
}

/// Source coordinate of output index `x` along `axis` (extent `len_in` -> `len_out`), in f64,
/// the ONNX `coordinate_transformation_mode` formulas. Division by the scale comes last so
/// that a mathematically whole or half coordinate is computed exactly.
fn coordinate(spec: &ResizeSpec, axis: usize, x: usize, len_in: usize, len_out: usize) -> f64 {
    let (fin, fout) = (len_in as f64, len_out as f64);
    let div = |v: f64| match spec.scale {
        Some(s) => v / s[axis],
        None => v * fin / fout,
    };
    // ONNX: with scales given, the resized length is `scale * in`, unrounded.
    let resized = spec.scale.map_or(fout, |s| s[axis] * fin);
    let c = x as f64 + 0.5;
    match spec.coordinate {
        CoordinateMode::HalfPixel => div(c) - 0.5,
        CoordinateMode::PytorchHalfPixel if len_out > 1 => div(c) - 0.5,
        CoordinateMode::AlignCorners if len_out > 1 && resized != 1.0 => {
            x as f64 * (fin - 1.0) / (resized - 1.0)
        }
        CoordinateMode::PytorchHalfPixel | CoordinateMode::AlignCorners => 0.0,
        CoordinateMode::Asymmetric => div(x as f64),
        CoordinateMode::TfHalfPixelForNn => div(c),
        CoordinateMode::HalfPixelSymmetric => {
            let offset = match spec.scale {
                Some(s) => fin / 2.0 * (1.0 - fout / (s[axis] * fin)),
                None => 0.0,
            };
            offset + div(c) - 0.5
        }
        CoordinateMode::TfCropAndResize => {
            let [start, end] = spec.roi[axis];
            let span = (end - start) * (fin - 1.0);
            let at = if resized == 1.0 {
                span / 2.0
            } else {
                x as f64 * span / (resized - 1.0)
            };
            start * (fin - 1.0) + at
        }
    }
}

/// The filter's weight at distance `d` (in input elements) from the source coordinate.
fn filter(spec: &ResizeSpec, d: f64) -> f64 {
    let d = d.abs();
    let a = spec.cubic_a;
    match spec.mode {
        ResizeMode::Nearest => unreachable!("nearest has no filter"),
        ResizeMode::Linear => (1.0 - d).max(0.0),
        // Keys' cubic convolution kernel.
        ResizeMode::Cubic if d <= 1.0 => ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0,
        ResizeMode::Cubic if d < 2.0 => ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a,
        ResizeMode::Cubic => 0.0,
    }
}

/// One axis's lookup: per output index, `taps` pairs `(source index, weight)`; a source index
/// of -1 marks an output outside the crop (the extrapolation value).
fn axis_table(spec: &ResizeSpec, axis: usize, len_in: usize, len_out: usize) -> Vec<[f32; 2]> {
    let last = (len_in - 1) as f64;
    let taps = spec.taps(axis, len_in, len_out);
    let stretch = spec.stretch(axis, len_in, len_out);
    let mut table = Vec::with_capacity(len_out * taps);
    for x in 0..len_out {
        let v = coordinate(spec, axis, x, len_in, len_out);
        if spec.coordinate == CoordinateMode::TfCropAndResize && !(0.0..=last).contains(&v) {
            table.extend(std::iter::repeat_n([-1.0, 0.0], taps));
            continue;
        }
        if spec.mode == ResizeMode::Nearest {
            // A half rounds down with ceil(v - 0.5), up with floor(v + 0.5); both shifts are
            // exact for coordinates of this size.
            let r = match spec.nearest_mode {
                NearestMode::RoundPreferFloor => (v - 0.5).ceil(),
                NearestMode::RoundPreferCeil => (v + 0.5).floor(),
                NearestMode::Floor => v.floor(),
                NearestMode::Ceil => v.ceil(),
            };
            table.push([r.clamp(0.0, last) as f32, 1.0]);
            continue;
        }
        // The taps are the `taps` indices nearest v: every index the stretched filter reaches
        // (those at distance taps / 2 or more weigh 0). Beyond the input, the edge repeats,
        // or with exclude_outside weighs nothing.
        let first = v.floor() - (taps / 2) as f64 + 1.0;
        let pairs: Vec<(f64, f64)> = (0..taps)
            .map(|t| {
                let i = first + t as f64;
                let outside = i < 0.0 || i > last;
                let w = if spec.exclude_outside && outside {
                    0.0
                } else {
                    filter(spec, (i - v) / stretch)
                };
                (i.clamp(0.0, last), w)
            })
            .collect();
        // Normalised to sum 1: the stretched filter does not on its own, nor does
        // exclude_outside (the plain filters already do, up to rounding).
        let sum: f64 = pairs.iter().map(|p| p.1).sum();
        let norm = if sum != 0.0 { sum } else { 1.0 };
        table.extend(pairs.iter().map(|&(i, w)| [i as f32, (w / norm) as f32]));
    }
    table
}

/// f32 elements of the lookup [`resize_table`] builds for `spec` on `input_shape` (`[N, C,
/// H, W]`, valid for the spec).
pub fn table_len(spec: &ResizeSpec, input_shape: &[usize]) -> usize {
    let (h, w) = (input_shape[2], input_shape[3]);
    let [oh, ow] = spec.out;
    2 * (oh * spec.taps(0, h, oh) + ow * spec.taps(1, w, ow))
}

/// The lookup `shaders/resize.wgsl` reads: for each output row, then each output column, its
/// taps `(source index, weight)` (see [`ResizeSpec::taps`]). Fails only on a spec that does not
/// fit the shape (extents of 2^24 and more, inexact in f32, are refused by [`resize`]).
pub fn resize_table(spec: &ResizeSpec, input_shape: &[usize]) -> Result<Tensor> {
    let out = spec.output_shape(input_shape)?;
    let (h, w, oh, ow) = (input_shape[2], input_shape[3], out[2], out[3]);
    let mut rows = axis_table(spec, 0, h, oh);
    rows.extend(axis_table(spec, 1, w, ow));
    Tensor::new(vec![rows.len(), 2], rows.into_iter().flatten().collect())
}

/// `output = resize(input)`: `input` `[N, C, H, W]`, `table` from [`resize_table`] for the same
/// spec and shape, `output` `[N, C, out_h, out_w]`.
pub fn resize<B: Binding>(
    target: &Target,
    spec: &ResizeSpec,
    input_shape: &[usize],
    input: B,
    table: B,
    output: B,
) -> Result<Launch<B>> {
    let out = spec.output_shape(input_shape)?;
    let (h, w, oh, ow) = (input_shape[2], input_shape[3], out[2], out[3]);
    let planes = input_shape[0] * input_shape[1];
    for (what, len, b) in [
        ("input", numel(input_shape), input),
        ("table", table_len(spec, input_shape), table),
        ("output", numel(&out), output),
    ] {
        // The lookup table stays f32 in every precision (indices up to 2^24 must be exact).
        let bytes = if what == "table" {
            len as u64 * 4
        } else {
            target.elem_bytes(len)
        };
        if bytes > b.size() {
            return Err(Error::invalid_op(
                "resize",
                format!(
                    "{what} binding of {} bytes is too small for {len} elements ({input_shape:?} -> {out:?})",
                    b.size()
                ),
            ));
        }
        to_u32("resize", &format!("{what} elements"), len)?;
    }
    if h.max(w) > MAX_EXTENT {
        return Err(Error::DeviceLimit {
            what: format!("resize of {input_shape:?}"),
            limit_name: "resize input extent (2^24, exact in the f32 lookup)",
            limit: MAX_EXTENT as u64,
            needed: h.max(w) as u64,
        });
    }
    let row_groups = oh.div_ceil(ROWS);
    let total = planes * row_groups * ow;
    // The shader forms `workgroup * 256 + lane` before comparing with `total`.
    to_u32("resize", "invocations", total + WORKGROUP as usize)?;
    let u = |v: usize| to_u32("resize", "size", v);
    let params = ResizeParams {
        total: u(total)?,
        in_h: u(h)?,
        in_w: u(w)?,
        out_h: u(oh)?,
        out_w: u(ow)?,
        row_groups: u(row_groups)?,
        taps_h: u(spec.taps(0, h, oh))?,
        taps_w: u(spec.taps(1, w, ow))?,
        extrapolation: spec.extrapolation,
        ..Default::default()
    };
    target.launch(
        Shader::Resize,
        &[],
        &params,
        &[input, table, output],
        (total as u64).div_ceil(WORKGROUP),
    )
}
