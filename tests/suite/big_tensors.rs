//! Tensors beyond `max_storage_buffer_binding_size`: sessions split the nodes that bind them
//! into chunks (src/split) and must give the unsplit result. Each graph runs on a device whose
//! binding limit is tiny (64 KiB), on the normal test device, and on the CPU reference.

use std::sync::OnceLock;

use wgconv::compare::{Tolerance, compare};
use wgconv::graph::{Conv2d, Graph, Op, Operand, cpu};
use wgconv::ops::{BinaryOp, ChannelOrder, PoolKind, PoolSpec, ReduceKind, ReduceSpec};
use wgconv::ops::{ConvSpec, ConvTransposeSpec, ResizeSpec};
use wgconv::{Error, Gpu, GpuOptions, Session, Tensor, blocks, zoo};

use crate::common::gpu;
use crate::graph::{initialised, network_tolerance_from};

/// The binding limit of the small device: far below the tensors below, above the alignment.
const SMALL_BINDING: u64 = 64 << 10;

/// The test adapter with `max_storage_buffer_binding_size` lowered to [`SMALL_BINDING`] and,
/// with `max_wg`, `max_compute_workgroups_per_dimension` lowered too.
fn small_device(max_wg: Option<u32>) -> Gpu {
    let mut limits = gpu().adapter().limits();
    limits.max_storage_buffer_binding_size = SMALL_BINDING;
    if let Some(m) = max_wg {
        limits.max_compute_workgroups_per_dimension = m;
    }
    Gpu::with_options(&GpuOptions {
        backends: Some(gpu().adapter_info().backend.into()),
        adapter_name: Some(gpu().adapter_info().name.clone()),
        limits: Some(limits),
        ..Default::default()
    })
    .expect("a device with a small binding limit")
}

pub fn small() -> &'static Gpu {
    static G: OnceLock<Gpu> = OnceLock::new();
    G.get_or_init(|| small_device(None))
}

/// Runs `g` (weights seeded) on the small device, the normal device and the CPU; the split
/// run must match both within the network tolerance. Returns (split, unsplit) sessions'
/// dispatch counts and the split session's staging bytes.
pub fn check(what: &str, g: Graph) -> (usize, usize, u64) {
    let (g, inputs) = initialised(g, 11);
    let values = cpu::run_all(&g, &inputs).unwrap();
    let tol = network_tolerance_from(&g, &values);
    let split = Session::new(small(), &g).unwrap_or_else(|e| panic!("{what}: split session: {e}"));
    let whole = Session::new(gpu(), &g).unwrap_or_else(|e| panic!("{what}: session: {e}"));
    let got = split
        .run(&inputs)
        .unwrap_or_else(|e| panic!("{what}: split run: {e}"));
    let base = whole.run(&inputs).unwrap();
    for (i, &v) in g.outputs().iter().enumerate() {
        let want = values[v.0].as_ref().unwrap();
        for (name, t) in [("split vs cpu", &got[i]), ("unsplit vs cpu", &base[i])] {
            assert_eq!(t.shape(), want.shape());
            let c = compare(t.data(), want.data(), tol);
            assert!(c.passed(), "{what}: output {i} {name}: {c} ({tol:?})");
        }
        let c = compare(got[i].data(), base[i].data(), tol);
        assert!(
            c.passed(),
            "{what}: output {i} split vs unsplit: {c} ({tol:?})"
        );
    }
    // A second run reuses everything: no buffer or bind group is created.
    let before = split.counters();
    split.run(&inputs).unwrap();
    let after = split.counters();
    assert_eq!(before.buffers_created, after.buffers_created, "{what}");
    assert_eq!(
        before.bind_groups_created, after.bind_groups_created,
        "{what}"
    );
    let r = (
        split.dispatch_count(),
        whole.dispatch_count(),
        split.staging_bytes(),
    );
    eprintln!(
        "{what}: {} dispatches split, {} unsplit, {} staging bytes",
        r.0, r.1, r.2
    );
    assert!(r.0 > r.1, "{what}: nothing was split");
    r
}

fn graph(input: &[usize], f: impl FnOnce(&mut Graph, wgconv::graph::ValueId)) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", input);
    f(&mut g, x);
    g
}

#[test]
fn conv_batch_split() {
    // 4 images of 8x32x32 (32 KiB each; the tensor is 128 KiB): batch ranges.
    check(
        "conv batch",
        graph(&[4, 8, 32, 32], |g, x| {
            let y = g.conv2d(x, "conv", Conv2d::new(8, 3).pad(1)).unwrap();
            let y = g.relu(y).unwrap();
            g.output(y);
        }),
    );
}

#[test]
fn conv_channel_and_k_split() {
    // One image's input is 24x37x37 floats = 128 KiB: input-channel (K) chunks accumulated
    // through the residual epilogue, output-channel chunks, odd planes (staging), a residual
    // add fused into the conv and an activation that must only apply after the last chunk.
    let (_, _, staging) = check(
        "conv K split",
        graph(&[1, 24, 37, 37], |g, x| {
            let y = g.conv2d(x, "conv", Conv2d::new(20, 3).pad(1)).unwrap();
            let r = g.conv2d(x, "skip", Conv2d::new(20, 1)).unwrap();
            let y = g.add_values(y, r).unwrap();
            let y = g.relu(y).unwrap();
            g.output(y);
        }),
    );
    assert!(staging > 0, "odd planes must be staged");
}

#[test]
fn conv_weight_rows_split() {
    // A 3x3 conv whose weight (64x64x3x3 = 144 KiB) exceeds the limit: output-channel ranges
    // with their weight rows, on 2 images.
    check(
        "conv weight",
        graph(&[2, 64, 9, 9], |g, x| {
            let y = g.conv2d(x, "conv", Conv2d::new(64, 3).pad(1)).unwrap();
            g.output(y);
        }),
    );
}

#[test]
fn depthwise_pointwise_pool_split() {
    // Depthwise (group ranges of one image), pointwise (K split), max pool and global pool
    // (channel ranges), BatchNorm-style channel affine on odd planes.
    check(
        "depthwise/pointwise/pool",
        graph(&[2, 20, 45, 45], |g, x| {
            let y = g
                .conv2d(x, "dw", Conv2d::new(20, 3).pad(1).groups(20))
                .unwrap();
            let y = g.relu(y).unwrap();
            let y = g.conv2d(y, "pw", Conv2d::new(24, 1)).unwrap();
            let p = g.max_pool(y, 3, 2, 1, false).unwrap();
            let q = g.global_avg_pool(y).unwrap();
            g.output(p);
            g.output(q);
        }),
    );
    check(
        "avg pool",
        graph(&[1, 12, 41, 41], |g, x| {
            let y = g.pool(x, PoolSpec::new(PoolKind::Avg, 3, 1, 1)).unwrap();
            g.output(y);
        }),
    );
}

#[test]
fn eltwise_broadcast_split() {
    // [3, 10, 33, 33] * [10, 1, 1] + [1, 10, 33, 33]: the broadcast operands follow the output
    // box where they are not size 1.
    let mut g = Graph::new();
    let a = g.input("a", &[3, 10, 33, 33]);
    let b = g.input("b", &[10, 1, 1]);
    let c = g.input("c", &[1, 10, 33, 33]);
    let y = g.mul(a, b).unwrap();
    let y = g.binary(BinaryOp::Add, y, c).unwrap();
    let y = g.relu(y).unwrap();
    g.output(y);
    check("eltwise broadcast", g);
}

#[test]
fn linear_with_a_big_weight() {
    // A 2048 -> 100 fc layer (800 KiB of weight) on 3 rows: per row, output-feature ranges of
    // the weight, like VGG's 25088x4096 classifier on a real device.
    check(
        "linear",
        graph(&[3, 2048], |g, x| {
            let y = g.linear(x, "fc", 100, true).unwrap();
            let y = g.relu(y).unwrap();
            g.output(y);
        }),
    );
}

#[test]
fn data_movement_split() {
    // Concat, transpose, slice, pixel shuffle and space-to-depth on tensors of 100+ KiB.
    check(
        "data movement",
        graph(&[2, 8, 42, 40], |g, x| {
            let y = g.concat(&[x, x], 1).unwrap();
            let t = g.transpose(y, &[0, 2, 3, 1]).unwrap();
            let s = g.slice_channels(y, 3, 13).unwrap();
            let p = g.pixel_shuffle(y, 2).unwrap();
            let d = g.space_to_depth(s, 2, ChannelOrder::Crd).unwrap();
            let c = g.channel_shuffle(y, 4).unwrap();
            for v in [t, p, d, c] {
                g.output(v);
            }
        }),
    );
}

#[test]
fn small_networks_split() {
    // Every activation of these at 64 px is beyond 64 KiB for the first stages.
    let g = zoo::build("resnet18", &[1, 3, 64, 64]).unwrap();
    check("resnet18", g);
    let g = zoo::build("mobilenet_v2", &[1, 3, 64, 64]).unwrap();
    check("mobilenet_v2", g);
}

#[test]
fn many_workgroups_with_small_limits() {
    // 16 workgroups per dimension at most: every chunk (up to 16K elements, 64 workgroups of
    // the elementwise kernel) folds its dispatch into y and z, and the flat workgroup ids must
    // still cover each chunk exactly once.
    let dev = small_device(Some(16));
    let (g, inputs) = initialised(
        graph(&[2, 16, 80, 80], |g, x| {
            let y = g.conv2d(x, "conv", Conv2d::new(16, 3).pad(1)).unwrap();
            let y = g.relu(y).unwrap();
            let z = g.relu(x).unwrap();
            let t = g.transpose(z, &[0, 2, 3, 1]).unwrap();
            g.output(y);
            g.output(t);
        }),
        3,
    );
    let values = cpu::run_all(&g, &inputs).unwrap();
    let tol = network_tolerance_from(&g, &values);
    let s = Session::new(&dev, &g).unwrap();
    let got = s.run(&inputs).unwrap();
    for (i, &v) in g.outputs().iter().enumerate() {
        let want = values[v.0].as_ref().unwrap();
        let c = compare(got[i].data(), want.data(), tol);
        assert!(c.passed(), "output {i}: {c}");
    }
}

#[test]
fn beyond_max_buffer_size_is_refused_before_submit() {
    let mut limits = gpu().adapter().limits();
    limits.max_storage_buffer_binding_size = SMALL_BINDING;
    limits.max_buffer_size = 1 << 20;
    let dev = Gpu::with_options(&GpuOptions {
        backends: Some(gpu().adapter_info().backend.into()),
        adapter_name: Some(gpu().adapter_info().name.clone()),
        limits: Some(limits),
        ..Default::default()
    })
    .unwrap();
    // The conv's output, 16x128x128 floats = 1 MiB + nothing, just over 1 MiB with 17 planes.
    let g = graph(&[1, 1, 128, 128], |g, x| {
        let y = g.conv2d(x, "big_conv", Conv2d::new(17, 3).pad(1)).unwrap();
        g.output(y);
    });
    let err = Session::new(&dev, &g).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::DeviceLimit { .. }), "{err:?}");
    assert!(msg.contains("max_buffer_size"), "{msg}");
    assert!(msg.contains("big_conv") && msg.contains("conv"), "{msg}");
    // Parameters beyond max_buffer_size in all (8 x 144 KiB), each within it, go to several
    // buffers; each weight is also beyond the binding limit (row ranges).
    let (g, inputs) = initialised(
        graph(&[1, 64, 6, 6], |g, x| {
            let mut y = x;
            for i in 0..8 {
                let c = g.conv2d(y, &format!("c{i}"), Conv2d::new(64, 3).pad(1));
                y = g.relu(c.unwrap()).unwrap();
            }
            g.output(y);
        }),
        4,
    );
    let values = cpu::run_all(&g, &inputs).unwrap();
    let tol = network_tolerance_from(&g, &values);
    let s = Session::new(&dev, &g).unwrap();
    assert!(s.plan().param_bytes > 1 << 20);
    let got = s.run(&inputs).unwrap();
    let c = compare(
        got[0].data(),
        values[g.outputs()[0].0].as_ref().unwrap().data(),
        tol,
    );
    assert!(c.passed(), "{c}");
}

/// Reductions over axes are cut along the dims before the first reduced one (here batch and
/// channel ranges, with and without keepdims); one that reduces dim 0 of a tensor beyond the
/// binding limit is a DeviceLimit error naming the node and the tensor.
#[test]
fn reductions_split_by_leading_dims() {
    let graph_of = |shape: &[usize], spec: &ReduceSpec| {
        graph(shape, |g, x| {
            let y = g
                .add("head.reduce", Op::Reduce(spec.clone()), &[x])
                .unwrap();
            g.output(y);
        })
    };
    let spec = |kind, axes: &[usize], keepdims| ReduceSpec {
        kind,
        axes: axes.to_vec(),
        keepdims,
    };
    for (shape, s) in [
        (vec![4, 64, 128], spec(ReduceKind::Sum, &[1], false)),
        (
            vec![3, 5, 40, 50],
            spec(ReduceKind::LogSumExp, &[2, 3], true),
        ),
        (vec![2, 7, 3000], spec(ReduceKind::Max, &[2], false)),
    ] {
        let x = Tensor::random(shape.clone(), 6);
        let want = wgconv::reference::reduce::reduce(&s, &x).unwrap();
        let ses = Session::new(small(), &graph_of(&shape, &s)).unwrap();
        assert!(ses.dispatch_count() > 1, "{s:?} of {shape:?} was not split");
        let y = ses.run(std::slice::from_ref(&x)).unwrap();
        let c = compare(y[0].data(), want.data(), Tolerance::accumulation(4000));
        assert!(c.passed(), "{s:?} of {shape:?}: {c}");
    }
    let s = spec(ReduceKind::Sum, &[0], false);
    let err = Session::new(small(), &graph_of(&[4, 64, 128], &s)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::DeviceLimit { .. }), "{err:?}");
    assert!(
        msg.contains("head.reduce") && msg.contains("reduce_sum"),
        "{msg}"
    );
}

#[test]
fn three_d_pools_split_and_indices_refuse() {
    // 3-D max / Lp and a 1-D average pool over 169 KiB inputs: channel ranges of one image.
    check(
        "3-D pools",
        graph(&[2, 6, 9, 20, 20], |g, x| {
            let m = g.pool(x, PoolSpec::nd(PoolKind::Max, 3, 3, 2, 1)).unwrap();
            let l = g
                .pool(x, PoolSpec::nd(PoolKind::Lp(2), 3, 2, 1, 0))
                .unwrap();
            g.output(m);
            g.output(l);
        }),
    );
    check(
        "1-D pool",
        graph(&[2, 8, 2000], |g, x| {
            let y = g.pool(x, PoolSpec::nd(PoolKind::Avg, 1, 5, 2, 2)).unwrap();
            g.output(y);
        }),
    );
    // Indices count from the input's start: never cut, refused when too big.
    let g = graph(&[1, 8, 60, 60], |g, x| {
        let spec = PoolSpec::new(
            PoolKind::MaxIndex {
                column_major: false,
            },
            2,
            2,
            0,
        );
        let y = g.pool(x, spec).unwrap();
        g.output(y);
    });
    let err = Session::new(small(), &g).unwrap_err();
    assert!(matches!(err, Error::DeviceLimit { .. }), "{err:?}");
    assert!(err.to_string().contains("max_pool_indices"), "{err}");
}

#[test]
fn unsplittable_plane_is_a_device_limit_error() {
    // One channel plane of 160x160 floats (100 KiB) cannot be cut by a 3x3 conv's split.
    let g = graph(&[1, 1, 160, 160], |g, x| {
        let y = g.conv2d(x, "plane", Conv2d::new(2, 3).pad(1)).unwrap();
        g.output(y);
    });
    let err = Session::new(small(), &g).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::DeviceLimit { .. }), "{err:?}");
    assert!(
        msg.contains("plane") && msg.contains("max_storage_buffer_binding_size"),
        "{msg}"
    );
    // The same plane through an elementwise op splits (by rows).
    let g = graph(&[1, 1, 160, 160], |g, x| {
        let y = g.relu(x).unwrap();
        g.output(y);
    });
    let s = Session::new(small(), &g).unwrap();
    let x = Tensor::random(vec![1, 1, 160, 160], 5);
    let y = s.run(std::slice::from_ref(&x)).unwrap();
    let want: Vec<f32> = x.data().iter().map(|v| v.max(0.0)).collect();
    let c = compare(y[0].data(), &want, Tolerance::elementwise());
    assert!(c.passed(), "{c}");
}

#[test]
fn per_image_ops_split() {
    // BatchNorm on an input (a channel affine), pad of H and W (batch and channel ranges),
    // nearest resize, softmax over channels (batch ranges), an SE block (pool + gate MLP,
    // then a broadcast multiply), a transposed conv (batch ranges) and a matmul (row ranges).
    let mut g = Graph::new();
    let x = g.input("x", &[2, 10, 33, 33]);
    let y = g.batch_norm(x, "bn").unwrap();
    let y = g.pad(y, &[0, 0, 1, 2], &[0, 0, 2, 1], 0.5).unwrap();
    let y = g.resize(y, ResizeSpec::torch_nearest([50, 47])).unwrap();
    let s = g.softmax(y, 1).unwrap();
    let e = blocks::se(&mut g, s, "se", 4).unwrap();
    g.output(s);
    g.output(e);
    // Each image's output (12x50x46) is beyond the limit: output-channel ranges.
    let d = g.max_pool(s, 2, 2, 0, false).unwrap();
    let t = g
        .conv_transpose(
            d,
            "up",
            12,
            ConvTransposeSpec::new(ConvSpec::conv2d(2, 2).stride(2)),
            true,
        )
        .unwrap();
    g.output(t);
    let a = g.input("a", &[120, 150]);
    let b = g.input("b", &[150, 20]);
    let m = g.matmul(a, b).unwrap();
    g.output(m);
    check("per-image ops", g);
}

/// An f16 session splits by f16 bytes: a conv whose input is 48x37x37 f16 (128 KiB; in f32 it
/// would be twice that) runs as input-channel (K) chunks chained through the residual epilogue,
/// each chunk's input staged (odd planes: 37 * 37 * 2 bytes is not a multiple of the
/// alignment). Checked against the CPU reference on the f16-rounded operands under the f16
/// bound, with one f16 rounding more per chunk (each chunk's running sum is stored as f16).
#[test]
fn f16_conv_k_split_with_staging() {
    use wgconv::Precision;
    use wgconv::compare::{F16Tolerance, compare_f16};
    use wgconv::graph::Op;
    use wgconv::session::SessionOptions;

    let input = [1usize, 48, 37, 37];
    let g = graph(&input, |g, x| {
        let y = g.conv2d(x, "conv", Conv2d::new(20, 3).pad(1)).unwrap();
        g.output(y);
    });
    let (g, inputs) = initialised(g, 12);
    let Op::Conv {
        spec,
        weight: Operand::Const(weight),
        bias,
        ..
    } = &g.nodes()[0].op
    else {
        unreachable!("the graph is one conv")
    };
    let bias = bias.as_ref().and_then(Operand::as_const);
    let r16 = |t: &Tensor| {
        let d = t.data().iter().map(|&v| Precision::F16.round(v)).collect();
        Tensor::new(t.shape().to_vec(), d).unwrap()
    };
    let abs = |t: &Tensor| {
        let d = t.data().iter().map(|v| v.abs()).collect();
        Tensor::new(t.shape().to_vec(), d).unwrap()
    };
    let (x, w, b) = (r16(&inputs[0]), r16(weight), bias.map(r16));
    let act = wgconv::ops::Activation::Identity;
    let want = wgconv::reference::conv::conv_epilogue(spec, &x, &w, b.as_ref(), None, act).unwrap();
    let sums = wgconv::reference::conv::conv_epilogue(
        spec,
        &abs(&x),
        &abs(&w),
        b.as_ref().map(abs).as_ref(),
        None,
        act,
    )
    .unwrap();
    let k = 48 * 9;
    // Chunks are at least half the binding limit (boundaries are rounded to aligned offsets
    // only where that keeps half a chunk), so there are at most this many.
    let in_bytes = (input.iter().product::<usize>() * 2) as u64;
    let chunks = (2 * in_bytes.div_ceil(SMALL_BINDING) + 1) as usize;
    for p in [Precision::F16, Precision::F16AccF32] {
        let opts = SessionOptions {
            precision: Some(p),
            ..Default::default()
        };
        let split = Session::with_options(small(), &g, opts.clone())
            .unwrap_or_else(|e| panic!("{p}: split session: {e}"));
        let whole = Session::with_options(gpu(), &g, opts).unwrap();
        assert!(
            split.dispatch_count() > whole.dispatch_count(),
            "{p}: nothing was split"
        );
        assert!(split.staging_bytes() > 0, "{p}: odd planes must be staged");
        let got = split.run(&inputs).unwrap();
        // f16 accumulation: k products plus one rounding per chunk; f32 accumulation: the
        // chunks' f16 roundings dominate (k * 2^-24 < 2^-11 for k < 2^13).
        let tol = match p {
            Precision::F16 => F16Tolerance::new(k + chunks, Precision::F16),
            _ => F16Tolerance::new(chunks + 1, Precision::F16),
        };
        let c = compare_f16(got[0].data(), want.data(), sums.data(), tol);
        assert!(c.passed(), "{p}: split vs cpu: {c} ({tol:?})");
        let base = whole.run(&inputs).unwrap();
        let c = compare_f16(base[0].data(), want.data(), sums.data(), tol);
        assert!(c.passed(), "{p}: unsplit vs cpu: {c} ({tol:?})");
    }
}

/// Nearest resize split in an f16 session: its source-index table stays f32 (f16 cannot
/// index past 2048 exactly) while the session's views count f16 elements, so the table must
/// still be bound whole at its f32 size. Data movement: split and unsplit agree exactly.
#[test]
fn f16_resize_split() {
    use wgconv::Precision;
    use wgconv::session::SessionOptions;

    let g = graph(&[2, 12, 60, 60], |g, x| {
        let y = g.resize(x, ResizeSpec::torch_nearest([90, 87])).unwrap();
        g.output(y);
    });
    let (g, inputs) = initialised(g, 13);
    let opts = SessionOptions {
        precision: Some(Precision::F16),
        ..Default::default()
    };
    let split = Session::with_options(small(), &g, opts.clone()).unwrap();
    let whole = Session::with_options(gpu(), &g, opts).unwrap();
    assert!(
        split.dispatch_count() > whole.dispatch_count(),
        "nothing was split"
    );
    let got = split.run(&inputs).unwrap();
    let want = whole.run(&inputs).unwrap();
    assert_eq!(got[0].shape(), &[2, 12, 90, 87]);
    assert_eq!(got[0].data(), want[0].data());
}

/// Normalisations are cut along the dims before the normalised ones (layer norm's leading
/// dims, instance / group norm's and LRN's batch, Lp's dims before its axis), parameters
/// whole; a layer norm over every dim of a tensor beyond the binding limit is a DeviceLimit
/// error naming the node.
#[test]
fn normalisations_split_by_leading_dims() {
    use wgconv::ops::NormSpec;
    let graph_of = |shape: &[usize], spec: NormSpec| {
        let n = spec.param_len(shape);
        let affine = spec.kind.has_affine();
        let scale = affine.then(|| Tensor::random_range(vec![n], 2, 0.5, 1.5));
        let bias = affine.then(|| Tensor::random(vec![n], 3));
        let g = graph(shape, |g, x| {
            let op = Op::Norm {
                spec,
                scale: scale.clone(),
                bias: bias.clone(),
            };
            let y = g.add("head.norm", op, &[x]).unwrap();
            g.output(y);
        });
        (g, scale, bias)
    };
    for (shape, s) in [
        (vec![4, 64, 128], NormSpec::layer(2, 1e-5)),
        (vec![4, 64, 128], NormSpec::layer(1, 1e-5)),
        (vec![4, 8, 32, 32], NormSpec::group(2, 1e-5)),
        (vec![4, 8, 32, 32], NormSpec::instance(1e-5)),
        (vec![4, 8, 32, 32], NormSpec::lrn(3, 1e-3, 0.75, 1.0)),
        (vec![4, 64, 128], NormSpec::lp(2, 2)),
    ] {
        let x = Tensor::random(shape.clone(), 6);
        let (g, scale, bias) = graph_of(&shape, s);
        let want = wgconv::reference::norm::norm(&s, &x, scale.as_ref(), bias.as_ref()).unwrap();
        let ses = Session::new(small(), &g).unwrap();
        assert!(ses.dispatch_count() > 1, "{s:?} of {shape:?} was not split");
        let y = ses.run(std::slice::from_ref(&x)).unwrap();
        let c = compare(y[0].data(), want.data(), Tolerance::accumulation(8192));
        assert!(c.passed(), "{s:?} of {shape:?}: {c}");
    }
    let err = Session::new(
        small(),
        &graph_of(&[4, 64, 128], NormSpec::layer(0, 1e-5)).0,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::DeviceLimit { .. }), "{err:?}");
    assert!(
        msg.contains("head.norm") && msg.contains("layer_norm"),
        "{msg}"
    );
}
