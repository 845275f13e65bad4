//! Softmax kernel against the f64 CPU reference.

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::kernels::softmax;
use wgconv::ops::SoftmaxKind;
use wgconv::reference;
use wgconv::shader_check::{Target, translate};
use wgconv::shaders::Shader;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};

/// Each output is exp(x - m) / s. The f32 sum of `len` positive terms errs by at most about
/// len * eps relative (any summation order); WGSL's exp is within a few ULP (3 + 2|x| ULP, so
/// under 1e-5 relative while exp(x - m) is not negligible); the division and the
/// subtraction of the max add an ULP each. Hence rtol = 1e-5 + len * eps; atol 1e-7 covers
/// values near the underflow, where exp's relative accuracy loses its meaning. Tighter than
/// `Tolerance::accumulation(len)`, whose absolute term would hide a dropped element of a
/// 1000-class row.
fn tolerance(len: usize) -> Tolerance {
    Tolerance {
        atol: 1e-7,
        rtol: 1e-5 + len as f64 * f32::EPSILON as f64,
    }
}

fn check(axis: usize, x: &Tensor) -> Tensor {
    let want = reference::softmax::softmax(axis, x).unwrap();
    let g = gpu();
    let bufs = upload_all(&[x]);
    let out = g.zeros(x.shape()).unwrap();
    let d = g
        .encode(softmax::softmax(
            g.target(),
            axis,
            x.shape(),
            bufs[0].binding(),
            out.binding(),
        ))
        .unwrap();
    let got = run(&d, &out);
    assert_close(
        &format!("softmax axis {axis} of {:?}", x.shape()),
        &got,
        &want,
        tolerance(x.shape()[axis]),
    );
    got
}

/// An ImageNet head: 1000 classes per row, batch 4 (256 invocations per row).
#[test]
fn thousand_classes() {
    let x = Tensor::random_range(vec![4, 1000], 1, -8.0, 8.0);
    let got = check(1, &x);
    for row in got.data().chunks(1000) {
        let s: f64 = row.iter().map(|&v| v as f64).sum();
        assert!((s - 1.0).abs() < 1e-4, "row sums to {s}");
    }
}

/// Stability: without subtracting the max, exp(1e4) overflows to inf and every output is NaN.
/// Rows near +1e4, near -1e4 (exp underflows to 0 without the shift), and rows spanning the
/// whole f32 range (x - m overflows to -inf, whose exp must be exactly 0).
#[test]
fn large_magnitude_inputs() {
    let hi = Tensor::random_range(vec![3, 1000], 2, 1.0e4 - 10.0, 1.0e4 + 10.0);
    check(1, &hi);
    let lo = Tensor::random_range(vec![2, 1000], 3, -1.0e4 - 10.0, -1.0e4 + 10.0);
    check(1, &lo);
    let wide = Tensor::new(
        vec![2, 5],
        vec![
            3.0e38, -3.0e38, 0.0, 3.0e38, 1.0e30, -1.0e30, 1.0e30, 2.0, -3.0e38, 1.0e30,
        ],
    )
    .unwrap();
    let got = check(1, &wide);
    // Two maxima share the mass in each row.
    assert_eq!(got.data()[0], 0.5);
    assert_eq!(got.data()[1], 0.0);
    assert!(got.data().iter().all(|v| v.is_finite()));
}

/// The max must cover every element of its row: each row's first element exceeds the rest by
/// over 100, so a max that missed it would leave exp(x - m) > exp(88) = inf. Row mode (axis 2)
/// and column mode (axis 1, inner 40).
#[test]
fn max_covers_every_element() {
    for (shape, axis) in [(vec![3, 4, 300], 2), (vec![2, 50, 40], 1)] {
        let mut x = Tensor::random(shape.clone(), 8);
        let inner: usize = shape[axis + 1..].iter().product();
        let len = shape[axis];
        for (r, row) in x.data_mut().chunks_mut(len * inner).enumerate() {
            row[..inner].fill(120.0 + r as f32);
        }
        check(axis, &x);
    }
}

/// Every axis of an NCHW tensor: inner extents 64 (channels: one invocation per row, coalesced
/// columns), 8, 1 (rows reduced by a workgroup segment) and the batch axis.
#[test]
fn every_axis_of_nchw() {
    let x = Tensor::random_range(vec![2, 10, 8, 8], 4, -4.0, 4.0);
    for axis in 0..4 {
        check(axis, &x);
    }
}

/// Rows longer than a workgroup in column mode and row mode, and a length-1 axis (all ones).
#[test]
fn long_and_trivial_rows() {
    check(1, &Tensor::random_range(vec![1, 700, 33], 5, -4.0, 4.0));
    check(2, &Tensor::random_range(vec![1, 3, 700], 6, -4.0, 4.0));
    let got = check(1, &Tensor::random(vec![3, 1, 5], 7));
    assert!(got.data().iter().all(|&v| v == 1.0));
}

fn check_kind(kind: SoftmaxKind, axis: usize, x: &Tensor) -> Tensor {
    let want = reference::softmax::softmax_kind(kind, axis, x).unwrap();
    let g = gpu();
    let bufs = upload_all(&[x]);
    let out = g.zeros(x.shape()).unwrap();
    let d = g
        .encode(softmax::softmax_kind(
            g.target(),
            kind,
            axis,
            x.shape(),
            bufs[0].binding(),
            out.binding(),
        ))
        .unwrap();
    let got = run(&d, &out);
    // log-softmax: (x - m) - log(s), each term within a few ULP of its magnitude; hardmax
    // is exact.
    let tol = match kind {
        SoftmaxKind::Hardmax => Tolerance {
            atol: 0.0,
            rtol: 0.0,
        },
        _ => Tolerance {
            atol: 1e-6 * (1.0 + (x.shape()[axis] as f64).ln()),
            rtol: 1e-5 + x.shape()[axis] as f64 * f32::EPSILON as f64,
        },
    };
    assert_close(
        &format!("{kind:?} axis {axis} of {:?}", x.shape()),
        &got,
        &want,
        tol,
    );
    got
}

/// Log-softmax and hardmax in row mode (short and long rows) and column mode; hardmax picks
/// the first of tied maxima (ties planted in different invocations' strides).
#[test]
fn log_softmax_and_hardmax() {
    for (shape, axis) in [
        (vec![3, 7], 1),
        (vec![2, 3, 700], 2),
        (vec![2, 50, 40], 1),
        (vec![4, 33], 0),
    ] {
        let x = Tensor::random_range(shape.clone(), 12, -6.0, 6.0);
        check_kind(SoftmaxKind::LogSoftmax, axis, &x);
        check_kind(SoftmaxKind::Hardmax, axis, &x);
    }
    let mut x = Tensor::random_range(vec![2, 600], 13, -1.0, 1.0);
    for k in [5, 77, 300] {
        x.data_mut()[600 + k] = 9.0;
    }
    x.data_mut()[3] = 9.0;
    x.data_mut()[599] = 9.0;
    let got = check_kind(SoftmaxKind::Hardmax, 1, &x);
    let ones: Vec<usize> = (0..1200).filter(|&i| got.data()[i] == 1.0).collect();
    assert_eq!(ones, vec![3, 605]);
    // Log-softmax of rows near +-1e4 stays finite (the max is subtracted first).
    let hi = Tensor::random_range(vec![3, 300], 14, 1.0e4 - 10.0, 1.0e4 + 10.0);
    let got = check_kind(SoftmaxKind::LogSoftmax, 1, &hi);
    assert!(got.data().iter().all(|v| v.is_finite()));
}

/// The shared naga test checks default overrides only; check every variant the host selects.
#[test]
fn every_variant_translates_to_every_target() {
    for target in Target::ALL {
        for threads in [32.0, 64.0, 128.0, 256.0] {
            translate(Shader::Softmax, &[("ROW_THREADS", threads)], target).unwrap();
        }
        for mode in SoftmaxKind::ALL {
            let m = mode.code() as f64;
            translate(Shader::Softmax, &[("COLUMNS", 1.0), ("MODE", m)], target).unwrap();
            translate(Shader::Softmax, &[("MODE", m)], target).unwrap();
        }
    }
}

#[test]
fn bad_shapes_are_errors() {
    let g = gpu();
    let b = g.zeros(&[16]).unwrap();
    assert!(
        g.encode(softmax::softmax(
            g.target(),
            2,
            &[4, 4],
            b.binding(),
            b.binding()
        ))
        .is_err()
    );
    // Binding smaller than the tensor.
    assert!(
        g.encode(softmax::softmax(
            g.target(),
            1,
            &[4, 8],
            b.binding(),
            b.binding()
        ))
        .is_err()
    );
    assert!(reference::softmax::softmax(2, &Tensor::zeros(vec![4, 4])).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_softmax((shape, axis) in (1usize..=4)
                          .prop_flat_map(|r| (prop::collection::vec(1usize..10, r), 0..r)),
                      long_axis in prop::option::of(10usize..400), seed in 0u64..1000) {
        let mut shape = shape;
        if let Some(n) = long_axis {
            shape[axis] = n;
        }
        let x = Tensor::random_range(shape, seed, -6.0, 6.0);
        check(axis, &x);
        check_kind(SoftmaxKind::LogSoftmax, axis, &x);
        check_kind(SoftmaxKind::Hardmax, axis, &x);
    }
}
