//! `wgconv bench`: the layer and model benchmark suite, or one model at a list of shapes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use crate::model::{self as cli_model, ModelSource};
use wgconv::bench::{self, BenchOptions, Suite};
use wgconv::{Precision, Result, Tensor};

use crate::args::{AdapterArgs, AutotuneArgs, parse_shapes};
use crate::write_file;

pub(crate) fn bench_cmd(
    suite: Option<PathBuf>,
    json: Option<PathBuf>,
    roofline: Option<PathBuf>,
    mut opts: BenchOptions,
    precision: Precision,
    autotune: AutotuneArgs,
    adapter: &AdapterArgs,
) -> Result<String> {
    let suite = match &suite {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| wgconv::Error::InvalidSetting {
                name: "suite",
                value: p.display().to_string(),
                reason: e.to_string(),
            })?;
            Suite::parse(&text, &p.display().to_string())?
        }
        None => Suite::builtin(),
    };
    if let Some(unknown) = opts.skip.iter().find(|s| {
        !suite.layers.iter().any(|l| &l.name == *s) && !suite.models.iter().any(|m| &m.name == *s)
    }) {
        return Err(wgconv::Error::InvalidSetting {
            name: "skip",
            value: unknown.clone(),
            reason: "no suite item has this name".into(),
        });
    }
    // Layers and sessions take their precision from the handle.
    let gpu = adapter.gpu()?.with_precision(precision)?;
    opts.autotune = autotune.enabled(&gpu);
    let bar = indicatif::ProgressBar::new(opts.selected(&suite).len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{pos}/{len} {wide_bar} {elapsed} {msg}")
            .expect("progress template"),
    );
    let report = bench::run(&gpu, &suite, &opts, &mut |p| match p {
        bench::Progress::Started(name) => bar.set_message(name.to_string()),
        bench::Progress::Layer(_) | bench::Progress::Model(_) => bar.inc(1),
    })?;
    bar.finish_and_clear();
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("report serializes");
        std::fs::write(&path, text).map_err(|e| wgconv::Error::InvalidSetting {
            name: "json",
            value: path.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    if let Some(path) = roofline {
        write_file(&path, "roofline", &bench::roofline::svg(&report))?;
    }
    let mut table = format!("precision: {precision}\n{}", report.table());
    table += &format!(
        "autotune: {}\n",
        if opts.autotune {
            "on (convolutions use the fastest configuration timed on this adapter)"
        } else {
            "off (heuristic configurations)"
        }
    );
    Ok(table)
}

/// `--shape` arguments as a list of signatures: a name met again starts the next one, so
/// `--shape x=1x3x224x224 --shape x=8x3x224x224` is two.
fn signatures(shapes: &[String]) -> Result<Vec<HashMap<String, Vec<usize>>>> {
    let mut out: Vec<HashMap<String, Vec<usize>>> = vec![HashMap::new()];
    for s in shapes {
        let (name, shape) = parse_shapes(std::slice::from_ref(s))?
            .into_iter()
            .next()
            .expect("one shape parsed");
        if out.last().expect("non-empty").contains_key(&name) {
            out.push(HashMap::new());
        }
        out.last_mut().expect("non-empty").insert(name, shape);
    }
    Ok(out)
}

/// `wgconv bench --model M --shape ...`: one session runs the model at every listed shape;
/// each gets its planning time (first run, plan built) and its latency over `runs` runs.
pub(crate) fn bench_model_cmd(
    model: &str,
    shapes: &[String],
    opts: &BenchOptions,
    precision: Precision,
    autotune: AutotuneArgs,
    adapter: &AdapterArgs,
) -> Result<String> {
    let gpu = std::sync::Arc::new(adapter.gpu()?.with_precision(precision)?);
    let mut config = wgconv::SessionConfig {
        shared_gpu: Some(gpu.clone()),
        ..Default::default()
    };
    config.session.autotune = autotune.enabled(&gpu);
    let sigs = signatures(shapes)?;
    let source = ModelSource::parse(model, None);
    let session = cli_model::dynamic_session(&source, &sigs[0], config)?;
    let mut lines = vec![
        format!("model: {model}"),
        format!("adapter: {}", gpu.describe()),
        format!("precision: {precision}"),
        format!(
            "{:<40} {:>10} {:>12} {:>12} {:>12}",
            "input shapes", "plan ms", "median ms", "min ms", "items/s"
        ),
    ];
    for (i, sig) in sigs.iter().enumerate() {
        let sig = cli_model::shapes_by_input(&source, &session, sig);
        let feed = cli_model::inputs_for(&session, &sig, &[], 7 + i as u64)?;
        let refs: Vec<(&str, &Tensor)> = feed.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let t0 = Instant::now();
        session.run_named(&refs)?;
        let plan_ms = t0.elapsed().as_secs_f64() * 1e3;
        for _ in 0..opts.warmup {
            session.run_named(&refs)?;
        }
        let mut times = Vec::with_capacity(opts.runs);
        for _ in 0..opts.runs.max(1) {
            let t = Instant::now();
            session.run_named(&refs)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        // Items: the leading dimension of the first input (the batch).
        let batch = feed
            .first()
            .and_then(|(_, t)| t.shape().first().copied())
            .unwrap_or(1);
        let described: Vec<String> = feed
            .iter()
            .map(|(n, t)| format!("{n}={:?}", t.shape()))
            .collect();
        lines.push(format!(
            "{:<40} {plan_ms:>10.1} {median:>12.3} {:>12.3} {:>12.1}",
            described.join(" "),
            times[0],
            batch as f64 / (median / 1e3)
        ));
    }
    let c = session.counters();
    lines.push(format!(
        "one session: {} plans built, {} cache hits, {} parameter bytes uploaded",
        c.plans_built, c.plan_hits, c.param_bytes_uploaded
    ));
    Ok(lines.join("\n"))
}
