//! Tiled strided batched GEMM (`shaders/matmul.wgsl`): pointwise (1x1) and grouped pointwise
//! convolution, Linear / ONNX Gemm, and numpy MatMul, all as views of one kernel through strides.

mod gemm;
mod pointwise;

pub(crate) use gemm::batched_gemm;
pub use gemm::{GemmTiling, MatmulParams};
pub use pointwise::{is_pointwise, pointwise, pointwise_partial, pointwise_tiled};

use crate::error::{Error, Result};
use crate::kernels::{Binding, Launch, Target};
use crate::ops::Activation;

use self::gemm::{Gemm, Layout, gemm};

/// `y = activation(x W^T + bias)`: PyTorch `nn.Linear`, ONNX `Gemm` with `transB = 1`.
/// `x` is `[N, K]`, `w` `[M, K]`, `bias` `[M]`, `out` `[N, M]`.
#[allow(clippy::too_many_arguments)]
pub fn linear<B: Binding>(
    target: &Target,
    x_shape: &[usize],
    w_shape: &[usize],
    activation: Activation,
    x: B,
    w: B,
    bias: Option<B>,
    out: B,
) -> Result<Launch<B>> {
    const OP: &str = "linear";
    let (&[rows, k], &[m, wk]) = (x_shape, w_shape) else {
        return Err(Error::invalid_op(
            OP,
            format!("input {x_shape:?} and weight {w_shape:?} must both have rank 2"),
        ));
    };
    if k != wk {
        return Err(Error::invalid_op(
            OP,
            format!("input {x_shape:?} has {k} features, weight {w_shape:?} expects {wk}"),
        ));
    }
    let problem = Gemm {
        m: rows,
        n: m,
        k,
        outer: 1,
        inner: 1,
        a: Layout {
            rs: k,
            cs: 1,
            bo: 0,
            bi: 0,
        },
        // B[k][n] = W[n][k]: W read with its strides swapped.
        b: Layout {
            rs: 1,
            cs: k,
            bo: 0,
            bi: 0,
        },
        c: Layout {
            rs: m,
            cs: 1,
            bo: 0,
            bi: 0,
        },
        bias: Some((false, 0, 0)),
    };
    gemm(
        target, OP, &problem, activation, x, w, bias, None, out, None, None,
    )
}

/// numpy `matmul` for rank-2 and rank-3 operands (see [`crate::ops::matmul_output_shape`]); `out` is dense.
pub fn matmul<B: Binding>(
    target: &Target,
    a_shape: &[usize],
    b_shape: &[usize],
    a: B,
    b: B,
    out: B,
) -> Result<Launch<B>> {
    const OP: &str = "matmul";
    let out_shape = crate::ops::matmul_output_shape(a_shape, b_shape)?;
    let (ra, rb) = (a_shape.len(), b_shape.len());
    let (m, k, n) = (a_shape[ra - 2], a_shape[ra - 1], b_shape[rb - 1]);
    let batch = if out_shape.len() == 3 {
        out_shape[0]
    } else {
        1
    };
    // A batch of one (or no batch dimension) is shared by every output batch entry.
    let batch_stride = |shape: &[usize], mat: usize| {
        if shape.len() == 3 && shape[0] > 1 {
            mat
        } else {
            0
        }
    };
    let problem = Gemm {
        m,
        n,
        k,
        outer: batch,
        inner: 1,
        a: Layout {
            rs: k,
            cs: 1,
            bo: batch_stride(a_shape, m * k),
            bi: 0,
        },
        b: Layout {
            rs: n,
            cs: 1,
            bo: batch_stride(b_shape, k * n),
            bi: 0,
        },
        c: Layout {
            rs: n,
            cs: 1,
            bo: m * n,
            bi: 0,
        },
        bias: None,
    };
    gemm(
        target,
        OP,
        &problem,
        Activation::Identity,
        a,
        b,
        None,
        None,
        out,
        None,
        None,
    )
}
