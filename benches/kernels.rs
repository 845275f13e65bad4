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
//! The `conv_algorithms` group runs the suite's `conv3x3` (64 -> 64, 56x56) and ResNet's last
//! 3x3 layer (512 -> 512, 7x7, batch 1, K = 4608) through each convolution algorithm:
//! implicit GEMM, split-K, Winograd F(2x2, 3x3) (`conv_algorithms/<layer>/<algorithm>`); FLOPs
//! are the direct convolution's for all three, so the rates compare times.
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
use wgconv::device::Dispatch;
use wgconv::kernels::algorithm::{self, ConvAlgorithm};
use wgconv::kernels::conv::ConvTiling;
use wgconv::kernels::matmul::GemmTiling;
use wgconv::kernels::{ConvBindings, winograd};
use wgconv::ops::{Activation, ConvSpec, Epilogue};
use wgconv::tensor::Tensor;

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

/// The dispatches of `a` on `[n, c, h, w]` -> `o` channels, 3x3 pad 1, bias and ReLU; buffers
/// live as long as the dispatches' bind groups.
fn prepare_algorithm(
    gpu: &wgconv::Gpu,
    x: [usize; 4],
    o: usize,
    a: &ConvAlgorithm,
) -> Vec<Dispatch> {
    let spec = ConvSpec::conv2d(3, 3).pad(1);
    let ws = [o, x[1], 3, 3];
    let w = Tensor::random(ws.to_vec(), 2);
    let w = if a.transforms_weights() {
        winograd::transform_weights(&w)
    } else {
        w
    };
    let xt = gpu.upload(&Tensor::random(x.to_vec(), 1)).unwrap();
    let wt = gpu.upload(&w).unwrap();
    let bt = gpu.upload(&Tensor::random(vec![o], 3)).unwrap();
    let out = gpu.zeros(&spec.output_shape(&x, &ws).unwrap()).unwrap();
    let scratch: Vec<_> = algorithm::scratch_bytes(a, &spec, &x, &ws, gpu.precision())
        .unwrap()
        .into_iter()
        .map(|b| {
            gpu.zeros(&[(b as usize).div_ceil(gpu.precision().elem_bytes())])
                .unwrap()
        })
        .collect();
    gpu.encode(algorithm::conv_with(
        gpu.target(),
        a,
        &spec,
        &x,
        &ws,
        Epilogue::act(Activation::Relu),
        ConvBindings {
            input: xt.binding(),
            weight: wt.binding(),
            bias: Some(bt.binding()),
            residual: None,
            input_scale: None,
            output: out.binding(),
        },
        &scratch.iter().map(|s| s.binding()).collect::<Vec<_>>(),
    ))
    .unwrap()
}

/// Implicit GEMM vs split-K vs Winograd on the same layers (see the module comment).
fn conv_algorithms(c: &mut criterion::Criterion) {
    let gpu = common::gpu();
    let conv3x3 = suite()
        .layers
        .iter()
        .find(|l| l.name == "conv3x3")
        .map(|l| ([l.n, l.cin, l.spatial[0], l.spatial[1]], l.cout))
        .unwrap_or(([1, 64, 56, 56], 64));
    let mut group = c.benchmark_group("conv_algorithms");
    common::flat(&mut group);
    for (layer, (x, o)) in [
        ("conv3x3", conv3x3),
        ("resnet_512x7x7", ([1, 512, 7, 7], 512)),
    ] {
        let (m, n) = (o, x[0] * x[2] * x[3]);
        let tiles = x[0] * x[2].div_ceil(2) * x[3].div_ceil(2);
        // Direct-convolution FLOPs: 2 * N * O * H * W * C * 9 (pad 1 keeps H x W).
        let flops = 2 * n * o * x[1] * 9;
        group.throughput(Throughput::Elements(flops as u64));
        for (name, a) in [
            (
                "implicit",
                ConvAlgorithm::Implicit(ConvTiling::for_problem(m, n)),
            ),
            (
                "split_k",
                ConvAlgorithm::SplitK {
                    tiling: ConvTiling::for_problem(m, n),
                    splits: 8,
                },
            ),
            (
                "winograd",
                ConvAlgorithm::Winograd {
                    tile: 2,
                    gemm: GemmTiling::for_problem(o, tiles),
                },
            ),
        ] {
            let ds = prepare_algorithm(&gpu, x, o, &a);
            common::submit_and_wait(&gpu, &ds);
            group.bench_function(format!("{layer}/{name}"), |b| {
                b.iter_custom(|iters| {
                    common::time_iters(iters, || common::submit_and_wait(&gpu, &ds))
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion(std::time::Duration::from_secs(3));
    targets = kernels, conv_algorithms
}
criterion_main!(benches);
