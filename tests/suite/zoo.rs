//! Every zoo network on the device against the CPU reference running the unoptimized graph.
//! CI runs on a software rasteriser, so most networks run at reduced resolution (the same
//! layers and channel counts, smaller maps); SqueezeNet 1.1 runs at the full 224 x 224.

use wgconv::graph::Graph;
use wgconv::session::Session;
use wgconv::tensor::Tensor;
use wgconv::{weights, zoo};

use crate::common::gpu;
use crate::graph::{check_on_device, initialised, network_tolerance};

/// The configurations CI checks (and that `export_for_pytorch` writes for the PyTorch
/// cross-check), with weights seeded by 7.
const CASES: &[(&str, [usize; 4])] = &[
    ("resnet18", [2, 3, 64, 64]),
    ("resnet34", [1, 3, 48, 48]),
    ("resnet50", [1, 3, 48, 48]),
    ("mobilenet_v2", [1, 3, 64, 64]),
    ("efficientnet_b0", [1, 3, 64, 64]),
    ("googlenet", [1, 3, 64, 64]),
    ("shufflenet_v2_x1_0", [2, 3, 64, 64]),
    ("cifar10_net", [2, 3, 32, 32]),
    ("squeezenet1_1", [1, 3, 224, 224]),
];

/// PyTorch's output for a case, if recorded: `tests/data/torch/<name>.f32`, written by
/// `tests/tools/check_against_torch.py` from torchvision's model (seed 003's for the CIFAR net) in
/// float64 with the same seeded weights (loaded by state_dict name, strictly) and input.
fn torch_output(name: &str) -> Option<Vec<f32>> {
    let p = format!("{}/tests/data/torch/{name}.f32", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(p).ok()?;
    Some(bytemuck::pod_collect_to_vec(&bytes))
}

fn check_net(name: &str) -> Graph {
    let input = CASES.iter().find(|c| c.0 == name).expect("a listed case").1;
    let g = zoo::build(name, &input).unwrap();
    let (g, inputs) = initialised(g, 7);
    let t = std::time::Instant::now();
    let (out, dispatches) = check_on_device(name, &g, &inputs);
    eprintln!(
        "{name} {input:?}: {} nodes -> {dispatches} dispatches, output {:?}, checked in {:.2}s",
        g.nodes().len(),
        out[0].shape(),
        t.elapsed().as_secs_f64()
    );
    // PyTorch agrees: same architecture and state_dict semantics, not just our own reference.
    let want = torch_output(name).unwrap_or_else(|| panic!("{name}: no recorded PyTorch output"));
    let tol = network_tolerance(&g, &inputs);
    let c = wgconv::compare::compare(out[0].data(), &want, tol);
    assert!(c.passed(), "{name} against PyTorch: {c} ({tol:?})");
    eprintln!("{name}: against PyTorch max abs err {:.2e}", c.max_abs);
    g
}

#[test]
fn resnet18_64px_batch2() {
    check_net("resnet18");
}

#[test]
fn resnet34_48px() {
    check_net("resnet34");
}

#[test]
fn resnet50_48px() {
    check_net("resnet50");
}

#[test]
fn mobilenet_v2_64px() {
    check_net("mobilenet_v2");
}

#[test]
fn efficientnet_b0_64px() {
    check_net("efficientnet_b0");
}

#[test]
fn googlenet_64px() {
    check_net("googlenet");
}

#[test]
fn shufflenet_v2_64px_batch2() {
    check_net("shufflenet_v2_x1_0");
}

#[test]
fn cifar10_net_batch2() {
    check_net("cifar10_net");
}

/// The full-size run: SqueezeNet 1.1 at 224 x 224 (0.35 GMAC).
#[test]
fn squeezenet1_1_224px() {
    check_net("squeezenet1_1");
}

/// Weights saved as a PyTorch-named safetensors file load back into a fresh network and give
/// the same outputs; a missing, mis-shaped or unexpected tensor is an error naming it.
#[test]
fn safetensors_round_trip_and_errors() {
    let input = [1, 3, 32, 32];
    let (g, inputs) = initialised(zoo::cifar10_net(&input).unwrap(), 3);
    let bytes = weights::to_safetensors(&g).unwrap();
    let mut h = zoo::cifar10_net(&input).unwrap();
    weights::load_safetensors(&mut h, &bytes).unwrap();
    let s1 = Session::new(gpu(), &g).unwrap();
    let s2 = Session::new(gpu(), &h).unwrap();
    assert_eq!(
        s1.run(&inputs).unwrap()[0].data(),
        s2.run(&inputs).unwrap()[0].data()
    );

    // Keys are PyTorch's.
    let keys: Vec<String> = g.state_dict().into_iter().map(|(k, _)| k).collect();
    for k in [
        "conv_block1.0.weight",
        "conv_block1.2.running_var",
        "conv_block2.0.0.weight",
        "conv_block2.0.1.weight",
        "conv_block3.0.0.weight",
        "conv_block14.0.weight",
    ] {
        assert!(keys.iter().any(|x| x == k), "missing key {k} in {keys:?}");
    }

    let rebuild = |drop: Option<&str>, reshape: Option<&str>, extra: bool| {
        let sd = g.state_dict();
        let mut owned: Vec<(String, Vec<u8>, Vec<usize>)> = sd
            .iter()
            .filter(|(k, _)| Some(k.as_str()) != drop)
            .map(|(k, t)| {
                let mut shape = t.shape().to_vec();
                if Some(k.as_str()) == reshape {
                    shape = vec![t.numel()];
                }
                (k.clone(), bytemuck::cast_slice(t.data()).to_vec(), shape)
            })
            .collect();
        if extra {
            owned.push(("head.weight".into(), vec![0; 8], vec![2]));
        }
        // PyTorch also saves this buffer; it must be accepted and ignored.
        owned.push((
            "conv_block1.2.num_batches_tracked".into(),
            vec![0; 8],
            vec![1],
        ));
        let views: Vec<_> = owned
            .iter()
            .map(|(k, b, s)| {
                let dt = if k.ends_with("num_batches_tracked") {
                    safetensors::Dtype::I64
                } else {
                    safetensors::Dtype::F32
                };
                (
                    k.clone(),
                    safetensors::tensor::TensorView::new(dt, s.clone(), b).unwrap(),
                )
            })
            .collect();
        safetensors::serialize(views, None).unwrap()
    };
    let mut h = zoo::cifar10_net(&input).unwrap();
    weights::load_safetensors(&mut h, &rebuild(None, None, false)).unwrap();
    let err =
        weights::load_safetensors(&mut h, &rebuild(Some("conv_block5.2.weight"), None, false))
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("conv_block5.2.weight") && err.contains("missing"),
        "{err}"
    );
    let err =
        weights::load_safetensors(&mut h, &rebuild(None, Some("conv_block4.0.weight"), false))
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("conv_block4.0.weight") && err.contains("[11520]"),
        "{err}"
    );
    let err = weights::load_safetensors(&mut h, &rebuild(None, None, true))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("head.weight") && err.contains("unexpected"),
        "{err}"
    );
}

/// F16 and BF16 files load (converted to f32).
#[test]
fn safetensors_half_precision() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 1, 2, 2]);
    let y = g
        .conv2d(x, "c", wgconv::graph::Conv2d::new(1, 1).no_bias())
        .unwrap();
    g.output(y);
    for (dt, bytes) in [
        (safetensors::Dtype::F16, 0x3c00u16.to_le_bytes()), // 1.0
        (safetensors::Dtype::BF16, 0xc040u16.to_le_bytes()), // -3.0
    ] {
        let v = safetensors::tensor::TensorView::new(dt, vec![1, 1, 1, 1], &bytes).unwrap();
        let file = safetensors::serialize([("c.weight", v)], None).unwrap();
        weights::load_safetensors(&mut g, &file).unwrap();
        let w = g.state_dict()[0].1.data()[0];
        assert_eq!(
            w,
            if dt == safetensors::Dtype::F16 {
                1.0
            } else {
                -3.0
            }
        );
    }
    let _ = Tensor::zeros(vec![1]);
}

/// The network tolerance is not vacuous: the bugs a kernel's index math makes (two output
/// channels swapped in one middle convolution; one channel's bias off by 0.05) fail it.
#[test]
fn network_check_catches_a_small_corruption() {
    use crate::graph::network_tolerance;
    use wgconv::compare::compare;
    use wgconv::graph::{Op, Operand, cpu};
    let g = zoo::build("resnet18", &[1, 3, 32, 32]).unwrap();
    let (g, inputs) = initialised(g, 21);
    let want = cpu::run(&g, &inputs).unwrap();
    let tol = network_tolerance(&g, &inputs);
    let good = Session::new(gpu(), &g).unwrap().run(&inputs).unwrap();
    let c = compare(good[0].data(), want[0].data(), tol);
    assert!(c.passed(), "{c} {tol:?}");
    let mut swapped = g.clone();
    if let Op::Conv {
        weight: Operand::Const(weight),
        ..
    } = swapped.op_mut(swapped.find("layer3.1.conv1").unwrap())
    {
        let per = weight.numel() / weight.shape()[0];
        let w = weight.data_mut();
        for i in 0..per {
            w.swap(3 * per + i, 4 * per + i);
        }
    }
    let mut biased = g.clone();
    if let Op::BatchNorm { beta: Some(b), .. } = biased.op_mut(biased.find("layer3.0.bn2").unwrap())
    {
        b.data_mut()[7] += 0.05;
    }
    for (what, bad) in [("swapped channels", swapped), ("biased channel", biased)] {
        let got = Session::new(gpu(), &bad).unwrap().run(&inputs).unwrap();
        let c = compare(got[0].data(), want[0].data(), tol);
        assert!(!c.passed(), "{what} went unnoticed: {c} ({tol:?})");
        eprintln!("{what}: {c}");
    }
}

/// Writes, for every zoo network, its seeded and calibrated weights as a PyTorch-named
/// safetensors file together with an input and the CPU reference's output, for
/// `tests/tools/check_against_torch.py` (run by hand where PyTorch is installed):
/// `WGCONV_EXPORT_DIR=/tmp/zoo cargo test --release --test suite zoo::export -- --ignored`.
#[test]
#[ignore = "writes files for the PyTorch cross-check; needs WGCONV_EXPORT_DIR"]
fn export_for_pytorch() {
    let dir = std::path::PathBuf::from(
        std::env::var("WGCONV_EXPORT_DIR").expect("set WGCONV_EXPORT_DIR"),
    );
    std::fs::create_dir_all(&dir).unwrap();
    for &(name, input) in CASES {
        let g = zoo::build(name, &input).unwrap();
        let (g, inputs) = initialised(g, 7);
        let out = wgconv::graph::cpu::run(&g, &inputs).unwrap();
        let gpu_out = Session::new(gpu(), &g).unwrap().run(&inputs).unwrap();
        std::fs::write(
            dir.join(format!("{name}.safetensors")),
            weights::to_safetensors(&g).unwrap(),
        )
        .unwrap();
        let raw = |t: &Tensor| bytemuck::cast_slice::<f32, u8>(t.data()).to_vec();
        std::fs::write(dir.join(format!("{name}.input.f32")), raw(&inputs[0])).unwrap();
        std::fs::write(dir.join(format!("{name}.cpu.f32")), raw(&out[0])).unwrap();
        std::fs::write(dir.join(format!("{name}.gpu.f32")), raw(&gpu_out[0])).unwrap();
        std::fs::write(
            dir.join(format!("{name}.shape")),
            [inputs[0].shape(), out[0].shape()]
                .map(|s| {
                    s.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .join("\n"),
        )
        .unwrap();
    }
}
