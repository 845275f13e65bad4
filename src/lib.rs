//! wgconv: a GPU inference engine for convolutional networks, on wgpu, with every kernel a
//! hand-written WGSL compute shader.
//!
//! Layers, from the bottom (each module imports only from below; README "Architecture"):
//! [`error`], [`precision`], [`tensor`] (host tensors), [`ops`] (hyper-parameters and shape
//! rules), [`shaders`] and [`kernels`] (pure launch builders: shapes and bindings in, a
//! [`kernels::Launch`] out), [`reference`](mod@reference) (the CPU oracle), [`graph`] (typed ops, builder,
//! passes, CPU executor), [`plan`] (graph + target -> buffers, parameters, launches; no GPU),
//! [`device`] (adapter, pipelines, GPU tensors, timers), [`tune`] (the autotuner), [`session`]
//! (allocate, upload, bind, run), [`dynamic`] (plans per shape signature, cached). Front ends
//! and tools: [`onnx`], [`blocks`], [`zoo`],
//! [`weights`], [`summary`], [`problem`], [`validate`], [`bench`](mod@bench).

pub mod bench;
pub mod blocks;
pub mod cli_model;
pub mod compare;
pub mod demo;
pub mod device;
pub mod dynamic;
pub mod error;
pub mod graph;
pub mod kernels;
pub mod model;
#[cfg(feature = "ndarray")]
mod ndarray_io;
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

pub use device::{Gpu, GpuOptions};
pub use device::{GpuTensor, Rgba8Frames};
pub use dynamic::{Dim, DynamicSession, InputInfo, InputKind};
pub use error::{Error, Result};
pub use model::SessionConfig;
pub use precision::Precision;
pub use session::{GpuInput, Session, SessionOptions};
pub use tensor::Tensor;
