//! Window pooling (`shaders/pool.wgsl`) and global pooling (`shaders/global_pool.wgsl`).

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, Launch, Target};
use crate::ops::{PoolKind, PoolSpec};
use crate::shaders::Shader;
use crate::tensor::numel;

/// Invocations per workgroup of both shaders.
const WORKGROUP: u64 = 256;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/pool.wgsl`.
    pub struct PoolParams {
        pub total: u32,
        pub h: u32, pub w: u32,
        pub oh: u32, pub ow: u32,
        pub kh: u32, pub kw: u32,
        pub sh: u32, pub sw: u32,
        pub dh: u32, pub dw: u32,
        pub pad_top: u32, pub pad_left: u32, pub pad_bottom: u32, pub pad_right: u32,
        pub _pad0: u32,
    }
}

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/global_pool.wgsl`.
    pub struct GlobalPoolParams {
        pub rows: u32,
        pub len: u32,
        pub _pad0: u32,
        pub _pad1: u32,
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

/// 2-D max or average pooling of `input` `[N, C, H, W]` into `output`
/// `[N, C, OH, OW]` = `spec.output_shape(input_shape)`.
pub fn pool<B: Binding>(
    target: &Target,
    spec: &PoolSpec,
    input_shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let op = spec.kind.name(false);
    let out_shape = spec.output_shape(input_shape)?;
    check_binding(target, op, "input", input, input_shape)?;
    check_binding(target, op, "output", output, &out_shape)?;
    to_u32(op, "input element count", numel(input_shape))?;
    // The shader forms `y * sh - pad_top` and `h + pad_bottom` in i32.
    let reach = (input_shape[2] + spec.pad_end[0])
        .max(input_shape[3] + spec.pad_end[1])
        .max(out_shape[2] * spec.stride[0])
        .max(out_shape[3] * spec.stride[1]);
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
        h: u(input_shape[2])?,
        w: u(input_shape[3])?,
        oh: u(out_shape[2])?,
        ow: u(out_shape[3])?,
        kh: u(spec.kernel[0])?,
        kw: u(spec.kernel[1])?,
        sh: u(spec.stride[0])?,
        sw: u(spec.stride[1])?,
        dh: u(spec.dilation[0])?,
        dw: u(spec.dilation[1])?,
        pad_top: u(spec.pad_begin[0])?,
        pad_left: u(spec.pad_begin[1])?,
        pad_bottom: u(spec.pad_end[0])?,
        pad_right: u(spec.pad_end[1])?,
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

/// Global max or average pooling of `input` `[N, C, *spatial]` into `output` `[N, C, 1, ..]`
/// (any shape with N*C elements).
pub fn global_pool<B: Binding>(
    target: &Target,
    kind: PoolKind,
    input_shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let op = kind.name(true);
    if input_shape.len() < 3 || input_shape[2..].contains(&0) {
        return Err(Error::invalid_op(
            op,
            format!("input {input_shape:?} must be [N, C, *spatial] with a non-empty spatial part"),
        ));
    }
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
