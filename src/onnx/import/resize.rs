//! `Resize` (opsets 10-19) and `Upsample` (7-9) of the H and W of `[N, C, H, W]`: modes
//! (nearest, linear, cubic; antialias), coordinate transformations (tf_crop_and_resize's roi and
//! extrapolation value), and scales or sizes (with the aspect-ratio policies) over `axes`.

use super::{Importer, Val, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, ValueId};
use crate::onnx::attrs::Attrs;
use crate::onnx::fold;
use crate::onnx::proto::NodeProto;
use crate::onnx::tensor::Const;
use crate::ops::{CoordinateMode, NearestMode, ResizeMode, ResizeSpec};

pub(super) const OPS: &[&str] = &["Resize", "Upsample"];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    Ok(Some(Val::Dyn(im.resize(node, index, a)?)))
}

impl Importer<'_> {
    /// ONNX `Resize` (opsets 10-19) and `Upsample` (7-9) of the H and W of `[N, C, H, W]`.
    fn resize(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        let r = xs.len();
        if r != 4 {
            return Err(Error::invalid_op(
                node_label(node),
                format!("only 2-D resize of [N, C, H, W] is supported, input is {xs:?}"),
            ));
        }
        let upsample = node.op_type() == "Upsample";
        let mode = match a.string("mode", "nearest").as_str() {
            "nearest" => ResizeMode::Nearest,
            "linear" | "bilinear" => ResizeMode::Linear,
            "cubic" if !upsample => ResizeMode::Cubic,
            other => {
                return Err(self.unsupported(
                    node,
                    format!("attribute mode: {other:?} is not supported (nearest, linear, cubic)"),
                ));
            }
        };
        // Upsample and Resize-10 have no coordinate attributes: the source coordinate is
        // x / scale, rounded down in nearest mode (PyTorch's nearest, and a repeat for whole
        // scales).
        let (coordinate, nearest_mode) = if upsample || self.opset < 11 {
            (CoordinateMode::Asymmetric, NearestMode::Floor)
        } else {
            let c = match a
                .string("coordinate_transformation_mode", "half_pixel")
                .as_str()
            {
                "half_pixel" => CoordinateMode::HalfPixel,
                "pytorch_half_pixel" => CoordinateMode::PytorchHalfPixel,
                "align_corners" => CoordinateMode::AlignCorners,
                "asymmetric" => CoordinateMode::Asymmetric,
                "tf_half_pixel_for_nn" => CoordinateMode::TfHalfPixelForNn,
                "half_pixel_symmetric" => CoordinateMode::HalfPixelSymmetric,
                "tf_crop_and_resize" => CoordinateMode::TfCropAndResize,
                other => {
                    return Err(self.unsupported(
                        node,
                        format!(
                            "attribute coordinate_transformation_mode: {other:?} is not supported"
                        ),
                    ));
                }
            };
            let n = match a.string("nearest_mode", "round_prefer_floor").as_str() {
                "round_prefer_floor" => NearestMode::RoundPreferFloor,
                "round_prefer_ceil" => NearestMode::RoundPreferCeil,
                "floor" => NearestMode::Floor,
                "ceil" => NearestMode::Ceil,
                other => return Err(a.error("nearest_mode", format!("{other:?} is unknown"))),
            };
            (c, n)
        };
        // Scales or sizes: an input, or Upsample-7's attribute. Empty tensors stand for
        // "not given" (opset 11 requires the scales input even with sizes).
        let given = |c: Option<Const>| c.filter(|c| !c.is_empty());
        let (scales, sizes) = if upsample && self.opset < 9 {
            (a.floats("scales"), None)
        } else if upsample || self.opset < 11 {
            (given(self.const_in(node, 1)?).map(|c| c.as_f32()), None)
        } else {
            (
                given(self.const_in(node, 2)?).map(|c| c.as_f32()),
                given(self.const_in(node, 3)?).map(|c| c.as_i64()),
            )
        };
        let axes: Vec<usize> = match a.ints("axes") {
            Some(v) if self.opset >= 18 => v
                .iter()
                .map(|&i| fold::axis("Resize", i, r))
                .collect::<Result<_>>()?,
            _ => (0..r).collect(),
        };
        let k = axes.len();
        let mut out = xs.clone();
        let mut factor = vec![1f64; r];
        let explicit_scale = match (scales, sizes) {
            (Some(s), None) if s.len() == k => {
                if coordinate == CoordinateMode::TfCropAndResize {
                    // The crop's output is `in * (end - start) * scale` long: only sizes are
                    // taken, whose meaning does not depend on that rule.
                    return Err(self.unsupported(
                        node,
                        "tf_crop_and_resize with scales is not supported (give sizes)",
                    ));
                }
                for (i, &ax) in axes.iter().enumerate() {
                    if !(s[i].is_finite() && s[i] > 0.0) {
                        return Err(Error::invalid_op(
                            node_label(node),
                            format!("scales {s:?} must be positive"),
                        ));
                    }
                    // f32 arithmetic, as onnxruntime: 10 * 0.7f gives 7.
                    out[ax] = (xs[ax] as f32 * s[i]).floor() as usize;
                    factor[ax] = s[i] as f64;
                }
                true
            }
            (None, Some(sz)) if sz.len() == k => {
                if sz.iter().any(|&v| v <= 0) {
                    return Err(Error::invalid_op(
                        node_label(node),
                        format!("sizes {sz:?} must be positive"),
                    ));
                }
                let ratios = axes
                    .iter()
                    .enumerate()
                    .map(|(i, &ax)| sz[i] as f64 / xs[ax] as f64);
                let common = match a.string("keep_aspect_ratio_policy", "stretch").as_str() {
                    "stretch" => None,
                    "not_larger" => ratios.reduce(f64::min),
                    "not_smaller" => ratios.reduce(f64::max),
                    other => {
                        return Err(
                            a.error("keep_aspect_ratio_policy", format!("{other:?} is unknown"))
                        );
                    }
                };
                for (i, &ax) in axes.iter().enumerate() {
                    match common {
                        // Rounding halves up, as the ONNX definition says.
                        Some(s) => {
                            out[ax] = (s * xs[ax] as f64 + 0.5).floor() as usize;
                            factor[ax] = s;
                        }
                        None => {
                            out[ax] = sz[i] as usize;
                            factor[ax] = out[ax] as f64 / xs[ax] as f64;
                        }
                    }
                }
                common.is_some()
            }
            (s, sz) => {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!(
                        "needs either scales or sizes for {k} axes of {xs:?}, got scales {s:?} and sizes {sz:?}"
                    ),
                ));
            }
        };
        if out[..2] != xs[..2] || factor[..2] != [1.0, 1.0] {
            return Err(Error::invalid_op(
                node_label(node),
                format!(
                    "resizes {xs:?} to {out:?} (scales {factor:?}): only H and W of [N, C, H, W] can be resized"
                ),
            ));
        }
        let crop = coordinate == CoordinateMode::TfCropAndResize;
        let roi = if crop {
            self.crop_roi(node, &axes, &xs)?
        } else {
            [[0.0, 1.0]; 2]
        };
        let spec = ResizeSpec {
            mode,
            coordinate,
            nearest_mode,
            out: [out[2], out[3]],
            scale: explicit_scale.then_some([factor[2], factor[3]]),
            cubic_a: a.float("cubic_coeff_a", -0.75) as f64,
            exclude_outside: a.int("exclude_outside", 0) != 0,
            antialias: a.int("antialias", 0) != 0,
            roi,
            extrapolation: a.float("extrapolation_value", 0.0),
        };
        spec.output_shape(&xs)
            .map_err(|e| Error::invalid_op(node_label(node), e.to_string()))?;
        self.add(node, index, Op::Resize(spec), &[x])
    }

    /// tf_crop_and_resize's `roi` input (`[starts.., ends..]` over `axes`) as `[start, end]`
    /// for H and W; N and C must not be cropped (roi 0 to 1, or a single element).
    fn crop_roi(&self, node: &NodeProto, axes: &[usize], xs: &[usize]) -> Result<[[f64; 2]; 2]> {
        let roi = self
            .const_in(node, 1)?
            .filter(|c| !c.is_empty())
            .map(|c| c.as_f32())
            .ok_or_else(|| {
                Error::invalid_op(
                    node_label(node),
                    "tf_crop_and_resize needs the roi input (a constant)",
                )
            })?;
        let k = axes.len();
        if roi.len() != 2 * k {
            return Err(Error::invalid_op(
                node_label(node),
                format!("roi {roi:?} must hold a start and an end for each of the {k} axes"),
            ));
        }
        let mut out = [[0.0, 1.0]; 2];
        for (i, &ax) in axes.iter().enumerate() {
            let (start, end) = (roi[i] as f64, roi[k + i] as f64);
            if ax >= 2 {
                out[ax - 2] = [start, end];
            } else if xs[ax] > 1 && (start, end) != (0.0, 1.0) {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!(
                        "roi {roi:?} crops axis {ax} of {xs:?}: only H and W of [N, C, H, W] can be cropped"
                    ),
                ));
            }
        }
        Ok(out)
    }
}
