//! Timing one convolution's candidates: buffers of its shapes, and each candidate's launches
//! bound on them.

use crate::device::{BufRef, Dispatch, Gpu, GpuTensor};
use crate::error::Result;
use crate::graph::Op;
use crate::kernels::ConvBindings;
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::ops::{ConvSpec, Epilogue};
use crate::tensor::Tensor;

/// Buffers of one convolution shape for timing its candidates: input, residual and output
/// (shared by every candidate), parameters and scratch (per candidate).
pub(super) struct Bench {
    input: GpuTensor,
    residual: Option<GpuTensor>,
    output: GpuTensor,
}

/// The spec, weight shape and epilogue of `op`; `None` unless it is a convolution, the only
/// op tuned, with constant weights (the candidates include Winograd, which transforms them on
/// the host; weights given at run time run the heuristic's untransformed choice), and without
/// an input scale (only the pointwise GEMM takes one; the planner picks its tiling).
pub(super) fn conv_parts(op: &Op) -> Option<(&ConvSpec, &[usize], Epilogue)> {
    let Op::Conv {
        spec,
        weight,
        epilogue,
        ..
    } = op
    else {
        return None;
    };
    if !op.runtime_operands().is_empty() || epilogue.input_scale {
        return None;
    }
    Some((spec, weight.shape(), *epilogue))
}

pub(super) struct Launch {
    pub(super) dispatches: Vec<Dispatch>,
    _buffers: Vec<GpuTensor>,
}

impl Bench {
    pub(super) fn new(gpu: &Gpu, op: &Op, input: &[usize]) -> Result<Self> {
        let (spec, weight_shape, epilogue) = conv_parts(op).expect("tuning is for convolutions");
        let out = spec.output_shape(input, weight_shape)?;
        Ok(Self {
            // Values do not change a kernel's speed; seeded data keeps runs repeatable.
            input: gpu.upload(&Tensor::random(input.to_vec(), 1))?,
            residual: if epilogue.residual {
                Some(gpu.zeros(&out)?)
            } else {
                None
            },
            output: gpu.zeros(&out)?,
        })
    }

    pub(super) fn launch(
        &self,
        gpu: &Gpu,
        op: &Op,
        input: &[usize],
        a: &ConvAlgorithm,
    ) -> Result<Launch> {
        let (spec, weight_shape, epilogue) = conv_parts(op).expect("tuning is for convolutions");
        let shapes: [&[usize]; 1] = [input];
        let mut buffers: Vec<GpuTensor> = crate::plan::device_params_for(op, &shapes, Some(a))
            .iter()
            .map(|t| gpu.upload(t))
            .collect::<Result<_>>()?;
        let n_params = buffers.len();
        let elem = gpu.precision().elem_bytes();
        for bytes in algorithm::scratch_bytes(a, spec, input, weight_shape, gpu.precision())? {
            buffers.push(gpu.zeros(&[(bytes as usize).div_ceil(elem)])?);
        }
        fn whole(t: &GpuTensor) -> BufRef<'_> {
            t.binding()
        }
        let b = ConvBindings {
            input: self.input.binding(),
            weight: whole(&buffers[0]),
            bias: (n_params > 1).then(|| whole(&buffers[1])),
            residual: self.residual.as_ref().map(|r| r.binding()),
            input_scale: None,
            output: self.output.binding(),
        };
        let scratch: Vec<BufRef<'_>> = buffers[n_params..].iter().map(whole).collect();
        let dispatches = algorithm::conv_with(
            gpu.target(),
            a,
            spec,
            input,
            weight_shape,
            epilogue,
            b,
            &scratch,
        )?
        .iter()
        .map(|l| gpu.dispatch(l))
        .collect::<Result<_>>()?;
        Ok(Launch {
            dispatches,
            _buffers: buffers,
        })
    }
}
