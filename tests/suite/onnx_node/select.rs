//! Which ONNX backend node tests are CNN tests: the op of each test, its family for the
//! summary, and the element-type filter (float32 floats, int64 integers, booleans).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;
use wgconv::onnx::proto::{ModelProto, ValueInfoProto, tensor_proto::DataType, type_proto};

/// The selected ops by family, in summary order.
pub const FAMILIES: &[(&str, &[&str])] = &[
    ("conv", &["Conv", "ConvTranspose"]),
    (
        "activation",
        &[
            "Relu",
            "LeakyRelu",
            "PRelu",
            "Sigmoid",
            "HardSigmoid",
            "HardSwish",
            "Tanh",
            "Elu",
            "Selu",
            "Celu",
            "Softplus",
            "Softsign",
            "Mish",
            "Gelu",
            "ThresholdedRelu",
            "Clip",
        ],
    ),
    (
        "unary math",
        &[
            "Erf",
            "Abs",
            "Neg",
            "Exp",
            "Log",
            "Sqrt",
            "Reciprocal",
            "Floor",
            "Ceil",
            "Round",
            "Sign",
        ],
    ),
    (
        "binary / n-ary",
        &[
            "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean",
        ],
    ),
    ("logic", &["Where", "Equal", "Less", "Greater", "Not"]),
    (
        "reduce",
        &[
            "ReduceSum",
            "ReduceMean",
            "ReduceMax",
            "ReduceMin",
            "ReduceProd",
            "ReduceL1",
            "ReduceL2",
            "ReduceSumSquare",
            "ReduceLogSum",
            "ReduceLogSumExp",
            "ArgMax",
            "ArgMin",
        ],
    ),
    ("softmax", &["Softmax", "LogSoftmax", "Hardmax"]),
    (
        "normalization",
        &[
            "BatchNormalization",
            "LayerNormalization",
            "InstanceNormalization",
            "GroupNormalization",
            "LRN",
            "LpNormalization",
        ],
    ),
    ("matmul / gemm", &["MatMul", "Gemm"]),
    (
        "pool",
        &[
            "MaxPool",
            "AveragePool",
            "LpPool",
            "GlobalAveragePool",
            "GlobalMaxPool",
            "GlobalLpPool",
        ],
    ),
    ("resize", &["Resize", "Upsample"]),
    (
        "shape / layout",
        &[
            "DepthToSpace",
            "SpaceToDepth",
            "Concat",
            "Pad",
            "Dropout",
            "Expand",
            "Tile",
            "Gather",
            "Slice",
            "Split",
            "Transpose",
            "Squeeze",
            "Unsqueeze",
            "Flatten",
            "Reshape",
            "Identity",
            "Cast",
            "Shape",
            "Size",
            "ConstantOfShape",
            "Range",
        ],
    ),
];

/// The family of a selected op.
pub fn family(op: &str) -> Option<&'static str> {
    FAMILIES
        .iter()
        .find(|(_, ops)| ops.contains(&op))
        .map(|(f, _)| *f)
}

/// One selected test.
#[derive(Clone, Debug)]
pub struct NodeTest {
    /// The folder name, `test_...`.
    pub name: String,
    pub dir: PathBuf,
    /// The op under test.
    pub op: String,
}

/// The element type of a graph input or output, `None` for non-tensors (sequences, maps, ...).
fn elem_type(vi: &ValueInfoProto) -> Option<DataType> {
    match vi.r#type.as_ref()?.value.as_ref()? {
        type_proto::Value::TensorType(t) => DataType::try_from(t.elem_type()).ok(),
        _ => None,
    }
}

/// The element types this harness feeds and compares: f32 floats, i64 integers (shape-like
/// inputs, index outputs) and booleans (compared as 0 / 1).
fn types_ok(m: &ModelProto) -> bool {
    let g = m.graph.as_ref().expect("graph");
    g.input.iter().chain(&g.output).all(|vi| {
        matches!(
            elem_type(vi),
            Some(DataType::Float | DataType::Int64 | DataType::Bool)
        )
    })
}

/// The ops of a model's graph, in node order.
fn ops(m: &ModelProto) -> Vec<String> {
    let g = m.graph.as_ref().expect("graph");
    g.node.iter().map(|n| n.op_type().to_string()).collect()
}

/// What a test folder holds, before selection.
pub struct Scanned {
    pub name: String,
    pub dir: PathBuf,
    pub ops: Vec<String>,
    pub types_ok: bool,
}

/// Every test folder under `root` (each must have a model.onnx that decodes).
pub fn scan(root: &Path) -> Vec<Scanned> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("model.onnx").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let bytes = std::fs::read(dir.join("model.onnx")).expect("read model.onnx");
            let m = ModelProto::decode(&bytes[..])
                .unwrap_or_else(|e| panic!("{}: model.onnx does not decode: {e}", dir.display()));
            Scanned {
                name: dir.file_name().unwrap().to_string_lossy().into_owned(),
                ops: ops(&m),
                types_ok: types_ok(&m),
                dir,
            }
        })
        .collect()
}

/// The op a test exercises. An expanded function (`<base>_expanded...`, usually several
/// nodes, sometimes one other op: Clip within bounds expands to Identity) tests the op of its
/// base test's single node. A one-node model tests that node's op. Any other model of several
/// nodes tests its op only when every node is the same op.
fn op_of(t: &Scanned, single: &BTreeMap<&str, &str>) -> Option<String> {
    if let Some(op) = t
        .name
        .find("_expanded")
        .and_then(|i| single.get(&t.name[..i]))
    {
        return Some(op.to_string());
    }
    if t.ops.len() == 1 {
        return Some(t.ops[0].clone());
    }
    let first = t.ops.first()?;
    t.ops.iter().all(|o| o == first).then(|| first.to_string())
}

/// Why the tests that are not selected are not, as counts.
#[derive(Debug, Default)]
pub struct Excluded {
    /// Their op is not a CNN op (or a multi-node model of several ops that is no expansion).
    pub other_op: usize,
    /// A CNN op with element types other than f32 / i64 / bool (or non-tensor values).
    pub other_types: usize,
}

/// The CNN tests among `scanned`, sorted by name, and what the others are.
pub fn select(scanned: &[Scanned]) -> (Vec<NodeTest>, Excluded) {
    let single: BTreeMap<&str, &str> = scanned
        .iter()
        .filter(|t| t.ops.len() == 1)
        .map(|t| (t.name.as_str(), t.ops[0].as_str()))
        .collect();
    let mut excluded = Excluded::default();
    let mut tests = Vec::new();
    for t in scanned {
        let Some(op) = op_of(t, &single).filter(|op| family(op).is_some()) else {
            excluded.other_op += 1;
            continue;
        };
        if !t.types_ok {
            excluded.other_types += 1;
            continue;
        }
        tests.push(NodeTest {
            name: t.name.clone(),
            dir: t.dir.clone(),
            op,
        });
    }
    (tests, excluded)
}
