//! Runners the battery's families share: launching one dispatch, one-input cases, and the
//! convolution paths (kernel chosen by the spec, or an explicit algorithm).

use super::{Case, Outcome};
use crate::compare::Tolerance;
use crate::device::Gpu;
use crate::device::{BufRef, Dispatch};
use crate::error::Result;
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::kernels::{ConvBindings, conv, depthwise, matmul, winograd};
use crate::ops::{Activation, ConvSpec, Epilogue};
use crate::reference;
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

/// The weight shape `[cout, c / groups, *kernel]` of `spec` on `c` input channels.
pub(super) fn weight_shape(c: usize, cout: usize, spec: &ConvSpec) -> Vec<usize> {
    let mut ws = vec![cout, c / spec.groups];
    ws.extend(&spec.kernel);
    ws
}

/// Seeded input, weight and bias (seeds `seed`, `seed + 1`, `seed + 2`) of a convolution.
pub(super) fn conv_data(xs: &[usize], ws: &[usize], seed: u64) -> [Tensor; 3] {
    [
        Tensor::random(xs.to_vec(), seed),
        Tensor::random(ws.to_vec(), seed + 1),
        Tensor::random(vec![ws[0]], seed + 2),
    ]
}

/// Runs the convolution kernel `spec` selects (depthwise, pointwise or direct) on `t` =
/// [input, weight, bias] with activation `act`.
pub(super) fn run_conv(
    gpu: &Gpu,
    spec: &ConvSpec,
    xs: &[usize],
    ws: &[usize],
    act: Activation,
    t: [&Tensor; 3],
) -> Result<Tensor> {
    let out_shape = spec.output_shape(xs, ws)?;
    let ep = Epilogue::act(act);
    launch(gpu, &t, &out_shape, |g, b, out| {
        let bind = ConvBindings {
            input: b[0],
            weight: b[1],
            bias: Some(b[2]),
            residual: None,
            output: out,
        };
        if depthwise::is_depthwise(spec, xs) {
            g.encode(depthwise::depthwise(g.target(), spec, xs, ws, ep, bind))
        } else if matmul::is_pointwise(spec) {
            g.encode(matmul::pointwise(g.target(), spec, xs, ws, ep, bind))
        } else {
            g.encode(conv::conv(g.target(), spec, xs, ws, ep, bind))
        }
    })
}

/// Runs `a` through `algorithm::conv_with` on `t` = [input, weight, bias] with activation
/// `act`: weights transformed on the host where `a` wants it, each scratch region a buffer
/// of its own, in `gpu`'s precision.
pub(super) fn run_algorithm(
    gpu: &Gpu,
    a: &ConvAlgorithm,
    spec: &ConvSpec,
    xs: &[usize],
    ws: &[usize],
    act: Activation,
    t: [&Tensor; 3],
) -> Result<Tensor> {
    let [xt, wt, bt] = t;
    let p = gpu.precision();
    let out_shape = spec.output_shape(xs, ws)?;
    // Winograd's transform is rounded to the storage precision on upload, as in a session.
    let wdev = if a.transforms_weights() {
        winograd::transform_weights(wt)
    } else {
        wt.clone()
    };
    let bufs = [xt, &wdev, bt]
        .iter()
        .map(|t| gpu.upload(t))
        .collect::<Result<Vec<_>>>()?;
    let scratch = algorithm::scratch_bytes(a, spec, xs, ws, p)?
        .into_iter()
        .map(|b| gpu.zeros(&[(b as usize).div_ceil(p.elem_bytes())]))
        .collect::<Result<Vec<_>>>()?;
    let out = gpu.zeros(&out_shape)?;
    let ds = gpu.encode(algorithm::conv_with(
        gpu.target(),
        a,
        spec,
        xs,
        ws,
        Epilogue::act(act),
        ConvBindings {
            input: bufs[0].binding(),
            weight: bufs[1].binding(),
            bias: Some(bufs[2].binding()),
            residual: None,
            output: out.binding(),
        },
        &scratch.iter().map(|s| s.binding()).collect::<Vec<_>>(),
    ))?;
    gpu.submit(&ds.iter().collect::<Vec<_>>())?;
    gpu.download(&out)
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
    let (n, c) = (x[0], x[1]);
    let mut xs = vec![n, c];
    xs.extend(spatial);
    let ws = weight_shape(c, cout, &spec);
    let name = format!("{name} x{xs:?} w{ws:?} {act:?}");
    Case {
        family,
        name,
        run: Box::new(move |gpu| {
            let [xt, wt, bt] = conv_data(&xs, &ws, 11);
            let got = run_conv(gpu, &spec, &xs, &ws, act, [&xt, &wt, &bt])?;
            let want = reference::conv::conv_epilogue(&spec, &xt, &wt, Some(&bt), None, act)?;
            let k = (c / spec.groups) * spec.kernel.iter().product::<usize>() + 1;
            Ok(Outcome {
                got,
                want,
                tolerance: Tolerance::accumulation(k),
            })
        }),
    }
}
