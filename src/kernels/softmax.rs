//! Softmax along any axis (`shaders/softmax.wgsl`).

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::pool::{check_binding, row_threads};
use crate::kernels::{Binding, Launch, Target};
use crate::ops::SoftmaxKind;
use crate::shaders::Shader;
use crate::tensor::numel;

/// Invocations per workgroup.
const WORKGROUP: u64 = 256;
/// From this many independent rows side by side in memory (the `inner` extent), one invocation
/// per row reads coalesced and beats a strided workgroup reduction per row.
pub const COLUMN_MIN_INNER: usize = 32;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/softmax.wgsl`.
    pub struct SoftmaxParams {
        pub rows: u32,
        pub len: u32,
        pub inner: u32,
        pub _pad0: u32,
    }
}

/// `output = softmax(input, axis)` for a dense tensor of `shape`, numerically stable (the row
/// maximum is subtracted before `exp`).
pub fn softmax<B: Binding>(
    target: &Target,
    axis: usize,
    shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    softmax_kind(target, SoftmaxKind::Softmax, axis, shape, input, output)
}

/// `output = kind(input, axis)`: softmax, log-softmax (both subtract the row maximum first) or
/// hardmax.
pub fn softmax_kind<B: Binding>(
    target: &Target,
    kind: SoftmaxKind,
    axis: usize,
    shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let op = kind.name();
    if axis >= shape.len() {
        return Err(Error::invalid_op(
            op,
            format!("axis {axis} is out of range for shape {shape:?}"),
        ));
    }
    check_binding(target, op, "input", input, shape)?;
    check_binding(target, op, "output", output, shape)?;
    to_u32(op, "element count", numel(shape))?;
    let outer = numel(&shape[..axis]);
    let len = shape[axis];
    // Hardmax carries indices through the f32 tree.
    if kind == SoftmaxKind::Hardmax && len > 1 << 24 {
        return Err(Error::invalid_op(
            op,
            format!("axis length {len} exceeds 2^24 (indices exact in f32)"),
        ));
    }
    let inner = numel(&shape[axis + 1..]);
    let rows = outer * inner;
    let params = SoftmaxParams {
        rows: to_u32(op, "rows", rows)?,
        len: to_u32(op, "axis length", len)?,
        // Never 0: the shader divides by it (an empty tensor launches no workgroups anyway).
        inner: to_u32(op, "inner size", inner.max(1))?,
        ..Default::default()
    };
    let columns = inner >= COLUMN_MIN_INNER;
    // Column mode ignores ROW_THREADS; a fixed value keeps one pipeline for it.
    let threads = if columns { 256 } else { row_threads(len) };
    let workgroups = if columns {
        (rows as u64).div_ceil(WORKGROUP)
    } else {
        (rows as u64).div_ceil(WORKGROUP / threads as u64)
    };
    let workgroups = if len == 0 { 0 } else { workgroups };
    target.launch(
        Shader::Softmax,
        &[
            ("COLUMNS", if columns { 1.0 } else { 0.0 }),
            ("ROW_THREADS", threads as f64),
            ("MODE", kind.code() as f64),
        ],
        &params,
        &[input, output],
        workgroups,
    )
}
