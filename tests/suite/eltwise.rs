//! Activation and broadcasting binary kernels against the CPU reference.

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::kernels::eltwise;
use wgconv::ops::{Activation, BinaryOp, broadcast_shape};
use wgconv::reference;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};

/// Inputs span [-8, 8] so every activation's interesting region (and saturation) is hit.
fn input(shape: &[usize], seed: u64) -> Tensor {
    Tensor::random_range(shape.to_vec(), seed, -8.0, 8.0)
}

#[test]
fn every_activation_matches_reference() {
    let x = input(&[3, 5, 7, 11], 1);
    for act in Activation::all() {
        let g = gpu();
        let bufs = upload_all(&[&x]);
        let out = g.zeros(x.shape()).unwrap();
        let d = g
            .encode(eltwise::unary(
                g.target(),
                act,
                bufs[0].binding(),
                out.binding(),
                x.numel(),
            ))
            .unwrap();
        let got = run(&d, &out);
        assert_close(
            act.name(),
            &got,
            &reference::eltwise::unary(act, &x),
            Tolerance::elementwise(),
        );
    }
}

/// Pinned: more than 65,535 workgroups of 256 forces the y-folded dispatch path.
#[test]
fn unary_beyond_one_dispatch_dimension() {
    let n = 65_535 * 256 + 1000;
    let x = Tensor::random(vec![n], 7);
    let g = gpu();
    let bufs = upload_all(&[&x]);
    let out = g.zeros(&[n]).unwrap();
    let d = g
        .encode(eltwise::unary(
            g.target(),
            Activation::Relu,
            bufs[0].binding(),
            out.binding(),
            n,
        ))
        .unwrap();
    assert!(
        d.workgroups()[1] > 1,
        "dispatch was not folded: {:?}",
        d.workgroups()
    );
    let got = run(&d, &out);
    assert_close(
        "relu",
        &got,
        &reference::eltwise::unary(Activation::Relu, &x),
        Tolerance::elementwise(),
    );
}

fn binary_case(op: BinaryOp, act: Activation, sa: &[usize], sb: &[usize], seed: u64) {
    let a = input(sa, seed);
    // Keep divisors away from zero so Div compares values, not infinities.
    let b = match op {
        BinaryOp::Div => Tensor::random_range(sb.to_vec(), seed + 1, 0.5, 4.0),
        _ => input(sb, seed + 1),
    };
    let g = gpu();
    let out_shape = broadcast_shape(sa, sb).unwrap();
    let bufs = upload_all(&[&a, &b]);
    let out = g.zeros(&out_shape).unwrap();
    let d = g
        .encode(eltwise::binary(
            g.target(),
            op,
            act,
            (bufs[0].binding(), sa),
            (bufs[1].binding(), sb),
            out.binding(),
        ))
        .unwrap();
    let got = run(&d, &out);
    let want = reference::eltwise::binary(op, act, &a, &b).unwrap();
    assert_close(
        &format!("{op:?} {sa:?} {sb:?} {act:?}"),
        &got,
        &want,
        Tolerance::elementwise(),
    );
}

#[test]
fn pinned_broadcasts() {
    // Residual add (same shape) with the fused ReLU of ResNet blocks.
    binary_case(
        BinaryOp::Add,
        Activation::Relu,
        &[2, 4, 5, 5],
        &[2, 4, 5, 5],
        10,
    );
    // SE's channel scale: [N, C, H, W] * [N, C, 1, 1].
    binary_case(
        BinaryOp::Mul,
        Activation::Identity,
        &[2, 6, 3, 5],
        &[2, 6, 1, 1],
        11,
    );
    // Bias add: [N, C, H, W] + [C, 1, 1] (lower rank, right-aligned).
    binary_case(
        BinaryOp::Add,
        Activation::Silu,
        &[1, 3, 4, 4],
        &[3, 1, 1],
        12,
    );
    // Both sides broadcast: [4, 1] - [1, 5].
    binary_case(BinaryOp::Sub, Activation::Identity, &[4, 1], &[1, 5], 13);
    // Scalar divisor, 6-D.
    binary_case(
        BinaryOp::Div,
        Activation::Tanh,
        &[2, 1, 3, 2, 2, 3],
        &[1],
        14,
    );
}

#[test]
fn broadcast_rank_above_six_is_an_error() {
    let g = gpu();
    let a = g.zeros(&[1; 7]).unwrap();
    let r = g.encode(eltwise::binary(
        g.target(),
        BinaryOp::Add,
        Activation::Identity,
        (a.binding(), &[1; 7]),
        (a.binding(), &[1; 7]),
        a.binding(),
    ));
    assert!(r.is_err());
}

fn shape_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    // Draw an output shape, then make each operand drop leading dims and set some dims to 1.
    (1usize..=5)
        .prop_flat_map(|r| {
            (
                prop::collection::vec(1usize..=6, r),
                prop::collection::vec(any::<u8>(), r),
                0..r,
                0..r,
            )
        })
        .prop_map(|(shape, masks, drop_a, drop_b)| {
            let mk = |bit: u8, drop: usize| -> Vec<usize> {
                shape
                    .iter()
                    .zip(&masks)
                    .skip(drop)
                    .map(|(&d, &m)| if m & bit != 0 { 1 } else { d })
                    .collect()
            };
            (mk(1, drop_a), mk(2, drop_b))
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_broadcasts((sa, sb) in shape_pair(), op_i in 0usize..4, act_i in 0usize..11, seed in 0u64..1000) {
        let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div][op_i];
        binary_case(op, Activation::all()[act_i], &sa, &sb, seed);
    }
}
