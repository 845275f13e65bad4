//! `wgconv bench`: time every layer (and network) of a suite and report throughput.

mod layers;
pub mod peaks;
pub mod suite;
pub mod timer;

use serde::Serialize;

use crate::device::Gpu;
use crate::error::Result;
pub use layers::{PreparedLayer, prepare};
pub use peaks::Peak;
pub use suite::Suite;
pub use timer::{Clock, Timing, time_pass};

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
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            warmup: 5,
            runs: 20,
            peak: None,
            timestamps: true,
            filter: None,
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
    /// Per item.
    pub items: Vec<ItemResult>,
}

fn item_result(
    name: &str,
    kernel: &str,
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
        &timing,
        layer.flops,
        layer.bytes,
        peak,
    ))
}

/// Runs every layer of `suite` selected by `opts`, calling `progress` after each item.
pub fn run_layers(
    gpu: &Gpu,
    suite: &Suite,
    opts: &BenchOptions,
    progress: &mut dyn FnMut(&ItemResult),
) -> Result<Report> {
    let peak = opts
        .peak
        .or_else(|| peaks::lookup(&gpu.adapter_info().name));
    let mut items = Vec::new();
    for item in &suite.layers {
        if opts
            .filter
            .as_ref()
            .is_some_and(|f| !item.name.contains(f.as_str()))
        {
            continue;
        }
        let layer = prepare(gpu, item)?;
        let r = time_layer(gpu, &item.name, &layer, opts, peak)?;
        progress(&r);
        items.push(r);
    }
    Ok(Report {
        adapter: gpu.describe(),
        peak,
        items,
    })
}

impl Report {
    /// A fixed-width table.
    pub fn table(&self) -> String {
        let mut s = format!("adapter: {}\n", self.adapter);
        if let Some(p) = self.peak {
            s += &format!("peak: {:.0} GFLOP/s FP32, {:.0} GB/s\n", p.gflops, p.gbs);
        }
        s += &format!(
            "{:<20} {:<15} {:>10} {:>10} {:>10} {:>9} {:>7} {:>7}  clock\n",
            "item", "kernel", "median ms", "min ms", "GFLOP/s", "GB/s", "%flops", "%bw"
        );
        for r in &self.items {
            let pct = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
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
        s
    }
}
