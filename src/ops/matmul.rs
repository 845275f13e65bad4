//! numpy `matmul`'s shape rule, as the kernels and the graph run it.

use crate::error::{Error, Result};

/// Output shape of numpy `matmul` for operands of rank 2 or 3: `[.., M, K] @ [.., K, N]` is
/// `[.., M, N]`; a rank-2 operand or a batch of 1 broadcasts against the other's batch.
pub fn matmul_output_shape(a_shape: &[usize], b_shape: &[usize]) -> Result<Vec<usize>> {
    const OP: &str = "matmul";
    let ok_rank = |s: &[usize]| s.len() == 2 || s.len() == 3;
    if !ok_rank(a_shape) || !ok_rank(b_shape) {
        return Err(Error::invalid_op(
            OP,
            format!("operands {a_shape:?} and {b_shape:?} must have rank 2 or 3"),
        ));
    }
    let (ra, rb) = (a_shape.len(), b_shape.len());
    let (m, k) = (a_shape[ra - 2], a_shape[ra - 1]);
    let (kb, n) = (b_shape[rb - 2], b_shape[rb - 1]);
    if k != kb {
        return Err(Error::invalid_op(
            OP,
            format!("inner dimensions differ: {a_shape:?} @ {b_shape:?}"),
        ));
    }
    let ba = if ra == 3 { a_shape[0] } else { 1 };
    let bb = if rb == 3 { b_shape[0] } else { 1 };
    if ba != bb && ba != 1 && bb != 1 {
        return Err(Error::invalid_op(
            OP,
            format!("batch dimensions do not broadcast: {a_shape:?} @ {b_shape:?}"),
        ));
    }
    if ra == 2 && rb == 2 {
        Ok(vec![m, n])
    } else {
        Ok(vec![ba.max(bb), m, n])
    }
}
