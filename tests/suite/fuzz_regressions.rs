//! Replays every input the fuzzers (`fuzz/`, cargo-fuzz, nightly) found a bug with, through
//! the very code the fuzz targets run (`fuzz_harness`), so CI keeps them on stable. Each file
//! under `tests/fixtures/fuzz/<target>/` must give `Ok` or a typed error, never a panic.

use std::path::Path;

use super::fuzz_harness;

fn replay(target: &str, run: fn(&[u8]) -> wgconv::Result<()>) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
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
    files.len()
}

#[test]
fn onnx_import_regressions() {
    replay("onnx_import", fuzz_harness::onnx_import);
}

#[test]
fn graph_build_regressions() {
    replay("graph_build", fuzz_harness::graph_build);
}

/// The seed corpus (the ONNX fixtures) goes through the fuzz path cleanly too: it is what the
/// fuzzer mutates, so a failure here would drown every real finding.
#[test]
fn onnx_fixtures_through_the_fuzz_path() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx");
    for e in std::fs::read_dir(dir).unwrap() {
        let m = e.unwrap().path().join("model.onnx");
        if let Ok(data) = std::fs::read(&m) {
            match fuzz_harness::onnx_import(&data) {
                // Dynamic input dims need a shape the fuzz path does not give.
                Err(e) if e.to_string().contains("dynamic") => {}
                r => r.unwrap_or_else(|e| panic!("{}: {e}", m.display())),
            }
        }
    }
}
