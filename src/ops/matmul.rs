//! numpy `matmul`'s shape rule, as the kernels, the reference and the graph run it: operands of
//! any rank, 1-D ones promoted (`[K]` is a row on the left, a column on the right, and the
//! promoted dim is dropped from the result), batch dims broadcast numpy-style.

use crate::error::{Error, Result};

/// A matmul's geometry: `[..batch, M, K] @ [..batch, K, N] = [..batch, M, N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatmulShape {
    /// Rows of the product.
    pub m: usize,
    /// Columns of the product.
    pub n: usize,
    /// The reduction.
    pub k: usize,
    /// The output's batch dims.
    pub batch: Vec<usize>,
    /// Each operand's batch dims, left-padded with 1 to the output's batch rank.
    pub a_batch: Vec<usize>,
    /// See `a_batch`.
    pub b_batch: Vec<usize>,
    /// The output shape (1-D promotions dropped).
    pub out: Vec<usize>,
}

/// The geometry of `a @ b`; errors name the shapes.
pub fn matmul_shape(a_shape: &[usize], b_shape: &[usize]) -> Result<MatmulShape> {
    const OP: &str = "matmul";
    let refuse = |why: &str| {
        Err(Error::invalid_op(
            OP,
            format!("{why}: {a_shape:?} @ {b_shape:?}"),
        ))
    };
    if a_shape.is_empty() || b_shape.is_empty() {
        return refuse("operands must have rank 1 or more");
    }
    // 1-D operands: a row on the left, a column on the right.
    let a: Vec<usize> = if a_shape.len() == 1 {
        vec![1, a_shape[0]]
    } else {
        a_shape.to_vec()
    };
    let b: Vec<usize> = if b_shape.len() == 1 {
        vec![b_shape[0], 1]
    } else {
        b_shape.to_vec()
    };
    let (ra, rb) = (a.len(), b.len());
    let (m, k, kb, n) = (a[ra - 2], a[ra - 1], b[rb - 2], b[rb - 1]);
    if k != kb {
        return refuse("inner dimensions differ");
    }
    let rank = (ra - 2).max(rb - 2);
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut v = vec![1; rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (a_batch, b_batch) = (pad(&a[..ra - 2]), pad(&b[..rb - 2]));
    let mut batch = Vec::with_capacity(rank);
    for (&x, &y) in a_batch.iter().zip(&b_batch) {
        if x != y && x != 1 && y != 1 {
            return refuse("batch dimensions do not broadcast");
        }
        batch.push(if x == 1 { y } else { x });
    }
    let mut out = batch.clone();
    if a_shape.len() > 1 {
        out.push(m);
    }
    if b_shape.len() > 1 {
        out.push(n);
    }
    Ok(MatmulShape {
        m,
        n,
        k,
        batch,
        a_batch,
        b_batch,
        out,
    })
}

/// Output shape of numpy `matmul` ([`matmul_shape`]).
pub fn matmul_output_shape(a_shape: &[usize], b_shape: &[usize]) -> Result<Vec<usize>> {
    matmul_shape(a_shape, b_shape).map(|s| s.out)
}

/// One level of a batch loop: `count` entries, each operand stepping by its stride (0 when it
/// broadcasts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchLevel {
    /// Entries.
    pub count: usize,
    /// Elements between `a`'s matrices.
    pub a: usize,
    /// Elements between `b`'s matrices.
    pub b: usize,
    /// Elements between the output's matrices.
    pub c: usize,
}

impl MatmulShape {
    /// The batch dims as at most two loops (outer, inner) over dense operands: neighbouring dims
    /// that broadcast alike merge; `None` when they alternate more than that (e.g. `[2, 1, 2]`
    /// against `[1, 2, 1]`), which no single launch of the two-level batched GEMM covers.
    pub fn batch_levels(&self) -> Option<[BatchLevel; 2]> {
        let stride =
            |dims: &[usize], i: usize, mat: usize| dims[i + 1..].iter().product::<usize>() * mat;
        let mut levels: Vec<(BatchLevel, (bool, bool))> = Vec::new();
        for (i, &d) in self.batch.iter().enumerate() {
            if d == 1 {
                continue;
            }
            let has = (self.a_batch[i] == d, self.b_batch[i] == d);
            let level = BatchLevel {
                count: d,
                a: if has.0 {
                    stride(&self.a_batch, i, self.m * self.k)
                } else {
                    0
                },
                b: if has.1 {
                    stride(&self.b_batch, i, self.k * self.n)
                } else {
                    0
                },
                c: stride(&self.batch, i, self.m * self.n),
            };
            match levels.last_mut() {
                // Dims that broadcast alike are contiguous in every operand that has them:
                // the merged level steps by the inner dim's strides.
                Some((l, p)) if *p == has => {
                    l.count *= d;
                    (l.a, l.b, l.c) = (level.a, level.b, level.c);
                }
                _ => levels.push((level, has)),
            }
        }
        let one = BatchLevel {
            count: 1,
            ..Default::default()
        };
        match levels.as_slice() {
            [] => Some([one, one]),
            [(l, _)] => Some([*l, one]),
            [(o, _), (i, _)] => Some([*o, *i]),
            _ => None,
        }
    }
}
