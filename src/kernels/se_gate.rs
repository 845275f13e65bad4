//! Squeeze-and-excitation's excitation MLP (`shaders/se_gate.wgsl`): one dispatch computes
//! `sigmoid(W2 act(W1 p + b1) + b2)` for every sample of a pooled `[N, C, 1, 1]` map, or, with
//! the pooling fused, of the feature map `[N, C, H, W]` itself (see [`crate::ops::pool_fusable_into_se_gate`]).

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, Launch, Target};
use crate::ops::Activation;
use crate::shaders::Shader;

const OP: &str = "se_gate";
/// Hidden units the kernel keeps in workgroup memory (`MAX_HIDDEN` in the shader).
pub const MAX_HIDDEN: usize = 1024;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/se_gate.wgsl`.
    pub struct SeGateParams {
        pub batch: u32,
        pub channels: u32,
        pub hidden: u32,
        pub spatial: u32,
    }
}

/// The buffers of [`se_gate`].
#[derive(Clone, Copy, Debug)]
pub struct SeGateBindings<B> {
    /// `[N, C]` pooled features, or the `[N, C, S]` feature map when `spatial` is `Some(S)`.
    pub input: B,
    /// `[R, C]`.
    pub w1: B,
    /// `[R]`.
    pub b1: B,
    /// `[C, R]`.
    pub w2: B,
    /// `[C]`.
    pub b2: B,
    /// `[N, C]` gates in (0, 1).
    pub gate: B,
}

/// The excitation gates for `batch` samples of `channels` features through `hidden` units.
/// With `spatial: Some(S)` the input is the feature map and the kernel averages each channel's
/// `S` values first (the squeeze, fused).
pub fn se_gate<B: Binding>(
    target: &Target,
    batch: usize,
    channels: usize,
    hidden: usize,
    spatial: Option<usize>,
    act: Activation,
    b: SeGateBindings<B>,
) -> Result<Launch<B>> {
    if channels == 0 || hidden == 0 {
        return Err(Error::invalid_op(
            OP,
            format!("channels {channels} and hidden {hidden} must be >= 1"),
        ));
    }
    if hidden > MAX_HIDDEN {
        return Err(Error::DeviceLimit {
            what: format!("{OP}: {hidden} hidden units"),
            limit_name: "se_gate MAX_HIDDEN (workgroup memory)",
            limit: MAX_HIDDEN as u64,
            needed: hidden as u64,
        });
    }
    if spatial == Some(0) {
        return Err(Error::invalid_op(
            OP,
            "the feature map has no spatial positions",
        ));
    }
    for (what, r, elems) in [
        ("input", &b.input, batch * channels * spatial.unwrap_or(1)),
        ("w1", &b.w1, hidden * channels),
        ("b1", &b.b1, hidden),
        ("w2", &b.w2, channels * hidden),
        ("b2", &b.b2, channels),
        ("gate", &b.gate, batch * channels),
    ] {
        let bytes = target.elem_bytes(elems);
        if r.size() < bytes {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "{what} binding has {} bytes, needs {bytes} (batch {batch}, channels {channels}, hidden {hidden})",
                    r.size()
                ),
            ));
        }
    }
    let params = SeGateParams {
        batch: to_u32(OP, "batch", batch)?,
        channels: to_u32(OP, "channels", channels)?,
        hidden: to_u32(OP, "hidden", hidden)?,
        spatial: to_u32(OP, "spatial", spatial.unwrap_or(1))?,
    };
    let mut constants = act.constants().to_vec();
    constants.push(("FUSE_POOL", spatial.is_some() as u32 as f64));
    target.launch(
        Shader::SeGate,
        &constants,
        &params,
        &[b.input, b.w1, b.b1, b.w2, b.b2, b.gate],
        batch as u64,
    )
}
