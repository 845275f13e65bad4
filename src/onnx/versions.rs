//! What each supported op looks like at each default-domain opset in [`super::OPSETS`]: the
//! opsets an op exists in, attributes that appeared or became inputs, and inputs that appeared.
//! A model using a form its declared opset does not have is refused before lowering (as
//! onnxruntime's schema check does) instead of being read with another version's meaning.

use super::attrs::Attrs;
use super::proto::NodeProto;

const NEWEST: i64 = i64::MAX;

/// Ops that exist only in part of 7..: `(op, first opset, last opset)`.
const OP_RANGES: &[(&str, i64, i64)] = &[
    ("CastLike", 15, NEWEST),
    ("ConstantOfShape", 9, NEWEST),
    ("Erf", 9, NEWEST),
    ("Expand", 8, NEWEST),
    ("Gelu", 20, NEWEST),
    ("GreaterOrEqual", 12, NEWEST),
    // Opset 21 changed scale and bias from one per group to one per channel.
    ("GroupNormalization", 18, NEWEST),
    ("HardSwish", 14, NEWEST),
    ("LayerNormalization", 17, NEWEST),
    ("LessOrEqual", 12, NEWEST),
    ("Resize", 10, NEWEST),
    // Deprecated at 10 in favour of Resize: the opset-10 schema exists only to refuse it.
    ("Upsample", 7, 9),
    ("Where", 9, NEWEST),
];

/// The opset each op's definition at opset 7 dates from, where later than 1 (the other ops
/// are unchanged since opset 1), and the first opset of ops that do not exist at 7 and are
/// not in [`OP_RANGES`]. A model declaring opset 1 to 6 is read as opset 7 when every node's
/// op has there the definition it has at 7.
const SINCE_AT_7: &[(&str, i64)] = &[
    ("Abs", 6),
    ("Add", 7),
    ("AveragePool", 7),
    ("BatchNormalization", 7),
    ("Cast", 6),
    ("Ceil", 6),
    ("Celu", 12),
    ("Clip", 6),
    ("Concat", 4),
    ("Div", 7),
    ("Dropout", 7),
    ("Elu", 6),
    ("Equal", 7),
    ("Exp", 6),
    ("Floor", 6),
    ("Gemm", 7),
    ("Greater", 7),
    ("HardSigmoid", 6),
    ("InstanceNormalization", 6),
    ("LeakyRelu", 6),
    ("Less", 7),
    ("Log", 6),
    ("Max", 6),
    ("Mean", 6),
    ("Min", 6),
    ("Mish", 18),
    ("Mul", 7),
    ("Neg", 6),
    ("PRelu", 7),
    ("Pad", 2),
    ("Pow", 7),
    ("Reciprocal", 6),
    ("Relu", 6),
    ("Reshape", 5),
    ("Round", 11),
    ("Selu", 6),
    ("Sigmoid", 6),
    ("Sign", 9),
    ("Split", 2),
    ("Sqrt", 6),
    ("Sub", 7),
    ("Sum", 6),
    ("Tanh", 6),
    ("ThresholdedRelu", 10),
    ("Tile", 6),
    ("Upsample", 7),
];

/// The oldest opset whose definitions the importer reads; below it, see [`SINCE_AT_7`].
const OLDEST_READ: i64 = 7;

/// Attributes that exist only in part of the range: `(op, attribute, first, last)`. Those
/// that end became inputs (see [`INPUTS`]) or were dropped.
const ATTRS: &[(&str, &str, i64, i64)] = &[
    ("ArgMax", "select_last_index", 12, NEWEST),
    ("ArgMin", "select_last_index", 12, NEWEST),
    ("AveragePool", "ceil_mode", 10, NEWEST),
    ("AveragePool", "dilations", 19, NEWEST),
    ("BatchNormalization", "spatial", 7, 8),
    ("BatchNormalization", "training_mode", 14, NEWEST),
    ("Cast", "saturate", 19, NEWEST),
    ("Clip", "max", 7, 10),
    ("Clip", "min", 7, 10),
    ("DepthToSpace", "mode", 11, NEWEST),
    ("GroupNormalization", "stash_type", 21, NEWEST),
    ("Dropout", "ratio", 7, 11),
    ("MaxPool", "ceil_mode", 10, NEWEST),
    ("MaxPool", "dilations", 10, NEWEST),
    ("MaxPool", "storage_order", 8, NEWEST),
    ("LpPool", "ceil_mode", 18, NEWEST),
    ("LpPool", "dilations", 18, NEWEST),
    ("Pad", "pads", 7, 10),
    ("Pad", "value", 7, 10),
    ("Reshape", "allowzero", 14, NEWEST),
    ("Resize", "antialias", 18, NEWEST),
    ("Resize", "axes", 18, NEWEST),
    ("Resize", "coordinate_transformation_mode", 11, NEWEST),
    ("Resize", "cubic_coeff_a", 11, NEWEST),
    ("Resize", "exclude_outside", 11, NEWEST),
    ("Resize", "extrapolation_value", 11, NEWEST),
    ("Resize", "keep_aspect_ratio_policy", 18, NEWEST),
    ("Resize", "nearest_mode", 11, NEWEST),
    ("Shape", "end", 15, NEWEST),
    ("Shape", "start", 15, NEWEST),
    ("Slice", "axes", 7, 9),
    ("Slice", "ends", 7, 9),
    ("Slice", "starts", 7, 9),
    ("Split", "num_outputs", 18, NEWEST),
    ("Split", "split", 7, 12),
    ("Squeeze", "axes", 7, 12),
    ("Unsqueeze", "axes", 7, 12),
    ("Upsample", "scales", 7, 8),
];

/// Inputs that appeared after opset 7: `(op, index, name, first opset)`.
const INPUTS: &[(&str, usize, &str, i64)] = &[
    ("Clip", 1, "min", 11),
    ("Clip", 2, "max", 11),
    ("Dropout", 1, "ratio", 12),
    ("Dropout", 2, "training_mode", 12),
    ("Pad", 1, "pads", 11),
    ("Pad", 2, "constant_value", 11),
    ("Pad", 3, "axes", 18),
    ("Resize", 2, "scales", 11),
    ("Resize", 3, "sizes", 11),
    ("Slice", 1, "starts", 10),
    ("Slice", 2, "ends", 10),
    ("Slice", 3, "axes", 10),
    ("Slice", 4, "steps", 10),
    ("Split", 1, "split", 13),
    ("Squeeze", 1, "axes", 13),
    ("Unsqueeze", 1, "axes", 13),
    ("Upsample", 1, "scales", 9),
];

/// The opset where a reduction's `axes` attribute became input 1.
fn reduce_axes_input(op: &str) -> Option<i64> {
    match op {
        "ReduceSum" => Some(13),
        _ if op.starts_with("Reduce") => Some(18),
        _ => None,
    }
}

fn span(first: i64, last: i64) -> String {
    if last == NEWEST {
        format!("from opset {first}")
    } else {
        format!("in opsets {first} to {last}")
    }
}

/// Why `node` does not fit `opset`'s definition of its op, or `None`.
pub fn version_reason(node: &NodeProto, opset: i64) -> Option<String> {
    let op = node.op_type();
    if opset < OLDEST_READ {
        if let Some(&(_, since)) = SINCE_AT_7.iter().find(|(o, _)| *o == op)
            && since > opset
        {
            return Some(format!(
                "{op} at opset {opset} is an older definition than the importer reads (the one from opset {since})"
            ));
        }
        // The same definition as at opset 7.
        return version_reason(node, OLDEST_READ);
    }
    if let Some(&(_, first, last)) = OP_RANGES.iter().find(|(o, ..)| *o == op)
        && !(first..=last).contains(&opset)
    {
        let hint = if op == "Upsample" {
            " (deprecated at opset 10: use Resize)"
        } else {
            ""
        };
        return Some(format!("{op} exists only {}{hint}", span(first, last)));
    }
    let a = Attrs::new(node);
    if let Some(v) = reduce_axes_input(op) {
        if opset >= v && a.has("axes") {
            return Some(format!(
                "attribute axes exists only before opset {v}; from {v} it is input 1"
            ));
        }
        if opset < v && a.has("noop_with_empty_axes") {
            return Some(format!(
                "attribute noop_with_empty_axes exists only from opset {v}"
            ));
        }
        if opset < v && node.input.get(1).is_some_and(|s| !s.is_empty()) {
            return Some(format!("input 1 (axes) exists only from opset {v}"));
        }
    }
    for &(_, name, first, last) in ATTRS.iter().filter(|(o, ..)| *o == op) {
        if a.has(name) && !(first..=last).contains(&opset) {
            let became = INPUTS
                .iter()
                .find(|(o, _, n, _)| *o == op && *n == name)
                .map(|(_, i, _, v)| format!("; from opset {v} it is input {i}"))
                .unwrap_or_default();
            return Some(format!(
                "attribute {name} exists only {}{became}",
                span(first, last)
            ));
        }
    }
    for &(_, i, name, first) in INPUTS.iter().filter(|(o, ..)| *o == op) {
        if opset < first && node.input.get(i).is_some_and(|s| !s.is_empty()) {
            return Some(format!(
                "input {i} ({name}) exists only from opset {first}; this node has {} inputs",
                node.input.len()
            ));
        }
    }
    value_reason(op, &a, opset)
}

/// Attribute values whose meaning depends on the opset.
fn value_reason(op: &str, a: &Attrs<'_>, opset: i64) -> Option<String> {
    match op {
        "Resize" if opset < 11 && a.string("mode", "") == "cubic" => {
            Some("Resize mode cubic exists only from opset 11".into())
        }
        "Resize" => match a.string("coordinate_transformation_mode", "").as_str() {
            "tf_half_pixel_for_nn" if opset >= 18 => Some(
                "coordinate_transformation_mode tf_half_pixel_for_nn was removed at opset 18"
                    .into(),
            ),
            "half_pixel_symmetric" if opset < 19 => Some(
                "coordinate_transformation_mode half_pixel_symmetric exists only from opset 19"
                    .into(),
            ),
            _ => None,
        },
        // Spatial=0 (BatchNormalization 7-8) normalises each element, not each channel.
        "BatchNormalization" if a.int("spatial", 1) == 0 => {
            Some("BatchNormalization spatial=0 (per-element statistics) is not supported".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::SUPPORTED_OPS;

    /// The tables name only supported ops (a typo would silently check nothing), and each
    /// attribute range lies in the order first <= last.
    #[test]
    fn tables_name_supported_ops() {
        let ops = OP_RANGES.iter().map(|r| r.0);
        let ops = ops.chain(ATTRS.iter().map(|r| r.0));
        let ops = ops.chain(SINCE_AT_7.iter().map(|r| r.0));
        for op in ops.chain(INPUTS.iter().map(|r| r.0)) {
            assert!(SUPPORTED_OPS.contains(&op), "{op}");
        }
        for &(op, name, first, last) in ATTRS {
            assert!(first <= last, "{op}.{name}");
        }
    }
}
