//! Timing a suite model: a zoo network with seeded weights, run by a [`Session`].
//!
//! Two figures per network, kept apart because they answer different questions:
//! - cold start: [`Session::new`] on a fresh device (empty in-memory pipeline table) until its
//!   parameter upload has finished: graph passes, plan, buffers, shader compilation, upload.
//!   The report says whether wgpu's pipeline cache file was loaded (`pipeline_cache`: off,
//!   cold, warm); driver-level shader caches (Mesa's, NVIDIA's) may still be warm, outside
//!   wgconv's control (`MESA_SHADER_CACHE_DISABLE=true` turns Mesa's off).
//! - steady state: the session's dispatches recorded into one compute pass, timed with GPU
//!   timestamps (wall time of submit + wait where the adapter has none), inputs uploaded once
//!   beforehand and no readback: the kernels alone, as for single layers.

use std::time::Instant;

use serde::Serialize;

use crate::device::Gpu;
use crate::device::cache::PipelineCacheState;
use crate::error::Result;
use crate::graph::Graph;
use crate::session::{Session, SessionOptions};
use crate::tensor::Tensor;
use crate::traffic::Traffic;
use crate::tune::TuneStats;

use super::suite::ModelItem;
use super::{BenchOptions, Peak};
use crate::device::timer::{Clock, time_pass};
use crate::tune::GpuTuner;

/// Seed of the parameters of every suite model ([`crate::weights::init_seeded`]); speed does
/// not depend on it, results of a run do.
pub const MODEL_SEED: u64 = 7;

/// The result for one suite model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelResult {
    /// Suite entry name.
    pub name: String,
    /// Zoo network.
    pub model: String,
    /// Input shape `[N, C, H, W]`.
    pub input: Vec<usize>,
    /// Kernel launches per forward pass (after fusion).
    pub dispatches: usize,
    /// Parameters.
    pub params: usize,
    /// Multiply-accumulates of one forward pass of the whole batch (of the graph before
    /// fusion, the usual published figure; elementwise work not counted).
    pub macs: u64,
    /// Session creation on a fresh device, parameter upload included, ms.
    pub cold_start_ms: f64,
    /// Pipelines compiled during that session creation.
    pub pipelines_compiled: usize,
    /// What the fresh device's wgpu pipeline cache started from.
    pub pipeline_cache: PipelineCacheState,
    /// Whether the session was autotuned ([`crate::tune`]).
    pub autotune: bool,
    /// What the autotuner did during that session creation (its timing is part of the cold
    /// start): shapes timed, shapes found in the cache file, timing runs.
    pub tuning: TuneStats,
    /// Bytes one forward pass moves: per launch each distinct byte range it binds, read or
    /// written once ([`crate::traffic`]), summed over launches; the roofline's traffic figure.
    pub bytes: u64,
    /// The part of `bytes` read.
    pub bytes_read: u64,
    /// The part of `bytes` written.
    pub bytes_written: u64,
    /// The least any plan of the fused graph moves ([`crate::traffic::minimum`]).
    pub min_bytes: u64,
    /// `bytes / min_bytes`.
    pub bytes_ratio: f64,
    /// Median host time to record one run's launches into an encoder and submit it, ms (the
    /// GPU's execution excluded).
    pub host_ms: f64,
    /// Median forward pass, ms.
    pub median_ms: f64,
    /// Fastest forward pass, ms.
    pub min_ms: f64,
    /// Number of timed runs.
    pub runs: usize,
    /// Clock used.
    pub clock: Clock,
    /// Images per second at the median time (batch / median).
    pub images_per_s: f64,
    /// 2 * MACs / median, GFLOP/s.
    pub gflops: f64,
    /// Percent of peak FP32 throughput, when the peak is known.
    pub pct_peak_flops: Option<f64>,
}

/// The network of a suite model: `item.zoo_name()` for `item.input`, parameters filled from
/// [`MODEL_SEED`]. Benchmarks (criterion's included) build networks through this.
pub fn model_graph(item: &ModelItem) -> Result<Graph> {
    let mut g = crate::zoo::build(item.zoo_name(), &item.input)?;
    crate::weights::init_seeded(&mut g, MODEL_SEED);
    Ok(g)
}

/// Seeded random inputs of the session's input shapes.
pub fn model_inputs(session: &Session<'_>) -> Vec<Tensor> {
    session
        .inputs()
        .into_iter()
        .enumerate()
        .map(|(i, (_, shape))| Tensor::random(shape, 1000 + i as u64))
        .collect()
}

/// Builds and times one suite model on a fresh device of `gpu`'s adapter.
pub fn time_model(
    gpu: &Gpu,
    item: &ModelItem,
    opts: &BenchOptions,
    peak: Option<Peak>,
) -> Result<ModelResult> {
    let graph = model_graph(item)?;
    let macs = graph.macs();
    let params = graph.parameter_count();
    let batch = item.input.first().copied().unwrap_or(1).max(1);

    let fresh = gpu.fresh_device()?;
    let pipeline_cache = fresh.pipeline_cache_state();
    let t0 = Instant::now();
    let options = SessionOptions {
        autotune: opts.autotune,
        ..Default::default()
    };
    let session = Session::with_options(&fresh, &graph, options)?;
    // Parameter writes are queued by `Session::new`; a cold start ends when they have landed.
    fresh.wait_idle()?;
    let cold_start_ms = t0.elapsed().as_secs_f64() * 1e3;
    let pipelines_compiled = fresh.pipeline_cache().len();

    session.write_inputs(&model_inputs(&session))?;
    let timing = time_pass(&fresh, opts.warmup, opts.runs, opts.timestamps, &|pass| {
        session.record(pass)
    })?;
    let median = timing.median_ms();
    let traffic = Traffic::of(session.graph(), session.plan());
    let gflops = 2.0 * macs as f64 / (median * 1e-3) / 1e9;
    Ok(ModelResult {
        name: item.name.clone(),
        model: item.zoo_name().to_string(),
        input: item.input.clone(),
        dispatches: session.dispatch_count(),
        params,
        macs,
        cold_start_ms,
        pipelines_compiled,
        pipeline_cache,
        autotune: opts.autotune,
        tuning: if opts.autotune {
            fresh.tuner().stats()
        } else {
            TuneStats::default()
        },
        bytes: traffic.moved.total(),
        bytes_read: traffic.moved.read,
        bytes_written: traffic.moved.written,
        min_bytes: traffic.minimum,
        bytes_ratio: traffic.ratio(),
        host_ms: timing.host_median_ms(),
        median_ms: median,
        min_ms: timing.min_ms(),
        runs: timing.runs_ms.len(),
        clock: timing.clock,
        images_per_s: batch as f64 / (median * 1e-3),
        gflops,
        pct_peak_flops: peak.filter(|_| macs > 0).map(|p| 100.0 * gflops / p.gflops),
    })
}

impl ModelResult {
    /// `off`, or the shapes timed and found cached during session creation (`3 timed, 9 cached`).
    pub fn autotune_summary(&self) -> String {
        if self.autotune {
            format!(
                "{} timed, {} cached",
                self.tuning.tuned, self.tuning.cache_hits
            )
        } else {
            "off".into()
        }
    }
}
