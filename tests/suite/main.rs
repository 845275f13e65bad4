//! The integration test suite: one binary, so one GPU context and one link step.

mod channel_affine;
mod common;
mod eltwise;
mod shaders;
mod summary;
