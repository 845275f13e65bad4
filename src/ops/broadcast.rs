//! Numpy / PyTorch broadcasting for binary elementwise ops.

use crate::error::{Error, Result};

/// A binary elementwise operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// a + b
    Add,
    /// a - b
    Sub,
    /// a * b
    Mul,
    /// a / b
    Div,
    /// a ^ b, numpy semantics: a negative base needs an integral exponent (else NaN)
    Pow,
    /// max(a, b), NaN if either is NaN (numpy's maximum, ONNX Max)
    Max,
    /// min(a, b), NaN if either is NaN (numpy's minimum, ONNX Min)
    Min,
}

impl BinaryOp {
    /// The `BINARY_OP` override value in `shaders/eltwise.wgsl`.
    pub fn code(self) -> u32 {
        match self {
            BinaryOp::Add => 0,
            BinaryOp::Sub => 1,
            BinaryOp::Mul => 2,
            BinaryOp::Div => 3,
            // 4 is the unary kernel (no binary op).
            BinaryOp::Pow => 5,
            BinaryOp::Max => 6,
            BinaryOp::Min => 7,
        }
    }

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Max => "max",
            BinaryOp::Min => "min",
        }
    }

    /// Every binary op (for tests and validation).
    pub const ALL: [BinaryOp; 7] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Max,
        BinaryOp::Min,
    ];
}

/// The broadcast shape of `a` and `b` (shapes right-aligned; each pair equal or one of them 1).
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::invalid_op(
                    "broadcast",
                    format!("shapes {a:?} and {b:?} cannot be broadcast (dim {i}: {da} vs {db})"),
                ));
            }
        };
    }
    Ok(out)
}

/// Element strides of `shape` when broadcast to `out` (0 along broadcast dimensions).
pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let own = crate::tensor::strides(shape);
    let lead = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < lead || shape[i - lead] == 1 {
                0
            } else {
                own[i - lead]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(
            broadcast_shape(&[2, 3, 4, 5], &[3, 1, 1]).unwrap(),
            vec![2, 3, 4, 5]
        );
        assert_eq!(broadcast_shape(&[1], &[4, 1]).unwrap(), vec![4, 1]);
        assert!(broadcast_shape(&[2, 3], &[4]).is_err());
        assert_eq!(
            broadcast_strides(&[3, 1, 1], &[2, 3, 4, 5]),
            vec![0, 1, 0, 0]
        );
    }
}
