//! Squeeze-and-excitation's excitation MLP (`shaders/se_gate.wgsl`): one dispatch computes
//! `sigmoid(W2 act(W1 p + b1) + b2)` for every sample of a pooled `[N, C, 1, 1]` map, or, with
//! the pooling fused, of the feature map `[N, C, H, W]` itself (see [`pool_fusable`]).

use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{BufRef, Dispatch};
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

/// Whether fusing the global average pool into the gate kernel pays for `channels` maps of
/// `spatial` values: each of the 256 invocations then averages whole channels serially, so the
/// serial work `ceil(C / 256) * S` must stay small: at most 512 loads, about what one launch
/// of a separate pooling kernel costs in latency. At 224 x 224, EfficientNet-B0's SE layers at
/// 7 x 7 and at 14 x 14 with <= 512 channels qualify; the 112 x 112 to 28 x 28 ones keep the
/// separate, fully parallel pooling kernel. (A heuristic from launch-latency arithmetic, not
/// yet timed on real GPUs.)
pub fn pool_fusable(channels: usize, spatial: usize) -> bool {
    channels.div_ceil(256) * spatial <= 512
}

/// The buffers of [`se_gate`].
#[derive(Clone, Copy, Debug)]
pub struct SeGateBindings<'a> {
    /// `[N, C]` pooled features, or the `[N, C, S]` feature map when `spatial` is `Some(S)`.
    pub input: BufRef<'a>,
    /// `[R, C]`.
    pub w1: BufRef<'a>,
    /// `[R]`.
    pub b1: BufRef<'a>,
    /// `[C, R]`.
    pub w2: BufRef<'a>,
    /// `[C]`.
    pub b2: BufRef<'a>,
    /// `[N, C]` gates in (0, 1).
    pub gate: BufRef<'a>,
}

/// The excitation gates for `batch` samples of `channels` features through `hidden` units.
/// With `spatial: Some(S)` the input is the feature map and the kernel averages each channel's
/// `S` values first (the squeeze, fused).
pub fn se_gate(
    gpu: &Gpu,
    batch: usize,
    channels: usize,
    hidden: usize,
    spatial: Option<usize>,
    act: Activation,
    b: SeGateBindings<'_>,
) -> Result<Dispatch> {
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
        let bytes = crate::kernels::elem_bytes(gpu, elems);
        if r.size < bytes {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "{what} binding has {} bytes, needs {bytes} (batch {batch}, channels {channels}, hidden {hidden})",
                    r.size
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
    gpu.dispatch(
        Shader::SeGate,
        &constants,
        &params,
        &[b.input, b.w1, b.b1, b.w2, b.b2, b.gate],
        batch as u64,
    )
}
