//! One convolution problem, as the tests, the validate battery and the benchmark layers all
//! need it: geometry, seeded host data, the CPU oracle's answer, napkin math, and the GPU
//! launches of a chosen kernel or [`ConvAlgorithm`] with the buffers they bind.
//!
//! It sits above `device`, `kernels` and `reference` (it uses all three); nothing below may
//! use it.

use crate::device::{BufRef, Dispatch, Gpu, GpuTensor};
use crate::error::Result;
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::kernels::{ConvBindings, Launch, Target, winograd};
use crate::ops::{Activation, ConvSpec, Epilogue};
use crate::reference;
use crate::tensor::{Tensor, numel};

/// A single-launch convolution kernel builder with the kernels' common signature: the general
/// conv, depthwise, pointwise, or one of them at a fixed tiling.
pub trait ConvKernel:
    for<'a> Fn(
    &Target,
    &ConvSpec,
    &[usize],
    &[usize],
    Epilogue,
    ConvBindings<BufRef<'a>>,
) -> Result<Launch<BufRef<'a>>>
{
}

impl<F> ConvKernel for F where
    F: for<'a> Fn(
        &Target,
        &ConvSpec,
        &[usize],
        &[usize],
        Epilogue,
        ConvBindings<BufRef<'a>>,
    ) -> Result<Launch<BufRef<'a>>>
{
}

/// A convolution problem: geometry, channels, epilogue and the seed of its data.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvProblem {
    /// Kernel, stride, dilation, padding, groups.
    pub spec: ConvSpec,
    /// `[N, C, *spatial]`.
    pub input_shape: Vec<usize>,
    /// Output channels `O`.
    pub out_channels: usize,
    /// Whether a bias `[O]` is added.
    pub bias: bool,
    /// Whether a residual of the output's shape is added (before the activation).
    pub residual: bool,
    /// The activation of the epilogue.
    pub act: Activation,
    /// Base seed: input `seed`, weight `seed + 1`, bias `seed + 2`, residual `seed + 3`.
    pub seed: u64,
}

/// The host tensors of a problem.
#[derive(Clone, Debug)]
pub struct ConvData {
    /// Input `[N, C, *spatial]`.
    pub x: Tensor,
    /// Weight `[O, C / groups, *kernel]`.
    pub w: Tensor,
    /// Bias `[O]`, when the problem has one.
    pub bias: Option<Tensor>,
    /// Residual of the output's shape, when the problem has one.
    pub residual: Option<Tensor>,
}

impl ConvData {
    /// Every tensor mapped through `f` (e.g. rounded to a storage precision).
    pub fn map(&self, f: impl Fn(&Tensor) -> Tensor) -> Self {
        Self {
            x: f(&self.x),
            w: f(&self.w),
            bias: self.bias.as_ref().map(&f),
            residual: self.residual.as_ref().map(&f),
        }
    }
}

/// The device copies of a problem's data.
pub struct ConvBuffers {
    /// The input.
    pub input: GpuTensor,
    /// The weight as bound (Winograd's transformed).
    pub weight: GpuTensor,
    /// The bias, when the problem has one.
    pub bias: Option<GpuTensor>,
    /// The residual, when the problem has one.
    pub residual: Option<GpuTensor>,
}

impl ConvBuffers {
    /// The bindings of a launch writing `output`.
    pub fn bindings<'a>(&'a self, output: BufRef<'a>) -> ConvBindings<BufRef<'a>> {
        ConvBindings {
            input: self.input.binding(),
            weight: self.weight.binding(),
            bias: self.bias.as_ref().map(|t| t.binding()),
            residual: self.residual.as_ref().map(|t| t.binding()),
            input_scale: None,
            output,
        }
    }

    fn into_vec(self) -> Vec<GpuTensor> {
        let mut v = vec![self.input, self.weight];
        v.extend(self.bias);
        v.extend(self.residual);
        v
    }
}

/// A problem on the device: its dispatches in order and every buffer they bind, kept alive
/// so the caller can submit (or time) the dispatches and download the output.
pub struct ConvRun {
    dispatches: Vec<Dispatch>,
    output: GpuTensor,
    buffers: ConvBuffers,
    scratch: Vec<GpuTensor>,
}

impl ConvRun {
    /// Dispatches in execution order.
    pub fn dispatches(&self) -> &[Dispatch] {
        &self.dispatches
    }

    /// The output buffer.
    pub fn output(&self) -> &GpuTensor {
        &self.output
    }

    /// Submits the dispatches once and downloads the output.
    pub fn run(&self, gpu: &Gpu) -> Result<Tensor> {
        gpu.submit(&self.dispatches.iter().collect::<Vec<_>>())?;
        gpu.download(&self.output)
    }

    /// The dispatches and every buffer they bind (which must outlive their use).
    pub fn into_parts(self) -> (Vec<Dispatch>, Vec<GpuTensor>) {
        let mut bufs = self.buffers.into_vec();
        bufs.push(self.output);
        bufs.extend(self.scratch);
        (self.dispatches, bufs)
    }
}

impl ConvProblem {
    /// A problem with bias, no residual, identity activation, seed 0.
    pub fn new(spec: ConvSpec, input_shape: &[usize], out_channels: usize) -> Self {
        Self {
            spec,
            input_shape: input_shape.to_vec(),
            out_channels,
            bias: true,
            residual: false,
            act: Activation::Identity,
            seed: 0,
        }
    }

    /// With or without a bias.
    pub fn bias(mut self, b: bool) -> Self {
        self.bias = b;
        self
    }

    /// With or without a residual.
    pub fn residual(mut self, r: bool) -> Self {
        self.residual = r;
        self
    }

    /// With activation `a`.
    pub fn act(mut self, a: Activation) -> Self {
        self.act = a;
        self
    }

    /// With base seed `s`.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }

    /// Input channels `C`.
    pub fn in_channels(&self) -> usize {
        self.input_shape[1]
    }

    /// `[O, C / groups, *kernel]`.
    pub fn weight_shape(&self) -> Vec<usize> {
        let mut w = vec![
            self.out_channels,
            self.in_channels() / self.spec.groups.max(1),
        ];
        w.extend(&self.spec.kernel);
        w
    }

    /// The output shape; an error when the geometry is invalid.
    pub fn output_shape(&self) -> Result<Vec<usize>> {
        self.spec
            .output_shape(&self.input_shape, &self.weight_shape())
    }

    /// Products summed per output: `(C / groups) * prod(kernel)`.
    pub fn k(&self) -> usize {
        self.in_channels() / self.spec.groups.max(1) * numel(&self.spec.kernel)
    }

    /// The fused epilogue (activation, residual).
    pub fn epilogue(&self) -> Epilogue {
        Epilogue {
            activation: self.act,
            residual: self.residual,
            input_scale: false,
        }
    }

    /// Multiply-accumulates of one run.
    pub fn macs(&self) -> Result<u64> {
        Ok(self.spec.macs(&self.output_shape()?, self.in_channels()))
    }

    /// Floating-point operations of one run (2 per multiply-accumulate).
    pub fn flops(&self) -> Result<f64> {
        Ok(2.0 * self.macs()? as f64)
    }

    /// Minimum bytes one run moves at `elem_bytes` per element: input, weight, bias, residual
    /// and output each read or written once.
    pub fn bytes(&self, elem_bytes: usize) -> Result<f64> {
        let out = numel(&self.output_shape()?);
        let elems = numel(&self.input_shape)
            + numel(&self.weight_shape())
            + if self.bias { self.out_channels } else { 0 }
            + if self.residual { out } else { 0 }
            + out;
        Ok((elem_bytes * elems) as f64)
    }

    /// The seeded host tensors.
    pub fn data(&self) -> Result<ConvData> {
        let s = self.seed;
        let residual = match self.residual {
            true => Some(Tensor::random(self.output_shape()?, s + 3)),
            false => None,
        };
        Ok(ConvData {
            x: Tensor::random(self.input_shape.clone(), s),
            w: Tensor::random(self.weight_shape(), s + 1),
            bias: self
                .bias
                .then(|| Tensor::random(vec![self.out_channels], s + 2)),
            residual,
        })
    }

    /// The CPU oracle's output on the seeded data.
    pub fn reference(&self) -> Result<Tensor> {
        self.reference_on(&self.data()?)
    }

    /// The CPU oracle's output on `d`.
    pub fn reference_on(&self, d: &ConvData) -> Result<Tensor> {
        reference::conv::conv_epilogue(
            &self.spec,
            &d.x,
            &d.w,
            d.bias.as_ref(),
            d.residual.as_ref(),
            self.act,
        )
    }

    /// Uploads `d` (the weight as `weight`, which may be a transform of `d.w`).
    fn upload_with(&self, gpu: &Gpu, d: &ConvData, weight: &Tensor) -> Result<ConvBuffers> {
        Ok(ConvBuffers {
            input: gpu.upload(&d.x)?,
            weight: gpu.upload(weight)?,
            bias: d.bias.as_ref().map(|t| gpu.upload(t)).transpose()?,
            residual: d.residual.as_ref().map(|t| gpu.upload(t)).transpose()?,
        })
    }

    /// Uploads `d` as is.
    pub fn upload(&self, gpu: &Gpu, d: &ConvData) -> Result<ConvBuffers> {
        self.upload_with(gpu, d, &d.w)
    }

    /// Uploads `d` and binds one launch of `kernel` (the general conv, depthwise, a fixed
    /// tiling, ...) writing a fresh output.
    pub fn launch_with(&self, gpu: &Gpu, d: &ConvData, kernel: impl ConvKernel) -> Result<ConvRun> {
        let buffers = self.upload(gpu, d)?;
        let output = gpu.zeros(&self.output_shape()?)?;
        let dispatch = gpu.encode(kernel(
            gpu.target(),
            &self.spec,
            &self.input_shape,
            &self.weight_shape(),
            self.epilogue(),
            buffers.bindings(output.binding()),
        ))?;
        Ok(ConvRun {
            dispatches: vec![dispatch],
            output,
            buffers,
            scratch: Vec::new(),
        })
    }

    /// Uploads `d` and binds the launches of algorithm `a` (`algorithm::conv_with`): weights
    /// transformed on the host where `a` wants it, each scratch region a buffer of its own,
    /// in `gpu`'s precision.
    pub fn launch(&self, gpu: &Gpu, d: &ConvData, a: &ConvAlgorithm) -> Result<ConvRun> {
        let ws = self.weight_shape();
        let p = gpu.precision();
        // Winograd's transform is rounded to the storage precision on upload, as in a session.
        let buffers = if a.transforms_weights() {
            self.upload_with(gpu, d, &winograd::transform_weights(&d.w))?
        } else {
            self.upload(gpu, d)?
        };
        let scratch = algorithm::scratch_bytes(a, &self.spec, &self.input_shape, &ws, p)?
            .into_iter()
            .map(|b| gpu.zeros(&[(b as usize).div_ceil(p.elem_bytes())]))
            .collect::<Result<Vec<_>>>()?;
        let output = gpu.zeros(&self.output_shape()?)?;
        let dispatches = gpu.encode(algorithm::conv_with(
            gpu.target(),
            a,
            &self.spec,
            &self.input_shape,
            &ws,
            self.epilogue(),
            buffers.bindings(output.binding()),
            &scratch.iter().map(|s| s.binding()).collect::<Vec<_>>(),
        ))?;
        Ok(ConvRun {
            dispatches,
            output,
            buffers,
            scratch,
        })
    }
}
