//! Normalisations in f16 storage: statistics and affine in f32 in every precision, so the
//! bound is an f32 accumulation over the f16-rounded row plus the f16 rounding of the output.

use super::*;
use wgconv::kernels::norm::{self, NormBindings};
use wgconv::ops::{NormKind, NormSpec};

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Every kind over random `[N, C, ...]` shapes (C even, so two groups fit), in both f16
    /// precisions, with f16-rounded scale and bias.
    #[test]
    fn norm_matches_reference(
        shape in (2usize..=4).prop_flat_map(|r| prop::collection::vec(1usize..12, r)),
        long in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let mut shape = shape;
        shape[1] *= 2;
        if long {
            let r = shape.len();
            shape[r - 1] = 300;
        }
        let r = shape.len();
        let x = r16(&Tensor::random_range(shape.clone(), seed, -4.0, 4.0));
        for spec in [
            NormSpec::layer(r - 1, 1e-5),
            NormSpec::layer(1, 1e-5),
            NormSpec::instance(1e-5),
            NormSpec::group(2, 1e-5),
            NormSpec::lp(1, 2),
            NormSpec::lp(r - 1, 1),
            NormSpec::lrn(3, 1e-2, 0.75, 1.0),
        ] {
            let n = spec.param_len(&shape);
            let scale = r16(&Tensor::random_range(vec![n.max(1)], seed + 1, 0.5, 1.5));
            let bias = r16(&Tensor::random_range(vec![n.max(1)], seed + 2, -1.0, 1.0));
            let affine = spec.kind.has_affine();
            let want = if affine {
                reference::norm::norm(&spec, &x, Some(&scale), Some(&bias)).unwrap()
            } else {
                reference::norm::norm(&spec, &x, None, None).unwrap()
            };
            // A row's spread: outputs are at most ~3 standard deviations plus the bias; the
            // statistics' f32 error scales with that, not with |y| (which may be ~0).
            let sums = map(&want, |v| v.abs() + 4.0);
            let tol = F16Tolerance::new(spec.accumulation(&shape), Precision::F16AccF32);
            for p in HALF {
                let g = hgpu(p);
                let b = up(&g, &[&x, &scale, &bias]);
                let out = g.zeros(&shape).unwrap();
                let d = g.encode(norm::norm(g.target(), &spec, &shape, NormBindings {
                    input: b[0].binding(),
                    affine: affine.then(|| (b[1].binding(), b[2].binding())),
                    output: out.binding(),
                }));
                let got = run(&g, d, &out);
                check(&format!("{p} {spec:?} of {shape:?}"), &got, &want, &sums, tol);
            }
        }
    }
}

/// A constant row in f16 gives the bias, not NaN (variance 0 through epsilon).
#[test]
fn constant_rows_give_the_bias() {
    let x = Tensor::new(vec![2, 4, 33], vec![0.5; 264]).unwrap();
    let spec = NormSpec::group(2, 1e-5);
    assert_eq!(spec.kind, NormKind::Group);
    let scale = Tensor::new(vec![4], vec![2.0; 4]).unwrap();
    let bias = Tensor::new(vec![4], vec![0.25, -1.0, 3.0, 0.0]).unwrap();
    for p in HALF {
        let g = hgpu(p);
        let b = up(&g, &[&x, &scale, &bias]);
        let out = g.zeros(x.shape()).unwrap();
        let d = g.encode(norm::norm(
            g.target(),
            &spec,
            x.shape(),
            NormBindings {
                input: b[0].binding(),
                affine: Some((b[1].binding(), b[2].binding())),
                output: out.binding(),
            },
        ));
        let got = run(&g, d, &out);
        for (i, v) in got.data().iter().enumerate() {
            assert_eq!(*v, bias.data()[(i / 33) % 4], "{p} element {i}");
        }
    }
}
