//! Operation descriptions: hyper-parameters and shape rules, shared by the CPU reference, the
//! GPU kernels and the graph. Nothing here knows about wgpu.

mod activation;
mod broadcast;
mod conv;
mod pool;
mod rearrange;
mod resize;

pub use activation::{Activation, Epilogue};
pub use broadcast::{BinaryOp, broadcast_shape, broadcast_strides};
pub use conv::{ConvSpec, ConvTransposeSpec};
pub use pool::{PoolKind, PoolSpec};
pub use rearrange::{ChannelOrder, ChannelShuffle, PixelShuffle, SpaceToDepth};
pub use resize::{CoordinateMode, NearestMode, ResizeMode, ResizeSpec, pad_shape};
