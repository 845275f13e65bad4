//! The shader-f16 path: every kernel family in `Precision::F16` (f16 storage and accumulation)
//! and `Precision::F16AccF32` (f16 storage, f32 accumulation) against the CPU reference run on
//! the f16-rounded operands, under the bound of `compare::F16Tolerance` (derived in its doc
//! comment); whole networks in f16 against the f64 reference; refusal on a device without
//! `SHADER_F16`; NaN and infinity in f16.

mod algorithms;
mod conv_like;
mod kernels;
mod networks;
mod norm;
mod reduce;
mod se_scale;
mod special_values;

use proptest::prelude::*;
use wgconv::compare::{F16Tolerance, Tolerance, compare, compare_f16};
use wgconv::device::Dispatch;
use wgconv::kernels::algorithm::{self, ConvAlgorithm};
use wgconv::kernels::channel_affine::{AffineBindings, channel_affine};
use wgconv::kernels::conv::ConvTiling;
use wgconv::kernels::matmul::GemmTiling;
use wgconv::kernels::se_gate::{SeGateBindings, se_gate};
use wgconv::kernels::{
    ConvBindings, conv, conv_transpose, depthwise, eltwise, matmul, pad, pool, rearrange, resize,
    softmax, winograd,
};
use wgconv::ops::{
    Activation, BinaryOp, ChannelOrder, ConvSpec, ConvTransposeSpec, Epilogue, PixelShuffle,
    PoolKind, PoolSpec, ResizeMode, ResizeSpec,
};
use wgconv::reference;
use wgconv::session::{Session, SessionOptions};
use wgconv::tensor::Tensor;
use wgconv::{Error, Gpu, GpuOptions, GpuTensor, Precision, Result, zoo};

use crate::common::gpu;
use crate::conv::conv_problem;
use crate::conv_tiles::TILINGS;
use wgconv::problem::{ConvData, ConvKernel, ConvProblem};

/// Both f16 precisions.
const HALF: [Precision; 2] = [Precision::F16, Precision::F16AccF32];

/// Lipschitz constant of the steepest supported activation (HardSwish's ramp, (2x + 3) / 6 at
/// x = 3); every other one is at most 1.13 (GELU).
const SLOPE: f64 = 1.5;

/// The test device in `p` (lavapipe offers shader-f16; CI must run this path).
fn hgpu(p: Precision) -> Gpu {
    gpu()
        .with_precision(p)
        .unwrap_or_else(|e| panic!("the test adapter must support {p}: {e}"))
}

/// `t` rounded to f16, as the device stores it.
fn r16(t: &Tensor) -> Tensor {
    map(t, |x| Precision::F16.round(x))
}

fn abs(t: &Tensor) -> Tensor {
    map(t, f32::abs)
}

fn map(t: &Tensor, f: impl Fn(f32) -> f32) -> Tensor {
    Tensor::new(t.shape().to_vec(), t.data().iter().map(|&x| f(x)).collect()).unwrap()
}

fn up(g: &Gpu, ts: &[&Tensor]) -> Vec<GpuTensor> {
    ts.iter().map(|t| g.upload(t).expect("upload")).collect()
}

fn run(g: &Gpu, d: Result<Dispatch>, out: &GpuTensor) -> Tensor {
    g.submit(&[&d.expect("dispatch")]).expect("submit");
    g.download(out).expect("download")
}

/// Asserts the device result is within `tol` of the reference on rounded operands.
fn check(what: &str, got: &Tensor, want: &Tensor, abs_sums: &Tensor, tol: F16Tolerance) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let c = compare_f16(got.data(), want.data(), abs_sums.data(), tol);
    assert!(c.passed(), "{what}: {c} ({tol:?})");
}

/// The reference on absolute values without activation: each output's sum of absolute terms.
pub(super) fn abs_sums(pr: &ConvProblem, d: &ConvData) -> Tensor {
    let mut q = pr.clone();
    q.act = Activation::Identity;
    q.reference_on(&d.map(abs)).unwrap()
}
