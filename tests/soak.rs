//! Soak: many runs of a small network with no growth in host or device memory. CI runs a
//! reduced count; the long run is
//!
//!     WGCONV_SOAK_RUNS=10000 cargo test --release --test soak -- --nocapture
//!
//! A test binary of its own: host RSS is per process, and the suite's other tests run in
//! parallel threads of theirs.

use wgconv::{Session, SessionConfig, Tensor};

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
