//! One error type for the whole crate. Bad input is an error that names what and where;
//! panics are reserved for broken internal invariants.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong in wgconv.
///
/// Each variant names what was wrong and where, so callers can match on it:
///
/// ```
/// use wgconv::graph::{Conv2d, Graph};
/// use wgconv::{Error, Tensor};
///
/// let err = Tensor::new(vec![1, 3], vec![0.0; 4]).unwrap_err();
/// assert_eq!(err.to_string(), "tensor shape [1, 3] needs 3 elements, got 4");
///
/// let mut g = Graph::new();
/// let x = g.input("x", &[1, 3, 8, 8]);
/// // Six output channels cannot be split into four groups.
/// let err = g.conv2d(x, "conv", Conv2d::new(6, 3).groups(4)).unwrap_err();
/// assert!(matches!(err, Error::InvalidOp { .. }), "{err}");
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
#[allow(missing_docs)] // each variant's message names its fields and says what they hold
pub enum Error {
    /// No adapter matched the request.
    #[error("no GPU adapter found (tried backends: {tried}{filter}). {hint}")]
    NoAdapter {
        /// The backends asked.
        tried: String,
        /// The adapter name filter, if any, as text.
        filter: String,
        /// What to try next.
        hint: &'static str,
    },
    /// An environment variable or option had a value wgconv does not understand.
    #[error("invalid setting {name}={value:?}: {reason}")]
    InvalidSetting {
        /// The variable or option.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The adapter refused to create a device.
    #[error("could not create a device on adapter {adapter:?}: {message}")]
    RequestDevice {
        /// The adapter's name.
        adapter: String,
        /// wgpu's error.
        message: String,
    },
    /// A wgpu validation error caught by an error scope (a bug in wgconv, or a driver issue).
    #[error("GPU validation error during {during}: {message}")]
    Validation {
        /// What wgconv was doing.
        during: String,
        /// wgpu's error.
        message: String,
    },
    /// The device ran out of memory (caught by an out-of-memory error scope).
    #[error("GPU out of memory during {during}: {message}")]
    OutOfMemory {
        /// What wgconv was doing.
        during: String,
        /// wgpu's error.
        message: String,
    },
    /// The device was lost (reported by its device-lost callback); create a new [`crate::Gpu`]
    /// to continue.
    #[error("GPU device lost: {reason}")]
    DeviceLost {
        /// The driver's reason.
        reason: String,
    },
    /// Reading results back from the GPU failed (the buffer could not be mapped).
    #[error("reading back from the GPU failed: {0}")]
    Readback(String),
    /// A tensor's data does not match its shape.
    #[error("tensor shape {shape:?} needs {expected} elements, got {actual}")]
    ShapeDataMismatch {
        /// The shape given.
        shape: Vec<usize>,
        /// Its element count.
        expected: usize,
        /// The number of elements given.
        actual: usize,
    },
    /// An input of a [`crate::DynamicSession`] does not fit the model: wrong rank, a fixed
    /// dimension, a symbolic dimension bound differently by another input, or non-integer
    /// values where the model reads shapes or indices. (Fixed-shape sessions report
    /// [`Error::ShapeMismatch`].)
    #[error("input {input:?} (read by {feeds}): expected {expected}, got {got}")]
    InputMismatch {
        /// The input.
        input: String,
        /// The nodes that read it.
        feeds: String,
        /// What the model takes there (e.g. `rank 4 ([N, 3, H, W])`).
        expected: String,
        /// What was given.
        got: String,
    },
    /// ONNX nodes the importer cannot take, all of them at once, found before anything is
    /// lowered. The ops it can take are `wgconv::onnx::SUPPORTED_OPS` (feature `onnx`).
    #[error("{} unsupported ONNX node(s):\n  {}", nodes.len(), list_lines(nodes))]
    UnsupportedOps {
        /// Each refused node, in file order.
        nodes: Vec<UnsupportedNode>,
    },
    /// The model's default-domain opset is outside `wgconv::onnx::OPSETS`: a newer opset may
    /// change what an op means, so it is refused rather than guessed.
    #[error(
        "ONNX model: default-domain opset {opset} is {}: the supported opsets are {}..={}",
        if opset > supported.end() { "newer than the importer knows" } else { "older than the importer reads" },
        supported.start(),
        supported.end()
    )]
    UnsupportedOpset {
        /// The opset the model declares.
        opset: i64,
        /// The opsets the importer reads.
        supported: std::ops::RangeInclusive<i64>,
    },
    /// The model file does not follow the ONNX format: a protobuf that does not decode, no
    /// graph, an edge read before it is defined, an output never computed, a tensor whose
    /// data does not match its type or shape.
    #[error("malformed ONNX model in {location}: {what}{}", source.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    MalformedModel {
        /// What is wrong.
        what: String,
        /// Where in the model: the file as a whole, a node, a tensor, a graph output.
        location: String,
        /// The protobuf decoder's error (`prost::DecodeError`), when decoding failed (it
        /// names the message and field it was reading). Boxed so the type exists without
        /// the `onnx` feature.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A named input the model does not have.
    #[error("unknown input {name:?}; the model's inputs are {known:?}")]
    UnknownInput {
        /// The name given.
        name: String,
        /// The model's inputs, in order.
        known: Vec<String>,
    },
    /// A model input that was not given.
    #[error("missing input {name:?}; the model's inputs are {expected:?}")]
    MissingInput {
        /// The input that is missing.
        name: String,
        /// The model's inputs, in order.
        expected: Vec<String>,
    },
    /// An input given twice by name.
    #[error("input {name:?} given twice")]
    DuplicateInput {
        /// The name given twice.
        name: String,
    },
    /// Inputs or outputs given by position, one per graph input or output, and the count
    /// is wrong.
    #[error("the graph takes {expected} {what}(s), got {got}")]
    CountMismatch {
        /// `"input"`, `"output"` or `"input shape"`.
        what: &'static str,
        /// How many the model has.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// A tensor given to a fixed-shape session has another shape than the planned one.
    #[error("{what}: expects shape {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// Which tensor (e.g. `session input "x"`).
        what: String,
        /// The planned shape.
        expected: Vec<usize>,
        /// The shape given.
        got: Vec<usize>,
    },
    /// Reading or writing a file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// `"reading"`, `"writing"`, ...
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An operation was given shapes or attributes it cannot take: a graph that is well
    /// formed but asks for something invalid (a kernel larger than its padded input, groups
    /// that do not divide the channels, ...).
    #[error("{op}: {message}")]
    InvalidOp {
        /// The node (name and kind) or the operation that refused.
        op: String,
        /// Why.
        message: String,
    },
    /// A parameter tensor could not be loaded (missing, mis-shaped, unexpected, bad dtype).
    #[error("weights: tensor {tensor:?} {message}")]
    Weights {
        /// The parameter's name (a `state_dict` key).
        tensor: String,
        /// What is wrong.
        message: String,
    },
    /// A tensor or dispatch exceeds what the device can do.
    #[error("{what} exceeds the device limit {limit_name} = {limit} (needed {needed})")]
    DeviceLimit {
        /// The tensor, buffer or dispatch.
        what: String,
        /// The `wgpu::Limits` field.
        limit_name: &'static str,
        /// Its value on this device.
        limit: u64,
        /// What was needed.
        needed: u64,
    },
    /// The device lacks an optional feature the request needs (e.g. f16 storage without
    /// `SHADER_F16`, as on GL backends).
    #[error("{what} needs the {feature} feature, which the device on {adapter:?} does not have")]
    MissingFeature {
        /// What needs it.
        what: String,
        /// The `wgpu::Features` flag.
        feature: &'static str,
        /// The adapter's name.
        adapter: String,
    },
}

/// One ONNX node the importer cannot take (see [`Error::UnsupportedOps`]).
#[cfg_attr(
    feature = "onnx",
    doc = r#"
```
# use prost::Message;
# use wgconv::onnx::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto};
# use wgconv::onnx::proto::ValueInfoProto;
# let node = |op: &str, name: &str| NodeProto { op_type: Some(op.into()), name: Some(name.into()), input: vec!["x".into()], output: vec![format!("{name}_out")], ..Default::default() };
# let x_info = ValueInfoProto { name: Some("x".into()), ..Default::default() };
# let y_info = ValueInfoProto { name: Some("warp_out".into()), ..Default::default() };
# let graph = GraphProto { node: vec![node("Relu", "relu"), node("Warp", "warp")], input: vec![x_info], output: vec![y_info], ..Default::default() };
# let opset = OperatorSetIdProto { domain: Some(String::new()), version: Some(17) };
# let model = ModelProto { ir_version: Some(8), opset_import: vec![opset], graph: Some(graph), ..Default::default() };
use wgconv::Error;
use wgconv::onnx::{ImportOptions, import_bytes};

// A model whose second node is an op no ONNX opset defines.
let err = import_bytes(&model.encode_to_vec(), &ImportOptions::default()).unwrap_err();
let Error::UnsupportedOps { nodes } = err else { panic!("{err}") };
assert_eq!(nodes.len(), 1);
assert_eq!((nodes[0].node.as_str(), nodes[0].index, nodes[0].op.as_str()), ("warp", 1, "Warp"));
assert_eq!(nodes[0].opset, 17);
```
"#
)]
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnsupportedNode {
    /// The node's name (may be empty: ONNX does not require one).
    pub node: String,
    /// Its position in the graph's node list.
    pub index: usize,
    /// Its `op_type`.
    pub op: String,
    /// Its domain (empty for the default domain).
    pub domain: String,
    /// The default-domain opset the model declares.
    pub opset: i64,
    /// Why it is refused: an unknown op or domain, an op that does not exist at this opset,
    /// or an attribute value the importer does not implement.
    pub reason: String,
}

impl std::fmt::Display for UnsupportedNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ONNX node {:?} ({}) #{} [opset {}]: {}",
            self.node, self.op, self.index, self.opset, self.reason
        )
    }
}

fn list_lines(nodes: &[UnsupportedNode]) -> String {
    let lines: Vec<String> = nodes.iter().map(ToString::to_string).collect();
    lines.join("\n  ")
}

/// Crate-wide result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The `map_err` for a file operation: `std::fs::read(p).map_err(Error::io("reading", p))`
    /// gives [`Error::Io`] with the path and the operating system's error as its source.
    pub fn io(
        action: &'static str,
        path: impl AsRef<std::path::Path>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.as_ref().to_path_buf();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    /// Shorthand for [`Error::InvalidOp`].
    pub fn invalid_op(op: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidOp {
            op: op.into(),
            message: message.into(),
        }
    }
}
