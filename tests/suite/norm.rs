//! Normalisations against the f64 CPU reference: every kind over random shapes, axes, groups,
//! epsilons and LRN windows; constant rows (variance 0), huge values, long rows, refusals.

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::kernels::norm::{self, NormBindings};
use wgconv::ops::{NormKind, NormOutput, NormSpec};
use wgconv::reference;
use wgconv::shader_check::{Target, translate};
use wgconv::shaders::Shader;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};

/// The statistics sum `len` terms (a tree of f32 partials); the output is then about
/// `len * eps` off relative to the row's spread. `k` is how far the inputs sit from their
/// mean in units of the standard deviation at most (about 2 for centred uniform inputs).
pub fn tolerance(len: usize, k: f64) -> Tolerance {
    let eps = f32::EPSILON as f64;
    Tolerance {
        atol: (2.0 * len as f64 * eps * k).max(1e-5),
        rtol: 1e-5 + 2.0 * len as f64 * eps,
    }
}

/// The scale and bias a kind's kernel binds (random, or none for Lp and LRN).
pub fn params(spec: &NormSpec, shape: &[usize], seed: u64) -> Option<(Tensor, Tensor)> {
    spec.kind.has_affine().then(|| {
        let n = spec.param_len(shape);
        (
            Tensor::random_range(vec![n], seed + 1, 0.5, 1.5),
            Tensor::random_range(vec![n], seed + 2, -1.0, 1.0),
        )
    })
}

/// Runs `spec` on `x` and compares with the reference under `tolerance(len, k)`.
fn check_k(spec: &NormSpec, x: &Tensor, p: Option<&(Tensor, Tensor)>, k: f64) -> Tensor {
    let want = reference::norm::norm(spec, x, p.map(|p| &p.0), p.map(|p| &p.1)).unwrap();
    let g = gpu();
    let bufs = match p {
        Some((s, b)) => upload_all(&[x, s, b]),
        None => upload_all(&[x]),
    };
    let out = g.zeros(x.shape()).unwrap();
    let d = g
        .encode(norm::norm(
            g.target(),
            spec,
            x.shape(),
            NormBindings {
                input: bufs[0].binding(),
                affine: p.map(|_| (bufs[1].binding(), bufs[2].binding())),
                output: out.binding(),
            },
        ))
        .unwrap();
    let got = run(&d, &out);
    assert_close(
        &format!("{spec:?} of {:?}", x.shape()),
        &got,
        &want,
        tolerance(spec.accumulation(x.shape()), k),
    );
    got
}

fn check(spec: &NormSpec, x: &Tensor) -> Tensor {
    let p = params(spec, x.shape(), 7);
    check_k(spec, x, p.as_ref(), 3.0)
}

/// One spec per kind for an `[N, C, ...]` input with C divisible by 2.
fn specs(rank: usize) -> Vec<NormSpec> {
    vec![
        NormSpec::layer(rank - 1, 1e-5),
        NormSpec::layer(1, 1e-3),
        NormSpec::instance(1e-5),
        NormSpec::group(2, 1e-5),
        NormSpec::lp(1, 2),
        NormSpec::lp(rank - 1, 1),
        NormSpec::lrn(3, 1e-2, 0.75, 1.0),
        NormSpec::lrn(4, 0.5, 0.6, 2.0),
    ]
}

/// Every kind on short rows (one invocation per row), long rows (workgroup trees) and 1-sized
/// dims.
#[test]
fn every_kind_pinned_shapes() {
    for shape in [
        vec![2, 4, 3, 5],
        vec![2, 6, 40, 31],
        vec![1, 2, 1, 1],
        vec![3, 4, 1000],
        vec![2, 8],
    ] {
        for s in specs(shape.len()) {
            check(&s, &Tensor::random_range(shape.clone(), 3, -4.0, 4.0));
        }
    }
}

/// A constant row has variance 0: the output is the bias (through epsilon), not NaN.
#[test]
fn constant_rows_give_the_bias() {
    for spec in [
        NormSpec::layer(1, 1e-5),
        NormSpec::instance(1e-5),
        NormSpec::group(1, 1e-5),
    ] {
        for len in [7, 500] {
            let x = Tensor::new(vec![2, 2, len], vec![0.1; 4 * len]).unwrap();
            let p = params(&spec, x.shape(), 1);
            let got = check_k(&spec, &x, p.as_ref(), 3.0);
            assert!(got.data().iter().all(|v| v.is_finite()), "{spec:?}");
        }
    }
}

/// Huge magnitudes (squares near 1e30) stay finite; a large offset with a small spread keeps
/// its variance (two passes, not E[x^2] - E[x]^2).
#[test]
fn huge_values_and_offsets() {
    let big = Tensor::random_range(vec![3, 300], 4, -1.0e15, 1.0e15);
    for spec in [
        NormSpec::layer(1, 1e-5),
        NormSpec::lp(1, 2),
        NormSpec::lp(1, 1),
    ] {
        check(&spec, &big);
    }
    let offset = Tensor::random_range(vec![3, 300], 5, 1.0e4 - 1.0, 1.0e4 + 1.0);
    let spec = NormSpec::layer(1, 1e-5);
    let p = params(&spec, offset.shape(), 2);
    // The inputs sit ~1.7e4 standard deviations from 0, which the f32 mean's rounding sees.
    check_k(&spec, &offset, p.as_ref(), 2.0e4);
}

/// Layer norm's statistics outputs: one mean / inverse standard deviation per row, on short
/// rows (one invocation each) and long ones (trees).
#[test]
fn layer_norm_statistics() {
    let g = gpu();
    for (shape, axis) in [(vec![3, 4, 5], 2), (vec![2, 3, 400], 1), (vec![6, 1], 0)] {
        let x = Tensor::random_range(shape.clone(), 9, -4.0, 4.0);
        for stat in [NormOutput::Mean, NormOutput::InvStdDev] {
            let spec = NormSpec::layer(axis, 1e-5).with_output(stat);
            let want = reference::norm::norm(&spec, &x, None, None).unwrap();
            let n = spec.param_len(&shape);
            let ones = Tensor::new(vec![n], vec![1.0; n]).unwrap();
            let bufs = upload_all(&[&x, &ones]);
            let out = g.zeros(want.shape()).unwrap();
            let b = NormBindings {
                input: bufs[0].binding(),
                affine: Some((bufs[1].binding(), bufs[1].binding())),
                output: out.binding(),
            };
            let d = g.encode(norm::norm(g.target(), &spec, &shape, b)).unwrap();
            let got = run(&d, &out);
            assert_close(&format!("{spec:?}"), &got, &want, tolerance(n, 3.0));
        }
    }
}

/// Lp of a zero row stays zero (ONNX's node tests), not 0 / 0.
#[test]
fn lp_of_a_zero_row_is_zero() {
    let x = Tensor::new(vec![2, 3], vec![0.0, 0.0, 0.0, 1.0, 2.0, 2.0]).unwrap();
    for p in [1, 2] {
        let got = check(&NormSpec::lp(1, p), &x);
        assert_eq!(&got.data()[..3], &[0.0; 3]);
    }
}

/// The shared naga test checks default overrides only; check every variant the host selects.
#[test]
fn every_variant_translates_to_every_target() {
    for target in Target::ALL {
        for kind in NormKind::ALL {
            for threads in [1.0, 32.0, 64.0, 128.0, 256.0] {
                let c = [("NORM_KIND", kind.code() as f64), ("ROW_THREADS", threads)];
                translate(Shader::Norm, &c, target).unwrap();
            }
        }
    }
}

#[test]
fn bad_specs_and_bindings_are_errors() {
    let g = gpu();
    let b = g.zeros(&[64]).unwrap();
    let t = g.target();
    let x = Tensor::zeros(vec![2, 6, 4]);
    for s in [
        NormSpec::layer(3, 1e-5),
        NormSpec::group(4, 1e-5),
        NormSpec::group(0, 1e-5),
        NormSpec::lp(1, 3),
        NormSpec::lrn(0, 1e-4, 0.75, 1.0),
        NormSpec::layer(1, f32::NAN),
    ] {
        let bind = NormBindings {
            input: b.binding(),
            affine: Some((b.binding(), b.binding())),
            output: b.binding(),
        };
        assert!(norm::norm(t, &s, x.shape(), bind).is_err(), "{s:?}");
        assert!(reference::norm::norm(&s, &x, None, None).is_err(), "{s:?}");
    }
    // A binding smaller than the tensor; an affine kind without its parameters.
    let bind = |affine| NormBindings {
        input: b.binding(),
        affine,
        output: b.binding(),
    };
    let s = NormSpec::layer(1, 1e-5);
    assert!(norm::norm(t, &s, &[4, 32], bind(Some((b.binding(), b.binding())))).is_err());
    assert!(norm::norm(t, &s, &[2, 4], bind(None)).is_err());
    // A scale of the wrong length.
    let short = Tensor::zeros(vec![3]);
    assert!(reference::norm::norm(&s, &x, Some(&short), None).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random rank 2..=5, odd and unit sizes, sometimes one long dim, every kind with a random
    /// axis / group count / window / epsilon.
    #[test]
    fn random_norms(
        shape in (2usize..=5).prop_flat_map(|r| {
            prop::collection::vec(prop_oneof![Just(1usize), 1usize..8], r)
        }),
        long in prop::option::of((0usize..5, 9usize..400)),
        kind in prop::sample::select(NormKind::ALL.to_vec()),
        pick in 0usize..100,
        eps in prop_oneof![Just(0.0f32), 1e-6f32..1e-1],
        lrn in (1usize..8, 1e-4f32..1.0, 0.1f32..1.5, 0.5f32..3.0),
        seed in 0u64..1000,
    ) {
        let mut shape = shape;
        if let Some((d, n)) = long {
            let d = d % shape.len();
            shape[d] = n;
        }
        let r = shape.len();
        let c = shape[1];
        let spec = match kind {
            NormKind::Layer => NormSpec::layer(pick % r, eps.max(1e-6)),
            NormKind::Instance => NormSpec::instance(eps.max(1e-6)),
            NormKind::Group => {
                let divisors: Vec<usize> = (1..=c).filter(|g| c % g == 0).collect();
                NormSpec::group(divisors[pick % divisors.len()], eps.max(1e-6))
            }
            NormKind::Lp => NormSpec::lp(pick % r, 1 + (pick % 2) as u32),
            NormKind::Lrn => NormSpec::lrn(lrn.0, lrn.1, lrn.2, lrn.3),
        };
        let x = Tensor::random_range(shape, seed, -4.0, 4.0);
        // A row of one element (or of equal ones) has variance 0: its output is bias +
        // (x - mean) / sqrt(eps), where the f32 mean's rounding is magnified by 1/sqrt(eps).
        let k = 3.0 / (eps.max(1e-6) as f64).sqrt();
        let p = params(&spec, x.shape(), seed);
        check_k(&spec, &x, p.as_ref(), k);
    }
}
