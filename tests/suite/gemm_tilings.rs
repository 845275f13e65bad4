//! The GEMM kernel's tilings (register blocks, chunk lengths, the aligned variant without
//! bounds checks) against the CPU reference, and the heuristic's and tuner's tiling choices.

use wgconv::kernels::matmul::GemmTiling;
use wgconv::ops::Activation;
use wgconv::precision::Precision;
use wgconv::shader_check::{Target, translate_in};
use wgconv::shaders::Shader;

use crate::common::gpu;
use crate::matmul::{LinearProblem, MatmulProblem, PointwiseProblem, big_tilings};

/// Every big tiling on shapes that are whole tiles and whole chunks (the aligned variant
/// runs) and on the same shapes one past (the checked variant runs): grouped pointwise with
/// batch, bias, residual; Linear (B read transposed); MatMul with a broadcast operand.
#[test]
fn big_tilings_aligned_and_not() {
    let limits = gpu().limits();
    for (i, t) in big_tilings().into_iter().enumerate() {
        t.check("test", limits)
            .expect("lavapipe's 32 KiB holds every big tiling");
        let (tm, tn, tk) = (t.tile_m() as usize, t.tile_n() as usize, t.tk as usize);
        let seed = 400 + 10 * i as u64;
        for extra in [0, 1] {
            let aligned = extra == 0;
            let pointwise = PointwiseProblem {
                n: 2,
                c: 2 * (2 * tk + extra),
                o: 2 * (tm + extra),
                groups: 2,
                spatial: vec![tn + extra],
                bias: true,
                residual: true,
                act: Activation::Relu,
                seed,
                tiling: Some(t),
            };
            assert_eq!(pointwise.check(), aligned, "{pointwise:?}");
            let linear = LinearProblem {
                n: tm + extra,
                k: 3 * tk + extra,
                m: tn + extra,
                bias: true,
                act: Activation::Silu,
                seed: seed + 1,
                tiling: Some(t),
            };
            assert_eq!(linear.check(), aligned, "{linear:?}");
            let matmul = MatmulProblem {
                a: vec![2, tm + extra, tk + extra],
                b: vec![tk + extra, tn + extra],
                seed: seed + 2,
                tiling: Some(t),
            };
            assert_eq!(matmul.check(), aligned, "{matmul:?}");
        }
    }
}

/// The heuristic keeps 4x4 blocks for small or skinny products and where big tiles would
/// leave a large GPU idle, and takes 128x128, 128x64 or 64x128 where they still launch
/// `TARGET_WORKGROUPS` (256) workgroups.
#[test]
fn heuristic_tilings() {
    let t = |wg_x, wg_y, rm, rn| GemmTiling {
        rm,
        rn,
        ..GemmTiling::new(wg_x, wg_y)
    };
    for (m, n, batch, want) in [
        (8, 8, 1, t(4, 4, 4, 4)),
        (10, 1000, 1, t(16, 4, 4, 4)),
        (1000, 10, 1, t(4, 16, 4, 4)),
        // ResNet-50's 256 -> 64 at 56x56, batch 1: 49 64x64 tiles already too few.
        (64, 3136, 1, t(16, 16, 4, 4)),
        // ... at batch 32: 800 64x128 tiles (M is one 64-row tile).
        (64, 3136, 32, t(16, 16, 4, 8)),
        // 2048 x 2048: 256 128x128 tiles.
        (2048, 2048, 1, t(16, 16, 8, 8)),
        // Tall: 16 * 8 * 2 = 256 128x64 tiles; 128x128 would give 128.
        (1024, 128, 16, t(16, 16, 8, 4)),
        (1024, 128, 15, t(16, 16, 4, 4)),
    ] {
        assert_eq!(
            GemmTiling::for_workload(m, n, batch),
            want,
            "{m} x {n} x {batch}"
        );
    }
    assert_eq!(GemmTiling::for_problem(2048, 2048), t(16, 16, 8, 8));
}

/// The tuner's candidates: within WebGPU's default limits 128-wide tiles come only with
/// 16-long chunks; with an H100's 48 KiB the 32-long ones join; tiles twice a side's extent
/// are skipped; every candidate passes its own check.
#[test]
fn tuner_candidates() {
    let default = wgpu::Limits::default();
    let h100 = wgpu::Limits {
        max_compute_workgroup_storage_size: 48 << 10,
        ..wgpu::Limits::default()
    };
    let big = |v: &[GemmTiling]| v.iter().filter(|t| t.rm == 8 || t.rn == 8).count();
    let small = GemmTiling::candidates(1024, 1024, &default);
    let large = GemmTiling::candidates(1024, 1024, &h100);
    assert_eq!(big(&small), 3, "{small:?}");
    assert_eq!(big(&large), 6, "{large:?}");
    assert!(large.iter().any(|t| t.rm == 8 && t.rn == 8 && t.tk == 32));
    for t in small.iter().chain(&large) {
        t.check("candidate", &h100).unwrap();
    }
    let skinny = GemmTiling::candidates(10, 1024, &h100);
    assert!(skinny.iter().all(|t| t.tile_m() == 16), "{skinny:?}");
}

/// Tilings the shader cannot run are typed errors naming the rule, not panics.
#[test]
fn bad_tilings_are_errors() {
    let limits = wgpu::Limits::default();
    let base = GemmTiling::new(16, 16);
    for (t, why) in [
        (GemmTiling::new(12, 16), "powers of two"),
        (GemmTiling::new(0, 16), "powers of two"),
        (GemmTiling { rm: 6, ..base }, "register blocks"),
        (GemmTiling { tk: 24, ..base }, "K chunks"),
        // 8 * 32 / 4 = 64 values of A per invocation.
        (
            GemmTiling {
                rm: 8,
                tk: 32,
                ..GemmTiling::new(4, 16)
            },
            "at most 16",
        ),
    ] {
        let e = t.check("gemm", &limits).unwrap_err().to_string();
        assert!(e.contains(why), "{t:?}: {e}");
    }
    let e = GemmTiling {
        rm: 8,
        rn: 8,
        tk: 32,
        ..base
    }
    .check("gemm", &limits)
    .unwrap_err()
    .to_string();
    assert!(e.contains("max_compute_workgroup_storage_size"), "{e}");
}

/// Every big tiling, aligned or not, translates to every backend (lavapipe runs only SPIR-V),
/// in each precision the backend takes.
#[test]
fn big_tilings_translate_everywhere() {
    for t in big_tilings() {
        for aligned in [0.0, 1.0] {
            let c = [
                ("WG_X", t.wg_x as f64),
                ("WG_Y", t.wg_y as f64),
                ("RM", t.rm as f64),
                ("RN", t.rn as f64),
                ("TILE_K", t.tk as f64),
                ("ALIGNED", aligned),
            ];
            for target in Target::ALL {
                for p in [Precision::F32, Precision::F16, Precision::F16AccF32] {
                    if target.supports(p) {
                        translate_in(Shader::Matmul, p, &c, target)
                            .unwrap_or_else(|e| panic!("{t:?} {target:?} {p}: {e}"));
                    }
                }
            }
        }
    }
}
