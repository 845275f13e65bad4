//! Per-channel affine with fused residual and activation (`shaders/channel_affine.wgsl`): the
//! device form of a BatchNorm that cannot be folded into a convolution.

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, Launch, Target};
use crate::ops::Activation;
use crate::shaders::Shader;
use crate::tensor::numel;

const WORKGROUP: u64 = 256;
const OP: &str = "channel_affine";

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/channel_affine.wgsl`.
    pub struct ChannelAffineParams {
        pub total: u32,
        pub channels: u32,
        pub inner: u32,
        pub _pad0: u32,
    }
}

/// The buffers of [`channel_affine`].
#[derive(Clone, Copy, Debug)]
pub struct AffineBindings<B> {
    /// `[N, C, *spatial]`.
    pub input: B,
    /// `[C]`.
    pub scale: B,
    /// `[C]`.
    pub shift: B,
    /// Same shape as the input, added before the activation.
    pub residual: Option<B>,
    /// Same shape as the input.
    pub output: B,
}

/// `out = act(x * scale[c] + shift[c] (+ residual))` over dim 1 of `shape`.
pub fn channel_affine<B: Binding>(
    target: &Target,
    shape: &[usize],
    act: Activation,
    b: AffineBindings<B>,
) -> Result<Launch<B>> {
    if shape.len() < 2 || shape[1] == 0 {
        return Err(Error::invalid_op(
            OP,
            format!("input {shape:?} must be [N, C, ...] with C >= 1"),
        ));
    }
    let total = numel(shape);
    // Every index of the (trusted) shader is below one of these counts.
    let need = |what: &str, r: &B, elems: usize| target.require_elems(OP, what, r, elems);
    need("input", &b.input, total)?;
    need("output", &b.output, total)?;
    need("scale", &b.scale, shape[1])?;
    need("shift", &b.shift, shape[1])?;
    if let Some(r) = &b.residual {
        need("residual", r, total)?;
    }
    let params = ChannelAffineParams {
        total: to_u32(OP, "element count", total)?,
        channels: to_u32(OP, "channels", shape[1])?,
        inner: to_u32(OP, "spatial size", numel(&shape[2..]).max(1))?,
        _pad0: 0,
    };
    let mut constants = act.constants().to_vec();
    constants.push(("HAS_RESIDUAL", b.residual.is_some() as u32 as f64));
    target.launch(
        Shader::ChannelAffine,
        &constants,
        &params,
        &[
            b.input,
            b.scale,
            b.shift,
            b.residual.unwrap_or(b.input),
            b.output,
        ],
        (total as u64).div_ceil(WORKGROUP),
    )
}
