//! Every zoo network on the device against the CPU reference running the unoptimized graph.
//! CI runs on a software rasteriser, so most networks run at reduced resolution (the same
//! layers and channel counts, smaller maps); SqueezeNet 1.1 runs at the full 224 x 224.

use wgconv::graph::Graph;
use wgconv::session::Session;
use wgconv::tensor::Tensor;
use wgconv::{weights, zoo};

use crate::common::gpu;
use crate::graph::{check_on_device, initialised};

fn check_net(name: &str, input: &[usize]) -> Graph {
    let g = zoo::build(name, input).unwrap();
    let (g, inputs) = initialised(g, 7);
    let t = std::time::Instant::now();
    let (out, dispatches) = check_on_device(name, &g, &inputs);
    eprintln!(
        "{name} {input:?}: {} nodes -> {dispatches} dispatches, output {:?}, checked in {:.2}s",
        g.nodes().len(),
        out[0].shape(),
        t.elapsed().as_secs_f64()
    );
    g
}

#[test]
fn resnet18_64px_batch2() {
    check_net("resnet18", &[2, 3, 64, 64]);
}

#[test]
fn resnet34_48px() {
    check_net("resnet34", &[1, 3, 48, 48]);
}

#[test]
fn resnet50_48px() {
    check_net("resnet50", &[1, 3, 48, 48]);
}

#[test]
fn mobilenet_v2_64px() {
    check_net("mobilenet_v2", &[1, 3, 64, 64]);
}

#[test]
fn efficientnet_b0_64px() {
    check_net("efficientnet_b0", &[1, 3, 64, 64]);
}

#[test]
fn googlenet_64px() {
    check_net("googlenet", &[1, 3, 64, 64]);
}

#[test]
fn shufflenet_v2_64px_batch2() {
    check_net("shufflenet_v2_x1_0", &[2, 3, 64, 64]);
}

#[test]
fn cifar10_net_batch2() {
    check_net("cifar10_net", &[2, 3, 32, 32]);
}

/// The full-size run: SqueezeNet 1.1 at 224 x 224 (0.35 GMAC).
#[test]
fn squeezenet1_1_224px() {
    check_net("squeezenet1_1", &[1, 3, 224, 224]);
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
    use wgconv::graph::{Op, cpu};
    let g = zoo::build("resnet18", &[1, 3, 32, 32]).unwrap();
    let (g, inputs) = initialised(g, 21);
    let want = cpu::run(&g, &inputs).unwrap();
    let tol = network_tolerance(&g, &inputs);
    let good = Session::new(gpu(), &g).unwrap().run(&inputs).unwrap();
    let c = compare(good[0].data(), want[0].data(), tol);
    assert!(c.passed(), "{c} {tol:?}");
    let mut swapped = g.clone();
    if let Op::Conv { weight, .. } = swapped.op_mut(swapped.find("layer3.1.conv1").unwrap()) {
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
