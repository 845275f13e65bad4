//! The graph: builder and shape inference, the passes (each checked on the CPU reference:
//! optimized and original graph agree), and sessions on the device (one submit per run, no
//! allocation on later runs, batch > 1, fused against unfused).

use wgconv::compare::{Tolerance, compare};
use wgconv::graph::{Conv2d, Graph, Op, cpu, passes};
use wgconv::ops::{Activation, PoolKind};
use wgconv::session::{Session, SessionOptions};
use wgconv::shaders::Shader;
use wgconv::tensor::Tensor;
use wgconv::{Error, blocks, weights};

use crate::common::gpu;

/// Seeded parameters, BatchNorm calibrated on `inputs` (so every BN output has unit variance
/// and deep graphs keep activations of order one), returned with those inputs.
pub fn initialised(mut g: Graph, seed: u64) -> (Graph, Vec<Tensor>) {
    weights::init_seeded(&mut g, seed);
    let inputs: Vec<Tensor> = g
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, &v)| Tensor::random(g.shape(v).to_vec(), seed + 100 + i as u64))
        .collect();
    weights::calibrate_batch_norm(&mut g, &inputs).unwrap();
    (g, inputs)
}

fn rms(t: &Tensor) -> f64 {
    let s: f64 = t.data().iter().map(|&v| (v as f64) * (v as f64)).sum();
    (s / t.numel().max(1) as f64).sqrt()
}

/// The network tolerance of [`cpu::network_tolerance`] (justified there).
pub fn network_tolerance_from(g: &Graph, values: &[Option<Tensor>]) -> Tolerance {
    cpu::network_tolerance(g, values)
}

/// [`network_tolerance_from`] after running `g` on `inputs` on the CPU.
pub fn network_tolerance(g: &Graph, inputs: &[Tensor]) -> Tolerance {
    network_tolerance_from(g, &cpu::run_all(g, inputs).unwrap())
}

/// Runs `g` on the device (optimized) and on the CPU reference (unoptimized) and compares
/// every output; returns the device outputs and the session's dispatch count.
pub fn check_on_device(what: &str, g: &Graph, inputs: &[Tensor]) -> (Vec<Tensor>, usize) {
    let values = cpu::run_all(g, inputs).unwrap();
    let want: Vec<Tensor> = g
        .outputs()
        .iter()
        .map(|v| values[v.0].clone().unwrap())
        .collect();
    let tol = network_tolerance_from(g, &values);
    let s = Session::new(gpu(), g).unwrap_or_else(|e| panic!("{what}: session: {e}"));
    let got = s.run(inputs).unwrap_or_else(|e| panic!("{what}: run: {e}"));
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert_eq!(a.shape(), b.shape(), "{what}: output {i} shape");
        let c = compare(a.data(), b.data(), tol);
        assert!(
            c.passed(),
            "{what}: output {i}: {c} (tolerance {tol:?}, output rms {:.3e})\n{}",
            rms(b),
            first_divergence(g, inputs)
        );
        eprintln!(
            "{what}: output {i}: max abs err {:.2e} = {:.1}% of the tolerance {:.2e} (output rms {:.2e})",
            c.max_abs,
            100.0 * c.max_abs / tol.atol,
            tol.atol,
            rms(b)
        );
    }
    (got, s.dispatch_count())
}

/// Locates a device/CPU disagreement: runs the optimized graph with every node's output
/// exposed, on the device (no further passes) and on the CPU, and names the first node whose
/// output differs by more than its own accumulation tolerance on its own inputs' scale.
pub fn first_divergence(g: &Graph, inputs: &[Tensor]) -> String {
    let mut h = passes::optimize(g).unwrap();
    let outs: Vec<_> = h.nodes().iter().map(|n| n.output).collect();
    for v in outs {
        h.output(v);
    }
    let dev = Session::with_options(
        gpu(),
        &h,
        SessionOptions {
            optimize: false,
            reuse_memory: true,
            ..Default::default()
        },
    )
    .and_then(|s| s.run(inputs));
    let dev = match dev {
        Ok(d) => d,
        Err(e) => return format!("(could not run the diagnostic: {e})"),
    };
    // The CPU evaluates each node on the device's own inputs, so errors do not compound.
    let mut values = cpu::run_all(&h, inputs).unwrap();
    let first_out = h.outputs().len() - h.nodes().len();
    for (i, node) in h.nodes().iter().enumerate() {
        let got = &dev[first_out + i];
        for (j, &v) in node.inputs.iter().enumerate() {
            if let Some(p) = h.value(v).producer {
                values[v.0] = Some(dev[first_out + p.0].clone());
            }
            let _ = j;
        }
        let ins: Vec<&Tensor> = node
            .inputs
            .iter()
            .map(|v| values[v.0].as_ref().unwrap())
            .collect();
        let want = cpu::eval(&node.op, &ins, h.shape(node.output)).unwrap();
        let shapes: Vec<&[usize]> = node.inputs.iter().map(|v| h.shape(*v)).collect();
        let k = node.op.accumulation(&shapes);
        let scale = ins
            .iter()
            .map(|t| rms(t))
            .fold(rms(&want), f64::max)
            .max(1e-3);
        let tol = Tolerance {
            atol: 0.5 * k as f64 * f32::EPSILON as f64 * scale * 4.0,
            rtol: 1e-5,
        };
        let c = compare(got.data(), want.data(), tol);
        if !c.passed() {
            return format!(
                "first divergent node: #{i} {:?} = {} inputs {shapes:?} -> {:?}: {c}",
                node.name,
                node.op.describe(),
                h.shape(node.output)
            );
        }
    }
    "no single node diverges beyond its own tolerance".into()
}

/// Checks `pass` keeps `g`'s function on the CPU reference.
fn check_pass(what: &str, g: &Graph, inputs: &[Tensor], pass: impl Fn(&mut Graph)) -> Graph {
    let mut h = g.clone();
    pass(&mut h);
    let want = cpu::run(g, inputs).unwrap();
    let got = cpu::run(&h, inputs).unwrap();
    let tol = network_tolerance(g, inputs);
    for (a, b) in got.iter().zip(&want) {
        let c = compare(a.data(), b.data(), tol);
        assert!(c.passed(), "{what}: {c} ({tol:?})");
    }
    h
}

fn count(g: &Graph, f: impl Fn(&Op) -> bool) -> usize {
    g.nodes().iter().filter(|n| f(&n.op)).count()
}

/// A small residual network touching every pass: conv-BN-ReLU, residual blocks with and
/// without projection, a pre-activation block (BN that cannot fold), dropout, an SE block,
/// a concat followed by ReLU, and a classifier.
fn mixed_net(batch: usize) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &[batch, 3, 12, 12]);
    let y = g
        .conv2d(x, "stem.0", Conv2d::new(8, 3).pad(1).no_bias())
        .unwrap();
    let y = g.batch_norm(y, "stem.1").unwrap();
    let y = g.relu(y).unwrap();
    let y = blocks::residual_block(&mut g, y, "res1", 8, 1).unwrap();
    let y = blocks::residual_block(&mut g, y, "res2", 12, 2).unwrap();
    let y = blocks::preact_block(&mut g, y, "pre", 12, 1).unwrap();
    let y = g.dropout(y, 0.3).unwrap();
    let y = blocks::se(&mut g, y, "se", 4).unwrap();
    let y = blocks::fire(&mut g, y, "fire", 4, 6).unwrap();
    let y = g.global_avg_pool(y).unwrap();
    let y = g.flatten(y, 1).unwrap();
    let y = g.linear(y, "fc", 5, true).unwrap();
    g.output(y);
    g
}

#[test]
fn shape_errors_name_node_op_and_shapes() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 3, 8, 8]);
    let err = g
        .conv2d(x, "layer1.conv", Conv2d::new(4, 3).groups(2))
        .unwrap_err();
    assert!(err.to_string().contains("layer1.conv"), "{err}");
    let y = g.conv2d(x, "a", Conv2d::new(4, 3)).unwrap();
    let err = g.add_values(x, y).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("add") && msg.contains("[1, 3, 8, 8]") && msg.contains("[1, 4, 6, 6]"),
        "{msg}"
    );
    // Duplicate names would make state_dict keys ambiguous.
    assert!(g.conv2d(x, "a", Conv2d::new(4, 3)).is_err());
    // A linear layer on a 4-D map must be told to flatten first.
    let err = g.linear(y, "fc", 3, true).unwrap_err();
    assert!(err.to_string().contains("fc"), "{err}");
    let err = g.reshape(y, &[-1, 7]).unwrap_err();
    assert!(matches!(err, Error::InvalidOp { .. }), "{err}");
}

#[test]
fn with_batch_reinfers_shapes() {
    let g = mixed_net(1);
    let g3 = g.with_batch(3).unwrap();
    assert_eq!(g3.shape(g3.outputs()[0]), &[3, 5]);
    assert_eq!(g3.parameter_count(), g.parameter_count());
}

#[test]
fn compact_removes_dead_nodes_and_restores_order() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 2, 4, 4]);
    let a = g.relu(x).unwrap();
    let _dead = g.conv2d(a, "dead", Conv2d::new(2, 1)).unwrap();
    let b = g.act(a, Activation::Sigmoid).unwrap();
    g.output(b);
    g.compact().unwrap();
    assert_eq!(g.nodes().len(), 2);
    assert!(g.find("dead").is_none());
}

#[test]
fn remove_identities_keeps_function() {
    let (g, inputs) = initialised(mixed_net(2), 1);
    let h = check_pass("remove_identities", &g, &inputs, |h| {
        passes::remove_identities(h).unwrap();
    });
    assert_eq!(count(&h, |op| matches!(op, Op::Dropout { .. })), 0);
    assert!(count(&g, |op| matches!(op, Op::Dropout { .. })) > 0);
}

#[test]
fn fold_batch_norm_keeps_function() {
    let (g, inputs) = initialised(mixed_net(2), 2);
    let h = check_pass("fold_batch_norm", &g, &inputs, |h| {
        passes::fold_batch_norm(h).unwrap();
    });
    assert_eq!(count(&h, |op| matches!(op, Op::BatchNorm { .. })), 0);
    // The pre-activation block's first BN follows a ReLU: it becomes an affine op.
    assert_eq!(count(&h, |op| matches!(op, Op::ChannelAffine { .. })), 1);
    assert!(count(&g, |op| matches!(op, Op::BatchNorm { .. })) > 0);
    // Every conv that fed a BN now has a bias; named, so a renamed block cannot empty the check.
    let fed: Vec<&str> = h
        .nodes()
        .iter()
        .filter(|n| n.name.starts_with("stem.0") || n.name.ends_with("conv1"))
        .map(|n| {
            assert!(
                matches!(&n.op, Op::Conv { bias: Some(_), .. }),
                "{}: {:?}",
                n.name,
                n.op.kind()
            );
            n.name.as_str()
        })
        .collect();
    assert_eq!(
        fed,
        [
            "stem.0",
            "res1.conv1",
            "res2.conv1",
            "pre.conv1",
            "fire.conv1"
        ]
    );
}

#[test]
fn fold_batch_norm_into_transposed_conv_with_groups() {
    use wgconv::ops::{ConvSpec, ConvTransposeSpec};
    let mut g = Graph::new();
    let x = g.input("x", &[2, 4, 5, 5]);
    let spec = ConvTransposeSpec::new(ConvSpec::conv2d(3, 3).stride(2).groups(2));
    let y = g.conv_transpose(x, "up", 6, spec, false).unwrap();
    let y = g.batch_norm(y, "bn").unwrap();
    g.output(y);
    let (g, inputs) = initialised(g, 3);
    let h = check_pass("fold into conv_transpose", &g, &inputs, |h| {
        passes::fold_batch_norm(h).unwrap();
    });
    assert_eq!(h.nodes().len(), 1);
}

#[test]
fn fuse_residual_and_activation_keep_function() {
    let (g, inputs) = initialised(mixed_net(2), 4);
    let h = check_pass("residual + activation fusion", &g, &inputs, |h| {
        passes::remove_identities(h).unwrap();
        passes::fold_batch_norm(h).unwrap();
        passes::fuse_residual_add(h).unwrap();
        passes::fuse_activations(h).unwrap();
    });
    let adds = count(
        &h,
        |op| matches!(op, Op::Binary { .. } if op.kind() == "add"),
    );
    assert_eq!(adds, 0, "{}", h.describe());
    let residual_convs = count(
        &h,
        |op| matches!(op, Op::Conv { epilogue, .. } if epilogue.residual),
    );
    assert_eq!(residual_convs, 3, "{}", h.describe());
    // The only activations left are those that cannot fuse: none here (the Fire ReLU after
    // the concat moves into both expand convolutions).
    assert_eq!(
        count(&h, |op| matches!(op, Op::Activation(_))),
        0,
        "{}",
        h.describe()
    );
}

#[test]
fn fusion_skips_values_with_other_readers() {
    // conv -> relu, and the conv output is also a graph output: the activation must not fuse.
    let mut g = Graph::new();
    let x = g.input("x", &[1, 2, 5, 5]);
    let c = g.conv2d(x, "c", Conv2d::new(3, 3)).unwrap();
    let r = g.relu(c).unwrap();
    g.output(c);
    g.output(r);
    let (g, inputs) = initialised(g, 5);
    let h = check_pass("shared output", &g, &inputs, |h| {
        passes::fuse_activations(h).unwrap();
    });
    assert_eq!(count(&h, |op| matches!(op, Op::Activation(_))), 1);
}

/// SE on a small map takes 2 dispatches (gate with the pooling fused, scale); on a large map
/// 3 (a parallel pool, gate, scale).
#[test]
fn squeeze_excitation_fuses_to_two_or_three_dispatches() {
    for (shape, expect) in [
        ([2, 16, 6, 6], vec![Shader::SeGate, Shader::Eltwise]),
        (
            [1, 8, 40, 40],
            vec![Shader::GlobalPool, Shader::SeGate, Shader::Eltwise],
        ),
    ] {
        let mut g = Graph::new();
        let x = g.input("x", &shape);
        let y = blocks::se(&mut g, x, "", 4).unwrap();
        g.output(y);
        let (g, inputs) = initialised(g, 6);
        let h = check_pass("SE fusion", &g, &inputs, |h| {
            *h = passes::optimize(h).unwrap();
        });
        assert_eq!(count(&h, |op| matches!(op, Op::SeGate { .. })), 1);
        let plan = wgconv::plan::plan(&h).unwrap();
        let kernels: Vec<Shader> = plan.launches().map(|l| l.shader).collect();
        assert_eq!(kernels, expect, "{}", h.describe());
        let (_, dispatches) = check_on_device("SE block", &g, &inputs);
        assert_eq!(dispatches, expect.len());
    }
}

#[test]
fn optimize_keeps_function_and_shrinks_the_graph() {
    let (g, inputs) = initialised(mixed_net(2), 7);
    let h = check_pass("optimize", &g, &inputs, |h| {
        *h = passes::optimize(h).unwrap();
    });
    assert!(h.nodes().len() < g.nodes().len() / 2, "{}", h.describe());
    // The SE's pooling is fused into its gate kernel (a 3 x 3 map); the head's remains.
    assert!(
        count(&h, |op| matches!(op, Op::GlobalPool(PoolKind::Avg))) == 1,
        "{}",
        h.describe()
    );
}

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
