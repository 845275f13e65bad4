//! What `wgconv bench` writes: the JSON document (with the run's metadata), the CSV, and the
//! comparison with an earlier document (`--baseline`). The schema is in README "Benchmarks".

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::{Memory, Profile, Report, Stats};
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::traffic::Traffic;

/// Version of the JSON layout; bumped when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// The adapter the figures were measured on.
#[derive(Clone, Debug, Serialize)]
pub struct AdapterMeta {
    /// Adapter name (`llvmpipe (LLVM ...)`, `NVIDIA H100 ...`).
    pub name: String,
    /// wgpu backend (`Vulkan`, `Gl`, `Metal`, `Dx12`).
    pub backend: String,
    /// Driver name.
    pub driver: String,
    /// Driver version text.
    pub driver_info: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `Cpu`, ...
    pub device_type: String,
}

/// How and where a benchmark ran.
#[derive(Clone, Debug, Serialize)]
pub struct Metadata {
    /// wgconv's version (Cargo.toml).
    pub wgconv_version: String,
    /// The adapter.
    pub adapter: AdapterMeta,
    /// Storage / accumulation precision (`f32`, `f16`, `f16-acc32`).
    pub precision: String,
    /// Whether convolutions used the autotuner's choices.
    pub autotune: bool,
    /// When the run started, UTC, RFC 3339.
    pub date: String,
    /// The command line, one argument per entry.
    pub command: Vec<String>,
    /// Untimed runs per item.
    pub warmup: usize,
    /// Timed runs per item.
    pub runs: usize,
}

impl Metadata {
    /// Metadata of a run on `gpu` started now.
    pub fn new(
        gpu: &Gpu,
        autotune: bool,
        command: Vec<String>,
        warmup: usize,
        runs: usize,
    ) -> Self {
        let info = gpu.adapter_info();
        Self {
            wgconv_version: env!("CARGO_PKG_VERSION").to_string(),
            adapter: AdapterMeta {
                name: info.name.clone(),
                backend: format!("{:?}", info.backend),
                driver: info.driver.clone(),
                driver_info: info.driver_info.clone(),
                device_type: format!("{:?}", info.device_type),
            },
            precision: gpu.precision().to_string(),
            autotune,
            date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            command,
            warmup,
            runs,
        }
    }
}

/// One network given on the command line (an ONNX file or a zoo name), run as `wgconv run
/// --runs` runs it: upload, kernels and readback timed on the host.
#[derive(Clone, Debug, Serialize)]
pub struct NetworkResult {
    /// The argument as given.
    pub name: String,
    /// Input shapes by name.
    pub inputs: BTreeMap<String, Vec<usize>>,
    /// Kernel launches per run.
    pub dispatches: usize,
    /// Bytes the launches move and the graph's minimum ([`crate::traffic`]).
    pub traffic: Traffic,
    /// Median host time to record one run's launches into an encoder and submit it, ms (timed
    /// over runs of the kernels alone; the GPU's execution excluded).
    pub host_ms: f64,
    /// Session creation and first run (planning, pipelines, parameter upload), ms.
    pub build_ms: f64,
    /// Latency statistics.
    pub stats: Stats,
    /// Per-launch GPU times (`--profile`).
    pub profile: Option<Profile>,
    /// Device bytes (`--memory`).
    pub memory: Option<Memory>,
}

/// One item's time in this run and in the baseline, matched by name.
#[derive(Clone, Debug, Serialize)]
pub struct BaselineRow {
    /// Item name.
    pub name: String,
    /// Now, ms (`None`: not in this run).
    pub new_ms: Option<f64>,
    /// In the baseline, ms (`None`: not in the baseline).
    pub old_ms: Option<f64>,
    /// `new_ms / old_ms` when both exist (below 1: faster now).
    pub ratio: Option<f64>,
}

/// The whole JSON document.
#[derive(Clone, Debug, Serialize)]
pub struct Document {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// How and where it ran.
    pub meta: Metadata,
    /// Networks given as items.
    pub networks: Vec<NetworkResult>,
    /// Suite results (`items`: layers, `models`, `skipped`, `adapter`, `peak`), when a suite ran.
    #[serde(flatten)]
    pub suite: Option<Report>,
    /// The comparison with `--baseline`, when given.
    pub baseline: Option<Vec<BaselineRow>>,
}

impl Document {
    /// Every item's time: networks' mean, suite layers' and models' median.
    pub fn times(&self) -> Vec<(String, f64)> {
        let doc = serde_json::to_value(self).expect("the document serializes");
        item_times(&doc, "this run").expect("a document has its own layout")
    }

    /// One row per item (networks, then suite layers and models): time statistics and, for
    /// networks, dispatches, memory and the profile's method and total. Empty cells where an
    /// item has no such figure.
    pub fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let head = [
            "item",
            "kind",
            "batch",
            "runs",
            "mean_ms",
            "stddev_ms",
            "min_ms",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "items_per_s",
            "dispatches",
            "activation_arena_bytes",
            "scratch_bytes",
            "parameter_bytes",
            "staging_bytes",
            "peak_device_bytes",
            "profile_method",
            "profile_total_ms",
        ];
        w.write_record(head).expect("in memory");
        let opt = |v: Option<String>| v.unwrap_or_default();
        for n in &self.networks {
            let s = &n.stats;
            let m = n.memory.as_ref();
            let mem = |f: fn(&Memory) -> u64| opt(m.map(|m| f(m).to_string()));
            let p = n.profile.as_ref();
            w.write_record([
                n.name.clone(),
                "network".into(),
                s.batch.to_string(),
                s.runs.to_string(),
                s.mean_ms.to_string(),
                s.stddev_ms.to_string(),
                s.min_ms.to_string(),
                s.p50_ms.to_string(),
                s.p90_ms.to_string(),
                s.p99_ms.to_string(),
                s.items_per_s.to_string(),
                n.dispatches.to_string(),
                mem(|m| m.activation_arena_bytes),
                mem(|m| m.scratch_bytes),
                mem(|m| m.parameter_bytes),
                mem(|m| m.staging_bytes),
                mem(|m| m.peak_device_bytes),
                opt(p.map(|p| p.method.name().to_string())),
                opt(p.map(|p| p.total_ms.to_string())),
            ])
            .expect("in memory");
        }
        if let Some(r) = &self.suite {
            let layers = r
                .items
                .iter()
                .map(|i| (&i.name, "layer", None, i.runs, i.median_ms, i.min_ms, None));
            let models = r.models.iter().map(|m| {
                let batch = m.input.first().copied();
                (
                    &m.name,
                    "model",
                    batch,
                    m.runs,
                    m.median_ms,
                    m.min_ms,
                    Some(m.dispatches),
                )
            });
            for (name, kind, batch, runs, median, min, dispatches) in layers.chain(models) {
                let mut row = vec![String::new(); head.len()];
                row[0] = name.clone();
                row[1] = kind.into();
                row[2] = opt(batch.map(|b| b.to_string()));
                row[3] = runs.to_string();
                row[6] = min.to_string();
                row[7] = median.to_string();
                row[11] = opt(dispatches.map(|d| d.to_string()));
                w.write_record(&row).expect("in memory");
            }
        }
        String::from_utf8(w.into_inner().expect("in memory")).expect("UTF-8 fields")
    }
}

/// Item times of a bench document: `networks[].stats.mean_ms`, `items[].median_ms` and
/// `models[].median_ms`, by name. `what` names the document in errors.
fn item_times(doc: &Value, what: &str) -> std::result::Result<Vec<(String, f64)>, String> {
    if doc.get("schema_version").and_then(Value::as_u64).is_none() {
        return Err(format!(
            "{what} is not a `wgconv bench --json` document (no schema_version)"
        ));
    }
    let mut out = Vec::new();
    for (key, time) in [
        ("networks", &["stats", "mean_ms"][..]),
        ("items", &["median_ms"][..]),
        ("models", &["median_ms"][..]),
    ] {
        let Some(list) = doc.get(key) else { continue };
        let list = list
            .as_array()
            .ok_or_else(|| format!("{what}: `{key}` is not a list"))?;
        for (i, e) in list.iter().enumerate() {
            let name = e.get("name").and_then(Value::as_str);
            let ms = time
                .iter()
                .try_fold(e, |v, k| v.get(k))
                .and_then(Value::as_f64);
            match (name, ms) {
                (Some(n), Some(ms)) => out.push((n.to_string(), ms)),
                _ => {
                    return Err(format!(
                        "{what}: `{key}[{i}]` lacks a string `name` or a number `{}`",
                        time.join(".")
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// The item times of the bench JSON at `path` (an error names the file and what is wrong).
pub fn read_baseline(path: &Path) -> Result<Vec<(String, f64)>> {
    let bad = |reason: String| Error::InvalidSetting {
        name: "baseline",
        value: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(Error::io("reading", path))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    item_times(&doc, "the file").map_err(bad)
}

/// This run's items against the baseline's, matched by name: this run's order, then the
/// baseline's items this run lacks.
pub fn compare(new: &[(String, f64)], old: &[(String, f64)]) -> Vec<BaselineRow> {
    let find = |list: &[(String, f64)], name: &str| {
        list.iter().find(|(n, _)| n == name).map(|&(_, ms)| ms)
    };
    let mut rows: Vec<BaselineRow> = new
        .iter()
        .map(|(name, ms)| {
            let old_ms = find(old, name);
            BaselineRow {
                name: name.clone(),
                new_ms: Some(*ms),
                old_ms,
                ratio: old_ms.map(|o| ms / o),
            }
        })
        .collect();
    rows.extend(
        old.iter()
            .filter(|(n, _)| find(new, n).is_none())
            .map(|(name, ms)| BaselineRow {
                name: name.clone(),
                new_ms: None,
                old_ms: Some(*ms),
                ratio: None,
            }),
    );
    rows
}

/// The comparison as a table: new, old, new/old per item; a missing side is flagged.
pub fn baseline_table(rows: &[BaselineRow], baseline: &str) -> String {
    let mut s = format!(
        "baseline {baseline} (ms: network mean, suite median):\n{:<32} {:>12} {:>12} {:>9}\n",
        "item", "new ms", "old ms", "new/old"
    );
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    for r in rows {
        let ratio = match (r.ratio, r.new_ms, r.old_ms) {
            (Some(x), ..) => format!("{x:.3}"),
            (None, Some(_), None) => "missing from the baseline".into(),
            _ => "missing from this run".into(),
        };
        s += &format!(
            "{:<32} {:>12} {:>12} {:>9}\n",
            r.name,
            ms(r.new_ms),
            ms(r.old_ms),
            ratio
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_matches_by_name_and_flags_missing_items() {
        let new = vec![("a".to_string(), 2.0), ("b".to_string(), 1.0)];
        let old = vec![("c".to_string(), 5.0), ("a".to_string(), 4.0)];
        let rows = compare(&new, &old);
        let got: Vec<(&str, Option<f64>)> =
            rows.iter().map(|r| (r.name.as_str(), r.ratio)).collect();
        assert_eq!(got, [("a", Some(0.5)), ("b", None), ("c", None)]);
        let t = baseline_table(&rows, "old.json");
        assert!(
            t.contains("missing from the baseline") && t.contains("missing from this run"),
            "{t}"
        );
    }

    #[test]
    fn item_times_refuses_other_json() {
        let e = item_times(&serde_json::json!({"items": []}), "f").unwrap_err();
        assert!(e.contains("schema_version"), "{e}");
        let doc = serde_json::json!({"schema_version": 1, "networks": [{"name": "x"}]});
        let e = item_times(&doc, "f").unwrap_err();
        assert!(
            e.contains("networks[0]") && e.contains("stats.mean_ms"),
            "{e}"
        );
        let doc = serde_json::json!({"schema_version": 1, "networks": [
            {"name": "x", "stats": {"mean_ms": 3.0}}], "items": [{"name": "l", "median_ms": 1.5}]});
        assert_eq!(
            item_times(&doc, "f").unwrap(),
            [("x".to_string(), 3.0), ("l".to_string(), 1.5)]
        );
    }
}
