//! The integration test suite: one binary, so one GPU context and one link step.

mod api;
mod bench;
mod big_tensors;
mod blocks;
mod channel_affine;
mod cli;
mod common;
mod conv;
mod conv_transpose;
mod depthwise;
mod eltwise;
mod graph;
mod matmul;
mod nan;
mod onnx;
mod pad;
mod plan;
mod pool;
mod rearrange;
mod resize;
mod robustness;
mod shaders;
mod softmax;
mod summary;
mod validate;
mod zoo;
