//! The f16 cases, which run only on adapters with `SHADER_F16`.

use super::run::{by_spec, launch};
use super::{Case, Outcome};
use crate::compare::F16Tolerance;
use crate::error::Result;
use crate::kernels::algorithm::ConvAlgorithm;
use crate::kernels::conv::ConvTiling;
use crate::kernels::matmul::GemmTiling;
use crate::kernels::{depthwise, matmul, pool, softmax, winograd};
use crate::ops::{Activation, ConvSpec, PoolKind};
use crate::precision::Precision;
use crate::problem::{ConvData, ConvProblem};
use crate::reference;
use crate::tensor::Tensor;

/// The largest output of the convolution on absolute values without activation: the sum of
/// absolute terms the f16 bounds are made uniform at.
fn max_abs_sum(p: &ConvProblem, d: &ConvData) -> Result<f64> {
    let mut abs_p = p.clone();
    abs_p.act = Activation::Identity;
    Ok(max_of(&abs_p.reference_on(&d.map(abs))?))
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
    let p16 = ConvProblem::new(spec, &xs, cout).act(act).seed(11);
    let spec = &p16.spec;
    // The family names the kernel that runs (as the f32 cases do), then the precision.
    let family: &'static str = match (
        depthwise::is_depthwise(spec, &xs),
        matmul::is_pointwise(spec),
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
        name: format!("{name} x{xs:?} w{:?} {act:?}", p16.weight_shape()),
        run: Box::new(move |gpu| {
            let gpu = &gpu.with_precision(p)?;
            let d = p16.data()?.map(round16);
            let got = p16.launch_with(gpu, &d, by_spec)?.run(gpu)?;
            let sums = max_abs_sum(&p16, &d)?;
            // 1.5: the steepest activation's slope (HardSwish).
            let tolerance = F16Tolerance::new(p16.k(), p).slope(1.5).uniform(sums);
            Ok(Outcome {
                got,
                want: p16.reference_on(&d)?,
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
        v.push(f16_algorithm_case(
            p,
            "fused Winograd F(2x2,3x3) pad1, batch 2",
            vec![2, 40, 9, 11],
            36,
            ConvSpec::conv2d(3, 3).pad(1),
            Activation::Relu,
            ConvAlgorithm::WinogradFused,
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
                    g.encode(pool::global_pool(
                        g.target(),
                        PoolKind::Avg,
                        &[2, 5, 23, 29],
                        t[0],
                        out,
                    ))
                })?
                .into_data();
                let mut want = reference::pool::global_pool(PoolKind::Avg, &x)?.into_data();
                let s = round16(&Tensor::random_range(vec![3, 1000], 5, -8.0, 8.0));
                got.extend(
                    launch(gpu, &[&s], &[3, 1000], |g, t, out| {
                        g.encode(softmax::softmax(g.target(), 1, &[3, 1000], t[0], out))
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

/// `algorithm::algorithm_case` in f16 precision `p`: data rounded to f16, the reference on the
/// rounded data, the bound [`F16Tolerance`]'s (Winograd's: `winograd::f16_tolerance`) made
/// uniform at the largest sum of absolute terms.
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
    let p16 = ConvProblem::new(spec, &xs, cout).act(act).seed(21);
    let fused = a == ConvAlgorithm::WinogradFused;
    let family: &'static str = match (a.transforms_weights(), fused, p) {
        (true, true, Precision::F16AccF32) => "winograd-fused f16-acc32",
        (true, true, _) => "winograd-fused f16",
        (true, _, Precision::F16AccF32) => "winograd f16-acc32",
        (true, _, _) => "winograd f16",
        (false, _, Precision::F16AccF32) => "splitk f16-acc32",
        (false, _, _) => "splitk f16",
    };
    Case {
        family,
        name: format!("{name} x{xs:?} w{:?} {act:?} {a:?}", p16.weight_shape()),
        run: Box::new(move |gpu| {
            let gpu = &gpu.with_precision(p)?;
            let d = p16.data()?.map(round16);
            let got = p16.launch(gpu, &d, &a)?.run(gpu)?;
            let sums = max_abs_sum(&p16, &d)?;
            let k = p16.k();
            let bound = if a.transforms_weights() {
                winograd::f16_tolerance(k, p)
            } else {
                F16Tolerance::new(k, p)
            };
            // 1.5: the steepest activation's slope (HardSwish).
            let tolerance = bound.slope(1.5).uniform(sums);
            Ok(Outcome {
                got,
                want: p16.reference_on(&d)?,
                tolerance,
            })
        }),
    }
}
