//! Reductions over axes in f16 storage: f32 partials in every precision, so the bound is an
//! f32 accumulation of the f16-rounded elements plus the f16 rounding of the output. Also
//! log-softmax and hardmax (softmax itself is in `kernels.rs`). ArgMax / ArgMin are exact
//! (the same comparisons of the same f16 values; indices up to 2048 are f16 values, longer
//! sets are refused).

use super::*;
use wgconv::kernels::reduce;
use wgconv::ops::{ReduceKind, ReduceSpec, SoftmaxKind};

/// The sum of absolute terms bounding the accumulation error of `kind` (see
/// `compare::F16Tolerance`): Sum/Mean from the reference on |x|, products and sums of positive
/// terms from the result itself; a log's absolute error is the sum's relative one, so 1 is
/// added.
fn bound_sums(spec: &ReduceSpec, x: &Tensor, want: &Tensor) -> Tensor {
    match spec.kind {
        ReduceKind::Sum | ReduceKind::Mean => reference::reduce::reduce(spec, &abs(x)).unwrap(),
        ReduceKind::LogSum | ReduceKind::LogSumExp => map(want, |v| v.abs() + 1.0),
        _ => abs(want),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Every kind over random shapes and axis sets, in both f16 precisions.
    #[test]
    fn reduce_matches_reference(
        (shape, mask) in (1usize..=4).prop_flat_map(|r| (
            prop::collection::vec(1usize..12, r),
            prop::collection::vec(any::<bool>(), r),
        )),
        keepdims in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let axes: Vec<usize> = (0..shape.len()).filter(|&d| mask[d]).collect();
        for kind in ReduceKind::ALL {
            let (lo, hi) = match kind {
                ReduceKind::LogSum => (0.05, 2.0),
                ReduceKind::Prod => (0.9, 1.1),
                _ => (-4.0, 4.0),
            };
            let x = r16(&Tensor::random_range(shape.clone(), seed, lo, hi));
            let spec = ReduceSpec { kind, axes: axes.clone(), keepdims };
            let want = reference::reduce::reduce(&spec, &x).unwrap();
            let len = spec.reduced_len(x.shape());
            let tol = match kind {
                // Indices up to 2048 are exact f16 values; longer sets are refused below.
                k if k.is_arg() => F16Tolerance::exact(),
                ReduceKind::Max | ReduceKind::Min => F16Tolerance::exact(),
                _ => F16Tolerance::new(len, Precision::F16AccF32),
            };
            let sums = bound_sums(&spec, &x, &want);
            for p in HALF {
                let g = hgpu(p);
                let bx = g.upload(&x).unwrap();
                let out = g.zeros(want.shape()).unwrap();
                let launch = reduce::reduce(g.target(), &spec, x.shape(), bx.binding(), out.binding());
                if kind.is_arg() && len - 1 > reduce::F16_MAX_INDEX {
                    prop_assert!(launch.is_err(), "{p} {spec:?}: index {} in f16", len - 1);
                    continue;
                }
                let d = g.encode(launch);
                let got = run(&g, d, &out);
                check(&format!("{p} {spec:?} of {:?}", x.shape()), &got, &want, &sums, tol);
            }
        }
    }
}

/// Log-softmax (f32 inside: the bound of a row-length f32 sum, scaled by the value plus 1 as
/// for a log) and hardmax (exact: the same comparisons on the same f16 values), row and
/// column modes.
#[test]
fn log_softmax_and_hardmax_match_reference() {
    let x = r16(&Tensor::random_range(vec![2, 40, 3, 70], 9, -6.0, 6.0));
    for p in HALF {
        let g = hgpu(p);
        let bx = g.upload(&x).unwrap();
        for kind in [SoftmaxKind::LogSoftmax, SoftmaxKind::Hardmax] {
            for axis in [1, 3] {
                let want = reference::softmax::softmax_kind(kind, axis, &x).unwrap();
                let out = g.zeros(x.shape()).unwrap();
                let d = g.encode(softmax::softmax_kind(
                    g.target(),
                    kind,
                    axis,
                    x.shape(),
                    bx.binding(),
                    out.binding(),
                ));
                let got = run(&g, d, &out);
                let (tol, sums) = match kind {
                    SoftmaxKind::Hardmax => (F16Tolerance::exact(), want.clone()),
                    _ => (
                        F16Tolerance::new(x.shape()[axis], Precision::F16AccF32),
                        map(&want, |v| v.abs() + 1.0),
                    ),
                };
                check(
                    &format!("{p} {kind:?} axis {axis}"),
                    &got,
                    &want,
                    &sums,
                    tol,
                );
            }
        }
    }
}
