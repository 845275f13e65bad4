//! Squeeze-and-excitation's excitation MLP (`shaders/se_gate.wgsl`): one dispatch computes
//! `sigmoid(W2 act(W1 p + b1) + b2)` for every sample of a pooled `[N, C, 1, 1]` map.

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
        pub _pad0: u32,
    }
}

/// The buffers of [`se_gate`].
#[derive(Clone, Copy, Debug)]
pub struct SeGateBindings<'a> {
    /// `[N, C]` pooled features.
    pub pooled: BufRef<'a>,
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
pub fn se_gate(
    gpu: &Gpu,
    batch: usize,
    channels: usize,
    hidden: usize,
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
    for (what, r, elems) in [
        ("pooled", &b.pooled, batch * channels),
        ("w1", &b.w1, hidden * channels),
        ("b1", &b.b1, hidden),
        ("w2", &b.w2, channels * hidden),
        ("b2", &b.b2, channels),
        ("gate", &b.gate, batch * channels),
    ] {
        if r.size < (elems * 4) as u64 {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "{what} binding has {} bytes, needs {} (batch {batch}, channels {channels}, hidden {hidden})",
                    r.size,
                    elems * 4
                ),
            ));
        }
    }
    let params = SeGateParams {
        batch: to_u32(OP, "batch", batch)?,
        channels: to_u32(OP, "channels", channels)?,
        hidden: to_u32(OP, "hidden", hidden)?,
        _pad0: 0,
    };
    gpu.dispatch(
        Shader::SeGate,
        &act.constants(),
        &params,
        &[b.pooled, b.w1, b.b1, b.w2, b.b2, b.gate],
        batch as u64,
    )
}
