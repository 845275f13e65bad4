//! The fast-path self-checks sessions run ([`crate::tune::self_check`]), as report cases: the
//! fast paths of ResNet-18 at 112 x 112 (Winograd, split-K, tensor cores) in every precision
//! the adapter has (and f32 with the tensor-core opt-in where the device has tensor cores),
//! each case passed or "disabled in sessions".

use std::sync::Arc;

use super::CaseResult;
use crate::device::Gpu;
use crate::error::Result;
use crate::graph::{Op, passes};
use crate::plan::{self, PlanOptions};
use crate::precision::Precision;
use crate::tune::{FastPathCheck, GpuTuner, is_fast_path};

/// The network whose fast paths are checked, and its input.
const NETWORK: &str = "resnet18";
const INPUT: [usize; 4] = [1, 3, 112, 112];

/// Family name of the cases in the report.
pub const FAMILY: &str = "self-check";

/// The distinct self-checks of the fast paths of ResNet-18 at 112 px on `gpu` in its
/// precision (each shape class once).
pub fn network_checks(gpu: &Gpu) -> Result<Vec<Arc<FastPathCheck>>> {
    let g = passes::optimize(&crate::zoo::build(NETWORK, &INPUT)?)?;
    let plan = plan::lower(&g, gpu.target(), &PlanOptions::default())?;
    let mut out: Vec<Arc<FastPathCheck>> = Vec::new();
    for step in &plan.steps {
        let (Some(a), Op::Conv { spec, weight, .. }) = (&step.algorithm, &g.node(step.node).op)
        else {
            continue;
        };
        if !is_fast_path(a) {
            continue;
        }
        let input = g.shape(g.node(step.node).inputs[0]);
        let c = gpu
            .tuner()
            .fast_path_check(gpu, a, spec, input, weight.shape());
        if !out.iter().any(|o| Arc::ptr_eq(o, &c)) {
            out.push(c);
        }
    }
    Ok(out)
}

/// Runs the self-checks on `gpu` in f32, with `SHADER_F16` both f16 precisions, and with
/// tensor cores f32 with the opt-in; `filter` keeps cases whose family or name contains it.
pub fn cases(
    gpu: &Gpu,
    filter: Option<&str>,
    progress: &mut dyn FnMut(&CaseResult),
) -> Vec<CaseResult> {
    let adapter = gpu.describe();
    let mut out = Vec::new();
    let f32_tensor_cores = gpu.tensor_cores().map(|_| (Precision::F32, true));
    let variants = Precision::ALL
        .map(|p| (p, false))
        .into_iter()
        .chain(f32_tensor_cores);
    for (p, f32_tc) in variants {
        if p.is_f16() && !gpu.has_shader_f16() {
            continue;
        }
        let opt_in = if f32_tc { " f32-tensor-cores" } else { "" };
        let name = format!("{NETWORK} {INPUT:?} {p}{opt_in}");
        if filter.is_some_and(|f| !FAMILY.contains(f) && !name.contains(f)) {
            continue;
        }
        let checks = gpu
            .with_precision(p)
            .and_then(|g| network_checks(&g.with_f32_tensor_cores(f32_tc)));
        let rows = match checks {
            Ok(checks) => checks
                .iter()
                .map(|c| case(&adapter, format!("{name} {}", c.shape()), Some(c), None))
                .collect(),
            Err(e) => vec![case(&adapter, name, None, Some(e.to_string()))],
        };
        for r in rows {
            progress(&r);
            out.push(r);
        }
    }
    out
}

/// One check as a report case: family `self-check <algorithm>`, and when it failed, the
/// detail says the sessions on this adapter disable it.
fn case(
    adapter: &str,
    name: String,
    c: Option<&FastPathCheck>,
    error: Option<String>,
) -> CaseResult {
    let comparison = c.and_then(|c| c.comparison.clone()).unwrap_or_default();
    let passed = c.is_some_and(|c| c.passed());
    CaseResult {
        adapter: adapter.to_string(),
        family: match c {
            Some(c) => format!("{FAMILY} {}", c.family()),
            None => FAMILY.to_string(),
        },
        case: name,
        passed,
        max_abs: c.map_or(f64::NAN, |c| c.max_abs()),
        max_rel: comparison.max_rel,
        max_ulp: comparison.max_ulp,
        bad: comparison.bad,
        len: comparison.len,
        atol: c.map_or(f64::NAN, |c| c.bound.atol),
        rtol: c.map_or(f64::NAN, |c| c.bound.rtol),
        detail: match (c, error) {
            (_, Some(e)) => Some(e),
            (Some(c), None) if !passed => Some(format!("disabled in sessions: {c}")),
            _ => None,
        },
    }
}
