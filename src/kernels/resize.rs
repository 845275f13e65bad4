//! 2-D resize, nearest or bilinear (`shaders/resize.wgsl`).
//!
//! The coordinate transformation runs on the host, once per output row and column, in f64
//! ([`resize_table`]); the kernel only gathers (and blends) through that lookup. f32 division
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
        pub _pad0: u32,
        pub _pad1: u32,
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
    let c = x as f64 + 0.5;
    match spec.coordinate {
        CoordinateMode::HalfPixel => div(c) - 0.5,
        CoordinateMode::PytorchHalfPixel if len_out > 1 => div(c) - 0.5,
        CoordinateMode::AlignCorners if len_out > 1 => {
            // ONNX: with scales given, the resized length is `scale * in`, unrounded.
            let resized = spec.scale.map_or(fout, |s| s[axis] * fin);
            if resized == 1.0 {
                0.0
            } else {
                x as f64 * (fin - 1.0) / (resized - 1.0)
            }
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
    }
}

/// One axis's lookup: `(i0, i1, w)` per output index, the output blending `in[i0]` and
/// `in[i1]` with weight `w` on `in[i1]`.
fn axis_table(spec: &ResizeSpec, axis: usize, len_in: usize, len_out: usize) -> Vec<[f32; 3]> {
    let last = (len_in - 1) as f64;
    (0..len_out)
        .map(|x| {
            let v = coordinate(spec, axis, x, len_in, len_out);
            match spec.mode {
                ResizeMode::Nearest => {
                    // A half rounds down with ceil(v - 0.5), up with floor(v + 0.5); both
                    // shifts are exact for coordinates of this size.
                    let r = match spec.nearest_mode {
                        NearestMode::RoundPreferFloor => (v - 0.5).ceil(),
                        NearestMode::RoundPreferCeil => (v + 0.5).floor(),
                        NearestMode::Floor => v.floor(),
                        NearestMode::Ceil => v.ceil(),
                    };
                    let i = r.clamp(0.0, last) as f32;
                    [i, i, 0.0]
                }
                ResizeMode::Linear => {
                    // Clamping the coordinate first equals clamping both neighbours.
                    let v = v.clamp(0.0, last);
                    let i0 = v.floor();
                    let i1 = (i0 + 1.0).min(last);
                    [i0 as f32, i1 as f32, (v - i0) as f32]
                }
            }
        })
        .collect()
}

/// The lookup `shaders/resize.wgsl` reads: `[out_h + out_w, 3]`, rows first. Fails only on
/// a spec that does not fit the shape (extents of 2^24 and more, inexact in f32, are refused
/// by [`resize`]).
pub fn resize_table(spec: &ResizeSpec, input_shape: &[usize]) -> Result<Tensor> {
    let out = spec.output_shape(input_shape)?;
    let (h, w, oh, ow) = (input_shape[2], input_shape[3], out[2], out[3]);
    let mut rows = axis_table(spec, 0, h, oh);
    rows.extend(axis_table(spec, 1, w, ow));
    Tensor::new(vec![oh + ow, 3], rows.into_iter().flatten().collect())
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
        ("table", 3 * (oh + ow), table),
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
        ..Default::default()
    };
    let linear = match spec.mode {
        ResizeMode::Nearest => 0.0,
        ResizeMode::Linear => 1.0,
    };
    target.launch(
        Shader::Resize,
        &[("LINEAR", linear)],
        &params,
        &[input, table, output],
        (total as u64).div_ceil(WORKGROUP),
    )
}
