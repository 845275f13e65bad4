//! ONNX models at run time: symbolic dimensions (`dim_param`) and integer inputs that set
//! shapes, read on the host per run and planned per value.

use wgconv::onnx::proto::{
    TensorShapeProto, TypeProto, ValueInfoProto, tensor_shape_proto, type_proto,
};
use wgconv::{Dim, DynamicSession, Error, SessionConfig, Tensor};

use super::{model, node, value_info, weight};

fn int64_input(name: &str, len: i64) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(7),
                shape: Some(TensorShapeProto {
                    dim: vec![tensor_shape_proto::Dimension {
                        value: Some(tensor_shape_proto::dimension::Value::DimValue(len)),
                        ..Default::default()
                    }],
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `relu(conv(x))` with x `[N, 2, 5, 5]` (N symbolic), reshaped to the run-time `shape`.
fn conv_reshape() -> Vec<u8> {
    let mut conv = node("Conv", "conv", &["x", "w"], &["c"]);
    conv.attribute.push(super::attr_ints("pads", &[1, 1, 1, 1]));
    model(
        vec![
            conv,
            node("Relu", "relu", &["c"], &["r"]),
            node("Reshape", "reshape", &["r", "shape"], &["y"]),
        ],
        vec![value_info("x", &[0, 2, 5, 5]), int64_input("shape", 2)],
        vec![weight("w", &[3, 2, 3, 3], 5)],
        "y",
    )
}

/// The same network with the shape as a constant, imported for one batch: the reference.
fn expected(x: &Tensor, shape: &[i64]) -> Tensor {
    let mut opts = wgconv::onnx::ImportOptions::default();
    opts.input_shapes.insert("x".into(), x.shape().to_vec());
    opts.constants.insert(
        "shape".into(),
        Tensor::new(vec![2], shape.iter().map(|&v| v as f32).collect()).unwrap(),
    );
    let g = wgconv::onnx::import_bytes(&conv_reshape(), &opts).unwrap();
    wgconv::graph::cpu::run(&g, std::slice::from_ref(x))
        .unwrap()
        .remove(0)
}

fn shape(v: &[f32]) -> Tensor {
    Tensor::new(vec![v.len()], v.to_vec()).unwrap()
}

#[test]
fn symbolic_dims_and_shape_inputs_plan_per_value() {
    let s = DynamicSession::from_onnx_bytes(&conv_reshape(), &SessionConfig::default()).unwrap();
    let info = s.inputs();
    assert_eq!(
        info[0].dims,
        Some(vec![
            Dim::sym("N"),
            Dim::Fixed(2),
            Dim::Fixed(5),
            Dim::Fixed(5)
        ])
    );
    assert_eq!(info[1].kind, wgconv::InputKind::Host);
    let runs: [(usize, [f32; 2]); 4] = [(1, [3, 25]), (2, [6, 25]), (2, [2, 75]), (1, [3, 25])]
        .map(|(n, s)| (n, [s[0] as f32, s[1] as f32]));
    for (n, sh) in runs {
        let x = Tensor::random(vec![n, 2, 5, 5], n as u64);
        let got = s.run_named(&[("x", &x), ("shape", &shape(&sh))]).unwrap();
        let want = expected(&x, &[sh[0] as i64, sh[1] as i64]);
        assert_eq!(got[0].1.shape(), want.shape());
        super::check(&format!("N={n} shape={sh:?}"), &got[0].1, &want);
    }
    let c = s.counters();
    assert_eq!((c.plans_built, c.plan_hits), (3, 1), "{c:?}");
}

#[test]
fn bad_shape_inputs_are_typed_errors_naming_the_input_or_node() {
    let s = DynamicSession::from_onnx_bytes(&conv_reshape(), &SessionConfig::default()).unwrap();
    let x = Tensor::random(vec![1, 2, 5, 5], 1);
    // Not an integer.
    match s.run_named(&[("x", &x), ("shape", &shape(&[3.5, 25.0]))]) {
        Err(Error::InputMismatch { input, feeds, .. }) => {
            assert_eq!(input, "shape");
            assert!(feeds.contains("reshape"), "{feeds}");
        }
        other => panic!("{other:?}"),
    }
    // An impossible shape: 75 elements do not make 4 x 25.
    let e = s
        .run_named(&[("x", &x), ("shape", &shape(&[4.0, 25.0]))])
        .unwrap_err();
    assert!(e.to_string().contains("reshape"), "{e}");
    // A symbolic dimension two inputs disagree on is caught before planning; so is rank.
    let e = s
        .run_named(&[
            ("x", &Tensor::zeros(vec![1, 2, 5])),
            ("shape", &shape(&[3.0, 25.0])),
        ])
        .unwrap_err();
    assert!(matches!(e, Error::InputMismatch { .. }), "{e}");
    assert_eq!(s.counters().plans_built, 0);
    // Still usable.
    let got = s
        .run_named(&[("x", &x), ("shape", &shape(&[3.0, 25.0]))])
        .unwrap();
    super::check("after errors", &got[0].1, &expected(&x, &[3, 25]));
}

#[test]
fn fixed_shapes_plan_at_creation() {
    let mut cfg = SessionConfig::default().input_shape("x", &[2, 2, 5, 5]);
    cfg.import
        .constants
        .insert("shape".into(), shape(&[6.0, 25.0]));
    let s = DynamicSession::from_onnx_bytes(&conv_reshape(), &cfg).unwrap();
    assert_eq!(s.counters().plans_built, 1);
    assert_eq!(s.inputs().len(), 1);
    let x = Tensor::random(vec![2, 2, 5, 5], 3);
    s.run_named(&[("x", &x)]).unwrap();
    assert_eq!(s.counters().plans_built, 1);
}

fn wgconv(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wgconv"))
        .args(args)
        .output()
        .expect("runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// `wgconv run MODEL --input NAME=FILE.npy` for every input, whatever slot it feeds (here a
/// Reshape's shape), and `bench --model` over a list of shapes in one session.
#[test]
fn command_line_takes_any_input_and_benches_a_list_of_shapes() {
    let dir = std::env::temp_dir().join(format!("wgconv-dyn-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("model.onnx");
    std::fs::write(&model, conv_reshape()).unwrap();
    let x = Tensor::random(vec![2, 2, 5, 5], 4);
    wgconv::npy::write(&dir.join("x.npy"), &x).unwrap();
    wgconv::npy::write(&dir.join("shape.npy"), &shape(&[2.0, 75.0])).unwrap();
    let out = dir.join("out");
    let arg = |s: &str| format!("{s}={}", dir.join(format!("{s}.npy")).display());
    let (ok, text) = wgconv(&[
        "run",
        model.to_str().unwrap(),
        "--input",
        &arg("x"),
        "--input",
        &arg("shape"),
        "--output-dir",
        out.to_str().unwrap(),
        "--runs",
        "1",
    ]);
    assert!(ok, "{text}");
    let got = wgconv::npy::read(&out.join("y.npy")).unwrap();
    super::check("wgconv run", &got, &expected(&x, &[2, 75]));
    // Without the shape operand: an error naming it.
    let (ok, text) = wgconv(&["run", model.to_str().unwrap(), "--input", &arg("x")]);
    assert!(
        !ok && text.contains("\"shape\"") && text.contains("--input shape="),
        "{text}"
    );
    let (ok, text) = wgconv(&[
        "bench",
        "--model",
        "cifar10_net",
        "--shape",
        "x=1x3x32x32",
        "--shape",
        "x=3x3x32x32",
        "--runs",
        "2",
        "--warmup",
        "0",
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("x=[1, 3, 32, 32]")
            && text.contains("x=[3, 3, 32, 32]")
            && text.contains("2 plans built"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// GPU-resident runs equal host runs bit for bit at each signature, with no host bytes in the
/// plan's session; the shape input, read on the host, is downloaded to choose the plan.
#[test]
fn gpu_resident_runs_equal_host_runs() {
    let s = DynamicSession::from_onnx_bytes(&conv_reshape(), &SessionConfig::default()).unwrap();
    let gpu = s.gpu().clone();
    for (n, sh) in [(1, [3.0, 25.0]), (2, [2.0, 75.0]), (1, [3.0, 25.0])] {
        let x = Tensor::random(vec![n, 2, 5, 5], 40 + n as u64);
        let sh = shape(&sh);
        let host = s.run_named(&[("x", &x), ("shape", &sh)]).unwrap();
        let plan = s.plan_for(&[&x, &sh]).unwrap();
        let before = plan.counters();
        let (gx, gs) = (gpu.upload(&x).unwrap(), gpu.upload(&sh).unwrap());
        let out = s.run_gpu_named(&[("shape", &gs), ("x", &gx)]).unwrap();
        let after = plan.counters();
        assert_eq!(after.bytes_uploaded, before.bytes_uploaded);
        assert_eq!(after.bytes_read_back, before.bytes_read_back);
        assert_eq!(after.runs, before.runs + 1);
        assert_eq!(out[0].0, host[0].0);
        assert_eq!(gpu.download(&out[0].1).unwrap(), host[0].1, "N={n} {sh:?}");
    }
    let c = s.counters();
    assert_eq!((c.plans_built, c.runs), (2, 6), "{c:?}");
}
