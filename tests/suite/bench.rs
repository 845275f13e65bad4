//! `wgconv::bench` end to end on one tiny layer and one tiny network: every reported figure
//! is finite and positive. No timing assertions (CI runs on a shared software rasterizer).

use wgconv::bench::suite::{LayerItem, ModelItem};
use wgconv::bench::{
    BenchOptions, Clock, ItemResult, ModelResult, Peak, Progress, Report, Suite, roofline, run,
};
use wgconv::device::cache::PipelineCacheState;

use crate::common::gpu;

fn tiny_suite() -> Suite {
    Suite {
        comment: String::new(),
        layers: vec![LayerItem {
            name: "tiny_conv".into(),
            op: "conv2d".into(),
            n: 1,
            cin: 4,
            cout: 8,
            spatial: vec![9, 7],
            kernel: vec![3, 3],
            stride: vec![1, 1],
            pad: vec![1, 1],
            dilation: vec![1, 1],
            groups: 1,
            factor: 0,
            squeeze: 0,
        }],
        models: vec![
            ModelItem {
                name: "tiny_cifar".into(),
                model: Some("cifar10_net".into()),
                input: vec![1, 3, 32, 32],
                note: None,
            },
            // Selected by the filter but skipped: must be listed, not run.
            ModelItem {
                name: "tiny_skipped".into(),
                model: Some("no_such_network".into()),
                input: vec![1, 3, 32, 32],
                note: None,
            },
        ],
    }
}

fn positive(what: &str, v: f64) {
    assert!(v.is_finite() && v > 0.0, "{what} = {v}");
}

#[test]
fn reports_finite_positive_figures() {
    let opts = BenchOptions {
        warmup: 1,
        runs: 2,
        filter: Some("tiny".into()),
        skip: vec!["tiny_skipped".into()],
        ..Default::default()
    };
    let suite = tiny_suite();
    assert_eq!(opts.selected(&suite), ["tiny_conv", "tiny_cifar"]);
    let mut started = Vec::new();
    let mut done = 0;
    let report = run(gpu(), &suite, &opts, &mut |p| match p {
        Progress::Started(n) => started.push(n.to_string()),
        Progress::Layer(_) | Progress::Model(_) => done += 1,
    })
    .expect("bench runs");
    assert_eq!(started, ["tiny_conv", "tiny_cifar"]);
    assert_eq!(done, 2);
    assert_eq!(report.skipped, ["tiny_skipped"]);

    let [layer] = report.items.as_slice() else {
        panic!("one layer expected: {:?}", report.items)
    };
    assert_eq!(layer.kernel, "conv");
    assert_eq!(layer.runs, 2);
    for (what, v) in [
        ("median_ms", layer.median_ms),
        ("min_ms", layer.min_ms),
        ("gflops", layer.gflops),
        ("gbs", layer.gbs),
    ] {
        positive(what, v);
    }
    assert!(layer.min_ms <= layer.median_ms);

    let [model] = report.models.as_slice() else {
        panic!("one model expected: {:?}", report.models)
    };
    assert_eq!(model.model, "cifar10_net");
    assert_eq!(model.params, 193_376);
    assert_eq!(model.runs, 2);
    assert!(model.dispatches > 0 && model.macs > 0 && model.pipelines_compiled > 0);
    for (what, v) in [
        ("cold_start_ms", model.cold_start_ms),
        ("median_ms", model.median_ms),
        ("min_ms", model.min_ms),
        ("images_per_s", model.images_per_s),
        ("gflops", model.gflops),
        ("bytes", model.bytes as f64),
        ("min_bytes", model.min_bytes as f64),
        ("host_ms", model.host_ms),
    ] {
        positive(what, v);
    }
    assert!(model.min_ms <= model.median_ms);
    assert_eq!(model.bytes, model.bytes_read + model.bytes_written);
    assert!(model.bytes_ratio >= 1.0, "{model:?}");

    // The roofline plots both items.
    let svg = roofline::svg(&report);
    well_formed(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(svg.matches(r#"<g class="point">"#).count(), 2, "{svg}");

    // Both tables name their items; the JSON carries both lists.
    let table = report.table();
    assert!(
        table.contains("tiny_conv") && table.contains("tiny_cifar"),
        "{table}"
    );
    assert!(table.contains("skipped: tiny_skipped"), "{table}");
    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(json["models"][0]["name"], "tiny_cifar");
    assert!(json["models"][0]["host_ms"].as_f64().unwrap() > 0.0);
    assert!(json["models"][0]["min_bytes"].as_u64().unwrap() > 0);
    assert_eq!(json["items"][0]["name"], "tiny_conv");
}

#[test]
fn layers_only_and_models_only() {
    let suite = tiny_suite();
    let layers = BenchOptions {
        models: false,
        ..Default::default()
    };
    assert_eq!(layers.selected(&suite), ["tiny_conv"]);
    let models = BenchOptions {
        layers: false,
        skip: vec!["tiny_skipped".into()],
        ..Default::default()
    };
    assert_eq!(models.selected(&suite), ["tiny_cifar"]);
}

/// Every item of the built-in suite prepares (shapes valid, ops known), and its models exist
/// in the zoo; the heavy timing is left to `wgconv bench`.
#[test]
fn builtin_suite_items_are_valid() {
    let suite = Suite::builtin();
    for item in &suite.layers {
        let layer =
            wgconv::bench::prepare(gpu(), item).unwrap_or_else(|e| panic!("{}: {e}", item.name));
        assert!(
            !layer.dispatches.is_empty() && layer.bytes > 0.0,
            "{}",
            item.name
        );
    }
    for item in &suite.models {
        wgconv::zoo::build(item.zoo_name(), &item.input)
            .unwrap_or_else(|e| panic!("{}: {e}", item.name));
    }
}

/// A minimal XML well-formedness check (no external parser): tags balance and nest, one root
/// element, attributes quoted, `&` only in entities, nothing but whitespace outside the root.
/// Returns the number of elements.
fn well_formed(xml: &str) -> Result<usize, String> {
    fn text_ok(t: &str) -> Result<(), String> {
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            let tail = &rest[i + 1..];
            let end = tail.find(';').ok_or(format!("bare & in {t:?}"))?;
            let ent = &tail[..end];
            let known = ["amp", "lt", "gt", "quot", "apos"].contains(&ent)
                || ent
                    .strip_prefix('#')
                    .is_some_and(|n| n.chars().all(|c| c.is_ascii_alphanumeric()));
            if !known {
                return Err(format!("unknown entity &{ent};"));
            }
            rest = &tail[end + 1..];
        }
        if t.contains('>') {
            return Err(format!("raw > in text {t:?}"));
        }
        Ok(())
    }
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut elements = 0;
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        let text = &rest[..i];
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        text_ok(text)?;
        rest = &rest[i..];
        let end = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(pi) = tag.strip_prefix('?') {
            if !pi.ends_with('?') || elements > 0 {
                return Err(format!("bad processing instruction <{tag}>"));
            }
        } else if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name.trim() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
        } else {
            if tag.contains('<') || !tag.matches('"').count().is_multiple_of(2) {
                return Err(format!("bad tag <{tag}>"));
            }
            let name = tag
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("");
            if name.is_empty() {
                return Err(format!("nameless tag <{tag}>"));
            }
            // Attribute values: text rules apply.
            for (k, v) in tag.split('"').enumerate() {
                if k % 2 == 1 {
                    text_ok(v)?;
                }
            }
            if stack.is_empty() {
                roots += 1;
            }
            elements += 1;
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
    }
    if !rest.trim().is_empty() || !stack.is_empty() || roots != 1 {
        return Err(format!(
            "unclosed {stack:?}, {roots} roots, trailing {rest:?}"
        ));
    }
    Ok(elements)
}

#[test]
fn well_formed_checker_catches_mistakes() {
    assert_eq!(well_formed("<a><b x=\"1\"/>t &amp; u</a>"), Ok(2));
    for bad in [
        "<a><b></a></b>",
        "<a>",
        "<a/><b/>",
        "<a>x & y</a>",
        "<a x=\"1></a>",
        "x<a/>",
    ] {
        assert!(well_formed(bad).is_err(), "{bad}");
    }
}

fn layer(name: &str, gflops: f64, gbs: f64) -> ItemResult {
    ItemResult {
        name: name.into(),
        kernel: "conv".into(),
        algorithm: None,
        median_ms: 1.0,
        min_ms: 1.0,
        runs: 1,
        clock: Clock::WallTime,
        gflops,
        gbs,
        pct_peak_flops: None,
        pct_peak_bw: None,
    }
}

/// One point per item with FLOPs (layers and networks), data-movement items listed instead,
/// markup in names escaped, with and without known peaks.
#[test]
fn roofline_svg_has_one_point_per_item() {
    let model = ModelResult {
        name: "net<1>".into(),
        model: "cifar10_net".into(),
        input: vec![1, 3, 32, 32],
        dispatches: 10,
        params: 1000,
        macs: 5_000_000,
        cold_start_ms: 10.0,
        pipelines_compiled: 3,
        pipeline_cache: PipelineCacheState::Cold,
        autotune: false,
        tuning: Default::default(),
        bytes: 2_000_000,
        bytes_read: 1_500_000,
        bytes_written: 500_000,
        min_bytes: 1_000_000,
        bytes_ratio: 2.0,
        host_ms: 0.1,
        median_ms: 2.0,
        min_ms: 2.0,
        runs: 1,
        clock: Clock::WallTime,
        images_per_s: 500.0,
        gflops: 5.0,
        pct_peak_flops: None,
    };
    let mut report = Report {
        adapter: "Test & <GPU>".into(),
        peak: Some(Peak {
            gflops: 1000.0,
            gbs: 100.0,
        }),
        items: vec![
            layer("conv3x3", 50.0, 5.0),
            layer("pointwise", 20.0, 40.0),
            layer("pixel_shuffle_r2", 0.0, 30.0),
        ],
        models: vec![model],
        skipped: vec![],
    };
    let (pts, left_out) = roofline::points(&report);
    assert_eq!(pts.len(), 3);
    assert_eq!(left_out, ["pixel_shuffle_r2"]);
    assert!((pts[0].intensity - 10.0).abs() < 1e-9);
    // The network: 2 MB per pass in 2 ms is 1 GB/s at 5 GFLOP/s.
    assert!((pts[2].intensity - 5.0).abs() < 1e-9 && pts[2].model);

    for peak in [
        report.peak,
        None,
        Some(Peak {
            gflops: f64::NAN,
            gbs: 100.0,
        }),
    ] {
        report.peak = peak;
        let svg = roofline::svg(&report);
        well_formed(&svg).unwrap_or_else(|e| panic!("{peak:?}: {e}\n{svg}"));
        assert_eq!(svg.matches(r#"<g class="point">"#).count(), 3, "{svg}");
        for name in ["conv3x3", "pointwise", "net&lt;1&gt;"] {
            assert!(svg.contains(&format!(">{name}</text>")), "{name}");
        }
        assert!(svg.contains("not plotted (no FLOPs): pixel_shuffle_r2"));
        assert!(svg.contains("Test &amp; &lt;GPU&gt;"));
        assert_eq!(svg.contains(r#"class="roof""#), peak.is_some(), "{peak:?}");
    }
}
