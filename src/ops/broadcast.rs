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
    /// 1.0 if a == b else 0.0 (bool tensors are 0 / 1 f32 in the engine; NaN compares false)
    Equal,
    /// 1.0 if a < b else 0.0
    Less,
    /// 1.0 if a > b else 0.0
    Greater,
    /// 1.0 if a <= b else 0.0
    LessOrEqual,
    /// 1.0 if a >= b else 0.0
    GreaterOrEqual,
    /// 1.0 if a == 0 else 0.0: logical not of a 0 / 1 tensor; `b` is not read (the importer
    /// binds `a` twice), so the op needs no unary kernel of its own nor an activation row.
    Not,
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
            BinaryOp::Equal => 8,
            BinaryOp::Less => 9,
            BinaryOp::Greater => 10,
            BinaryOp::LessOrEqual => 11,
            BinaryOp::GreaterOrEqual => 12,
            BinaryOp::Not => 13,
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
            BinaryOp::Equal => "equal",
            BinaryOp::Less => "less",
            BinaryOp::Greater => "greater",
            BinaryOp::LessOrEqual => "less_or_equal",
            BinaryOp::GreaterOrEqual => "greater_or_equal",
            BinaryOp::Not => "not",
        }
    }

    /// Every binary op (for tests and validation).
    pub const ALL: [BinaryOp; 13] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Max,
        BinaryOp::Min,
        BinaryOp::Equal,
        BinaryOp::Less,
        BinaryOp::Greater,
        BinaryOp::LessOrEqual,
        BinaryOp::GreaterOrEqual,
        BinaryOp::Not,
    ];

    /// The binary op of an ONNX operator (the logic ones produce 0 / 1), if it is one.
    pub fn from_onnx(op: &str) -> Option<BinaryOp> {
        Some(match op {
            "Add" => BinaryOp::Add,
            "Sub" => BinaryOp::Sub,
            "Mul" => BinaryOp::Mul,
            "Div" => BinaryOp::Div,
            "Pow" => BinaryOp::Pow,
            "Max" => BinaryOp::Max,
            "Min" => BinaryOp::Min,
            "Equal" => BinaryOp::Equal,
            "Less" => BinaryOp::Less,
            "Greater" => BinaryOp::Greater,
            "LessOrEqual" => BinaryOp::LessOrEqual,
            "GreaterOrEqual" => BinaryOp::GreaterOrEqual,
            "Not" => BinaryOp::Not,
            _ => return None,
        })
    }

    /// Whether the op compares (or negates) and so yields 0 / 1.
    pub fn is_logic(self) -> bool {
        self.code() >= 8
    }
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

/// The broadcast shape of Where's condition, x and y (all three broadcast together).
pub fn where_shape(cond: &[usize], x: &[usize], y: &[usize]) -> Result<Vec<usize>> {
    broadcast_shape(&broadcast_shape(cond, x)?, y)
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
