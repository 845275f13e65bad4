//! The async API and a pool of adapters: a session created and run through futures, then the
//! same network on every adapter of the machine with runs spread across them.
//!
//!     cargo run --release --example async_pool
//!
//! Any executor drives the futures; `pollster` (a wgconv dependency) stands in for one here.

use wgconv::graph::Graph;
use wgconv::{AdapterFilter, Pool, Session, SessionConfig, Tensor};

/// What an async application does: nothing here blocks the executor's thread.
async fn classify(graph: &Graph, images: &[Tensor]) -> wgconv::Result<Vec<Tensor>> {
    let session = Session::from_graph_async(graph, &SessionConfig::default()).await?;
    let mut out = Vec::new();
    for x in images {
        out.push(session.run_async(std::slice::from_ref(x)).await?.remove(0));
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let graph = wgconv::zoo::build("cifar10_net", &[1, 3, 32, 32])?;
    let images: Vec<Tensor> = (0..8)
        .map(|i| Tensor::random(vec![1, 3, 32, 32], i))
        .collect();
    let logits = pollster::block_on(classify(&graph, &images))?;
    println!(
        "async: {} results of shape {:?}",
        logits.len(),
        logits[0].shape()
    );

    // Every adapter (Vulkan, GL, ...); runs from several threads go to the least-loaded one.
    let pool = Pool::new(&graph, &SessionConfig::default(), &AdapterFilter::default())?;
    let results: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = images
            .iter()
            .map(|x| s.spawn(|| pool.run(std::slice::from_ref(x))))
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("a run panicked"))
            .collect()
    });
    for r in results {
        r?;
    }
    for a in pool.adapters() {
        println!(
            "{} ({:?}, {:?}): {} runs",
            a.name, a.backend, a.device_type, a.runs
        );
    }
    for (name, why) in pool.skipped() {
        println!("skipped {name}: {why}");
    }
    Ok(())
}
