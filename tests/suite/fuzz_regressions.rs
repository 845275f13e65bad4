//! Replays every input the fuzzers (`fuzz/`, cargo-fuzz, nightly) found a bug with, through
//! the very code the fuzz targets run (`fuzz_harness`), so CI keeps them on stable. Each file
//! under `tests/fixtures/fuzz/<target>/` must give `Ok` or a typed error, never a panic.

use std::path::Path;

use super::{fuzz_harness, onnx};

/// Replays every file of `tests/fixtures/fuzz/<target>/`, which must include `expected` (the
/// regressions known when this was written; new findings are replayed without being listed).
fn replay(target: &str, expected: &[&str], run: fn(&[u8]) -> wgconv::Result<()>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for name in expected {
        assert!(
            files
                .iter()
                .any(|f| f.file_name().is_some_and(|n| n == *name)),
            "{target}: regression {name} missing from {}",
            dir.display()
        );
    }
    for f in &files {
        let data = std::fs::read(f).unwrap();
        // A typed error is fine; the test fails on a panic, with the file's name.
        let r = std::panic::catch_unwind(|| run(&data));
        assert!(r.is_ok(), "{target}: {} panicked", f.display());
        if let Ok(Err(e)) = r {
            assert!(
                !e.to_string().is_empty(),
                "{}: empty error message",
                f.display()
            );
        }
    }
}

#[test]
fn onnx_import_regressions() {
    replay(
        "onnx_import",
        &["constant_of_shape_huge"],
        fuzz_harness::onnx_import,
    );
}

#[test]
fn graph_build_regressions() {
    replay(
        "graph_build",
        &[
            "batch_norm_empty_output_spin",
            "clip_min_above_max",
            "conv_nd_padding_overflow",
            "empty_shape_huge_dims_numel",
            "fold_batch_norm_empty_conv_chunks",
            "fold_batch_norm_empty_conv_div0",
            "linear_huge_bias",
            "param_shape_overflow",
            "pixel_shuffle_factor_overflow",
            "plan_input_bytes_overflow",
            "reshape_target_product_overflow",
            "space_to_depth_empty_output_spin",
        ],
        fuzz_harness::graph_build,
    );
}

/// The fixtures with dynamic input dims: the fuzz path gives no shape, so they must stop at
/// that error; every other fixture must import cleanly.
const DYNAMIC: &[&str] = &["ppocr_cls_pretrained"];

/// The seed corpus (the ONNX fixtures) goes through the fuzz path cleanly too: it is what the
/// fuzzer mutates, so a failure here would drown every real finding.
#[test]
fn onnx_fixtures_through_the_fuzz_path() {
    let mut dynamic = Vec::new();
    for dir in onnx::fixture_dirs() {
        let m = dir.join("model.onnx");
        let data = std::fs::read(&m).unwrap_or_else(|e| panic!("{}: {e}", m.display()));
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        match fuzz_harness::onnx_import(&data) {
            Err(e) if e.to_string().contains("dynamic") => dynamic.push(name),
            r => r.unwrap_or_else(|e| panic!("{}: {e}", m.display())),
        }
    }
    assert_eq!(dynamic, DYNAMIC, "fixtures refused for dynamic dims");
}
