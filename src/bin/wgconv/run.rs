//! `wgconv run`: a model on the GPU, its outputs written as `.npy` files.

use std::path::PathBuf;
use std::time::Instant;

use wgconv::cli_model::{self, ModelSource};
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
    /// Print the top K classes of each classifier-shaped output.
    pub(crate) top_k: Option<usize>,
    /// Class names, one per line.
    pub(crate) labels: Option<PathBuf>,
}

/// Latency statistics of `times` (ms), with throughput at `batch` items per run.
fn statistics(times: &mut [f64], batch: usize) -> String {
    let n = times.len() as f64;
    let mean = times.iter().sum::<f64>() / n;
    let stddev = (times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n).sqrt();
    // Nearest-rank percentiles.
    let pct = |p: f64| times[((p / 100.0 * n).ceil() as usize).clamp(1, times.len()) - 1];
    format!(
        "latency over {} runs (upload + kernels + readback): mean {mean:.3} ms, stddev {stddev:.3} ms, min {:.3} ms, p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms; throughput {:.1} items/s at batch {batch}",
        times.len(),
        times[0],
        pct(50.0),
        pct(90.0),
        pct(99.0),
        batch as f64 / (mean / 1e3)
    )
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
            .map_err(|e| wgconv::Error::InvalidSetting {
                name: "labels",
                value: p.display().to_string(),
                reason: e.to_string(),
            })?
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
    let planned: Vec<&Tensor> = session
        .inputs()
        .iter()
        .map(|i| &feed.iter().find(|(n, _)| *n == i.name).expect("fed").1)
        .collect();
    let plan = session.plan_for(&planned)?;
    let build_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    let outputs = session.run_named(&refs)?;
    let first_ms = t1.elapsed().as_secs_f64() * 1e3;
    // Warm-up only matters before timed runs.
    if timing.runs > 0 {
        for _ in 0..timing.warmup {
            session.run_named(&refs)?;
        }
    }
    let mut times = Vec::new();
    for _ in 0..timing.runs {
        let t = Instant::now();
        session.run_named(&refs)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
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
    if !times.is_empty() {
        let batch = feed
            .first()
            .and_then(|(_, t)| t.shape().first().copied())
            .unwrap_or(1);
        report.push(statistics(&mut times, batch));
    }
    if let Some(dir) = output_dir {
        std::fs::create_dir_all(dir).map_err(|e| wgconv::Error::InvalidSetting {
            name: "output-dir",
            value: dir.display().to_string(),
            reason: e.to_string(),
        })?;
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
