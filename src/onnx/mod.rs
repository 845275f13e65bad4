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
///
/// ```
/// # use prost::Message;
/// # use wgconv::onnx::proto::{tensor_shape_proto::{Dimension, dimension::Value}, type_proto};
/// # use wgconv::onnx::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto};
/// # use wgconv::onnx::proto::{TensorShapeProto, TypeProto, ValueInfoProto};
/// # let dim = |d| Dimension { value: Some(Value::DimValue(d)), ..Default::default() };
/// # let x_info = ValueInfoProto { name: Some("x".into()), r#type: Some(TypeProto { value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type: Some(1), shape: Some(TensorShapeProto { dim: vec![dim(1), dim(4)] }) })), ..Default::default() }), ..Default::default() };
/// # let relu = NodeProto { op_type: Some("Relu".into()), input: vec!["x".into()], output: vec!["y".into()], ..Default::default() };
/// # let y_info = ValueInfoProto { name: Some("y".into()), ..Default::default() };
/// # let graph = GraphProto { node: vec![relu], input: vec![x_info], output: vec![y_info], ..Default::default() };
/// # let opset = OperatorSetIdProto { domain: Some(String::new()), version: Some(17) };
/// # let model = ModelProto { ir_version: Some(8), opset_import: vec![opset], graph: Some(graph), ..Default::default() };
/// use wgconv::graph::cpu;
/// use wgconv::onnx::{ImportOptions, import_bytes};
/// use wgconv::{Session, SessionConfig, Tensor};
///
/// // `bytes`: an ONNX file's contents, here `y = Relu(x)` with x of shape [1, 4].
/// let bytes = model.encode_to_vec();
/// let graph = import_bytes(&bytes, &ImportOptions::default())?;
/// let x = Tensor::new(vec![1, 4], vec![-2.0, -0.5, 0.5, 2.0])?;
/// assert_eq!(cpu::run(&graph, std::slice::from_ref(&x))?[0].data(), &[0.0, 0.0, 0.5, 2.0]);
/// // Or straight to a session on the device.
/// let session = Session::from_onnx_bytes(&bytes, &SessionConfig::default().cache_dir(None))?;
/// assert_eq!(session.run_named(&[("x", &x)])?[0].1.data(), &[0.0, 0.0, 0.5, 2.0]);
/// # Ok::<(), wgconv::Error>(())
/// ```
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
