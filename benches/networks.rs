//! Criterion benchmarks of whole networks from the zoo: resnet18, mobilenet_v2,
//! efficientnet_b0, squeezenet1_1, with seeded weights (`wgconv::bench::model_graph`, as
//! `wgconv bench` builds its models).
//!
//! Input `1x3x112x112` by default, small enough for lavapipe (software Vulkan on a CPU);
//! on a real GPU set `WGCONV_BENCH_INPUT=1x3x224x224` (or any `NxCxHxW`).
//!
//! The session (graph passes, plan, buffers, pipelines, parameter upload) is built before
//! timing; one iteration is one `Session::run`: input upload, every dispatch in one compute
//! pass, one submit, output readback (the latency an application sees; `wgconv bench` times
//! the dispatches alone with GPU timestamps, and the cold start).
//!
//! Throughput: `Elements` = FLOPs of one forward pass = 2 * MACs of the graph before fusion
//! (convolutions, linear and SE layers; elementwise work not counted, as in published
//! figures: resnet18 at 224x224 is 1.82 GMACs), so criterion's "elem/s" reads as FLOP/s.

mod common;

use criterion::{Throughput, criterion_group, criterion_main};
use wgconv::Session;
use wgconv::bench::suite::ModelItem;
use wgconv::bench::{model_graph, models::model_inputs};

const NETWORKS: &[&str] = &[
    "resnet18",
    "mobilenet_v2",
    "efficientnet_b0",
    "squeezenet1_1",
];

fn input_shape() -> Vec<usize> {
    match std::env::var("WGCONV_BENCH_INPUT") {
        Ok(s) if !s.is_empty() => s
            .split('x')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .expect("WGCONV_BENCH_INPUT is NxCxHxW"),
        _ => vec![1, 3, 112, 112],
    }
}

fn networks(c: &mut criterion::Criterion) {
    let gpu = common::gpu();
    let input = input_shape();
    let shape = input
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x");
    let mut group = c.benchmark_group("networks");
    common::flat(&mut group);
    for &name in NETWORKS {
        let item = ModelItem {
            name: name.to_string(),
            model: None,
            input: input.clone(),
            note: None,
        };
        let graph = model_graph(&item).unwrap_or_else(|e| panic!("{name}: {e}"));
        let session = Session::new(&gpu, &graph).unwrap_or_else(|e| panic!("{name}: {e}"));
        let inputs = model_inputs(&session);
        // Untimed first run: lazy driver work on first submission of each pipeline.
        session.run(&inputs).expect("run");
        group.throughput(Throughput::Elements(2 * graph.macs()));
        group.bench_function(format!("{name}/{shape}"), |b| {
            b.iter_custom(|iters| {
                common::time_iters(iters, || {
                    std::hint::black_box(session.run(&inputs).expect("run"));
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion(std::time::Duration::from_secs(5));
    targets = networks
}
criterion_main!(benches);
