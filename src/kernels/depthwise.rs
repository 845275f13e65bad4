//! Depthwise 2-D convolution (`shaders/depthwise.wgsl`): `groups == C`, any channel multiplier,
//! stride, asymmetric padding and dilation, with the fused bias/residual/activation epilogue.

use crate::error::{Error, Result};
use crate::kernels::conv::validate;
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, ConvBindings, Launch, Target};
use crate::ops::{ConvSpec, Epilogue};
use crate::shaders::Shader;
use crate::tensor::numel;

const OP: &str = "depthwise";
/// Output columns per invocation (the shader's fixed strip).
const STRIP: u32 = 4;
/// Floats of input patch staged in workgroup memory by default (12 KiB, under WebGPU's 16 KiB
/// minimum `max_compute_workgroup_storage_size`).
const PATCH_CAP: u32 = 3072;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/depthwise.wgsl`.
    pub struct DepthwiseParams {
        pub batch: u32,
        pub channels: u32,
        pub in_h: u32,
        pub in_w: u32,
        pub out_c: u32,
        pub multiplier: u32,
        pub out_h: u32,
        pub out_w: u32,
        pub pad_h: i32,
        pub pad_w: i32,
        pub tiles_y: u32,
        pub tiles_x: u32,
        pub channel_groups: u32,
        pub _pad0: u32,
        pub _pad1: u32,
        pub _pad2: u32,
    }
}

/// Invocations a workgroup should have: two 32-wide warps (one 64-wide wave), so small maps
/// take several channels per workgroup instead of leaving most SIMD lanes idle.
const FILL_INVOCATIONS: u32 = 64;

/// Workgroup shape: `dw_x x dw_y x dw_c` invocations, each a strip of 4 output columns, so a
/// `dw_y x (4*dw_x)` output tile of `dw_c` channels; `stage_input` stages the input patches in
/// workgroup memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DepthwiseTiling {
    /// Invocations along output columns.
    pub dw_x: u32,
    /// Invocations along output rows.
    pub dw_y: u32,
    /// Input channels per workgroup.
    pub dw_c: u32,
    /// Stage the input patch in workgroup memory (else taps read global memory).
    pub stage_input: bool,
}

impl DepthwiseTiling {
    /// Input patch `(rows, cols)` under one channel's output tile (the shader's
    /// `PATCH_H`, `PATCH_W`).
    pub fn patch(&self, spec: &ConvSpec) -> (usize, usize) {
        let (s, d, k) = (&spec.stride, &spec.dilation, &spec.kernel);
        (
            (self.dw_y as usize - 1) * s[0] + (k[0] - 1) * d[0] + 1,
            (self.dw_x * STRIP) as usize * s[1] - s[1] + (k[1] - 1) * d[1] + 1,
        )
    }

    /// Elements of workgroup memory the staged patches take.
    pub fn staged(&self, spec: &ConvSpec) -> usize {
        let (ph, pw) = self.patch(spec);
        self.dw_c as usize * ph * pw
    }

    /// The host's choice: an 8 x 32 output tile (64 invocations), shrunk to the output's size;
    /// on small maps as many channels per workgroup (powers of two, at most `channels`) as
    /// bring it to `FILL_INVOCATIONS` (64). Then channels, rows and columns are shrunk until the
    /// staged patches fit `cap` elements; if even one strip's patch does not fit (huge dilated
    /// kernels), taps read global memory.
    pub fn for_problem(
        spec: &ConvSpec,
        channels: usize,
        out_h: usize,
        out_w: usize,
        cap: u32,
    ) -> Self {
        let fit = |extent: usize, per: usize| {
            let mut t = 1u32;
            while t < 8 && (t as usize) * per < extent {
                t *= 2;
            }
            t
        };
        let mut t = Self {
            dw_x: fit(out_w, STRIP as usize),
            dw_y: fit(out_h, 1),
            dw_c: 1,
            stage_input: true,
        };
        while t.dw_x * t.dw_y * t.dw_c < FILL_INVOCATIONS && (t.dw_c as usize) * 2 <= channels {
            t.dw_c *= 2;
        }
        loop {
            if t.staged(spec) <= cap as usize {
                return t;
            }
            if t.dw_c > 1 {
                t.dw_c /= 2;
            } else if t.dw_y >= t.dw_x && t.dw_y > 1 {
                t.dw_y /= 2;
            } else if t.dw_x > 1 {
                t.dw_x /= 2;
            } else if t.dw_y > 1 {
                t.dw_y /= 2;
            } else {
                t.stage_input = false;
                return t;
            }
        }
    }
}

/// True when `spec` on `input_shape` is a 2-D depthwise convolution (`groups == C`), the case
/// [`depthwise`] handles.
pub fn is_depthwise(spec: &ConvSpec, input_shape: &[usize]) -> bool {
    spec.rank() == 2
        && input_shape.len() == 4
        && input_shape[1] > 0
        && spec.groups == input_shape[1]
}

/// `output = act(depthwise_conv(input, weight) + bias + residual)`. Shapes: input
/// `[N, C, H, W]`, weight `[C*mult, 1, kh, kw]`, bias `[C*mult]`, output
/// `spec.output_shape(..)`. Errors unless [`is_depthwise`].
pub fn depthwise<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
) -> Result<Launch<B>> {
    depthwise_tiled(target, spec, input_shape, weight_shape, epilogue, b, None)
}

/// [`depthwise`] with an explicit tiling (`None`: [`DepthwiseTiling::for_problem`]).
pub fn depthwise_tiled<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
    tiling: Option<DepthwiseTiling>,
) -> Result<Launch<B>> {
    if !is_depthwise(spec, input_shape) {
        return Err(Error::invalid_op(
            OP,
            format!(
                "needs a 2-D convolution with groups == channels, got kernel {:?}, groups {} on input {input_shape:?}",
                spec.kernel, spec.groups
            ),
        ));
    }
    let out_shape = validate(target, OP, spec, input_shape, weight_shape, epilogue, &b)?;
    let (batch, channels, out_c) = (input_shape[0], input_shape[1], out_shape[1]);
    let (out_h, out_w) = (out_shape[2], out_shape[3]);

    let limits = target.limits();
    let cap = PATCH_CAP.min(limits.max_compute_workgroup_storage_size / 4);
    let tiling =
        tiling.unwrap_or_else(|| DepthwiseTiling::for_problem(spec, channels, out_h, out_w, cap));
    if tiling.dw_x == 0 || tiling.dw_y == 0 || tiling.dw_c == 0 {
        return Err(Error::invalid_op(OP, format!("empty tiling {tiling:?}")));
    }
    // The (trusted) shader indexes workgroup memory below the staged patches' size.
    let staged = tiling.staged(spec);
    if tiling.stage_input && staged > cap as usize {
        return Err(Error::DeviceLimit {
            what: format!("{OP} input patches of tiling {tiling:?}"),
            limit_name: "max_compute_workgroup_storage_size",
            limit: cap as u64 * 4,
            needed: staged as u64 * 4,
        });
    }
    let threads = tiling.dw_x * tiling.dw_y * tiling.dw_c;
    if threads > limits.max_compute_invocations_per_workgroup
        || tiling.dw_x > limits.max_compute_workgroup_size_x
        || tiling.dw_y > limits.max_compute_workgroup_size_y
        || tiling.dw_c > limits.max_compute_workgroup_size_z
    {
        return Err(Error::DeviceLimit {
            what: format!("{OP} tiling {tiling:?}"),
            limit_name: "max_compute_invocations_per_workgroup",
            limit: limits.max_compute_invocations_per_workgroup as u64,
            needed: threads as u64,
        });
    }
    let tiles_y = out_h.div_ceil(tiling.dw_y as usize);
    let tiles_x = out_w.div_ceil((tiling.dw_x * STRIP) as usize);
    let channel_groups = channels.div_ceil(tiling.dw_c as usize);

    for (what, n) in [
        ("input elements", numel(input_shape)),
        ("output elements", numel(&out_shape)),
    ] {
        to_u32(OP, what, n)?;
    }
    let u = |what: &str, v: usize| to_u32(OP, what, v);
    let i = |what: &str, v: usize| -> Result<i32> {
        i32::try_from(v).map_err(|_| {
            Error::invalid_op(OP, format!("{what} {v} does not fit the kernel's i32 math"))
        })
    };
    for d in 0..2 {
        let tiles = if d == 0 { tiles_y } else { tiles_x };
        let tile = if d == 0 {
            tiling.dw_y
        } else {
            tiling.dw_x * STRIP
        } as usize;
        let reach = tiles * tile * spec.stride[d] + (spec.kernel[d] - 1) * spec.dilation[d];
        i("input coordinate", reach + spec.pad_begin[d])?;
    }
    let params = DepthwiseParams {
        batch: u("batch", batch)?,
        channels: u("channels", channels)?,
        in_h: u("input height", input_shape[2])?,
        in_w: u("input width", input_shape[3])?,
        out_c: u("output channels", out_c)?,
        multiplier: u("channel multiplier", out_c / channels)?,
        out_h: u("output height", out_h)?,
        out_w: u("output width", out_w)?,
        pad_h: i("padding", spec.pad_begin[0])?,
        pad_w: i("padding", spec.pad_begin[1])?,
        tiles_y: u("tiles", tiles_y)?,
        tiles_x: u("tiles", tiles_x)?,
        channel_groups: u("channel groups", channel_groups)?,
        ..Default::default()
    };

    // Declare only the workgroup memory the patches need (in a few sizes, to bound the number
    // of pipelines), so small kernels keep occupancy high; without staging the array is dead.
    let patch_cap = if tiling.stage_input {
        (staged.next_power_of_two() as u32).max(256).min(cap)
    } else {
        1
    };
    let mut constants = epilogue.activation.constants().to_vec();
    constants.extend([
        ("DW_X", tiling.dw_x as f64),
        ("DW_Y", tiling.dw_y as f64),
        ("DW_C", tiling.dw_c as f64),
        ("K_H", u("kernel", spec.kernel[0])? as f64),
        ("K_W", u("kernel", spec.kernel[1])? as f64),
        ("STRIDE_H", u("stride", spec.stride[0])? as f64),
        ("STRIDE_W", u("stride", spec.stride[1])? as f64),
        ("DIL_H", u("dilation", spec.dilation[0])? as f64),
        ("DIL_W", u("dilation", spec.dilation[1])? as f64),
        ("PATCH_CAP", patch_cap as f64),
        ("STAGE_INPUT", tiling.stage_input as u32 as f64),
        ("HAS_BIAS", b.bias.is_some() as u32 as f64),
        ("HAS_RESIDUAL", b.residual.is_some() as u32 as f64),
    ]);
    let total = (batch * channel_groups) as u64 * tiles_y as u64 * tiles_x as u64;
    target.launch(
        Shader::Depthwise,
        &constants,
        &params,
        &[
            b.input,
            b.weight,
            b.bias.unwrap_or(b.weight),
            b.residual.unwrap_or(b.input),
            b.output,
        ],
        total,
    )
}
