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
        &["constant_of_shape_huge", "empty_graph_no_outputs"],
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
            "lrn_axis_out_of_range",
            "norm_affine_len_huge_input",
            "param_shape_overflow",
            "pixel_shuffle_factor_overflow",
            "plan_input_bytes_overflow",
            "reshape_target_product_overflow",
            "resize_antialias_huge_lookup",
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

/// Every `graph_build` family step builds its node on an input that suits it and passes the
/// whole fuzz check, so the fuzzer's new steps are not all rejected up front.
#[test]
fn graph_build_family_steps_build() {
    use fuzz_harness::program::Program;
    use fuzz_harness::step::{Family, Item, N};
    let n = |v: &[usize]| v.iter().map(|&d| N(d)).collect::<Vec<_>>();
    let pool = |kind: u8, rank: usize| Family::PoolNd {
        x: 0,
        kind,
        p: N(2),
        kernel: n(&vec![2; rank]),
        stride: n(&vec![1; rank]),
        pad_begin: n(&vec![1; rank]),
        pad_end: n(&vec![0; rank]),
        dilation: n(&vec![2; rank]),
        ceil_mode: true,
        count_include_pad: false,
    };
    let resize = |mode: u8, coordinate: u8, antialias: bool| Family::Resize {
        x: 0,
        mode,
        coordinate,
        nearest: 1,
        out: [N(3), N(7)],
        scale: None,
        cubic_a: -0.5,
        exclude_outside: true,
        antialias,
        roi: [[0.1, 0.9], [0.0, 1.2]],
        extrapolation: 2.0,
    };
    let conv = |transpose: bool| Family::ConvInputWeight {
        x: 0,
        w: 1,
        b: Some(2),
        transpose,
        stride: n(&[1, 2]),
        pad_begin: n(&[1, 0]),
        pad_end: n(&[0, 1]),
        dilation: n(&[1, 1]),
        output_padding: n(&[0, 1]),
        groups: N(1),
        slot: None,
        shape: None,
    };
    let norm = |kind: u8, output: u8| Family::Norm {
        x: 0,
        kind,
        output,
        axis: N(1),
        epsilon: 1e-5,
        groups: N(1),
        p: N(2),
        size: N(3),
        alpha: 1e-4,
        beta: 0.75,
        bias: 1.0,
        affine: true,
    };
    let x4 = vec![1, 2, 5, 6];
    let mut cases: Vec<(Vec<usize>, Family)> = vec![
        (vec![2, 1, 7], pool(0, 1)),
        (vec![1, 2, 4, 3, 5], pool(1, 3)),
        (x4.clone(), pool(2, 2)),
        (x4.clone(), pool(3, 2)),
        (vec![1, 1, 4, 3, 5], pool(4, 3)),
        (x4.clone(), resize(2, 0, true)),
        (x4.clone(), resize(1, 6, false)),
        (x4.clone(), resize(0, 5, false)),
        (x4.clone(), Family::Constant { shape: n(&[2, 3]) }),
    ];
    cases.extend((0..5).map(|k| (x4.clone(), norm(k, 0))));
    cases.extend([(x4.clone(), norm(0, 1)), (x4.clone(), norm(0, 2))]);
    let more = [
        Family::Expand {
            x: 0,
            shape: n(&[2, 1, 1, 1]),
        },
        Family::Reduce {
            x: 0,
            kind: 13,
            axes: n(&[1, 3]),
            keepdims: false,
        },
        Family::Softmax {
            x: 0,
            kind: 2,
            axis: N(3),
        },
        Family::Where { c: 0, x: 0, y: 0 },
        Family::Act {
            x: 0,
            which: 28,
            a: 0.5,
            b: 0.0,
        },
        Family::Binary {
            a: 0,
            b: 0,
            op: 11,
            act: 3,
        },
        Family::Identity { x: 0 },
    ];
    cases.extend(more.into_iter().map(|f| (x4.clone(), f)));
    for (input, family) in cases {
        let what = format!("{family:?} on {input:?}");
        let prog = Program {
            input: n(&input),
            steps: vec![Item::Family(family)],
        };
        let g = prog.build().unwrap();
        assert_eq!(g.nodes().len(), 1, "{what} was rejected");
        fuzz_harness::check_graph(&g).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
    // The run-time weight [3, 2, 2, 2] and bias [3] are the program's next inputs.
    for transpose in [false, true] {
        let w = if transpose {
            [2, 3, 2, 2]
        } else {
            [3, 2, 2, 2]
        };
        let prog = Program {
            input: n(&[2, 2, 5, 6]),
            steps: vec![
                Item::Step(fuzz_harness::step::Step::Input(n(&w))),
                Item::Step(fuzz_harness::step::Step::Input(n(&[3]))),
                Item::Family(conv(transpose)),
            ],
        };
        let g = prog.build().unwrap();
        assert_eq!(
            g.nodes().len(),
            1,
            "conv (transpose {transpose}) was rejected"
        );
        fuzz_harness::check_graph(&g).unwrap();
    }
}
