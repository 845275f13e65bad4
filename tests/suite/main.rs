//! The integration test suite: one binary, so one GPU context and one link step.

mod common;
mod conv;
mod conv_transpose;
mod depthwise;
mod eltwise;
mod matmul;
mod pool;
mod rearrange;
mod shaders;
mod softmax;
mod validate;
