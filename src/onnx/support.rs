//! Which ONNX nodes wgconv can import, checked for the whole model before lowering so that an
//! error lists every unsupported node at once.

use super::attrs::Attrs;
use super::proto::NodeProto;
use super::versions::version_reason;

/// The inputs whose values the importer reads while planning (shapes, axes, pads, sizes,
/// scales, a dropout's ratio): `(op, input indices)`. A graph input feeding one of them is
/// read on the host at run time and joins the plan key (`crate::dynamic`); every other input
/// is data the device reads.
const HOST_OPERANDS: &[(&str, &[usize])] = &[
    ("ConstantOfShape", &[0]),
    ("Dropout", &[1, 2]),
    ("Expand", &[1]),
    ("Pad", &[1, 2, 3]),
    ("Reshape", &[1]),
    ("Resize", &[1, 2, 3]),
    ("Slice", &[1, 2, 3, 4]),
    ("Split", &[1]),
    ("Squeeze", &[1]),
    ("Tile", &[1]),
    ("Unsqueeze", &[1]),
    ("Upsample", &[1]),
];

/// True when the importer reads input `index` of an `op_type` node as a value that shapes
/// the plan (the table `HOST_OPERANDS` here; reductions' `axes` too).
pub fn reads_on_host(op_type: &str, index: usize) -> bool {
    (op_type.starts_with("Reduce") && index == 1)
        || HOST_OPERANDS
            .iter()
            .any(|(op, inputs)| *op == op_type && inputs.contains(&index))
}

/// Default-domain operators the importer lowers or folds.
pub const SUPPORTED_OPS: &[&str] = &[
    "Abs",
    "Add",
    "ArgMax",
    "ArgMin",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "CastLike",
    "Ceil",
    "Celu",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "DepthToSpace",
    "Div",
    "Dropout",
    "Elu",
    "Equal",
    // The Erf activation; inside GELU, x * 0.5 * (1 + erf(x / sqrt(2))), the GELU one.
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Floor",
    "Gather",
    "Gelu",
    "Gemm",
    "Greater",
    "GreaterOrEqual",
    "GlobalAveragePool",
    "GlobalLpPool",
    "GlobalMaxPool",
    "GroupNormalization",
    "HardSigmoid",
    "HardSwish",
    "Hardmax",
    "Identity",
    "InstanceNormalization",
    "LRN",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "LessOrEqual",
    "Log",
    "LogSoftmax",
    "LpNormalization",
    "LpPool",
    "MatMul",
    "Max",
    "MaxPool",
    "Mean",
    "Min",
    "Mish",
    "Mul",
    "Neg",
    "Not",
    "PRelu",
    "Pad",
    "Pow",
    "Reciprocal",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "ReduceSumSquare",
    "Relu",
    "Reshape",
    "Resize",
    "Round",
    "Selu",
    "Shape",
    "Sigmoid",
    "Sign",
    "Size",
    "Slice",
    "Softmax",
    "Softplus",
    "Softsign",
    "SpaceToDepth",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "ThresholdedRelu",
    "Tile",
    "Transpose",
    "Unsqueeze",
    "Upsample",
    "Where",
];

/// Why `node` cannot be imported, or `None` if it can (as far as static checks tell).
pub fn unsupported_reason(node: &NodeProto, opset: i64) -> Option<String> {
    let domain = node.domain();
    if !(domain.is_empty() || domain == "ai.onnx") {
        return Some(format!("operator domain {domain:?} is not supported"));
    }
    let op = node.op_type();
    if !SUPPORTED_OPS.contains(&op) {
        return Some(format!("operator {op} is not supported"));
    }
    if let Some(why) = version_reason(node, opset) {
        return Some(why);
    }
    let a = Attrs::new(node);
    match op {
        "Pad" if a.string("mode", "constant") != "constant" => Some(format!(
            "Pad mode {:?} (only constant)",
            a.string("mode", "")
        )),
        "Upsample"
            if !matches!(
                a.string("mode", "nearest").as_str(),
                "nearest" | "linear" | "bilinear"
            ) =>
        {
            Some(format!(
                "Upsample mode {:?} (only nearest and linear)",
                a.string("mode", "")
            ))
        }
        "Resize"
            if !matches!(
                a.string("mode", "nearest").as_str(),
                "nearest" | "linear" | "bilinear" | "cubic"
            ) =>
        {
            Some(format!(
                "Resize mode {:?} (nearest, linear or cubic)",
                a.string("mode", "")
            ))
        }
        "Gelu" if !matches!(a.string("approximate", "none").as_str(), "none" | "tanh") => {
            Some(format!(
                "Gelu approximate={:?} (none or tanh)",
                a.string("approximate", "")
            ))
        }
        "MaxPool" | "AveragePool" | "LpPool"
            if a.ints("kernel_shape")
                .is_some_and(|k| !(1..=3).contains(&k.len())) =>
        {
            Some("pooling over more than 3 spatial dims".into())
        }
        "LayerNormalization" | "GroupNormalization" if a.int("stash_type", 1) != 1 => {
            Some(format!(
                "{op} stash_type {} (only 1, f32 statistics)",
                a.int("stash_type", 1)
            ))
        }
        _ => None,
    }
}
