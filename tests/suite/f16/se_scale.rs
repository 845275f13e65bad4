//! SE's channel scale applied by the pointwise GEMM (`Epilogue::input_scale`) in f16.
//!
//! In F16 the GEMM rounds each scaled value `x * s` to f16 (its Acc) as it stages it, as the
//! unfused graph's Mul rounded its f16 output, so the reference takes the f16-rounded products.
//! In F16AccF32 the product stays f32 (exact for two f16 values) where the Mul would have
//! rounded it to f16, so the reference takes the exact products: the fused path is at least as
//! accurate, and the direct convolution's bound holds in both.

use super::*;
use crate::se_scale::{ScaledData, ScaledProblem, scale};

fn each(d: &ScaledData, f: impl Fn(&Tensor) -> Tensor) -> ScaledData {
    ScaledData {
        x: f(&d.x),
        s: f(&d.s),
        w: f(&d.w),
        bias: f(&d.bias),
        res: f(&d.res),
    }
}

#[test]
fn se_scale_in_f16() {
    let aligned = ScaledProblem {
        n: 2,
        c: 32,
        o: 64,
        groups: 1,
        hw: [8, 8],
        bias: true,
        residual: true,
        act: Activation::Silu,
        seed: 41,
        algorithm: ConvAlgorithm::Gemm(GemmTiling::new(16, 16)),
    };
    let odd = ScaledProblem {
        c: 45,
        o: 19,
        hw: [5, 7],
        residual: false,
        algorithm: ConvAlgorithm::Gemm(GemmTiling::new(4, 4)),
        ..aligned.clone()
    };
    let split = ScaledProblem {
        algorithm: ConvAlgorithm::GemmSplitK {
            tiling: GemmTiling::new(4, 4),
            splits: 3,
        },
        ..odd.clone()
    };
    for p in HALF {
        let g = hgpu(p);
        let round = |v: f32| {
            if p == Precision::F16 {
                Precision::F16.round(v)
            } else {
                v
            }
        };
        for pr in [&aligned, &odd, &split] {
            let d = each(&pr.data(), r16);
            let (got, _) = pr.run_on(&g, &d);
            let want = pr.reference(&d, &scale(&d.x, &d.s, round));
            let plain = ScaledProblem {
                act: Activation::Identity,
                ..pr.clone()
            };
            let a = each(&d, abs);
            let sums = plain.reference(&a, &scale(&a.x, &a.s, round));
            let tol = F16Tolerance::new(pr.c, p).slope(SLOPE);
            check(&format!("{p} {pr:?}"), &got, &want, &sums, tol);
        }
    }
}
