//! The on-disk caches: wgpu's pipeline cache file (written after a session is built, loaded by
//! the next device, damaged files ignored) and the autotuner's choices.

use std::path::PathBuf;

use wgconv::compare::compare;
use wgconv::device::cache::PipelineCacheState;
use wgconv::graph::{Conv2d, Graph, Op, cpu};
use wgconv::kernels::algorithm::{ConvAlgorithm, candidates};
use wgconv::tune::GpuTuner;
use wgconv::tune::TuneStats;
use wgconv::{Gpu, GpuOptions, Session, SessionConfig, SessionOptions, Tensor, zoo};

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

/// `SessionConfig::cache_dir(None)` keeps nothing on disk; by default the caches live in the
/// platform's cache directory, whatever `WGCONV_CACHE_DIR` says (only `from_env` reads it).
#[test]
fn no_disk_cache_by_config_and_platform_dir_by_default() {
    let (g, inputs) = small_net();
    let config = SessionConfig {
        gpu: Some(GpuOptions {
            backends: Some(wgpu::Backends::VULKAN),
            ..Default::default()
        }),
        ..Default::default()
    }
    .cache_dir(None)
    .autotune(true);
    let s = Session::from_graph(&g, &config).unwrap();
    assert_eq!(s.gpu().cache_dir(), None);
    assert_eq!(s.gpu().pipeline_cache_state(), PipelineCacheState::Off);
    let got = s.run(&inputs).unwrap();
    let want = cpu::run(&g, &inputs).unwrap();
    let c = compare(
        got[0].data(),
        want[0].data(),
        network_tolerance(&g, &inputs),
    );
    assert!(c.passed(), "{c}");

    let platform = dirs::cache_dir().map(|d| d.join("wgconv"));
    assert!(platform.is_some(), "Linux has a cache directory");
    assert_eq!(GpuOptions::default().cache_dir, platform);
}

/// Three convolutions whose candidate lists differ (implicit GEMM tilings, pointwise GEMM
/// tilings, depthwise) plus a repeated shape, small enough to tune in a second on lavapipe.
fn tunable_net() -> (Graph, Vec<Tensor>) {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 8, 12, 12]);
    let a = g.conv2d(x, "a", Conv2d::new(16, 3).pad(1)).unwrap();
    let a = g.relu(a).unwrap();
    let b = g.conv2d(a, "b", Conv2d::new(16, 1)).unwrap();
    let c = g
        .conv2d(b, "c", Conv2d::new(16, 3).pad(1).groups(16))
        .unwrap();
    // Same shape as "b": the second is answered from the first's tuning.
    let d = g.conv2d(c, "d", Conv2d::new(16, 1)).unwrap();
    g.output(d);
    initialised(g, 5)
}

/// The algorithm of every convolution step of a session's plan, in order.
fn algorithms(s: &Session<'_>) -> Vec<ConvAlgorithm> {
    s.plan()
        .steps
        .iter()
        .filter_map(|st| st.algorithm)
        .collect()
}

/// Builds `g` with or without autotuning, checks it against the CPU reference.
fn session_checked<'g>(gpu: &'g Gpu, g: &Graph, inputs: &[Tensor], autotune: bool) -> Session<'g> {
    let options = SessionOptions {
        autotune,
        ..Default::default()
    };
    let s = Session::with_options(gpu, g, options).unwrap();
    let got = s.run(inputs).unwrap();
    let want = cpu::run(g, inputs).unwrap();
    let tol = network_tolerance(g, inputs);
    let c = compare(got[0].data(), want[0].data(), tol);
    assert!(c.passed(), "autotune {autotune}: {c} ({tol:?})");
    s
}

#[test]
fn autotune_times_once_then_reuses_the_cache_file() {
    let dir = temp_cache_dir("autotune");
    let (g, inputs) = tunable_net();

    let first = vulkan(Some(&dir), false);
    let s1 = session_checked(&first, &g, &inputs, true);
    let t1 = first.tuner().stats();
    // a, b and c have several candidates each; d repeats b's shape.
    assert_eq!(t1.tuned, 3, "{t1:?}");
    assert_eq!(t1.cache_hits, 1, "{t1:?}");
    assert!(
        t1.timing_runs >= t1.candidates_timed && t1.candidates_timed > 3,
        "{t1:?}"
    );
    let path = first.tuner().path().unwrap().to_path_buf();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(file["version"], 1);
    let ours = &file["adapters"][wgconv::tune::adapter_key(first.adapter_info())];
    assert_eq!(ours.as_object().map(|o| o.len()), Some(3), "{file:#}");
    let chosen = algorithms(&s1);

    // The same device again: answered from memory.
    let s1b = session_checked(&first, &g, &inputs, true);
    assert_eq!(first.tuner().stats().timing_runs, t1.timing_runs);
    assert_eq!(algorithms(&s1b), chosen);
    drop((s1, s1b));
    drop(first);

    // A new device (a new process, as far as the cache is concerned): from the file, no timing.
    let second = vulkan(Some(&dir), false);
    let s2 = session_checked(&second, &g, &inputs, true);
    let t2 = second.tuner().stats();
    assert_eq!(second.tuner().warning(), None);
    assert_eq!(
        (t2.tuned, t2.timing_runs, t2.cache_hits),
        (0, 0, 4),
        "{t2:?}"
    );
    assert_eq!(algorithms(&s2), chosen);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_autotune_uses_the_heuristic_even_with_a_cache() {
    let dir = temp_cache_dir("autotune-off");
    let (g, inputs) = tunable_net();
    let gpu = vulkan(Some(&dir), false);
    let heuristic = session_checked(&gpu, &g, &inputs, false);
    let h = algorithms(&heuristic);
    assert_eq!(
        gpu.tuner().stats(),
        TuneStats::default(),
        "no timing when off"
    );

    // Plant a non-heuristic choice for the first convolution and check that autotuning picks
    // it up from the file and still computes correctly, while the heuristic session does not.
    let opt = wgconv::graph::passes::optimize(&g).unwrap();
    let node = opt
        .nodes()
        .iter()
        .find(|n| matches!(n.op, Op::Conv { .. }))
        .unwrap();
    let Op::Conv {
        spec,
        weight,
        epilogue,
        ..
    } = &node.op
    else {
        unreachable!()
    };
    let input = opt.shape(node.inputs[0]);
    let cands = candidates(spec, input, weight.shape(), gpu.limits());
    let other = *cands
        .iter()
        .find(|&&c| c != h[0])
        .expect("several candidates");
    let key = wgconv::tune::ConvKey::new(
        spec,
        input,
        weight.shape(),
        epilogue.residual,
        wgconv::Precision::F32,
    );
    // The fingerprint is of the bucket's candidates.
    let bucket_cands = candidates(spec, key.bucket_input(), weight.shape(), gpu.limits());
    let key = key.to_string();
    let planted = serde_json::json!({
        "version": 1,
        "adapters": { wgconv::tune::adapter_key(gpu.adapter_info()): { key: {
            "algorithm": format!("{other:?}"),
            "candidates": wgconv::tune::fingerprint(&bucket_cands),
            "ms": 1.0, "heuristic_ms": 2.0, "clock": "wall_time", "timed": cands.len()
        }}}
    });
    std::fs::write(dir.join(wgconv::tune::CACHE_FILE), planted.to_string()).unwrap();
    let fresh = vulkan(Some(&dir), false);
    let tuned = session_checked(&fresh, &g, &inputs, true);
    assert_eq!(algorithms(&tuned)[0], other);
    // "a" from the file, "d" from "b"; "b" and "c" timed.
    let t = fresh.tuner().stats();
    assert_eq!((t.cache_hits, t.tuned), (2, 2), "{t:?}");
    let off = session_checked(&fresh, &g, &inputs, false);
    assert_eq!(
        algorithms(&off),
        h,
        "--no-autotune: the heuristic, whatever the cache says"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn damaged_or_old_autotune_cache_is_ignored_with_a_warning() {
    let (g, inputs) = tunable_net();
    for (what, text, reason) in [
        ("garbage", "{\"version\": 1, \"adapters\": {", "not JSON"),
        ("old", "{\"version\": 0, \"entries\": []}", "version"),
        (
            "wrong shape",
            "{\"version\": 1, \"adapters\": {\"x\": [1]}}",
            "malformed",
        ),
    ] {
        let dir = temp_cache_dir(&format!("autotune-{}", what.replace(' ', "-")));
        let path = dir.join(wgconv::tune::CACHE_FILE);
        std::fs::write(&path, text).unwrap();
        let gpu = vulkan(Some(&dir), false);
        session_checked(&gpu, &g, &inputs, true);
        let w = gpu
            .tuner()
            .warning()
            .unwrap_or_else(|| panic!("{what}: no warning"));
        assert!(w.contains(reason), "{what}: {w}");
        assert_eq!(gpu.tuner().stats().tuned, 3, "{what}: tuned from scratch");
        // Rewritten in the current format.
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(file["version"], 1, "{what}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// `wgconv run --autotune` tunes then reuses; `--no-autotune` and the default on a software
/// adapter do not tune.
#[test]
fn cli_autotune_switches() {
    let dir = temp_cache_dir("autotune-cli");
    let run = |flag: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wgconv"));
        cmd.args([
            "run",
            "cifar10_net",
            "--shape",
            "input=1x3x16x16",
            "--runs",
            "0",
        ])
        .args(["--backend", "vulkan"])
        .env("WGCONV_CACHE_DIR", &dir);
        cmd.args(flag);
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .find(|l| l.starts_with("autotune:"))
            .unwrap_or_else(|| panic!("no autotune line in {stdout}"))
            .to_string()
    };
    let first = run(Some("--autotune"));
    assert!(
        first.starts_with("autotune: on (") && !first.contains("(0 shapes"),
        "{first}"
    );
    let again = run(Some("--autotune"));
    assert!(again.contains("(0 shapes timed in 0 runs"), "{again}");
    assert_eq!(
        run(Some("--no-autotune")),
        "autotune: off (heuristic choices)"
    );
    // lavapipe is a CPU adapter: off unless asked for.
    assert_eq!(run(None), "autotune: off (heuristic choices)");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The tuner keeps choices per precision: an f16 session times its shapes in f16 (they were
/// tuned in f32 before) and stores them under keys of their own; a second f16 session is
/// answered from memory.
#[test]
fn autotune_keys_choices_by_precision() {
    let dir = temp_cache_dir("autotune-precision");
    let (g, inputs) = tunable_net();
    let gpu = vulkan(Some(&dir), false);
    drop(session_checked(&gpu, &g, &inputs, true));
    let f32_stats = gpu.tuner().stats();
    assert_eq!(f32_stats.tuned, 3, "{f32_stats:?}");
    let f16 = SessionOptions {
        autotune: true,
        precision: Some(wgconv::Precision::F16),
        ..Default::default()
    };
    let s = Session::with_options(&gpu, &g, f16.clone()).unwrap();
    let out = s.run(&inputs).unwrap();
    assert!(out[0].data().iter().all(|v| v.is_finite()));
    let t = gpu.tuner().stats();
    assert_eq!(t.tuned - f32_stats.tuned, 3, "f16 tunes its own: {t:?}");
    drop(Session::with_options(&gpu, &g, f16).unwrap());
    let t2 = gpu.tuner().stats();
    assert_eq!(t2.tuned, t.tuned, "answered from memory: {t2:?}");
    assert_eq!(t2.timing_runs, t.timing_runs, "{t2:?}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(gpu.tuner().path().unwrap()).unwrap())
            .unwrap();
    let ours = file["adapters"][wgconv::tune::adapter_key(gpu.adapter_info())]
        .as_object()
        .unwrap();
    assert_eq!(ours.len(), 6, "{file:#}");
    assert_eq!(
        ours.keys().filter(|k| k.ends_with("precision=f16")).count(),
        3
    );
    drop(gpu);
    std::fs::remove_dir_all(&dir).unwrap();
}
