//! `wgconv validate`: does this GPU and driver compute every kernel right?
//!
//! - Static: every shader, with every set of override values the engine used during the run
//!   (plus the defaults), translated by naga to SPIR-V, MSL, HLSL and GLSL.
//! - Dynamic: the [`battery`] of kernel problems on each adapter against the CPU reference.
//! - Self-checks ([`self_checks`]): the fast convolution paths sessions check before use.
//! - Bisection (`bisect`): a network node by node against the CPU reference.

pub mod battery;
pub mod bisect;
mod report;
pub mod self_checks;

use serde::Serialize;

use crate::compare::compare;
use crate::device::PipelineKey;
use crate::device::{Gpu, ShaderChecks};
use crate::precision::Precision;
use crate::shader_check::{Target, translate_in};
use crate::shaders::Shader;

pub use report::Report;

/// One dynamic case on one adapter.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// Adapter description.
    pub adapter: String,
    /// Kernel family.
    pub family: String,
    /// Problem.
    pub case: String,
    /// Within tolerance (false on error too).
    pub passed: bool,
    /// Largest absolute error.
    pub max_abs: f64,
    /// Largest relative error.
    pub max_rel: f64,
    /// Largest distance in ULPs.
    pub max_ulp: u64,
    /// Elements out of tolerance.
    pub bad: usize,
    /// Elements compared.
    pub len: usize,
    /// `atol` / `rtol` used.
    pub atol: f64,
    /// Relative part of the tolerance.
    pub rtol: f64,
    /// The error, when the case could not run, or the first bad element.
    pub detail: Option<String>,
}

/// A battery case not run on an adapter, and why.
#[derive(Clone, Debug, Serialize)]
pub struct SkippedCase {
    /// Adapter description.
    pub adapter: String,
    /// Kernel family.
    pub family: String,
    /// Problem.
    pub case: String,
    /// Why it did not run.
    pub reason: String,
}

/// One static translation.
#[derive(Clone, Debug, Serialize)]
pub struct StaticResult {
    /// Shader file.
    pub shader: String,
    /// Override values (`name=value`), empty for the defaults.
    pub constants: String,
    /// Target language.
    pub target: String,
    /// naga's message on failure.
    pub error: Option<String>,
}

/// Runs the dynamic battery on `gpu`, calling `progress` after each case. `filter` keeps cases
/// whose family or name contains it. Returns the cases run and those the adapter cannot run.
pub fn run_battery(
    gpu: &Gpu,
    filter: Option<&str>,
    progress: &mut dyn FnMut(&CaseResult),
) -> (Vec<CaseResult>, Vec<SkippedCase>) {
    let adapter = gpu.describe();
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut skipped_f16 = 0;
    for case in battery::cases() {
        if filter.is_some_and(|f| !case.family.contains(f) && !case.name.contains(f)) {
            continue;
        }
        // f16 cases need the feature; adapters without it (GL) skip them, said once below.
        if case.needs_shader_f16() && !gpu.has_shader_f16() {
            skipped_f16 += 1;
            skipped.push(SkippedCase {
                adapter: adapter.clone(),
                family: case.family.to_string(),
                case: case.name.clone(),
                reason: "f16 case: the adapter lacks SHADER_F16".into(),
            });
            continue;
        }
        let mut r = CaseResult {
            adapter: adapter.clone(),
            family: case.family.to_string(),
            case: case.name.clone(),
            passed: false,
            max_abs: f64::NAN,
            max_rel: f64::NAN,
            max_ulp: 0,
            bad: 0,
            len: 0,
            atol: f64::NAN,
            rtol: f64::NAN,
            detail: None,
        };
        match (case.run)(gpu) {
            Ok(o) => {
                let c = compare(o.got.data(), o.want.data(), o.tolerance);
                r.passed = c.passed() && o.got.shape() == o.want.shape();
                r.max_abs = c.max_abs;
                r.max_rel = c.max_rel;
                r.max_ulp = c.max_ulp;
                r.bad = c.bad;
                r.len = c.len;
                r.atol = o.tolerance.atol;
                r.rtol = o.tolerance.rtol;
                if !r.passed {
                    r.detail = Some(c.to_string());
                }
            }
            Err(e) => r.detail = Some(e.to_string()),
        }
        progress(&r);
        out.push(r);
    }
    if skipped_f16 > 0 {
        log::warn!("{adapter}: {skipped_f16} f16 cases not run (the adapter lacks SHADER_F16)");
    }
    (out, skipped)
}

/// Translates each shader with its default overrides in every precision, and with every
/// override set in `used` in the precision it was used in. GLSL is skipped for f16, and every
/// target but SPIR-V for cooperative-matrix kernels (see [`Target::accepts`]).
pub fn static_checks(used: &[PipelineKey]) -> Vec<StaticResult> {
    type OverrideSet = (Shader, Precision, Vec<(&'static str, f64)>);
    let mut sets: Vec<OverrideSet> = Shader::ALL
        .iter()
        .flat_map(|&s| Precision::ALL.map(|p| (s, p, Vec::new())))
        .collect();
    for k in used {
        let c = k
            .constants
            .iter()
            .map(|&(n, v)| (n, f64::from_bits(v)))
            .collect();
        sets.push((k.shader, k.precision, c));
    }
    let mut out = Vec::new();
    for (shader, precision, constants) in sets {
        let label = constants
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let name = match precision {
            Precision::F32 => shader.file_name().to_string(),
            p => format!("{} ({p})", shader.file_name()),
        };
        for target in Target::ALL {
            if !target.accepts(shader, precision) {
                continue;
            }
            out.push(StaticResult {
                shader: name.clone(),
                constants: label.clone(),
                target: format!("{target:?}"),
                error: translate_in(shader, precision, &constants, target).err(),
            });
        }
    }
    out
}

/// Which adapters and cases to validate.
#[derive(Clone, Debug, Default)]
pub struct ValidateOptions {
    /// Only adapters of these backends (all when `None`).
    pub backends: Option<wgpu::Backends>,
    /// Only adapters whose name contains this.
    pub adapter_name: Option<String>,
    /// Only cases whose family or name contains this.
    pub filter: Option<String>,
    /// Deliberately break one kernel family (tests of the validator itself).
    pub fault: Option<Shader>,
    /// A network to bisect node by node on each adapter (seeded random inputs).
    pub bisect: Option<crate::graph::Graph>,
    /// Which kernels run without runtime bounds checks (trusted ones, by default).
    pub shader_checks: ShaderChecks,
}

/// Validates every selected adapter: the dynamic battery on each, then the static translation of
/// every override set the runs used.
///
/// ```
/// use wgconv::validate::{ValidateOptions, run};
///
/// // The global pooling kernels on every adapter, and their shaders in every language.
/// let opts = ValidateOptions { filter: Some("global_pool".into()), ..Default::default() };
/// let report = run(&opts, &mut |case| println!("{}: {}", case.case, case.passed));
/// assert!(!report.cases.is_empty());
/// assert!(report.passed(), "{:?}", report.cases);
/// ```
pub fn run(opts: &ValidateOptions, progress: &mut dyn FnMut(&CaseResult)) -> Report {
    let mut report = Report {
        shader_checks: describe_checks(opts.shader_checks),
        ..Default::default()
    };
    let mut used = Vec::new();
    for info in crate::device::enumerate_adapters(opts.backends) {
        if let Some(n) = &opts.adapter_name
            && !info.name.to_lowercase().contains(&n.to_lowercase())
        {
            continue;
        }
        let gpu_opts = crate::device::GpuOptions {
            backends: Some(info.backend.into()),
            adapter_name: Some(info.name.clone()),
            fault: opts.fault,
            shader_checks: opts.shader_checks,
            ..Default::default()
        };
        match Gpu::with_options(&gpu_opts) {
            Ok(gpu) => {
                report.adapters.push(gpu.describe());
                let (cases, skipped) = run_battery(&gpu, opts.filter.as_deref(), progress);
                report.cases.extend(cases);
                report.skipped.extend(skipped);
                report
                    .cases
                    .extend(self_checks::cases(&gpu, opts.filter.as_deref(), progress));
                if let Some(g) = &opts.bisect {
                    report.bisection.extend(bisect_lines(&gpu, g));
                }
                used.extend(gpu.pipeline_cache().keys());
            }
            Err(e) => report
                .adapter_errors
                .push(format!("{} ({:?}): {e}", info.name, info.backend)),
        }
    }
    if report.adapters.is_empty() && report.adapter_errors.is_empty() {
        report.adapter_errors.push(
            "no adapter matched (install a GPU driver, or mesa-vulkan-drivers for lavapipe)".into(),
        );
    }
    used.sort_by(|a, b| {
        (a.shader, a.precision, &a.constants).cmp(&(b.shader, b.precision, &b.constants))
    });
    used.dedup();
    report.static_results = static_checks(&used);
    report
}

/// The report's line on shader checks: the mode and the modules compiled without them.
pub fn describe_checks(checks: ShaderChecks) -> String {
    let unchecked: Vec<&str> = Shader::TRUSTED
        .iter()
        .filter(|s| !checks.bounds_checked(**s))
        .map(|s| s.label())
        .collect();
    if unchecked.is_empty() {
        format!("{checks} (every module bounds-checked)")
    } else {
        format!("{checks} (no bounds checks in {})", unchecked.join(", "))
    }
}

/// Bisection of `g` on `gpu` as report lines: a header, then the first failing node (or a
/// summary when every node passed). Lines of failures start with `FAIL`.
fn bisect_lines(gpu: &Gpu, g: &crate::graph::Graph) -> Vec<String> {
    let inputs: Vec<crate::tensor::Tensor> = g
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, &v)| crate::tensor::Tensor::random(g.shape(v).to_vec(), 900 + i as u64))
        .collect();
    let mut lines = vec![format!("on {}:", gpu.describe())];
    match bisect::bisect(gpu, g, &inputs) {
        Ok(checks) => match checks.iter().find(|c| !c.passed) {
            Some(bad) => lines.push(format!("FAIL first node out of tolerance: {bad}")),
            None => lines.push(format!("all {} nodes within tolerance", checks.len())),
        },
        Err(e) => lines.push(format!("FAIL bisection could not run: {e}")),
    }
    lines
}
