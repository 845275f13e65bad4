//! `wgconv bench` on networks given as items: statistics, `--profile`, `--memory`, the JSON
//! document's metadata, `--csv` and `--baseline`, checked against the library's own figures.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wgconv::{Session, SessionConfig};

/// Exit code, stdout, stderr.
fn wgconv(args: &[&str]) -> (Option<i32>, String, String) {
    crate::common::wgconv_cli(args, &[])
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/fire/model.onnx")
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("wgconv-bench-{}-{name}", std::process::id()))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("written")).expect("JSON")
}

#[test]
fn onnx_profile_memory_json_csv_and_baseline() {
    let model = fixture();
    let model = model.to_str().unwrap();
    let (json, csv) = (temp("a.json"), temp("a.csv"));
    let (json_s, csv_s) = (json.to_str().unwrap(), csv.to_str().unwrap());
    let args = [
        "bench",
        model,
        "--profile",
        "--memory",
        "--json",
        json_s,
        "--csv",
        csv_s,
        "--runs",
        "2",
        "--warmup",
        "1",
    ];
    let (code, stdout, stderr) = wgconv(&args);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    for want in [
        "p50",
        "p99",
        "items/s at batch 1",
        "share%",
        "GB/s",
        "peak device",
    ] {
        assert!(stdout.contains(want), "no {want:?} in\n{stdout}");
    }
    let doc = read_json(&json);
    assert_eq!(doc["schema_version"], 1);
    let meta = &doc["meta"];
    assert_eq!(meta["wgconv_version"], env!("CARGO_PKG_VERSION"));
    assert!(
        meta["adapter"]["name"]
            .as_str()
            .unwrap()
            .contains("llvmpipe"),
        "{meta}"
    );
    for field in ["backend", "driver", "device_type"] {
        assert!(
            !meta["adapter"][field].as_str().unwrap().is_empty(),
            "{meta}"
        );
    }
    assert_eq!(meta["precision"], "f32");
    // Software adapters default to the heuristic's choices.
    assert_eq!(meta["autotune"], false);
    let date = meta["date"].as_str().unwrap();
    humantime::parse_rfc3339(date).unwrap_or_else(|e| panic!("date {date:?}: {e}"));
    let command: Vec<&str> = meta["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(command[1..], args, "the exact command");

    // The library's own session of the same model and shapes.
    let session = Session::from_onnx_path(model, &SessionConfig::default()).unwrap();
    let net = &doc["networks"][0];
    assert_eq!(net["name"], model);
    assert_eq!(net["stats"]["runs"], 2);
    assert_eq!(net["dispatches"], session.dispatch_count());
    // The traffic figures of the same plan.
    let traffic = wgconv::traffic::Traffic::of(session.graph(), session.plan());
    assert_eq!(net["traffic"], serde_json::to_value(traffic).unwrap());
    assert!(traffic.minimum > 0 && traffic.moved.total() >= traffic.minimum);
    assert!(net["host_ms"].as_f64().unwrap() > 0.0, "{net}");
    let p = &net["profile"];
    // lavapipe has timestamp queries.
    assert_eq!(p["method"], "gpu_timestamps");
    let launches = p["launches"].as_array().unwrap();
    assert_eq!(launches.len(), session.dispatch_count());
    let shares: f64 = launches
        .iter()
        .map(|l| l["share_pct"].as_f64().unwrap())
        .sum();
    assert!((shares - 100.0).abs() < 1e-6, "shares sum to {shares}");
    assert!(p["total_ms"].as_f64().unwrap() > 0.0);
    let flops: u64 = launches.iter().map(|l| l["flops"].as_u64().unwrap()).sum();
    let want = 2 * session.graph().macs();
    // Shared evenly among a node's launches: the remainder of each division is dropped.
    assert!(
        flops <= want && want - flops < launches.len() as u64,
        "{flops} vs {want}"
    );
    assert!(launches.iter().all(|l| l["bytes"].as_u64().unwrap() > 0));
    let m = &net["memory"];
    assert_eq!(m["activation_arena_bytes"], session.arena_bytes());
    assert_eq!(m["parameter_bytes"], session.param_bytes());
    assert_eq!(m["staging_bytes"], session.staging_bytes());
    assert_eq!(
        m["peak_device_bytes"],
        session.device_bytes() + session.param_bytes()
    );

    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0].len(), rows[1].len(), "{text}");
    let col = |name: &str| rows[0].iter().position(|h| *h == name).unwrap();
    assert_eq!(rows[1][col("item")], model);
    assert_eq!(rows[1][col("runs")], "2");
    assert_eq!(rows[1][col("profile_method")], "gpu_timestamps");
    assert_eq!(
        rows[1][col("peak_device_bytes")],
        m["peak_device_bytes"].to_string()
    );

    // Against that run: a ratio per item; without timestamps the profile says so.
    let json2 = temp("b.json");
    let (code, stdout, stderr) = wgconv(&[
        "bench",
        model,
        "--runs",
        "2",
        "--warmup",
        "0",
        "--profile",
        "--wall-clock",
        "--baseline",
        json_s,
        "--json",
        json2.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("new/old") && stdout.contains(json_s),
        "{stdout}"
    );
    let doc2 = read_json(&json2);
    assert_eq!(doc2["networks"][0]["profile"]["method"], "wall_time");
    let row = &doc2["baseline"][0];
    assert_eq!(row["name"], model);
    let ratio = row["ratio"].as_f64().unwrap();
    let (new, old) = (
        row["new_ms"].as_f64().unwrap(),
        row["old_ms"].as_f64().unwrap(),
    );
    assert_eq!(old, net["stats"]["mean_ms"].as_f64().unwrap());
    assert!((ratio - new / old).abs() < 1e-12 && ratio > 0.0, "{row}");
    assert!(stdout.contains(&format!("{ratio:.3}")), "{stdout}");
    for f in [json, csv, json2] {
        std::fs::remove_file(f).ok();
    }
}

/// A baseline that is not a bench document is a file error (exit 3) naming the file, found
/// before anything runs.
#[test]
fn bad_baseline_exits_3_with_the_reason() {
    let model = fixture();
    let bad = temp("bad.json");
    for (text, why) in [
        ("not json", "not JSON"),
        (r#"{"items": []}"#, "schema_version"),
        (
            r#"{"schema_version": 1, "networks": [{"name": "x"}]}"#,
            "networks[0]",
        ),
    ] {
        std::fs::write(&bad, text).unwrap();
        let (code, stdout, stderr) = wgconv(&[
            "bench",
            model.to_str().unwrap(),
            "--baseline",
            bad.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(3), "{text}: {stdout}\n{stderr}");
        assert!(
            stderr.contains("baseline")
                && stderr.contains(bad.to_str().unwrap())
                && stderr.contains(why),
            "{text}: {stderr}"
        );
    }
    let (code, _, stderr) = wgconv(&["bench", "--baseline", "/nonexistent/old.json"]);
    assert_eq!(code, Some(3), "{stderr}");
    std::fs::remove_file(bad).ok();
}

/// A suite file and a network in one run: one document, one CSV row each; an item that is
/// neither a file nor a zoo network is a model error.
#[test]
fn suite_and_network_items_in_one_document() {
    let model = fixture();
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/suite.json");
    let (json, csv) = (temp("mixed.json"), temp("mixed.csv"));
    let (code, stdout, stderr) = wgconv(&[
        "bench",
        suite.to_str().unwrap(),
        model.to_str().unwrap(),
        "--layers-only",
        "--filter",
        "global_avg_pool",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let doc = read_json(&json);
    assert_eq!(doc["items"][0]["name"], "global_avg_pool");
    assert_eq!(doc["networks"][0]["name"], model.to_str().unwrap());
    assert!(doc["networks"][0]["profile"].is_null() && doc["networks"][0]["memory"].is_null());
    let text = std::fs::read_to_string(&csv).unwrap();
    let kinds: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(kinds, ["network", "layer"], "{text}");
    let (code, _, stderr) = wgconv(&["bench", "no_such_network", "--runs", "1"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("no_such_network"), "{stderr}");
    for f in [json, csv] {
        std::fs::remove_file(f).ok();
    }
}
