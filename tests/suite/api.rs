//! The embedding API: sessions from ONNX files, bytes and graphs, inputs and outputs by name,
//! errors for wrong names and shapes, use from many threads (the async forms: `async_core.rs`).

use std::path::Path;
use std::sync::Arc;

use wgconv::{Session, SessionConfig, Tensor};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
}

fn squeezenet() -> (Session<'static>, Tensor, Tensor) {
    let dir = fixture("squeezenet1_1");
    let s = Session::from_onnx_path(dir.join("model.onnx"), &SessionConfig::default()).unwrap();
    let x = wgconv::npy::read(&dir.join("input.npy")).unwrap();
    let y = wgconv::npy::read(&dir.join("output.npy")).unwrap();
    (s, x, y)
}

#[test]
fn names_shapes_and_named_run() {
    let (s, x, y) = squeezenet();
    assert_eq!(s.inputs(), vec![("input".to_string(), vec![1, 3, 64, 64])]);
    assert_eq!(s.outputs(), vec![("output".to_string(), vec![1, 10])]);
    let out = s.run_named(&[("input", &x)]).unwrap();
    assert_eq!(out[0].0, "output");
    let c = wgconv::compare::compare(
        out[0].1.data(),
        y.data(),
        wgconv::compare::Tolerance {
            atol: 1e-4,
            rtol: 1e-3,
        },
    );
    assert!(c.passed(), "{c}");
    // The same model from bytes gives the same result.
    let bytes = std::fs::read(fixture("squeezenet1_1").join("model.onnx")).unwrap();
    let s2 = Session::from_onnx_bytes(&bytes, &SessionConfig::default()).unwrap();
    assert_eq!(s2.run_named(&[("input", &x)]).unwrap()[0].1, out[0].1);
}

#[test]
fn wrong_names_and_shapes_are_errors() {
    let (s, x, _) = squeezenet();
    let e = s.run_named(&[("image", &x)]).unwrap_err().to_string();
    assert!(e.contains("image") && e.contains("input"), "{e}");
    assert!(
        s.run_named(&[])
            .unwrap_err()
            .to_string()
            .contains("missing input")
    );
    let wrong = Tensor::zeros(vec![1, 3, 32, 32]);
    let e = s.run_named(&[("input", &wrong)]).unwrap_err().to_string();
    assert!(
        e.contains("[1, 3, 64, 64]") && e.contains("[1, 3, 32, 32]"),
        "{e}"
    );
    assert!(s.run_named(&[("input", &x), ("input", &x)]).is_err());
    // A dynamic input without a shape names the input and how to fix it.
    let e = Session::from_onnx_path(
        fixture("ppocr_cls_pretrained").join("model.onnx"),
        &SessionConfig::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("\"x\"") && e.to_string().contains("--shape"),
        "{e}"
    );
}

fn assert_send_sync<T: Send + Sync>() {}

/// One session used from 8 threads at once gives outputs identical to sequential runs.
#[test]
fn eight_threads_match_sequential_runs() {
    assert_send_sync::<Session<'static>>();
    let (s, _, _) = squeezenet();
    let s = Arc::new(s);
    let xs: Vec<Tensor> = (0..8)
        .map(|i| Tensor::random(vec![1, 3, 64, 64], 100 + i))
        .collect();
    let sequential: Vec<Tensor> = xs
        .iter()
        .map(|x| s.run(std::slice::from_ref(x)).unwrap().remove(0))
        .collect();
    let handles: Vec<_> = xs
        .iter()
        .cloned()
        .map(|x| {
            let s = s.clone();
            std::thread::spawn(move || {
                (0..3)
                    .map(|_| s.run(std::slice::from_ref(&x)).unwrap().remove(0))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for (h, want) in handles.into_iter().zip(&sequential) {
        for got in h.join().unwrap() {
            assert_eq!(
                &got, want,
                "a concurrent run differs from the sequential one"
            );
        }
    }
}
