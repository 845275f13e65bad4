//! Pointwise (1x1) and grouped pointwise convolution as a GEMM batched over (image, group),
//! including split-K's first pass.

use crate::error::{Error, Result};
use crate::kernels::conv::input_scale;
use crate::kernels::{Binding, ConvBindings, Launch, Target};
use crate::ops::{Activation, ConvSpec, Epilogue};

use super::GemmTiling;
use super::gemm::{Gemm, Layout, gemm};

/// True for convolutions the GEMM kernel runs: every kernel extent 1, stride 1, no padding
/// (any dilation, any groups, spatial rank 1 to 3).
pub fn is_pointwise(spec: &ConvSpec) -> bool {
    spec.validate("pointwise").is_ok()
        && spec.kernel.iter().all(|&k| k == 1)
        && spec.stride.iter().all(|&s| s == 1)
        && spec.pad_begin.iter().chain(&spec.pad_end).all(|&p| p == 0)
}

/// Checks that the residual binding and the epilogue agree.
fn residual_binding<B: Binding>(
    op: &str,
    epilogue: &Epilogue,
    residual: Option<B>,
) -> Result<Option<B>> {
    match (epilogue.residual, residual) {
        (true, None) => Err(Error::invalid_op(
            op,
            "the epilogue adds a residual but no residual buffer is bound",
        )),
        (false, Some(_)) => Err(Error::invalid_op(
            op,
            "a residual buffer is bound but the epilogue does not add it",
        )),
        (_, r) => Ok(r),
    }
}

/// A 1x1 convolution (any groups) on `[N, C, *spatial]`, weight `[O, C/g, 1, ..]`, output
/// `[N, O, *spatial]`, as a GEMM batched over (image, group).
pub fn pointwise<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
) -> Result<Launch<B>> {
    pointwise_tiled(target, spec, input_shape, weight_shape, epilogue, b, None)
}

/// [`pointwise`] with an explicit GEMM tiling (`None`: [`GemmTiling::for_problem`]).
pub fn pointwise_tiled<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
    tiling: Option<GemmTiling>,
) -> Result<Launch<B>> {
    const OP: &str = "pointwise conv";
    let problem = pointwise_problem(spec, input_shape, weight_shape)?;
    let residual = residual_binding(OP, &epilogue, b.residual)?;
    let scale = input_scale(target, OP, input_shape, &epilogue, b.input_scale, true)?;
    gemm(
        target,
        OP,
        &problem,
        epilogue.activation,
        b.weight,
        b.input,
        b.bias,
        residual,
        scale,
        b.output,
        tiling,
        None,
    )
}

/// Split-K's first pass for a pointwise convolution: the GEMM over `splits` ranges of the
/// reduction, each writing raw partial sums to slice `s` of `partial` (`[splits, *output
/// shape]`). `crate::kernels::splitk::reduce` finishes. `input` is the input's binding and
/// its `[N, C]` channel scale, if any (`Epilogue::input_scale`).
#[allow(clippy::too_many_arguments)]
pub fn pointwise_partial<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    (input, scale): (B, Option<B>),
    weight: B,
    partial: B,
    tiling: Option<GemmTiling>,
    splits: u32,
) -> Result<Launch<B>> {
    const OP: &str = "pointwise conv (split-K)";
    let problem = pointwise_problem(spec, input_shape, weight_shape)?;
    gemm(
        target,
        OP,
        &problem,
        Activation::Identity,
        weight,
        input,
        None,
        None,
        scale,
        partial,
        tiling,
        Some(splits),
    )
}

/// The batched GEMM of a pointwise convolution (after checking that it is one).
fn pointwise_problem(
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
) -> Result<Gemm> {
    const OP: &str = "pointwise conv";
    if !is_pointwise(spec) {
        spec.validate(OP)?;
        return Err(Error::invalid_op(
            OP,
            format!(
                "needs a 1x1 kernel, stride 1 and no padding; got kernel {:?}, stride {:?}, pads {:?}/{:?}",
                spec.kernel, spec.stride, spec.pad_begin, spec.pad_end
            ),
        ));
    }
    let out_shape = spec.output_shape(input_shape, weight_shape)?;
    let (batch, c, o, g) = (input_shape[0], input_shape[1], weight_shape[0], spec.groups);
    let s: usize = out_shape[2..].iter().product();
    let (cg, og) = (c / g, o / g);
    Ok(Gemm {
        m: og,
        n: s,
        k: cg,
        outer: batch,
        inner: g,
        // The group's weight rows [O/g, C/g].
        a: Layout {
            rs: cg,
            cs: 1,
            bo: 0,
            bi: og * cg,
        },
        // The group's input channels of one image, [C/g, S].
        b: Layout {
            rs: s,
            cs: 1,
            bo: c * s,
            bi: cg * s,
        },
        c: Layout {
            rs: s,
            cs: 1,
            bo: o * s,
            bi: og * s,
        },
        bias: Some((true, 0, og)),
        // The scale [N, C] by (image, group), unit stride along the group's channels.
        b_scale: (c, cg),
    })
}
