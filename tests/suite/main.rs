//! The integration test suite: one binary, so one GPU context and one link step.

mod blocks;
mod channel_affine;
mod common;
mod eltwise;
mod graph;
mod plan;
mod shaders;
mod summary;
mod zoo;
