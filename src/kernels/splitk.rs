//! Split-K convolution: the implicit GEMM (`conv.wgsl`) or the pointwise GEMM (`matmul.wgsl`)
//! with the reduction cut into `splits` ranges, each workgroup writing raw partial sums to a
//! scratch buffer `[splits, *output]`, then `shaders/splitk_reduce.wgsl` summing the slices and
//! applying the epilogue. For layers with few output tiles (late ResNet stages at batch 1:
//! 512 x 7x7 outputs, K = 4608, make 8 64x64 tiles) it multiplies the workgroups in flight by
//! `splits` at the cost of `splits + 1` extra passes over the output's bytes.

use crate::error::{Error, Result};
use crate::kernels::conv::{self, ConvTiling};
use crate::kernels::eltwise::to_u32;
use crate::kernels::matmul::{self, GemmTiling};
use crate::kernels::{Binding, ConvBindings, Launch, Target};
use crate::ops::{ConvSpec, Epilogue};
use crate::shaders::Shader;
use crate::tensor::numel;

const OP: &str = "split-K reduce";
const WORKGROUP: u64 = 256;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/splitk_reduce.wgsl`.
    pub struct SplitkReduceParams {
        pub numel: u32,
        pub splits: u32,
        pub spatial: u32,
        pub channels: u32,
    }
}

#[allow(clippy::too_many_arguments)]
/// `output = act(sum_s partial[s] + bias + residual)` for `partial` `[splits, *out_shape]`,
/// `out_shape` `[N, O, *spatial]`, bias `[O]`.
pub fn reduce<B: Binding>(
    target: &Target,
    out_shape: &[usize],
    splits: u32,
    epilogue: Epilogue,
    partial: B,
    bias: Option<B>,
    residual: Option<B>,
    output: B,
) -> Result<Launch<B>> {
    if out_shape.len() < 2 {
        return Err(Error::invalid_op(
            OP,
            format!("output shape {out_shape:?} must be [N, O, *spatial]"),
        ));
    }
    if epilogue.residual != residual.is_some() {
        return Err(Error::invalid_op(
            OP,
            format!(
                "epilogue.residual is {} but a residual buffer was {}given",
                epilogue.residual,
                if residual.is_some() { "" } else { "not " }
            ),
        ));
    }
    let n = numel(out_shape);
    // Partial sums are Acc, the rest Elem (see shaders/splitk_reduce.wgsl).
    let bytes = |e: usize| target.elem_bytes(e);
    let acc_bytes = (n * splits as usize * target.precision().acc_bytes()) as u64;
    for (what, b, need) in [
        ("partial", Some(&partial), acc_bytes),
        ("bias", bias.as_ref(), bytes(out_shape[1])),
        ("residual", residual.as_ref(), bytes(n)),
        ("output", Some(&output), bytes(n)),
    ] {
        if let Some(b) = b
            && b.size() < need
        {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "{what} binding of {} bytes is too small for {splits} split(s) of {out_shape:?} ({need} bytes)",
                    b.size()
                ),
            ));
        }
    }
    if splits == 0 {
        return Err(Error::invalid_op(OP, "needs at least one split"));
    }
    to_u32(OP, "partial-sum elements", n * splits as usize)?;
    let params = SplitkReduceParams {
        numel: to_u32(OP, "output elements", n)?,
        splits,
        spatial: to_u32(OP, "output pixels", numel(&out_shape[2..]).max(1))?,
        channels: to_u32(OP, "output channels", out_shape[1].max(1))?,
    };
    let mut constants = epilogue.activation.constants().to_vec();
    constants.extend([
        ("HAS_BIAS", bias.is_some() as u32 as f64),
        ("HAS_RESIDUAL", residual.is_some() as u32 as f64),
    ]);
    target.launch(
        Shader::SplitkReduce,
        &constants,
        &params,
        &[
            partial,
            bias.unwrap_or(partial),
            residual.unwrap_or(partial),
            output,
        ],
        (n as u64).div_ceil(WORKGROUP),
    )
}

/// Split-K convolution through the implicit GEMM: partial sums of `splits` reduction ranges
/// into `scratch` (`[splits, *output]`, a buffer apart from the input and output), then the
/// reduce with the epilogue. Any convolution `conv::conv` takes.
#[allow(clippy::too_many_arguments)]
pub fn conv_splitk<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
    tiling: Option<ConvTiling>,
    splits: u32,
    scratch: B,
) -> Result<[Launch<B>; 2]> {
    two_pass(
        target,
        spec,
        input_shape,
        weight_shape,
        epilogue,
        b,
        Partial::Conv(tiling),
        splits,
        scratch,
    )
}

/// Split-K for a pointwise convolution through the GEMM (see [`conv_splitk`]).
#[allow(clippy::too_many_arguments)]
pub fn pointwise_splitk<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
    tiling: Option<GemmTiling>,
    splits: u32,
    scratch: B,
) -> Result<[Launch<B>; 2]> {
    two_pass(
        target,
        spec,
        input_shape,
        weight_shape,
        epilogue,
        b,
        Partial::Pointwise(tiling),
        splits,
        scratch,
    )
}

/// Which kernel computes the partial sums, with its tiling.
pub(crate) enum Partial {
    Conv(Option<ConvTiling>),
    Pointwise(Option<GemmTiling>),
}

/// The two passes of [`conv_splitk`] and [`pointwise_splitk`]: validate, partial sums into
/// `scratch`, then the reduce with the epilogue.
#[allow(clippy::too_many_arguments)]
pub(crate) fn two_pass<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
    partial: Partial,
    splits: u32,
    scratch: B,
) -> Result<[Launch<B>; 2]> {
    let op = match partial {
        Partial::Conv(_) => "conv (split-K)",
        Partial::Pointwise(_) => "pointwise conv (split-K)",
    };
    // The pointwise GEMM scales its input in the first pass; the rest is checked unscaled.
    let takes = matches!(partial, Partial::Pointwise(_));
    let scale = conv::input_scale(target, op, input_shape, &epilogue, b.input_scale, takes)?;
    let unscaled = ConvBindings {
        input_scale: None,
        ..b
    };
    let plain = Epilogue {
        input_scale: false,
        ..epilogue
    };
    let out_shape = conv::validate(
        target,
        op,
        spec,
        input_shape,
        weight_shape,
        plain,
        &unscaled,
    )?;
    let (xs, ws, x, w) = (input_shape, weight_shape, b.input, b.weight);
    let first = match partial {
        Partial::Conv(t) => conv::conv_partial(target, spec, xs, ws, x, w, scratch, t, splits),
        Partial::Pointwise(t) => {
            matmul::pointwise_partial(target, spec, xs, ws, (x, scale), w, scratch, t, splits)
        }
    }?;
    let second = reduce(
        target, &out_shape, splits, epilogue, scratch, b.bias, b.residual, b.output,
    )?;
    Ok([first, second])
}
