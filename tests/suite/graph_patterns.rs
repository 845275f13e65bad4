//! The pattern pass (`graph::patterns`) on graphs built with the builder: decomposed SiLU and
//! HardSwish, shuffles written as reshape-transpose-reshape, and zero padding before a
//! convolution become the dedicated ops, and compute what the decomposed graph computed (CPU
//! reference before and after).

use wgconv::compare::{Tolerance, compare};
use wgconv::graph::{Conv2d, Graph, Op, ValueId, cpu, passes};
use wgconv::ops::{Activation, ChannelOrder, PixelShuffle};
use wgconv::tensor::Tensor;
use wgconv::weights;

/// Op kinds in node order.
fn kinds(g: &Graph) -> Vec<&'static str> {
    g.nodes().iter().map(|n| n.op.kind()).collect()
}

/// Runs [`passes::fuse_patterns`] on a copy of `g`, checks the result computes what `g` does
/// on a seeded input (to f32 rounding: a fused activation rounds once where the decomposition
/// rounds at every step), and returns it.
fn fused(g: &Graph) -> Graph {
    let mut f = g.clone();
    passes::fuse_patterns(&mut f).unwrap();
    same_outputs(g, &f);
    f
}

fn same_outputs(a: &Graph, b: &Graph) {
    let inputs: Vec<Tensor> = a
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, &v)| Tensor::random_range(a.shape(v).to_vec(), 11 + i as u64, -5.0, 5.0))
        .collect();
    let want = cpu::run(a, &inputs).unwrap();
    let got = cpu::run(b, &inputs).unwrap();
    assert_eq!(want.len(), got.len());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w.shape(), g.shape());
        let c = compare(
            g.data(),
            w.data(),
            Tolerance {
                atol: 1e-6,
                rtol: 1e-6,
            },
        );
        assert!(
            c.passed(),
            "{c}\nbefore:\n{}after:\n{}",
            a.describe(),
            b.describe()
        );
    }
}

fn affine(g: &mut Graph, x: ValueId, scale: f32, shift: f32) -> ValueId {
    let c = g.shape(x)[1];
    let op = Op::ChannelAffine {
        scale: Tensor::new(vec![c], vec![scale; c]).unwrap(),
        shift: Tensor::new(vec![c], vec![shift; c]).unwrap(),
        activation: Activation::Identity,
        residual: false,
    };
    g.add("", op, &[x]).unwrap()
}

#[test]
fn x_times_sigmoid_x_is_silu_and_x_times_hardsigmoid_x_is_hard_swish() {
    let hard_sigmoid = Activation::HardSigmoid {
        alpha: 1.0 / 6.0,
        beta: 0.5,
    };
    for (gate, gate_first, want) in [
        (Activation::Sigmoid, false, Activation::Silu),
        (Activation::Sigmoid, true, Activation::Silu),
        (hard_sigmoid, false, Activation::HardSwish),
    ] {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 4, 5, 5]);
        let s = g.act(x, gate).unwrap();
        let y = if gate_first { g.mul(s, x) } else { g.mul(x, s) }.unwrap();
        g.output(y);
        let f = fused(&g);
        assert_eq!(kinds(&f), [want.name()], "{}", f.describe());
    }
}

/// After a convolution, `optimize` makes the fused SiLU the convolution's epilogue.
#[test]
fn silu_after_a_conv_ends_in_its_epilogue() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 3, 8, 8]);
    let c = g.conv2d(x, "conv", Conv2d::new(4, 3).pad(1)).unwrap();
    let s = g.act(c, Activation::Sigmoid).unwrap();
    let y = g.mul(c, s).unwrap();
    g.output(y);
    weights::init_seeded(&mut g, 3);
    let opt = passes::optimize(&g).unwrap();
    assert_eq!(opt.nodes().len(), 1, "{}", opt.describe());
    assert_eq!(opt.nodes()[0].op.describe(), "conv[3, 3]+bias+silu");
    same_outputs(&g, &opt);
}

/// `x * relu6(x + 3) / 6`, the `+ 3` and `/ 6` as channel affines (what the importer makes of
/// constant operands); ReLU6 also as a clip to [0, 6].
#[test]
fn x_times_relu6_of_x_plus_3_over_6_is_hard_swish() {
    for relu6 in [Activation::Relu6, Activation::Clip { min: 0.0, max: 6.0 }] {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 3, 4, 4]);
        let p = affine(&mut g, x, 1.0, 3.0);
        let r = g.act(p, relu6).unwrap();
        let m = g.mul(x, r).unwrap();
        let y = affine(&mut g, m, 1.0 / 6.0, 0.0);
        g.output(y);
        let f = fused(&g);
        assert_eq!(kinds(&f), ["hard_swish"], "{}", f.describe());
    }
}

/// ShuffleNet's `x.view(n, g, c / g, h, w).transpose(1, 2).reshape(n, c, h, w)`.
#[test]
fn reshape_transpose_reshape_is_a_channel_shuffle() {
    let mut g = Graph::new();
    let x = g.input("x", &[2, 6, 3, 5]);
    let v = g.reshape(x, &[2, 3, 2, 3, 5]).unwrap();
    let t = g.transpose(v, &[0, 2, 1, 3, 4]).unwrap();
    let y = g.reshape(t, &[0, -1, 3, 5]).unwrap();
    g.output(y);
    let f = fused(&g);
    assert_eq!(kinds(&f), ["channel_shuffle"], "{}", f.describe());
    let mut direct = Graph::new();
    let x = direct.input("x", &[2, 6, 3, 5]);
    let y = direct.channel_shuffle(x, 3).unwrap();
    direct.output(y);
    same_outputs(&direct, &f);
}

/// PyTorch's pixel shuffle written out, read as a flat vector: the shuffle, then a reshape to
/// the shape the last reshape had. The transpose's other reader keeps it alive.
#[test]
fn pixel_shuffle_written_out_keeps_the_final_shape_and_other_readers() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 8, 2, 3]);
    let v = g.reshape(x, &[1, 2, 2, 2, 2, 3]).unwrap();
    let t = g.transpose(v, &[0, 1, 4, 2, 5, 3]).unwrap();
    let y = g.reshape(t, &[1, 48]).unwrap();
    g.output(y);
    g.output(t);
    let f = fused(&g);
    assert_eq!(
        kinds(&f),
        ["reshape", "transpose", "pixel_shuffle", "reshape"],
        "{}",
        f.describe()
    );
    let shuffle = f.nodes().iter().find(|n| n.op.kind() == "pixel_shuffle");
    assert!(matches!(
        shuffle.unwrap().op,
        Op::PixelShuffle(PixelShuffle {
            factor: 2,
            order: ChannelOrder::Crd
        })
    ));
    assert_eq!(f.shape(f.outputs()[0]), [1, 48]);
}

/// Zero padding of H and W (in two steps) before a convolution becomes its padding; padding
/// with another value, or of the channels, stays.
#[test]
fn zero_padding_before_a_conv_becomes_its_padding() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 2, 6, 7]);
    let p = g.pad(x, &[0, 0, 1, 0], &[0, 0, 0, 2], 0.0).unwrap();
    let p = g.pad(p, &[0, 0, 0, 1], &[0, 0, 1, 0], 0.0).unwrap();
    let y = g.conv2d(p, "conv", Conv2d::new(3, 3).pad(1)).unwrap();
    g.output(y);
    let q = g.pad(x, &[0, 0, 1, 1], &[0, 0, 1, 1], 0.5).unwrap();
    let z = g.conv2d(q, "conv_half", Conv2d::new(3, 3)).unwrap();
    g.output(z);
    let c = g.pad(x, &[0, 1, 0, 0], &[0, 0, 0, 0], 0.0).unwrap();
    let w = g.conv2d(c, "conv_channels", Conv2d::new(3, 1)).unwrap();
    g.output(w);
    weights::init_seeded(&mut g, 5);
    let f = fused(&g);
    assert_eq!(
        kinds(&f),
        ["conv", "pad", "conv", "pad", "conv"],
        "{}",
        f.describe()
    );
    let Op::Conv { spec, .. } = &f.nodes()[0].op else {
        panic!("{}", f.describe());
    };
    assert_eq!(
        (&spec.pad_begin[..], &spec.pad_end[..]),
        (&[2, 2][..], &[2, 3][..])
    );
}

/// Lookalikes stay: a gate on another value, a transpose that is no shuffle.
#[test]
fn near_misses_are_left_alone() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 3, 3]);
    let other = g.act(x, Activation::Relu).unwrap();
    let s = g.act(other, Activation::Sigmoid).unwrap();
    let y = g.mul(x, s).unwrap();
    g.output(y);
    let v = g.reshape(x, &[1, 2, 2, 3, 3]).unwrap();
    let t = g.transpose(v, &[0, 1, 2, 4, 3]).unwrap();
    let z = g.reshape(t, &[1, 4, 3, 3]).unwrap();
    g.output(z);
    let f = fused(&g);
    assert_eq!(kinds(&f), kinds(&g), "{}", f.describe());
}

/// A match the fused op refuses (a shuffle of zero groups, in an empty tensor) stays as it is.
#[test]
fn a_match_the_fused_op_refuses_is_kept() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 0, 2, 2]);
    let v = g.reshape(x, &[1, -1, 5, 2, 2]).unwrap();
    let t = g.transpose(v, &[0, 2, 1, 3, 4]).unwrap();
    let y = g.reshape(t, &[1, -1, 2, 2]).unwrap();
    g.output(y);
    let f = fused(&g);
    assert_eq!(kinds(&f), ["reshape", "transpose", "reshape"]);
    assert!(passes::optimize(&g).is_ok());
}
