//! Autotuning: the first time a convolution shape is seen on an adapter, time every viable
//! configuration ([`crate::kernels::algorithm::candidates`]) and keep the fastest; remember the
//! choice per adapter in `autotune.json` in the cache directory ([`crate::device::cache`]) so later
//! sessions (and processes) reuse it without timing.
//!
//! Off by default for the library ([`crate::SessionOptions::autotune`]): a session then uses
//! the heuristic ([`crate::kernels::algorithm::heuristic`]), builds in predictable time and
//! computes bit-identical results on every run and machine with the same adapter. An embedder
//! that builds sessions once and runs them many times should turn it on: the cost is paid once
//! per (shape, adapter), at the first session build that meets the shape. The `wgconv` command
//! line turns it on for `run` and `bench` on real GPUs (not on software rasterizers such as
//! lavapipe, whose speed ranking says nothing about GPUs); `--no-autotune` / `--autotune`
//! override.
//!
//! Timing: each candidate's launches on scratch buffers of the layer's shapes, one submit per
//! run, GPU timestamps where the adapter has them (else wall time around submit + queue wait),
//! one warm-up run and [`TuneOptions::reps`] timed runs, scored by the fastest run. A candidate
//! whose warm-up run is more than [`TuneOptions::prune_factor`] times slower than the best
//! score so far is not timed further. The heuristic's choice is timed first and kept unless
//! another candidate beats it.
//!
//! The cache file is JSON: `{"version": 1, "adapters": {"<adapter key>": {"<shape key>":
//! {...}}}}`. An adapter's key is its name, driver, driver info and backend; a shape key names
//! the kernel family and every geometry number. Each entry records a fingerprint of the
//! candidate list it was chosen from, so a new release with other candidates retunes. A file
//! that does not parse, or has another version, is ignored with a warning (and replaced at the
//! next save).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

mod bench;
mod key;
pub mod self_check;

use bench::{Bench, conv_parts};
pub use key::{ConvKey, adapter_key, conv_key, fingerprint};
pub use self_check::{FastPathCheck, is_fast_path};

use crate::device::Gpu;
use crate::device::timer::{Clock, time_pass};
use crate::graph::Op;
use crate::kernels::algorithm::{self, ConvAlgorithm};

/// The cache file's name in the cache directory.
pub const CACHE_FILE: &str = "autotune.json";
/// The cache file format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// How much effort tuning spends per shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TuneOptions {
    /// Timed runs per candidate after one warm-up run (the score is the fastest).
    pub reps: usize,
    /// Candidates whose warm-up run is this many times slower than the best score so far are
    /// dropped without timed runs.
    pub prune_factor: f64,
}

impl Default for TuneOptions {
    fn default() -> Self {
        Self {
            reps: 3,
            prune_factor: 4.0,
        }
    }
}

/// What a tuner has done so far (a snapshot; counts since the device was created).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TuneStats {
    /// Shapes tuned by timing.
    pub tuned: u64,
    /// Shapes answered from the cache (in memory or from the file).
    pub cache_hits: u64,
    /// Candidates timed (at least their warm-up run).
    pub candidates_timed: u64,
    /// Timing runs submitted (warm-up runs included).
    pub timing_runs: u64,
    /// Candidates dropped after their warm-up run.
    pub pruned: u64,
    /// Candidates that could not be built on this device (limits) and were skipped.
    pub failed: u64,
}

impl std::ops::Sub for TuneStats {
    type Output = TuneStats;
    fn sub(self, o: TuneStats) -> TuneStats {
        TuneStats {
            tuned: self.tuned - o.tuned,
            cache_hits: self.cache_hits - o.cache_hits,
            candidates_timed: self.candidates_timed - o.candidates_timed,
            timing_runs: self.timing_runs - o.timing_runs,
            pruned: self.pruned - o.pruned,
            failed: self.failed - o.failed,
        }
    }
}

/// One remembered choice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The chosen configuration (`Debug` form of [`ConvAlgorithm`]).
    pub algorithm: String,
    /// Fingerprint of the candidate list it was chosen from.
    pub candidates: String,
    /// Its score, ms.
    pub ms: f64,
    /// The heuristic's score, ms (the gain of tuning is `heuristic_ms / ms`).
    pub heuristic_ms: Option<f64>,
    /// `gpu_timestamps` or `wall_time`.
    pub clock: String,
    /// Candidates timed.
    pub timed: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    adapters: BTreeMap<String, BTreeMap<String, Entry>>,
}

/// An adapter's tuning choices, loaded from and saved to the cache file.
pub struct Tuner {
    path: Option<PathBuf>,
    adapter: String,
    entries: Mutex<BTreeMap<String, Entry>>,
    dirty: AtomicBool,
    warning: Option<String>,
    options: TuneOptions,
    tuned: AtomicU64,
    hits: AtomicU64,
    timed: AtomicU64,
    runs: AtomicU64,
    pruned: AtomicU64,
    failed: AtomicU64,
    /// Fast-path self-checks run on this device ([`self_check`]).
    checks: Mutex<HashMap<self_check::CheckKey, std::sync::Arc<FastPathCheck>>>,
}

impl std::fmt::Debug for Tuner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tuner")
            .field("path", &self.path)
            .field("adapter", &self.adapter)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Reads the cache file: its entries for every adapter, or a reason to ignore it.
fn read_file(path: &Path) -> std::result::Result<CacheFile, Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(None),
        Err(e) => return Err(Some(e.to_string())),
    };
    // The version first, so an old or future file says so rather than "missing field".
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| Some(format!("not JSON: {e}")))?
        .get("version")
        .and_then(|v| v.as_u64());
    if version != Some(FORMAT_VERSION as u64) {
        return Err(Some(format!(
            "format version {version:?}, this build reads {FORMAT_VERSION}"
        )));
    }
    serde_json::from_str(&text).map_err(|e| Some(format!("malformed: {e}")))
}

impl Tuner {
    /// The tuner of the adapter `info`, with the choices remembered in `dir` (none when
    /// `dir` is `None`: choices then live as long as the device).
    pub fn open(dir: Option<&Path>, info: &wgpu::AdapterInfo, options: TuneOptions) -> Self {
        let path = dir.map(|d| d.join(CACHE_FILE));
        let adapter = adapter_key(info);
        let (entries, warning) = match path.as_deref().map(read_file) {
            Some(Ok(mut f)) => (f.adapters.remove(&adapter).unwrap_or_default(), None),
            Some(Err(Some(why))) => {
                let w = format!(
                    "ignoring the autotuning cache {}: {why} (it will be rewritten)",
                    path.as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                );
                log::warn!("{w}");
                (BTreeMap::new(), Some(w))
            }
            _ => (BTreeMap::new(), None),
        };
        Self {
            path,
            adapter,
            entries: Mutex::new(entries),
            dirty: AtomicBool::new(false),
            warning,
            options,
            tuned: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            timed: AtomicU64::new(0),
            runs: AtomicU64::new(0),
            pruned: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            checks: Mutex::new(HashMap::new()),
        }
    }

    /// The cache file, if the cache directory is usable.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Why the cache file was ignored when it was loaded, if it was.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// Counters so far.
    pub fn stats(&self) -> TuneStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TuneStats {
            tuned: l(&self.tuned),
            cache_hits: l(&self.hits),
            candidates_timed: l(&self.timed),
            timing_runs: l(&self.runs),
            pruned: l(&self.pruned),
            failed: l(&self.failed),
        }
    }

    /// This adapter's remembered choices, by shape key.
    pub fn entries(&self) -> BTreeMap<String, Entry> {
        self.entries.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Writes new choices to the cache file, merged with what other processes wrote there
    /// since it was read (this adapter's entries from this tuner win). True when written;
    /// failures only cost the next process a retune.
    pub fn save(&self) -> bool {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return false;
        }
        let Some(path) = &self.path else {
            return false;
        };
        let mut file = read_file(path).unwrap_or_else(|_| CacheFile {
            version: FORMAT_VERSION,
            adapters: BTreeMap::new(),
        });
        let ours = self.entries();
        file.adapters
            .entry(self.adapter.clone())
            .or_default()
            .extend(ours);
        let text = serde_json::to_string_pretty(&file).expect("cache serializes");
        match crate::device::cache::write_atomic(path, text.as_bytes()) {
            Ok(()) => true,
            Err(e) => {
                log::warn!("cannot save the autotuning cache {}: {e}", path.display());
                false
            }
        }
    }

    /// The configuration for convolution node `op` with input shape `input`: remembered, or
    /// found by timing every candidate now. `None` for other ops.
    pub fn conv_algorithm(&self, gpu: &Gpu, op: &Op, input: &[usize]) -> Option<ConvAlgorithm> {
        let (spec, weight_shape, epilogue) = conv_parts(op)?;
        let heuristic = algorithm::heuristic_for(gpu.target(), spec, input, weight_shape);
        let candidates = algorithm::candidates_for(gpu.target(), spec, input, weight_shape);
        if candidates.len() <= 1 {
            return Some(candidates.first().copied().unwrap_or(heuristic));
        }
        // Timed in the handle's precision (the session's), and remembered under it.
        let key = ConvKey::new(
            spec,
            input,
            weight_shape,
            epilogue.residual,
            gpu.precision(),
        );
        let print = fingerprint(&algorithm::candidates_for(
            gpu.target(),
            spec,
            key.bucket_input(),
            weight_shape,
        ));
        let key = key.to_string();
        // A choice made for another shape of the bucket counts when it is viable here too.
        if let Some(e) = self.entries.lock().ok()?.get(&key)
            && e.candidates == print
            && let Some(a) = candidates.iter().find(|c| format!("{c:?}") == e.algorithm)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(*a);
        }
        let (best, entry) = self.time_candidates(gpu, op, input, heuristic, &candidates, print);
        if let Some(entry) = entry {
            self.tuned.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut e) = self.entries.lock() {
                e.insert(key, entry);
                self.dirty.store(true, Ordering::Relaxed);
            }
            // Saved per shape: tuning a large network takes minutes on slow adapters, and an
            // interrupted build keeps what it measured.
            self.save();
        }
        Some(best)
    }

    /// Times `candidates` (the heuristic first); the fastest and its entry (`None` when no
    /// candidate could be timed).
    fn time_candidates(
        &self,
        gpu: &Gpu,
        op: &Op,
        input: &[usize],
        heuristic: ConvAlgorithm,
        candidates: &[ConvAlgorithm],
        print: String,
    ) -> (ConvAlgorithm, Option<Entry>) {
        let Ok(bench) = Bench::new(gpu, op, input) else {
            return (heuristic, None);
        };
        let mut order: Vec<ConvAlgorithm> = vec![heuristic];
        order.extend(candidates.iter().copied().filter(|&c| c != heuristic));
        let mut best: Option<(ConvAlgorithm, f64)> = None;
        let mut heuristic_ms = None;
        let mut clock = Clock::WallTime;
        let mut timed = 0;
        for a in order {
            let Ok(launch) = bench.launch(gpu, op, input, &a) else {
                self.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let record = |pass: &mut wgpu::ComputePass<'_>| {
                for d in &launch.dispatches {
                    d.record(pass);
                }
            };
            self.timed.fetch_add(1, Ordering::Relaxed);
            timed += 1;
            self.runs.fetch_add(1, Ordering::Relaxed);
            let Ok(warm) = time_pass(gpu, 0, 1, true, &record) else {
                self.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            clock = warm.clock;
            if let Some((_, b)) = best
                && warm.min_ms() > self.options.prune_factor * b
            {
                self.pruned.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let reps = self.options.reps.max(1);
            self.runs.fetch_add(reps as u64, Ordering::Relaxed);
            let Ok(t) = time_pass(gpu, 0, reps, true, &record) else {
                self.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let ms = t.min_ms();
            if a == heuristic {
                heuristic_ms = Some(ms);
            }
            if best.is_none_or(|(_, b)| ms < b) {
                best = Some((a, ms));
            }
        }
        match best {
            Some((a, ms)) => (
                a,
                Some(Entry {
                    algorithm: format!("{a:?}"),
                    candidates: print,
                    ms,
                    heuristic_ms,
                    clock: match clock {
                        Clock::GpuTimestamps => "gpu_timestamps",
                        Clock::WallTime => "wall_time",
                    }
                    .into(),
                    timed,
                }),
            ),
            None => (heuristic, None),
        }
    }
}

/// The autotuner of a device: one per [`Gpu`] (shared by its [`Gpu::with_precision`] handles),
/// loaded from the cache directory on first use. It also keeps the device's fast-path
/// self-checks ([`self_check`]).
pub trait GpuTuner {
    /// This adapter's autotuning choices.
    fn tuner(&self) -> &Tuner;
}

impl GpuTuner for Gpu {
    fn tuner(&self) -> &Tuner {
        self.upper_state(|| {
            Tuner::open(
                self.cache_dir(),
                self.adapter_info(),
                TuneOptions::default(),
            )
        })
        .expect("the device's upper-layer slot holds its tuner")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_files_are_reported() {
        let dir = std::env::temp_dir().join(format!("wgconv-tune-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(CACHE_FILE);
        assert!(
            matches!(read_file(&p), Err(None)),
            "missing is not a warning"
        );
        std::fs::write(&p, "{ not json").unwrap();
        assert!(matches!(read_file(&p), Err(Some(w)) if w.contains("not JSON")));
        std::fs::write(&p, r#"{"version": 0, "adapters": {}}"#).unwrap();
        assert!(matches!(read_file(&p), Err(Some(w)) if w.contains("version")));
        std::fs::write(&p, r#"{"version": 1, "adapters": {"x": 3}}"#).unwrap();
        assert!(matches!(read_file(&p), Err(Some(w)) if w.contains("malformed")));
        std::fs::write(&p, r#"{"version": 1, "adapters": {}}"#).unwrap();
        assert!(read_file(&p).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
