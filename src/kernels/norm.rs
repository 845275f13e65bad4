//! Normalisations (`shaders/norm.wgsl`): layer, instance, group, Lp and local response.

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::pool::{check_binding, row_threads};
use crate::kernels::{Binding, Launch, Target};
use crate::ops::{NormKind, NormSpec};
use crate::shaders::Shader;
use crate::tensor::numel;

/// Invocations per workgroup.
const WORKGROUP: u64 = 256;
/// Up to this many elements a row is one invocation's: a tree of at least 32 lanes would
/// leave most of them idle.
pub const SERIAL_MAX_LEN: usize = 32;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/norm.wgsl`.
    pub struct NormParams {
        pub rows: u32,
        pub len: u32,
        pub stride: u32,
        pub pgroups: u32,
        pub pcpg: u32,
        pub pinner: u32,
        pub epsilon: f32,
        pub p: u32,
        pub total: u32,
        pub channels: u32,
        pub inner: u32,
        pub size: u32,
        pub alpha: f32,
        pub beta: f32,
        pub lrn_bias: f32,
        pub _pad0: u32,
    }
}

/// The buffers of [`norm`].
#[derive(Clone, Copy, Debug)]
pub struct NormBindings<B> {
    /// The tensor normalised.
    pub input: B,
    /// `scale` and `bias` of `spec.param_len(shape)` elements each (ones and zeros when the
    /// model has none); `None` for kinds without an affine.
    pub affine: Option<(B, B)>,
    /// Where the result goes.
    pub output: B,
}

/// `output = spec(input)` for a dense input of `shape` (the output of
/// `spec.output_shape(shape)`).
pub fn norm<B: Binding>(
    target: &Target,
    spec: &NormSpec,
    shape: &[usize],
    b: NormBindings<B>,
) -> Result<Launch<B>> {
    let op = spec.kind.name();
    let out_shape = spec.output_shape(shape)?;
    check_binding(target, op, "input", b.input, shape)?;
    check_binding(target, op, "output", b.output, &out_shape)?;
    let total = to_u32(op, "element count", numel(shape))?;
    let plen = spec.param_len(shape);
    let (scale, bias) = match (spec.kind.has_affine(), b.affine) {
        (true, Some((s, t))) => {
            check_binding(target, op, "scale", s, &[plen])?;
            check_binding(target, op, "bias", t, &[plen])?;
            (s, t)
        }
        (false, _) => (b.input, b.input),
        (true, None) => {
            return Err(Error::invalid_op(op, "needs scale and bias bindings"));
        }
    };
    let (rows, len, stride) = spec.rows(shape);
    let c = shape.get(1).copied().unwrap_or(1);
    let spatial = numel(shape.get(2..).unwrap_or(&[]));
    let (pgroups, pcpg, pinner) = match spec.kind {
        NormKind::Layer => (1, 0, 1),
        NormKind::Instance => (c, 1, len.max(1)),
        NormKind::Group => (spec.groups, c / spec.groups, spatial.max(1)),
        NormKind::Lp | NormKind::Lrn => (1, 0, 1),
    };
    let u = |what: &str, v: usize| to_u32(op, what, v);
    let params = NormParams {
        rows: u("rows", rows)?,
        len: u("row length", len)?,
        stride: u("row stride", stride.max(1))?,
        pgroups: u("groups", pgroups.max(1))?,
        pcpg: u("channels per group", pcpg)?,
        pinner: u("spatial size", pinner)?,
        epsilon: spec.epsilon,
        p: spec.p,
        total,
        channels: u("channels", len.max(1))?,
        inner: u("inner size", stride.max(1))?,
        size: u("size", spec.size)?,
        alpha: spec.alpha,
        beta: spec.beta,
        lrn_bias: spec.bias,
        _pad0: 0,
    };
    let (threads, workgroups) = if spec.kind == NormKind::Lrn {
        (1, (total as u64).div_ceil(WORKGROUP))
    } else {
        let t = if len <= SERIAL_MAX_LEN {
            1
        } else {
            row_threads(len)
        };
        (t, (rows as u64).div_ceil(WORKGROUP / t as u64))
    };
    target.launch(
        Shader::Norm,
        &[
            ("NORM_KIND", spec.kind.code() as f64),
            ("ROW_THREADS", threads as f64),
            ("NORM_OUTPUT", spec.output.code() as f64),
        ],
        &params,
        &[b.input, scale, bias, b.output],
        workgroups,
    )
}
