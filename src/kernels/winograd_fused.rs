//! Fused Winograd F(2x2, 3x3) convolution (`shaders/winograd_fused.wgsl`): the arithmetic of
//! [`crate::kernels::winograd`] (same host-transformed weights `U`, same exact input and output
//! transforms) in one dispatch, with the transformed tiles `V` and products `M` kept in
//! workgroup memory instead of scratch. Each workgroup owns 16 output channels x 16 tiles for
//! all 16 transform points, walks the input channels in chunks of 8 and applies the output
//! transform and the epilogue itself; the input is read once per 16-channel block of outputs
//! and `U` once per 16-tile block.
//!
//! Its rounding is the three-pass kernel's or less: `U` is stored as Elem as there, `V` as Acc
//! (Elem in f16, f32 where sums are f32) and `M` stays Acc. So [`super::winograd`]'s bounds
//! ([`super::winograd::WINOGRAD_ERROR_FACTOR`], [`super::winograd::f16_tolerance`]) apply.

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::winograd::{self, POINTS};
use crate::kernels::{Binding, ConvBindings, Launch, Target};
use crate::ops::{ConvSpec, Epilogue};
use crate::precision::Precision;
use crate::shaders::Shader;
use crate::tensor::numel;

const OP: &str = "fused winograd conv";
/// Output channels per workgroup (`TM` in the shader).
pub const TILE_CHANNELS: usize = 16;
/// 2x2 output tiles per workgroup (`TN` in the shader).
pub const TILE_TILES: usize = 16;
/// Accumulators in the shader's workgroup memory: the staged `M`, 16 points x 16 x 16.
const SHARED_ACCS: usize = POINTS * TILE_CHANNELS * TILE_TILES;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/winograd_fused.wgsl`.
    pub struct WinogradFusedParams {
        pub channels: u32,
        pub out_c: u32,
        pub in_h: u32,
        pub in_w: u32,
        pub out_h: u32,
        pub out_w: u32,
        pub tiles_h: u32,
        pub tiles_w: u32,
        pub tiles: u32,
        pub m_blocks: u32,
        pub pad_h: i32,
        pub pad_w: i32,
    }
}

/// Workgroup memory the kernel declares in `precision`: 16 KiB with f32 sums, 8 KiB with f16.
pub fn workgroup_bytes(precision: Precision) -> u64 {
    (SHARED_ACCS * precision.acc_bytes()) as u64
}

/// `output = act(conv(input, weight) + bias + residual)` by Winograd F(2x2, 3x3) in one
/// dispatch. `b.weight` holds [`winograd::transform_weights`] of the `[O, C, 3, 3]` weights of
/// shape `weight_shape`.
pub fn winograd_fused<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
) -> Result<Launch<B>> {
    let out_shape = winograd::validate(target, OP, spec, input_shape, weight_shape, epilogue, &b)?;
    let shared = workgroup_bytes(target.precision());
    let limit = target.limits.max_compute_workgroup_storage_size as u64;
    if shared > limit {
        return Err(Error::DeviceLimit {
            what: format!("{OP} workgroup memory"),
            limit_name: "max_compute_workgroup_storage_size",
            limit,
            needed: shared,
        });
    }
    let (c, o) = (input_shape[1], out_shape[1]);
    let (tiles_h, tiles_w) = (out_shape[2].div_ceil(2), out_shape[3].div_ceil(2));
    let tiles = out_shape[0] * tiles_h * tiles_w;
    let u = |what: &str, v: usize| to_u32(OP, what, v);
    for (what, e) in [
        ("input elements", numel(input_shape)),
        ("transformed weight elements", POINTS * o * c),
        ("output elements", numel(&out_shape)),
    ] {
        u(what, e)?;
    }
    let pad = |v: usize| {
        i32::try_from(v).map_err(|_| Error::invalid_op(OP, format!("padding {v} does not fit i32")))
    };
    let m_blocks = o.div_ceil(TILE_CHANNELS).max(1);
    let mut constants = epilogue.activation.constants().to_vec();
    constants.extend([
        ("HAS_BIAS", b.bias.is_some() as u32 as f64),
        ("HAS_RESIDUAL", b.residual.is_some() as u32 as f64),
    ]);
    target.launch(
        Shader::WinogradFused,
        &constants,
        &WinogradFusedParams {
            channels: u("channels", c)?,
            out_c: u("output channels", o)?,
            in_h: u("input height", input_shape[2])?,
            in_w: u("input width", input_shape[3])?,
            out_h: u("output height", out_shape[2])?,
            out_w: u("output width", out_shape[3])?,
            tiles_h: u("tiles", tiles_h)?,
            tiles_w: u("tiles", tiles_w)?,
            tiles: u("tiles", tiles)?,
            m_blocks: u("channel blocks", m_blocks)?,
            pad_h: pad(spec.pad_begin[0])?,
            pad_w: pad(spec.pad_begin[1])?,
        },
        &[
            b.input,
            b.weight,
            b.bias.unwrap_or(b.weight),
            b.residual.unwrap_or(b.weight),
            b.output,
        ],
        (m_blocks * tiles.div_ceil(TILE_TILES)) as u64,
    )
}
