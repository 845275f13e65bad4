//! The fixed battery of kernel problems `wgconv validate` runs on every adapter: each kernel
//! family on ordinary and awkward shapes (odd sizes, non-multiples of tiles, large dilation,
//! groups, batch > 1), checked against the CPU reference.

use crate::compare::{F16Tolerance, Tolerance};
use crate::device::Gpu;
use crate::error::Result;
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::kernels::conv::ConvTiling;
use crate::kernels::matmul::GemmTiling;
use crate::kernels::{
    BufRef, ConvBindings, Dispatch, conv, conv_transpose, depthwise, eltwise, matmul, pad, pool,
    rearrange, resize, softmax, winograd,
};
use crate::ops::{
    Activation, BinaryOp, ChannelOrder, ChannelShuffle, ConvSpec, ConvTransposeSpec, Epilogue,
    PixelShuffle, PoolKind, PoolSpec, ResizeSpec, SpaceToDepth,
};
use crate::precision::Precision;
use crate::reference;
use crate::tensor::Tensor;

/// What a case produces: the GPU result, the reference, and the tolerance between them.
pub struct Outcome {
    /// GPU output.
    pub got: Tensor,
    /// CPU reference output.
    pub want: Tensor,
    /// Accepted difference.
    pub tolerance: Tolerance,
}

type Runner = Box<dyn Fn(&Gpu) -> Result<Outcome> + Send + Sync>;

/// One problem of the battery. Families ending in `f16` or `f16-acc32` (see [`f16_cases`])
/// run only on adapters with `SHADER_F16`.
pub struct Case {
    /// Kernel family (`conv`, `depthwise`, ...).
    pub family: &'static str,
    /// Problem description.
    pub name: String,
    /// Runs it on an adapter.
    pub run: Runner,
}

/// Uploads `inputs`, allocates `out_shape`, builds one dispatch, runs it and downloads.
fn launch(
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
fn one_input_case(
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
fn weight_shape(c: usize, cout: usize, spec: &ConvSpec) -> Vec<usize> {
    let mut ws = vec![cout, c / spec.groups];
    ws.extend(&spec.kernel);
    ws
}

/// Seeded input, weight and bias (seeds `seed`, `seed + 1`, `seed + 2`) of a convolution.
fn conv_data(xs: &[usize], ws: &[usize], seed: u64) -> [Tensor; 3] {
    [
        Tensor::random(xs.to_vec(), seed),
        Tensor::random(ws.to_vec(), seed + 1),
        Tensor::random(vec![ws[0]], seed + 2),
    ]
}

/// Runs the convolution kernel `spec` selects (depthwise, pointwise or direct) on `t` =
/// [input, weight, bias] with activation `act`.
fn run_conv(
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
            depthwise::depthwise(g, spec, xs, ws, ep, bind)
        } else if matmul::is_pointwise(spec) {
            matmul::pointwise(g, spec, xs, ws, ep, bind)
        } else {
            conv::conv(g, spec, xs, ws, ep, bind)
        }
    })
}

/// Runs `a` through `algorithm::conv_with` on `t` = [input, weight, bias] with activation
/// `act`: weights transformed on the host where `a` wants it, each scratch region a buffer
/// of its own, in `gpu`'s precision.
fn run_algorithm(
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
    let ds = algorithm::conv_with(
        gpu,
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
    )?;
    gpu.submit(&ds.iter().collect::<Vec<_>>())?;
    gpu.download(&out)
}

/// The largest output of the convolution on absolute values without activation: the sum of
/// absolute terms the f16 bounds are made uniform at.
fn max_abs_sum(spec: &ConvSpec, xt: &Tensor, wt: &Tensor, bt: &Tensor) -> Result<f64> {
    let sums = reference::conv::conv_epilogue(
        spec,
        &abs(xt),
        &abs(wt),
        Some(&abs(bt)),
        None,
        Activation::Identity,
    )?;
    Ok(max_of(&sums))
}

fn conv_case(
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

impl Case {
    /// True for the f16 cases, which need an adapter with `SHADER_F16`.
    pub fn needs_shader_f16(&self) -> bool {
        Precision::ALL
            .iter()
            .any(|p| p.is_f16() && self.family.ends_with(p.name()))
    }
}

fn round16(t: &Tensor) -> Tensor {
    let data = t.data().iter().map(|&x| Precision::F16.round(x)).collect();
    Tensor::new(t.shape().to_vec(), data).expect("same shape")
}

fn abs(t: &Tensor) -> Tensor {
    let data = t.data().iter().map(|x| x.abs()).collect();
    Tensor::new(t.shape().to_vec(), data).expect("same shape")
}

fn max_of(t: &Tensor) -> f64 {
    t.data().iter().fold(0.0f64, |m, &v| m.max(v as f64))
}

/// A convolution-like problem in f16 `p`: the reference runs on the f16-rounded data and the
/// tolerance is [`F16Tolerance`]'s bound made uniform at the largest sum of absolute terms.
fn f16_conv_case(
    p: Precision,
    name: &str,
    xs: Vec<usize>,
    cout: usize,
    spec: ConvSpec,
    act: Activation,
) -> Case {
    let c = xs[1];
    let ws = weight_shape(c, cout, &spec);
    // The family names the kernel that runs (as the f32 cases do), then the precision.
    let family: &'static str = match (
        depthwise::is_depthwise(&spec, &xs),
        matmul::is_pointwise(&spec),
        p,
    ) {
        (true, _, Precision::F16AccF32) => "depthwise f16-acc32",
        (true, _, _) => "depthwise f16",
        (_, true, Precision::F16AccF32) => "pointwise f16-acc32",
        (_, true, _) => "pointwise f16",
        (_, _, Precision::F16AccF32) => "conv f16-acc32",
        _ => "conv f16",
    };
    Case {
        family,
        name: format!("{name} x{xs:?} w{ws:?} {act:?}"),
        run: Box::new(move |gpu| {
            let gpu = &gpu.with_precision(p)?;
            let [xt, wt, bt] = conv_data(&xs, &ws, 11).map(|t| round16(&t));
            let got = run_conv(gpu, &spec, &xs, &ws, act, [&xt, &wt, &bt])?;
            let want = reference::conv::conv_epilogue(&spec, &xt, &wt, Some(&bt), None, act)?;
            let sums = max_abs_sum(&spec, &xt, &wt, &bt)?;
            let k = (c / spec.groups) * spec.kernel.iter().product::<usize>();
            // 1.5: the steepest activation's slope (HardSwish).
            let tolerance = F16Tolerance::new(k, p).slope(1.5).uniform(sums);
            Ok(Outcome {
                got,
                want,
                tolerance,
            })
        }),
    }
}

/// The f16 cases: convolution, depthwise, pointwise and a GEMM-sized reduction in both f16
/// precisions (f16 and f32 accumulation), plus global average pooling and softmax, whose
/// sums stay f32.
pub fn f16_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for p in [Precision::F16, Precision::F16AccF32] {
        v.push(f16_conv_case(
            p,
            "3x3 pad1",
            vec![1, 16, 14, 14],
            32,
            ConvSpec::conv2d(3, 3).pad(1),
            Activation::Relu,
        ));
        v.push(f16_conv_case(
            p,
            "odd sizes, batch 3, groups",
            vec![3, 6, 13, 11],
            9,
            ConvSpec::conv2d(3, 3).pad(1).groups(3),
            Activation::HardSwish,
        ));
        v.push(f16_conv_case(
            p,
            "depthwise 3x3 s2",
            vec![2, 24, 17, 15],
            24,
            ConvSpec::conv2d(3, 3).stride(2).pad(1).groups(24),
            Activation::Relu6,
        ));
        v.push(f16_conv_case(
            p,
            "pointwise, K = 576",
            vec![1, 576, 7, 7],
            40,
            ConvSpec::conv2d(1, 1),
            Activation::Identity,
        ));
        v.push(f16_algorithm_case(
            p,
            "split-K 3x3 pad1 K=1152, 6 splits",
            vec![1, 128, 7, 7],
            64,
            ConvSpec::conv2d(3, 3).pad(1),
            Activation::Relu,
            ConvAlgorithm::SplitK {
                tiling: ConvTiling::default(),
                splits: 6,
            },
        ));
        v.push(f16_algorithm_case(
            p,
            "split-K 1x1 K=512, 4 splits",
            vec![1, 512, 7, 7],
            96,
            ConvSpec::conv2d(1, 1),
            Activation::Identity,
            ConvAlgorithm::GemmSplitK {
                tiling: GemmTiling::for_problem(96, 49),
                splits: 4,
            },
        ));
        v.push(f16_algorithm_case(
            p,
            "Winograd F(2x2,3x3) pad1, batch 2",
            vec![2, 40, 9, 11],
            36,
            ConvSpec::conv2d(3, 3).pad(1),
            Activation::Relu,
            ConvAlgorithm::Winograd {
                tile: 2,
                gemm: GemmTiling::for_problem(36, 60),
            },
        ));
        let family: &'static str = match p {
            Precision::F16AccF32 => "pool f16-acc32",
            _ => "pool f16",
        };
        v.push(Case {
            family,
            name: "global average [2, 5, 23, 29] and softmax over 1000".into(),
            run: Box::new(move |gpu| {
                let gpu = &gpu.with_precision(p)?;
                let x = round16(&Tensor::random(vec![2, 5, 23, 29], 4));
                let mut got = launch(gpu, &[&x], &[2, 5], |g, t, out| {
                    pool::global_pool(g, PoolKind::Avg, &[2, 5, 23, 29], t[0], out)
                })?
                .into_data();
                let mut want = reference::pool::global_pool(PoolKind::Avg, &x)?.into_data();
                let s = round16(&Tensor::random_range(vec![3, 1000], 5, -8.0, 8.0));
                got.extend(
                    launch(gpu, &[&s], &[3, 1000], |g, t, out| {
                        softmax::softmax(g, 1, &[3, 1000], t[0], out)
                    })?
                    .into_data(),
                );
                want.extend(reference::softmax::softmax(1, &s)?.into_data());
                let n = got.len();
                // Both sum in f32 whatever the precision: f32 accumulation of 667 terms of
                // magnitude <= 1, then the output's rounding.
                let tolerance = F16Tolerance::new(23 * 29, Precision::F16AccF32).uniform(1.0);
                Ok(Outcome {
                    got: Tensor::new(vec![n], got)?,
                    want: Tensor::new(vec![n], want)?,
                    tolerance,
                })
            }),
        });
    }
    v
}

/// [`algorithm_case`] in f16 precision `p`: data rounded to f16, the reference on the rounded
/// data, the bound [`F16Tolerance`]'s (Winograd's: `winograd::f16_tolerance`) made uniform at
/// the largest sum of absolute terms.
#[allow(clippy::too_many_arguments)]
fn f16_algorithm_case(
    p: Precision,
    name: &str,
    xs: Vec<usize>,
    cout: usize,
    spec: ConvSpec,
    act: Activation,
    a: ConvAlgorithm,
) -> Case {
    let ws = weight_shape(xs[1], cout, &spec);
    let family: &'static str = match (a.transforms_weights(), p) {
        (true, Precision::F16AccF32) => "winograd f16-acc32",
        (true, _) => "winograd f16",
        (false, Precision::F16AccF32) => "splitk f16-acc32",
        (false, _) => "splitk f16",
    };
    Case {
        family,
        name: format!("{name} x{xs:?} w{ws:?} {act:?} {a:?}"),
        run: Box::new(move |gpu| {
            let gpu = &gpu.with_precision(p)?;
            let [xt, wt, bt] = conv_data(&xs, &ws, 21).map(|t| round16(&t));
            let got = run_algorithm(gpu, &a, &spec, &xs, &ws, act, [&xt, &wt, &bt])?;
            let want = reference::conv::conv_epilogue(&spec, &xt, &wt, Some(&bt), None, act)?;
            let sums = max_abs_sum(&spec, &xt, &wt, &bt)?;
            let k = (xs[1] / spec.groups) * spec.kernel.iter().product::<usize>();
            let bound = if a.transforms_weights() {
                winograd::f16_tolerance(k, p)
            } else {
                F16Tolerance::new(k, p)
            };
            // 1.5: the steepest activation's slope (HardSwish).
            let tolerance = bound.slope(1.5).uniform(sums);
            Ok(Outcome {
                got,
                want,
                tolerance,
            })
        }),
    }
}

/// A convolution run through `algorithm` (`kernels::algorithm::conv_with`: weights
/// transformed on the host where the algorithm wants it, each scratch region a buffer of its
/// own), with bias and `act`.
fn algorithm_case(
    family: &'static str,
    name: &str,
    xs: Vec<usize>,
    cout: usize,
    spec: ConvSpec,
    act: Activation,
    a: ConvAlgorithm,
) -> Case {
    let ws = weight_shape(xs[1], cout, &spec);
    let name = format!("{name} x{xs:?} w{ws:?} {act:?} {a:?}");
    Case {
        family,
        name,
        run: Box::new(move |gpu| {
            let [xt, wt, bt] = conv_data(&xs, &ws, 21);
            let got = run_algorithm(gpu, &a, &spec, &xs, &ws, act, [&xt, &wt, &bt])?;
            let want = reference::conv::conv_epilogue(&spec, &xt, &wt, Some(&bt), None, act)?;
            let mut k = (xs[1] / spec.groups) * spec.kernel.iter().product::<usize>() + 1;
            if a.transforms_weights() {
                // The transforms' worst-case growth of the summed terms (kernels::winograd).
                k *= winograd::WINOGRAD_ERROR_FACTOR;
            }
            Ok(Outcome {
                got,
                want,
                tolerance: Tolerance::accumulation(k),
            })
        }),
    }
}

fn exact() -> Tolerance {
    Tolerance {
        atol: 0.0,
        rtol: 0.0,
    }
}

/// Every case of the battery.
pub fn cases() -> Vec<Case> {
    let mut v = vec![
        conv_case(
            "conv",
            "3x3 pad1",
            [1, 16],
            &[14, 14],
            32,
            ConvSpec::conv2d(3, 3).pad(1),
            Activation::Relu,
        ),
        conv_case(
            "conv",
            "odd sizes, batch 3",
            [3, 5],
            &[13, 11],
            7,
            ConvSpec::conv2d(3, 3).pad(1),
            Activation::Identity,
        ),
        conv_case(
            "conv",
            "stride 2 > tile edge",
            [1, 8],
            &[31, 29],
            70,
            ConvSpec::conv2d(3, 3).stride(2).pad(1),
            Activation::Silu,
        ),
        conv_case(
            "conv",
            "dilation 4",
            [1, 6],
            &[30, 30],
            9,
            ConvSpec::conv2d(3, 3).dilation(4).pad(4),
            Activation::Identity,
        ),
        conv_case(
            "conv",
            "groups 4",
            [2, 12],
            &[9, 9],
            8,
            ConvSpec::conv2d(3, 3).groups(4).pad(1),
            Activation::Relu6,
        ),
        conv_case(
            "conv",
            "stride > kernel, big padding",
            [1, 3],
            &[10, 10],
            4,
            ConvSpec::conv2d(2, 2).stride(3).pad(2),
            Activation::Identity,
        ),
        conv_case(
            "conv",
            "7x7 stem",
            [1, 3],
            &[37, 37],
            16,
            ConvSpec::conv2d(7, 7).stride(2).pad(3),
            Activation::Relu,
        ),
        conv_case(
            "conv",
            "asymmetric pad 3x1",
            [1, 4],
            &[12, 9],
            5,
            ConvSpec::conv2d(3, 1).pads(&[0, 1], &[2, 0]),
            Activation::Identity,
        ),
        conv_case(
            "conv",
            "1-D",
            [2, 4],
            &[29],
            6,
            ConvSpec::new(&[5]).stride(2).pad(2),
            Activation::Tanh,
        ),
        conv_case(
            "conv",
            "3-D",
            [1, 4],
            &[5, 9, 8],
            6,
            ConvSpec::new(&[3, 3, 3]).stride(2).pad(1),
            Activation::Identity,
        ),
        conv_case(
            "depthwise",
            "3x3",
            [2, 16],
            &[15, 17],
            16,
            ConvSpec::conv2d(3, 3).groups(16).pad(1),
            Activation::Relu6,
        ),
        conv_case(
            "depthwise",
            "5x5 stride 2",
            [1, 24],
            &[28, 28],
            24,
            ConvSpec::conv2d(5, 5).groups(24).stride(2).pad(2),
            Activation::Silu,
        ),
        conv_case(
            "depthwise",
            "multiplier 2, dilation 3",
            [1, 5],
            &[19, 13],
            10,
            ConvSpec::conv2d(3, 3).groups(5).dilation(3).pad(3),
            Activation::Identity,
        ),
        conv_case(
            "pointwise",
            "1x1",
            [1, 64],
            &[14, 14],
            40,
            ConvSpec::conv2d(1, 1),
            Activation::Relu,
        ),
        conv_case(
            "pointwise",
            "grouped g3, batch 2",
            [2, 24],
            &[7, 9],
            12,
            ConvSpec::conv2d(1, 1).groups(3),
            Activation::Identity,
        ),
        algorithm_case(
            "splitk",
            "3x3 pad1 K=1152, 6 splits",
            vec![1, 128, 7, 7],
            64,
            ConvSpec::conv2d(3, 3).pad(1),
            Activation::Relu,
            ConvAlgorithm::SplitK {
                tiling: ConvTiling::default(),
                splits: 6,
            },
        ),
        algorithm_case(
            "splitk",
            "1x1 K=512, 4 splits",
            vec![1, 512, 7, 7],
            96,
            ConvSpec::conv2d(1, 1),
            Activation::Identity,
            ConvAlgorithm::GemmSplitK {
                tiling: GemmTiling::for_problem(96, 49),
                splits: 4,
            },
        ),
        algorithm_case(
            "winograd",
            "F(2x2,3x3) pad1, batch 2",
            vec![2, 40, 9, 11],
            36,
            ConvSpec::conv2d(3, 3).pad(1),
            Activation::Relu,
            ConvAlgorithm::Winograd {
                tile: 2,
                gemm: GemmTiling::for_problem(36, 60),
            },
        ),
        algorithm_case(
            "winograd",
            "F(2x2,3x3) asymmetric pads",
            vec![1, 8, 6, 5],
            5,
            ConvSpec::conv2d(3, 3).pads(&[0, 2], &[1, 0]),
            Activation::Identity,
            ConvAlgorithm::Winograd {
                tile: 2,
                gemm: GemmTiling::for_problem(5, 9),
            },
        ),
    ];
    for (r, k, s, p, op, g) in [
        (2usize, 3usize, 2usize, 1usize, 1usize, 1usize),
        (2, 4, 3, 0, 2, 2),
        (3, 3, 2, 1, 1, 1),
    ] {
        v.push(conv_transpose_case(r, k, s, p, op, g));
    }
    v.push(Case {
        family: "linear",
        name: "x[3,1001] w[37,1001]".into(),
        run: Box::new(|gpu| {
            let (x, w, b) = (
                Tensor::random(vec![3, 1001], 1),
                Tensor::random(vec![37, 1001], 2),
                Tensor::random(vec![37], 3),
            );
            let got = launch(gpu, &[&x, &w, &b], &[3, 37], |g, t, out| {
                matmul::linear(
                    g,
                    &[3, 1001],
                    &[37, 1001],
                    Activation::Identity,
                    t[0],
                    t[1],
                    Some(t[2]),
                    out,
                )
            })?;
            Ok(Outcome {
                got,
                want: reference::matmul::linear(&x, &w, Some(&b))?,
                tolerance: Tolerance::accumulation(1002),
            })
        }),
    });
    v.push(Case {
        family: "matmul",
        name: "batched [4,17,33] @ [1,33,65]".into(),
        run: Box::new(|gpu| {
            let (a, b) = (
                Tensor::random(vec![4, 17, 33], 1),
                Tensor::random(vec![1, 33, 65], 2),
            );
            let got = launch(gpu, &[&a, &b], &[4, 17, 65], |g, t, out| {
                matmul::matmul(g, &[4, 17, 33], &[1, 33, 65], t[0], t[1], out)
            })?;
            Ok(Outcome {
                got,
                want: reference::matmul::matmul(&a, &b)?,
                tolerance: Tolerance::accumulation(33),
            })
        }),
    });
    for order in [ChannelOrder::Crd, ChannelOrder::Dcr] {
        let op = PixelShuffle { factor: 3, order };
        v.push(one_input_case(
            "pixel_shuffle",
            format!("r3 {order:?} [2,18,5,7]"),
            vec![2, 18, 5, 7],
            move |xs| op.output_shape(xs),
            move |g, xs, x, out| rearrange::pixel_shuffle(g, &op, xs, x, out),
            move |x| reference::rearrange::pixel_shuffle(&op, x),
            exact(),
        ));
        let op = SpaceToDepth { block: 2, order };
        v.push(one_input_case(
            "space_to_depth",
            format!("r2 {order:?} [1,3,10,14]"),
            vec![1, 3, 10, 14],
            move |xs| op.output_shape(xs),
            move |g, xs, x, out| rearrange::space_to_depth(g, &op, xs, x, out),
            move |x| reference::rearrange::space_to_depth(&op, x),
            exact(),
        ));
    }
    let op = ChannelShuffle { groups: 3 };
    v.push(one_input_case(
        "channel_shuffle",
        "g3 [2,12,5,5]".into(),
        vec![2, 12, 5, 5],
        |xs| Ok(xs.to_vec()),
        move |g, xs, x, out| rearrange::channel_shuffle(g, &op, xs, x, out),
        move |x| reference::rearrange::channel_shuffle(&op, x),
        exact(),
    ));
    let perm = [0, 2, 3, 1];
    v.push(one_input_case(
        "transpose",
        "perm [0,2,3,1] [2,5,33,17]".into(),
        vec![2, 5, 33, 17],
        |_| Ok(vec![2, 33, 17, 5]),
        move |g, xs, x, out| rearrange::transpose(g, &perm, xs, x, out),
        move |x| reference::rearrange::transpose(&perm, x),
        exact(),
    ));
    v.push(Case {
        family: "concat",
        name: "axis 1 [2,3,4,5] + [2,6,4,5]".into(),
        run: Box::new(|gpu| {
            let (a, b) = (
                Tensor::random(vec![2, 3, 4, 5], 1),
                Tensor::random(vec![2, 6, 4, 5], 2),
            );
            let bufs = [gpu.upload(&a)?, gpu.upload(&b)?];
            let out = gpu.zeros(&[2, 9, 4, 5])?;
            let d0 = rearrange::copy_into(
                gpu,
                1,
                a.shape(),
                &[2, 9, 4, 5],
                0,
                bufs[0].binding(),
                out.binding(),
            )?;
            let d1 = rearrange::copy_into(
                gpu,
                1,
                b.shape(),
                &[2, 9, 4, 5],
                3,
                bufs[1].binding(),
                out.binding(),
            )?;
            gpu.submit(&[&d0, &d1])?;
            Ok(Outcome {
                got: gpu.download(&out)?,
                want: reference::rearrange::concat(1, &[&a, &b])?,
                tolerance: exact(),
            })
        }),
    });
    for (kind, k, s, p, ceil, incl) in [
        (PoolKind::Max, 3, 2, 1, true, true),
        (PoolKind::Avg, 3, 2, 1, true, false),
        (PoolKind::Avg, 2, 3, 1, false, true),
    ] {
        let mut spec = PoolSpec::new(kind, k, s, p);
        spec.ceil_mode = ceil;
        spec.count_include_pad = incl;
        let (s1, s2, s3) = (spec.clone(), spec.clone(), spec);
        v.push(one_input_case(
            "pool",
            format!("{kind:?} k{k} s{s} p{p} ceil={ceil} include_pad={incl} [2,3,14,15]"),
            vec![2, 3, 14, 15],
            move |xs| s1.output_shape(xs),
            move |g, xs, x, out| pool::pool(g, &s2, xs, x, out),
            move |x| reference::pool::pool(&s3, x),
            Tolerance::accumulation(k * k),
        ));
    }
    for kind in [PoolKind::Avg, PoolKind::Max] {
        v.push(one_input_case(
            "global_pool",
            format!("{kind:?} [2,5,23,29]"),
            vec![2, 5, 23, 29],
            |_| Ok(vec![2, 5, 1, 1]),
            move |g, xs, x, out| pool::global_pool(g, kind, xs, x, out),
            move |x| reference::pool::global_pool(kind, x),
            Tolerance::accumulation(23 * 29),
        ));
    }
    for (name, spec, tolerance) in [
        (
            "bilinear [2,3,13,17] -> 27x9",
            ResizeSpec::torch_bilinear([27, 9], false),
            Tolerance::accumulation(4),
        ),
        (
            "nearest [2,3,13,17] -> 27x9",
            ResizeSpec::torch_nearest([27, 9]),
            exact(),
        ),
    ] {
        v.push(Case {
            family: "resize",
            name: name.into(),
            run: Box::new(move |gpu| {
                let xs = [2, 3, 13, 17];
                let x = Tensor::random(xs.to_vec(), 1);
                let table = resize::resize_table(&spec, &xs)?;
                let got = launch(gpu, &[&x, &table], &spec.output_shape(&xs)?, |g, t, out| {
                    resize::resize(g, &spec, &xs, t[0], t[1], out)
                })?;
                Ok(Outcome {
                    got,
                    want: reference::resize::resize(&spec, &x)?,
                    tolerance,
                })
            }),
        });
    }
    let (begin, end) = ([0, 1, 2, 0], [0, 0, 1, 3]);
    v.push(one_input_case(
        "pad",
        "[2,3,9,11] by [0,1,2,0] / [0,0,1,3] with 0.5".into(),
        vec![2, 3, 9, 11],
        |_| Ok(vec![2, 4, 12, 14]),
        move |g, xs, x, out| pad::pad(g, &begin, &end, 0.5, xs, x, out),
        move |x| reference::pad::pad(x, &begin, &end, 0.5),
        exact(),
    ));
    v.push(Case {
        family: "softmax",
        name: "axis 1 [3,1000]".into(),
        run: Box::new(|gpu| {
            let x = Tensor::random_range(vec![3, 1000], 1, -20.0, 20.0);
            let got = launch(gpu, &[&x], &[3, 1000], |g, t, out| {
                softmax::softmax(g, 1, &[3, 1000], t[0], out)
            })?;
            Ok(Outcome {
                got,
                want: reference::softmax::softmax(1, &x)?,
                tolerance: Tolerance::elementwise(),
            })
        }),
    });
    for act in Activation::all() {
        v.push(Case {
            family: "activation",
            name: act.name().to_string(),
            run: Box::new(move |gpu| {
                let x = Tensor::random_range(vec![4, 7, 9, 11], 1, -8.0, 8.0);
                let got = launch(gpu, &[&x], x.shape(), |g, t, out| {
                    eltwise::unary(g, act, t[0], out, 4 * 7 * 9 * 11)
                })?;
                Ok(Outcome {
                    got,
                    want: reference::eltwise::unary(act, &x),
                    tolerance: Tolerance::elementwise(),
                })
            }),
        });
    }
    for (op, sa, sb) in [
        (BinaryOp::Add, vec![2, 4, 5, 5], vec![2, 4, 5, 5]),
        (BinaryOp::Mul, vec![2, 6, 3, 5], vec![2, 6, 1, 1]),
        (BinaryOp::Sub, vec![4, 1], vec![1, 5]),
        (BinaryOp::Div, vec![3, 7], vec![7]),
    ] {
        v.push(Case {
            family: "binary",
            name: format!("{op:?} {sa:?} {sb:?}"),
            run: Box::new(move |gpu| {
                let a = Tensor::random(sa.clone(), 1);
                let b = Tensor::random_range(sb.clone(), 2, 0.5, 2.0);
                let want = reference::eltwise::binary(op, Activation::Identity, &a, &b)?;
                let got = launch(gpu, &[&a, &b], want.shape(), |g, t, out| {
                    eltwise::binary(g, op, Activation::Identity, (t[0], &sa), (t[1], &sb), out)
                })?;
                Ok(Outcome {
                    got,
                    want,
                    tolerance: Tolerance::elementwise(),
                })
            }),
        });
    }
    v.extend(f16_cases());
    v
}

fn conv_transpose_case(rank: usize, k: usize, s: usize, p: usize, op: usize, g: usize) -> Case {
    let spatial: Vec<usize> = [5, 7, 6][..rank].to_vec();
    let (n, c, o) = (2, 4 * g, 3 * g);
    let mut xs = vec![n, c];
    xs.extend(&spatial);
    let mut ws = vec![c, o / g];
    ws.extend(vec![k; rank]);
    let spec = ConvTransposeSpec::new(ConvSpec::new(&vec![k; rank]).stride(s).pad(p).groups(g))
        .output_padding(&vec![op; rank]);
    Case {
        family: "conv_transpose",
        name: format!("{rank}-D k{k} s{s} p{p} output_padding {op} groups {g} x{xs:?}"),
        run: Box::new(move |gpu| {
            let xt = Tensor::random(xs.clone(), 1);
            let wt = Tensor::random(ws.clone(), 2);
            let bt = Tensor::random(vec![o], 3);
            let out_shape = spec.output_shape(&xs, &ws)?;
            let got = launch(gpu, &[&xt, &wt, &bt], &out_shape, |gg, b, out| {
                let bind = ConvBindings {
                    input: b[0],
                    weight: b[1],
                    bias: Some(b[2]),
                    residual: None,
                    output: out,
                };
                conv_transpose::conv_transpose(gg, &spec, &xs, &ws, Epilogue::default(), bind)
            })?;
            let want = reference::conv_transpose::conv_transpose(&spec, &xt, &wt, Some(&bt))?;
            Ok(Outcome {
                got,
                want,
                tolerance: Tolerance::accumulation((c / g) * k.pow(rank as u32) + 1),
            })
        }),
    }
}
