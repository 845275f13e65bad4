//! `wgconv::bench` end to end on one tiny layer and one tiny network: every reported figure
//! is finite and positive. No timing assertions (CI runs on a shared software rasterizer).

use wgconv::bench::suite::{LayerItem, ModelItem};
use wgconv::bench::{BenchOptions, Progress, Suite, run};

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
    ] {
        positive(what, v);
    }
    assert!(model.min_ms <= model.median_ms);

    // Both tables name their items; the JSON carries both lists.
    let table = report.table();
    assert!(
        table.contains("tiny_conv") && table.contains("tiny_cifar"),
        "{table}"
    );
    assert!(table.contains("skipped: tiny_skipped"), "{table}");
    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(json["models"][0]["name"], "tiny_cifar");
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
