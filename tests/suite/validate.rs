//! `wgconv validate` itself: it must pass on healthy kernels, on both backends this machine
//! has, and catch a deliberately broken one.

use wgconv::shaders::Shader;
use wgconv::validate::{ValidateOptions, run};

/// The report covers lavapipe (Vulkan) and llvmpipe (GL), and everything passes on both.
#[test]
fn battery_passes_on_vulkan_and_gl() {
    let report = run(&ValidateOptions::default(), &mut |_| {});
    let has = |b: &str| report.adapters.iter().any(|a| a.contains(b));
    assert!(
        has("Vulkan") && has("Gl"),
        "expected a Vulkan and a GL adapter, found {:?} (errors {:?})",
        report.adapters,
        report.adapter_errors
    );
    assert!(report.passed(), "{}", report.table());
    // Every family x adapter cell of the matrix has cases.
    for family in [
        "conv",
        "depthwise",
        "pointwise",
        "conv_transpose",
        "linear",
        "pool",
        "softmax",
        "activation",
    ] {
        for a in &report.adapters {
            assert!(
                report
                    .cases
                    .iter()
                    .any(|c| c.family == family && &c.adapter == a),
                "{family} missing on {a}"
            );
        }
    }
    // Static checks ran for the defaults and for override sets the battery used.
    assert!(report.static_results.len() > Shader::ALL.len() * 4);
    let html = report.html();
    assert!(html.contains("<table") && html.contains("llvmpipe"));
}

/// A kernel that skips its last workgroup must be reported, and only that family.
#[test]
fn planted_fault_is_caught() {
    let opts = ValidateOptions {
        backends: Some(wgpu::Backends::VULKAN),
        fault: Some(Shader::Matmul),
        ..Default::default()
    };
    let report = run(&opts, &mut |_| {});
    assert!(!report.passed());
    let failed: Vec<_> = report.cases.iter().filter(|c| !c.passed).collect();
    assert!(!failed.is_empty());
    // Pointwise convs, Linear and MatMul all run on the matmul shader; nothing else may fail.
    for c in &failed {
        assert!(
            ["pointwise", "linear", "matmul"].contains(&c.family.as_str()),
            "unexpected failure {c:?}"
        );
    }
    for fam in ["pointwise", "linear", "matmul"] {
        assert!(
            failed.iter().any(|c| c.family == fam),
            "fault in {fam} not caught"
        );
    }
}
