//! wgconv: a GPU inference engine for convolutional networks, on wgpu, with every kernel a
//! hand-written WGSL compute shader.
//!
//! Layers, from the bottom: [`ops`] (hyper-parameters and shape rules), [`reference`] (the CPU
//! oracle), [`shaders`] + [`kernels`] (WGSL sources and their host side), [`device`] (adapter
//! choice and error handling). Whole networks: [`graph`] (typed ops, shape inference, builder,
//! passes, CPU executor), [`plan`] (kernel choice and buffers by liveness, pure), [`session`]
//! (run on the device, one submit), [`blocks`] and [`zoo`] (the seeds' blocks, torchvision
//! networks), [`weights`] (safetensors, seeded init) and [`summary`] (torchsummary tables). [`problem`]: one
//! convolution problem shared by the tests, the validate battery and the benchmarks.

pub mod bench;
pub mod blocks;
pub mod cli_model;
pub mod compare;
pub mod demo;
pub mod device;
pub mod error;
pub mod graph;
pub mod kernels;
pub mod model;
pub mod npy;
pub mod onnx;
pub mod ops;
pub mod plan;
pub mod precision;
pub mod problem;
pub mod reference;
pub mod session;
pub mod shader_check;
pub mod shaders;
pub mod summary;
pub mod tensor;
pub mod tune;
pub mod validate;
pub mod weights;
pub mod zoo;

pub use device::GpuTensor;
pub use device::{Gpu, GpuOptions};
pub use error::{Error, Result};
pub use model::SessionConfig;
pub use precision::Precision;
pub use session::{Session, SessionOptions};
pub use tensor::Tensor;
