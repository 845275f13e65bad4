//! Operation descriptions: hyper-parameters and shape rules, shared by the CPU reference, the
//! GPU kernels and the graph. Nothing here knows about wgpu.

mod activation;
mod broadcast;
mod conv;
mod matmul;
mod norm;
mod pixels;
mod pool;
mod rearrange;
mod reduce;
mod resize;
mod softmax;

pub use activation::{Activation, Epilogue};

use crate::error::{Error, Result};

/// The largest hyper-parameter (kernel extent, stride, padding, dilation, factor, groups,
/// output size) an op accepts: kernels receive them as 32-bit integers, and with dimensions
/// bounded by [`crate::tensor::checked_numel`] this keeps shape arithmetic from overflowing.
pub const MAX_PARAM: usize = i32::MAX as usize;

/// Checks every value of the hyper-parameter `name` against [`MAX_PARAM`].
pub(crate) fn check_param(op: &str, name: &str, values: &[usize]) -> Result<()> {
    if let Some(v) = values.iter().find(|&&v| v > MAX_PARAM) {
        return Err(Error::invalid_op(
            op,
            format!("{name} {values:?}: {v} exceeds the limit {MAX_PARAM}"),
        ));
    }
    Ok(())
}

/// `a + b + c`, or an error naming what overflowed (shape rules are public: their inputs
/// are not always shapes a graph has checked).
pub(crate) fn add3(op: &str, what: &str, a: usize, b: usize, c: usize) -> Result<usize> {
    a.checked_add(b)
        .and_then(|s| s.checked_add(c))
        .ok_or_else(|| Error::invalid_op(op, format!("{what}: {a} + {b} + {c} overflows")))
}

/// `a * b`, or an error naming what overflowed.
pub(crate) fn mul(op: &str, what: &str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b)
        .ok_or_else(|| Error::invalid_op(op, format!("{what}: {a} * {b} overflows")))
}
pub use broadcast::{BinaryOp, broadcast_shape, broadcast_strides, where_shape};
pub use conv::{ConvSpec, ConvTransposeSpec};
pub use matmul::{BatchLevel, MatmulShape, matmul_output_shape, matmul_shape};
pub use norm::{NormKind, NormOutput, NormSpec};
pub use pixels::{PixelOrder, Rgba8Normalize};
pub use pool::{
    MAX_LP_P, MAX_POOL_INDEX, MAX_POOL_RANK, PoolKind, PoolSpec, global_pool_output_shape,
    pool_fusable_into_se_gate,
};
pub use rearrange::{ChannelOrder, ChannelShuffle, PixelShuffle, SpaceToDepth, transpose_shape};
pub use reduce::{ReduceKind, ReduceSpec};
pub use resize::{CoordinateMode, NearestMode, ResizeMode, ResizeSpec, pad_shape};
pub use softmax::SoftmaxKind;
