//! `wgconv validate` itself: it must pass on healthy kernels, on both backends this machine
//! has, and catch a deliberately broken one.

use wgconv::shaders::Shader;
use wgconv::validate::{ValidateOptions, battery, run, self_checks};

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
        "splitk",
        "winograd",
        "winograd-fused",
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
    // Each adapter ran the whole battery, in order; only GL (no SHADER_F16) leaves out the f16
    // cases, and lavapipe must run them: a filtered or shrunken run cannot pass.
    let battery = battery::cases();
    let f16_cases = battery.iter().filter(|c| c.needs_shader_f16()).count();
    assert!(f16_cases >= 16, "{f16_cases} f16 cases in the battery");
    for a in &report.adapters {
        let has_f16 = a.contains("Vulkan");
        let want: Vec<(&str, &str)> = battery
            .iter()
            .filter(|c| has_f16 || !c.needs_shader_f16())
            .map(|c| (c.family, c.name.as_str()))
            .collect();
        let ran: Vec<(&str, &str)> = report
            .cases
            .iter()
            .filter(|c| &c.adapter == a && !c.family.starts_with(self_checks::FAMILY))
            .map(|c| (c.family.as_str(), c.case.as_str()))
            .collect();
        assert_eq!(ran, want, "cases run on {a}");
        // Every case left out is in the report, with why: GL's f16 cases, nothing on Vulkan.
        let skipped: Vec<(&str, &str)> = report
            .skipped
            .iter()
            .filter(|c| &c.adapter == a)
            .map(|c| (c.family.as_str(), c.case.as_str()))
            .collect();
        let want_skipped: Vec<(&str, &str)> = battery
            .iter()
            .filter(|c| !has_f16 && c.needs_shader_f16())
            .map(|c| (c.family, c.name.as_str()))
            .collect();
        assert_eq!(skipped, want_skipped, "cases skipped on {a}");
        // Then the fast-path self-checks (tests/suite/self_check.rs checks their content).
        assert!(
            report
                .cases
                .iter()
                .any(|c| &c.adapter == a && c.family.starts_with(self_checks::FAMILY)),
            "no self-check on {a}"
        );
    }
    assert!(
        report
            .skipped
            .iter()
            .all(|c| c.reason.contains("SHADER_F16"))
    );
    let table = report.table();
    // The mode it ran under (the default: trusted kernels unchecked), first.
    let trusted: Vec<_> = Shader::TRUSTED.iter().map(|s| s.label()).collect();
    let mode = format!(
        "shader checks: trusted (no bounds checks in {})",
        trusted.join(", ")
    );
    assert!(table.starts_with(&mode), "{table}");
    assert!(
        table.contains(&format!("{} skipped", f16_cases)) && table.contains("lacks SHADER_F16"),
        "{table}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["skipped"].as_array().unwrap().len(), f16_cases);
    // Static checks ran for the defaults and for override sets the battery used.
    assert!(report.static_results.len() > Shader::ALL.len() * 4);
    let html = report.html();
    assert!(html.contains("<table") && html.contains("llvmpipe") && html.contains("skipped"));
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
    // Pointwise convs, Linear and MatMul all run on the matmul shader, as do split-K's
    // pointwise case and Winograd's batched GEMM (in every precision: the f16 families are
    // "<family> f16" and "<family> f16-acc32"), and so Winograd's self-check ("self-check
    // winograd"); nothing else may fail.
    for c in &failed {
        let base = c.family.split(' ').next().unwrap_or_default();
        assert!(
            c.family == "self-check winograd"
                || ["pointwise", "linear", "matmul", "splitk", "winograd"].contains(&base),
            "unexpected failure {c:?}"
        );
    }
    for fam in ["pointwise", "linear", "matmul", "winograd"] {
        assert!(
            failed.iter().any(|c| c.family == fam),
            "fault in {fam} not caught"
        );
    }
}

/// Bisection of a network: clean on a healthy device; with max pooling broken, it names the
/// first max-pool node of the network (and nothing before it).
#[test]
fn bisection_names_the_first_broken_node() {
    use wgconv::validate::bisect::bisect;
    let mut g = wgconv::zoo::build("squeezenet1_1", &[1, 3, 64, 64]).unwrap();
    wgconv::weights::init_seeded(&mut g, 0);
    let x = wgconv::Tensor::random(vec![1, 3, 64, 64], 3);
    let first_pool = g
        .nodes()
        .iter()
        .position(|n| n.op.kind() == "max_pool")
        .unwrap();

    let healthy = wgconv::Gpu::with_options(&wgconv::GpuOptions {
        backends: Some(wgpu::Backends::VULKAN),
        ..Default::default()
    })
    .unwrap();
    let checks = bisect(&healthy, &g, std::slice::from_ref(&x)).unwrap();
    assert_eq!(checks.len(), g.nodes().len());
    assert!(
        checks.iter().all(|c| c.passed),
        "{}",
        checks.iter().find(|c| !c.passed).unwrap()
    );

    let broken = wgconv::Gpu::with_options(&wgconv::GpuOptions {
        backends: Some(wgpu::Backends::VULKAN),
        fault: Some(Shader::Pool),
        ..Default::default()
    })
    .unwrap();
    let checks = bisect(&broken, &g, &[x]).unwrap();
    let bad = checks.last().unwrap();
    assert!(!bad.passed);
    assert_eq!(bad.index, first_pool, "bisection blamed {bad}");
    assert_eq!(bad.op, "max_pool");
    assert!(checks[..first_pool].iter().all(|c| c.passed));
}
