//! ONNX import: `onnx.proto` decoded with prost (generated code in [`proto`], no `protoc` needed
//! at build time), lowered onto a [`crate::graph::Graph`].

mod attrs;
mod fold;
mod import;
#[allow(clippy::all, missing_docs)]
pub mod proto;
mod support;
mod tensor;
mod versions;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::tensor::Tensor;

pub use import::OPSETS;
pub(crate) use import::{decode_model, model_graph};
pub use support::{SUPPORTED_OPS, reads_on_host};
pub use tensor::{Const, ConstData};

/// How to import a model.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Shapes for inputs with dynamic dimensions (or to check against the declared ones).
    pub input_shapes: HashMap<String, Vec<usize>>,
    /// Graph inputs to treat as constants (ONNX conformance tests pass weights as inputs).
    pub constants: HashMap<String, Tensor>,
}

/// Decodes one `TensorProto` (its data inline, not in an external file) as the importer does:
/// floats of every width as f32, integers and booleans as i64. The ONNX backend tests store
/// their inputs and outputs this way.
pub fn decode_tensor(t: &proto::TensorProto) -> Result<Const> {
    tensor::decode(t, None)
}

/// Imports a model from memory (external data files are not reachable this way).
pub fn import_bytes(bytes: &[u8], opts: &ImportOptions) -> Result<Graph> {
    import::import(bytes, opts, None)
}

/// Imports a model from memory whose external data files lie in `base`.
pub fn import_bytes_at(bytes: &[u8], base: Option<&Path>, opts: &ImportOptions) -> Result<Graph> {
    import::import(bytes, opts, base)
}

/// Imports a model file; external data is read relative to its folder.
pub fn import_path(path: &Path, opts: &ImportOptions) -> Result<Graph> {
    let bytes = std::fs::read(path).map_err(Error::io("reading", path))?;
    let base: PathBuf = path.parent().map(Path::to_path_buf).unwrap_or_default();
    import::import(&bytes, opts, Some(&base))
}
