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

#[allow(clippy::too_many_arguments)]
pub(crate) fn run_cmd(
    model: &str,
    inputs: &[String],
    shapes: &[String],
    weights: Option<&PathBuf>,
    output_dir: Option<&PathBuf>,
    runs: usize,
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
    let mut times = Vec::new();
    for _ in 0..runs {
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
    ];
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
        report.push(format!(
            "latency over {} runs (upload + kernels + readback): median {:.3} ms, min {:.3} ms",
            times.len(),
            times[times.len() / 2],
            times[0]
        ));
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
    }
    Ok(report.join("\n"))
}
