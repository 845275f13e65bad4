//! Criterion benchmarks of every kernel family, on the problems of the benchmark suite
//! (`bench/suite.json`, built into the crate; `WGCONV_BENCH_SUITE=<file>` swaps in another):
//! conv 3x3 (+ batch 8, 7x7 stem), conv stride 2, pointwise, depthwise (3x3, 5x5 stride 2),
//! dilated, grouped, transposed, conv3d, pixel shuffle, space-to-depth, max pooling, global
//! pooling, softmax (rows and channels), eltwise add, squeeze-and-excitation.
//!
//! Names are `<kernel family>/<suite item>`, e.g. `cargo bench --bench kernels -- depthwise`.
//! When the adapter has `SHADER_F16`, conv and depthwise also run in f16 storage with f16 and
//! with f32 accumulation, as `conv-f16/<item>` and `conv-f16-acc32/<item>` (same FLOP counts, so
//! the rates compare directly with f32's).
//! Buffers and pipelines are built by `wgconv::bench::prepare` before timing; one iteration is
//! one submit of the item's dispatches plus a wait for the queue (wall time, so per-submit
//! overhead, ~10-100 us, is included; `wgconv bench` reports GPU-timestamp figures).
//!
//! Throughput: layers that compute report `Elements` = FLOPs, 2 per multiply-accumulate
//! (conv: 2 * N * Cout * prod(out_spatial) * Cin/groups * prod(kernel); conv_transpose:
//! 2 * N * Cin * prod(in_spatial) * Cout/groups * prod(kernel)), so criterion's "elem/s" reads
//! as FLOP/s. Pure data movement (pixel shuffle, space-to-depth) reports `Bytes` = input read
//! once + output written once. The napkin math per op is in `src/bench/layers.rs`.

mod common;

use criterion::{Throughput, criterion_group, criterion_main};
use wgconv::bench::{Suite, prepare};

fn suite() -> Suite {
    match std::env::var("WGCONV_BENCH_SUITE") {
        Ok(path) if !path.is_empty() => {
            let text = std::fs::read_to_string(&path).expect("WGCONV_BENCH_SUITE readable");
            Suite::parse(&text, &path).expect("suite parses")
        }
        _ => Suite::builtin(),
    }
}

fn kernels(c: &mut criterion::Criterion) {
    let gpu = common::gpu();
    let suite = suite();
    // Prepare everything first (all layers together need a few tens of MB), then group by
    // kernel family in order of first appearance.
    let mut families: Vec<(&'static str, Vec<(String, wgconv::bench::PreparedLayer)>)> = Vec::new();
    for item in &suite.layers {
        let layer = prepare(&gpu, item).unwrap_or_else(|e| panic!("{}: {e}", item.name));
        match families.iter_mut().find(|(k, _)| *k == layer.kernel) {
            Some((_, v)) => v.push((item.name.clone(), layer)),
            None => families.push((layer.kernel, vec![(item.name.clone(), layer)])),
        }
    }
    for (family, layers) in &families {
        let mut group = c.benchmark_group(*family);
        common::flat(&mut group);
        for (name, layer) in layers {
            group.throughput(if layer.flops > 0.0 {
                Throughput::Elements(layer.flops as u64)
            } else {
                Throughput::Bytes(layer.bytes as u64)
            });
            // One untimed run: first submissions of a pipeline may do lazy driver work.
            common::submit_and_wait(&gpu, &layer.dispatches);
            group.bench_function(name.as_str(), |b| {
                b.iter_custom(|iters| {
                    common::time_iters(iters, || common::submit_and_wait(&gpu, &layer.dispatches))
                })
            });
        }
        group.finish();
    }
    // The same conv and depthwise items with f16 storage (f16 and f32 accumulation).
    for precision in [wgconv::Precision::F16, wgconv::Precision::F16AccF32] {
        let Ok(hgpu) = gpu.with_precision(precision) else {
            eprintln!(
                "no shader-f16 on {}: f16 benchmarks skipped",
                gpu.describe()
            );
            break;
        };
        for family in ["conv", "depthwise"] {
            let mut group = c.benchmark_group(format!("{family}-{precision}"));
            common::flat(&mut group);
            for item in &suite.layers {
                let layer = prepare(&hgpu, item).unwrap_or_else(|e| panic!("{}: {e}", item.name));
                if layer.kernel != family {
                    continue;
                }
                group.throughput(Throughput::Elements(layer.flops as u64));
                common::submit_and_wait(&hgpu, &layer.dispatches);
                group.bench_function(item.name.as_str(), |b| {
                    b.iter_custom(|iters| {
                        common::time_iters(iters, || {
                            common::submit_and_wait(&hgpu, &layer.dispatches)
                        })
                    })
                });
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = common::criterion(std::time::Duration::from_secs(3));
    targets = kernels
}
criterion_main!(benches);
