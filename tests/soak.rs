//! Soak: many runs of a small network with no growth in host or device memory. CI runs a
//! reduced count; the long run is
//!
//!     WGCONV_SOAK_RUNS=10000 WGCONV_SOAK_SHAPE_RUNS=10000 cargo test --release --test soak -- --nocapture
//!
//! A test binary of its own: host RSS is per process, and the suite's other tests run in
//! parallel threads of theirs; its two tests take turns.

use wgconv::compare::compare;
use wgconv::graph::{Conv2d, Graph, cpu};
use wgconv::{DynamicSession, Session, SessionConfig, Tensor, weights};

/// Held by each test for its whole run: RSS is per process, so the two soaks must not overlap.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Resident set size in bytes (Linux `/proc/self/statm`, pages of 4 KiB).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    statm
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 4096
}

#[test]
fn repeated_runs_do_not_grow_memory() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    // A mistyped count must not quietly become the short default (or zero runs).
    let runs: usize = std::env::var("WGCONV_SOAK_RUNS")
        .map(|v| v.parse().expect("WGCONV_SOAK_RUNS: a number of runs"))
        .unwrap_or(200);
    assert!(runs > 0, "WGCONV_SOAK_RUNS=0 would check nothing");
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/squeezenet1_1");
    // A device of its own, so other tests' allocations do not show up in its report.
    let session =
        Session::from_onnx_path(dir.join("model.onnx"), &SessionConfig::default()).unwrap();
    let x = Tensor::random(vec![1, 3, 64, 64], 5);
    let first = session.run(std::slice::from_ref(&x)).unwrap();
    // Warm up allocator pools and caches, then measure.
    for _ in 0..20 {
        session.run(std::slice::from_ref(&x)).unwrap();
    }
    let device_before = session
        .gpu()
        .device()
        .generate_allocator_report()
        .map(|r| r.total_allocated_bytes);
    let created_before = session.counters();
    let rss_before = rss_bytes();
    for i in 0..runs {
        let out = session.run(std::slice::from_ref(&x)).unwrap();
        if i % 97 == 0 {
            assert_eq!(out, first, "run {i} differs from the first");
        }
    }
    let rss_after = rss_bytes();
    let device_after = session
        .gpu()
        .device()
        .generate_allocator_report()
        .map(|r| r.total_allocated_bytes);
    let created_after = session.counters();
    eprintln!(
        "soak: {runs} runs, host RSS {rss_before} -> {rss_after} bytes, device allocations {device_before:?} -> {device_after:?}"
    );
    assert_eq!(
        created_after.buffers_created,
        created_before.buffers_created
    );
    assert_eq!(
        created_after.bind_groups_created,
        created_before.bind_groups_created
    );
    assert_eq!(device_after, device_before, "device allocations grew");
    // Allow allocator jitter of 4 MiB, far below one leaked readback per run (40 bytes x runs
    // plus its Vec, and any leaked wgpu buffer object is larger).
    assert!(
        rss_after <= rss_before + (4 << 20),
        "host memory grew by {} bytes",
        rss_after.saturating_sub(rss_before)
    );
}

/// A small network whose batch and image size may change: conv, ReLU, strided conv, global
/// pool, linear.
fn small_network() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 3, 8, 8]);
    let y = g.conv2d(x, "conv1", Conv2d::new(8, 3).pad(1)).unwrap();
    let y = g.relu(y).unwrap();
    let y = g.conv2d(y, "conv2", Conv2d::new(16, 3).stride(2)).unwrap();
    let y = g.relu(y).unwrap();
    let y = g.global_avg_pool(y).unwrap();
    let y = g.flatten(y, 1).unwrap();
    let y = g.linear(y, "fc", 5, true).unwrap();
    g.output(y);
    weights::init_seeded(&mut g, 3);
    g
}

/// Changing the input shape on every run, over more signatures than the plan cache holds:
/// every run plans anew and evicts, and once the cache is full, host and device memory stay
/// flat. Signatures cycle with period 24 and the cache holds the last 8, so the device
/// allocations after run `i` must equal those after run `i - 24` exactly.
#[test]
fn changing_shapes_every_run_do_not_grow_memory() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let runs: usize = std::env::var("WGCONV_SOAK_SHAPE_RUNS")
        .map(|v| v.parse().expect("WGCONV_SOAK_SHAPE_RUNS: a number of runs"))
        .unwrap_or(2000);
    const PERIOD: usize = 24;
    assert!(runs >= 4 * PERIOD, "too few runs to see a trend");
    let g = small_network();
    let s = DynamicSession::from_graph(
        &g,
        &[("x", 0, "N"), ("x", 2, "H"), ("x", 3, "W")],
        &SessionConfig::default().plan_cache(8),
    )
    .unwrap();
    let shape = |i: usize| {
        let k = i % PERIOD;
        vec![1 + k % 4, 3, 7 + k / 4, 9 + k % 3]
    };
    let allocated = || {
        s.gpu()
            .device()
            .generate_allocator_report()
            .map(|r| r.total_allocated_bytes)
    };
    let mut history = Vec::with_capacity(runs);
    let mut rss_warm = 0;
    for i in 0..runs {
        let x = Tensor::random(shape(i), i as u64);
        let out = s.run(std::slice::from_ref(&x)).unwrap();
        history.push((allocated(), s.device_bytes()));
        if i % 97 == 0 {
            let g = g.with_input_shapes(&[x.shape().to_vec()]).unwrap();
            let values = cpu::run_all(&g, std::slice::from_ref(&x)).unwrap();
            let want = values[g.outputs()[0].0].as_ref().unwrap();
            let c = compare(
                out[0].data(),
                want.data(),
                cpu::network_tolerance(&g, &values),
            );
            assert!(c.passed(), "run {i} at {:?}: {c}", x.shape());
        }
        if i == 2 * PERIOD {
            rss_warm = rss_bytes();
        }
        // The plans' own buffers repeat exactly; the allocator's total also counts placement
        // padding, which varies by a few hundred bytes with fragmentation, never trending.
        if i >= 2 * PERIOD {
            let (alloc, ours) = history[i];
            let (alloc_then, ours_then) = history[i - PERIOD];
            assert_eq!(
                ours, ours_then,
                "run {i}: plan buffers differ from a period earlier"
            );
            if let (Some(a), Some(b)) = (alloc, alloc_then) {
                assert!(
                    a.abs_diff(b) <= 4096,
                    "run {i}: device allocations {b} -> {a}"
                );
            }
        }
    }
    // Any leak per run, however small, shows in the mean over a period after thousands of runs.
    let mean = |from: usize| -> u64 {
        history[from..from + PERIOD]
            .iter()
            .map(|(a, _)| a.unwrap_or(0))
            .sum::<u64>()
            / PERIOD as u64
    };
    let (warm, end) = (mean(2 * PERIOD), mean(runs - PERIOD));
    assert!(
        end <= warm + 1024,
        "device allocations grew: a period's mean {warm} -> {end} bytes"
    );
    let rss_end = rss_bytes();
    let c = s.counters();
    eprintln!(
        "soak (shapes): {runs} runs, {} plans built, {} evicted; host RSS {rss_warm} -> {rss_end} bytes; device allocations, mean over a period {warm} -> {end} bytes",
        c.plans_built, c.evictions,
    );
    assert_eq!(
        c.plans_built as usize, runs,
        "every run should have planned anew"
    );
    assert_eq!(c.evictions as usize, runs - 8);
    assert!(
        rss_end <= rss_warm + (8 << 20),
        "host memory grew by {} bytes",
        rss_end.saturating_sub(rss_warm)
    );
}
