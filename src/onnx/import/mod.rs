//! Lowering an ONNX model onto a [`Graph`]. This file is the driver: decoding, the opset and
//! support checks, graph inputs and initializers, the node loop and the outputs. Each family of
//! ops is translated in its own file ([`FAMILIES`]); constant subgraphs fold on the host
//! ([`constant`]).
//!
//! Nodes are lowered as written; the exporters' decompositions (SiLU, HardSwish, channel /
//! pixel shuffle as Reshape-Transpose-Reshape, Pad before Conv) are fused afterwards on the
//! typed graph by [`crate::graph::patterns`], which builder graphs get too. GELU through Erf
//! is the exception, followed while lowering ([`gelu`]) so that its exporters' many
//! groupings need no graph pattern each.

mod constant;
mod conv;
mod eltwise;
mod gelu;
mod indexing;
mod linear;
mod math;
mod norm;
mod pool;
mod reduce;
mod resize;
mod runtime;
mod shape_ops;
mod slicing;

use std::collections::HashMap;
use std::path::Path;

use prost::Message;

use super::ImportOptions;
use super::attrs::Attrs;
use super::proto::{
    GraphProto, ModelProto, NodeProto, ValueInfoProto, tensor_shape_proto::dimension::Value as Dim,
    type_proto,
};
use super::support::unsupported_reason;
use super::tensor::{Const, ConstData, decode, unsupported_type};
use crate::error::{Error, Result, UnsupportedNode};
use crate::graph::{Graph, Op, ValueId, patterns};

/// Lowest and highest default-domain opset accepted. Every supported op follows its definition
/// at each of them (see `src/onnx/versions.rs`); below 7, only ops whose definition is the same as
/// at 7, which is how the model is then read.
pub const OPSETS: std::ops::RangeInclusive<i64> = 1..=25;

/// A value while importing: a graph tensor, a constant, or a part of the GELU decomposition
/// that may be completed by a later node.
#[derive(Clone, Debug)]
enum Val {
    Dyn(ValueId),
    Const(Const),
    Gelu {
        /// GELU's input.
        x: ValueId,
        stage: gelu::Stage,
        /// The Erf node, for errors.
        erf: String,
        /// The partial value as written, for readers other than GELU's next step; `None` when
        /// the written step cannot be lowered on its own (then only GELU may read it).
        value: Option<ValueId>,
    },
}

/// Translates one node of a family: the value of its output, or `None` when it bound its
/// outputs itself (Split).
type Translate = fn(&mut Importer<'_>, &NodeProto, usize, &Attrs<'_>) -> Result<Option<Val>>;

/// The op families: which ops each translates, and how.
const FAMILIES: &[(&[&str], Translate)] = &[
    (constant::OPS, constant::lower),
    (conv::OPS, conv::lower),
    (eltwise::OPS, eltwise::lower),
    (gelu::OPS, gelu::lower),
    (indexing::OPS, indexing::lower),
    (linear::OPS, linear::lower),
    (math::OPS, math::lower),
    (norm::OPS, norm::lower),
    (pool::OPS, pool::lower),
    (reduce::OPS, reduce::lower),
    (resize::OPS, resize::lower),
    (shape_ops::OPS, shape_ops::lower),
    (slicing::OPS, slicing::lower),
];

struct Importer<'a> {
    g: Graph,
    vals: HashMap<String, Val>,
    /// Constants materialised as `Constant` nodes, by shape and f32 bits: one node per
    /// distinct constant however many nodes read it.
    materialized: HashMap<(Vec<usize>, Vec<u32>), ValueId>,
    /// The opset the nodes are read at: the declared one, or 7 below 7 (the same definitions).
    opset: i64,
    /// The opset the model declares, and the index of the node being lowered: for
    /// [`Importer::unsupported`].
    declared: i64,
    at: usize,
    opts: &'a ImportOptions,
}

fn node_label(n: &NodeProto) -> String {
    format!("ONNX node {:?} ({})", n.name(), n.op_type())
}

/// Names the node and its opset in an error raised while lowering it (what an op means
/// depends on the opset); errors from shape rules and folding do not know the node.
fn at_node(e: Error, node: &NodeProto, opset: i64) -> Error {
    match e {
        Error::InvalidOp { op, message } => {
            let op = if op.starts_with("ONNX node") {
                format!("{op} [opset {opset}]")
            } else if op == node.op_type() {
                format!("{} [opset {opset}]", node_label(node))
            } else {
                format!("{} [opset {opset}]: {op}", node_label(node))
            };
            Error::InvalidOp { op, message }
        }
        e => e,
    }
}

/// Decodes the protobuf; a failure names what the decoder was reading.
pub(crate) fn decode_model(bytes: &[u8]) -> Result<ModelProto> {
    ModelProto::decode(bytes).map_err(|e| Error::MalformedModel {
        what: format!("not a valid ONNX protobuf ({} bytes)", bytes.len()),
        location: "the file".into(),
        source: Some(Box::new(e)),
    })
}

/// The model's graph; a model without one is malformed.
pub(crate) fn model_graph(model: &ModelProto) -> Result<&GraphProto> {
    model.graph.as_ref().ok_or_else(|| Error::MalformedModel {
        what: "has no graph".into(),
        location: "the model".into(),
        source: None,
    })
}

/// An edge or value the model's structure lacks, at `location`.
fn malformed(location: impl Into<String>, what: impl Into<String>) -> Error {
    Error::MalformedModel {
        what: what.into(),
        location: location.into(),
        source: None,
    }
}

/// A node without an input its op requires (`which` names it: an index, maybe a role).
fn missing_input(node: &NodeProto, which: impl std::fmt::Display) -> Error {
    malformed(node_label(node), format!("missing input {which}"))
}

/// Decodes and lowers a model.
pub fn import(bytes: &[u8], opts: &ImportOptions, base: Option<&Path>) -> Result<Graph> {
    let model = decode_model(bytes)?;
    let graph = model_graph(&model)?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
        .map(|o| o.version())
        .unwrap_or(1);
    if !OPSETS.contains(&opset) {
        return Err(Error::UnsupportedOpset {
            opset,
            supported: OPSETS,
        });
    }
    // Every unsupported node at once, before lowering anything.
    let unsupported: Vec<UnsupportedNode> = graph
        .node
        .iter()
        .enumerate()
        .filter_map(|(index, n)| {
            unsupported_reason(n, opset).map(|reason| UnsupportedNode {
                node: n.name().to_string(),
                index,
                op: n.op_type().to_string(),
                domain: n.domain().to_string(),
                opset,
                reason,
            })
        })
        .collect();
    if !unsupported.is_empty() {
        return Err(Error::UnsupportedOps { nodes: unsupported });
    }
    let mut im = Importer {
        g: Graph::new(),
        vals: HashMap::new(),
        materialized: HashMap::new(),
        opset: opset.max(7),
        declared: opset,
        at: 0,
        opts,
    };
    for t in &graph.initializer {
        im.vals
            .insert(t.name().to_string(), Val::Const(decode(t, base)?));
    }
    for input in &graph.input {
        let name = input.name();
        if im.vals.contains_key(name) {
            continue; // IR < 4: initializers are also listed as inputs.
        }
        if let Some(t) = opts.constants.get(name) {
            im.vals.insert(
                name.to_string(),
                Val::Const(Const::f32(t.shape().to_vec(), t.data().to_vec())),
            );
            continue;
        }
        let shape = im.input_shape(input)?;
        if crate::tensor::checked_numel(&shape).is_none() {
            return Err(Error::invalid_op(
                format!("graph input {name:?}"),
                format!("shape {shape:?} is too large (its f32 size overflows the address space)"),
            ));
        }
        let v = im.g.input(name, &shape);
        im.vals.insert(name.to_string(), Val::Dyn(v));
    }
    for (i, node) in graph.node.iter().enumerate() {
        im.at = i;
        im.lower(node, i).map_err(|e| at_node(e, node, opset))?;
    }
    for out in &graph.output {
        match im.vals.get(out.name()) {
            Some(Val::Dyn(v) | Val::Gelu { value: Some(v), .. }) => {
                im.g.output_named(*v, out.name())
            }
            Some(Val::Const(c)) => {
                let c = c.clone();
                let v = im.materialize(&format!("output {:?}", out.name()), out.name(), &c)?;
                im.g.output_named(v, out.name())
            }
            Some(Val::Gelu { erf, .. }) => {
                return Err(Error::invalid_op(
                    "ONNX model",
                    format!(
                        "output {:?} is computed from {erf}, which is supported only inside GELU, x * 0.5 * (1 + erf(x / sqrt(2)))",
                        out.name()
                    ),
                ));
            }
            None => {
                return Err(malformed(
                    format!("graph output {:?}", out.name()),
                    "is never computed",
                ));
            }
        }
    }
    patterns::fuse_patterns(&mut im.g)?;
    // The written steps of a completed GELU are dead.
    im.g.compact()?;
    Ok(im.g)
}

impl Importer<'_> {
    /// The error for a supported op used with something the importer lacks, found only while
    /// lowering `node` (an input that is not constant, a mode value, training).
    fn unsupported(&self, node: &NodeProto, reason: impl Into<String>) -> Error {
        Error::UnsupportedOps {
            nodes: vec![UnsupportedNode {
                node: node.name().to_string(),
                index: self.at,
                op: node.op_type().to_string(),
                domain: node.domain().to_string(),
                opset: self.declared,
                reason: reason.into(),
            }],
        }
    }

    fn input_shape(&self, vi: &ValueInfoProto) -> Result<Vec<usize>> {
        let name = vi.name();
        let ty = vi.r#type.as_ref().and_then(|t| t.value.as_ref());
        if let Some(type_proto::Value::TensorType(tt)) = ty
            && let Some(why) = tt.elem_type.filter(|&t| t != 0).and_then(unsupported_type)
        {
            return Err(Error::invalid_op(format!("ONNX input {name:?}"), why));
        }
        let declared: Vec<Option<usize>> = match ty {
            Some(type_proto::Value::TensorType(tt)) => match &tt.shape {
                Some(s) => s
                    .dim
                    .iter()
                    .map(|d| match d.value {
                        Some(Dim::DimValue(v)) if v > 0 => Some(v as usize),
                        _ => None,
                    })
                    .collect(),
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
        match self.opts.input_shapes.get(name) {
            Some(given) => {
                if !declared.is_empty() {
                    let fits = given.len() == declared.len()
                        && given
                            .iter()
                            .zip(&declared)
                            .all(|(g, d)| d.is_none_or(|d| d == *g));
                    if !fits {
                        return Err(Error::invalid_op(
                            format!("ONNX input {name:?}"),
                            format!(
                                "given shape {given:?} does not fit the declared {declared:?} (None = dynamic)"
                            ),
                        ));
                    }
                }
                Ok(given.clone())
            }
            None => {
                if declared.is_empty() || declared.iter().any(Option::is_none) {
                    return Err(Error::invalid_op(
                        format!("ONNX input {name:?}"),
                        format!(
                            "has dynamic or unknown dimensions {declared:?} (None = dynamic); give its shape (CLI: --shape NAME=1x3x224x224; API: SessionConfig::input_shape)"
                        ),
                    ));
                }
                Ok(declared.into_iter().map(|d| d.expect("checked")).collect())
            }
        }
    }

    fn lower(&mut self, node: &NodeProto, index: usize) -> Result<()> {
        let a = Attrs::new(node);
        let op_type = node.op_type();
        // Pure constant subgraphs (shape arithmetic) fold on the host.
        if self.all_const(node)
            && !matches!(op_type, "Constant" | "Conv" | "ConvTranspose")
            && let Some(c) = self.fold(node, &a)?
        {
            self.set(node, Val::Const(c));
            return Ok(());
        }
        let Some((_, translate)) = FAMILIES.iter().find(|(ops, _)| ops.contains(&op_type)) else {
            return Err(self.unsupported(
                node,
                format!("{op_type} has no lowering for computed (non-constant) inputs"),
            ));
        };
        if let Some(out) = translate(self, node, index, &a)? {
            self.set(node, out);
        }
        Ok(())
    }

    fn get(&self, node: &NodeProto, i: usize) -> Result<Option<&Val>> {
        match node.input.get(i).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(name) => self.vals.get(name).map(Some).ok_or_else(|| {
                malformed(
                    node_label(node),
                    format!("input {name:?} is not defined before use"),
                )
            }),
        }
    }

    /// Input `i` as a graph tensor: a constant there becomes a `Constant` node.
    fn dyn_in(&mut self, node: &NodeProto, i: usize) -> Result<ValueId> {
        match self.get(node, i)? {
            Some(Val::Dyn(v) | Val::Gelu { value: Some(v), .. }) => Ok(*v),
            Some(Val::Const(c)) => {
                let c = c.clone();
                self.materialize(&node_label(node), &node.input[i], &c)
            }
            Some(Val::Gelu { erf, .. }) => Err(Error::invalid_op(
                node_label(node),
                format!(
                    "reads a value computed from {erf} that wgconv lowers only as a part of GELU, x * 0.5 * (1 + erf(x / sqrt(2)))"
                ),
            )),
            None => Err(missing_input(node, i)),
        }
    }

    /// A `Constant` node holding `c` (named after `name`, shared with earlier readers of the
    /// same constant); `what` names the reader in errors. Integers become f32 of exact value,
    /// so those beyond 2^24 are refused.
    fn materialize(&mut self, what: &str, name: &str, c: &Const) -> Result<ValueId> {
        const EXACT: i64 = 1 << 24;
        if let ConstData::I64(v) = &c.data
            && let Some(x) = v.iter().find(|x| x.abs() > EXACT)
        {
            return Err(Error::invalid_op(
                what,
                format!(
                    "constant {name:?} holds the integer {x}, beyond 2^24 (f32 holds integers exactly only that far)"
                ),
            ));
        }
        let value = c.to_tensor();
        let key = (
            c.shape.clone(),
            value.data().iter().map(|x| x.to_bits()).collect(),
        );
        if let Some(&v) = self.materialized.get(&key) {
            return Ok(v);
        }
        let node_name = self.g.unique_name(name);
        let v = self.g.add(&node_name, Op::Constant { value }, &[])?;
        self.materialized.insert(key, v);
        Ok(v)
    }

    fn const_in(&self, node: &NodeProto, i: usize) -> Result<Option<Const>> {
        match self.get(node, i)? {
            Some(Val::Const(c)) => Ok(Some(c.clone())),
            None => Ok(None),
            Some(_) => Err(Error::invalid_op(
                node_label(node),
                format!(
                    "input {i} ({:?}) must be a constant (initializer, Constant node, or a graph input given as a constant)",
                    node.input[i]
                ),
            )),
        }
    }

    fn need_const(&self, node: &NodeProto, i: usize) -> Result<Const> {
        self.const_in(node, i)?
            .ok_or_else(|| missing_input(node, format_args!("{i} (a constant)")))
    }

    fn all_const(&self, node: &NodeProto) -> bool {
        node.input
            .iter()
            .filter(|n| !n.is_empty())
            .all(|n| matches!(self.vals.get(n.as_str()), Some(Val::Const(_))))
    }

    /// `axes` as an attribute (older opsets) or a constant input; which one the opset has is
    /// checked up front ([`super::versions`]).
    fn axes(&self, node: &NodeProto, a: &Attrs<'_>, input: usize) -> Result<Option<Vec<i64>>> {
        if let Some(v) = a.ints("axes") {
            return Ok(Some(v));
        }
        let axes = self.const_in(node, input)?.map(|c| c.as_i64());
        // Reductions with axes as an input: none or an empty list means every axis, unless
        // noop_with_empty_axes makes it no axis (the identity).
        if node.op_type().starts_with("Reduce") && axes.as_ref().is_none_or(|v| v.is_empty()) {
            return Ok((a.int("noop_with_empty_axes", 0) != 0).then(Vec::new));
        }
        Ok(axes)
    }

    fn shape(&self, v: ValueId) -> Vec<usize> {
        self.g.shape(v).to_vec()
    }

    fn set(&mut self, node: &NodeProto, v: Val) {
        if let Some(out) = node.output.first() {
            self.vals.insert(out.clone(), v);
        }
    }

    /// Adds a node named after the ONNX node (made unique: one ONNX node may become several).
    fn add(
        &mut self,
        node: &NodeProto,
        index: usize,
        op: Op,
        inputs: &[ValueId],
    ) -> Result<ValueId> {
        let name = self.unique_name(node, index);
        self.g.add(&name, op, inputs)
    }

    fn unique_name(&self, node: &NodeProto, index: usize) -> String {
        self.g.unique_name(&Self::base_name(node, index))
    }

    /// The node's name, or its first output's when it has none.
    fn base_name(node: &NodeProto, index: usize) -> String {
        if node.name().is_empty() {
            node.output
                .first()
                .cloned()
                .unwrap_or_else(|| format!("{}_{index}", node.op_type()))
        } else {
            node.name().to_string()
        }
    }

    /// The producer op of a value, if computed by a node.
    fn producer(&self, v: ValueId) -> Option<(&Op, Vec<ValueId>)> {
        let id = self.g.value(v).producer?;
        let n = self.g.node(id);
        Some((&n.op, n.inputs.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::SUPPORTED_OPS;

    /// Every supported op is translated by exactly one family, or only ever folded.
    #[test]
    fn every_supported_op_has_one_translator() {
        for op in SUPPORTED_OPS {
            let n = FAMILIES.iter().filter(|(ops, _)| ops.contains(op)).count();
            let folded = constant::FOLD_ONLY.contains(op);
            assert_eq!(n + folded as usize, 1, "{op}");
        }
        for (ops, _) in FAMILIES {
            for op in *ops {
                assert!(SUPPORTED_OPS.contains(op), "{op} is not in SUPPORTED_OPS");
            }
        }
    }
}
