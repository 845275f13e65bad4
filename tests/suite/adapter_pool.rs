//! A pool over the two adapters this machine has (lavapipe on Vulkan, llvmpipe on GL): runs
//! from several threads and futures in flight together reach both, each result is exactly
//! what that adapter's own session gives, and filters choose adapters.

use crate::async_core::{NamedRun, join_all};
use wgconv::adapter_pool::{AdapterFilter, Pool};
use wgconv::device::enumerate_adapters;
use wgconv::graph::cpu::{network_tolerance, run_all};
use wgconv::{Error, GpuOptions, Session, SessionConfig, Tensor};

fn model() -> wgconv::graph::Graph {
    wgconv::zoo::build("cifar10_net", &[1, 3, 32, 32]).unwrap()
}

/// A pool on every adapter; fails unless it has both a Vulkan and a GL one.
fn pool_over_both() -> Pool {
    let pool = Pool::new(
        &model(),
        &SessionConfig::default(),
        &AdapterFilter::default(),
    )
    .unwrap();
    let backends: Vec<wgpu::Backend> = pool.adapters().iter().map(|a| a.backend).collect();
    assert!(
        backends.contains(&wgpu::Backend::Vulkan) && backends.contains(&wgpu::Backend::Gl),
        "expected a Vulkan and a GL adapter in the pool, got {:?} (skipped: {:?})",
        pool.adapters(),
        pool.skipped()
    );
    pool
}

#[test]
fn runs_from_threads_reach_both_adapters_and_equal_their_own_sessions() {
    let g = model();
    let pool = pool_over_both();
    let xs: Vec<Tensor> = (0..6)
        .map(|i| Tensor::random(vec![1, 3, 32, 32], 40 + i))
        .collect();
    // Per adapter, a session of its own on it: what each pooled run must equal, bit for bit.
    let own: Vec<Vec<Tensor>> = pool
        .adapters()
        .iter()
        .map(|a| {
            let config = SessionConfig {
                gpu: Some(GpuOptions {
                    backends: Some(a.backend.into()),
                    adapter_name: Some(a.name.clone()),
                    ..GpuOptions::default()
                }),
                ..SessionConfig::default()
            };
            let s = Session::from_graph(&g, &config).unwrap();
            assert_eq!(s.gpu().adapter_info().backend, a.backend);
            xs.iter()
                .map(|x| s.run(std::slice::from_ref(x)).unwrap().remove(0))
                .collect()
        })
        .collect();
    // Each adapter computes the network right (the CPU reference, network tolerance).
    for (i, x) in xs.iter().enumerate() {
        let values = run_all(&g, std::slice::from_ref(x)).unwrap();
        let want = values[g.outputs()[0].0].clone().unwrap();
        let tol = network_tolerance(&g, &values);
        for (a, outs) in pool.adapters().iter().zip(&own) {
            let c = wgconv::compare::compare(outs[i].data(), want.data(), tol);
            assert!(c.passed(), "{} ({:?}), input {i}: {c}", a.name, a.backend);
        }
    }
    let results: Vec<Vec<(usize, Tensor)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (pool, xs) = (&pool, &xs);
                scope.spawn(move || {
                    (0..6)
                        .map(|k| {
                            let i = (t + k) % xs.len();
                            (i, pool.run(std::slice::from_ref(&xs[i])).unwrap().remove(0))
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, got) in results.into_iter().flatten() {
        assert!(
            own.iter().any(|outs| outs[i] == got),
            "input {i}: the pooled result equals no adapter's own session"
        );
    }
    let runs: Vec<u64> = pool.adapters().iter().map(|a| a.runs).collect();
    assert_eq!(runs.iter().sum::<u64>(), 24, "{runs:?}");
    assert!(
        runs.iter().all(|&r| r > 0),
        "an adapter got no work: {runs:?}"
    );
}

#[test]
fn futures_in_flight_together_run_on_different_adapters() {
    let pool = pool_over_both();
    let n = pool.adapters().len();
    let x = Tensor::random(vec![1, 3, 32, 32], 3);
    let named = [("x", &x)];
    let futures: Vec<NamedRun<'_>> = (0..n)
        .map(|_| Box::pin(pool.run_named_async(&named)) as NamedRun<'_>)
        .collect();
    let mut given = Vec::new();
    let got = join_all(futures, || {
        given = pool.adapters().iter().map(|a| a.runs).collect()
    });
    assert_eq!(given, vec![1; n], "one run per adapter");
    for r in got {
        assert_eq!(r.unwrap().len(), 1);
    }
}

#[test]
fn filters_choose_adapters() {
    let all = enumerate_adapters(None);
    let gl = AdapterFilter::default().backends(wgpu::Backends::GL);
    let chosen: Vec<_> = all.iter().filter(|i| gl.matches(i)).collect();
    assert!(!chosen.is_empty(), "no GL adapter among {all:?}");
    assert!(
        chosen
            .iter()
            .all(|i| i.backend == wgpu::Backend::Gl && i.name.contains("llvmpipe"))
    );
    let cpu_vulkan = AdapterFilter::default()
        .backends(wgpu::Backends::VULKAN)
        .device_type(wgpu::DeviceType::Cpu)
        .name("LLVMPIPE");
    let chosen: Vec<_> = all.iter().filter(|i| cpu_vulkan.matches(i)).collect();
    assert_eq!(chosen.len(), 1, "{all:?}");
    assert_eq!(chosen[0].backend, wgpu::Backend::Vulkan);
    // A pool with the GL filter uses llvmpipe on GL alone.
    let pool = Pool::new(&model(), &SessionConfig::default(), &gl).unwrap();
    let adapters = pool.adapters();
    assert_eq!(adapters.len(), 1, "{adapters:?}");
    assert_eq!(adapters[0].backend, wgpu::Backend::Gl);
    assert!(adapters[0].name.contains("llvmpipe"), "{adapters:?}");
}

#[test]
fn a_filter_matching_nothing_is_a_typed_error() {
    let none = AdapterFilter::default().name("no such adapter");
    let err = Pool::new(&model(), &SessionConfig::default(), &none).unwrap_err();
    match err {
        Error::NoAdapter { filter, .. } => assert!(filter.contains("no such adapter"), "{filter}"),
        e => panic!("expected NoAdapter, got {e}"),
    }
}
