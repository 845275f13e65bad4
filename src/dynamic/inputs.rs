//! What a model takes: each input's dimensions (fixed or symbolic), whether its values are
//! data or shape-like integers, and the check of a run's tensors against that.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::graph::Graph;
#[cfg(feature = "onnx")]
use crate::onnx::proto::{TensorProto, ValueInfoProto, tensor_shape_proto, type_proto};
#[cfg(feature = "onnx")]
use crate::onnx::{ImportOptions, reads_on_host};
use crate::tensor::Tensor;

/// One dimension of an input.
///
/// ```
/// use wgconv::Dim;
///
/// let dims = [Dim::sym("N"), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")];
/// let text: Vec<String> = dims.iter().map(Dim::to_string).collect();
/// assert_eq!(text, ["N", "3", "H", "W"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// Always this size.
    Fixed(usize),
    /// Any size, named (ONNX `dim_param`; inputs sharing a name must agree on it; an ONNX
    /// dimension with neither value nor name is called `?` and binds nothing).
    Symbolic(String),
}

impl Dim {
    /// A symbolic dimension called `name`.
    pub fn sym(name: &str) -> Self {
        Dim::Symbolic(name.to_string())
    }
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbolic(s) => write!(f, "{s}"),
        }
    }
}

/// How the engine reads an input's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// Tensor data, written to the device at every run (activations, and weights given at run
    /// time).
    Float,
    /// Values that decide shapes or indices, read on the host and part of the plan key: inputs
    /// feeding a slot the importer plans with (a Reshape's shape, a Slice's starts, Resize
    /// scales or sizes, reduction axes...), and every integer or boolean input (ONNX int64
    /// data such as a Where mask is read this way too: each new value plans anew).
    Host,
}

/// One input of a model ([`crate::DynamicSession::inputs`]).
///
/// ```
/// use wgconv::graph::Graph;
/// use wgconv::{Dim, DynamicSession, Error, InputKind, SessionConfig, Tensor};
///
/// let mut g = Graph::new();
/// let x = g.input("x", &[1, 3, 4, 4]);
/// let y = g.relu(x)?;
/// g.output(y);
/// let config = SessionConfig::default().cache_dir(None);
/// let session = DynamicSession::from_graph(&g, &[("x", 2, "H"), ("x", 3, "W")], &config)?;
/// let info = &session.inputs()[0];
/// assert_eq!((info.name.as_str(), info.kind), ("x", InputKind::Float));
/// assert_eq!(info.dims.as_deref().map(|d| d[2].clone()), Some(Dim::sym("H")));
/// // A fixed dimension must match: the error names the input and what it takes.
/// let err = session.run(&[Tensor::zeros(vec![1, 4, 4, 4])]).unwrap_err();
/// assert!(matches!(err, Error::InputMismatch { ref input, .. } if input == "x"), "{err}");
/// # Ok::<(), wgconv::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputInfo {
    /// Its name.
    pub name: String,
    /// Its dimensions; `None` when the model does not declare its rank.
    pub dims: Option<Vec<Dim>>,
    /// Data, or values read on the host.
    pub kind: InputKind,
    /// True for integer and boolean inputs (their values must be whole numbers).
    pub integer: bool,
    /// The nodes that read it (for error messages).
    pub feeds: Vec<String>,
}

impl InputInfo {
    /// The dimensions as text, e.g. `[N, 3, H, W]`.
    pub fn dims_text(&self) -> String {
        match &self.dims {
            None => "any shape".into(),
            Some(d) => format!(
                "[{}]",
                d.iter().map(Dim::to_string).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    fn feeds_text(&self) -> String {
        match self.feeds.as_slice() {
            [] => "no node".into(),
            f if f.len() <= 3 => f.join(", "),
            f => format!("{}, ... ({} nodes)", f[..3].join(", "), f.len()),
        }
    }

    /// The error for `t` not fitting this input.
    pub(crate) fn mismatch(&self, expected: impl Into<String>, got: impl Into<String>) -> Error {
        Error::InputMismatch {
            input: self.name.clone(),
            feeds: self.feeds_text(),
            expected: expected.into(),
            got: got.into(),
        }
    }
}

#[cfg(feature = "onnx")]
/// The inputs of an ONNX model that are not initializers nor given as constants in `opts`,
/// with the shapes `opts` fixes in advance.
pub(crate) fn onnx_inputs(bytes: &[u8], opts: &ImportOptions) -> Result<Vec<InputInfo>> {
    let model = crate::onnx::decode_model(bytes)?;
    let graph = crate::onnx::model_graph(&model)?;
    let initialized: Vec<&str> = graph.initializer.iter().map(TensorProto::name).collect();
    let mut out = Vec::new();
    for vi in &graph.input {
        let name = vi.name();
        if initialized.contains(&name) || opts.constants.contains_key(name) {
            continue;
        }
        let feeds = graph
            .node
            .iter()
            .filter(|n| n.input.iter().any(|i| i == name))
            .map(|n| {
                let label = if n.name().is_empty() {
                    n.output.first().map_or("", String::as_str)
                } else {
                    n.name()
                };
                format!("{label:?} ({})", n.op_type())
            })
            .collect();
        let (integer, mut dims) = onnx_type(vi);
        let shapes_plan = graph.node.iter().any(|n| {
            n.input
                .iter()
                .enumerate()
                .any(|(i, input)| input == name && reads_on_host(n.op_type(), i))
        });
        let kind = if integer || shapes_plan {
            InputKind::Host
        } else {
            InputKind::Float
        };
        if let Some(given) = opts.input_shapes.get(name) {
            dims = Some(given.iter().map(|&d| Dim::Fixed(d)).collect());
        }
        out.push(InputInfo {
            name: name.to_string(),
            dims,
            kind,
            integer,
            feeds,
        });
    }
    Ok(out)
}

#[cfg(feature = "onnx")]
/// Whether the input holds integers (or booleans), and its dimensions.
fn onnx_type(vi: &ValueInfoProto) -> (bool, Option<Vec<Dim>>) {
    let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return (false, None);
    };
    use crate::onnx::proto::tensor_proto::DataType;
    let integer = [
        DataType::Int64,
        DataType::Int32,
        DataType::Int16,
        DataType::Int8,
        DataType::Uint8,
        DataType::Uint16,
        DataType::Uint32,
        DataType::Uint64,
        DataType::Bool,
    ]
    .iter()
    .any(|&d| t.elem_type() == d as i32);
    let dims = t.shape.as_ref().map(|s| {
        s.dim
            .iter()
            .map(|d| match &d.value {
                Some(tensor_shape_proto::dimension::Value::DimValue(v)) if *v > 0 => {
                    Dim::Fixed(*v as usize)
                }
                Some(tensor_shape_proto::dimension::Value::DimParam(p)) if !p.is_empty() => {
                    Dim::Symbolic(p.clone())
                }
                _ => Dim::sym("?"),
            })
            .collect()
    });
    (integer, dims)
}

/// The inputs of a built graph: every dimension fixed as built except those `open` names
/// (input name, axis, symbol).
pub(crate) fn graph_inputs(graph: &Graph, open: &[(&str, usize, &str)]) -> Result<Vec<InputInfo>> {
    let consumers = graph.consumers();
    let mut out: Vec<InputInfo> = graph
        .inputs()
        .iter()
        .map(|&v| InputInfo {
            name: graph.value(v).name.clone(),
            dims: Some(graph.shape(v).iter().map(|&d| Dim::Fixed(d)).collect()),
            kind: InputKind::Float,
            integer: false,
            feeds: consumers[v.0]
                .iter()
                .map(|&n| {
                    let node = graph.node(n);
                    format!("{:?} ({})", node.name, node.op.kind())
                })
                .collect(),
        })
        .collect();
    for &(name, axis, symbol) in open {
        let known: Vec<String> = out.iter().map(|i| i.name.clone()).collect();
        let input = out
            .iter_mut()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::UnknownInput {
                name: name.to_string(),
                known,
            })?;
        let dims = input.dims.as_mut().expect("graph inputs have shapes");
        let rank = dims.len();
        let d = dims.get_mut(axis).ok_or_else(|| {
            Error::invalid_op(
                "dynamic session",
                format!("input {name:?} has rank {rank}, no axis {axis} to open"),
            )
        })?;
        *d = Dim::sym(symbol);
    }
    Ok(out)
}

/// What planning reads of one run input: its shape, and its values when they are on the host
/// (always for [`InputKind::Host`] inputs; data on the device has none).
#[derive(Clone, Copy, Debug)]
pub(crate) struct InputView<'a> {
    pub shape: &'a [usize],
    pub host: Option<&'a Tensor>,
}

impl<'a> From<&'a Tensor> for InputView<'a> {
    fn from(t: &'a Tensor) -> Self {
        Self {
            shape: t.shape(),
            host: Some(t),
        }
    }
}

/// Checks a run's inputs (one per input, in order) against the inputs: ranks, fixed
/// dimensions, symbolic dimensions that agree across inputs, integer values where integers
/// are read.
pub(crate) fn check(inputs: &[InputInfo], given: &[InputView<'_>]) -> Result<()> {
    if inputs.len() != given.len() {
        return Err(Error::CountMismatch {
            what: "input",
            expected: inputs.len(),
            got: given.len(),
        });
    }
    let mut bound: HashMap<&str, (usize, &str)> = HashMap::new();
    for (info, t) in inputs.iter().zip(given) {
        let shape = t.shape;
        if let Some(dims) = &info.dims {
            if dims.len() != shape.len() {
                return Err(info.mismatch(
                    format!("rank {} ({})", dims.len(), info.dims_text()),
                    format!("shape {shape:?}"),
                ));
            }
            for (d, &n) in dims.iter().zip(shape) {
                match d {
                    Dim::Fixed(f) if *f != n => {
                        return Err(info.mismatch(
                            format!("shape {}", info.dims_text()),
                            format!("{shape:?}"),
                        ));
                    }
                    Dim::Symbolic(s) if s != "?" => match bound.get(s.as_str()) {
                        Some(&(m, other)) if m != n => {
                            return Err(info.mismatch(
                                format!("{s} = {m} as input {other:?} has it"),
                                format!("{s} = {n} in shape {shape:?}"),
                            ));
                        }
                        _ => {
                            bound.insert(s, (n, &info.name));
                        }
                    },
                    _ => {}
                }
            }
        }
        if info.integer
            && let Some(x) = t
                .host
                .and_then(|h| h.data().iter().find(|x| x.fract() != 0.0 || !x.is_finite()))
        {
            return Err(info.mismatch(
                "integer values (it sets shapes or indices)",
                format!("the value {x}"),
            ));
        }
    }
    Ok(())
}
