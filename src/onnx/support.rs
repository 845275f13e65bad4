//! Which ONNX nodes wgconv can import, checked for the whole model before lowering so that an
//! error lists every unsupported node at once.

use super::attrs::Attrs;
use super::proto::NodeProto;
use super::versions::version_reason;

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
        "Resize" | "Upsample"
            if !matches!(
                a.string("mode", "nearest").as_str(),
                "nearest" | "linear" | "bilinear"
            ) =>
        {
            Some(format!(
                "{op} mode {:?} (only nearest and linear)",
                a.string("mode", "")
            ))
        }
        "Resize" if a.string("coordinate_transformation_mode", "") == "tf_crop_and_resize" => {
            Some("Resize coordinate_transformation_mode tf_crop_and_resize (needs roi)".into())
        }
        "Gelu" if !matches!(a.string("approximate", "none").as_str(), "none" | "tanh") => {
            Some(format!(
                "Gelu approximate={:?} (none or tanh)",
                a.string("approximate", "")
            ))
        }
        "MaxPool" if node.output.iter().skip(1).any(|o| !o.is_empty()) => {
            Some("MaxPool indices output".into())
        }
        "MaxPool" | "AveragePool" if a.ints("kernel_shape").is_some_and(|k| k.len() != 2) => {
            Some("pooling other than 2-D".into())
        }
        "LayerNormalization" | "GroupNormalization" if a.int("stash_type", 1) != 1 => {
            Some(format!(
                "{op} stash_type {} (only 1, f32 statistics)",
                a.int("stash_type", 1)
            ))
        }
        "BatchNormalization" if a.int("training_mode", 0) != 0 => {
            Some("training-mode BatchNormalization".into())
        }
        _ => None,
    }
}
