//! Matrix products: `Gemm` (a linear layer when `B` and `C` are constant, else lowered in
//! [`super::runtime`]) and `MatMul` (a linear layer when `B` is a 2-D constant, else a product
//! of two computed matrices).

use super::{Importer, Val, node_label};
use crate::error::{Error, Result};
use crate::graph::{Op, ValueId};
use crate::onnx::attrs::Attrs;
use crate::onnx::proto::NodeProto;
use crate::onnx::tensor::Const;
use crate::ops::Activation;
use crate::tensor::{Tensor, numel};

pub(super) const OPS: &[&str] = &["Gemm", "MatMul"];

pub(super) fn lower(
    im: &mut Importer<'_>,
    node: &NodeProto,
    index: usize,
    a: &Attrs<'_>,
) -> Result<Option<Val>> {
    let y = match node.op_type() {
        "Gemm" => im.gemm(node, index, a)?,
        // "MatMul"
        _ => im.matmul(node, index)?,
    };
    Ok(Some(Val::Dyn(y)))
}

impl Importer<'_> {
    fn gemm(&mut self, node: &NodeProto, index: usize, a: &Attrs<'_>) -> Result<ValueId> {
        let mut x = self.dyn_in(node, 0)?;
        if a.int("transA", 0) != 0 {
            // Gemm's A is 2-D: a transposing copy, then the linear layer.
            x = self.add(node, index, Op::Transpose { perm: vec![1, 0] }, &[x])?;
        }
        let alpha = a.float("alpha", 1.0);
        let beta = a.float("beta", 1.0);
        if self.is_computed(node, 1)? || self.is_computed(node, 2)? {
            let trans_b = a.int("transB", 0) != 0;
            return self.gemm_runtime(node, index, x, trans_b, alpha, beta);
        }
        let b = self.need_const(node, 1)?;
        if b.shape.len() != 2 {
            return Err(Error::invalid_op(
                node_label(node),
                format!("B {:?} must be 2-D", b.shape),
            ));
        }
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
            // Any other C (a full matrix, a column) is added after, broadcasting.
            Some(c) => {
                let y = self.gemm_linear(node, index, w, None, x)?;
                let c = Const::f32(
                    c.shape.clone(),
                    c.as_f32().iter().map(|v| beta * v).collect(),
                );
                return self.binary_const(node, index, "Add", y, &c, false);
            }
            None => None,
        };
        self.gemm_linear(node, index, w, bias, x)
    }

    fn gemm_linear(
        &mut self,
        node: &NodeProto,
        index: usize,
        weight: Tensor,
        bias: Option<Tensor>,
        x: ValueId,
    ) -> Result<ValueId> {
        let op = Op::Linear {
            weight,
            bias,
            activation: Activation::Identity,
        };
        self.add(node, index, op, &[x])
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
}
