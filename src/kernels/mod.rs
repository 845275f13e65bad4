//! Host side of the kernels, without a GPU: each family module turns an op description
//! (`crate::ops`), its shapes and its bindings into [`Launch`]es (shader, override constants,
//! `Params` uniform bytes, bindings, workgroup count) for a [`Target`] (precision and limits).
//! The device layer (`crate::device`) compiles and binds them.

use crate::shaders::Shader;

pub mod algorithm;
pub mod bounds;
pub mod channel_affine;
pub mod conv;
pub mod conv_transpose;
pub mod convert;
pub mod coop_conv;
pub mod depthwise;
pub mod eltwise;
mod launch;
pub mod matmul;
pub mod norm;
pub mod occupancy;
pub mod pad;
pub mod pool;
pub mod rearrange;
pub mod reduce;
pub mod resize;
pub mod se_gate;
pub mod softmax;
pub mod splitk;
pub mod strided_copy;
pub mod winograd;
pub mod winograd_fused;

pub use launch::{Binding, GpuParams, Launch, Target};

/// The Rust mirror of each shader's `Params` uniform: `(field, offset)` list and size. The
/// match is exhaustive so a new shader cannot skip the layout test.
pub fn params_layout(shader: Shader) -> (&'static [(&'static str, usize)], usize) {
    fn of<P: GpuParams>() -> (&'static [(&'static str, usize)], usize) {
        (P::FIELDS, std::mem::size_of::<P>())
    }
    match shader {
        Shader::Eltwise => of::<eltwise::EltwiseParams>(),
        Shader::Where => of::<eltwise::WhereParams>(),
        Shader::Conv => of::<conv::ConvParams>(),
        Shader::Depthwise => of::<depthwise::DepthwiseParams>(),
        Shader::Matmul => of::<matmul::MatmulParams>(),
        Shader::ConvTranspose => of::<conv_transpose::ConvTransposeParams>(),
        Shader::StridedCopy => of::<rearrange::StridedCopyParams>(),
        Shader::Pool => of::<pool::PoolParams>(),
        Shader::GlobalPool => of::<pool::GlobalPoolParams>(),
        Shader::Softmax => of::<softmax::SoftmaxParams>(),
        Shader::Reduce => of::<reduce::ReduceParams>(),
        Shader::Norm => of::<norm::NormParams>(),
        Shader::ChannelAffine => of::<channel_affine::ChannelAffineParams>(),
        Shader::SeGate => of::<se_gate::SeGateParams>(),
        Shader::Resize => of::<resize::ResizeParams>(),
        Shader::Pad => of::<pad::PadParams>(),
        Shader::SplitkReduce => of::<splitk::SplitkReduceParams>(),
        Shader::WinogradInput => of::<winograd::WinogradInputParams>(),
        Shader::WinogradOutput => of::<winograd::WinogradOutputParams>(),
        Shader::WinogradFused => of::<winograd_fused::WinogradFusedParams>(),
        Shader::Convert => of::<convert::ConvertParams>(),
        Shader::CoopConv => of::<conv::ConvParams>(),
    }
}

/// The buffers of a convolution-like kernel (conv, depthwise, pointwise, transposed conv).
#[derive(Clone, Copy, Debug)]
pub struct ConvBindings<B> {
    /// `[N, C, *spatial]`.
    pub input: B,
    /// Weights in PyTorch layout (`[O, C/g, *k]`, or `[C, O/g, *k]` for transposed conv).
    pub weight: B,
    /// `[O]`, added before the activation.
    pub bias: Option<B>,
    /// A tensor of the output's shape added before the activation (requires
    /// `Epilogue::residual`).
    pub residual: Option<B>,
    /// `[N, C]` multipliers of the input's channels, applied as it is read (requires
    /// `Epilogue::input_scale`; pointwise GEMM only).
    pub input_scale: Option<B>,
    /// `[N, O, *out_spatial]`.
    pub output: B,
}
