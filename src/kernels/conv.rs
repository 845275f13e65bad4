//! General convolution (`shaders/conv.wgsl`): 1-D, 2-D and 3-D, grouped, strided, padded,
//! dilated, as one tiled implicit GEMM with a fused bias/residual/activation epilogue.

use crate::error::{Error, Result};
use crate::kernels::algorithm::TARGET_WORKGROUPS;
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, ConvBindings, Launch, Target};
use crate::ops::{ConvSpec, Epilogue};
use crate::shaders::Shader;
use crate::tensor::numel;

const OP: &str = "conv";
/// Loads per invocation per K-chunk the shader's prefetch registers hold (`MAX_LOADS`).
const MAX_LOADS: u32 = 16;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/lib/conv_geometry.wgsl` (`conv.wgsl` and `coop_conv.wgsl`,
    /// built by `implicit_gemm_params`); spatial fields are 3-D (1-D and 2-D are padded
    /// with unit leading dimensions).
    pub struct ConvParams {
        pub batch: u32,
        pub in_c: u32,
        pub in_d: u32,
        pub in_h: u32,
        pub in_w: u32,
        pub out_c: u32,
        pub out_d: u32,
        pub out_h: u32,
        pub out_w: u32,
        pub groups: u32,
        pub c_per_group: u32,
        pub m_per_group: u32,
        pub k_d: u32,
        pub k_h: u32,
        pub k_w: u32,
        pub k_total: u32,
        pub stride_d: i32,
        pub stride_h: i32,
        pub stride_w: i32,
        pub pad_d: i32,
        pub pad_h: i32,
        pub pad_w: i32,
        pub dil_d: i32,
        pub dil_h: i32,
        pub dil_w: i32,
        pub n_total: u32,
        pub tiles_m: u32,
        pub tiles_n: u32,
        pub k_chunk: u32,
        pub splits: u32,
        /// TK in the kernel-offset radix (channel, kd, kh, kw): the gather odometer's step.
        pub tk_c: u32,
        pub tk_z: u32,
        pub tk_y: u32,
        pub tk_x: u32,
        pub _pad0: u32,
        pub _pad1: u32,
    }
}

/// Workgroup shape of the implicit GEMM: `wg_m x wg_n` invocations, each an `rm x rn` register
/// block, so a workgroup computes a `(rm*wg_m) x (rn*wg_n)` tile (output channels x output
/// pixels), staging `tk` reduction steps per barrier pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvTiling {
    /// Invocations along output channels (a power of two >= 4).
    pub wg_m: u32,
    /// Invocations along output pixels (a power of two >= 4).
    pub wg_n: u32,
    /// Reduction chunk staged in workgroup memory (a multiple of `wg_m / rn`).
    pub tk: u32,
    /// Output channels per invocation (4 or 8).
    pub rm: u32,
    /// Output pixels per invocation (4 or 8, at most `wg_m`).
    pub rn: u32,
}

impl Default for ConvTiling {
    /// 64x64 outputs per workgroup of 256 invocations with 4x4 blocks, K-chunks of 16: 8 KiB of
    /// workgroup memory.
    fn default() -> Self {
        Self {
            wg_m: 16,
            wg_n: 16,
            tk: 16,
            rm: 4,
            rn: 4,
        }
    }
}

impl ConvTiling {
    /// 256 invocations with `rm x rn` blocks and K-chunks of `tk`: the 128x128 (8x8), 128x64
    /// (8x4) and 64x128 (4x8) tiles for layers large enough to fill a big GPU with them.
    pub fn big(rm: u32, rn: u32, tk: u32) -> Self {
        Self {
            wg_m: 16,
            wg_n: 16,
            tk,
            rm,
            rn,
        }
    }

    /// The tiling the host picks for a per-group GEMM of `m` rows and `n` columns on a GPU that
    /// wants [`TARGET_WORKGROUPS`] in flight: [`ConvTiling::big`] tiles where the layer fills
    /// it with them, else 4x4 blocks, the 64x64 tile shrunk
    /// along a dimension that a smaller tile still covers (so tiny layers do not idle most of
    /// a workgroup), and widened along pixels when channels are few.
    pub fn for_problem(m: usize, n: usize) -> Self {
        Self::for_occupancy(m, n, TARGET_WORKGROUPS)
    }

    /// [`ConvTiling::for_problem`] for a GPU that wants `workgroups` in flight. Big tiles double
    /// the FMAs per shared load (8x8: 16, 4x4: 8) and halve the global loads per FMA but launch
    /// 2-4x fewer workgroups, so the first of 128x128, 128x64, 64x128 that still launches
    /// `workgroups` per group, with no tile wider than its GEMM, wins; else the 4x4 tiles.
    pub fn for_occupancy(m: usize, n: usize, workgroups: u64) -> Self {
        for t in [
            Self::big(8, 8, 16),
            Self::big(8, 4, 16),
            Self::big(4, 8, 16),
        ] {
            let (tm, tn) = (t.tile_m() as usize, t.tile_n() as usize);
            if m >= tm && n >= tn && (m.div_ceil(tm) * n.div_ceil(tn)) as u64 >= workgroups {
                return t;
            }
        }
        fn fit(extent: usize, max: u32) -> u32 {
            let mut t = 4;
            while t < max && ((t * 4) as usize) < extent {
                t *= 2;
            }
            t
        }
        let wg_m = fit(m, 16);
        let wg_n = fit(n, (256 / wg_m).min(32));
        Self {
            wg_m,
            wg_n,
            ..Self::default()
        }
    }

    /// Output channels per workgroup tile.
    pub fn tile_m(&self) -> u32 {
        self.wg_m * self.rm
    }

    /// Output pixels per workgroup tile.
    pub fn tile_n(&self) -> u32 {
        self.wg_n * self.rn
    }

    /// Bytes of workgroup memory the shader declares for this tiling in f32: a `tk x tile_m`
    /// weight tile and a `tk x tile_n` input tile.
    pub fn workgroup_bytes(&self) -> u64 {
        (self.tk * (self.tile_m() + self.tile_n())) as u64 * 4
    }

    /// Global loads per invocation per K-chunk: (weights, inputs).
    fn loads(&self) -> (u32, u32) {
        let threads = self.wg_m * self.wg_n;
        (
            (self.tk * self.tile_m()).div_ceil(threads),
            self.tk * self.rn / self.wg_m,
        )
    }

    /// Checks the shape rules of the shader's header and the device's limits.
    pub fn check(&self, target: &Target) -> Result<()> {
        let pow2 = |v: u32| v >= 4 && v.is_power_of_two();
        let ok = pow2(self.wg_m)
            && pow2(self.wg_n)
            && matches!(self.rm, 4 | 8)
            && matches!(self.rn, 4 | 8)
            && self.rn <= self.wg_m
            && self.tk > 0
            && self.tk.is_multiple_of(self.wg_m / self.rn);
        if !ok {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "tiling {self:?}: wg_m and wg_n must be powers of two >= 4, rm and rn 4 or 8 with rn <= wg_m, and tk a multiple of wg_m/rn"
                ),
            ));
        }
        let (w, x) = self.loads();
        if w.max(x) > MAX_LOADS {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "tiling {self:?} needs {w} weight and {x} input loads per invocation per chunk; the kernel holds {MAX_LOADS}"
                ),
            ));
        }
        let limits = target.limits();
        let threads = self.wg_m * self.wg_n;
        for (name, limit) in [
            (
                "max_compute_invocations_per_workgroup",
                limits.max_compute_invocations_per_workgroup,
            ),
            (
                "max_compute_workgroup_size_x",
                limits.max_compute_workgroup_size_x,
            ),
        ] {
            if threads > limit {
                return Err(Error::DeviceLimit {
                    what: format!("{OP} tiling {self:?}"),
                    limit_name: name,
                    limit: limit as u64,
                    needed: threads as u64,
                });
            }
        }
        // Tiles hold accumulators: f16 tiles take half of workgroup_bytes' f32 figure.
        let acc_bytes = target.precision().acc_bytes() as u64;
        let bytes = self.workgroup_bytes() / 4 * acc_bytes;
        if bytes > limits.max_compute_workgroup_storage_size as u64 {
            return Err(Error::DeviceLimit {
                what: format!("{OP} tiling {self:?}"),
                limit_name: "max_compute_workgroup_storage_size",
                limit: limits.max_compute_workgroup_storage_size as u64,
                needed: bytes,
            });
        }
        Ok(())
    }
}

/// Checks that `b` holds at least a tensor of `shape` in the handle's precision.
fn check_binding<B: Binding>(
    target: &Target,
    op: &str,
    what: &str,
    b: &B,
    shape: &[usize],
) -> Result<()> {
    let need = target.elem_bytes(numel(shape));
    if b.size() < need {
        return Err(Error::invalid_op(
            op,
            format!(
                "{what} binding of {} bytes is too small for shape {shape:?} ({need} bytes)",
                b.size()
            ),
        ));
    }
    Ok(())
}

/// Checks a convolution's input scale: the binding and `Epilogue::input_scale` agree, the
/// kernel `takes` one (only the pointwise GEMM does), and it holds `[N, C]` elements.
pub(crate) fn input_scale<B: Binding>(
    target: &Target,
    op: &str,
    input_shape: &[usize],
    epilogue: &Epilogue,
    scale: Option<B>,
    takes: bool,
) -> Result<Option<B>> {
    match (epilogue.input_scale, scale) {
        (false, None) => Ok(None),
        (true, None) => Err(Error::invalid_op(
            op,
            "the epilogue scales the input but no scale buffer is bound",
        )),
        (false, Some(_)) => Err(Error::invalid_op(
            op,
            "an input-scale buffer is bound but the epilogue does not scale the input",
        )),
        (true, Some(_)) if !takes => Err(Error::invalid_op(
            op,
            "this kernel cannot scale its input channels (only the pointwise GEMM can)",
        )),
        (true, Some(s)) => {
            check_binding(target, op, "input scale", &s, &input_shape[..2])?;
            Ok(Some(s))
        }
    }
}

/// Validates a convolution-like kernel's shapes and bindings against `spec`; returns the
/// output shape. Shared with the depthwise kernel. Such kernels take no input scale.
pub(crate) fn validate<B: Binding>(
    target: &Target,
    op: &str,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: &ConvBindings<B>,
) -> Result<Vec<usize>> {
    input_scale(target, op, input_shape, &epilogue, b.input_scale, false)?;
    let out_shape = spec
        .output_shape(input_shape, weight_shape)
        .map_err(|e| match e {
            Error::InvalidOp { message, .. } => Error::invalid_op(op, message),
            e => e,
        })?;
    if epilogue.residual != b.residual.is_some() {
        return Err(Error::invalid_op(
            op,
            format!(
                "epilogue.residual is {} but a residual buffer was {}",
                epilogue.residual,
                if b.residual.is_some() {
                    "given"
                } else {
                    "not given"
                }
            ),
        ));
    }
    check_binding(target, op, "input", &b.input, input_shape)?;
    check_binding(target, op, "weight", &b.weight, weight_shape)?;
    if let Some(bias) = &b.bias {
        check_binding(target, op, "bias", bias, &[weight_shape[0]])?;
    }
    if let Some(res) = &b.residual {
        check_binding(target, op, "residual", res, &out_shape)?;
    }
    check_binding(target, op, "output", &b.output, &out_shape)?;
    Ok(out_shape)
}

/// Pads a per-dimension spatial vector to 3-D on the left with `fill`.
pub(crate) fn to3(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

/// `output = act(conv(input, weight) + bias + residual)` for 1-D, 2-D and 3-D convolutions
/// with any stride, padding, dilation and groups. Shapes: input `[N, C, *s]`, weight
/// `[O, C/g, *k]`, bias `[O]`, residual and output `spec.output_shape(..)`.
pub fn conv<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
) -> Result<Launch<B>> {
    conv_tiled(target, spec, input_shape, weight_shape, epilogue, b, None)
}

/// [`conv`] with an explicit workgroup tiling (`None`: [`ConvTiling::for_problem`]); for
/// tuning and for tests that must exercise every tile shape.
pub fn conv_tiled<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
    tiling: Option<ConvTiling>,
) -> Result<Launch<B>> {
    conv_impl(
        target,
        spec,
        input_shape,
        weight_shape,
        epilogue,
        b,
        tiling,
        None,
    )
}

/// Split-K's first pass: the implicit GEMM over `splits` ranges of the reduction, each writing
/// its raw partial sums (no bias, residual or activation) to slice `s` of `partial`
/// (`[splits, *output shape]`). `crate::kernels::splitk::reduce` finishes.
#[allow(clippy::too_many_arguments)]
pub fn conv_partial<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    input: B,
    weight: B,
    partial: B,
    tiling: Option<ConvTiling>,
    splits: u32,
) -> Result<Launch<B>> {
    let out_shape = spec.output_shape(input_shape, weight_shape)?;
    // Partial sums are Acc (see shaders/splitk_reduce.wgsl).
    let acc = target.precision().acc_bytes();
    let need = numel(&out_shape) as u64 * splits as u64 * acc as u64;
    if splits == 0 || partial.size() < need {
        return Err(Error::invalid_op(
            OP,
            format!(
                "split-K with {splits} splits of output {out_shape:?} needs a partial-sum binding of {need} bytes, got {}",
                partial.size()
            ),
        ));
    }
    to_u32(OP, "partial-sum elements", need as usize / acc)?;
    conv_impl(
        target,
        spec,
        input_shape,
        weight_shape,
        Epilogue::default(),
        ConvBindings {
            input,
            weight,
            bias: None,
            residual: None,
            input_scale: None,
            output: partial,
        },
        tiling,
        Some(splits),
    )
}

#[allow(clippy::too_many_arguments)]
fn conv_impl<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
    tiling: Option<ConvTiling>,
    splits: Option<u32>,
) -> Result<Launch<B>> {
    let out_shape = validate(target, OP, spec, input_shape, weight_shape, epilogue, &b)?;
    let m_per_group = out_shape[1] / spec.groups;
    let n_total = input_shape[0] * numel(&out_shape[2..]);
    let tiling = tiling
        .unwrap_or_else(|| ConvTiling::for_occupancy(m_per_group, n_total, target.workgroups));
    tiling.check(target)?;
    let n_splits = splits.unwrap_or(1) as usize;
    let (params, reach) = implicit_gemm_params(
        OP,
        spec,
        input_shape,
        weight_shape,
        (tiling.tile_m() as usize, tiling.tile_n() as usize),
        tiling.tk as usize,
        n_splits,
    )?;
    let (k_total, in_s, pad) = (
        params.k_total as usize,
        to3(&input_shape[2..], 1),
        to3(&spec.pad_begin, 0),
    );

    // The shader header's proofs: whole tiles and chunks drop the m, n, k checks; a gather
    // that cannot leave the input drops the coordinate checks.
    let aligned = m_per_group.is_multiple_of(tiling.tile_m() as usize)
        && n_total.is_multiple_of(tiling.tile_n() as usize)
        && k_total.is_multiple_of(tiling.tk as usize);
    let in_range = (0..3).all(|d| pad[d] == 0 && reach[d] < in_s[d]);
    let mut constants = epilogue.activation.constants().to_vec();
    constants.extend([
        ("WG_M", tiling.wg_m as f64),
        ("WG_N", tiling.wg_n as f64),
        ("RM", tiling.rm as f64),
        ("RN", tiling.rn as f64),
        ("TK", tiling.tk as f64),
        ("ALIGNED", aligned as u32 as f64),
        ("IN_RANGE", in_range as u32 as f64),
        ("HAS_BIAS", b.bias.is_some() as u32 as f64),
        ("HAS_RESIDUAL", b.residual.is_some() as u32 as f64),
        ("PARTIAL", splits.is_some() as u32 as f64),
    ]);
    // Unused optional inputs are bound to a valid read-only buffer; the flags gate the reads.
    let total =
        n_splits as u64 * params.groups as u64 * params.tiles_m as u64 * params.tiles_n as u64;
    target.launch(
        Shader::Conv,
        &constants,
        &params,
        &[
            b.input,
            b.weight,
            b.bias.unwrap_or(b.weight),
            b.residual.unwrap_or(b.input),
            b.output,
            // `partial` (Acc): conv_partial passes the scratch as `output`, so both are it.
            b.output,
        ],
        total,
    )
}

/// The `Params` both implicit-GEMM kernels take (`conv.wgsl`, `coop_conv.wgsl`:
/// `shaders/lib/conv_geometry.wgsl`) for a valid convolution with `(tile_m, tile_n)` output
/// tiles and K-chunks of `tk`, over `splits` ranges of the reduction (1: none; each a whole
/// number of chunks, the last possibly short or empty), checking that every flat index the
/// kernels form fits u32 and every coordinate i32. Also returns each dimension's input reach,
/// `(out - 1) * stride + (k - 1) * dilation` (rank 3, unit dims first).
pub(crate) fn implicit_gemm_params(
    op: &'static str,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    (tile_m, tile_n): (usize, usize),
    tk: usize,
    splits: usize,
) -> Result<(ConvParams, [usize; 3])> {
    let out_shape = spec.output_shape(input_shape, weight_shape)?;
    let groups = spec.groups;
    let (batch, in_c, out_c) = (input_shape[0], input_shape[1], out_shape[1]);
    let in_s = to3(&input_shape[2..], 1);
    let out_s = to3(&out_shape[2..], 1);
    let k = to3(&spec.kernel, 1);
    let stride = to3(&spec.stride, 1);
    let pad = to3(&spec.pad_begin, 0);
    let dil = to3(&spec.dilation, 1);
    let m_per_group = out_c / groups;
    let k_total = (in_c / groups) * numel(&spec.kernel);
    let n_total = batch * numel(&out_shape[2..]);
    let k_chunk = k_total.div_ceil(splits).div_ceil(tk).max(1) * tk;
    for (what, n) in [
        ("input elements", numel(input_shape)),
        ("weight elements", numel(weight_shape)),
        ("output elements", numel(&out_shape)),
        // The last K-chunk's rows run up to k_total rounded up to tk.
        ("reduction length", k_total + tk),
    ] {
        to_u32(op, what, n)?;
    }
    let u = |what: &str, v: usize| to_u32(op, what, v);
    let i = |what: &str, v: usize| -> Result<i32> {
        i32::try_from(v).map_err(|_| {
            Error::invalid_op(op, format!("{what} {v} does not fit the kernel's i32 math"))
        })
    };
    let reach: [usize; 3] =
        std::array::from_fn(|d| out_s[d].saturating_sub(1) * stride[d] + (k[d] - 1) * dil[d]);
    for d in 0..3 {
        i("input coordinate", reach[d] + pad[d])?;
    }
    let params = ConvParams {
        batch: u("batch", batch)?,
        in_c: u("channels", in_c)?,
        in_d: u("input depth", in_s[0])?,
        in_h: u("input height", in_s[1])?,
        in_w: u("input width", in_s[2])?,
        out_c: u("output channels", out_c)?,
        out_d: u("output depth", out_s[0])?,
        out_h: u("output height", out_s[1])?,
        out_w: u("output width", out_s[2])?,
        groups: u("groups", groups)?,
        c_per_group: u("channels per group", in_c / groups)?,
        m_per_group: u("output channels per group", m_per_group)?,
        k_d: u("kernel", k[0])?,
        k_h: u("kernel", k[1])?,
        k_w: u("kernel", k[2])?,
        k_total: u("reduction length", k_total)?,
        stride_d: i("stride", stride[0])?,
        stride_h: i("stride", stride[1])?,
        stride_w: i("stride", stride[2])?,
        pad_d: i("padding", pad[0])?,
        pad_h: i("padding", pad[1])?,
        pad_w: i("padding", pad[2])?,
        dil_d: i("dilation", dil[0])?,
        dil_h: i("dilation", dil[1])?,
        dil_w: i("dilation", dil[2])?,
        n_total: u("output pixels", n_total)?,
        tiles_m: u("tiles", m_per_group.div_ceil(tile_m))?,
        tiles_n: u("tiles", n_total.div_ceil(tile_n))?,
        k_chunk: u("split range", k_chunk)?,
        splits: u("splits", splits)?,
        tk_c: u("chunk", tk / (k[0] * k[1] * k[2]))?,
        tk_z: u("chunk", tk / (k[1] * k[2]) % k[0])?,
        tk_y: u("chunk", tk / k[2] % k[1])?,
        tk_x: u("chunk", tk % k[2])?,
        ..Default::default()
    };
    Ok((params, reach))
}
