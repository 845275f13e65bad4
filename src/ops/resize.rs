//! 2-D resize of `[N, C, H, W]` (ONNX `Resize` opsets 10-19 and `Upsample` 7-9, PyTorch
//! `F.interpolate` / `nn.Upsample` in modes nearest, bilinear) and constant padding (ONNX `Pad`,
//! PyTorch `F.pad`).
//!
//! Resize maps every output coordinate `x` of an axis back to a real input coordinate
//! `x_original` (the coordinate transformation), then picks the nearest input element (rounded
//! by the nearest mode) or interpolates the two around it (linear, indices clamped to the
//! input). The formulas, with `scale` the axis's scale factor, `in` / `out` its lengths:
//!
//! | mode                 | `x_original`                                                      |
//! |----------------------|-------------------------------------------------------------------|
//! | half_pixel           | `(x + 0.5) / scale - 0.5`                                         |
//! | pytorch_half_pixel   | `out > 1 ? (x + 0.5) / scale - 0.5 : 0`                           |
//! | align_corners        | `out > 1 ? x * (in - 1) / (out - 1) : 0`                          |
//! | asymmetric           | `x / scale`                                                       |
//! | tf_half_pixel_for_nn | `(x + 0.5) / scale`                                               |
//! | half_pixel_symmetric | `in / 2 * (1 - out / (scale * in)) + (x + 0.5) / scale - 0.5`     |

use crate::error::{Error, Result};

/// How an output element is computed from the input around its source coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResizeMode {
    /// The nearest input element (ONNX `nearest`, PyTorch `nearest`).
    Nearest,
    /// Bilinear interpolation of the 2 x 2 neighbours (ONNX `linear`, PyTorch `bilinear`
    /// without antialiasing).
    Linear,
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
    /// Nearest or linear.
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
