//! Fused Winograd F(2x2, 3x3) convolution (`shaders/winograd_fused.wgsl`: transforms and
//! products in workgroup memory, one dispatch) against the CPU reference, under the three-pass
//! kernel's bound (same arithmetic, no more roundings).

use proptest::prelude::*;
use wgconv::compare::{Tolerance, compare};
use wgconv::error::Error;
use wgconv::kernels::algorithm::{self, ConvAlgorithm};
use wgconv::kernels::conv::ConvTiling;
use wgconv::kernels::matmul::GemmTiling;
use wgconv::kernels::winograd_fused::workgroup_bytes;
use wgconv::kernels::{ConvBindings, Target, winograd_fused};
use wgconv::ops::{Activation, ConvSpec, Epilogue};
use wgconv::precision::Precision;
use wgconv::problem::ConvProblem;

use crate::conv::ConvCheck;
use crate::coop::Bytes;
use crate::splitk::{check_algorithm, run_algorithm};
use crate::winograd::{winograd_problems, winograd_tolerance};

const FUSED: ConvAlgorithm = ConvAlgorithm::WinogradFused;

/// 3x3 stride-1 problems: maps 1-19 (odd and even: partial edge tiles), padding 0-3 on each
/// side independently, C and O 1-40 (mostly not multiples of the 8-channel chunk or of the
/// 16-channel block), batch 1-3 (tile blocks spanning images), any epilogue.
fn fused_problem() -> impl Strategy<Value = ConvProblem> {
    let channels = (1usize..=40).boxed();
    winograd_problems(channels, 3, 19, Activation::well_conditioned().len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]
    #[test]
    fn random_fused_winograd(p in fused_problem()) {
        check_algorithm(&p, &FUSED, &p.want(), winograd_tolerance(&p));
    }
}

/// A 1x1 image padded by 1 (one tile, one output, 8 of its patch's 9 taps padding), and a
/// 3x3 unpadded image (one output); 1 and 9 channels (one chunk, a partial second chunk).
#[test]
fn single_output_maps() {
    for (shape, pad) in [
        ([1usize, 1, 1, 1], 1usize),
        ([2, 9, 1, 1], 1),
        ([1, 9, 3, 3], 0),
    ] {
        let p = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(pad), &shape, 3)
            .residual(true)
            .act(Activation::Relu);
        assert_eq!(p.output_shape().unwrap()[2..], [1, 1]);
        check_algorithm(&p, &FUSED, &p.want(), winograd_tolerance(&p));
    }
}

/// A 2x2 image with no padding has no output (2 - 3 + 1 < 1): the shape rules refuse it with a
/// typed error before any kernel runs, the fused one included.
#[test]
fn map_smaller_than_the_kernel_is_refused() {
    let p = ConvProblem::new(ConvSpec::conv2d(3, 3), &[1, 4, 2, 2], 4);
    let shape_err = p.output_shape();
    assert!(shape_err.is_err(), "{shape_err:?}");
    let g = crate::common::gpu();
    let got = p.data().and_then(|d| p.launch(g, &d, &FUSED));
    assert!(
        matches!(got, Err(Error::InvalidOp { .. })),
        "{:?}",
        got.err()
    );
}

/// Several workgroups along both output channels (48: three blocks of 16) and tiles (2 images
/// x 10 x 10 tiles: 13 blocks of 16, the last one partial and spanning no image): the fused
/// kernel, the three-pass one and the implicit GEMM each match the reference under their own
/// bound, and the two Winograd kernels agree within the sum of their bounds.
#[test]
fn several_workgroups_match_three_pass_and_implicit() {
    let p = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[2, 64, 20, 20], 48)
        .residual(true)
        .act(Activation::Silu);
    let want = p.want();
    let tol = winograd_tolerance(&p);
    let fused = run_algorithm(&p, &FUSED);
    let three = run_algorithm(
        &p,
        &ConvAlgorithm::Winograd {
            tile: 2,
            gemm: GemmTiling::for_problem(48, 200),
        },
    );
    let implicit = run_algorithm(&p, &ConvAlgorithm::Implicit(ConvTiling::default()));
    for (what, got, tol) in [
        ("fused", &fused, tol),
        ("three-pass", &three, tol),
        ("implicit", &implicit, p.tolerance()),
    ] {
        let c = compare(got.data(), want.data(), tol);
        assert!(c.passed(), "{what}: {c} ({tol:?})");
    }
    let both = Tolerance {
        atol: 2.0 * tol.atol,
        rtol: 2.0 * tol.rtol,
    };
    let c = compare(fused.data(), three.data(), both);
    assert!(c.passed(), "fused vs three-pass: {c}");
}

/// The bound is not vacuous for the fused kernel either: with one transform point's weights
/// zeroed (a slip in the point-to-memory mapping drops or swaps such a slice) the result
/// leaves it.
#[test]
fn tolerance_catches_a_dropped_transform_point() {
    let p = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[1, 64, 8, 8], 16);
    let d = p.data().unwrap();
    let g = crate::common::gpu();
    let want = p.want();
    let tol = winograd_tolerance(&p);
    let got = p.launch(g, &d, &FUSED).unwrap().run(g).unwrap();
    assert!(compare(got.data(), want.data(), tol).passed());
    // Point 5 (an interior one, fed by every tap of the 3x3 filter) zeroed in U.
    let mut u = wgconv::kernels::winograd::transform_weights(&d.w);
    let plane = 16 * 64;
    u.data_mut()[5 * plane..6 * plane].fill(0.0);
    // The kernel launched directly, on the edited transform as its weight binding.
    let d = wgconv::problem::ConvData { w: u, ..d };
    let wrong = p
        .launch_with(g, &d, |t, s, i, w, e, b| {
            winograd_fused::winograd_fused(t, s, i, w, e, b)
        })
        .unwrap()
        .run(g)
        .unwrap();
    assert!(!compare(wrong.data(), want.data(), tol).passed());
}

/// The heuristic runs ResNet's 3x3 layers with Winograd on the fused kernel (no scratch, one
/// dispatch); the three-pass kernel stays a candidate, and is the choice only on a device whose
/// workgroup memory cannot hold the fused kernel's 16 KiB, or with the fused rewrite off.
#[test]
fn heuristic_picks_the_fused_kernel() {
    let spec = ConvSpec::conv2d(3, 3).pad(1);
    for (x, w) in [
        ([1usize, 64, 56, 56], [64usize, 64, 3, 3]),
        ([1, 256, 14, 14], [256, 256, 3, 3]),
        // Past the three-pass kernel's 64 MiB scratch cap: the fused one has no scratch.
        ([4, 64, 256, 256], [64, 64, 3, 3]),
    ] {
        let a = algorithm::heuristic(&spec, &x, &w);
        assert_eq!(a, FUSED, "{x:?}");
        assert_eq!(a.dispatch_count(), 1);
        assert!(a.transforms_weights());
        assert_eq!(
            algorithm::scratch_bytes(&a, &spec, &x, &w, Precision::F32).unwrap(),
            Vec::<u64>::new()
        );
        let c = algorithm::candidates(&spec, &x, &w, &wgpu::Limits::default());
        assert!(c.contains(&FUSED), "{c:?}");
        assert!(
            c.iter()
                .any(|a| matches!(a, ConvAlgorithm::Winograd { .. })),
            "{c:?}"
        );
    }
    let (x, w) = ([1usize, 64, 56, 56], [64usize, 64, 3, 3]);
    let small = wgpu::Limits {
        max_compute_workgroup_storage_size: 16 * 1024 - 1,
        ..wgpu::Limits::default()
    };
    let target = Target::new(small.clone());
    assert!(matches!(
        algorithm::heuristic_for(&target, &spec, &x, &w),
        ConvAlgorithm::Winograd { tile: 2, .. }
    ));
    assert!(!algorithm::candidates(&spec, &x, &w, &small).contains(&FUSED));
    // With the planner's `Rewrites::winograd_fused` off (the "before" of README's traffic
    // table) the three-pass kernel runs where the fused one would.
    let target = Target::new(wgpu::Limits::default());
    assert!(matches!(
        algorithm::heuristic_unfused(&target, &spec, &x, &w),
        ConvAlgorithm::Winograd { tile: 2, .. }
    ));
    // Not applicable (strided) or too few channels: no fused Winograd either.
    let strided = spec.clone().stride(2);
    assert!(!algorithm::candidates(&strided, &x, &w, &wgpu::Limits::default()).contains(&FUSED));
    assert!(FUSED.supports(&strided, &x, &w).is_err());
    assert_ne!(
        algorithm::heuristic(&spec, &[1, 32, 56, 56], &[32, 32, 3, 3]),
        FUSED
    );
}

/// The workgroup memory is 16 KiB with f32 sums and 8 KiB with f16 ones; a device allowing
/// less gets a typed device-limit error, not a failed pipeline.
#[test]
fn workgroup_memory_over_the_limit_is_a_typed_error() {
    assert_eq!(workgroup_bytes(Precision::F32), 16 * 1024);
    assert_eq!(workgroup_bytes(Precision::F16AccF32), 16 * 1024);
    assert_eq!(workgroup_bytes(Precision::F16), 8 * 1024);
    let limits = wgpu::Limits {
        max_compute_workgroup_storage_size: 8 * 1024,
        ..wgpu::Limits::default()
    };
    let target = Target::new(limits);
    let spec = ConvSpec::conv2d(3, 3).pad(1);
    let (x, w) = ([1usize, 8, 6, 6], [8usize, 8, 3, 3]);
    let b = ConvBindings {
        input: Bytes(8 * 36 * 4),
        weight: Bytes(16 * 64 * 4),
        bias: None,
        residual: None,
        output: Bytes(8 * 36 * 4),
        input_scale: None,
    };
    let r = winograd_fused::winograd_fused(&target, &spec, &x, &w, Epilogue::default(), b);
    assert!(
        matches!(
            r,
            Err(Error::DeviceLimit {
                limit_name: "max_compute_workgroup_storage_size",
                ..
            })
        ),
        "{:?}",
        r.err()
    );
}
