//! Shared by the criterion benches: the device, criterion settings, one timed submission.

// Each bench target uses a different part of this module.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use wgconv::device::Dispatch;
use wgconv::{Gpu, GpuOptions};

/// The adapter (`WGCONV_BACKEND` / `WGCONV_ADAPTER` pick it, as everywhere).
pub fn gpu() -> Gpu {
    let gpu = GpuOptions::from_env()
        .and_then(|o| Gpu::with_options(&o))
        .expect("benchmarks need a GPU adapter (or lavapipe)");
    eprintln!("bench adapter: {}", gpu.describe());
    gpu
}

/// Settings for GPU work that takes from microseconds (real GPU) to a second (lavapipe):
/// flat sampling (every sample runs the same number of iterations, so a slow item is not run
/// 55 times as linear sampling would), 10 samples, short warm-up. `--quick` stops as soon as
/// the estimate is stable, at most `measure` per item. Command-line options win.
pub fn criterion(measure: Duration) -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(measure)
        .configure_from_args()
}

/// Group settings (criterion takes sampling mode per group).
pub fn flat(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group.sampling_mode(SamplingMode::Flat);
}

/// Records `dispatches` into one compute pass, submits and waits for the queue: one
/// inference-style launch. Raw wgpu calls, no error scopes, so the host overhead measured is
/// what a session adds (errors still surface through the device's uncaptured-error handler).
pub fn submit_and_wait(gpu: &Gpu, dispatches: &[Dispatch]) {
    let mut enc = gpu
        .device()
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("bench"),
        });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        for d in dispatches {
            d.record(&mut pass);
        }
    }
    gpu.queue().submit([enc.finish()]);
    gpu.wait_idle().expect("queue wait");
}

/// Wall time of `iters` calls of `f` (for `iter_custom`).
pub fn time_iters(iters: u64, mut f: impl FnMut()) -> Duration {
    let t0 = Instant::now();
    for _ in 0..iters {
        f();
    }
    t0.elapsed()
}
