//! CPU reference for activations and broadcasting binary ops.

use crate::error::Result;
use crate::ops::{Activation, BinaryOp, broadcast_shape, where_shape};
use crate::reference::activation::{apply, pow};
use crate::tensor::Tensor;

/// `act(x)` elementwise.
pub fn unary(act: Activation, x: &Tensor) -> Tensor {
    let data = x
        .data()
        .iter()
        .map(|&v| apply(act, v as f64) as f32)
        .collect();
    Tensor::new(x.shape().to_vec(), data).expect("same shape")
}

/// Reads `t` at the output multi-index `idx`, right-aligning shapes and clamping broadcast dims.
fn at_broadcast(t: &Tensor, idx: &[usize]) -> f32 {
    let shape = t.shape();
    let lead = idx.len() - shape.len();
    let mut flat = 0;
    for (d, &n) in shape.iter().enumerate() {
        let i = if n == 1 { 0 } else { idx[lead + d] };
        flat = flat * n + i;
    }
    t.data()[flat]
}

/// `act(a op b)` with numpy broadcasting, computed in f64.
pub fn binary(op: BinaryOp, act: Activation, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let shape = broadcast_shape(a.shape(), b.shape())?;
    let mut out = Tensor::zeros(shape.clone());
    let mut idx = vec![0usize; shape.len()];
    for o in out.data_mut().iter_mut() {
        let x = at_broadcast(a, &idx) as f64;
        let y = at_broadcast(b, &idx) as f64;
        let r = match op {
            BinaryOp::Add => x + y,
            BinaryOp::Sub => x - y,
            BinaryOp::Mul => x * y,
            BinaryOp::Div => x / y,
            BinaryOp::Pow => pow(x, y),
            // f64::max / min return the non-NaN operand; numpy and ONNX propagate NaN.
            BinaryOp::Max if x.is_nan() || y.is_nan() => f64::NAN,
            BinaryOp::Min if x.is_nan() || y.is_nan() => f64::NAN,
            BinaryOp::Max => x.max(y),
            BinaryOp::Min => x.min(y),
            BinaryOp::Equal => bool01(x == y),
            BinaryOp::Less => bool01(x < y),
            BinaryOp::Greater => bool01(x > y),
            BinaryOp::LessOrEqual => bool01(x <= y),
            BinaryOp::GreaterOrEqual => bool01(x >= y),
            BinaryOp::Not => bool01(x == 0.0),
        };
        *o = apply(act, r) as f32;
        // Odometer increment of the multi-index.
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(out)
}

/// `cond != 0 ? x : y` with numpy broadcasting of the three.
pub fn where_select(cond: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let shape = where_shape(cond.shape(), x.shape(), y.shape())?;
    let mut out = Tensor::zeros(shape.clone());
    let mut idx = vec![0usize; shape.len()];
    for o in out.data_mut().iter_mut() {
        *o = if at_broadcast(cond, &idx) != 0.0 {
            at_broadcast(x, &idx)
        } else {
            at_broadcast(y, &idx)
        };
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(out)
}

/// A comparison's result as the engine's bool: 1 or 0.
fn bool01(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}
