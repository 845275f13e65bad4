//! `wgconv run`: a model on the GPU, its outputs written as `.npy` files.

use std::path::PathBuf;
use std::time::Instant;

use crate::model::{self as cli_model, ModelSource};
use wgconv::tune::GpuTuner;
use wgconv::{Precision, Result, Tensor};

use crate::args::{AdapterArgs, AutotuneArgs, parse_shapes};

/// File-name-safe version of an output name (ONNX names contain '/' and ':').
pub(crate) fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// How `run` times the model and reads its outputs.
pub(crate) struct RunOptions {
    /// Timed runs after the first (0: run once).
    pub(crate) runs: usize,
    /// Untimed runs before the timed ones.
    pub(crate) warmup: usize,
    /// Threads sharing the timed runs (1: one run at a time).
    pub(crate) in_flight: usize,
    /// Print the top K classes of each classifier-shaped output.
    pub(crate) top_k: Option<usize>,
    /// Class names, one per line.
    pub(crate) labels: Option<PathBuf>,
}

/// The top `k` classes of every row of a `[N, classes]` (or `[classes]`) output, after a
/// softmax over the row.
fn top_k(name: &str, t: &Tensor, k: usize, labels: &[String]) -> Vec<String> {
    let classes = *t.shape().last().unwrap_or(&0);
    if classes == 0 || t.shape().len() > 2 {
        return vec![format!(
            "output {name:?}: shape {:?} is not [N, classes]; no top-k",
            t.shape()
        )];
    }
    let mut lines = Vec::new();
    for (row, logits) in t.data().chunks(classes).enumerate() {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f64> = logits.iter().map(|&v| f64::from(v - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        let mut order: Vec<usize> = (0..classes).collect();
        order.sort_by(|&a, &b| exps[b].total_cmp(&exps[a]));
        for (rank, &c) in order.iter().take(k).enumerate() {
            let label = labels.get(c).map_or(String::new(), |l| format!(" {l}"));
            lines.push(format!(
                "output {name:?} item {row} top {}: class {c}{label} p={:.4}",
                rank + 1,
                exps[c] / sum
            ));
        }
    }
    lines
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn run_cmd(
    model: &str,
    inputs: &[String],
    shapes: &[String],
    weights: Option<&PathBuf>,
    output_dir: Option<&PathBuf>,
    timing: &RunOptions,
    precision: Precision,
    autotune: AutotuneArgs,
    adapter: &AdapterArgs,
) -> Result<String> {
    let shape_map = parse_shapes(shapes)?;
    let mut given = Vec::new();
    for a in inputs {
        let (name, file) = cli_model::split_assignment("input", a)?;
        given.push((
            name.to_string(),
            wgconv::npy::read(std::path::Path::new(file))?,
        ));
    }
    let labels: Vec<String> = match &timing.labels {
        Some(p) => std::fs::read_to_string(p)
            .map_err(wgconv::Error::io("reading labels from", p))?
            .lines()
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    };
    let source = ModelSource::parse(model, weights.map(|p| p.as_path()));
    let gpu = std::sync::Arc::new(adapter.gpu()?.with_precision(precision)?);
    let tune = autotune.enabled(&gpu);
    let mut config = wgconv::SessionConfig {
        shared_gpu: Some(gpu.clone()),
        ..Default::default()
    };
    config.session.autotune = tune;
    let t0 = Instant::now();
    let session = cli_model::dynamic_session(&source, &shape_map, config)?;
    let shape_map = cli_model::shapes_by_input(&source, &session, &shape_map);
    let feed = cli_model::inputs_for(&session, &shape_map, &given, 1000)?;
    let refs: Vec<(&str, &Tensor)> = feed.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let plan = cli_model::plan_for_feed(&session, &feed)?;
    let build_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    let outputs = session.run_named(&refs)?;
    let first_ms = t1.elapsed().as_secs_f64() * 1e3;
    let times = cli_model::time_runs(&session, &feed, timing.warmup, timing.runs)?;
    let in_flight = (timing.in_flight > 1 && timing.runs > 0)
        .then(|| cli_model::time_in_flight(&session, &feed, timing.runs, timing.in_flight))
        .transpose()?;
    let mut report = vec![
        format!("model: {model}"),
        format!("adapter: {}", gpu.describe()),
        format!("precision: {precision}"),
        format!(
            "session build {build_ms:.1} ms; first run {first_ms:.2} ms; {} dispatches, 1 submit per run",
            plan.dispatch_count()
        ),
        format!("pipeline cache: {}", gpu.pipeline_cache_state()),
        format!(
            "self-check: {} fast paths checked, {} disabled",
            plan.self_checks().len(),
            plan.disabled_fast_paths().len()
        ),
    ];
    // No logger in the library: the CLI says why a node runs the plain kernel.
    report.extend(
        plan.disabled_fast_paths()
            .iter()
            .map(|c| format!("  fast path {c}")),
    );
    if tune {
        let t = gpu.tuner().stats();
        report.push(format!(
            "autotune: on ({} shapes timed in {} runs, {} from the cache)",
            t.tuned, t.timing_runs, t.cache_hits
        ));
    } else {
        report.push("autotune: off (heuristic choices)".into());
    }
    if let Some(stats) = wgconv::bench::Stats::of(&times, cli_model::batch(&feed)) {
        report.push(format!(
            "latency over {} runs (upload + kernels + readback): {}",
            stats.runs,
            stats.line()
        ));
        if let Some(wall_ms) = in_flight {
            let images = (timing.runs * cli_model::batch(&feed)) as f64;
            report.push(format!(
                "throughput with {} runs in flight: {:.1} items/s over {} runs ({:.1} items/s one at a time)",
                timing.in_flight,
                images / (wall_ms * 1e-3),
                timing.runs,
                stats.items_per_s
            ));
        }
    }
    if let Some(dir) = output_dir {
        std::fs::create_dir_all(dir)
            .map_err(wgconv::Error::io("creating the output folder", dir))?;
    }
    for (name, t) in &outputs {
        let (lo, hi) = t
            .data()
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let mut line = format!(
            "output {name:?}: shape {:?}, min {lo:.4}, max {hi:.4}",
            t.shape()
        );
        if let Some(dir) = output_dir {
            let path = dir.join(format!("{}.npy", file_stem(name)));
            wgconv::npy::write(&path, t)?;
            line += &format!(" -> {}", path.display());
        }
        report.push(line);
        if let Some(k) = timing.top_k {
            report.extend(top_k(name, t, k, &labels));
        }
    }
    Ok(report.join("\n"))
}
