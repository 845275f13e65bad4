//! Fast paths checked where they run: before a session uses a fast convolution algorithm
//! (split-K, Winograd) on a node, the device's self-check of that configuration, precision and
//! shape class must pass ([`crate::tune::self_check`]; run once per device). A node whose check
//! fails is planned again with the plain single-dispatch kernel, and the session keeps the
//! reason ([`Session::disabled_fast_paths`]).

use std::sync::Arc;

use super::Session;
use crate::device::Gpu;
use crate::error::Result;
use crate::graph::{Graph, NodeId, Op};
use crate::kernels::algorithm;
use crate::plan::{self, Plan, PlanOptions};
use crate::tune::{FastPathCheck, GpuTuner, is_fast_path};

/// A fast path a session's node relies on, and its self-check.
#[derive(Clone, Debug)]
pub struct NodeCheck {
    /// The node (in [`Session::graph`]).
    pub node: NodeId,
    /// Its name.
    pub name: String,
    /// The check of the algorithm the plan chose for it.
    pub check: Arc<FastPathCheck>,
}

impl std::fmt::Display for NodeCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.check.passed() {
            "passed"
        } else {
            "disabled (plain kernel used)"
        };
        write!(f, "node {:?}: {verdict}: {}", self.name, self.check)
    }
}

/// Checks every fast path `plan` uses; when one fails, lowers `graph` again with those nodes
/// on their single-dispatch algorithm. Returns the plan to run and every check it relied on
/// (the failed ones included).
pub(super) fn checked_plan(
    gpu: &Gpu,
    graph: &Graph,
    plan: Plan,
    options: &PlanOptions,
) -> Result<(Plan, Vec<NodeCheck>)> {
    let tuner = gpu.tuner();
    let mut checks = Vec::new();
    let mut fallback = options.algorithms.clone();
    for step in &plan.steps {
        let (Some(a), Op::Conv { spec, weight, .. }) = (&step.algorithm, &graph.node(step.node).op)
        else {
            continue;
        };
        if !is_fast_path(a) {
            continue;
        }
        let node = graph.node(step.node);
        let input = graph.shape(node.inputs[0]);
        let check = tuner.fast_path_check(gpu, a, spec, input, weight.shape());
        if !check.passed() {
            fallback.insert(
                step.node,
                algorithm::single_pass(spec, input, weight.shape()),
            );
        }
        checks.push(NodeCheck {
            node: step.node,
            name: node.name.clone(),
            check,
        });
    }
    if checks.iter().all(|c| c.check.passed()) {
        return Ok((plan, checks));
    }
    for failed in checks.iter().filter(|c| !c.check.passed()) {
        log::warn!("fast path self-check on {}: {failed}", gpu.describe());
    }
    let options = PlanOptions {
        algorithms: fallback,
        ..options.clone()
    };
    Ok((plan::lower(graph, gpu.target(), &options)?, checks))
}

/// Why `gpu`'s f32 tensor-core opt-in changes nothing (logged), or `None` when it is off,
/// in effect, or the precision is f16.
pub(super) fn tensor_core_note(gpu: &Gpu) -> Option<String> {
    if gpu.precision().is_f16() || !gpu.f32_tensor_cores() || gpu.uses_tensor_cores() {
        return None;
    }
    let note = format!(
        "f32 tensor cores requested, but {} offers no cooperative-matrix configuration the \
         tensor-core kernel serves (16x16x16 f16 x f16 + f32 at one subgroup size, with \
         subgroups and shader-f16) or tensor cores are off: plain f32 kernels",
        gpu.describe()
    );
    log::info!("{note}");
    Some(note)
}

impl Session<'_> {
    /// Why the f32 tensor-core opt-in ([`crate::SessionOptions::f32_tensor_cores`]) had no
    /// effect on this session's device, if it had none.
    pub fn tensor_core_note(&self) -> Option<&str> {
        self.tensor_core_note.as_deref()
    }

    /// Every fast path this session's plan relied on, with its self-check (empty when
    /// [`crate::SessionOptions::self_check`] is off or no node uses one).
    pub fn self_checks(&self) -> &[NodeCheck] {
        &self.self_checks
    }

    /// The fast paths that failed their self-check on this device: those nodes run the plain
    /// kernel instead.
    pub fn disabled_fast_paths(&self) -> Vec<&NodeCheck> {
        self.self_checks
            .iter()
            .filter(|c| !c.check.passed())
            .collect()
    }
}
