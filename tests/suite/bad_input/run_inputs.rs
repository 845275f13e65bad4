//! Wrong inputs at run time: through `Session::run_named` and through `wgconv run --input`
//! with bad `.npy` files.

use std::path::Path;
use std::process::Command;

use wgconv::graph::{Conv2d, Graph};
use wgconv::{Session, Tensor};

use super::assert_names;
use crate::common::gpu;

fn small_session_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("image", &[1, 3, 6, 6]);
    let y = g.conv2d(x, "conv", Conv2d::new(4, 3).pad(1)).unwrap();
    g.output(y);
    g
}

/// `run_named` with an unknown, missing, repeated or mis-shaped input: errors naming it.
#[test]
fn run_named_rejects_wrong_inputs() {
    let s = Session::new(gpu(), &small_session_graph()).unwrap();
    let good = Tensor::random(vec![1, 3, 6, 6], 1);
    assert_eq!(s.run_named(&[("image", &good)]).unwrap().len(), 1);

    let err = s.run_named(&[("imag", &good)]).unwrap_err().to_string();
    assert_names(&err, &["\"imag\"", "\"image\""]);
    let err = s.run_named(&[]).unwrap_err().to_string();
    assert_names(&err, &["missing", "\"image\""]);
    let err = s
        .run_named(&[("image", &good), ("image", &good)])
        .unwrap_err()
        .to_string();
    assert_names(&err, &["\"image\"", "twice"]);
    let wrong = Tensor::random(vec![1, 3, 6, 7], 2);
    let err = s.run_named(&[("image", &wrong)]).unwrap_err().to_string();
    assert_names(&err, &["[1, 3, 6, 7]", "[1, 3, 6, 6]"]);
    let empty = Tensor::zeros(vec![0, 3, 6, 6]);
    assert!(s.run_named(&[("image", &empty)]).is_err());
    // The session still works afterwards.
    assert_eq!(s.run_named(&[("image", &good)]).unwrap().len(), 1);
}

/// A `.npy` file with the given dtype descriptor, shape and raw data.
fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

fn wgconv_cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wgconv"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `wgconv run --input` with an int8 or complex `.npy`, or one of the wrong shape: a failing
/// exit whose message names the file or input and what is wrong.
#[test]
fn cli_run_rejects_bad_npy_inputs() {
    let dir = std::env::temp_dir().join(format!("wgconv-bad-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/fire/model.onnx");
    let model = model.to_str().unwrap();
    let n = 16 * 10 * 10;
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "int8.npy",
            npy_bytes("|i1", &[1, 16, 10, 10], &vec![1u8; n]),
            vec!["int8.npy", "\"i1\"", "not supported"],
        ),
        (
            "complex.npy",
            npy_bytes("<c8", &[1, 16, 10, 10], &vec![0u8; n * 8]),
            vec!["complex.npy", "\"c8\"", "not supported"],
        ),
        (
            "truncated.npy",
            npy_bytes("<f4", &[1, 16, 10, 10], &[0u8; 100]),
            vec!["truncated.npy"],
        ),
        (
            "shape.npy",
            npy_bytes("<f4", &[1, 16, 9, 10], &vec![0u8; 16 * 9 * 10 * 4]),
            vec!["input", "[1, 16, 9, 10]"],
        ),
    ];
    for (file, bytes, wants) in cases {
        let path = dir.join(file);
        std::fs::write(&path, bytes).unwrap();
        let arg = format!("input={}", path.display());
        let (ok, out) = wgconv_cli(&["run", model, "--input", &arg, "--runs", "1"]);
        assert!(!ok, "{file}: succeeded:\n{out}");
        assert!(!out.contains("panicked"), "{file}: panicked:\n{out}");
        for w in wants {
            assert!(out.contains(w), "{file}: {w:?} not in:\n{out}");
        }
    }
    // An input name the model does not have.
    let path = dir.join("good.npy");
    std::fs::write(&path, npy_bytes("<f4", &[1, 16, 10, 10], &vec![0u8; n * 4])).unwrap();
    let arg = format!("nope={}", path.display());
    let (ok, out) = wgconv_cli(&["run", model, "--input", &arg, "--runs", "1"]);
    assert!(
        !ok && out.contains("nope") && !out.contains("panicked"),
        "{out}"
    );
    std::fs::remove_dir_all(dir).ok();
}
