//! Self-checking fast paths (`wgconv::tune::self_check`): a session checks each fast
//! convolution algorithm it plans on the device first, and falls back to the plain kernel
//! where the check fails. Wrong kernels are planted with `GpuOptions::fault`.

use wgconv::compare::compare;
use wgconv::graph::{Conv2d, Graph, cpu};
use wgconv::kernels::algorithm::ConvAlgorithm;
use wgconv::shaders::Shader;
use wgconv::tune::{GpuTuner, is_fast_path};
use wgconv::{Gpu, GpuOptions, Precision, Session, SessionOptions, Tensor, zoo};

use crate::common::gpu;
use crate::graph::{initialised, network_tolerance};

/// A lavapipe device with `fault` planted.
fn faulty(fault: Shader) -> Gpu {
    faulty_with(fault, None)
}

/// [`faulty`] asking for `limits` instead of the adapter's.
fn faulty_with(fault: Shader, limits: Option<wgpu::Limits>) -> Gpu {
    Gpu::with_options(&GpuOptions {
        backends: Some(wgpu::Backends::VULKAN),
        fault: Some(fault),
        limits,
        ..Default::default()
    })
    .expect("a Vulkan adapter (in CI: lavapipe)")
}

/// One 3x3 convolution (padding 1) with ReLU, `c` -> `c` channels on a `hw` x `hw` map.
fn one_conv(c: usize, hw: usize) -> (Graph, Vec<Tensor>) {
    let mut g = Graph::new();
    let x = g.input("x", &[1, c, hw, hw]);
    let y = g.conv2d(x, "conv", Conv2d::new(c, 3).pad(1)).unwrap();
    let y = g.relu(y).unwrap();
    g.output(y);
    initialised(g, 5)
}

fn session<'g>(gpu: &'g Gpu, g: &Graph, self_check: bool, p: Precision) -> Session<'g> {
    let options = SessionOptions {
        self_check,
        precision: Some(p),
        ..Default::default()
    };
    Session::with_options(gpu, g, options).unwrap()
}

/// The algorithms of a session's convolutions, in plan order.
fn algorithms(s: &Session) -> Vec<ConvAlgorithm> {
    s.plan()
        .steps
        .iter()
        .filter_map(|st| st.algorithm)
        .collect()
}

/// True when `s`'s outputs on `inputs` match the CPU reference.
fn matches_reference(s: &Session, g: &Graph, inputs: &[Tensor]) -> bool {
    let got = s.run(inputs).unwrap();
    let want = cpu::run(g, inputs).unwrap();
    let tol = network_tolerance(g, inputs);
    got.iter()
        .zip(&want)
        .all(|(a, b)| compare(a.data(), b.data(), tol).passed())
}

/// With `fault` planted in `family`'s kernel, `g`'s only convolution plans `family` without
/// the self-check and computes a wrong result; with it, the session disables it for that node,
/// runs the plain kernel, matches the reference and says why.
fn planted_fault_is_disabled(fault: Shader, family: &str, g: &Graph, inputs: &[Tensor]) {
    planted_fault_is_disabled_on(faulty(fault), fault, family, g, inputs);
}

/// [`planted_fault_is_disabled`] on `bad`, a device with `fault` planted.
fn planted_fault_is_disabled_on(
    bad: Gpu,
    fault: Shader,
    family: &str,
    g: &Graph,
    inputs: &[Tensor],
) {
    let unchecked = session(&bad, g, false, Precision::F32);
    let [planned] = algorithms(&unchecked)[..] else {
        panic!("one convolution: {:?}", algorithms(&unchecked));
    };
    assert!(is_fast_path(&planned), "{planned:?}");
    assert!(unchecked.self_checks().is_empty());
    assert!(
        !matches_reference(&unchecked, g, inputs),
        "the planted fault in {fault:?} must change {planned:?}'s result"
    );

    let checked = session(&bad, g, true, Precision::F32);
    let disabled = checked.disabled_fast_paths();
    assert_eq!(disabled.len(), 1, "{:?}", checked.self_checks());
    let d = disabled[0];
    assert_eq!(d.name, "conv");
    assert_eq!(d.check.algorithm, planned);
    assert_eq!(d.check.family(), family);
    assert_eq!(d.check.precision, Precision::F32);
    assert!(d.check.error.is_none(), "{}", d.check);
    let c = d.check.comparison.as_ref().unwrap();
    assert!(c.bad > 0 && c.max_abs > d.check.bound.atol, "{}", d.check);
    // The reason names the node, the verdict, the algorithm, the shape class and the error.
    let reason = d.to_string();
    for part in ["\"conv\"", "disabled", family, "kernel 3x3", "max abs err"] {
        assert!(reason.contains(part), "{part:?} missing from {reason}");
    }
    // Re-planned with the plain kernel, which is right.
    assert!(
        matches!(algorithms(&checked)[..], [ConvAlgorithm::Implicit(_)]),
        "{:?}",
        algorithms(&checked)
    );
    assert!(matches_reference(&checked, g, inputs));

    // The device remembers the check: another session runs none.
    let before = bad.tuner().fast_path_checks_run();
    let again = session(&bad, g, true, Precision::F32);
    assert_eq!(bad.tuner().fast_path_checks_run(), before);
    assert_eq!(again.disabled_fast_paths().len(), 1);
}

/// Fused Winograd F(2x2, 3x3) on a 64 -> 64 layer at 16x16 (64 tiles: the heuristic's
/// choice), broken.
#[test]
fn planted_faulty_fused_winograd_is_disabled() {
    let (g, inputs) = one_conv(64, 16);
    planted_fault_is_disabled(Shader::WinogradFused, "winograd-fused", &g, &inputs);
}

/// Three-pass Winograd on the same layer, the heuristic's choice on a device whose workgroup
/// memory is too small for the fused kernel, with its input transform broken.
#[test]
fn planted_faulty_winograd_is_disabled() {
    let (g, inputs) = one_conv(64, 16);
    let limits = wgpu::Limits {
        max_compute_workgroup_storage_size: (16 << 10) - 4,
        ..wgpu::Limits::default()
    };
    let bad = faulty_with(Shader::WinogradInput, Some(limits));
    planted_fault_is_disabled_on(bad, Shader::WinogradInput, "winograd", &g, &inputs);
}

/// Split-K on a 256 -> 256 layer at 4x4 (few output tiles, K = 2304: the heuristic's choice),
/// with its reduction broken.
#[test]
fn planted_faulty_splitk_is_disabled() {
    let (g, inputs) = one_conv(256, 4);
    planted_fault_is_disabled(Shader::SplitkReduce, "split-k", &g, &inputs);
}

/// On a healthy device nothing is disabled and the plan is the one built without checks:
/// ResNet-18 at 112 x 112 uses fused Winograd and split-K, each checked once per shape class.
#[test]
fn healthy_device_keeps_the_plan() {
    let (g, inputs) = initialised(zoo::build("resnet18", &[1, 3, 112, 112]).unwrap(), 3);
    let checked = session(gpu(), &g, true, Precision::F32);
    let unchecked = session(gpu(), &g, false, Precision::F32);
    assert_eq!(algorithms(&checked), algorithms(&unchecked));
    assert!(checked.disabled_fast_paths().is_empty());
    let checks = checked.self_checks();
    let families: Vec<&str> = checks.iter().map(|c| c.check.family()).collect();
    assert!(
        families.contains(&"winograd-fused") && families.contains(&"split-k"),
        "{families:?}"
    );
    // Every fast-path node is covered, and only those.
    let fast = algorithms(&checked)
        .iter()
        .filter(|a| is_fast_path(a))
        .count();
    assert_eq!(checks.len(), fast);
    for c in checks {
        assert!(c.check.passed(), "{c}");
        assert!(c.check.comparison.as_ref().unwrap().len > 0, "{c}");
    }
    assert!(matches_reference(&checked, &g, &inputs));
}

/// f16 sessions check their fast paths in their own precision (the f16 bounds of
/// `tests/suite/f16/algorithms.rs`): they pass on a healthy device, and a planted fault is
/// caught in f16 too.
#[test]
fn f16_fast_paths_are_checked_in_f16() {
    let (g, _) = initialised(zoo::build("resnet18", &[1, 3, 64, 64]).unwrap(), 4);
    for p in [Precision::F16, Precision::F16AccF32] {
        let s = session(gpu(), &g, true, p);
        assert!(!s.self_checks().is_empty(), "{p}: no fast path checked");
        for c in s.self_checks() {
            assert_eq!(c.check.precision, p);
            assert!(c.check.passed(), "{p}: {c}");
        }
    }
    let (g, _) = one_conv(64, 16);
    let bad = faulty(Shader::WinogradFused);
    let s = session(&bad, &g, true, Precision::F16);
    let disabled = s.disabled_fast_paths();
    assert_eq!(disabled.len(), 1, "{:?}", s.self_checks());
    assert_eq!(disabled[0].check.precision, Precision::F16);
    assert_eq!(disabled[0].check.family(), "winograd-fused");
    assert!(matches!(algorithms(&s)[..], [ConvAlgorithm::Implicit(_)]));
}

fn validate_cli(fault: Option<&str>) -> (Option<i32>, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wgconv"));
    cmd.args(["validate", "--backend", "vulkan", "--filter", "self-check"]);
    match fault {
        Some(f) => cmd.env("WGCONV_FAULT", f),
        None => cmd.env_remove("WGCONV_FAULT"),
    };
    let out = cmd.output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    (out.status.code(), stdout)
}

/// `wgconv validate` lists the self-checks: all passing on a healthy device (fused Winograd
/// and split-K in f32, f16 and f16-acc32), and with the fused Winograd kernel broken, it is
/// reported as disabled (exit 1) while split-K still passes.
#[test]
fn validate_reports_self_checks() {
    let (code, stdout) = validate_cli(None);
    assert_eq!(code, Some(0), "{stdout}");
    let rows = |verdict: &str, family: &str, stdout: &str| {
        stdout
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .take(3)
                    .eq([verdict, "self-check", family])
            })
            .count()
    };
    for family in ["winograd-fused", "split-k"] {
        // One per precision at least.
        assert!(rows("ok", family, &stdout) >= 3, "{family}:\n{stdout}");
    }
    let (code, stdout) = validate_cli(Some("winograd_fused"));
    assert_eq!(code, Some(1), "{stdout}");
    assert!(rows("FAIL", "winograd-fused", &stdout) >= 3, "{stdout}");
    assert_eq!(rows("ok", "winograd-fused", &stdout), 0, "{stdout}");
    assert!(rows("ok", "split-k", &stdout) >= 3, "{stdout}");
    assert!(stdout.contains("disabled in sessions"), "{stdout}");
}
