//! The on-disk caches: wgpu's pipeline cache file (written after a session is built, loaded by
//! the next device, damaged files ignored) and the autotuner's choices.

use std::path::PathBuf;

use wgconv::cache::PipelineCacheState;
use wgconv::compare::compare;
use wgconv::graph::{Graph, cpu};
use wgconv::{Gpu, GpuOptions, Session, Tensor, zoo};

use crate::graph::{initialised, network_tolerance};

/// A fresh, empty directory for one test.
pub fn temp_cache_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgconv-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A Vulkan device (the backend wgpu's pipeline cache exists on) caching into `dir`.
fn vulkan(dir: Option<&PathBuf>, pipeline_cache: bool) -> Gpu {
    Gpu::with_options(&GpuOptions {
        backends: Some(wgpu::Backends::VULKAN),
        cache_dir: dir.cloned(),
        pipeline_cache,
        ..Default::default()
    })
    .expect("a Vulkan adapter (in CI: lavapipe)")
}

fn small_net() -> (Graph, Vec<Tensor>) {
    initialised(zoo::build("cifar10_net", &[1, 3, 32, 32]).unwrap(), 11)
}

/// Builds a session for `g` on `gpu`, runs it and checks it against the CPU reference.
fn run_checked(gpu: &Gpu, g: &Graph, inputs: &[Tensor]) -> Vec<Tensor> {
    let s = Session::new(gpu, g).unwrap();
    let got = s.run(inputs).unwrap();
    let want = cpu::run(g, inputs).unwrap();
    let tol = network_tolerance(g, inputs);
    for (a, b) in got.iter().zip(&want) {
        let c = compare(a.data(), b.data(), tol);
        assert!(c.passed(), "{c} ({tol:?})");
    }
    got
}

#[test]
fn pipeline_cache_is_saved_reloaded_and_survives_damage() {
    let dir = temp_cache_dir("pipeline-cache");
    let (g, inputs) = small_net();

    let first = vulkan(Some(&dir), true);
    assert!(
        first.features().contains(wgpu::Features::PIPELINE_CACHE),
        "wgpu has a pipeline cache on every Vulkan adapter"
    );
    assert_eq!(first.pipeline_cache_state(), PipelineCacheState::Cold);
    let path = first.pipeline_cache_path().unwrap().to_path_buf();
    assert!(path.starts_with(&dir));
    let reference = run_checked(&first, &g, &inputs);
    // Building the session saved the cache.
    let saved = std::fs::read(&path).expect("cache file written after the session was built");
    assert!(!saved.is_empty());
    drop(first);

    let second = vulkan(Some(&dir), true);
    assert!(
        matches!(second.pipeline_cache_state(), PipelineCacheState::Warm { bytes } if bytes > 0),
        "{:?}",
        second.pipeline_cache_state()
    );
    let again = run_checked(&second, &g, &inputs);
    // The same kernels: a cached pipeline computes bit for bit what a compiled one does.
    assert_eq!(reference[0].data(), again[0].data());
    drop(second);

    // Garbage, a truncated file and one flipped byte are each ignored: the device starts cold,
    // computes correctly, and rewrites a good file.
    let good = std::fs::read(&path).unwrap();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x5a;
    for (what, bytes) in [
        ("garbage", b"not a pipeline cache".to_vec()),
        ("truncated", good[..good.len() / 3].to_vec()),
        ("flipped byte", flipped),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let gpu = vulkan(Some(&dir), true);
        assert_eq!(
            gpu.pipeline_cache_state(),
            PipelineCacheState::Cold,
            "{what}"
        );
        let out = run_checked(&gpu, &g, &inputs);
        assert_eq!(reference[0].data(), out[0].data(), "{what}");
        drop(gpu);
        let rewritten = vulkan(Some(&dir), true);
        assert!(
            matches!(
                rewritten.pipeline_cache_state(),
                PipelineCacheState::Warm { .. }
            ),
            "{what}: the damaged file was replaced by a good one"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pipeline_cache_off_or_unwritable_is_not_an_error() {
    let (g, inputs) = small_net();
    let dir = temp_cache_dir("pipeline-cache-off");
    let off = vulkan(Some(&dir), false);
    assert_eq!(off.pipeline_cache_state(), PipelineCacheState::Off);
    assert!(!off.features().contains(wgpu::Features::PIPELINE_CACHE));
    run_checked(&off, &g, &inputs);
    drop(off);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing written when the pipeline cache is off"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // /proc refuses new directories even to root.
    let nowhere = PathBuf::from("/proc/wgconv-no-such-cache");
    let gpu = vulkan(Some(&nowhere), true);
    assert_eq!(gpu.pipeline_cache_state(), PipelineCacheState::Off);
    assert_eq!(gpu.cache_dir(), None);
    run_checked(&gpu, &g, &inputs);
}
