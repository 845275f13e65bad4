//! wgconv: a GPU inference engine for convolutional networks, on wgpu, with every kernel a
//! hand-written WGSL compute shader.
//!
//! # Quick start
//!
//! Build a network with the builder API (or import one: `Session::from_onnx_path`, feature
//! `onnx`), run it on the best adapter wgpu finds, and check it against the CPU reference:
//!
//! ```
//! use wgconv::compare::{Tolerance, compare};
//! use wgconv::graph::{Conv2d, Graph, cpu};
//! use wgconv::{Session, SessionConfig, Tensor, weights};
//!
//! let mut g = Graph::new();
//! let x = g.input("x", &[1, 3, 16, 16]);
//! let y = g.conv2d(x, "conv1", Conv2d::new(8, 3).pad(1))?;
//! let y = g.relu(y)?;
//! g.output(y);
//! weights::init_seeded(&mut g, 7);
//!
//! // `cache_dir(None)`: nothing on disk (by default caches go to the platform's cache dir).
//! let session = Session::from_graph(&g, &SessionConfig::default().cache_dir(None))?;
//! let input = Tensor::random(vec![1, 3, 16, 16], 1);
//! let got = session.run(std::slice::from_ref(&input))?;
//! let want = cpu::run(&g, &[input])?;
//! assert_eq!(got[0].shape(), &[1, 8, 16, 16]);
//! let tol = Tolerance { atol: 1e-4, rtol: 1e-4 };
//! assert!(compare(got[0].data(), want[0].data(), tol).passed());
//! # Ok::<(), wgconv::Error>(())
//! ```
//!
//! The library prints nothing: diagnostics go through the [`log`](https://docs.rs/log)
//! crate, and it reads no environment variable unless asked ([`GpuOptions::from_env`]).
//!
//! # Features
//!
//! The default features build the `wgconv` command line and every front end; a library
//! depending on wgconv with `default-features = false` gets the core (graphs, plans,
//! kernels, sessions, the zoo) and picks from: `onnx` (ONNX import), `safetensors` (PyTorch
//! weights), `npy` (`.npy` files), `validate` (kernels against the CPU reference, shaders
//! translated to every backend), `bench` (benchmarks, roofline plots); `cli` is the binary.
//!
//! # Layers
//!
//! From the bottom (each module imports only from below; README "Architecture"):
//! [`error`], [`precision`], [`tensor`] (host tensors), [`ops`] (hyper-parameters and shape
//! rules), [`shaders`] and [`kernels`] (pure launch builders: shapes and bindings in, a
//! [`kernels::Launch`] out), [`reference`](mod@reference) (the CPU oracle), [`graph`] (typed
//! ops, builder, passes, CPU executor), [`plan`] (graph + target -> buffers, parameters,
//! launches; no GPU), [`device`] (adapter, pipelines, GPU tensors, timers), [`tune`] (the
//! autotuner), [`session`] (allocate, upload, bind, run), [`dynamic`] (plans per shape
//! signature, cached), [`adapter_pool`] (one model on several adapters, runs spread by load).
//! Front ends and tools: `onnx`, [`blocks`], [`zoo`], [`weights`],
//! [`summary`], [`problem`], `validate`, `bench`.

#![warn(missing_docs)]

pub mod adapter_pool;
#[cfg(feature = "bench")]
pub mod bench;
pub mod blocks;
pub mod compare;
pub mod device;
pub mod dynamic;
pub mod error;
pub mod graph;
pub mod kernels;
pub mod model;
#[cfg(feature = "ndarray")]
mod ndarray_io;
#[cfg(feature = "npy")]
pub mod npy;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod ops;
pub mod plan;
pub mod precision;
pub mod problem;
pub mod reference;
pub mod session;
#[cfg(feature = "validate")]
pub mod shader_check;
pub mod shaders;
pub mod summary;
pub mod tensor;
pub mod traffic;
pub mod tune;
#[cfg(feature = "validate")]
pub mod validate;
pub mod weights;
pub mod zoo;

pub use adapter_pool::{AdapterFilter, Pool};
pub use device::{Gpu, GpuOptions};
pub use device::{GpuTensor, Rgba8Frames};
pub use dynamic::{Dim, DynamicSession, InputInfo, InputKind};
pub use error::{Error, Result, UnsupportedNode};
pub use model::SessionConfig;
pub use precision::Precision;
pub use session::{GpuInput, Session, SessionOptions};
pub use tensor::Tensor;
