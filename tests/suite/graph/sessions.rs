//! Sessions on the device: fused against unfused, batch > 1, wrong inputs, every op kind, edge
//! cases.

use wgconv::compare::{Tolerance, compare};
use wgconv::graph::{Conv2d, Graph, cpu};
use wgconv::ops::{Activation, PoolKind};
use wgconv::session::{Session, SessionOptions};
use wgconv::tensor::Tensor;

use super::{check_on_device, initialised, mixed_net, network_tolerance};
use crate::common::gpu;

/// Every node of the mixed net on the device, fused and unfused, against the CPU reference;
/// then the session's contract: one submit per run, nothing created on later runs.
#[test]
fn session_runs_fused_and_unfused() {
    let (g, inputs) = initialised(mixed_net(2), 8);
    let want = cpu::run(&g, &inputs).unwrap();
    let tol = network_tolerance(&g, &inputs);
    for optimize in [true, false] {
        let s = Session::with_options(
            gpu(),
            &g,
            SessionOptions {
                optimize,
                reuse_memory: true,
                ..Default::default()
            },
        )
        .unwrap();
        let got = s.run(&inputs).unwrap();
        let c = compare(got[0].data(), want[0].data(), tol);
        assert!(c.passed(), "optimize={optimize}: {c} ({tol:?})");
        let first = s.counters();
        assert_eq!(first.submits, 1);
        assert_eq!(first.runs, 1);
        assert_eq!(first.dispatches, s.dispatch_count() as u64);
        assert_eq!(first.bytes_read_back, (want[0].numel() * 4) as u64);
        // A second run with other data: same counts, nothing created, right answer.
        let inputs2: Vec<Tensor> = inputs
            .iter()
            .map(|t| Tensor::random(t.shape().to_vec(), 99))
            .collect();
        let got2 = s.run(&inputs2).unwrap();
        let want2 = cpu::run(&g, &inputs2).unwrap();
        let c = compare(
            got2[0].data(),
            want2[0].data(),
            network_tolerance(&g, &inputs2),
        );
        assert!(c.passed(), "second run: {c}");
        let second = s.counters();
        assert_eq!(second.submits, 2);
        assert_eq!(second.dispatches, 2 * first.dispatches);
        assert_eq!(second.buffers_created, first.buffers_created);
        assert_eq!(second.bind_groups_created, first.bind_groups_created);
        let input_bytes: u64 = inputs.iter().map(|t| (t.numel() * 4) as u64).sum();
        assert_eq!(second.bytes_uploaded, first.bytes_uploaded + input_bytes);
    }
    // Fusion pays: fewer launches.
    let fused = Session::new(gpu(), &g).unwrap();
    let unfused = Session::with_options(
        gpu(),
        &g,
        SessionOptions {
            optimize: false,
            reuse_memory: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(fused.dispatch_count() * 2 < unfused.dispatch_count());
}

#[test]
fn session_batch_of_one_and_three_agree() {
    let (g1, _) = initialised(mixed_net(1), 9);
    let g3 = g1.with_batch(3).unwrap();
    let x3 = Tensor::random(vec![3, 3, 12, 12], 10);
    let s3 = Session::new(gpu(), &g3).unwrap();
    let s1 = Session::new(gpu(), &g1).unwrap();
    let y3 = s3.run(std::slice::from_ref(&x3)).unwrap();
    let want = cpu::run(&g3, std::slice::from_ref(&x3)).unwrap();
    let c = compare(
        y3[0].data(),
        want[0].data(),
        network_tolerance(&g3, std::slice::from_ref(&x3)),
    );
    assert!(c.passed(), "batch 3: {c}");
    // Each sample alone gives the same row.
    let per = 3 * 12 * 12;
    for b in 0..3 {
        let xb = Tensor::new(
            vec![1, 3, 12, 12],
            x3.data()[b * per..(b + 1) * per].to_vec(),
        )
        .unwrap();
        let yb = s1.run(std::slice::from_ref(&xb)).unwrap();
        let c = compare(
            yb[0].data(),
            &y3[0].data()[b * 5..(b + 1) * 5],
            network_tolerance(&g1, std::slice::from_ref(&xb)),
        );
        assert!(c.passed(), "sample {b}: {c}");
    }
}

#[test]
fn session_rejects_wrong_inputs() {
    let (g, _) = initialised(mixed_net(1), 11);
    let s = Session::new(gpu(), &g).unwrap();
    let err = s.run(&[Tensor::zeros(vec![1, 3, 12, 13])]).unwrap_err();
    assert!(err.to_string().contains("[1, 3, 12, 12]"), "{err}");
    assert!(s.run(&[]).is_err());
}

#[test]
fn session_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Session<'static>>();
    // And concurrent runs are serialised correctly.
    let (g, inputs) = initialised(mixed_net(1), 12);
    let s = Session::new(gpu(), &g).unwrap();
    let want = s.run(&inputs).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                let got = s.run(&inputs).unwrap();
                assert_eq!(got[0].data(), want[0].data());
            });
        }
    });
}

#[test]
fn cpu_conv2d_matches_the_reference_conv() {
    use wgconv::ops::ConvSpec;
    for (i, spec) in [
        ConvSpec::conv2d(3, 3).pad(1),
        ConvSpec::conv2d(3, 2)
            .strides(&[2, 3])
            .pads(&[0, 2], &[1, 0])
            .dilations(&[2, 1]),
        ConvSpec::conv2d(1, 1).pad(1),
        ConvSpec::conv2d(5, 5).stride(2).pad(2).groups(2),
        ConvSpec::conv2d(3, 3).groups(4).pad(3),
    ]
    .into_iter()
    .enumerate()
    {
        let x = Tensor::random(vec![2, 4, 9, 7], i as u64);
        let w = Tensor::random(
            vec![4, 4 / spec.groups, spec.kernel[0], spec.kernel[1]],
            i as u64 + 50,
        );
        let b = Tensor::random(vec![4], i as u64 + 99);
        let fast = cpu::conv2d(&spec, &x, &w, Some(&b)).unwrap();
        let slow = wgconv::reference::conv::conv(&spec, &x, &w, Some(&b)).unwrap();
        // Both sum in f64 and round once: equal up to the last bit or two.
        let c = compare(fast.data(), slow.data(), Tolerance::elementwise());
        assert!(c.passed(), "{spec:?}: {c}");
    }
}

/// Every op kind the graph has, through a session, against the CPU reference: 3-D
/// convolution, transposed convolution, pixel shuffle / space-to-depth, transpose, reshape,
/// softmax, matmul, linear, slices, average pooling, unfoldable BatchNorm, and sub / div.
#[test]
fn every_op_kind_runs_in_a_session() {
    use wgconv::ops::{BinaryOp, ChannelOrder, ConvSpec, ConvTransposeSpec, PoolSpec};
    let mut g = Graph::new();
    let x = g.input("x", &[2, 4, 6, 6]);
    let v = g.input("v", &[2, 3, 4, 5, 5]);
    // 3-D branch.
    let y3 = g
        .conv_nd(
            v,
            "c3d",
            4,
            ConvSpec::new(&[3, 3, 3]).pad(1).stride(2),
            true,
        )
        .unwrap();
    let y3 = g.act(y3, Activation::Gelu).unwrap();
    let y3 = g.flatten(y3, 1).unwrap(); // [2, 4*2*3*3 = 72]
    // 2-D branch.
    let a = g.conv2d(x, "expand", Conv2d::new(16, 3).pad(1)).unwrap();
    let a = g.pixel_shuffle(a, 2).unwrap(); // [2, 4, 12, 12]
    let a = g.space_to_depth(a, 2, ChannelOrder::Dcr).unwrap(); // [2, 16, 6, 6]
    let spec =
        ConvTransposeSpec::new(ConvSpec::conv2d(3, 3).stride(2).pad(1)).output_padding(&[1, 1]);
    let a = g.conv_transpose(a, "up", 6, spec, true).unwrap(); // [2, 6, 12, 12]
    let a = g.batch_norm(a, "bn_up").unwrap();
    let a = g.act(a, Activation::LeakyRelu { slope: 0.1 }).unwrap();
    let mut avg = PoolSpec::new(PoolKind::Avg, 3, 2, 1);
    avg.count_include_pad = false;
    let a = g.pool(a, avg).unwrap(); // [2, 6, 6, 6]
    let t = g.transpose(a, &[0, 2, 3, 1]).unwrap(); // [2, 6, 6, 6] permuted
    let t = g.reshape(t, &[0, -1]).unwrap(); // [2, 216]
    let t = g.softmax(t, 1).unwrap();
    let lo = g.slice_channels(a, 0, 3).unwrap();
    let hi = g.slice_channels(a, 3, 6).unwrap();
    let d = g.binary(BinaryOp::Sub, lo, hi).unwrap();
    let d2 = g.act(hi, Activation::Sigmoid).unwrap();
    let d = g.binary(BinaryOp::Div, d, d2).unwrap();
    let d = g.flatten(d, 1).unwrap(); // [2, 108]
    let cat = g.concat(&[y3, t, d], 1).unwrap(); // [2, 396]
    let w = g.input("w", &[396, 7]);
    let m = g.matmul(cat, w).unwrap();
    let m = g.act(m, Activation::Tanh).unwrap();
    let out = g.linear(m, "head", 5, true).unwrap();
    let out = g.softmax(out, 1).unwrap();
    g.output(out);
    g.output(y3);
    let (g, inputs) = initialised(g, 31);
    let (_, dispatches) = check_on_device("every op kind", &g, &inputs);
    assert!(dispatches >= 15, "{dispatches}");
    // The unfused graph too (BatchNorm as affine, every activation its own kernel).
    let s = Session::with_options(
        gpu(),
        &g,
        SessionOptions {
            optimize: false,
            reuse_memory: true,
            ..Default::default()
        },
    )
    .unwrap();
    let got = s.run(&inputs).unwrap();
    let want = cpu::run(&g, &inputs).unwrap();
    let tol = network_tolerance(&g, &inputs);
    for (a, b) in got.iter().zip(&want) {
        let c = compare(a.data(), b.data(), tol);
        assert!(c.passed(), "unfused: {c}");
    }
}

/// Pinned edge cases: a graph whose output is its input (after dropout goes: no dispatch at
/// all), a value that is output twice, and an output that is also read by a later node.
#[test]
fn session_edge_cases() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 3, 4, 4]);
    let d = g.dropout(x, 0.5).unwrap();
    g.output(d);
    let s = Session::new(gpu(), &g).unwrap();
    assert_eq!(s.dispatch_count(), 0);
    let t = Tensor::random(vec![1, 3, 4, 4], 1);
    assert_eq!(s.run(std::slice::from_ref(&t)).unwrap()[0], t);

    let mut g = Graph::new();
    let x = g.input("x", &[2, 3, 5, 5]);
    let a = g.conv2d(x, "a", Conv2d::new(4, 3).pad(1)).unwrap();
    let b = g.relu(a).unwrap();
    let c = g.add_values(a, b).unwrap();
    g.output(a);
    g.output(c);
    g.output(a);
    let (g, inputs) = initialised(g, 3);
    let (out, _) = check_on_device("edge outputs", &g, &inputs);
    assert_eq!(out[0], out[2]);
}
