//! Reductions over any set of axes (`shaders/reduce.wgsl`).

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::pool::{check_binding, row_threads};
use crate::kernels::{Binding, Launch, Target};
use crate::ops::ReduceSpec;
use crate::shaders::Shader;
use crate::tensor::numel;

/// Invocations per workgroup.
const WORKGROUP: u64 = 256;
/// Kept and reduced dims the shader walks (each after merging contiguous runs).
pub const MAX_DIMS: usize = 8;
/// Up to this many reduced elements, one invocation per output: a tree of at least 32 lanes
/// would leave most of them idle.
pub const SERIAL_MAX_LEN: usize = 32;
/// The largest index an f16 element holds exactly (every integer up to 2^11).
pub const F16_MAX_INDEX: usize = 1 << 11;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/reduce.wgsl`.
    pub struct ReduceParams {
        pub total: u32,
        pub rlen: u32,
        pub out_rank: u32,
        pub red_rank: u32,
        pub out_dims: [[u32; 4]; 2],
        pub out_strides: [[u32; 4]; 2],
        pub red_dims: [[u32; 4]; 2],
        pub red_strides: [[u32; 4]; 2],
    }
}

/// The input as kept and reduced index spaces: `(dims, strides)` of each, outermost first,
/// with size-1 dims dropped and runs that are contiguous in memory merged into one dim.
pub fn geometry(spec: &ReduceSpec, shape: &[usize]) -> [(Vec<usize>, Vec<usize>); 2] {
    let mut stride = 1;
    let mut strides = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        strides[d] = stride;
        stride *= shape[d];
    }
    // (dim, stride, reduced), outermost first.
    let mut runs: Vec<(usize, usize, bool)> = Vec::new();
    for (d, &n) in shape.iter().enumerate() {
        if n == 1 {
            continue;
        }
        let red = spec.reduces(d);
        match runs.last_mut() {
            // The previous dim of the same side steps over exactly this one: one dim.
            Some(p) if p.2 == red && p.1 == strides[d] * n => *p = (p.0 * n, strides[d], red),
            _ => runs.push((n, strides[d], red)),
        }
    }
    let side = |red: bool| {
        runs.iter()
            .filter(|r| r.2 == red)
            .map(|r| (r.0, r.1))
            .unzip()
    };
    [side(false), side(true)]
}

fn pack(op: &str, what: &str, v: &[usize], fill: u32) -> Result<[[u32; 4]; 2]> {
    let mut out = [[fill; 4]; 2];
    for (i, &x) in v.iter().enumerate() {
        out[i / 4][i % 4] = to_u32(op, what, x)?;
    }
    Ok(out)
}

/// `output = reduce(input)` over `spec.axes` for a dense `input` of `shape`, into a dense
/// `output` of `spec.output_shape(shape)`.
pub fn reduce<B: Binding>(
    target: &Target,
    spec: &ReduceSpec,
    shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let op = spec.kind.name();
    let out_shape = spec.output_shape(shape)?;
    // Outputs are stored as Elem: an f16 index past 2048 would round to a neighbour. Segmentation
    // heads reduce over classes (tens to hundreds), so refusing is cheaper than an f32 output.
    let len = spec.reduced_len(shape);
    if spec.kind.is_arg() && target.precision.is_f16() && len - 1 > F16_MAX_INDEX {
        return Err(Error::invalid_op(
            op,
            format!(
                "axes {:?} of {shape:?} hold {len} elements: in {} storage only indices up to \
                 {F16_MAX_INDEX} are exact (use an f32 session)",
                spec.axes,
                target.precision.name()
            ),
        ));
    }
    check_binding(target, op, "input", input, shape)?;
    check_binding(target, op, "output", output, &out_shape)?;
    to_u32(op, "input element count", numel(shape))?;
    let [(kd, ks), (rd, rs)] = geometry(spec, shape);
    if kd.len() > MAX_DIMS || rd.len() > MAX_DIMS {
        return Err(Error::invalid_op(
            op,
            format!(
                "axes {:?} of {shape:?} alternate kept and reduced dims more than {MAX_DIMS} times",
                spec.axes
            ),
        ));
    }
    let total = numel(&kd);
    let rlen = numel(&rd);
    let params = ReduceParams {
        total: to_u32(op, "output element count", total)?,
        rlen: to_u32(op, "reduced element count", rlen)?,
        out_rank: kd.len() as u32,
        red_rank: rd.len() as u32,
        out_dims: pack(op, "dim", &kd, 1)?,
        out_strides: pack(op, "stride", &ks, 0)?,
        red_dims: pack(op, "dim", &rd, 1)?,
        red_strides: pack(op, "stride", &rs, 0)?,
    };
    let threads = if rlen <= SERIAL_MAX_LEN {
        1
    } else {
        row_threads(rlen)
    };
    let workgroups = (total as u64).div_ceil(WORKGROUP / threads as u64);
    target.launch(
        Shader::Reduce,
        &[
            ("REDUCE_KIND", spec.kind.code() as f64),
            ("ROW_THREADS", threads as f64),
        ],
        &params,
        &[input, output],
        workgroups,
    )
}
