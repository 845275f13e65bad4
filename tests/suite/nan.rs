//! NaN and infinities propagate as in PyTorch: through every activation, convolution and max
//! pooling (PyTorch's max pooling returns NaN when the window holds one).

use wgconv::compare::Tolerance;
use wgconv::kernels::{ConvBindings, conv, eltwise, pool};
use wgconv::ops::{Activation, ConvSpec, Epilogue, PoolKind, PoolSpec};
use wgconv::reference;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};

fn specials() -> Tensor {
    Tensor::new(
        vec![7],
        vec![
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            1.0,
            -1.0,
            1e30,
        ],
    )
    .unwrap()
}

/// Expected values are the PyTorch ones for these inputs: NaN stays NaN under every
/// activation, relu(inf) = inf, relu(-inf) = 0, sigmoid(-inf) = 0, silu(-inf) = -inf * 0 = NaN.
#[test]
fn activations_of_nan_and_infinities() {
    let x = specials();
    for act in Activation::all() {
        let g = gpu();
        let b = upload_all(&[&x]);
        let out = g.zeros(&[7]).unwrap();
        let got = run(
            &g.encode(eltwise::unary(
                g.target(),
                act,
                b[0].binding(),
                out.binding(),
                7,
            ))
            .unwrap(),
            &out,
        );
        assert!(
            got.data()[0].is_nan(),
            "{}: NaN became {}",
            act.name(),
            got.data()[0]
        );
        assert_close(
            act.name(),
            &got,
            &reference::eltwise::unary(act, &x),
            Tolerance::elementwise(),
        );
    }
    // Spot values from PyTorch.
    let want_relu = [f32::NAN, f32::INFINITY, 0.0];
    let g = gpu();
    let b = upload_all(&[&x]);
    let out = g.zeros(&[7]).unwrap();
    let got = run(
        &g.encode(eltwise::unary(
            g.target(),
            Activation::Relu,
            b[0].binding(),
            out.binding(),
            7,
        ))
        .unwrap(),
        &out,
    );
    assert!(
        got.data()[0].is_nan() && got.data()[1] == want_relu[1] && got.data()[2] == want_relu[2]
    );
}

#[test]
fn max_pool_propagates_nan_and_infinity() {
    let mut data = Tensor::random(vec![1, 2, 6, 6], 1).into_data();
    data[7] = f32::NAN; // channel 0, (1, 1)
    data[36 + 35] = f32::INFINITY; // channel 1, (5, 5)
    let x = Tensor::new(vec![1, 2, 6, 6], data).unwrap();
    let spec = PoolSpec::new(PoolKind::Max, 2, 2, 0);
    let g = gpu();
    let b = upload_all(&[&x]);
    let out = g.zeros(&[1, 2, 3, 3]).unwrap();
    let got = run(
        &g.encode(pool::pool(
            g.target(),
            &spec,
            x.shape(),
            b[0].binding(),
            out.binding(),
        ))
        .unwrap(),
        &out,
    );
    assert!(got.data()[0].is_nan(), "window with NaN: {}", got.data()[0]);
    assert_eq!(got.data()[17], f32::INFINITY);
    assert_close(
        "max pool",
        &got,
        &reference::pool::pool(&spec, &x).unwrap(),
        Tolerance::elementwise(),
    );
    let gout = g.zeros(&[1, 2, 1, 1]).unwrap();
    let got = run(
        &g.encode(pool::global_pool(
            g.target(),
            PoolKind::Max,
            x.shape(),
            b[0].binding(),
            gout.binding(),
        ))
        .unwrap(),
        &gout,
    );
    assert!(
        got.data()[0].is_nan() && got.data()[1] == f32::INFINITY,
        "{:?}",
        got.data()
    );
}

#[test]
fn convolution_spreads_nan_to_its_receptive_field_only() {
    let mut data = Tensor::random(vec![1, 1, 5, 5], 2).into_data();
    data[12] = f32::NAN; // centre
    let x = Tensor::new(vec![1, 1, 5, 5], data).unwrap();
    let w = Tensor::random(vec![1, 1, 3, 3], 3);
    let spec = ConvSpec::conv2d(3, 3);
    let g = gpu();
    let b = upload_all(&[&x, &w]);
    let out = g.zeros(&[1, 1, 3, 3]).unwrap();
    let bind = ConvBindings {
        input: b[0].binding(),
        weight: b[1].binding(),
        bias: None,
        residual: None,
        input_scale: None,
        output: out.binding(),
    };
    let got = run(
        &g.encode(conv::conv(
            g.target(),
            &spec,
            x.shape(),
            w.shape(),
            Epilogue::act(Activation::Relu),
            bind,
        ))
        .unwrap(),
        &out,
    );
    // Every 3x3 output window of a 5x5 input covers the centre.
    assert!(got.data().iter().all(|v| v.is_nan()), "{:?}", got.data());
}
