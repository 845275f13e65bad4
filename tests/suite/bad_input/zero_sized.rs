//! Zero-sized dimensions: empty tensors through every kind of op, and ops that would produce
//! zero elements from a non-empty input.

use wgconv::graph::{Conv2d, Graph, cpu};
use wgconv::ops::{ChannelOrder, ConvSpec, ConvTransposeSpec, ResizeMode, ResizeSpec};
use wgconv::{Error, Session, Tensor};

use super::assert_names;
use crate::common::gpu;

/// An input with a zero dimension through every kind of op: either a typed error naming the
/// node, or a graph whose CPU and GPU runs both return empty outputs (no dispatch of zero
/// workgroups reaches the device, nothing hangs).
#[test]
fn zero_sized_dimensions() {
    type Build = fn(&mut Graph, wgconv::graph::ValueId) -> wgconv::Result<wgconv::graph::ValueId>;
    let ops: Vec<(&str, Build)> = vec![
        ("conv", |g, x| g.conv2d(x, "c", Conv2d::new(4, 3).pad(1))),
        ("conv1x1", |g, x| g.conv2d(x, "c", Conv2d::new(4, 1))),
        ("depthwise", |g, x| {
            g.conv2d(x, "c", Conv2d::new(4, 3).pad(1).groups(4))
        }),
        ("conv_t", |g, x| {
            let spec = ConvTransposeSpec::new(ConvSpec::conv2d(2, 2).stride(2));
            g.conv_transpose(x, "ct", 2, spec, true)
        }),
        ("bn", |g, x| g.batch_norm(x, "bn")),
        ("relu", |g, x| g.relu(x)),
        ("max_pool", |g, x| g.max_pool(x, 2, 2, 0, false)),
        ("gap", |g, x| g.global_avg_pool(x)),
        ("flatten", |g, x| g.flatten(x, 1)),
        ("softmax", |g, x| g.softmax(x, 1)),
        ("add", |g, x| g.add_values(x, x)),
        ("concat", |g, x| g.concat(&[x, x], 1)),
        ("pixel_shuffle", |g, x| g.pixel_shuffle(x, 2)),
        ("space_to_depth", |g, x| {
            g.space_to_depth(x, 2, ChannelOrder::Crd)
        }),
        ("channel_shuffle", |g, x| g.channel_shuffle(x, 2)),
        ("resize", |g, x| {
            g.resize(x, ResizeSpec::new(ResizeMode::Nearest, [8, 8]))
        }),
        ("pad", |g, x| g.pad(x, &[0, 0, 1, 1], &[0, 0, 1, 1], 0.0)),
        ("transpose", |g, x| g.transpose(x, &[0, 2, 3, 1])),
    ];
    for shape in [[0usize, 4, 4, 4], [1, 0, 4, 4], [1, 4, 0, 4]] {
        for (what, build) in &ops {
            let mut g = Graph::new();
            let x = g.input("x", &shape);
            let y = match build(&mut g, x) {
                Ok(y) => y,
                Err(e) => {
                    let msg = e.to_string();
                    assert!(
                        matches!(e, Error::InvalidOp { .. }) && !msg.is_empty(),
                        "{what} {shape:?}: {msg}"
                    );
                    continue;
                }
            };
            g.output(y);
            let input = Tensor::zeros(shape.to_vec());
            let want = cpu::run(&g, std::slice::from_ref(&input))
                .unwrap_or_else(|e| panic!("{what} {shape:?}: CPU: {e}"));
            match Session::new(gpu(), &g) {
                Ok(s) => {
                    let got = s
                        .run(&[input])
                        .unwrap_or_else(|e| panic!("{what} {shape:?}: GPU: {e}"));
                    assert_eq!(got[0].shape(), want[0].shape(), "{what} {shape:?}");
                    assert_eq!(got[0].data(), want[0].data(), "{what} {shape:?}");
                }
                Err(e) => assert!(!e.to_string().is_empty(), "{what} {shape:?}"),
            }
        }
    }
}

/// Ops that would produce zero elements from a non-empty input are refused at build time,
/// naming the node and the range; an empty slice (ONNX clamps ranges into empty ones) is an
/// empty tensor, a range outside the input an error.
#[test]
fn ops_producing_zero_elements() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 4, 4]);
    let s = g.slice_channels(x, 2, 2).unwrap();
    assert_eq!(g.shape(s), [1, 0, 4, 4]);
    let err = g.slice_channels(x, 3, 5).unwrap_err().to_string();
    assert_names(&err, &["slice", "3..5", "outside"]);
    let err = g.reshape(x, &[0, 0, 0, 0, 0]).unwrap_err().to_string();
    assert_names(&err, &["reshape", "invalid"]);
    let e = g.input("e", &[1, 4, 0, 4]);
    let err = g.global_avg_pool(e).unwrap_err().to_string();
    assert_names(&err, &["global_avg_pool", "non-empty"]);
    let err = g
        .resize(x, ResizeSpec::new(ResizeMode::Linear, [0, 4]))
        .unwrap_err()
        .to_string();
    assert_names(&err, &["resize", "[0, 4]"]);
    let err = g.max_pool(x, 5, 1, 0, false).unwrap_err().to_string();
    assert_names(&err, &["max_pool", "larger than padded input"]);
}
