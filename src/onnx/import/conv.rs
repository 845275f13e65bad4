//! Convolutions: `Conv` and `ConvTranspose` with their padding rules (explicit pads,
//! `auto_pad`, ConvTranspose's `output_shape`). A Pad in front of a Conv is lowered as a Pad;
//! [`crate::graph::patterns`] folds it into the convolution afterwards. A computed weight or
//! bias (a graph input fed at run time, or any node's output) becomes a node input that the
//! kernels read as written ([`crate::graph::Operand`]).

use super::{Importer, Val, missing_input, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, Operand, ValueId};
use crate::onnx::attrs::Attrs;
use crate::onnx::proto::NodeProto;
use crate::ops::{ConvSpec, ConvTransposeSpec, Epilogue};

pub(super) const OPS: &[&str] = &["Conv", "ConvTranspose"];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let y = match node.op_type() {
        "Conv" => im.conv(node, index, a)?,
        // "ConvTranspose"
        _ => im.conv_transpose(node, index, a)?,
    };
    Ok(Some(Val::Dyn(y)))
}

/// ONNX `pads` as (begin, end) per spatial dim.
pub(super) fn explicit_pads(a: &Attrs<'_>, r: usize) -> Result<(Vec<usize>, Vec<usize>)> {
    let p = a.usizes("pads", 2 * r, 0)?;
    if p.len() != 2 * r {
        return Err(a.error("pads", format!("{p:?} must have {} entries", 2 * r)));
    }
    Ok((p[..r].to_vec(), p[r..].to_vec()))
}

impl Importer<'_> {
    /// Input `i` as a weight slot: a constant, or a computed tensor (a graph input or any
    /// node's output) read at run time, appended to the node's `inputs`.
    fn weight_slot(
        &mut self,
        node: &NodeProto,
        i: usize,
        inputs: &mut Vec<ValueId>,
    ) -> Result<Option<Operand>> {
        Ok(match self.get(node, i)? {
            None => None,
            Some(Val::Const(c)) => Some(Operand::Const(c.to_tensor())),
            Some(_) => {
                let v = self.dyn_in(node, i)?;
                inputs.push(v);
                Some(Operand::Input {
                    index: inputs.len() - 1,
                    shape: self.shape(v),
                })
            }
        })
    }

    /// A convolution's data, weight and bias, and the node inputs they make; the weight's
    /// rank checked against the data's.
    fn conv_operands(
        &mut self,
        node: &NodeProto,
    ) -> Result<(ValueId, Operand, Option<Operand>, Vec<ValueId>)> {
        let x = self.dyn_in(node, 0)?;
        let mut inputs = vec![x];
        let w = self
            .weight_slot(node, 1, &mut inputs)?
            .ok_or_else(|| missing_input(node, "1 (the weight)"))?;
        let bias = self.weight_slot(node, 2, &mut inputs)?;
        let xs = self.shape(x);
        if w.shape().len() < 3 || xs.len() != w.shape().len() {
            return Err(Error::invalid_op(
                node_label(node),
                format!(
                    "input {xs:?} and weight {:?} ({:?}) ranks disagree",
                    node.input[1],
                    w.shape()
                ),
            ));
        }
        Ok((x, w, bias, inputs))
    }

    /// Adds the node; a shape error names the weight slots given at run time (their shapes come
    /// from the model's inputs, so the model is what is wrong).
    fn add_conv(
        &mut self,
        node: &NodeProto,
        index: usize,
        op: Op,
        inputs: &[ValueId],
    ) -> Result<ValueId> {
        let slots = match &op {
            Op::Conv { weight, bias, .. } | Op::ConvTranspose { weight, bias, .. } => {
                [Some(weight), bias.as_ref()]
            }
            _ => [None, None],
        };
        // Slot j is ONNX input j + 1 (W, then B).
        let fed: Vec<String> = (1..)
            .zip(slots)
            .filter_map(|(i, o)| {
                let o = o.filter(|o| o.input().is_some())?;
                Some(format!("input {i} {:?} {:?}", node.input[i], o.shape()))
            })
            .collect();
        self.add(node, index, op, inputs).map_err(|e| match e {
            Error::InvalidOp { op, message } if !fed.is_empty() => Error::InvalidOp {
                op,
                message: format!("{message} (given at run time: {})", fed.join(", ")),
            },
            e => e,
        })
    }

    fn conv(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let (x, w, bias, inputs) = self.conv_operands(node)?;
        let xs = self.shape(x);
        let r = w.shape().len() - 2;
        let kernel = w.shape()[2..].to_vec();
        if let Some(k) = a.ints("kernel_shape")
            && k.iter().map(|&v| v as usize).collect::<Vec<_>>() != kernel
        {
            return Err(a.error(
                "kernel_shape",
                format!("{k:?} disagrees with weight {:?}", w.shape()),
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
            weight: w,
            bias,
            epilogue: Epilogue::default(),
        };
        self.add_conv(node, index, op, &inputs)
    }

    fn conv_transpose(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let (x, w, bias, inputs) = self.conv_operands(node)?;
        let xs = self.shape(x);
        let r = w.shape().len() - 2;
        let kernel = w.shape()[2..].to_vec();
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
            weight: w,
            bias,
            epilogue: Epilogue::default(),
        };
        self.add_conv(node, index, op, &inputs)
    }
}
