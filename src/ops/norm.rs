//! Normalisations: statistics of a row of elements, then an affine (ONNX
//! `LayerNormalization`, `InstanceNormalization`, `GroupNormalization`, `LpNormalization`,
//! `LRN`; `nn.LayerNorm`, `nn.InstanceNorm2d`, `nn.GroupNorm`, `F.normalize`,
//! `nn.LocalResponseNorm`).

use crate::error::{Error, Result};
use crate::tensor::numel;

/// What a normalisation computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NormKind {
    /// `(x - mean) / sqrt(var + eps) * scale + bias` over the dims from `axis` on; scale and
    /// bias have the normalised shape.
    Layer,
    /// The same per `[n, c]` over the spatial dims; scale and bias per channel.
    Instance,
    /// The same per `[n, group]` over the group's channels and the spatial dims; scale and
    /// bias per channel.
    Group,
    /// `x / ||x||_p` along `axis` (p = 1 or 2; a zero row stays zero); no affine.
    Lp,
    /// `x / (bias + alpha / size * sum(x^2 over a window of size channels))^beta`.
    Lrn,
}

impl NormKind {
    /// Every kind, in `NORM_KIND` code order (tests and `wgconv validate` iterate it).
    pub const ALL: [NormKind; 5] = [
        NormKind::Layer,
        NormKind::Instance,
        NormKind::Group,
        NormKind::Lp,
        NormKind::Lrn,
    ];

    /// The kind's row: its `NORM_KIND` override value in `shaders/norm.wgsl`, its op name, its
    /// ONNX operator and its PyTorch module.
    fn row(self) -> (u32, &'static str, &'static str, &'static str) {
        match self {
            NormKind::Layer => (0, "layer_norm", "LayerNormalization", "LayerNorm"),
            NormKind::Instance => (
                1,
                "instance_norm",
                "InstanceNormalization",
                "InstanceNorm2d",
            ),
            NormKind::Group => (2, "group_norm", "GroupNormalization", "GroupNorm"),
            // PyTorch writes it as a function (`F.normalize`), which summaries do not list.
            NormKind::Lp => (3, "lp_norm", "LpNormalization", ""),
            NormKind::Lrn => (4, "lrn", "LRN", "LocalResponseNorm"),
        }
    }

    /// The `NORM_KIND` override value.
    pub fn code(self) -> u32 {
        self.row().0
    }

    /// The op's name (`layer_norm`, ...).
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// The ONNX operator.
    pub fn onnx_op(self) -> &'static str {
        self.row().2
    }

    /// The PyTorch module, or `None` for a function (Lp: `F.normalize`).
    pub fn torch_module(self) -> Option<&'static str> {
        Some(self.row().3).filter(|m| !m.is_empty())
    }

    /// The kind of the ONNX operator `op`, if it is one.
    pub fn from_onnx(op: &str) -> Option<NormKind> {
        Self::ALL.into_iter().find(|k| k.onnx_op() == op)
    }

    /// Whether the kind takes a scale and a bias.
    pub fn has_affine(self) -> bool {
        matches!(self, NormKind::Layer | NormKind::Instance | NormKind::Group)
    }
}

/// What a normalisation node outputs: the normalised tensor, or (layer norm, ONNX's optional
/// outputs) one statistic per row, of the input's shape with the normalised dims set to 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NormOutput {
    /// The normalised tensor.
    Normalized,
    /// The mean per row.
    Mean,
    /// `1 / sqrt(var + eps)`.
    InvStdDev,
}

impl NormOutput {
    /// The `NORM_OUTPUT` override value.
    pub fn code(self) -> u32 {
        match self {
            NormOutput::Normalized => 0,
            NormOutput::Mean => 1,
            NormOutput::InvStdDev => 2,
        }
    }
}

/// A normalisation. Only the fields of its kind matter; the constructors set the others to
/// neutral values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormSpec {
    /// Layer, instance, group, Lp or LRN.
    pub kind: NormKind,
    /// `Layer`: the first normalised dim (the rest trailing). `Lp`: the normalised dim.
    /// `Instance`, `Group`, `Lrn`: 1 (channels).
    pub axis: usize,
    /// Added to the variance (`Layer`, `Instance`, `Group`).
    pub epsilon: f32,
    /// Channel groups (`Group`; 1 otherwise).
    pub groups: usize,
    /// The norm's order, 1 or 2 (`Lp`).
    pub p: u32,
    /// Channels in the window (`Lrn`).
    pub size: usize,
    /// `Lrn`'s scale of the windowed sum of squares.
    pub alpha: f32,
    /// `Lrn`'s exponent.
    pub beta: f32,
    /// `Lrn`'s additive constant (ONNX `bias`, PyTorch `k`).
    pub bias: f32,
    /// The normalised tensor, or a statistic (`Layer` only).
    pub output: NormOutput,
}

impl NormSpec {
    fn new(kind: NormKind, axis: usize) -> Self {
        NormSpec {
            kind,
            axis,
            epsilon: 1e-5,
            groups: 1,
            p: 2,
            size: 1,
            alpha: 1e-4,
            beta: 0.75,
            bias: 1.0,
            output: NormOutput::Normalized,
        }
    }

    /// The same normalisation's statistic `output` instead.
    pub fn with_output(self, output: NormOutput) -> Self {
        NormSpec { output, ..self }
    }

    /// The output shape: the input's, or one element per row for a statistic.
    pub fn output_shape(&self, shape: &[usize]) -> Result<Vec<usize>> {
        self.check(shape)?;
        Ok(match self.output {
            NormOutput::Normalized => shape.to_vec(),
            _ => (0..shape.len())
                .map(|d| if d < self.axis { shape[d] } else { 1 })
                .collect(),
        })
    }

    /// Layer normalisation over the dims from `axis` on (`nn.LayerNorm`).
    pub fn layer(axis: usize, epsilon: f32) -> Self {
        NormSpec {
            epsilon,
            ..Self::new(NormKind::Layer, axis)
        }
    }

    /// Instance normalisation: each channel of each item over its spatial dims.
    pub fn instance(epsilon: f32) -> Self {
        NormSpec {
            epsilon,
            ..Self::new(NormKind::Instance, 1)
        }
    }

    /// Group normalisation: `groups` groups of channels, each over its channels and
    /// spatial dims.
    pub fn group(groups: usize, epsilon: f32) -> Self {
        NormSpec {
            epsilon,
            groups,
            ..Self::new(NormKind::Group, 1)
        }
    }

    /// Division by the L1 (`p = 1`) or L2 (`p = 2`) norm along `axis`.
    pub fn lp(axis: usize, p: u32) -> Self {
        NormSpec {
            p,
            ..Self::new(NormKind::Lp, axis)
        }
    }

    /// Local response normalisation across `size` neighbouring channels:
    /// `x / (bias + alpha / size * sum(x^2))^beta`.
    pub fn lrn(size: usize, alpha: f32, beta: f32, bias: f32) -> Self {
        NormSpec {
            size,
            alpha,
            beta,
            bias,
            ..Self::new(NormKind::Lrn, 1)
        }
    }

    /// Checks the spec against an input shape.
    pub fn check(&self, shape: &[usize]) -> Result<()> {
        let op = self.kind.name();
        let bad = |m: String| Err(Error::invalid_op(op, m));
        let r = shape.len();
        match self.kind {
            NormKind::Layer | NormKind::Lp if self.axis >= r => {
                return bad(format!("axis {} is out of range for {shape:?}", self.axis));
            }
            NormKind::Instance | NormKind::Group | NormKind::Lrn if r < 2 => {
                return bad(format!("input {shape:?} must be [N, C, ...]"));
            }
            // They normalise over (LRN: across) the channels; `rows` reads `axis` as such.
            NormKind::Instance | NormKind::Group | NormKind::Lrn if self.axis != 1 => {
                return bad(format!("axis {} must be 1 (the channels)", self.axis));
            }
            _ => {}
        }
        if self.output != NormOutput::Normalized && self.kind != NormKind::Layer {
            return bad(format!("{:?} is a layer norm output only", self.output));
        }
        if self.kind.has_affine() && !(self.epsilon >= 0.0 && self.epsilon.is_finite()) {
            return bad(format!("epsilon {} must be finite and >= 0", self.epsilon));
        }
        match self.kind {
            NormKind::Group if self.groups == 0 || !shape[1].is_multiple_of(self.groups) => {
                bad(format!(
                    "{} groups do not divide the {} channels of {shape:?}",
                    self.groups, shape[1]
                ))
            }
            NormKind::Lp if self.p != 1 && self.p != 2 => {
                bad(format!("p = {} (only 1 and 2 are defined)", self.p))
            }
            NormKind::Lrn if self.size == 0 || self.size > crate::ops::MAX_PARAM => {
                bad(format!("size {} must be >= 1", self.size))
            }
            NormKind::Lrn
                if !(self.alpha.is_finite() && self.beta.is_finite() && self.bias.is_finite()) =>
            {
                bad("alpha, beta and bias must be finite".to_string())
            }
            _ => Ok(()),
        }
    }

    /// The normalised rows of a row kind (all but `Lrn`): `(rows, len, stride)`, element `k`
    /// of row `r` at `(r / stride) * len * stride + r % stride + k * stride`.
    pub fn rows(&self, shape: &[usize]) -> (usize, usize, usize) {
        let spatial = numel(shape.get(2..).unwrap_or(&[]));
        let c = shape.get(1).copied().unwrap_or(1);
        match self.kind {
            NormKind::Layer => (numel(&shape[..self.axis]), numel(&shape[self.axis..]), 1),
            NormKind::Instance => (shape[0] * c, spatial, 1),
            NormKind::Group => (shape[0] * self.groups, c / self.groups.max(1) * spatial, 1),
            NormKind::Lp | NormKind::Lrn => {
                let inner = numel(&shape[self.axis + 1..]);
                (numel(&shape[..self.axis]) * inner, shape[self.axis], inner)
            }
        }
    }

    /// The elements of the scale and of the bias (the normalised shape's for `Layer`, the
    /// channels for `Instance` and `Group`), or 0 for kinds without an affine.
    pub fn param_len(&self, shape: &[usize]) -> usize {
        match self.kind {
            NormKind::Layer => numel(&shape[self.axis..]),
            NormKind::Instance | NormKind::Group => shape[1],
            NormKind::Lp | NormKind::Lrn => 0,
        }
    }

    /// Terms in one statistic (the accumulation length that bounds its rounding).
    pub fn accumulation(&self, shape: &[usize]) -> usize {
        match self.kind {
            NormKind::Lrn => self.size,
            _ => self.rows(shape).1.max(1),
        }
    }
}
