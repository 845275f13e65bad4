//! Window pooling (`shaders/pool.wgsl`) and global pooling (`shaders/global_pool.wgsl`).

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::reduce::F16_MAX_INDEX;
use crate::kernels::{Binding, Launch, Target};
use crate::ops::{MAX_POOL_RANK, PoolKind, PoolSpec, global_pool_output_shape};
use crate::shaders::Shader;
use crate::tensor::numel;

/// Invocations per workgroup of both shaders.
const WORKGROUP: u64 = 256;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/pool.wgsl`: sizes per spatial dim `[depth, height, width]`,
    /// 1-D and 2-D pools padded with leading size-1 dims (window 1, stride 1, no padding).
    pub struct PoolParams {
        pub total: u32,
        pub p: u32,
        pub _pad0: u32,
        pub _pad1: u32,
        pub d: u32, pub h: u32, pub w: u32,
        pub od: u32, pub oh: u32, pub ow: u32,
        pub kd: u32, pub kh: u32, pub kw: u32,
        pub sd: u32, pub sh: u32, pub sw: u32,
        pub dd: u32, pub dh: u32, pub dw: u32,
        pub pad_front: u32, pub pad_top: u32, pub pad_left: u32,
        pub pad_back: u32, pub pad_bottom: u32, pub pad_right: u32,
        pub _pad2: u32, pub _pad3: u32, pub _pad4: u32,
    }
}

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/global_pool.wgsl`.
    pub struct GlobalPoolParams {
        pub rows: u32,
        pub len: u32,
        pub p: u32,
        pub _pad0: u32,
    }
}

/// Fails unless `b` holds at least a tensor of `shape` in the handle's precision.
pub(crate) fn check_binding<B: Binding>(
    target: &Target,
    op: &str,
    what: &str,
    b: B,
    shape: &[usize],
) -> Result<()> {
    let bytes = target.elem_bytes(numel(shape));
    if b.size() < bytes {
        return Err(Error::invalid_op(
            op,
            format!(
                "{what} binding of {} bytes is too small for shape {shape:?} ({bytes} bytes)",
                b.size()
            ),
        ));
    }
    Ok(())
}

/// Invocations per row for a reduction over rows of `len` elements: the next power of two,
/// at least a warp (32), at most the workgroup.
pub(crate) fn row_threads(len: usize) -> u32 {
    len.next_power_of_two().clamp(32, WORKGROUP as usize) as u32
}

/// Window pooling of `input` `[N, C, *spatial]` (1 to 3 spatial dims) into `output`
/// `spec.output_shape(input_shape)`.
pub fn pool<B: Binding>(
    target: &Target,
    spec: &PoolSpec,
    input_shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let op = spec.kind.name(false);
    let out_shape = spec.output_shape(input_shape)?;
    if spec.kind.is_index() && target.precision.is_f16() && numel(input_shape) - 1 > F16_MAX_INDEX {
        return Err(Error::invalid_op(
            op,
            format!(
                "input {input_shape:?}: in {} storage only indices up to {F16_MAX_INDEX} are \
                 exact (use an f32 session)",
                target.precision.name()
            ),
        ));
    }
    check_binding(target, op, "input", input, input_shape)?;
    check_binding(target, op, "output", output, &out_shape)?;
    to_u32(op, "input element count", numel(input_shape))?;
    // Every spatial vector as [depth, height, width]: missing leading dims are size 1.
    let lead = MAX_POOL_RANK - spec.rank();
    let dims = |v: &[usize], fill: usize| -> [usize; MAX_POOL_RANK] {
        std::array::from_fn(|i| if i < lead { fill } else { v[i - lead] })
    };
    let (size, osize) = (dims(&input_shape[2..], 1), dims(&out_shape[2..], 1));
    let (k, s, dil) = (
        dims(&spec.kernel, 1),
        dims(&spec.stride, 1),
        dims(&spec.dilation, 1),
    );
    let (pb, pe) = (dims(&spec.pad_begin, 0), dims(&spec.pad_end, 0));
    // The shader forms `o * stride - pad_begin`, `size + pad_end` and `pad_begin + size +
    // pad_end` in i32.
    let reach = (0..MAX_POOL_RANK)
        .map(|i| (size[i] + pb[i] + pe[i]).max(osize[i] * s[i] + k[i] * dil[i]))
        .max()
        .unwrap_or(0);
    if reach > i32::MAX as usize {
        return Err(Error::DeviceLimit {
            what: format!("{op}: window geometry of input {input_shape:?}"),
            limit_name: "i32 index range",
            limit: i32::MAX as u64,
            needed: reach as u64,
        });
    }
    let u = |v: usize| to_u32(op, "size", v);
    let total = numel(&out_shape);
    let params = PoolParams {
        total: u(total)?,
        p: spec.kind.p(),
        d: u(size[0])?,
        h: u(size[1])?,
        w: u(size[2])?,
        od: u(osize[0])?,
        oh: u(osize[1])?,
        ow: u(osize[2])?,
        kd: u(k[0])?,
        kh: u(k[1])?,
        kw: u(k[2])?,
        sd: u(s[0])?,
        sh: u(s[1])?,
        sw: u(s[2])?,
        dd: u(dil[0])?,
        dh: u(dil[1])?,
        dw: u(dil[2])?,
        pad_front: u(pb[0])?,
        pad_top: u(pb[1])?,
        pad_left: u(pb[2])?,
        pad_back: u(pe[0])?,
        pad_bottom: u(pe[1])?,
        pad_right: u(pe[2])?,
        ..Default::default()
    };
    let constants = [
        ("POOL_KIND", spec.kind.code() as f64),
        (
            "COUNT_INCLUDE_PAD",
            if spec.count_include_pad { 1.0 } else { 0.0 },
        ),
    ];
    target.launch(
        Shader::Pool,
        &constants,
        &params,
        &[input, output],
        (total as u64).div_ceil(WORKGROUP),
    )
}

/// Global max, average or Lp pooling of `input` `[N, C, *spatial]` into `output` `[N, C, 1, ..]`
/// (any shape with N*C elements).
pub fn global_pool<B: Binding>(
    target: &Target,
    kind: PoolKind,
    input_shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let op = kind.name(true);
    global_pool_output_shape(kind, input_shape)?;
    let rows = input_shape[0] * input_shape[1];
    let len = numel(&input_shape[2..]);
    check_binding(target, op, "input", input, input_shape)?;
    check_binding(target, op, "output", output, &[rows])?;
    to_u32(op, "input element count", numel(input_shape))?;
    let threads = row_threads(len);
    let rows_per_wg = WORKGROUP / threads as u64;
    let params = GlobalPoolParams {
        rows: to_u32(op, "rows", rows)?,
        len: to_u32(op, "spatial size", len)?,
        p: kind.p(),
        ..Default::default()
    };
    let constants = [
        ("POOL_KIND", kind.code() as f64),
        ("ROW_THREADS", threads as f64),
    ];
    target.launch(
        Shader::GlobalPool,
        &constants,
        &params,
        &[input, output],
        (rows as u64).div_ceil(rows_per_wg),
    )
}
