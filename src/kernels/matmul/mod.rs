//! Tiled strided batched GEMM (`shaders/matmul.wgsl`): pointwise (1x1) and grouped pointwise
//! convolution, Linear / ONNX Gemm, and numpy MatMul, all as views of one kernel through strides.

mod gemm;
mod pointwise;
mod tiling;

pub use gemm::MatmulParams;
pub(crate) use gemm::batched_gemm;
pub use pointwise::{is_pointwise, pointwise, pointwise_partial, pointwise_tiled};
pub use tiling::GemmTiling;

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
    linear_tiled(target, x_shape, w_shape, activation, x, w, bias, out, None)
}

/// [`linear`] with an explicit GEMM tiling (`None`: [`GemmTiling::for_workload`]).
#[allow(clippy::too_many_arguments)]
pub fn linear_tiled<B: Binding>(
    target: &Target,
    x_shape: &[usize],
    w_shape: &[usize],
    activation: Activation,
    x: B,
    w: B,
    bias: Option<B>,
    out: B,
    tiling: Option<GemmTiling>,
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
        b_scale: (0, 0),
    };
    gemm(
        target, OP, &problem, activation, x, w, bias, None, None, out, tiling, None,
    )
}

/// numpy `matmul` for operands of any rank with broadcast batch dims (see
/// [`crate::ops::matmul_shape`]); every operand dense, `out` too.
pub fn matmul<B: Binding>(
    target: &Target,
    a_shape: &[usize],
    b_shape: &[usize],
    a: B,
    b: B,
    out: B,
) -> Result<Launch<B>> {
    matmul_tiled(target, a_shape, b_shape, a, b, out, None)
}

/// [`matmul`] with an explicit GEMM tiling (`None`: [`GemmTiling::for_workload`]).
pub fn matmul_tiled<B: Binding>(
    target: &Target,
    a_shape: &[usize],
    b_shape: &[usize],
    a: B,
    b: B,
    out: B,
    tiling: Option<GemmTiling>,
) -> Result<Launch<B>> {
    const OP: &str = "matmul";
    let s = crate::ops::matmul_shape(a_shape, b_shape)?;
    let Some([outer, inner]) = s.batch_levels() else {
        return Err(Error::invalid_op(
            OP,
            format!(
                "batch dims {:?} of {a_shape:?} @ {b_shape:?} broadcast in more than two alternating groups",
                s.batch
            ),
        ));
    };
    let (m, k, n) = (s.m, s.k, s.n);
    let layout = |rs, bo, bi| Layout { rs, cs: 1, bo, bi };
    let problem = Gemm {
        m,
        n,
        k,
        outer: outer.count,
        inner: inner.count,
        a: layout(k, outer.a, inner.a),
        b: layout(n, outer.b, inner.b),
        c: layout(n, outer.c, inner.c),
        bias: None,
        b_scale: (0, 0),
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
        None,
        out,
        tiling,
        None,
    )
}
