//! The built-in default job (`cargo run --release`, `wgconv` without a subcommand): build a
//! zoo network, run it on the GPU through a [`Session`] on a generated input, and check it
//! against the CPU reference running the unoptimized graph.

use std::time::Instant;

use wgconv::compare::compare;
use wgconv::device::{Gpu, GpuOptions};
use wgconv::error::Result;
use wgconv::graph::cpu;
use wgconv::session::Session;
use wgconv::summary::{Summary, thousands};
use wgconv::tensor::Tensor;
use wgconv::{weights, zoo};

/// The default network and input: ResNet-18 at 112 x 112 (a quarter of ImageNet's pixels, so
/// the CPU reference takes a second or two).
pub(crate) const DEFAULT_NETWORK: &str = "resnet18";
/// `[N, C, H, W]` of the default run.
pub(crate) const DEFAULT_INPUT: [usize; 4] = [1, 3, 112, 112];

const MIB: f64 = 1024.0 * 1024.0;

/// Runs the default job and returns a human-readable report.
pub(crate) fn run_default() -> Result<String> {
    run_network(DEFAULT_NETWORK, &DEFAULT_INPUT, 5)
}

/// Builds `name` for `input`, initialises it (seeded weights, BatchNorm calibrated on the
/// generated input), runs it `runs` times on the GPU and once on the CPU reference, and
/// reports. An output outside the tolerance is reported as FAIL (and is an error).
pub(crate) fn run_network(name: &str, input: &[usize], runs: usize) -> Result<String> {
    let gpu = Gpu::with_options(&GpuOptions::from_env()?)?;
    let mut lines = Vec::new();
    let mut g = zoo::build(name, input)?;
    weights::init_seeded(&mut g, 0);
    let x = Tensor::random(input.to_vec(), 42);
    weights::calibrate_batch_norm(&mut g, std::slice::from_ref(&x))?;
    let summary = Summary::of(&g);
    lines.push(format!(
        "network: {name}, input {input:?}, {} parameters, {:.3} GMAC (seeded weights, BatchNorm calibrated)",
        thousands(summary.total_params as u64),
        summary.total_macs as f64 / 1e9
    ));
    lines.push(format!("adapter: {}", gpu.describe()));

    let t = Instant::now();
    let session = Session::new(&gpu, &g)?;
    let build_ms = t.elapsed().as_secs_f64() * 1e3;
    let plan = session.plan();
    lines.push(format!(
        "graph: {} nodes -> {} after fusion, {} dispatches per run, one submit",
        g.nodes().len(),
        session.graph().nodes().len(),
        session.dispatch_count()
    ));
    lines.push(format!(
        "memory: activations {:.2} MiB in {} buffers (one buffer per tensor: {:.2} MiB), parameters {:.2} MiB",
        plan.arena_bytes as f64 / MIB,
        plan.buffers.len(),
        plan.naive_bytes as f64 / MIB,
        plan.param_bytes as f64 / MIB
    ));

    let inputs = [x];
    let t = Instant::now();
    let got = session.run(&inputs)?;
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    for _ in 0..runs {
        session.run(&inputs)?;
    }
    let mean_ms = t.elapsed().as_secs_f64() * 1e3 / runs.max(1) as f64;
    let gflops = 2.0 * summary.total_macs as f64 / (mean_ms * 1e-3) / 1e9;
    lines.push(format!(
        "time: session built in {build_ms:.1} ms; first run {first_ms:.2} ms; mean of {runs} runs {mean_ms:.2} ms ({gflops:.1} GFLOP/s, upload and readback included)"
    ));

    let t = Instant::now();
    let values = cpu::run_all(&g, &inputs)?;
    let cpu_s = t.elapsed().as_secs_f64();
    let want = values[g.outputs()[0].0].clone().expect("output computed");
    let tol = cpu::network_tolerance(&g, &values);
    let c = compare(got[0].data(), want.data(), tol);
    lines.push(format!(
        "check: CPU reference (unoptimized graph, f64 accumulation) in {cpu_s:.2} s; max abs err {:.2e}, max rel err {:.2e}; tolerance {:.2e} + {:.0e}*|ref|: {}",
        c.max_abs,
        c.max_rel,
        tol.atol,
        tol.rtol,
        if c.passed() { "ok" } else { "FAIL" }
    ));
    let mut top: Vec<(usize, f32)> = got[0].data().iter().copied().enumerate().collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top: Vec<String> = top
        .iter()
        .take(5)
        .map(|(i, v)| format!("{i} ({v:.3})"))
        .collect();
    lines.push(format!(
        "top-5 output indices (random weights, so no meaning): {}",
        top.join(", ")
    ));
    let report = lines.join("\n");
    if !c.passed() {
        return Err(wgconv::Error::invalid_op(
            "demo",
            format!("{report}\nthe GPU result is outside tolerance: {c}"),
        ));
    }
    Ok(report)
}
