//! Tensor cores (`shaders/coop_conv.wgsl`, `wgconv::kernels::coop_conv`). No adapter here has
//! cooperative matrices, so the kernel's arithmetic cannot run in CI: these tests validate
//! every variant the builder emits with naga under exactly the capabilities wgpu enables for
//! the features the device layer requests, write it as SPIR-V, and check the planner, the
//! builder's host-side checks and the behaviour on a device without tensor cores. On a device
//! with them the kernel checks itself before sessions use it (`tests/suite/self_check.rs`
//! covers that mechanism with planted faults).

use std::collections::BTreeSet;

use naga::valid::Capabilities;
use wgconv::graph::passes;
use wgconv::kernels::algorithm::{
    self, COOP_MIN_EXTENT, ConvAlgorithm, candidates_for, coop_pays, heuristic_for,
};
use wgconv::kernels::coop_conv::{CoopConfig, CoopTiling, coop_conv};
use wgconv::kernels::{Binding, ConvBindings, Target};
use wgconv::ops::{Activation, ConvSpec, Epilogue};
use wgconv::plan::{self, PlanOptions};
use wgconv::shader_check::{self, translate_with};
use wgconv::shaders::Shader;
use wgconv::tune::{GpuTuner, is_fast_path};
use wgconv::{Error, Precision, Session, SessionOptions, zoo};

use crate::common::gpu;

/// The features `wgconv::device` requests for tensor cores.
fn coop_features() -> wgpu::Features {
    wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX
        | wgpu::Features::SUBGROUP
        | wgpu::Features::SHADER_F16
}

/// What wgpu lets a shader use on a device with `features`.
fn capabilities(features: wgpu::Features) -> Capabilities {
    wgpu_naga_bridge::features_to_naga_capabilities(features, wgpu::DownlevelFlags::all())
}

/// An H100-like device: 16x16x16 f16 with f32 sums, subgroups of `sg`, 48 KiB of workgroup
/// memory, 1024 invocations.
fn h100(sg: u32, precision: Precision) -> Target {
    let limits = wgpu::Limits {
        max_compute_workgroup_storage_size: 48 << 10,
        max_compute_invocations_per_workgroup: 1024,
        max_compute_workgroup_size_x: 1024,
        max_storage_buffer_binding_size: 1 << 30,
        ..wgpu::Limits::default()
    };
    Target::new(limits)
        .with_coop(Some(CoopConfig { subgroup_size: sg }))
        .with_precision(precision)
}

/// A binding of `size` bytes at offset 0 (the builder checks sizes and alignment only).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bytes(pub u64);

impl Binding for Bytes {
    fn offset(&self) -> u64 {
        0
    }
    fn size(&self) -> u64 {
        self.0
    }
    fn resized(self, size: u64) -> Self {
        Bytes(size)
    }
}

/// Bindings large enough for the problem (`residual` when asked).
fn bindings(
    t: &Target,
    spec: &ConvSpec,
    x: &[usize],
    w: &[usize],
    bias: bool,
    residual: bool,
) -> ConvBindings<Bytes> {
    let out = spec.output_shape(x, w).unwrap();
    let b = |shape: &[usize]| Bytes(t.elem_bytes(shape.iter().product()));
    ConvBindings {
        input: b(x),
        weight: b(w),
        bias: bias.then(|| b(&[w[0]])),
        residual: residual.then(|| b(&out)),
        input_scale: None,
        output: b(&out),
    }
}

const SUBGROUP_SIZES: [u32; 5] = [8, 16, 32, 64, 128];

/// Every set of override constants the builder emits: each tiling that fits at each subgroup
/// size, with and without bias and residual, for an activation with parameters and without.
fn emitted_constants(precision: Precision) -> BTreeSet<Vec<(String, u64)>> {
    let spec = ConvSpec::conv2d(3, 3).pad(1);
    let (x, w) = ([1, 64, 16, 16], [64, 64, 3, 3]);
    let mut out = BTreeSet::new();
    for sg in SUBGROUP_SIZES {
        // f32 with the opt-in (the f16 precisions need none).
        let t = h100(sg, precision).with_f32_tensor_cores(true);
        let config = t.tensor_cores().unwrap();
        for tiling in CoopTiling::ALL {
            if tiling.check(&t, config).is_err() {
                continue;
            }
            for (bias, residual) in [(false, false), (true, false), (true, true)] {
                for act in [
                    Activation::Identity,
                    Activation::Clip { min: 0.0, max: 6.0 },
                ] {
                    let e = Epilogue {
                        activation: act,
                        residual,
                        input_scale: false,
                    };
                    let b = bindings(&t, &spec, &x, &w, bias, residual);
                    let l = coop_conv(&t, &spec, &x, &w, e, b, tiling).unwrap();
                    assert_eq!(l.shader, Shader::CoopConv);
                    out.insert(
                        l.constants
                            .iter()
                            .map(|&(k, v)| (k.to_string(), v.to_bits()))
                            .collect(),
                    );
                }
            }
        }
    }
    out
}

#[test]
fn every_emitted_variant_validates_and_writes_spirv() {
    let caps = capabilities(coop_features());
    let mut failures = Vec::new();
    let mut count = 0;
    for precision in Precision::ALL {
        for constants in emitted_constants(precision) {
            let c: Vec<(&str, f64)> = constants
                .iter()
                .map(|(k, v)| (k.as_str(), f64::from_bits(*v)))
                .collect();
            count += 1;
            if let Err(e) = translate_with(
                Shader::CoopConv,
                precision,
                &c,
                shader_check::Target::SpirV,
                caps,
            ) {
                failures.push(format!("{precision} {c:?}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // 3 precisions x (tilings x subgroup sizes that fit) x 3 binding sets x 2 activations.
    assert!(count >= 3 * 20 * 6, "only {count} variants emitted");
}

#[test]
fn the_kernel_needs_every_feature_the_device_requests() {
    let all = coop_features();
    shader_check::parse_and_validate_with(Shader::CoopConv, Precision::F32, capabilities(all))
        .unwrap();
    for missing in [
        wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX,
        wgpu::Features::SUBGROUP,
        wgpu::Features::SHADER_F16,
    ] {
        let r = shader_check::parse_and_validate_with(
            Shader::CoopConv,
            Precision::F32,
            capabilities(all - missing),
        );
        assert!(r.is_err(), "validates without {missing:?}");
    }
}

#[test]
fn only_spirv_takes_the_kernel() {
    use shader_check::Target as T;
    for target in T::ALL {
        assert_eq!(
            target.accepts(Shader::CoopConv, Precision::F16AccF32),
            target == T::SpirV
        );
    }
    // The other writers refuse it (naga has no cooperative matrices for HLSL and GLSL, and
    // MSL needs 2.3, where it would be an 8x8-only simdgroup matrix anyway).
    for target in [T::Msl, T::Hlsl] {
        assert!(
            shader_check::translate_in(Shader::CoopConv, Precision::F16, &[], target).is_err(),
            "{target:?}"
        );
    }
}

#[test]
fn adapter_configurations_are_filtered() {
    use wgpu::CooperativeMatrixProperties as P;
    use wgpu::CooperativeScalarType as S;
    let p = |m, ab, cr| P {
        m_size: m,
        n_size: m,
        k_size: m,
        ab_type: ab,
        cr_type: cr,
        saturating_accumulation: false,
    };
    // An H100: f16 x f16 + f16 and + f32 at 16, fixed subgroups of 32.
    let h100 = [p(16, S::F16, S::F16), p(16, S::F16, S::F32)];
    assert_eq!(
        CoopConfig::from_adapter(&h100, 32, 32),
        Some(CoopConfig { subgroup_size: 32 })
    );
    // A varying subgroup size, f16 sums only, 8x8 only: not served.
    assert_eq!(CoopConfig::from_adapter(&h100, 32, 64), None);
    assert_eq!(CoopConfig::from_adapter(&h100[..1], 32, 32), None);
    assert_eq!(
        CoopConfig::from_adapter(&[p(8, S::F32, S::F32), p(8, S::F16, S::F32)], 32, 32),
        None
    );
    assert_eq!(CoopConfig::from_adapter(&[], 32, 32), None);
}

#[test]
fn the_heuristic_picks_tensor_cores_only_where_offered() {
    let spec = ConvSpec::conv2d(3, 3).pad(1);
    let (x, w) = ([1, 64, 56, 56], [64, 64, 3, 3]);
    for p in [Precision::F16, Precision::F16AccF32] {
        let a = heuristic_for(&h100(32, p), &spec, &x, &w);
        assert!(matches!(a, ConvAlgorithm::Coop(_)), "{p}: {a:?}");
        assert!(is_fast_path(&a));
        assert_eq!(a.dispatch_count(), 1);
    }
    // f32 only with the opt-in.
    let f32 = h100(32, Precision::F32);
    assert!(!matches!(
        heuristic_for(&f32, &spec, &x, &w),
        ConvAlgorithm::Coop(_)
    ));
    assert!(matches!(
        heuristic_for(&f32.with_f32_tensor_cores(true), &spec, &x, &w),
        ConvAlgorithm::Coop(_)
    ));
    // No configuration, or the opt-in without one: the portable heuristic.
    for t in [
        Target::new(wgpu::Limits::default()).with_precision(Precision::F16AccF32),
        Target::new(wgpu::Limits::default()).with_f32_tensor_cores(true),
    ] {
        assert_eq!(
            heuristic_for(&t, &spec, &x, &w),
            algorithm::heuristic(&spec, &x, &w)
        );
        assert!(
            !candidates_for(&t, &spec, &x, &w)
                .iter()
                .any(|a| matches!(a, ConvAlgorithm::Coop(_)))
        );
    }
}

#[test]
fn small_and_depthwise_convolutions_stay_on_the_plain_kernels() {
    let t = h100(32, Precision::F16AccF32);
    let cases: [(ConvSpec, [usize; 4], [usize; 4]); 4] = [
        // Depthwise 3x3 (M = 1 per group).
        (
            ConvSpec::conv2d(3, 3).pad(1).groups(32),
            [1, 32, 28, 28],
            [32, 1, 3, 3],
        ),
        // Fewer output channels than a block.
        (
            ConvSpec::conv2d(3, 3).pad(1),
            [1, 64, 28, 28],
            [8, 64, 3, 3],
        ),
        // A reduction shorter than a block (K = 3).
        (ConvSpec::conv2d(1, 1), [1, 3, 28, 28], [64, 3, 1, 1]),
        // An SE excitation on a 1x1 map (N = 1).
        (ConvSpec::conv2d(1, 1), [1, 64, 1, 1], [16, 64, 1, 1]),
    ];
    for (spec, x, w) in cases {
        assert!(!coop_pays(&spec, &x, &w), "{x:?} {w:?}");
        let a = heuristic_for(&t, &spec, &x, &w);
        assert_eq!(a, algorithm::heuristic(&spec, &x, &w), "{x:?} {w:?}");
    }
    // Exactly the threshold: a 16 x 16 x 16 problem uses them.
    let (x, w) = ([1, 16, 4, 4], [16, 16, 1, 1]);
    assert_eq!(COOP_MIN_EXTENT, 16);
    assert!(coop_pays(&ConvSpec::conv2d(1, 1), &x, &w));
}

#[test]
fn tilings_respect_the_workgroup_memory_limit() {
    let spec = ConvSpec::conv2d(3, 3).pad(1);
    let (x, w) = ([1, 256, 56, 56], [256, 256, 3, 3]);
    let big = h100(32, Precision::F16);
    let a = heuristic_for(&big, &spec, &x, &w);
    assert_eq!(
        a,
        ConvAlgorithm::Coop(CoopTiling {
            subgroups_m: 2,
            subgroups_n: 2,
            tk: 32
        })
    );
    // 64x64 with K-chunks of 32: 2*(64*40 + 32*72) + 4*4*256 bytes.
    let ConvAlgorithm::Coop(tiling) = a else {
        unreachable!()
    };
    assert_eq!(
        tiling.workgroup_bytes(),
        2 * (64 * 40 + 32 * 72) + 4 * 4 * 256
    );
    // The scalar heuristic on the same limits (below 16 KiB it leaves fused Winograd).
    let plain = |t: &Target| heuristic_for(&Target::new(t.limits.clone()), &spec, &x, &w);
    for budget in [16 << 10, 8 << 10, 4 << 10] {
        let mut t = big.clone();
        t.limits.max_compute_workgroup_storage_size = budget;
        for c in candidates_for(&t, &spec, &x, &w) {
            if let ConvAlgorithm::Coop(tiling) = c {
                assert!(tiling.workgroup_bytes() <= budget as u64, "{tiling:?}");
            }
        }
        match heuristic_for(&t, &spec, &x, &w) {
            ConvAlgorithm::Coop(tiling) => assert!(tiling.workgroup_bytes() <= budget as u64),
            other => assert_eq!(other, plain(&t)),
        }
    }
    // Below the smallest tiling (16x16 blocks need a few KiB): the plain kernels.
    let mut t = big.clone();
    t.limits.max_compute_workgroup_storage_size = 2 << 10;
    assert_eq!(heuristic_for(&t, &spec, &x, &w), plain(&t));
    // Subgroups of 128 make the 4x4 tiling 2048 invocations: over the limit, never offered.
    let t = h100(128, Precision::F16);
    assert!(
        !candidates_for(&t, &spec, &x, &w).contains(&ConvAlgorithm::Coop(CoopTiling {
            subgroups_m: 4,
            subgroups_n: 4,
            tk: 32
        }))
    );
}

#[test]
fn a_planned_network_runs_its_convolutions_on_tensor_cores() {
    let g = passes::optimize(&zoo::build("resnet18", &[4, 3, 64, 64]).unwrap()).unwrap();
    let t = h100(32, Precision::F16AccF32);
    let plan = plan::lower(&g, &t, &PlanOptions::default()).unwrap();
    let mut coop = 0;
    for step in &plan.steps {
        if let Some(a) = step.algorithm {
            assert!(matches!(a, ConvAlgorithm::Coop(_)), "{a:?}");
            coop += 1;
        }
    }
    // ResNet-18: the stem, 16 3x3 and 3 downsampling 1x1 convolutions.
    assert_eq!(coop, 20);
    for step in &plan.steps {
        if let Some(a) = &step.algorithm {
            let node = g.node(step.node);
            let wgconv::graph::Op::Conv { spec, weight, .. } = &node.op else {
                unreachable!()
            };
            let x = g.shape(node.inputs[0]);
            let scratch = algorithm::scratch_bytes(a, spec, x, weight.shape(), t.precision);
            assert_eq!(scratch.unwrap(), Vec::<u64>::new());
        }
    }
    let launches: Vec<_> = plan
        .launches()
        .filter(|l| l.shader == Shader::CoopConv)
        .collect();
    assert_eq!(launches.len(), coop);
    for l in &launches {
        // input, weight, bias, residual, output; no scratch.
        assert_eq!(l.bindings.len(), 5);
        let p: &[u32] = bytemuck::cast_slice(&l.params);
        // groups * tiles_m * tiles_n (Params fields 9, 26, 27).
        assert_eq!(l.workgroups, p[9] as u64 * p[26] as u64 * p[27] as u64);
        let sub = |k: &str| l.constants.iter().find(|c| c.0 == k).unwrap().1 as u32;
        assert_eq!(p[26], p[11].div_ceil(32 * sub("SUBGROUPS_M")));
        assert_eq!(p[27], p[25].div_ceil(32 * sub("SUBGROUPS_N")));
        assert_eq!(sub("SG_SIZE"), 32);
    }
    // The same graph without the configuration, and in f32 without the opt-in: none.
    for t in [
        Target::new(t.limits.clone()).with_precision(Precision::F16AccF32),
        h100(32, Precision::F32),
    ] {
        let plan = plan::lower(&g, &t, &PlanOptions::default()).unwrap();
        assert!(plan.launches().all(|l| l.shader != Shader::CoopConv));
    }
}

#[test]
fn the_builder_checks_its_inputs() {
    let spec = ConvSpec::conv2d(3, 3)
        .pad(1)
        .stride(2)
        .dilation(2)
        .groups(2);
    let (x, w) = ([2, 64, 31, 17], [96, 32, 3, 3]);
    let t = h100(32, Precision::F16);
    let tiling = CoopTiling {
        subgroups_m: 2,
        subgroups_n: 2,
        tk: 32,
    };
    let e = Epilogue::default();
    let ok = bindings(&t, &spec, &x, &w, true, false);
    let l = coop_conv(&t, &spec, &x, &w, e, ok, tiling).unwrap();
    let out = spec.output_shape(&x, &w).unwrap();
    let n = out[0] * out[2] * out[3];
    assert_eq!(
        l.workgroups,
        2 * 48usize.div_ceil(64) as u64 * n.div_ceil(64) as u64
    );
    // A binding one element short.
    let mut short = ok;
    short.output = Bytes(ok.output.0 - 2);
    let err = coop_conv(&t, &spec, &x, &w, e, short, tiling).unwrap_err();
    assert!(err.to_string().contains("output"), "{err}");
    // A tiling the shader cannot take: K-chunks not a multiple of 16; subgroups of 8 with
    // one subgroup along M (8 invocations cannot stage a 32-column tile).
    let bad = CoopTiling { tk: 24, ..tiling };
    assert!(coop_conv(&t, &spec, &x, &w, e, ok, bad).is_err());
    let t8 = h100(8, Precision::F16);
    let thin = CoopTiling {
        subgroups_m: 1,
        ..tiling
    };
    assert!(thin.check(&t8, t8.tensor_cores().unwrap()).is_err());
    // Too many tiles for one dimension: the count folds over y.
    let big = ([1, 64, 2048, 2048], [64, 64, 1, 1]);
    let b = bindings(&t, &ConvSpec::conv2d(1, 1), &big.0, &big.1, false, false);
    let l = coop_conv(&t, &ConvSpec::conv2d(1, 1), &big.0, &big.1, e, b, tiling).unwrap();
    assert_eq!(l.workgroups, (2048 * 2048 / 64) as u64);
    let folded = t.fold_workgroups("coop", l.workgroups).unwrap();
    assert!(folded[1] > 1 && folded.iter().all(|&d| d <= 65535));
    assert!(folded.iter().map(|&d| d as u64).product::<u64>() >= l.workgroups);
    // No configuration, or f32 without the opt-in: a typed error saying which.
    for (t, why) in [
        (
            Target::new(t.limits.clone()).with_precision(Precision::F16),
            "",
        ),
        (h100(32, Precision::F32), "opt-in"),
    ] {
        let err = coop_conv(&t, &spec, &x, &w, e, ok, tiling).unwrap_err();
        assert!(matches!(err, Error::MissingFeature { .. }), "{err}");
        assert!(err.to_string().contains(why), "{err}");
    }
}

#[test]
fn the_f32_opt_in_without_tensor_cores_keeps_plain_kernels_and_says_so() {
    let gpu = gpu();
    // Lavapipe has no cooperative matrices; on an adapter with them this test means nothing.
    assert_eq!(gpu.tensor_cores(), None, "{}", gpu.describe());
    let g = passes::optimize(&zoo::build("resnet18", &[1, 3, 32, 32]).unwrap()).unwrap();
    let options = SessionOptions {
        f32_tensor_cores: Some(true),
        ..Default::default()
    };
    let s = Session::with_options(gpu, &g, options).unwrap();
    assert!(s.plan().launches().all(|l| l.shader != Shader::CoopConv));
    let note = s.tensor_core_note().expect("a note on the ignored opt-in");
    assert!(note.contains("plain f32 kernels"), "{note}");
    // Off (the default), nothing to say.
    let s = Session::with_options(gpu, &g, SessionOptions::default()).unwrap();
    assert_eq!(s.tensor_core_note(), None);
}

#[test]
fn a_check_that_cannot_run_disables_the_path() {
    // On a device without tensor cores the check's kernel cannot even be built: the check
    // fails with the reason, which is what a session would log and fall back on.
    let gpu = gpu().with_precision(Precision::F16AccF32).unwrap();
    let spec = ConvSpec::conv2d(3, 3).pad(1);
    let a = ConvAlgorithm::Coop(CoopTiling {
        subgroups_m: 2,
        subgroups_n: 2,
        tk: 32,
    });
    let check = gpu
        .tuner()
        .fast_path_check(&gpu, &a, &spec, &[1, 64, 16, 16], &[64, 64, 3, 3]);
    assert!(!check.passed());
    assert_eq!(check.family(), "tensor-cores");
    let e = check.error.as_deref().unwrap();
    assert!(e.contains("cooperative-matrix"), "{e}");
}
