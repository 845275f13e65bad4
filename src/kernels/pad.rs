//! Constant padding of any rank (`shaders/pad.wgsl`).

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, Launch, Target};
use crate::ops::pad_shape;
use crate::shaders::Shader;
use crate::tensor::numel;

/// Invocations per workgroup (`WG` in the shader).
const WORKGROUP: u64 = 256;
/// Outputs per invocation (`ELEMS` in the shader).
const ELEMS: u64 = 4;
/// Live dims the kernel unravels.
pub const MAX_RANK: usize = 6;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/pad.wgsl`.
    pub struct PadParams {
        pub total: u32,
        pub value: f32,
        pub o0: u32, pub o1: u32, pub o2: u32, pub o3: u32, pub o4: u32, pub o5: u32,
        pub i0: u32, pub i1: u32, pub i2: u32, pub i3: u32, pub i4: u32, pub i5: u32,
        pub b0: u32, pub b1: u32, pub b2: u32, pub b3: u32, pub b4: u32, pub b5: u32,
    }
}

/// `(out, in, begin)` per dim after merging every unpadded dim into its outer neighbour: with
/// the inner dim complete on both sides, the pair is one dim of `out * d` outputs, `in * d`
/// inputs, starting at `begin * d`.
pub fn merged_dims(
    input_shape: &[usize],
    begin: &[usize],
    end: &[usize],
) -> Vec<(usize, usize, usize)> {
    let mut dims: Vec<(usize, usize, usize)> = Vec::new();
    for d in 0..input_shape.len() {
        let (i, b, e) = (input_shape[d], begin[d], end[d]);
        match dims.last_mut() {
            Some(last) if b == 0 && e == 0 => {
                last.0 *= i;
                last.1 *= i;
                last.2 *= i;
            }
            _ => dims.push((b + i + e, i, b)),
        }
    }
    dims
}

/// `output = pad(input)`: `begin[d]` leading and `end[d]` trailing `value`s along every dim.
pub fn pad<B: Binding>(
    target: &Target,
    begin: &[usize],
    end: &[usize],
    value: f32,
    input_shape: &[usize],
    input: B,
    output: B,
) -> Result<Launch<B>> {
    let out_shape = pad_shape(input_shape, begin, end)?;
    let total = numel(&out_shape);
    for (what, len, b) in [
        ("input", numel(input_shape), input),
        ("output", total, output),
    ] {
        if target.elem_bytes(len) > b.size() {
            return Err(Error::invalid_op(
                "pad",
                format!(
                    "{what} binding of {} bytes is too small for {len} elements ({input_shape:?} -> {out_shape:?})",
                    b.size()
                ),
            ));
        }
    }
    // The shader forms indices up to a workgroup's overshoot past `total`.
    to_u32(
        "pad",
        "output elements",
        total + (WORKGROUP * ELEMS) as usize,
    )?;
    let dims = merged_dims(input_shape, begin, end);
    if dims.len() > MAX_RANK {
        return Err(Error::invalid_op(
            "pad",
            format!(
                "padding {begin:?} / {end:?} of {input_shape:?} leaves {} dims after merging unpadded ones, the kernel takes {MAX_RANK}",
                dims.len()
            ),
        ));
    }
    // Left-pad to six dims: extent 1, no padding.
    let mut d = [(1usize, 1usize, 0usize); MAX_RANK];
    d[MAX_RANK - dims.len()..].copy_from_slice(&dims);
    let u = |v: usize| to_u32("pad", "size", v);
    let params = PadParams {
        total: u(total)?,
        value,
        o0: u(d[0].0)?,
        o1: u(d[1].0)?,
        o2: u(d[2].0)?,
        o3: u(d[3].0)?,
        o4: u(d[4].0)?,
        o5: u(d[5].0)?,
        i0: u(d[0].1)?,
        i1: u(d[1].1)?,
        i2: u(d[2].1)?,
        i3: u(d[3].1)?,
        i4: u(d[4].1)?,
        i5: u(d[5].1)?,
        b0: u(d[0].2)?,
        b1: u(d[1].2)?,
        b2: u(d[2].2)?,
        b3: u(d[3].2)?,
        b4: u(d[4].2)?,
        b5: u(d[5].2)?,
    };
    target.launch(
        Shader::Pad,
        &[("RANK", dims.len().max(1) as f64)],
        &params,
        &[input, output],
        (total as u64).div_ceil(WORKGROUP * ELEMS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spatial_padding_merges_batch_and_channels() {
        // NCHW padded in H and W only: N and C fold into one dim of planes.
        let d = merged_dims(&[2, 3, 5, 7], &[0, 0, 1, 2], &[0, 0, 1, 0]);
        assert_eq!(d, vec![(6, 6, 0), (7, 5, 1), (9, 7, 2)]);
        // Channel padding: W merges into H, H into C.
        let d = merged_dims(&[2, 3, 5, 7], &[0, 1, 0, 0], &[0, 2, 0, 0]);
        assert_eq!(d, vec![(2, 2, 0), (6 * 35, 3 * 35, 35)]);
    }
}
