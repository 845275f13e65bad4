//! Convolutions through an explicit algorithm: split-K and Winograd (three-pass and fused).

use super::{Case, Outcome};
use crate::compare::Tolerance;
use crate::kernels::algorithm::ConvAlgorithm;
use crate::kernels::conv::ConvTiling;
use crate::kernels::matmul::GemmTiling;
use crate::kernels::winograd;
use crate::ops::{Activation, ConvSpec};
use crate::problem::ConvProblem;

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
        algorithm_case(
            "winograd-fused",
            "F(2x2,3x3) pad1, batch 2",
            vec![2, 40, 9, 11],
            36,
            ConvSpec::conv2d(3, 3).pad(1),
            Activation::Relu,
            ConvAlgorithm::WinogradFused,
        ),
        algorithm_case(
            "winograd-fused",
            "F(2x2,3x3) asymmetric pads",
            vec![1, 8, 6, 5],
            5,
            ConvSpec::conv2d(3, 3).pads(&[0, 2], &[1, 0]),
            Activation::Identity,
            ConvAlgorithm::WinogradFused,
        ),
    ]
}

/// A convolution run through `algorithm` ([`ConvProblem::launch`]), with bias and `act`.
fn algorithm_case(
    family: &'static str,
    name: &str,
    xs: Vec<usize>,
    cout: usize,
    spec: ConvSpec,
    act: Activation,
    a: ConvAlgorithm,
) -> Case {
    let p = ConvProblem::new(spec, &xs, cout).act(act).seed(21);
    let name = format!("{name} x{xs:?} w{:?} {act:?} {a:?}", p.weight_shape());
    Case {
        family,
        name,
        run: Box::new(move |gpu| {
            let d = p.data()?;
            let got = p.launch(gpu, &d, &a)?.run(gpu)?;
            let mut k = p.k() + 1;
            if a.transforms_weights() {
                // The transforms' worst-case growth of the summed terms (kernels::winograd).
                k *= winograd::WINOGRAD_ERROR_FACTOR;
            }
            Ok(Outcome {
                got,
                want: p.reference_on(&d)?,
                tolerance: Tolerance::accumulation(k),
            })
        }),
    }
}
