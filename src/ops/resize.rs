//! 2-D resize of `[N, C, H, W]` (ONNX `Resize` opsets 10-19 and `Upsample` 7-9, PyTorch
//! `F.interpolate` / `nn.Upsample` in modes nearest, bilinear, bicubic) and constant padding
//! (ONNX `Pad`, PyTorch `F.pad`).
//!
//! Resize maps every output coordinate `x` of an axis back to a real input coordinate
//! `x_original` (the coordinate transformation), then picks the nearest input element (rounded
//! by the nearest mode) or weighs the input elements around it with a filter (linear: the
//! triangle of support 1; cubic: Keys' kernel of support 2 with coefficient `a`). Elements
//! beyond the input repeat its edge (or, with `exclude_outside`, drop out and the other weights
//! are renormalised). With `antialias`, downsampling by `scale < 1` stretches the filter by
//! `1 / scale` and normalises its weights to sum to 1. The formulas, with `scale` the axis's
//! scale factor, `in` / `out` its lengths:
//!
//! | mode                 | `x_original`                                                      |
//! |----------------------|-------------------------------------------------------------------|
//! | half_pixel           | `(x + 0.5) / scale - 0.5`                                         |
//! | pytorch_half_pixel   | `out > 1 ? (x + 0.5) / scale - 0.5 : 0`                           |
//! | align_corners        | `out > 1 ? x * (in - 1) / (out - 1) : 0`                          |
//! | asymmetric           | `x / scale`                                                       |
//! | tf_half_pixel_for_nn | `(x + 0.5) / scale`                                               |
//! | half_pixel_symmetric | `in / 2 * (1 - out / (scale * in)) + (x + 0.5) / scale - 0.5`     |
//! | tf_crop_and_resize   | `start * (in - 1) + x * (end - start) * (in - 1) / (out - 1)`     |
//!
//! (tf_crop_and_resize with `out == 1` samples the crop's middle; a coordinate outside
//! `[0, in - 1]` gives the extrapolation value.)

use crate::error::{Error, Result};

/// How an output element is computed from the input around its source coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResizeMode {
    /// The nearest input element (ONNX `nearest`, PyTorch `nearest`).
    Nearest,
    /// Bilinear interpolation: the triangle filter (ONNX `linear`, PyTorch `bilinear`).
    Linear,
    /// Bicubic interpolation: Keys' cubic convolution kernel (ONNX `cubic`, PyTorch `bicubic`).
    Cubic,
}

/// ONNX `coordinate_transformation_mode`: output coordinate -> input coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CoordinateMode {
    /// `(x + 0.5) / scale - 0.5` (ONNX default; PyTorch `align_corners=False`).
    HalfPixel,
    /// As `HalfPixel`, but 0 when the output length is 1.
    PytorchHalfPixel,
    /// `x * (in - 1) / (out - 1)` (PyTorch `align_corners=True`); with explicit scales `out`
    /// is `scale * in` unrounded (ONNX).
    AlignCorners,
    /// `x / scale` (PyTorch `nearest`, ONNX `Upsample`).
    Asymmetric,
    /// `(x + 0.5) / scale` (ONNX opset 11, TensorFlow's nearest with half-pixel centers).
    TfHalfPixelForNn,
    /// Half-pixel centred on the input when `scale * in` is not a whole number (opset 19).
    HalfPixelSymmetric,
    /// Align-corners within the crop [`ResizeSpec::roi`]; outside the input, the
    /// [`ResizeSpec::extrapolation`] value (TensorFlow's `crop_and_resize`).
    TfCropAndResize,
}

/// ONNX `nearest_mode`: how a real source coordinate becomes an index in nearest mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NearestMode {
    /// Round, halves down (ONNX default).
    RoundPreferFloor,
    /// Round, halves up.
    RoundPreferCeil,
    /// Round down (PyTorch `nearest`).
    Floor,
    /// Round up.
    Ceil,
}

/// A 2-D resize of the last two dims of `[N, C, H, W]` to `out`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResizeSpec {
    /// Nearest, linear or cubic.
    pub mode: ResizeMode,
    /// Coordinate transformation.
    pub coordinate: CoordinateMode,
    /// Rounding in nearest mode (ignored by linear).
    pub nearest_mode: NearestMode,
    /// Output `[H, W]`.
    pub out: [usize; 2],
    /// The scale factors `[sh, sw]` the coordinate transformation divides by, when the model
    /// gave scales (ONNX `scales`, PyTorch `scale_factor`); `None` uses `out / in` per axis
    /// (ONNX `sizes`). They differ when `in * scale` is not whole: 5 * 1.5 gives 7 outputs,
    /// but coordinates still step by 1 / 1.5.
    pub scale: Option<[f64; 2]>,
    /// Keys' cubic coefficient `a` (ONNX `cubic_coeff_a`, -0.75 by default as in PyTorch).
    pub cubic_a: f64,
    /// Cubic and linear: input elements beyond the edge weigh 0 and the rest are renormalised,
    /// rather than repeating the edge (ONNX `exclude_outside`).
    pub exclude_outside: bool,
    /// Linear and cubic downsampling stretch the filter by `1 / scale` (ONNX `antialias`,
    /// PyTorch `antialias=True`).
    pub antialias: bool,
    /// tf_crop_and_resize's crop `[start, end]` per axis (H, W), in units of the input extent.
    pub roi: [[f64; 2]; 2],
    /// tf_crop_and_resize's output where the crop samples outside the input.
    pub extrapolation: f32,
}

impl ResizeSpec {
    /// Resize to `out` with ONNX's defaults: half-pixel coordinates, round-prefer-floor,
    /// scales `out / in`.
    pub fn new(mode: ResizeMode, out: [usize; 2]) -> Self {
        Self {
            mode,
            coordinate: CoordinateMode::HalfPixel,
            nearest_mode: NearestMode::RoundPreferFloor,
            out,
            scale: None,
            cubic_a: -0.75,
            exclude_outside: false,
            antialias: false,
            roi: [[0.0, 1.0]; 2],
            extrapolation: 0.0,
        }
    }

    /// PyTorch's `F.interpolate(x, size=out, mode="nearest")`: asymmetric, floor.
    pub fn torch_nearest(out: [usize; 2]) -> Self {
        Self::new(ResizeMode::Nearest, out)
            .coordinate(CoordinateMode::Asymmetric)
            .nearest_mode(NearestMode::Floor)
    }

    /// PyTorch's `F.interpolate(x, size=out, mode="bilinear", align_corners=...)`.
    pub fn torch_bilinear(out: [usize; 2], align_corners: bool) -> Self {
        Self::new(ResizeMode::Linear, out).coordinate(if align_corners {
            CoordinateMode::AlignCorners
        } else {
            CoordinateMode::HalfPixel
        })
    }

    /// With this coordinate transformation.
    pub fn coordinate(mut self, c: CoordinateMode) -> Self {
        self.coordinate = c;
        self
    }

    /// With this nearest rounding.
    pub fn nearest_mode(mut self, m: NearestMode) -> Self {
        self.nearest_mode = m;
        self
    }

    /// With explicit scale factors (see [`ResizeSpec::scale`]).
    pub fn scale(mut self, s: [f64; 2]) -> Self {
        self.scale = Some(s);
        self
    }

    /// With Keys' coefficient `a` and, if `exclude_outside`, no weight beyond the input.
    pub fn cubic(mut self, a: f64, exclude_outside: bool) -> Self {
        self.cubic_a = a;
        self.exclude_outside = exclude_outside;
        self
    }

    /// With the filter stretched when downsampling (linear and cubic).
    pub fn antialias(mut self, on: bool) -> Self {
        self.antialias = on;
        self
    }

    /// tf_crop_and_resize of the crop `roi` (`[start, end]` for H and W), `extrapolation`
    /// outside the input.
    pub fn crop(mut self, roi: [[f64; 2]; 2], extrapolation: f32) -> Self {
        self.coordinate = CoordinateMode::TfCropAndResize;
        self.roi = roi;
        self.extrapolation = extrapolation;
        self
    }

    /// The scale factor of `axis` (0: H, 1: W): the given one, else `len_out / len_in`.
    pub fn scale_factor(&self, axis: usize, len_in: usize, len_out: usize) -> f64 {
        self.scale
            .map_or(len_out as f64 / len_in as f64, |s| s[axis])
    }

    /// How much the filter of `axis` is stretched: `1 / scale` when antialiasing a downsample,
    /// else 1.
    pub fn stretch(&self, axis: usize, len_in: usize, len_out: usize) -> f64 {
        let s = self.scale_factor(axis, len_in, len_out);
        if self.antialias && self.mode != ResizeMode::Nearest && s < 1.0 {
            1.0 / s
        } else {
            1.0
        }
    }

    /// Input elements each output weighs along `axis`: 1 for nearest, else twice the
    /// (stretched) filter radius rounded up: 2 for linear, 4 for cubic, more when antialiasing.
    pub fn taps(&self, axis: usize, len_in: usize, len_out: usize) -> usize {
        let radius = match self.mode {
            ResizeMode::Nearest => return 1,
            ResizeMode::Linear => 1.0,
            ResizeMode::Cubic => 2.0,
        };
        // In f64: the cast saturates where `2 * usize` would overflow.
        (2.0 * (radius * self.stretch(axis, len_in, len_out)).ceil()) as usize
    }

    /// Output shape `[N, C, out_h, out_w]` for `input` `[N, C, H, W]`.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.len() != 4 || input.contains(&0) {
            return Err(Error::invalid_op(
                "resize",
                format!("input {input:?} must be a non-empty [N, C, H, W]"),
            ));
        }
        super::check_param("resize", "output size", &self.out)?;
        if self.out.contains(&0) {
            return Err(Error::invalid_op(
                "resize",
                format!("output size {:?} must be at least 1x1", self.out),
            ));
        }
        if let Some(s) = self.scale
            && s.iter().any(|v| !v.is_finite() || *v <= 0.0)
        {
            return Err(Error::invalid_op(
                "resize",
                format!("scales {s:?} must be positive and finite"),
            ));
        }
        if !self.cubic_a.is_finite() || self.roi.iter().flatten().any(|v| !v.is_finite()) {
            return Err(Error::invalid_op(
                "resize",
                format!(
                    "cubic coefficient {} and roi {:?} must be finite",
                    self.cubic_a, self.roi
                ),
            ));
        }
        // The antialiased filter spans 1 / scale times its width: a scale far below the
        // 1 / in that leaves one output would need a lookup of unbounded length.
        for a in 0..2 {
            let len = input[2 + a];
            if self.stretch(a, len, self.out[a]) > (len + 4) as f64 {
                return Err(Error::invalid_op(
                    "resize",
                    format!(
                        "antialiasing axis {} of {input:?} by scale {} (below 1 / (in + 4)) is not supported",
                        2 + a,
                        self.scale_factor(a, len, self.out[a])
                    ),
                ));
            }
        }
        // Bounded here, before a planner builds it: the kernel indexes it with 32 bits.
        let entries = |a: usize| self.out[a].checked_mul(self.taps(a, input[2 + a], self.out[a]));
        match entries(0).zip(entries(1)) {
            Some((h, w)) if h.checked_add(w).is_some_and(|n| n <= u32::MAX as usize) => {}
            _ => {
                return Err(Error::invalid_op(
                    "resize",
                    format!(
                        "{input:?} -> {:?} needs a lookup of over 2^32 taps (antialiasing a huge input)",
                        self.out
                    ),
                ));
            }
        }
        Ok(vec![input[0], input[1], self.out[0], self.out[1]])
    }
}

/// Output shape of constant padding: `begin[d] + input[d] + end[d]` per dim.
pub fn pad_shape(input: &[usize], begin: &[usize], end: &[usize]) -> Result<Vec<usize>> {
    if begin.len() != input.len() || end.len() != input.len() {
        return Err(Error::invalid_op(
            "pad",
            format!("pads begin {begin:?} / end {end:?} need one entry per dim of {input:?}"),
        ));
    }
    super::check_param("pad", "begin", begin)?;
    super::check_param("pad", "end", end)?;
    (0..input.len())
        .map(|d| super::add3("pad", &format!("dim {d}"), begin[d], input[d], end[d]))
        .collect()
}
