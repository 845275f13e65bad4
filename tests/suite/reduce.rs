//! Reductions over axes against the f64 CPU reference: every kind over random shapes, axis
//! sets and keepdims; empty sets, stability of LogSumExp, NaN, refused axes.

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::kernels::reduce;
use wgconv::ops::{ReduceKind, ReduceSpec};
use wgconv::reference;
use wgconv::shader_check::{Target, translate};
use wgconv::shaders::Shader;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};

/// A sum of `len` terms of magnitude <= 1 errs by about len * eps absolutely (see
/// `Tolerance::accumulation`); sums of positive terms (L1, squares, products, log-sums) by
/// len * eps relatively, doubled for the final sqrt / log / division and the f32 output.
fn tolerance(len: usize) -> Tolerance {
    let eps = f32::EPSILON as f64;
    Tolerance {
        atol: (0.5 * len as f64 * eps).max(1e-6),
        rtol: 1e-5 + 2.0 * len as f64 * eps,
    }
}

/// Inputs in a range where the kind's result stays finite and meaningful: positive for
/// LogSum, near 1 for Prod (a product of 1000 terms stays within f32).
fn input(kind: ReduceKind, shape: Vec<usize>, seed: u64) -> Tensor {
    match kind {
        ReduceKind::LogSum => Tensor::random_range(shape, seed, 0.05, 2.0),
        ReduceKind::Prod => Tensor::random_range(shape, seed, 0.9, 1.1),
        _ => Tensor::random_range(shape, seed, -4.0, 4.0),
    }
}

/// Runs `spec` on `x` (bound as `shape`, which may describe more or fewer elements than `x`
/// holds when a dim is 0) and compares with the reference.
fn check(spec: &ReduceSpec, x: &Tensor) -> Tensor {
    let want = reference::reduce::reduce(spec, x).unwrap();
    let g = gpu();
    let bufs = upload_all(&[x]);
    let out = g.zeros(want.shape()).unwrap();
    let d = g
        .encode(reduce::reduce(
            g.target(),
            spec,
            x.shape(),
            bufs[0].binding(),
            out.binding(),
        ))
        .unwrap();
    let got = run(&d, &out);
    assert_close(
        &format!("{spec:?} of {:?}", x.shape()),
        &got,
        &want,
        tolerance(spec.reduced_len(x.shape())),
    );
    got
}

fn spec(kind: ReduceKind, axes: &[usize], keepdims: bool) -> ReduceSpec {
    ReduceSpec {
        kind,
        axes: axes.to_vec(),
        keepdims,
    }
}

/// Every kind over all axes, none, the inner axes, the outer ones and a non-contiguous pair,
/// with a long reduction (workgroup trees) and a short one (one invocation per output).
#[test]
fn every_kind_pinned_axes() {
    for kind in ReduceKind::ALL {
        let x = input(kind, vec![3, 5, 7, 2], kind.code() as u64);
        for axes in [&[][..], &[0, 1, 2, 3], &[2, 3], &[0, 1], &[0, 2], &[1, 3]] {
            for keepdims in [false, true] {
                check(&spec(kind, axes, keepdims), &x);
            }
        }
        check(&spec(kind, &[1], false), &input(kind, vec![2, 1000, 3], 9));
        check(
            &spec(kind, &[0, 2], true),
            &input(kind, vec![33, 4, 31], 10),
        );
    }
}

/// ONNX's empty-set values: an axis of size 0 reduced (the input binds no element). The arg
/// kinds have no index of nothing: refused.
#[test]
fn empty_reductions_follow_onnx() {
    let g = gpu();
    let dummy = g.zeros(&[1]).unwrap();
    for kind in ReduceKind::ALL {
        let s = spec(kind, &[1], true);
        let out = g.zeros(&[2, 1, 3]).unwrap();
        if kind.is_arg() {
            let r = reduce::reduce(g.target(), &s, &[2, 0, 3], dummy.binding(), out.binding());
            assert!(r.is_err(), "{kind:?}");
            assert!(reference::reduce::reduce(&s, &Tensor::zeros(vec![2, 0, 3])).is_err());
            continue;
        }
        let d = g
            .encode(reduce::reduce(
                g.target(),
                &s,
                &[2, 0, 3],
                dummy.binding(),
                out.binding(),
            ))
            .unwrap();
        let got = run(&d, &out);
        let want = reference::reduce::reduce(&s, &Tensor::zeros(vec![2, 0, 3])).unwrap();
        assert_close(&format!("{kind:?} empty"), &got, &want, tolerance(1));
        let e = kind.empty_value();
        assert!(
            got.data()
                .iter()
                .all(|&v| v == e || v.is_nan() && e.is_nan())
        );
    }
}

/// LogSumExp subtracts the max: inputs near 1e4 would overflow exp, near -1e4 underflow it;
/// infinities and NaN come through as the max.
#[test]
fn log_sum_exp_is_stable() {
    let s = spec(ReduceKind::LogSumExp, &[1], false);
    check(
        &s,
        &Tensor::random_range(vec![3, 500], 1, 1.0e4 - 5.0, 1.0e4 + 5.0),
    );
    check(
        &s,
        &Tensor::random_range(vec![3, 20], 2, -1.0e4 - 5.0, -1.0e4 + 5.0),
    );
    let inf = f32::INFINITY;
    let x = Tensor::new(
        vec![4, 3],
        vec![
            1.0,
            inf,
            2.0,
            -inf,
            -inf,
            -inf,
            1.0,
            f32::NAN,
            0.0,
            -inf,
            0.0,
            0.0,
        ],
    )
    .unwrap();
    let got = check(&s, &x);
    assert_eq!(got.data()[0], inf);
    assert_eq!(got.data()[1], -inf);
    assert!(got.data()[2].is_nan());
    assert!((got.data()[3] - 2f32.ln()).abs() < 1e-6);
}

/// Max and min propagate NaN wherever it sits in the tree.
#[test]
fn max_and_min_propagate_nan() {
    for kind in [ReduceKind::Max, ReduceKind::Min] {
        for len in [5, 300] {
            let mut x = Tensor::random(vec![2, len], 3);
            x.data_mut()[len + len / 2] = f32::NAN;
            let got = check(&spec(kind, &[1], false), &x);
            assert!(!got.data()[0].is_nan() && got.data()[1].is_nan());
        }
    }
}

/// The shared naga test checks default overrides only; check every variant the host selects.
#[test]
fn every_variant_translates_to_every_target() {
    for target in Target::ALL {
        for kind in ReduceKind::ALL {
            for threads in [1.0, 32.0, 64.0, 128.0, 256.0] {
                let c = [
                    ("REDUCE_KIND", kind.code() as f64),
                    ("ROW_THREADS", threads),
                ];
                translate(Shader::Reduce, &c, target).unwrap();
            }
        }
    }
}

#[test]
fn bad_axes_and_bindings_are_errors() {
    let g = gpu();
    let b = g.zeros(&[16]).unwrap();
    let t = g.target();
    for axes in [&[2][..], &[1, 0], &[1, 1]] {
        let s = spec(ReduceKind::Sum, axes, false);
        assert!(reduce::reduce(t, &s, &[4, 4], b.binding(), b.binding()).is_err());
        assert!(reference::reduce::reduce(&s, &Tensor::zeros(vec![4, 4])).is_err());
    }
    // Binding smaller than the tensor.
    let s = spec(ReduceKind::Sum, &[1], false);
    assert!(reduce::reduce(t, &s, &[4, 8], b.binding(), b.binding()).is_err());
    // More alternations of kept and reduced dims than the shader walks.
    let s = spec(
        ReduceKind::Sum,
        &(0..18).step_by(2).collect::<Vec<_>>(),
        false,
    );
    let shape = [2; 18];
    let big = g.zeros(&shape).unwrap();
    assert!(reduce::reduce(t, &s, &shape, big.binding(), big.binding()).is_err());
}

/// A scalar (rank 0) and a tensor whose every dim is 1.
#[test]
fn scalars_and_unit_dims() {
    for kind in ReduceKind::ALL {
        let x = input(kind, vec![], 4);
        check(&spec(kind, &[], true), &x);
        let x = input(kind, vec![1, 1, 1], 5);
        check(&spec(kind, &[0, 2], false), &x);
        check(&spec(kind, &[0, 1, 2], false), &x);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random rank 1..=5, odd and unit sizes, any axis subset (none and all included),
    /// sometimes one long dim, every kind.
    #[test]
    fn random_reductions(
        (shape, mask) in (1usize..=5).prop_flat_map(|r| (
            prop::collection::vec(prop_oneof![Just(1usize), 1usize..8], r),
            prop::collection::vec(any::<bool>(), r),
        )),
        long in prop::option::of((0usize..5, 9usize..300)),
        kind in prop::sample::select(ReduceKind::ALL.to_vec()),
        keepdims in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let mut shape = shape;
        if let Some((d, n)) = long {
            let d = d % shape.len();
            shape[d] = n;
        }
        let axes: Vec<usize> = (0..shape.len()).filter(|&d| mask[d]).collect();
        check(&spec(kind, &axes, keepdims), &input(kind, shape, seed));
    }
}
