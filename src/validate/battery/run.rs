//! Runners the battery's families share: launching one dispatch, one-input cases, and the
//! convolution cases (kernel chosen by the spec) on a [`ConvProblem`].

use super::{Case, Outcome};
use crate::compare::Tolerance;
use crate::device::Gpu;
use crate::device::{BufRef, Dispatch};
use crate::error::Result;
use crate::kernels::{ConvBindings, Launch, Target, conv, depthwise, matmul};
use crate::ops::{Activation, ConvSpec, Epilogue};
use crate::problem::ConvProblem;
use crate::tensor::Tensor;

/// Uploads `inputs`, allocates `out_shape`, builds one dispatch, runs it and downloads.
pub(super) fn launch(
    gpu: &Gpu,
    inputs: &[&Tensor],
    out_shape: &[usize],
    build: impl FnOnce(&Gpu, &[BufRef<'_>], BufRef<'_>) -> Result<Dispatch>,
) -> Result<Tensor> {
    let bufs = inputs
        .iter()
        .map(|t| gpu.upload(t))
        .collect::<Result<Vec<_>>>()?;
    let out = gpu.zeros(out_shape)?;
    let refs: Vec<BufRef<'_>> = bufs.iter().map(|b| b.binding()).collect();
    let d = build(gpu, &refs, out.binding())?;
    gpu.submit(&[&d])?;
    gpu.download(&out)
}

/// A case running one kernel on one seeded random input of shape `xs` (output shape from
/// `out_shape`) against its CPU `reference`.
pub(super) fn one_input_case(
    family: &'static str,
    name: String,
    xs: Vec<usize>,
    out_shape: impl Fn(&[usize]) -> Result<Vec<usize>> + Send + Sync + 'static,
    kernel: impl Fn(&Gpu, &[usize], BufRef<'_>, BufRef<'_>) -> Result<Dispatch> + Send + Sync + 'static,
    reference: impl Fn(&Tensor) -> Result<Tensor> + Send + Sync + 'static,
    tolerance: Tolerance,
) -> Case {
    Case {
        family,
        name,
        run: Box::new(move |gpu| {
            let x = Tensor::random(xs.clone(), 1);
            let got = launch(gpu, &[&x], &out_shape(&xs)?, |g, t, out| {
                kernel(g, &xs, t[0], out)
            })?;
            Ok(Outcome {
                got,
                want: reference(&x)?,
                tolerance,
            })
        }),
    }
}

/// The kernel `spec` selects (depthwise, pointwise or direct), as the battery's conv cases run.
pub(super) fn by_spec<'a>(
    t: &Target,
    spec: &ConvSpec,
    xs: &[usize],
    ws: &[usize],
    ep: Epilogue,
    bind: ConvBindings<BufRef<'a>>,
) -> Result<Launch<BufRef<'a>>> {
    if depthwise::is_depthwise(spec, xs) {
        depthwise::depthwise(t, spec, xs, ws, ep, bind)
    } else if matmul::is_pointwise(spec) {
        matmul::pointwise(t, spec, xs, ws, ep, bind)
    } else {
        conv::conv(t, spec, xs, ws, ep, bind)
    }
}

/// The problem of a battery conv case: `[n, c, *spatial]` to `cout` channels, bias, `act`.
pub(super) fn problem(
    x: [usize; 2],
    spatial: &[usize],
    cout: usize,
    spec: ConvSpec,
    act: Activation,
    seed: u64,
) -> ConvProblem {
    let mut xs = x.to_vec();
    xs.extend(spatial);
    ConvProblem::new(spec, &xs, cout).act(act).seed(seed)
}

pub(super) fn conv_case(
    family: &'static str,
    name: &str,
    x: [usize; 2],
    spatial: &[usize],
    cout: usize,
    spec: ConvSpec,
    act: Activation,
) -> Case {
    let p = problem(x, spatial, cout, spec, act, 11);
    let name = format!(
        "{name} x{:?} w{:?} {act:?}",
        p.input_shape,
        p.weight_shape()
    );
    Case {
        family,
        name,
        run: Box::new(move |gpu| {
            let d = p.data()?;
            let got = p.launch_with(gpu, &d, by_spec)?.run(gpu)?;
            Ok(Outcome {
                got,
                want: p.reference_on(&d)?,
                tolerance: Tolerance::accumulation(p.k() + 1),
            })
        }),
    }
}
