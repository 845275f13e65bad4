//! Lowering an ONNX model onto a [`Graph`]: constants are folded, weights attached to their ops,
//! and the exporters' decompositions (SiLU, HardSwish, GELU through Erf, channel / pixel
//! shuffle as Reshape-Transpose-Reshape, Pad before Conv) mapped back to the fused kernels.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;

use super::ImportOptions;
use super::attrs::Attrs;
use super::fold;
use super::proto::{
    ModelProto, NodeProto, tensor_shape_proto::dimension::Value as Dim, type_proto,
};
use super::support::unsupported_reason;
use super::tensor::{Const, decode};
use crate::error::{Error, Result};
use crate::graph::{Graph, Op, ValueId};
use crate::ops::{
    Activation, BinaryOp, ChannelOrder, ChannelShuffle, ConvSpec, ConvTransposeSpec,
    CoordinateMode, Epilogue, NearestMode, PixelShuffle, PoolKind, PoolSpec, ResizeMode,
    ResizeSpec, SpaceToDepth,
};
use crate::tensor::{Tensor, numel};

/// Lowest and highest default-domain opset accepted.
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=22;

/// A value while importing: a graph tensor, a constant, a zero-padded graph tensor waiting
/// for the Conv that absorbs the padding (any other reader materialises it as an
/// [`Op::Pad`]), or a part of the GELU decomposition waiting for the rest of it.
#[derive(Clone, Debug)]
enum Val {
    Dyn(ValueId),
    Const(Const),
    Padded {
        v: ValueId,
        /// Spatial padding (dims 2..).
        begin: Vec<usize>,
        end: Vec<usize>,
        /// The Pad node's name, for the node it may become.
        name: String,
    },
    Gelu {
        /// GELU's input.
        x: ValueId,
        stage: GeluStage,
        /// The Erf node, for errors.
        erf: String,
    },
}

/// How much of `gelu(x) = x * 0.5 * (1 + erf(x / sqrt(2)))` a value holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GeluStage {
    /// `erf(x / sqrt(2))`.
    Erf,
    /// `1 + erf(..)`.
    OnePlusErf,
    /// `0.5 * (1 + erf(..))`.
    HalfOnePlusErf,
    /// `x * (1 + erf(..))`: twice GELU.
    Twice,
}

/// True for a one-element constant equal to `v` (to f32 rounding of the exporters' literals).
fn is_scalar(c: &Const, v: f32) -> bool {
    c.len() == 1 && (c.as_f32()[0] - v).abs() <= 1e-6 * v.abs().max(1.0)
}

struct Importer<'a> {
    g: Graph,
    vals: HashMap<String, Val>,
    opset: i64,
    opts: &'a ImportOptions,
}

fn node_label(n: &NodeProto) -> String {
    format!("ONNX node {:?} ({})", n.name(), n.op_type())
}

/// Decodes and lowers a model.
pub fn import(bytes: &[u8], opts: &ImportOptions, base: Option<&Path>) -> Result<Graph> {
    let model = ModelProto::decode(bytes)
        .map_err(|e| Error::invalid_op("ONNX model", format!("not a valid ONNX protobuf: {e}")))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::invalid_op("ONNX model", "has no graph"))?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
        .map(|o| o.version())
        .unwrap_or(1);
    if !OPSETS.contains(&opset) {
        return Err(Error::invalid_op(
            "ONNX model",
            format!(
                "default-domain opset {opset} is outside the supported {}..={}",
                OPSETS.start(),
                OPSETS.end()
            ),
        ));
    }
    // Every unsupported node at once, before lowering anything.
    let unsupported: Vec<String> = graph
        .node
        .iter()
        .filter_map(|n| {
            unsupported_reason(n, opset)
                .map(|why| format!("{} [opset {opset}]: {why}", node_label(n)))
        })
        .collect();
    if !unsupported.is_empty() {
        return Err(Error::invalid_op(
            "ONNX model",
            format!(
                "{} unsupported node(s):\n  {}",
                unsupported.len(),
                unsupported.join("\n  ")
            ),
        ));
    }
    let mut im = Importer {
        g: Graph::new(),
        vals: HashMap::new(),
        opset,
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
        im.lower(node, i)?;
    }
    for out in &graph.output {
        im.materialise_pad(out.name())?;
        match im.vals.get(out.name()) {
            Some(Val::Dyn(v)) => im.g.output_named(*v, out.name()),
            Some(Val::Const(_)) => {
                return Err(Error::invalid_op(
                    "ONNX model",
                    format!(
                        "output {:?} is a constant; wgconv runs only computed outputs",
                        out.name()
                    ),
                ));
            }
            Some(Val::Padded { .. }) => unreachable!("materialised above"),
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
                return Err(Error::invalid_op(
                    "ONNX model",
                    format!("output {:?} is never computed", out.name()),
                ));
            }
        }
    }
    Ok(im.g)
}

impl Importer<'_> {
    fn input_shape(&self, vi: &super::proto::ValueInfoProto) -> Result<Vec<usize>> {
        let name = vi.name();
        let declared: Vec<Option<usize>> = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
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

    fn get(&self, node: &NodeProto, i: usize) -> Result<Option<&Val>> {
        match node.input.get(i).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(name) => self.vals.get(name).map(Some).ok_or_else(|| {
                Error::invalid_op(
                    node_label(node),
                    format!("input {name:?} is not defined before use"),
                )
            }),
        }
    }

    fn dyn_in(&self, node: &NodeProto, i: usize) -> Result<ValueId> {
        match self.get(node, i)? {
            Some(Val::Dyn(v)) => Ok(*v),
            Some(Val::Const(_)) => Err(Error::invalid_op(
                node_label(node),
                format!("input {i} is a constant where wgconv needs a computed tensor"),
            )),
            Some(Val::Padded { .. }) => Err(Error::invalid_op(
                node_label(node),
                "reads a deferred Pad output that was not materialised (importer bug)",
            )),
            Some(Val::Gelu { erf, .. }) => Err(Error::invalid_op(
                node_label(node),
                format!(
                    "reads a value computed from {erf}; Erf is supported only inside GELU, x * 0.5 * (1 + erf(x / sqrt(2)))"
                ),
            )),
            None => Err(Error::invalid_op(
                node_label(node),
                format!("missing input {i}"),
            )),
        }
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
        self.const_in(node, i)?.ok_or_else(|| {
            Error::invalid_op(node_label(node), format!("missing constant input {i}"))
        })
    }

    fn all_const(&self, node: &NodeProto) -> bool {
        node.input
            .iter()
            .filter(|n| !n.is_empty())
            .all(|n| matches!(self.vals.get(n.as_str()), Some(Val::Const(_))))
    }

    fn shape(&self, v: ValueId) -> Vec<usize> {
        self.g.shape(v).to_vec()
    }

    fn set(&mut self, node: &NodeProto, v: Val) {
        if let Some(out) = node.output.first() {
            self.vals.insert(out.clone(), v);
        }
    }

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
        self.unique_from(&Self::base_name(node, index))
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

    /// `base`, or `base_k` with the first free k.
    fn unique_from(&self, base: &str) -> String {
        if self.g.find(base).is_none() {
            return base.to_string();
        }
        (1..)
            .map(|k| format!("{base}_{k}"))
            .find(|n| self.g.find(n).is_none())
            .expect("unbounded")
    }

    /// The producer op of a value, if computed by a node.
    fn producer(&self, v: ValueId) -> Option<(&Op, Vec<ValueId>)> {
        let id = self.g.value(v).producer?;
        let n = self.g.node(id);
        Some((&n.op, n.inputs.clone()))
    }

    /// Turns the deferred zero padding held under `name`, if any, into an [`Op::Pad`] node:
    /// its reader is not a Conv that can absorb it.
    fn materialise_pad(&mut self, name: &str) -> Result<()> {
        let Some(Val::Padded {
            v,
            begin,
            end,
            name: pad_name,
        }) = self.vals.get(name).cloned()
        else {
            return Ok(());
        };
        let op = Op::Pad {
            begin: [vec![0, 0], begin].concat(),
            end: [vec![0, 0], end].concat(),
            value: 0.0,
        };
        let node_name = self.unique_from(&pad_name);
        let y = self.g.add(&node_name, op, &[v])?;
        self.vals.insert(name.to_string(), Val::Dyn(y));
        Ok(())
    }

    fn lower(&mut self, node: &NodeProto, index: usize) -> Result<()> {
        let a = Attrs::new(node);
        let op_type = node.op_type();
        // Only Conv absorbs a deferred Pad (Identity and Dropout pass it on).
        if !matches!(op_type, "Conv" | "Identity" | "Dropout") {
            for i in 0..node.input.len() {
                let name = node.input[i].clone();
                self.materialise_pad(&name)?;
            }
        }
        // Pure constant subgraphs (shape arithmetic) fold on the host.
        if self.all_const(node)
            && !matches!(op_type, "Constant" | "Conv" | "ConvTranspose")
            && let Some(c) = self.fold(node, &a)?
        {
            self.set(node, Val::Const(c));
            return Ok(());
        }
        let out = match op_type {
            "Constant" => Val::Const(self.constant(node, &a)?),
            // Static shapes make every Shape a constant.
            "Shape" => Val::Const(shape_const(&self.shape(self.dyn_in(node, 0)?), &a)),
            "Identity" | "Dropout" => self
                .get(node, 0)?
                .cloned()
                .ok_or_else(|| Error::invalid_op(node_label(node), "missing input"))?,
            "Conv" => Val::Dyn(self.conv(node, index, &a)?),
            "ConvTranspose" => Val::Dyn(self.conv_transpose(node, index, &a)?),
            "BatchNormalization" => Val::Dyn(self.batch_norm(node, index, &a)?),
            "Relu" | "Sigmoid" | "Tanh" | "LeakyRelu" | "HardSigmoid" | "HardSwish" | "Gelu"
            | "Clip" => {
                let act = self.activation(node, &a)?;
                let x = self.dyn_in(node, 0)?;
                Val::Dyn(self.add(node, index, Op::Activation(act), &[x])?)
            }
            "PRelu" => Val::Dyn(self.prelu(node, index)?),
            "Add" | "Sub" | "Mul" | "Div" => self.binary(node, index)?,
            "Concat" => {
                let r = self.shape(self.dyn_in(node, 0)?).len();
                let axis = fold::axis("Concat", a.int("axis", 1), r)?;
                let xs = (0..node.input.len())
                    .map(|i| self.dyn_in(node, i))
                    .collect::<Result<Vec<_>>>()?;
                Val::Dyn(self.add(node, index, Op::Concat { axis }, &xs)?)
            }
            "Split" => return self.split(node, index, &a),
            "Slice" => Val::Dyn(self.slice(node, index, &a)?),
            "Pad" => self.pad(node, index, &a)?,
            "Resize" | "Upsample" => Val::Dyn(self.resize(node, index, &a)?),
            "Erf" => self.erf(node)?,
            "MaxPool" | "AveragePool" => Val::Dyn(self.pool(node, index, &a)?),
            "GlobalAveragePool" | "GlobalMaxPool" => {
                let kind = if op_type == "GlobalMaxPool" {
                    PoolKind::Max
                } else {
                    PoolKind::Avg
                };
                let x = self.dyn_in(node, 0)?;
                Val::Dyn(self.add(node, index, Op::GlobalPool(kind), &[x])?)
            }
            "ReduceMean" => Val::Dyn(self.reduce_mean(node, index, &a)?),
            "Gemm" => Val::Dyn(self.gemm(node, index, &a)?),
            "MatMul" => Val::Dyn(self.matmul(node, index)?),
            "Flatten" => {
                let x = self.dyn_in(node, 0)?;
                let s = self.shape(x);
                let axis = if a.int("axis", 1) < 0 {
                    (a.int("axis", 1) + s.len() as i64) as usize
                } else {
                    a.int("axis", 1) as usize
                };
                if axis > s.len() {
                    return Err(a.error("axis", format!("{axis} is out of range for {s:?}")));
                }
                let shape = vec![numel(&s[..axis]) as i64, numel(&s[axis..]) as i64];
                Val::Dyn(self.add(node, index, Op::Reshape { shape }, &[x])?)
            }
            "Reshape" => Val::Dyn(self.reshape(node, index, &a)?),
            "Squeeze" | "Unsqueeze" => Val::Dyn(self.squeeze(node, index, &a)?),
            "Transpose" => {
                let x = self.dyn_in(node, 0)?;
                let r = self.shape(x).len();
                let perm = match a.ints("perm") {
                    Some(p) => p
                        .iter()
                        .map(|&i| fold::axis("Transpose", i, r))
                        .collect::<Result<Vec<_>>>()?,
                    None => (0..r).rev().collect(),
                };
                Val::Dyn(self.add(node, index, Op::Transpose { perm }, &[x])?)
            }
            "Softmax" => {
                let x = self.dyn_in(node, 0)?;
                let r = self.shape(x).len();
                let default = if self.opset >= 13 { -1 } else { 1 };
                let axis = fold::axis("Softmax", a.int("axis", default), r)?;
                if self.opset < 13 && axis != r - 1 {
                    return Err(a.error("axis", format!("opset {} Softmax on axis {axis} of rank {r} flattens trailing dims; only the last axis is supported", self.opset)));
                }
                Val::Dyn(self.add(node, index, Op::Softmax { axis }, &[x])?)
            }
            "DepthToSpace" => {
                let x = self.dyn_in(node, 0)?;
                let order = if a.string("mode", "DCR") == "CRD" {
                    ChannelOrder::Crd
                } else {
                    ChannelOrder::Dcr
                };
                let factor = a.int("blocksize", 0).max(0) as usize;
                Val::Dyn(self.add(
                    node,
                    index,
                    Op::PixelShuffle(PixelShuffle { factor, order }),
                    &[x],
                )?)
            }
            "SpaceToDepth" => {
                let x = self.dyn_in(node, 0)?;
                let block = a.int("blocksize", 0).max(0) as usize;
                Val::Dyn(self.add(
                    node,
                    index,
                    Op::SpaceToDepth(SpaceToDepth {
                        block,
                        order: ChannelOrder::Dcr,
                    }),
                    &[x],
                )?)
            }
            other => {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!("{other} has no lowering for computed (non-constant) inputs"),
                ));
            }
        };
        self.set(node, out);
        Ok(())
    }

    fn constant(&self, node: &NodeProto, a: &Attrs<'_>) -> Result<Const> {
        if let Some(t) = a.tensor("value")? {
            return Ok(t);
        }
        if a.has("value_float") {
            return Ok(Const::f32(vec![], vec![a.float("value_float", 0.0)]));
        }
        if let Some(v) = a.floats("value_floats").filter(|_| a.has("value_floats")) {
            return Ok(Const::f32(vec![v.len()], v));
        }
        if a.has("value_int") {
            return Ok(Const::i64(vec![], vec![a.int("value_int", 0)]));
        }
        if let Some(v) = a.ints("value_ints") {
            return Ok(Const::i64(vec![v.len()], v));
        }
        Err(Error::invalid_op(
            node_label(node),
            "Constant without a supported value attribute",
        ))
    }

    /// Folds a node whose inputs are all constants; `None` when the op is not foldable.
    fn fold(&self, node: &NodeProto, a: &Attrs<'_>) -> Result<Option<Const>> {
        let c = |i: usize| self.need_const(node, i);
        Ok(Some(match node.op_type() {
            "Identity" | "Dropout" => c(0)?,
            "Add" | "Sub" | "Mul" | "Div" | "Equal" => {
                fold::binary(node.op_type(), &c(0)?, &c(1)?)?
            }
            "Shape" => shape_const(&c(0)?.shape, a),
            "Gather" => fold::gather(&c(0)?, &c(1)?, a.int("axis", 0))?,
            "Concat" => {
                let parts = (0..node.input.len()).map(c).collect::<Result<Vec<_>>>()?;
                fold::concat(&parts, a.int("axis", 0))?
            }
            "Cast" => {
                let x = c(0)?;
                // TensorProto.DataType: 1 float, 10 float16, 11 double; everything else integral.
                match a.int("to", 1) {
                    1 | 10 | 11 => Const::f32(x.shape.clone(), x.as_f32()),
                    _ => Const::i64(x.shape.clone(), x.as_i64()),
                }
            }
            "ConstantOfShape" => {
                let dims = c(0)?.as_i64();
                let shape: Vec<usize> = dims
                    .iter()
                    .map(|&d| usize::try_from(d))
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        Error::invalid_op(
                            node_label(node),
                            format!("negative dimension in the shape {dims:?}"),
                        )
                    })?;
                let n = fold::fold_len("ConstantOfShape", &shape)?;
                match a.tensor("value")? {
                    Some(v) => match v.data {
                        super::tensor::ConstData::F32(x) => {
                            Const::f32(shape, vec![x.first().copied().unwrap_or(0.0); n])
                        }
                        super::tensor::ConstData::I64(x) => {
                            Const::i64(shape, vec![x.first().copied().unwrap_or(0); n])
                        }
                    },
                    None => Const::f32(shape, vec![0.0; n]),
                }
            }
            "Transpose" => {
                let x = c(0)?;
                let r = x.shape.len();
                let perm = match a.ints("perm") {
                    Some(p) => p
                        .iter()
                        .map(|&i| fold::axis("Transpose", i, r))
                        .collect::<Result<Vec<_>>>()?,
                    None => (0..r).rev().collect(),
                };
                fold::transpose(&x, &perm)?
            }
            "Unsqueeze" | "Squeeze" => {
                let x = c(0)?;
                let axes = self.axes(node, a, 1)?;
                let shape = squeeze_shape(node.op_type(), &x.shape, axes.as_deref())?;
                Const {
                    shape,
                    data: x.data,
                }
            }
            "Reshape" => {
                let x = c(0)?;
                let shape = reshape_target(&x.shape, &c(1)?.as_i64(), a.int("allowzero", 0) != 0)?;
                Const {
                    shape,
                    data: x.data,
                }
            }
            "Slice" => {
                let x = c(0)?;
                let (starts, ends, axes, steps) = self.slice_args(node, a, x.shape.len())?;
                let mut picks: Vec<Vec<usize>> =
                    x.shape.iter().map(|&d| (0..d).collect()).collect();
                for (k, &ax) in axes.iter().enumerate() {
                    picks[ax] = fold::slice_indices(x.shape[ax], starts[k], ends[k], steps[k])?;
                }
                fold::slice(&x, &picks)
            }
            _ => return Ok(None),
        }))
    }

    fn axes(&self, node: &NodeProto, a: &Attrs<'_>, input: usize) -> Result<Option<Vec<i64>>> {
        if let Some(v) = a.ints("axes") {
            return Ok(Some(v));
        }
        Ok(self.const_in(node, input)?.map(|c| c.as_i64()))
    }

    fn conv(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let (x, extra_begin, extra_end) = match self.get(node, 0)? {
            Some(Val::Padded { v, begin, end, .. }) => (*v, begin.clone(), end.clone()),
            _ => {
                let x = self.dyn_in(node, 0)?;
                let r = self.shape(x).len().saturating_sub(2);
                (x, vec![0; r], vec![0; r])
            }
        };
        let w = self.need_const(node, 1)?;
        let bias = self.const_in(node, 2)?;
        let xs = self.shape(x);
        if w.shape.len() < 3 || xs.len() != w.shape.len() {
            return Err(Error::invalid_op(
                node_label(node),
                format!("input {xs:?} and weight {:?} ranks disagree", w.shape),
            ));
        }
        let r = w.shape.len() - 2;
        let kernel = w.shape[2..].to_vec();
        if let Some(k) = a.ints("kernel_shape")
            && k.iter().map(|&v| v as usize).collect::<Vec<_>>() != kernel
        {
            return Err(a.error(
                "kernel_shape",
                format!("{k:?} disagrees with weight {:?}", w.shape),
            ));
        }
        let stride = a.usizes("strides", r, 1)?;
        let dilation = a.usizes("dilations", r, 1)?;
        let (mut begin, mut end) = explicit_pads(a, r)?;
        match a.string("auto_pad", "NOTSET").as_str() {
            "NOTSET" => {}
            "VALID" => (begin, end) = (vec![0; r], vec![0; r]),
            mode @ ("SAME_UPPER" | "SAME_LOWER") => {
                for i in 0..r {
                    let input = xs[2 + i];
                    let out = input.div_ceil(stride[i]);
                    let span = dilation[i] * (kernel[i] - 1) + 1;
                    let total = ((out.saturating_sub(1)) * stride[i] + span).saturating_sub(input);
                    let small = total / 2;
                    (begin[i], end[i]) = if mode == "SAME_UPPER" {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    };
                }
            }
            other => return Err(a.error("auto_pad", format!("unknown value {other:?}"))),
        }
        for i in 0..r {
            begin[i] += extra_begin.get(i).copied().unwrap_or(0);
            end[i] += extra_end.get(i).copied().unwrap_or(0);
        }
        let groups = a.int("group", 1);
        if groups < 1 {
            return Err(a.error("group", format!("{groups} must be >= 1")));
        }
        let spec = ConvSpec::new(&kernel)
            .strides(&stride)
            .pads(&begin, &end)
            .dilations(&dilation)
            .groups(groups as usize);
        let op = Op::Conv {
            spec,
            weight: w.to_tensor(),
            bias: bias.map(|b| b.to_tensor()),
            epilogue: Epilogue::default(),
        };
        self.add(node, index, op, &[x])
    }

    fn conv_transpose(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let w = self.need_const(node, 1)?;
        let bias = self.const_in(node, 2)?;
        let xs = self.shape(x);
        if w.shape.len() < 3 || xs.len() != w.shape.len() {
            return Err(Error::invalid_op(
                node_label(node),
                format!("input {xs:?} and weight {:?} ranks disagree", w.shape),
            ));
        }
        let r = w.shape.len() - 2;
        let kernel = w.shape[2..].to_vec();
        let stride = a.usizes("strides", r, 1)?;
        let dilation = a.usizes("dilations", r, 1)?;
        let mut output_padding = a.usizes("output_padding", r, 0)?;
        let (mut begin, mut end) = explicit_pads(a, r)?;
        let auto = a.string("auto_pad", "NOTSET");
        if let Some(out_shape) = a.ints("output_shape") {
            // ONNX: total_padding = stride*(in-1) + output_padding + span - output_shape.
            let spatial: Vec<i64> = if out_shape.len() == r {
                out_shape
            } else {
                out_shape[out_shape.len().saturating_sub(r)..].to_vec()
            };
            for i in 0..r {
                let span = (dilation[i] * (kernel[i] - 1) + 1) as i64;
                let total =
                    stride[i] as i64 * (xs[2 + i] as i64 - 1) + output_padding[i] as i64 + span
                        - spatial[i];
                if total < 0 {
                    // Growing the output beyond the natural size is output padding at the end.
                    output_padding[i] += (-total) as usize;
                    (begin[i], end[i]) = (0, 0);
                } else {
                    let (t, h) = (total as usize, total as usize / 2);
                    (begin[i], end[i]) = if auto == "SAME_LOWER" {
                        (t - h, h)
                    } else {
                        (h, t - h)
                    };
                }
            }
        } else if auto == "SAME_UPPER" || auto == "SAME_LOWER" {
            for i in 0..r {
                let span = dilation[i] * (kernel[i] - 1) + 1;
                let full = stride[i] * (xs[2 + i] - 1) + output_padding[i] + span;
                let total = full.saturating_sub(xs[2 + i] * stride[i]);
                let h = total / 2;
                (begin[i], end[i]) = if auto == "SAME_UPPER" {
                    (h, total - h)
                } else {
                    (total - h, h)
                };
            }
        } else if auto == "VALID" {
            (begin, end) = (vec![0; r], vec![0; r]);
        }
        let groups = a.int("group", 1).max(1) as usize;
        let conv = ConvSpec::new(&kernel)
            .strides(&stride)
            .pads(&begin, &end)
            .dilations(&dilation)
            .groups(groups);
        let spec = ConvTransposeSpec::new(conv).output_padding(&output_padding);
        let op = Op::ConvTranspose {
            spec,
            weight: w.to_tensor(),
            bias: bias.map(|b| b.to_tensor()),
            epilogue: Epilogue::default(),
        };
        self.add(node, index, op, &[x])
    }

    fn batch_norm(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        if a.int("training_mode", 0) != 0 || node.output.iter().skip(1).any(|o| !o.is_empty()) {
            return Err(Error::invalid_op(
                node_label(node),
                "training-mode BatchNormalization is not supported (inference only)",
            ));
        }
        let x = self.dyn_in(node, 0)?;
        let t = |i| self.need_const(node, i).map(|c| c.to_tensor());
        let op = Op::BatchNorm {
            gamma: Some(t(1)?),
            beta: Some(t(2)?),
            mean: t(3)?,
            var: t(4)?,
            eps: a.float("epsilon", 1e-5),
        };
        self.add(node, index, op, &[x])
    }

    fn activation(&self, node: &NodeProto, a: &Attrs<'_>) -> Result<Activation> {
        Ok(match node.op_type() {
            "Relu" => Activation::Relu,
            "Sigmoid" => Activation::Sigmoid,
            "Tanh" => Activation::Tanh,
            "LeakyRelu" => Activation::LeakyRelu {
                slope: a.float("alpha", 0.01),
            },
            "HardSigmoid" => Activation::HardSigmoid {
                alpha: a.float("alpha", 0.2),
                beta: a.float("beta", 0.5),
            },
            "HardSwish" => Activation::HardSwish,
            "Gelu" => Activation::Gelu,
            "Clip" => {
                let (min, max) = if self.opset < 11 {
                    (a.float("min", f32::MIN), a.float("max", f32::MAX))
                } else {
                    let bound = |i: usize, default: f32| -> Result<f32> {
                        match self.const_in(node, i)? {
                            None => Ok(default),
                            Some(c) => c.as_f32().first().copied().ok_or_else(|| {
                                Error::invalid_op(
                                    node_label(node),
                                    format!("input {i} (a bound) is an empty tensor"),
                                )
                            }),
                        }
                    };
                    (bound(1, f32::MIN)?, bound(2, f32::MAX)?)
                };
                if min.is_nan() || max.is_nan() {
                    return Err(Error::invalid_op(
                        node_label(node),
                        format!("NaN bound (min {min}, max {max})"),
                    ));
                }
                // ONNX: with min > max every output is max.
                let min = min.min(max);
                match (min, max) {
                    (0.0, 6.0) => Activation::Relu6,
                    (0.0, m) if m == f32::MAX => Activation::Relu,
                    _ => Activation::Clip { min, max },
                }
            }
            other => {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!("{other} is not an activation"),
                ));
            }
        })
    }

    /// Per-channel scale and shift broadcast from a constant operand of `x`, if it broadcasts
    /// along the channel axis only.
    fn per_channel(&self, x: ValueId, c: &Const) -> Option<Vec<f32>> {
        let xs = self.shape(x);
        if xs.len() < 2 || c.shape.len() > xs.len() {
            return None;
        }
        let lead = xs.len() - c.shape.len();
        let ch = xs[1];
        let mut per = false;
        for (d, &n) in c.shape.iter().enumerate() {
            let axis = lead + d;
            if n == 1 {
                continue;
            }
            if axis == 1 && n == ch {
                per = true;
            } else {
                return None;
            }
        }
        let v = c.as_f32();
        Some(if per { v } else { vec![v[0]; ch] })
    }

    fn affine(
        &mut self,
        node: &NodeProto,
        index: usize,
        x: ValueId,
        scale: Vec<f32>,
        shift: Vec<f32>,
    ) -> Result<ValueId> {
        let ch = scale.len();
        let op = Op::ChannelAffine {
            scale: Tensor::new(vec![ch], scale)?,
            shift: Tensor::new(vec![ch], shift)?,
            activation: Activation::Identity,
            residual: false,
        };
        self.add(node, index, op, &[x])
    }

    fn prelu(&mut self, node: &NodeProto, index: usize) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let slope = self.need_const(node, 1)?;
        if slope.len() == 1 {
            let op = Op::Activation(Activation::LeakyRelu {
                slope: slope.as_f32()[0],
            });
            return self.add(node, index, op, &[x]);
        }
        let s = self.per_channel(x, &slope).ok_or_else(|| {
            Error::invalid_op(
                node_label(node),
                format!("slope {:?} must be a scalar or per-channel", slope.shape),
            )
        })?;
        // prelu(x) = (1 - s) * relu(x) + s * x, as a ReLU and one affine with a residual.
        let ch = s.len();
        let r = self.add(node, index, Op::Activation(Activation::Relu), &[x])?;
        let r_scaled = self.affine(
            node,
            index,
            r,
            s.iter().map(|v| 1.0 - v).collect(),
            vec![0.0; ch],
        )?;
        let op = Op::ChannelAffine {
            scale: Tensor::new(vec![ch], s)?,
            shift: Tensor::zeros(vec![ch]),
            activation: Activation::Identity,
            residual: true,
        };
        self.add(node, index, op, &[x, r_scaled])
    }

    fn binary(&mut self, node: &NodeProto, index: usize) -> Result<Val> {
        let (va, vb) = (self.get(node, 0)?.cloned(), self.get(node, 1)?.cloned());
        if let (Some(a), Some(b)) = (&va, &vb)
            && let Some(v) = self.gelu_step(node, index, a, b)?
        {
            return Ok(v);
        }
        self.binary_dyn(node, index, va, vb).map(Val::Dyn)
    }

    fn binary_dyn(
        &mut self,
        node: &NodeProto,
        index: usize,
        va: Option<Val>,
        vb: Option<Val>,
    ) -> Result<ValueId> {
        let op_type = node.op_type();
        match (va, vb) {
            (Some(Val::Dyn(x)), Some(Val::Dyn(y))) => {
                if op_type == "Mul"
                    && let Some(v) = self.fuse_gated_mul(node, index, x, y)?
                {
                    return Ok(v);
                }
                let op = match op_type {
                    "Add" => BinaryOp::Add,
                    "Sub" => BinaryOp::Sub,
                    "Mul" => BinaryOp::Mul,
                    _ => BinaryOp::Div,
                };
                self.add(
                    node,
                    index,
                    Op::Binary {
                        op,
                        activation: Activation::Identity,
                    },
                    &[x, y],
                )
            }
            (Some(Val::Dyn(x)), Some(Val::Const(c))) => {
                self.binary_const(node, index, x, &c, false)
            }
            (Some(Val::Const(c)), Some(Val::Dyn(x))) => self.binary_const(node, index, x, &c, true),
            _ => Err(Error::invalid_op(
                node_label(node),
                "operands must be computed tensors or constants",
            )),
        }
    }

    /// `x * sigmoid(x)` -> SiLU and `x * hardsigmoid(x)` -> HardSwish.
    fn fuse_gated_mul(
        &mut self,
        node: &NodeProto,
        index: usize,
        x: ValueId,
        y: ValueId,
    ) -> Result<Option<ValueId>> {
        for (a, b) in [(x, y), (y, x)] {
            if let Some((Op::Activation(act), ins)) = self.producer(b) {
                let fused = match act {
                    Activation::Sigmoid => Some(Activation::Silu),
                    Activation::HardSigmoid { alpha, beta }
                        if (alpha - 1.0 / 6.0).abs() < 1e-6 && (beta - 0.5).abs() < 1e-6 =>
                    {
                        Some(Activation::HardSwish)
                    }
                    _ => None,
                };
                if let (Some(f), [src]) = (fused, ins.as_slice())
                    && *src == a
                {
                    return self.add(node, index, Op::Activation(f), &[a]).map(Some);
                }
            }
        }
        Ok(None)
    }

    /// `Erf(x / sqrt(2))` (the division, or a multiplication by 1 / sqrt(2), already lowered
    /// to a channel affine): the start of GELU. Any other Erf is refused, naming the node.
    fn erf(&self, node: &NodeProto) -> Result<Val> {
        let scaled = self.dyn_in(node, 0)?;
        if let Some((
            Op::ChannelAffine {
                scale,
                shift,
                activation: Activation::Identity,
                residual: false,
            },
            ins,
        )) = self.producer(scaled)
        {
            let inv_sqrt2 = std::f32::consts::FRAC_1_SQRT_2;
            // 1e-4: exporters write sqrt(2) to as few as 6 digits (1.41421).
            if shift.data().iter().all(|&b| b == 0.0)
                && scale
                    .data()
                    .iter()
                    .all(|&s| (s / inv_sqrt2 - 1.0).abs() < 1e-4)
            {
                return Ok(Val::Gelu {
                    x: ins[0],
                    stage: GeluStage::Erf,
                    erf: node_label(node),
                });
            }
        }
        Err(Error::invalid_op(
            node_label(node),
            "a standalone Erf is not supported; Erf is imported only inside GELU, x * 0.5 * (1 + erf(x / sqrt(2)))",
        ))
    }

    /// True when `h` is `0.5 * x` (a channel affine of `x` with scale 0.5, no shift).
    fn is_half_of(&self, h: ValueId, x: ValueId) -> bool {
        matches!(
            self.producer(h),
            Some((Op::ChannelAffine { scale, shift, activation: Activation::Identity, residual: false }, ins))
                if ins[0] == x
                    && scale.data().iter().all(|&s| s == 0.5)
                    && shift.data().iter().all(|&b| b == 0.0)
        )
    }

    /// One step of `x * 0.5 * (1 + erf(x / sqrt(2)))` in any operand order and grouping
    /// (`(x * (1 + e)) * 0.5`, `x * ((1 + e) * 0.5)`, `(x * 0.5) * (1 + e)`,
    /// `x * (1 + e) / 2`): the next partial value, or GELU itself once complete. `None` when
    /// neither operand is part of the pattern; an error when one is but the step does not
    /// continue it.
    fn gelu_step(
        &mut self,
        node: &NodeProto,
        index: usize,
        va: &Val,
        vb: &Val,
    ) -> Result<Option<Val>> {
        let op_type = node.op_type();
        for (p, q, p_first) in [(va, vb, true), (vb, va, false)] {
            let Val::Gelu { x, stage, erf } = p else {
                continue;
            };
            let (x, erf) = (*x, erf.clone());
            let partial = |stage| {
                Ok(Some(Val::Gelu {
                    x,
                    stage,
                    erf: erf.clone(),
                }))
            };
            use GeluStage::*;
            let done = match (op_type, stage, q) {
                ("Add", Erf, Val::Const(c)) if is_scalar(c, 1.0) => return partial(OnePlusErf),
                ("Mul", OnePlusErf, Val::Const(c)) if is_scalar(c, 0.5) => {
                    return partial(HalfOnePlusErf);
                }
                ("Mul", OnePlusErf, Val::Dyn(y)) if *y == x => return partial(Twice),
                ("Mul", OnePlusErf, Val::Dyn(h)) => self.is_half_of(*h, x),
                ("Mul", HalfOnePlusErf, Val::Dyn(y)) => *y == x,
                ("Mul", Twice, Val::Const(c)) => is_scalar(c, 0.5),
                ("Div", Twice, Val::Const(c)) => p_first && is_scalar(c, 2.0),
                _ => false,
            };
            if !done {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!(
                        "reads a value computed from {erf}, but does not continue GELU, x * 0.5 * (1 + erf(x / sqrt(2))); a standalone Erf is not supported"
                    ),
                ));
            }
            let y = self.add(node, index, Op::Activation(Activation::Gelu), &[x])?;
            return Ok(Some(Val::Dyn(y)));
        }
        Ok(None)
    }

    /// `x * relu6(x + 3)` (then `/ 6`) -> HardSwish, recognised at the division.
    fn hard_swish_source(&self, v: ValueId) -> Option<ValueId> {
        let (op, ins) = self.producer(v)?;
        if !matches!(
            op,
            Op::Binary {
                op: BinaryOp::Mul,
                activation: Activation::Identity
            }
        ) || ins.len() != 2
        {
            return None;
        }
        for (x, gate) in [(ins[0], ins[1]), (ins[1], ins[0])] {
            let Some((Op::Activation(Activation::Relu6), g_in)) = self.producer(gate) else {
                continue;
            };
            let Some((
                Op::ChannelAffine {
                    scale,
                    shift,
                    residual: false,
                    activation: Activation::Identity,
                },
                a_in,
            )) = self.producer(g_in[0])
            else {
                continue;
            };
            let plus3 =
                scale.data().iter().all(|&s| s == 1.0) && shift.data().iter().all(|&s| s == 3.0);
            if plus3 && a_in[0] == x {
                return Some(x);
            }
        }
        None
    }

    fn binary_const(
        &mut self,
        node: &NodeProto,
        index: usize,
        x: ValueId,
        c: &Const,
        const_first: bool,
    ) -> Result<ValueId> {
        let op_type = node.op_type();
        let ch_vals = self.per_channel(x, c).ok_or_else(|| {
            Error::invalid_op(
                node_label(node),
                format!(
                    "constant operand {:?} with computed {:?}: only scalars and per-channel constants are supported",
                    c.shape,
                    self.shape(x)
                ),
            )
        })?;
        let ch = ch_vals.len();
        let (scale, shift): (Vec<f32>, Vec<f32>) = match (op_type, const_first) {
            ("Add", _) => (vec![1.0; ch], ch_vals),
            ("Sub", false) => (vec![1.0; ch], ch_vals.iter().map(|v| -v).collect()),
            ("Sub", true) => (vec![-1.0; ch], ch_vals),
            ("Mul", _) => (ch_vals, vec![0.0; ch]),
            ("Div", false) => {
                if ch_vals.iter().all(|&v| v == 6.0)
                    && let Some(src) = self.hard_swish_source(x)
                {
                    return self.add(node, index, Op::Activation(Activation::HardSwish), &[src]);
                }
                (ch_vals.iter().map(|v| 1.0 / v).collect(), vec![0.0; ch])
            }
            _ => {
                return Err(Error::invalid_op(
                    node_label(node),
                    "a constant divided by a computed tensor is not supported",
                ));
            }
        };
        self.affine(node, index, x, scale, shift)
    }

    fn split(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<()> {
        let x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        let axis = fold::axis("Split", a.int("axis", 0), xs.len())?;
        let dim = xs[axis];
        let n_out = node.output.len();
        let sizes: Vec<usize> = match a
            .ints("split")
            .or(self.const_in(node, 1)?.map(|c| c.as_i64()))
        {
            Some(s) => s.iter().map(|&v| v.max(0) as usize).collect(),
            None => {
                let chunk = dim.div_ceil(n_out.max(1));
                (0..n_out)
                    .map(|i| chunk.min(dim.saturating_sub(i * chunk)))
                    .collect()
            }
        };
        if sizes.len() != n_out || sizes.iter().sum::<usize>() != dim {
            return Err(Error::invalid_op(
                node_label(node),
                format!("split sizes {sizes:?} do not cover dimension {dim} in {n_out} outputs"),
            ));
        }
        let mut start = 0;
        for (out, &len) in node.output.iter().zip(&sizes) {
            let mut starts = vec![0; xs.len()];
            let mut ends = xs.clone();
            starts[axis] = start;
            ends[axis] = start + len;
            let name = format!("{}_{out}", self.unique_name(node, index));
            let v = self.g.add(
                &name,
                Op::Slice {
                    starts,
                    ends,
                    steps: vec![1; xs.len()],
                },
                &[x],
            )?;
            self.vals.insert(out.clone(), Val::Dyn(v));
            start += len;
        }
        Ok(())
    }

    /// Slice's (starts, ends, axes, steps), from inputs (opset >= 10) or attributes.
    #[allow(clippy::type_complexity)]
    fn slice_args(
        &self,
        node: &NodeProto,
        a: &Attrs<'_>,
        r: usize,
    ) -> Result<(Vec<i64>, Vec<i64>, Vec<usize>, Vec<i64>)> {
        let (starts, ends, axes, steps) = if self.opset < 10 {
            (
                a.ints("starts").unwrap_or_default(),
                a.ints("ends").unwrap_or_default(),
                a.ints("axes"),
                None,
            )
        } else {
            (
                self.need_const(node, 1)?.as_i64(),
                self.need_const(node, 2)?.as_i64(),
                self.const_in(node, 3)?.map(|c| c.as_i64()),
                self.const_in(node, 4)?.map(|c| c.as_i64()),
            )
        };
        let axes: Vec<usize> = match axes {
            Some(ax) => ax
                .iter()
                .map(|&v| fold::axis("Slice", v, r))
                .collect::<Result<_>>()?,
            None => (0..starts.len()).collect(),
        };
        let steps = steps.unwrap_or_else(|| vec![1; axes.len()]);
        if starts.len() != axes.len() || ends.len() != axes.len() || steps.len() != axes.len() {
            return Err(Error::invalid_op(
                node_label(node),
                "starts, ends, axes and steps lengths differ",
            ));
        }
        Ok((starts, ends, axes, steps))
    }

    fn slice_params(
        &self,
        node: &NodeProto,
        a: &Attrs<'_>,
        shape: &[usize],
    ) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
        let r = shape.len();
        let (starts, ends, axes, steps) = self.slice_args(node, a, r)?;
        let (mut s, mut e, mut st) = (vec![0; r], shape.to_vec(), vec![1; r]);
        for (k, &ax) in axes.iter().enumerate() {
            (s[ax], e[ax], st[ax]) =
                fold::slice_bounds("Slice", shape[ax], starts[k], ends[k], steps[k])?;
        }
        Ok((s, e, st))
    }

    fn slice(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let (starts, ends, steps) = self.slice_params(node, a, &self.shape(x))?;
        self.add(
            node,
            index,
            Op::Slice {
                starts,
                ends,
                steps,
            },
            &[x],
        )
    }

    /// Constant padding. Zero padding of the spatial dims is deferred ([`Val::Padded`]) so
    /// that a Conv reading it absorbs it; anything else becomes an [`Op::Pad`] now. Negative
    /// pads crop first (a slice).
    fn pad(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<Val> {
        let mut x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        let r = xs.len();
        if a.string("mode", "constant") != "constant" {
            return Err(a.error("mode", "only constant padding is supported"));
        }
        let pads = if self.opset < 11 {
            a.ints("pads").unwrap_or_default()
        } else {
            self.need_const(node, 1)?.as_i64()
        };
        let value = if self.opset < 11 {
            a.float("value", 0.0)
        } else {
            self.const_in(node, 2)?
                .and_then(|c| c.as_f32().first().copied())
                .unwrap_or(0.0)
        };
        // Opset 18: pads for a subset of the axes.
        let axes: Vec<usize> = match self.const_in(node, 3)? {
            Some(c) if self.opset >= 18 => c
                .as_i64()
                .iter()
                .map(|&v| fold::axis("Pad", v, r))
                .collect::<Result<_>>()?,
            _ => (0..r).collect(),
        };
        let k = axes.len();
        if pads.len() != 2 * k {
            return Err(Error::invalid_op(
                node_label(node),
                format!("pads {pads:?} need {} entries for input {xs:?}", 2 * k),
            ));
        }
        let (mut begin, mut end) = (vec![0i64; r], vec![0i64; r]);
        for (i, &ax) in axes.iter().enumerate() {
            begin[ax] = pads[i];
            end[ax] = pads[k + i];
        }
        if begin.iter().chain(&end).any(|&p| p < 0) {
            let starts: Vec<usize> = begin.iter().map(|&b| (-b).max(0) as usize).collect();
            let ends: Vec<usize> = (0..r)
                .map(|d| xs[d].saturating_sub((-end[d]).max(0) as usize))
                .collect();
            if (0..r).any(|d| starts[d] >= ends[d]) {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!("negative pads {pads:?} crop all of {xs:?}"),
                ));
            }
            let op = Op::Slice {
                starts,
                ends,
                steps: vec![1; r],
            };
            x = self.add(node, index, op, &[x])?;
        }
        let begin: Vec<usize> = begin.iter().map(|&p| p.max(0) as usize).collect();
        let end: Vec<usize> = end.iter().map(|&p| p.max(0) as usize).collect();
        if begin.iter().chain(&end).all(|&p| p == 0) {
            return Ok(Val::Dyn(x));
        }
        if value == 0.0 && r > 2 && begin[..2] == [0, 0] && end[..2] == [0, 0] {
            return Ok(Val::Padded {
                v: x,
                begin: begin[2..].to_vec(),
                end: end[2..].to_vec(),
                name: Self::base_name(node, index),
            });
        }
        let op = Op::Pad { begin, end, value };
        Ok(Val::Dyn(self.add(node, index, op, &[x])?))
    }

    /// ONNX `Resize` (opsets 10-19) and `Upsample` (7-9) of the H and W of `[N, C, H, W]`.
    fn resize(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        let r = xs.len();
        if r != 4 {
            return Err(Error::invalid_op(
                node_label(node),
                format!("only 2-D resize of [N, C, H, W] is supported, input is {xs:?}"),
            ));
        }
        let mode = match a.string("mode", "nearest").as_str() {
            "nearest" => ResizeMode::Nearest,
            "linear" | "bilinear" => ResizeMode::Linear,
            other => {
                return Err(a.error(
                    "mode",
                    format!("{other:?} is not supported (nearest, linear)"),
                ));
            }
        };
        let upsample = node.op_type() == "Upsample";
        // Upsample and Resize-10 have no coordinate attributes: the source coordinate is
        // x / scale, rounded down in nearest mode (PyTorch's nearest, and a repeat for whole
        // scales).
        let (coordinate, nearest_mode) = if upsample || self.opset < 11 {
            (CoordinateMode::Asymmetric, NearestMode::Floor)
        } else {
            let c = match a
                .string("coordinate_transformation_mode", "half_pixel")
                .as_str()
            {
                "half_pixel" => CoordinateMode::HalfPixel,
                "pytorch_half_pixel" => CoordinateMode::PytorchHalfPixel,
                "align_corners" => CoordinateMode::AlignCorners,
                "asymmetric" => CoordinateMode::Asymmetric,
                "tf_half_pixel_for_nn" => CoordinateMode::TfHalfPixelForNn,
                "half_pixel_symmetric" => CoordinateMode::HalfPixelSymmetric,
                other => {
                    return Err(a.error(
                        "coordinate_transformation_mode",
                        format!("{other:?} is not supported"),
                    ));
                }
            };
            let n = match a.string("nearest_mode", "round_prefer_floor").as_str() {
                "round_prefer_floor" => NearestMode::RoundPreferFloor,
                "round_prefer_ceil" => NearestMode::RoundPreferCeil,
                "floor" => NearestMode::Floor,
                "ceil" => NearestMode::Ceil,
                other => return Err(a.error("nearest_mode", format!("{other:?} is unknown"))),
            };
            (c, n)
        };
        // Scales or sizes: an input, or Upsample-7's attribute. Empty tensors stand for
        // "not given" (opset 11 requires the scales input even with sizes).
        let given = |c: Option<Const>| c.filter(|c| !c.is_empty());
        let (scales, sizes) = if upsample && self.opset < 9 {
            (a.floats("scales"), None)
        } else if upsample || self.opset < 11 {
            (given(self.const_in(node, 1)?).map(|c| c.as_f32()), None)
        } else {
            (
                given(self.const_in(node, 2)?).map(|c| c.as_f32()),
                given(self.const_in(node, 3)?).map(|c| c.as_i64()),
            )
        };
        let axes: Vec<usize> = match a.ints("axes") {
            Some(v) if self.opset >= 18 => v
                .iter()
                .map(|&i| fold::axis("Resize", i, r))
                .collect::<Result<_>>()?,
            _ => (0..r).collect(),
        };
        let k = axes.len();
        let mut out = xs.clone();
        let mut factor = vec![1f64; r];
        let explicit_scale = match (scales, sizes) {
            (Some(s), None) if s.len() == k => {
                for (i, &ax) in axes.iter().enumerate() {
                    if !(s[i].is_finite() && s[i] > 0.0) {
                        return Err(Error::invalid_op(
                            node_label(node),
                            format!("scales {s:?} must be positive"),
                        ));
                    }
                    // f32 arithmetic, as onnxruntime: 10 * 0.7f gives 7.
                    out[ax] = (xs[ax] as f32 * s[i]).floor() as usize;
                    factor[ax] = s[i] as f64;
                }
                true
            }
            (None, Some(sz)) if sz.len() == k => {
                if sz.iter().any(|&v| v <= 0) {
                    return Err(Error::invalid_op(
                        node_label(node),
                        format!("sizes {sz:?} must be positive"),
                    ));
                }
                let ratios = axes
                    .iter()
                    .enumerate()
                    .map(|(i, &ax)| sz[i] as f64 / xs[ax] as f64);
                let common = match a.string("keep_aspect_ratio_policy", "stretch").as_str() {
                    "stretch" => None,
                    "not_larger" => ratios.reduce(f64::min),
                    "not_smaller" => ratios.reduce(f64::max),
                    other => {
                        return Err(
                            a.error("keep_aspect_ratio_policy", format!("{other:?} is unknown"))
                        );
                    }
                };
                for (i, &ax) in axes.iter().enumerate() {
                    match common {
                        // Rounding halves up, as the ONNX definition says.
                        Some(s) => {
                            out[ax] = (s * xs[ax] as f64 + 0.5).floor() as usize;
                            factor[ax] = s;
                        }
                        None => {
                            out[ax] = sz[i] as usize;
                            factor[ax] = out[ax] as f64 / xs[ax] as f64;
                        }
                    }
                }
                common.is_some()
            }
            (s, sz) => {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!(
                        "needs either scales or sizes for {k} axes of {xs:?}, got scales {s:?} and sizes {sz:?}"
                    ),
                ));
            }
        };
        if out[..2] != xs[..2] || factor[..2] != [1.0, 1.0] {
            return Err(Error::invalid_op(
                node_label(node),
                format!(
                    "resizes {xs:?} to {out:?} (scales {factor:?}): only H and W of [N, C, H, W] can be resized"
                ),
            ));
        }
        if a.int("antialias", 0) != 0
            && mode == ResizeMode::Linear
            && factor[2..].iter().any(|&f| f < 1.0)
        {
            return Err(a.error(
                "antialias",
                "antialiased linear downscaling is not supported",
            ));
        }
        let spec = ResizeSpec {
            mode,
            coordinate,
            nearest_mode,
            out: [out[2], out[3]],
            scale: explicit_scale.then_some([factor[2], factor[3]]),
        };
        spec.output_shape(&xs)
            .map_err(|e| Error::invalid_op(node_label(node), e.to_string()))?;
        self.add(node, index, Op::Resize(spec), &[x])
    }

    fn pool(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        if xs.len() != 4 {
            return Err(Error::invalid_op(
                node_label(node),
                format!("only 2-D pooling is supported, input is {xs:?}"),
            ));
        }
        let kind = if node.op_type() == "MaxPool" {
            PoolKind::Max
        } else {
            PoolKind::Avg
        };
        let k = a.usizes("kernel_shape", 2, 1)?;
        let s = a.usizes("strides", 2, 1)?;
        let d = a.usizes("dilations", 2, 1)?;
        let (mut begin, mut end) = explicit_pads(a, 2)?;
        match a.string("auto_pad", "NOTSET").as_str() {
            "NOTSET" => {}
            "VALID" => (begin, end) = (vec![0; 2], vec![0; 2]),
            mode => {
                for i in 0..2 {
                    let input = xs[2 + i];
                    let out = input.div_ceil(s[i]);
                    let span = d[i] * (k[i] - 1) + 1;
                    let total = ((out - 1) * s[i] + span).saturating_sub(input);
                    let h = total / 2;
                    (begin[i], end[i]) = if mode == "SAME_LOWER" {
                        (total - h, h)
                    } else {
                        (h, total - h)
                    };
                }
            }
        }
        let spec = PoolSpec {
            kind,
            kernel: [k[0], k[1]],
            stride: [s[0], s[1]],
            pad_begin: [begin[0], begin[1]],
            pad_end: [end[0], end[1]],
            dilation: [d[0], d[1]],
            ceil_mode: a.int("ceil_mode", 0) != 0,
            count_include_pad: a.int("count_include_pad", 0) != 0,
        };
        self.add(node, index, Op::Pool(spec), &[x])
    }

    fn reduce_mean(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let xs = self.shape(x);
        let r = xs.len();
        let axes = self
            .axes(node, a, 1)?
            .unwrap_or_else(|| (0..r as i64).collect());
        let mut axes: Vec<usize> = axes
            .iter()
            .map(|&v| fold::axis("ReduceMean", v, r))
            .collect::<Result<_>>()?;
        axes.sort();
        if axes != (2..r).collect::<Vec<_>>() {
            return Err(Error::invalid_op(
                node_label(node),
                format!(
                    "ReduceMean over axes {axes:?} of {xs:?}: only all spatial axes are supported"
                ),
            ));
        }
        let pooled = self.add(node, index, Op::GlobalPool(PoolKind::Avg), &[x])?;
        if a.int("keepdims", 1) != 0 {
            return Ok(pooled);
        }
        let shape = vec![xs[0] as i64, xs[1] as i64];
        self.add(node, index, Op::Reshape { shape }, &[pooled])
    }

    fn gemm(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        if a.int("transA", 0) != 0 {
            return Err(a.error("transA", "transposed A is not supported"));
        }
        let x = self.dyn_in(node, 0)?;
        let b = self.need_const(node, 1)?;
        if b.shape.len() != 2 {
            return Err(Error::invalid_op(
                node_label(node),
                format!("B {:?} must be 2-D", b.shape),
            ));
        }
        let alpha = a.float("alpha", 1.0);
        let beta = a.float("beta", 1.0);
        let mut w = b.to_tensor();
        if a.int("transB", 0) == 0 {
            w = crate::reference::rearrange::transpose(&[1, 0], &w)?;
        }
        if alpha != 1.0 {
            w.data_mut().iter_mut().for_each(|v| *v *= alpha);
        }
        let m = w.shape()[0];
        let bias = match self.const_in(node, 2)? {
            Some(c) if c.len() == m || c.len() == 1 => {
                let v = c.as_f32();
                Some(Tensor::new(
                    vec![m],
                    (0..m)
                        .map(|i| beta * v[if v.len() == 1 { 0 } else { i }])
                        .collect(),
                )?)
            }
            Some(c) => {
                return Err(Error::invalid_op(
                    node_label(node),
                    format!("C {:?} must broadcast as a per-output bias of {m}", c.shape),
                ));
            }
            None => None,
        };
        self.add(
            node,
            index,
            Op::Linear {
                weight: w,
                bias,
                activation: Activation::Identity,
            },
            &[x],
        )
    }

    fn matmul(&mut self, node: &NodeProto, index: usize) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        match self.get(node, 1)?.cloned() {
            Some(Val::Const(b)) if b.shape.len() == 2 => {
                let xs = self.shape(x);
                let w = crate::reference::rearrange::transpose(&[1, 0], &b.to_tensor())?;
                if xs.len() == 2 {
                    return self.add(
                        node,
                        index,
                        Op::Linear {
                            weight: w,
                            bias: None,
                            activation: Activation::Identity,
                        },
                        &[x],
                    );
                }
                // [.., K] @ [K, M]: flatten the leading dims, apply, restore.
                let k = *xs.last().unwrap_or(&0);
                let rows = numel(&xs) / k.max(1);
                let flat = self.add(
                    node,
                    index,
                    Op::Reshape {
                        shape: vec![rows as i64, k as i64],
                    },
                    &[x],
                )?;
                let y = self.add(
                    node,
                    index,
                    Op::Linear {
                        weight: w,
                        bias: None,
                        activation: Activation::Identity,
                    },
                    &[flat],
                )?;
                let mut out: Vec<i64> = xs[..xs.len() - 1].iter().map(|&d| d as i64).collect();
                out.push(b.shape[1] as i64);
                self.add(node, index, Op::Reshape { shape: out }, &[y])
            }
            Some(Val::Dyn(y)) => self.add(node, index, Op::MatMul, &[x, y]),
            _ => Err(Error::invalid_op(
                node_label(node),
                "B must be a 2-D constant or a computed tensor",
            )),
        }
    }

    fn reshape(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let target = if self.opset < 5 {
            a.ints("shape").unwrap_or_default()
        } else {
            self.need_const(node, 1)?.as_i64()
        };
        let xs = self.shape(x);
        let shape = reshape_target(&xs, &target, a.int("allowzero", 0) != 0)?;
        if let Some(v) = self.shuffle_pattern(node, index, x, &shape)? {
            return Ok(v);
        }
        let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        self.add(node, index, Op::Reshape { shape }, &[x])
    }

    /// Reshape -> Transpose -> Reshape chains that are channel shuffle, pixel shuffle or
    /// space-to-depth, recognised at the final Reshape (`x` is the Transpose output). Reshapes
    /// only relabel row-major data, so any chain of them before the Transpose, and any target
    /// shape after it, are equivalent to the canonical 4-D views.
    fn shuffle_pattern(
        &mut self,
        node: &NodeProto,
        index: usize,
        x: ValueId,
        out: &[usize],
    ) -> Result<Option<ValueId>> {
        let Some((Op::Transpose { perm }, t_in)) = self.producer(x) else {
            return Ok(None);
        };
        let perm = perm.clone();
        let mid = self.shape(t_in[0]);
        // The earliest 4-D value the Transpose's input is a chain of reshapes of.
        let mut src = None;
        let mut v = t_in[0];
        while let Some((Op::Reshape { .. }, ins)) = self.producer(v) {
            v = ins[0];
            if self.shape(v).len() == 4 {
                src = Some(v);
            }
        }
        let Some(src) = src else { return Ok(None) };
        let s = self.shape(src);
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        let m = &mid;
        let op = match (m.len(), perm.as_slice()) {
            (5, [0, 2, 1, 3, 4]) if m[0] == n && m[1] * m[2] == c && m[3..] == [h, w] => {
                Some(Op::ChannelShuffle(ChannelShuffle { groups: m[1] }))
            }
            (6, [0, 1, 4, 2, 5, 3])
                if m[0] == n && m[2] == m[3] && m[1] * m[2] * m[3] == c && m[4..] == [h, w] =>
            {
                Some(Op::PixelShuffle(PixelShuffle {
                    factor: m[2],
                    order: ChannelOrder::Crd,
                }))
            }
            (6, [0, 3, 4, 1, 5, 2])
                if m[0] == n && m[1] == m[2] && m[1] * m[2] * m[3] == c && m[4..] == [h, w] =>
            {
                Some(Op::PixelShuffle(PixelShuffle {
                    factor: m[1],
                    order: ChannelOrder::Dcr,
                }))
            }
            (6, [0, 1, 3, 5, 2, 4])
                if m[..2] == [n, c] && m[3] == m[5] && m[2] * m[3] == h && m[4] * m[5] == w =>
            {
                Some(Op::SpaceToDepth(SpaceToDepth {
                    block: m[3],
                    order: ChannelOrder::Crd,
                }))
            }
            (6, [0, 3, 5, 1, 2, 4])
                if m[..2] == [n, c] && m[3] == m[5] && m[2] * m[3] == h && m[4] * m[5] == w =>
            {
                Some(Op::SpaceToDepth(SpaceToDepth {
                    block: m[3],
                    order: ChannelOrder::Dcr,
                }))
            }
            _ => None,
        };
        let Some(op) = op else { return Ok(None) };
        let y = self.add(node, index, op, &[src])?;
        if self.shape(y) == out {
            return Ok(Some(y));
        }
        let shape = out.iter().map(|&d| d as i64).collect();
        self.add(node, index, Op::Reshape { shape }, &[y]).map(Some)
    }

    fn squeeze(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let x = self.dyn_in(node, 0)?;
        let axes = self.axes(node, a, 1)?;
        let shape = squeeze_shape(node.op_type(), &self.shape(x), axes.as_deref())?;
        let shape = shape.iter().map(|&d| d as i64).collect();
        self.add(node, index, Op::Reshape { shape }, &[x])
    }
}

/// `Shape` with the opset-15 `start` / `end` attributes.
fn shape_const(shape: &[usize], a: &Attrs<'_>) -> Const {
    let r = shape.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let (s, e) = (clamp(a.int("start", 0)), clamp(a.int("end", r)));
    let dims: Vec<i64> = shape[s..e.max(s)].iter().map(|&d| d as i64).collect();
    Const::i64(vec![dims.len()], dims)
}

/// ONNX `pads` as (begin, end) per spatial dim.
fn explicit_pads(a: &Attrs<'_>, r: usize) -> Result<(Vec<usize>, Vec<usize>)> {
    let p = a.usizes("pads", 2 * r, 0)?;
    if p.len() != 2 * r {
        return Err(a.error("pads", format!("{p:?} must have {} entries", 2 * r)));
    }
    Ok((p[..r].to_vec(), p[r..].to_vec()))
}

/// Resolves an ONNX Reshape target (0 = copy, -1 = infer) against `input`.
pub fn reshape_target(input: &[usize], target: &[i64], allowzero: bool) -> Result<Vec<usize>> {
    let total = crate::tensor::checked_numel(input).ok_or_else(|| {
        Error::invalid_op("Reshape", format!("input shape {input:?} is too large"))
    })?;
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*input.get(i).ok_or_else(|| {
                Error::invalid_op(
                    "Reshape",
                    format!("0 at {i} has no input dimension in {input:?}"),
                )
            })?),
            t if t >= 0 => out.push(t as usize),
            _ => {
                return Err(Error::invalid_op(
                    "Reshape",
                    format!("invalid target {target:?}"),
                ));
            }
        }
    }
    // Products saturate: a target bigger than the input is refused below either way.
    let product = |s: &[usize]| s.iter().fold(1usize, |a, &d| a.saturating_mul(d));
    if let Some(i) = infer {
        let known = product(&out);
        if known == 0 || !total.is_multiple_of(known) {
            return Err(Error::invalid_op(
                "Reshape",
                format!("cannot infer -1 in {target:?} for {input:?}"),
            ));
        }
        out[i] = total / known;
    }
    if product(&out) != total || crate::tensor::checked_numel(&out).is_none() {
        return Err(Error::invalid_op(
            "Reshape",
            format!("{input:?} ({total} elements) cannot become {out:?}"),
        ));
    }
    Ok(out)
}

/// Output shape of Squeeze / Unsqueeze.
fn squeeze_shape(op: &str, input: &[usize], axes: Option<&[i64]>) -> Result<Vec<usize>> {
    if op == "Squeeze" {
        let r = input.len();
        let axes: Vec<usize> = match axes {
            Some(a) => a
                .iter()
                .map(|&v| fold::axis(op, v, r))
                .collect::<Result<_>>()?,
            None => (0..r).filter(|&i| input[i] == 1).collect(),
        };
        if let Some(&bad) = axes.iter().find(|&&a| input[a] != 1) {
            return Err(Error::invalid_op(
                op,
                format!("axis {bad} of {input:?} is not 1"),
            ));
        }
        Ok((0..r)
            .filter(|i| !axes.contains(i))
            .map(|i| input[i])
            .collect())
    } else {
        let axes = axes.ok_or_else(|| Error::invalid_op(op, "needs axes"))?;
        let r = input.len() + axes.len();
        let mut axes: Vec<usize> = axes
            .iter()
            .map(|&v| fold::axis(op, v, r))
            .collect::<Result<_>>()?;
        axes.sort();
        let mut out = Vec::with_capacity(r);
        let mut it = input.iter();
        for i in 0..r {
            if axes.contains(&i) {
                out.push(1);
            } else {
                out.push(
                    *it.next()
                        .ok_or_else(|| Error::invalid_op(op, "axes out of range"))?,
                );
            }
        }
        Ok(out)
    }
}
