//! The integration test suite: one binary, so one GPU context and one link step.

mod common;
mod eltwise;
mod pool;
mod rearrange;
mod shaders;
mod softmax;
