//! `wgconv bench`: suites of layers and networks, networks given as ONNX files or zoo names,
//! or one model at a list of shapes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::model::{self as cli_model, ModelSource};
use wgconv::bench::document::{self, SCHEMA_VERSION};
use wgconv::bench::{self, BenchOptions, Document, Memory, Metadata, NetworkResult, Stats, Suite};
use wgconv::traffic::Traffic;
use wgconv::{Gpu, Precision, Result};

use crate::args::{AdapterArgs, AutotuneArgs, parse_shapes};
use crate::write_file;

/// What `bench` writes and measures besides the latency.
pub(crate) struct BenchOutputs {
    pub(crate) json: Option<PathBuf>,
    pub(crate) csv: Option<PathBuf>,
    pub(crate) roofline: Option<PathBuf>,
    pub(crate) baseline: Option<PathBuf>,
    /// Per-launch GPU times of each network.
    pub(crate) profile: bool,
    /// Launches listed in the profile table.
    pub(crate) top: usize,
    /// Device bytes of each network.
    pub(crate) memory: bool,
}

fn read_suite(path: &str) -> Result<Suite> {
    let text = std::fs::read_to_string(path)
        .map_err(wgconv::Error::io("reading", std::path::Path::new(path)))?;
    Suite::parse(&text, path)
}

/// `wgconv bench [ITEMS...]`: each item a suite `.json`, an `.onnx` file or a zoo network
/// (none: the built-in suite).
pub(crate) fn bench_cmd(
    items: &[String],
    shapes: &[String],
    outputs: &BenchOutputs,
    mut opts: BenchOptions,
    precision: Precision,
    autotune: AutotuneArgs,
    adapter: &AdapterArgs,
) -> Result<String> {
    let (suite_items, networks): (Vec<&String>, Vec<&String>) =
        items.iter().partition(|i| i.ends_with(".json"));
    let suites: Vec<Suite> = if items.is_empty() {
        vec![Suite::builtin()]
    } else {
        suite_items
            .iter()
            .map(|p| read_suite(p))
            .collect::<Result<_>>()?
    };
    if let Some(unknown) = opts.skip.iter().find(|s| {
        !suites.iter().any(|suite| {
            suite.layers.iter().any(|l| &l.name == *s) || suite.models.iter().any(|m| &m.name == *s)
        })
    }) {
        return Err(wgconv::Error::InvalidSetting {
            name: "skip",
            value: unknown.clone(),
            reason: "no suite item has this name".into(),
        });
    }
    let shapes = parse_shapes(shapes)?;
    // A bad baseline fails before anything runs.
    let baseline = outputs
        .baseline
        .as_ref()
        .map(|p| document::read_baseline(p))
        .transpose()?;
    let gpu = Arc::new(adapter.gpu()?.with_precision(precision)?);
    opts.autotune = autotune.enabled(&gpu);
    let meta = Metadata::new(
        &gpu,
        opts.autotune,
        std::env::args().collect(),
        opts.warmup,
        opts.runs,
    );
    let mut text = format!(
        "precision: {precision}\nautotune: {}\n",
        if opts.autotune {
            "on (convolutions use the fastest configuration timed on this adapter)"
        } else {
            "off (heuristic configurations)"
        }
    );
    let suite = (!suites.is_empty())
        .then(|| run_suites(&gpu, &suites, &opts))
        .transpose()?;
    match &suite {
        // The suite's table names the adapter.
        Some(report) => text += &report.table(),
        None => text += &format!("adapter: {}\n", gpu.describe()),
    }
    if let (Some(report), Some(path)) = (&suite, &outputs.roofline) {
        write_file(path, &bench::roofline::svg(report))?;
    }
    let mut results = Vec::new();
    for name in networks {
        let r = bench_network(&gpu, name, &shapes, &opts, outputs)?;
        text += &network_text(&r, outputs.top);
        results.push(r);
    }
    let mut doc = Document {
        schema_version: SCHEMA_VERSION,
        meta,
        networks: results,
        suite,
        baseline: None,
    };
    if let (Some(old), Some(path)) = (&baseline, &outputs.baseline) {
        let rows = document::compare(&doc.times(), old);
        text += &document::baseline_table(&rows, &path.display().to_string());
        doc.baseline = Some(rows);
    }
    if let Some(path) = &outputs.json {
        let json = serde_json::to_string_pretty(&doc).expect("the document serializes");
        write_file(path, &json)?;
    }
    if let Some(path) = &outputs.csv {
        write_file(path, &doc.csv())?;
    }
    Ok(text)
}

/// Runs every suite, one report for all of them.
fn run_suites(gpu: &Gpu, suites: &[Suite], opts: &BenchOptions) -> Result<bench::Report> {
    let total: usize = suites.iter().map(|s| opts.selected(s).len()).sum();
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{pos}/{len} {wide_bar} {elapsed} {msg}")
            .expect("progress template"),
    );
    let mut all: Option<bench::Report> = None;
    for suite in suites {
        let report = bench::run(gpu, suite, opts, &mut |p| match p {
            bench::Progress::Started(name) => bar.set_message(name.to_string()),
            bench::Progress::Layer(_) | bench::Progress::Model(_) => bar.inc(1),
        })?;
        match &mut all {
            None => all = Some(report),
            Some(a) => {
                a.items.extend(report.items);
                a.models.extend(report.models);
                a.skipped.extend(report.skipped);
            }
        }
    }
    bar.finish_and_clear();
    Ok(all.expect("at least one suite"))
}

/// One network as `wgconv run --runs` times it, with its profile and memory when asked.
fn bench_network(
    gpu: &Arc<Gpu>,
    name: &str,
    shapes: &HashMap<String, Vec<usize>>,
    opts: &BenchOptions,
    outputs: &BenchOutputs,
) -> Result<NetworkResult> {
    let source = ModelSource::parse(name, None);
    let mut config = wgconv::SessionConfig {
        shared_gpu: Some(gpu.clone()),
        ..Default::default()
    };
    config.session.autotune = opts.autotune;
    let t0 = Instant::now();
    let session = cli_model::dynamic_session(&source, shapes, config)?;
    let sig = cli_model::shapes_by_input(&source, &session, shapes);
    let feed = cli_model::inputs_for(&session, &sig, &[], 1000)?;
    let plan = cli_model::plan_for_feed(&session, &feed)?;
    cli_model::time_runs(&session, &feed, 0, 1)?;
    let build_ms = t0.elapsed().as_secs_f64() * 1e3;
    let times = cli_model::time_runs(&session, &feed, opts.warmup, opts.runs.max(1))?;
    let stats = Stats::of(&times, cli_model::batch(&feed)).expect("at least one run");
    // The last run wrote the inputs these launches read.
    let host_ms = bench::time_pass(gpu, opts.warmup.min(1), opts.runs.max(1), false, &|pass| {
        plan.record(pass)
    })?
    .host_median_ms();
    let profile = outputs
        .profile
        .then(|| bench::profile(&plan, opts.warmup.min(1), opts.runs, opts.timestamps))
        .transpose()?;
    Ok(NetworkResult {
        name: name.to_string(),
        inputs: feed
            .iter()
            .map(|(n, t)| (n.clone(), t.shape().to_vec()))
            .collect(),
        dispatches: plan.dispatch_count(),
        traffic: Traffic::of(plan.graph(), plan.plan()),
        host_ms,
        build_ms,
        stats,
        profile,
        memory: outputs.memory.then(|| Memory::of(&plan)),
    })
}

fn network_text(r: &NetworkResult, top: usize) -> String {
    let inputs: Vec<String> = r.inputs.iter().map(|(n, s)| format!("{n}={s:?}")).collect();
    let mut s = format!(
        "\nnetwork: {} ({}; {} dispatches; {:.2} MB moved, minimum {:.2} MB, {:.2}x; encode + submit {:.3} ms; session build and first run {:.1} ms)\nlatency over {} runs (upload + kernels + readback): {}\n",
        r.name,
        inputs.join(" "),
        r.dispatches,
        r.traffic.moved.total() as f64 * 1e-6,
        r.traffic.minimum as f64 * 1e-6,
        r.traffic.ratio(),
        r.host_ms,
        r.build_ms,
        r.stats.runs,
        r.stats.line()
    );
    if let Some(m) = &r.memory {
        s += &m.line();
        s += "\n";
    }
    if let Some(p) = &r.profile {
        s += &p.table(top);
    }
    s
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
    let gpu = Arc::new(adapter.gpu()?.with_precision(precision)?);
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
        let t0 = Instant::now();
        cli_model::time_runs(&session, &feed, 0, 1)?;
        let plan_ms = t0.elapsed().as_secs_f64() * 1e3;
        let times = cli_model::time_runs(&session, &feed, opts.warmup, opts.runs.max(1))?;
        let stats = Stats::of(&times, cli_model::batch(&feed)).expect("at least one run");
        let described: Vec<String> = feed
            .iter()
            .map(|(n, t)| format!("{n}={:?}", t.shape()))
            .collect();
        lines.push(format!(
            "{:<40} {plan_ms:>10.1} {:>12.3} {:>12.3} {:>12.1}",
            described.join(" "),
            stats.p50_ms,
            stats.min_ms,
            stats.batch as f64 / (stats.p50_ms / 1e3)
        ));
    }
    let c = session.counters();
    lines.push(format!(
        "one session: {} plans built, {} cache hits, {} parameter bytes uploaded",
        c.plans_built, c.plan_hits, c.param_bytes_uploaded
    ));
    Ok(lines.join("\n"))
}
