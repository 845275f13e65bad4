//! Timing GPU work: timestamp queries around one compute pass where the adapter has them,
//! otherwise wall time of submit + queue wait.

use std::time::Instant;

use crate::device::Gpu;
use crate::error::{Error, Result};

/// How a duration was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// GPU timestamps written at the start and end of the compute pass.
    GpuTimestamps,
    /// Host wall time around submit and a blocking queue wait (includes submission overhead).
    WallTime,
}

impl Clock {
    /// The name reports use (as in JSON): `gpu_timestamps` or `wall_time`.
    pub fn name(self) -> &'static str {
        match self {
            Clock::GpuTimestamps => "gpu_timestamps",
            Clock::WallTime => "wall_time",
        }
    }
}

/// Durations of repeated runs, in milliseconds.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Timing {
    /// Which clock measured them.
    pub clock: Clock,
    /// One entry per timed run (warm-up runs excluded).
    pub runs_ms: Vec<f64>,
    /// Per timed run, host time from creating the command encoder until `submit` returned:
    /// recording the launches and submitting them, not the GPU's execution.
    pub host_ms: Vec<f64>,
}

/// Median of `v` (NaN when empty).
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

impl Timing {
    /// Median run.
    pub fn median_ms(&self) -> f64 {
        median(&self.runs_ms)
    }

    /// Median host time to record and submit one run.
    pub fn host_median_ms(&self) -> f64 {
        median(&self.host_ms)
    }

    /// Fastest run.
    pub fn min_ms(&self) -> f64 {
        self.runs_ms.iter().copied().fold(f64::INFINITY, f64::min)
    }
}

/// Runs `record` (which records dispatches into one compute pass) `warmup + runs` times, one
/// submit per run, and times each of the last `runs`.
pub fn time_pass(
    gpu: &Gpu,
    warmup: usize,
    runs: usize,
    use_timestamps: bool,
    record: &dyn Fn(&mut wgpu::ComputePass<'_>),
) -> Result<Timing> {
    let timestamps = use_timestamps && gpu.features().contains(wgpu::Features::TIMESTAMP_QUERY);
    let device = gpu.device();
    let queries = timestamps.then(|| {
        let set = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("bench"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bench resolve"),
            size: 16,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let read = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bench read"),
            size: 16,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        (set, resolve, read)
    });
    let period_ns = gpu.queue().get_timestamp_period() as f64;
    let mut runs_ms = Vec::with_capacity(runs);
    let mut host_ms = Vec::with_capacity(runs);
    for i in 0..warmup + runs {
        let t0 = Instant::now();
        let host = gpu.scoped("benchmark run", || {
            let recording = Instant::now();
            let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("bench"),
                    timestamp_writes: queries.as_ref().map(|(set, _, _)| {
                        wgpu::ComputePassTimestampWrites {
                            query_set: set,
                            beginning_of_pass_write_index: Some(0),
                            end_of_pass_write_index: Some(1),
                        }
                    }),
                });
                record(&mut pass);
            }
            if let Some((set, resolve, read)) = &queries {
                enc.resolve_query_set(set, 0..2, resolve, 0);
                enc.copy_buffer_to_buffer(resolve, 0, read, 0, 16);
            }
            gpu.queue().submit([enc.finish()]);
            recording.elapsed().as_secs_f64() * 1e3
        })?;
        gpu.wait_idle()?;
        let wall_ms = t0.elapsed().as_secs_f64() * 1e3;
        let ms = match &queries {
            Some((_, _, read)) => {
                let (tx, rx) = std::sync::mpsc::channel();
                read.map_async(wgpu::MapMode::Read, .., move |r| {
                    let _ = tx.send(r);
                });
                gpu.wait_idle()?;
                rx.recv()
                    .map_err(|e| Error::Readback(e.to_string()))?
                    .map_err(|e| Error::Readback(e.to_string()))?;
                let ticks: [u64; 2] = {
                    let view = read
                        .get_mapped_range(..)
                        .map_err(|e| Error::Readback(e.to_string()))?;
                    let t: Vec<u64> = bytemuck::pod_collect_to_vec(&view);
                    [t[0], t[1]]
                };
                read.unmap();
                ticks[1].saturating_sub(ticks[0]) as f64 * period_ns * 1e-6
            }
            None => wall_ms,
        };
        if i >= warmup {
            runs_ms.push(ms);
            host_ms.push(host);
        }
    }
    Ok(Timing {
        clock: if timestamps {
            Clock::GpuTimestamps
        } else {
            Clock::WallTime
        },
        runs_ms,
        host_ms,
    })
}

/// Most launches timed in one submission: a query set holds at most 4096 timestamps.
const LAUNCHES_PER_QUERY_SET: usize = 2048;

/// Times each of `count` launches once. With timestamps (`use_timestamps` and the adapter's
/// `TIMESTAMP_QUERY`), `record(i, pass)` records launch `i` into a compute pass of its own,
/// with timestamps at its start and end, all passes in one submission (the extra passes add
/// some overhead to what is measured); otherwise each launch is its own submission, waited
/// on, and timed with the host's wall clock. Returns the clock and one time per launch, ms.
pub fn time_launches(
    gpu: &Gpu,
    count: usize,
    use_timestamps: bool,
    record: &dyn Fn(usize, &mut wgpu::ComputePass<'_>),
) -> Result<(Clock, Vec<f64>)> {
    let timestamps = use_timestamps && gpu.features().contains(wgpu::Features::TIMESTAMP_QUERY);
    let mut ms = Vec::with_capacity(count);
    if !timestamps {
        for i in 0..count {
            let t0 = Instant::now();
            gpu.scoped("profiled launch", || {
                let mut enc = gpu
                    .device()
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
                record(i, &mut enc.begin_compute_pass(&Default::default()));
                gpu.queue().submit([enc.finish()]);
            })?;
            gpu.wait_idle()?;
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        return Ok((Clock::WallTime, ms));
    }
    let device = gpu.device();
    let period_ns = gpu.queue().get_timestamp_period() as f64;
    for start in (0..count).step_by(LAUNCHES_PER_QUERY_SET) {
        let n = (count - start).min(LAUNCHES_PER_QUERY_SET);
        let bytes = 16 * n as u64;
        let set = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * n as u32,
        });
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile resolve"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let read = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile read"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        gpu.scoped("profiled launches", || {
            let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            for j in 0..n {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("profile"),
                    timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                        query_set: &set,
                        beginning_of_pass_write_index: Some(2 * j as u32),
                        end_of_pass_write_index: Some(2 * j as u32 + 1),
                    }),
                });
                record(start + j, &mut pass);
            }
            enc.resolve_query_set(&set, 0..2 * n as u32, &resolve, 0);
            enc.copy_buffer_to_buffer(&resolve, 0, &read, 0, bytes);
            gpu.queue().submit([enc.finish()]);
        })?;
        let ticks: Vec<u64> =
            gpu.map_and_read(&read, bytes, bytemuck::pod_collect_to_vec::<u8, u64>)?;
        ms.extend(
            ticks
                .chunks_exact(2)
                .map(|t| t[1].saturating_sub(t[0]) as f64 * period_ns * 1e-6),
        );
    }
    Ok((Clock::GpuTimestamps, ms))
}
