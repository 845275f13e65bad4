//! Absurd hyper-parameters and shapes through the graph builder, batch re-inference and
//! statistics of huge graphs.

use wgconv::graph::{Conv2d, Graph, Op, cpu};
use wgconv::ops::{
    Activation, ChannelOrder, ConvSpec, ConvTransposeSpec, PoolKind, PoolSpec, ResizeMode,
    ResizeSpec,
};
use wgconv::{Error, Session, Tensor};

use super::assert_names;
use crate::common::gpu;

/// Zero, huge and mismatched hyper-parameters: every one a typed error naming the node or op
/// and the value, none an overflow or an allocation of the requested size.
#[test]
fn absurd_builder_attributes() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 6, 6]);
    let big = usize::MAX;
    let conv = |c: Conv2d| {
        let mut h = Graph::new();
        let x = h.input("x", &[1, 4, 6, 6]);
        h.conv2d(x, "conv_bad", c).unwrap_err().to_string()
    };
    let cases = [
        (conv(Conv2d::new(4, 3).stride(0)), "stride"),
        (conv(Conv2d::new(4, 3).dilation(0)), "dilation"),
        (conv(Conv2d::new(4, 3).groups(0)), "groups"),
        (conv(Conv2d::new(4, 3).groups(3)), "groups 3"),
        (conv(Conv2d::new(4, 7)), "larger than padded input"),
        (conv(Conv2d::new(4, 0)), "zero extent"),
        (conv(Conv2d::new(4, big)), "exceeds the limit"),
        (conv(Conv2d::new(4, 3).pad(big)), "exceeds the limit"),
        (conv(Conv2d::new(4, 3).stride(big)), "exceeds the limit"),
        (
            conv(Conv2d::new(4, 3).dilation(1 << 40)),
            "exceeds the limit",
        ),
        (conv(Conv2d::new(big, 1)), "too large"),
    ];
    for (err, want) in &cases {
        assert!(err.contains("conv_bad"), "node not named: {err}");
        assert!(err.contains(want), "{want:?} not in: {err}");
    }

    // Rank mismatch: a 3-D kernel on a 4-D input.
    let err = g
        .conv_nd(x, "conv3d", 4, ConvSpec::new(&[1, 1, 1]), false)
        .unwrap_err()
        .to_string();
    assert_names(&err, &["conv3d", "rank"]);
    // Transposed convolution whose stride overflows the output extent.
    let spec = ConvTransposeSpec::new(ConvSpec::conv2d(2, 2).strides(&[1 << 30, 1 << 30]));
    let mut h = Graph::new();
    let xh = h.input("x", &[1, 1, 1 << 40, 2]);
    let err = h
        .conv_transpose(xh, "up", 1, spec, false)
        .unwrap_err()
        .to_string();
    assert_names(&err, &["up", "overflows"]);

    let pool = |spec: PoolSpec| {
        let mut h = Graph::new();
        let x = h.input("x", &[1, 4, 6, 6]);
        h.pool(x, spec).unwrap_err().to_string()
    };
    assert_names(
        &pool(PoolSpec::new(PoolKind::Max, 0, 1, 0)),
        &["max_pool", ">= 1"],
    );
    assert_names(
        &pool(PoolSpec::new(PoolKind::Avg, 2, 0, 0)),
        &["avg_pool", ">= 1"],
    );
    assert_names(
        &pool(PoolSpec::new(PoolKind::Max, 2, 2, 2)),
        &["max_pool", "smaller than the window"],
    );
    assert_names(
        &pool(PoolSpec::new(PoolKind::Max, big, 1, 0)),
        &["exceeds the limit"],
    );

    let e = |r: wgconv::Result<wgconv::graph::ValueId>| r.unwrap_err().to_string();
    assert_names(&e(g.pixel_shuffle(x, 0)), &["pixel_shuffle", "factor"]);
    assert_names(
        &e(g.pixel_shuffle(x, big)),
        &["pixel_shuffle", "exceeds the limit"],
    );
    assert_names(
        &e(g.space_to_depth(x, 4, ChannelOrder::Dcr)),
        &["space_to_depth", "block 4"],
    );
    assert_names(
        &e(g.channel_shuffle(x, 3)),
        &["channel_shuffle", "groups 3"],
    );
    assert_names(
        &e(g.channel_shuffle(x, 0)),
        &["channel_shuffle", "groups 0"],
    );
    let r = ResizeSpec::new(ResizeMode::Nearest, [big, 2]);
    assert_names(&e(g.resize(x, r)), &["resize", "exceeds the limit"]);
    let r = ResizeSpec::new(ResizeMode::Linear, [4, 4]).scale([f64::NAN, 1.0]);
    assert_names(&e(g.resize(x, r)), &["resize", "finite"]);
    assert_names(
        &e(g.pad(x, &[0, 0, big, 0], &[0; 4], 0.0)),
        &["pad", "exceeds the limit"],
    );
    assert_names(
        &e(g.pad(x, &[0, 0], &[0, 0], 0.0)),
        &["pad", "one entry per dim"],
    );
    assert_names(&e(g.reshape(x, &[i64::MAX, 2])), &["reshape", "144"]);
    assert_names(&e(g.reshape(x, &[-1, -1])), &["reshape", "invalid"]);
    assert_names(&e(g.concat(&[x, x], 7)), &["concat", "axis 7"]);
    assert_names(
        &e(g.transpose(x, &[0, 1, 1, 2])),
        &["transpose", "permutation"],
    );
    assert_names(&e(g.softmax(x, 4)), &["softmax", "axis 4"]);
    assert_names(&e(g.flatten(x, 9)), &["flatten", "start dim 9"]);
    assert_names(&e(g.linear(x, "fc", 3, true)), &["\"fc\"", "[N, K]"]);
    let clip = Activation::Clip { min: 2.0, max: 1.0 };
    assert_names(&e(g.act(x, clip)), &["clip", "min 2"]);
    let clip = Activation::Clip {
        min: f32::NAN,
        max: 1.0,
    };
    assert_names(&e(g.act(x, clip)), &["clip", "NaN"]);
    let op = Op::Slice {
        starts: vec![0, 0, 0, 0],
        ends: vec![1, 4, 6, big],
        steps: vec![1, 1, 1, 1],
    };
    assert_names(&e(g.add("sl", op, &[x])), &["\"sl\"", "outside"]);
    // Nothing above changed the graph's usable state.
    let y = g.relu(x).unwrap();
    g.output(y);
    assert_eq!(
        cpu::run(&g, &[Tensor::zeros(vec![1, 4, 6, 6])])
            .unwrap()
            .len(),
        1
    );
}

/// A graph input declaring a shape that cannot exist (graph inputs are declared infallibly):
/// the first node reading it, and a session of an input-only graph, are typed errors.
#[test]
fn graph_input_too_large_to_exist() {
    let mut g = Graph::new();
    let x = g.input("x", &[1 << 40, 1 << 40, 1 << 40]);
    let err = g.relu(x).unwrap_err().to_string();
    assert_names(&err, &["relu", "too large"]);
    g.output(x);
    let err = Session::new(gpu(), &g).unwrap_err();
    assert!(matches!(err, Error::DeviceLimit { .. }), "{err:?}");
}

/// Re-inference for another batch size goes through the same checks as building.
#[test]
fn with_batch_too_large() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 1 << 20, 1 << 20]);
    let y = g.relu(x).unwrap();
    g.output(y);
    let err = g.with_batch(1 << 40).unwrap_err().to_string();
    assert_names(&err, &["relu", "too large"]);
    assert_eq!(g.with_batch(3).unwrap().shape(y), &[3, 4, 1 << 20, 1 << 20]);
}

/// Statistics of a valid but absurdly large graph saturate instead of overflowing.
#[test]
fn statistics_of_huge_graphs_saturate() {
    let mut g = Graph::new();
    let x = g.input("x", &[1 << 15, 1, 1 << 15, 1 << 15]);
    let w = Tensor::zeros(vec![1, 1, 1, 1]);
    let y = g.conv(x, "c", ConvSpec::conv2d(1, 1), w, None).unwrap();
    let spec = ConvTransposeSpec::new(ConvSpec::conv2d(1, 1));
    let z = g.conv_transpose(y, "t", 1, spec, false).unwrap();
    g.output(z);
    assert!(g.macs() >= 1 << 45);
    let _ = (g.activation_bytes(), g.accumulation_depth(), g.describe());
    // Memory is planned with saturating sizes; the tensors are then refused against the
    // device limits, naming the first that does not fit (the input).
    match wgconv::plan::plan(&g) {
        Err(Error::DeviceLimit { what, .. }) => assert!(what.contains("\"x\""), "{what}"),
        other => panic!("expected a device-limit error, got {other:?}"),
    }
}
