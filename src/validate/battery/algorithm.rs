//! Convolutions through an explicit algorithm: split-K and Winograd.

use super::run::{conv_data, run_algorithm, weight_shape};
use super::{Case, Outcome};
use crate::compare::Tolerance;
use crate::kernels::algorithm::ConvAlgorithm;
use crate::kernels::conv::ConvTiling;
use crate::kernels::matmul::GemmTiling;
use crate::kernels::winograd;
use crate::ops::{Activation, ConvSpec};
use crate::reference;

pub(super) fn cases() -> Vec<Case> {
    vec![
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
    ]
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
