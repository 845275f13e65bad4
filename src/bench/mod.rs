//! `wgconv bench`: time every layer (and network) of a suite and report throughput.

pub mod document;
mod layers;
mod memory;
pub mod models;
pub mod peaks;
pub mod profile;
pub mod roofline;
mod stats;
pub mod suite;

use serde::Serialize;

use crate::device::Gpu;
pub use crate::device::timer::{Clock, Timing, time_pass};
use crate::error::Result;
pub use document::{Document, Metadata, NetworkResult};
pub use layers::{PreparedLayer, prepare, prepare_with};
pub use memory::Memory;
pub use models::{ModelResult, model_graph, time_model};
pub use peaks::Peak;
pub use profile::{LaunchTime, Profile, profile};
pub use stats::Stats;
pub use suite::Suite;

/// How to run a suite.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Untimed runs before timing.
    pub warmup: usize,
    /// Timed runs (at least 20 for a meaningful median).
    pub runs: usize,
    /// Peak figures for "% of peak" (built-in table by adapter name when `None`).
    pub peak: Option<Peak>,
    /// Use GPU timestamps when the adapter has them.
    pub timestamps: bool,
    /// Only items whose name contains this.
    pub filter: Option<String>,
    /// Items with exactly these names are left out (and listed in the report).
    pub skip: Vec<String>,
    /// Run the suite's layers.
    pub layers: bool,
    /// Run the suite's models.
    pub models: bool,
    /// Convolutions (layers and inside networks) use the autotuner's choices
    /// ([`crate::tune`]); off, the heuristic's.
    pub autotune: bool,
}

impl BenchOptions {
    /// Whether the item called `name` passes `filter`.
    pub fn matches(&self, name: &str) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| name.contains(f.as_str()))
    }

    /// Whether `skip` names the item called `name`.
    pub fn skips(&self, name: &str) -> bool {
        self.skip.iter().any(|s| s == name)
    }

    /// Names of the items of `suite` that [`run`] times, layers then models.
    pub fn selected<'s>(&self, suite: &'s Suite) -> Vec<&'s str> {
        let layers = suite.layers.iter().map(|l| l.name.as_str());
        let models = suite.models.iter().map(|m| m.name.as_str());
        let layers = layers.filter(|_| self.layers);
        let models = models.filter(|_| self.models);
        layers
            .chain(models)
            .filter(|n| self.matches(n) && !self.skips(n))
            .collect()
    }
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            warmup: 5,
            runs: 20,
            peak: None,
            timestamps: true,
            filter: None,
            skip: Vec::new(),
            layers: true,
            models: true,
            autotune: false,
        }
    }
}

/// The result for one suite item.
#[derive(Clone, Debug, Serialize)]
pub struct ItemResult {
    /// Suite item name.
    pub name: String,
    /// Kernel (or "network") that ran.
    pub kernel: String,
    /// A convolution's configuration (`Debug` of its algorithm).
    pub algorithm: Option<String>,
    /// Median of the timed runs, ms.
    pub median_ms: f64,
    /// Fastest timed run, ms.
    pub min_ms: f64,
    /// Number of timed runs.
    pub runs: usize,
    /// Clock used.
    pub clock: Clock,
    /// GFLOP/s at the median time.
    pub gflops: f64,
    /// GB/s moved at the median time (minimum traffic: each tensor read or written once).
    pub gbs: f64,
    /// Percent of peak FP32 throughput, when the peak is known.
    pub pct_peak_flops: Option<f64>,
    /// Percent of peak memory bandwidth, when the peak is known.
    pub pct_peak_bw: Option<f64>,
}

/// A whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Adapter description.
    pub adapter: String,
    /// Peak figures used.
    pub peak: Option<Peak>,
    /// Per layer.
    pub items: Vec<ItemResult>,
    /// Per model.
    pub models: Vec<ModelResult>,
    /// Items selected by the filter but left out with `skip`.
    pub skipped: Vec<String>,
}

/// What [`run`] reports as it goes.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// An item is being prepared and timed.
    Started(&'a str),
    /// A layer is done.
    Layer(&'a ItemResult),
    /// A model is done.
    Model(&'a ModelResult),
}

fn item_result(
    name: &str,
    kernel: &str,
    algorithm: Option<String>,
    timing: &Timing,
    flops: f64,
    bytes: f64,
    peak: Option<Peak>,
) -> ItemResult {
    let median = timing.median_ms();
    let gflops = flops / (median * 1e-3) / 1e9;
    let gbs = bytes / (median * 1e-3) / 1e9;
    ItemResult {
        name: name.to_string(),
        kernel: kernel.to_string(),
        algorithm,
        median_ms: median,
        min_ms: timing.min_ms(),
        runs: timing.runs_ms.len(),
        clock: timing.clock,
        gflops,
        gbs,
        pct_peak_flops: peak
            .filter(|_| flops > 0.0)
            .map(|p| 100.0 * gflops / p.gflops),
        pct_peak_bw: peak.map(|p| 100.0 * gbs / p.gbs),
    }
}

/// Times one prepared layer.
pub fn time_layer(
    gpu: &Gpu,
    name: &str,
    layer: &PreparedLayer,
    opts: &BenchOptions,
    peak: Option<Peak>,
) -> Result<ItemResult> {
    let timing = time_pass(gpu, opts.warmup, opts.runs, opts.timestamps, &|pass| {
        for d in &layer.dispatches {
            d.record(pass);
        }
    })?;
    Ok(item_result(
        name,
        layer.kernel,
        layer.algorithm.clone(),
        &timing,
        layer.flops,
        layer.bytes,
        peak,
    ))
}

/// Runs every layer of `suite` selected by `opts` (ignoring `opts.layers` and `opts.models`),
/// calling `progress` after each item.
pub fn run_layers(
    gpu: &Gpu,
    suite: &Suite,
    opts: &BenchOptions,
    progress: &mut dyn FnMut(&ItemResult),
) -> Result<Report> {
    let opts = BenchOptions {
        layers: true,
        models: false,
        ..opts.clone()
    };
    run(gpu, suite, &opts, &mut |p| {
        if let Progress::Layer(r) = p {
            progress(r)
        }
    })
}

/// Runs the layers and then the models of `suite` selected by `opts`.
pub fn run(
    gpu: &Gpu,
    suite: &Suite,
    opts: &BenchOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Report> {
    let peak = opts
        .peak
        .or_else(|| peaks::lookup(&gpu.adapter_info().name));
    let mut report = Report {
        adapter: gpu.describe(),
        peak,
        items: Vec::new(),
        models: Vec::new(),
        skipped: Vec::new(),
    };
    for item in &suite.layers {
        if !opts.layers || !opts.matches(&item.name) {
            continue;
        }
        if opts.skips(&item.name) {
            report.skipped.push(item.name.clone());
            continue;
        }
        progress(Progress::Started(&item.name));
        let layer = prepare_with(gpu, item, opts.autotune)?;
        let r = time_layer(gpu, &item.name, &layer, opts, peak)?;
        progress(Progress::Layer(&r));
        report.items.push(r);
    }
    for item in &suite.models {
        if !opts.models || !opts.matches(&item.name) {
            continue;
        }
        if opts.skips(&item.name) {
            report.skipped.push(item.name.clone());
            continue;
        }
        progress(Progress::Started(&item.name));
        let r = time_model(gpu, item, opts, peak)?;
        progress(Progress::Model(&r));
        report.models.push(r);
    }
    Ok(report)
}

impl Report {
    /// Fixed-width tables: layers, then models.
    pub fn table(&self) -> String {
        let pct = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
        let mut s = format!("adapter: {}\n", self.adapter);
        if let Some(p) = self.peak {
            s += &format!("peak: {:.0} GFLOP/s FP32, {:.0} GB/s\n", p.gflops, p.gbs);
        }
        if !self.items.is_empty() {
            s += &format!(
                "{:<20} {:<15} {:>10} {:>10} {:>10} {:>9} {:>7} {:>7}  clock\n",
                "item", "kernel", "median ms", "min ms", "GFLOP/s", "GB/s", "%flops", "%bw"
            );
            for r in &self.items {
                s += &format!(
                    "{:<20} {:<15} {:>10.4} {:>10.4} {:>10.1} {:>9.1} {:>7} {:>7}  {:?}\n",
                    r.name,
                    r.kernel,
                    r.median_ms,
                    r.min_ms,
                    r.gflops,
                    r.gbs,
                    pct(r.pct_peak_flops),
                    pct(r.pct_peak_bw),
                    r.clock
                );
            }
        }
        if !self.models.is_empty() {
            if !self.items.is_empty() {
                s += "\n";
            }
            s += &format!(
                "{:<16} {:<14} {:>5} {:>9} {:>9} {:>6} {:>8} {:>8} {:>10} {:<14} {:<14} {:>10} {:>10} {:>9} {:>9} {:>7}  clock\n",
                "model",
                "input",
                "disp",
                "MB moved",
                "MB min",
                "x min",
                "host ms",
                "GMACs",
                "cold ms",
                "pipe cache",
                "autotune",
                "median ms",
                "min ms",
                "img/s",
                "GFLOP/s",
                "%flops"
            );
            for r in &self.models {
                s += &format!(
                    "{:<16} {:<14} {:>5} {:>9.2} {:>9.2} {:>6.2} {:>8.3} {:>8.3} {:>10.1} {:<14} {:<14} {:>10.3} {:>10.3} {:>9.2} {:>9.1} {:>7}  {:?}\n",
                    r.name,
                    shape_str(&r.input),
                    r.dispatches,
                    r.bytes as f64 * 1e-6,
                    r.min_bytes as f64 * 1e-6,
                    r.bytes_ratio,
                    r.host_ms,
                    r.macs as f64 * 1e-9,
                    r.cold_start_ms,
                    r.pipeline_cache.to_string(),
                    r.autotune_summary(),
                    r.median_ms,
                    r.min_ms,
                    r.images_per_s,
                    r.gflops,
                    pct(r.pct_peak_flops),
                    r.clock
                );
            }
        }
        if !self.skipped.is_empty() {
            s += &format!("skipped: {}\n", self.skipped.join(", "));
        }
        s
    }

    /// The same tables in Markdown (for READMEs).
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        if !self.items.is_empty() {
            s += "| layer | kernel | median ms | min ms | GFLOP/s | GB/s |\n";
            s += "|---|---|---:|---:|---:|---:|\n";
            for r in &self.items {
                s += &format!(
                    "| {} | {} | {:.3} | {:.3} | {:.2} | {:.2} |\n",
                    r.name, r.kernel, r.median_ms, r.min_ms, r.gflops, r.gbs
                );
            }
        }
        if !self.models.is_empty() {
            if !s.is_empty() {
                s += "\n";
            }
            s += "| model | input | dispatches | MB moved | MB minimum | x minimum | host ms | GMACs | cold start ms | pipeline cache | autotune | median ms | min ms | images/s | GFLOP/s |\n";
            s += "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|\n";
            for r in &self.models {
                s += &format!(
                    "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} | {:.0} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
                    r.name,
                    shape_str(&r.input),
                    r.dispatches,
                    r.bytes as f64 * 1e-6,
                    r.min_bytes as f64 * 1e-6,
                    r.bytes_ratio,
                    r.host_ms,
                    r.macs as f64 * 1e-9,
                    r.cold_start_ms,
                    r.pipeline_cache,
                    r.autotune_summary(),
                    r.median_ms,
                    r.min_ms,
                    r.images_per_s,
                    r.gflops
                );
            }
        }
        s
    }
}

fn shape_str(shape: &[usize]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}
