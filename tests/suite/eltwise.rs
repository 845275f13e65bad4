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
    // Keep divisors away from zero so Div compares values, not infinities, and exponents
    // small enough that Pow's results stay finite (negative bases give NaN, which must match).
    let b = match op {
        BinaryOp::Div => Tensor::random_range(sb.to_vec(), seed + 1, 0.5, 4.0),
        BinaryOp::Pow => Tensor::random_range(sb.to_vec(), seed + 1, -3.0, 3.0),
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
    // Pow with a per-channel exponent, Max and Min against a broadcast row.
    binary_case(
        BinaryOp::Pow,
        Activation::Identity,
        &[2, 3, 4, 4],
        &[3, 1, 1],
        15,
    );
    binary_case(BinaryOp::Max, Activation::Relu, &[4, 6], &[6], 16);
    binary_case(BinaryOp::Min, Activation::Identity, &[4, 1], &[1, 5], 17);
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
    fn random_broadcasts((sa, sb) in shape_pair(), op_i in 0usize..BinaryOp::ALL.len(), act_i in 0usize..64, seed in 0u64..1000) {
        let op = BinaryOp::ALL[op_i];
        // Pow's f32 result differs from the f64 one by a few ulps, which a step activation
        // (Floor, Sign, ...) right at its step would turn into a whole unit.
        let acts = if op == BinaryOp::Pow { Activation::well_conditioned() } else { Activation::all() };
        binary_case(op, acts[act_i % acts.len()], &sa, &sb, seed);
    }
}

/// Runs `act` on the GPU over `values`.
fn unary_on(act: Activation, values: &[f32]) -> Tensor {
    let x = Tensor::new(vec![values.len()], values.to_vec()).unwrap();
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
    run(&d, &out)
}

/// Runs `op` on the GPU over two equally long vectors.
fn binary_on(op: BinaryOp, a: &[f32], b: &[f32]) -> Tensor {
    let (ta, tb) = (
        Tensor::new(vec![a.len()], a.to_vec()).unwrap(),
        Tensor::new(vec![b.len()], b.to_vec()).unwrap(),
    );
    let g = gpu();
    let bufs = upload_all(&[&ta, &tb]);
    let out = g.zeros(&[a.len()]).unwrap();
    let d = g
        .encode(eltwise::binary(
            g.target(),
            op,
            Activation::Identity,
            (bufs[0].binding(), &[a.len()]),
            (bufs[1].binding(), &[b.len()]),
            out.binding(),
        ))
        .unwrap();
    run(&d, &out)
}

/// Both the GPU and the reference give `want` exactly (NaN for NaN, either zero for zero).
fn assert_exactly(what: &str, got: &Tensor, reference: &Tensor, want: &[f32]) {
    for (name, t) in [("gpu", got), ("reference", reference)] {
        for (i, (&g, &w)) in t.data().iter().zip(want).enumerate() {
            let ok = if w.is_nan() { g.is_nan() } else { g == w };
            assert!(ok, "{what} ({name}) [{i}]: got {g}, want {w}");
        }
    }
}

/// The semantics the random inputs rarely hit: halves, zeros, domain edges.
#[test]
fn pinned_unary_edge_cases() {
    let nan = f32::NAN;
    let inf = f32::INFINITY;
    let cases: [(Activation, &[f32], &[f32]); 9] = [
        // Round half to even (ONNX Round, torch.round), also just below a half.
        (
            Activation::Round,
            &[0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 3.7],
            &[0.0, 2.0, 2.0, 0.0, -2.0, -2.0, 0.0, 4.0],
        ),
        (
            Activation::Sign,
            &[0.0, -0.0, 3.0, -2.0, 1e-30],
            &[0.0, 0.0, 1.0, -1.0, 1.0],
        ),
        (
            Activation::Log,
            &[-1.0, 0.0, 1.0, -inf],
            &[nan, -inf, 0.0, nan],
        ),
        (
            Activation::Sqrt,
            &[-4.0, 0.0, 4.0, -inf],
            &[nan, 0.0, 2.0, nan],
        ),
        (
            Activation::Reciprocal,
            &[0.0, 4.0, -0.5],
            &[inf, 0.25, -2.0],
        ),
        (Activation::Floor, &[-0.5, 2.0, 2.9], &[-1.0, 2.0, 2.0]),
        (Activation::Ceil, &[-0.5, 2.0, 2.1], &[0.0, 2.0, 3.0]),
        (Activation::Trunc, &[-2.7, -0.5, 2.9], &[-2.0, 0.0, 2.0]),
        (
            Activation::ThresholdedRelu { alpha: 1.0 },
            &[1.0, 1.5, -2.0],
            &[0.0, 1.5, 0.0],
        ),
    ];
    for (act, x, want) in cases {
        let reference =
            reference::eltwise::unary(act, &Tensor::new(vec![x.len()], x.to_vec()).unwrap());
        assert_exactly(act.name(), &unary_on(act, x), &reference, want);
    }
}

/// erf to 1e-6 relative from 0 to its saturation (the shader's approximation claims 4e-7):
/// tiny arguments keep their precision (no 1 - erfc cancellation), large ones reach +-1.
#[test]
fn erf_is_accurate_at_zero_tiny_and_large_arguments() {
    let x = [
        0.0, 1e-7, -1e-7, 1e-3, 0.25, 0.5, 0.9999, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -6.0, 10.0, 1e30,
    ];
    let got = unary_on(Activation::Erf, &x);
    let want = reference::eltwise::unary(
        Activation::Erf,
        &Tensor::new(vec![x.len()], x.to_vec()).unwrap(),
    );
    assert_close(
        "erf",
        &got,
        &want,
        Tolerance {
            atol: 0.0,
            rtol: 1e-6,
        },
    );
    assert_eq!(got.data()[0], 0.0);
    assert_eq!(got.data()[13], -1.0);
}

/// Pow's numpy semantics (negative bases with integral exponents, zero bases, NaN
/// otherwise; integral powers exact: 3^6 is 729, not exp2's 729.0002) and Max / Min
/// propagating NaN from either side.
#[test]
fn pinned_binary_edge_cases() {
    let nan = f32::NAN;
    let inf = f32::INFINITY;
    let (a, b, want): (&[f32], &[f32], &[f32]) = (
        &[
            -2.0, -2.0, -2.0, -3.0, 4.0, 0.0, 0.0, -8.0, 5.0, nan, 3.0, -3.0, 7.0, 2.0, 2.0,
        ],
        &[
            2.0,
            3.0,
            -1.0,
            0.5,
            0.5,
            2.0,
            -1.0,
            1.0 / 3.0,
            0.0,
            0.0,
            6.0,
            7.0,
            8.0,
            -3.0,
            -20.0,
        ],
        &[
            4.0,
            -8.0,
            -0.5,
            nan,
            2.0,
            0.0,
            inf,
            nan,
            1.0,
            1.0,
            729.0,
            -2187.0,
            5764801.0,
            0.125,
            9.536_743e-7,
        ],
    );
    let reference = |op, a: &[f32], b: &[f32]| {
        let t = |v: &[f32]| Tensor::new(vec![v.len()], v.to_vec()).unwrap();
        reference::eltwise::binary(op, Activation::Identity, &t(a), &t(b)).unwrap()
    };
    assert_exactly(
        "pow",
        &binary_on(BinaryOp::Pow, a, b),
        &reference(BinaryOp::Pow, a, b),
        want,
    );
    let (a, b): (&[f32], &[f32]) = (&[nan, 1.0, 2.0, -inf], &[1.0, nan, 3.0, 0.0]);
    for (op, want) in [
        (BinaryOp::Max, [nan, nan, 3.0, 0.0]),
        (BinaryOp::Min, [nan, nan, 2.0, -inf]),
    ] {
        assert_exactly(op.name(), &binary_on(op, a, b), &reference(op, a, b), &want);
    }
}

/// Comparisons give the engine's bool (1 / 0), NaN comparing false (unequal to itself), -0
/// equal to 0; Not is 1 exactly where its operand is 0 (b unread).
#[test]
fn comparisons_and_not_give_zero_or_one() {
    let nan = f32::NAN;
    let inf = f32::INFINITY;
    let a: &[f32] = &[1.0, 2.0, 3.0, nan, nan, -0.0, -inf, 0.5];
    let b: &[f32] = &[2.0, 2.0, 2.0, 1.0, nan, 0.0, -inf, 1.0];
    let reference = |op, a: &[f32], b: &[f32]| {
        let t = |v: &[f32]| Tensor::new(vec![v.len()], v.to_vec()).unwrap();
        reference::eltwise::binary(op, Activation::Identity, &t(a), &t(b)).unwrap()
    };
    for (op, want) in [
        (BinaryOp::Equal, [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0]),
        (BinaryOp::Less, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]),
        (BinaryOp::Greater, [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        (
            BinaryOp::LessOrEqual,
            [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
        ),
        (
            BinaryOp::GreaterOrEqual,
            [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0],
        ),
        (BinaryOp::Not, [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]),
    ] {
        assert_exactly(op.name(), &binary_on(op, a, b), &reference(op, a, b), &want);
    }
}

/// Where against the reference over broadcasts of all three operands (condition 0 / 1, with
/// NaN and -0 conditions: non-zero, NaN included, picks x).
#[test]
fn where_selects_with_broadcasting() {
    let g = gpu();
    let cases: [(&[usize], &[usize], &[usize]); 4] = [
        (&[2, 3, 4], &[2, 3, 4], &[2, 3, 4]),
        (&[3, 1], &[1, 4], &[3, 4]),
        (&[4], &[2, 3, 1], &[1]),
        (&[1, 1, 5, 1, 2, 1], &[2, 1, 1, 3, 1, 1], &[7]),
    ];
    for (i, (sc, sx, sy)) in cases.into_iter().enumerate() {
        let mut c = Tensor::random(sc.to_vec(), i as u64);
        for v in c.data_mut() {
            *v = (*v > 0.0) as i32 as f32;
        }
        c.data_mut()[0] = f32::NAN;
        if c.numel() > 1 {
            c.data_mut()[1] = -0.0;
        }
        let x = Tensor::random(sx.to_vec(), 10 + i as u64);
        let y = Tensor::random(sy.to_vec(), 20 + i as u64);
        let want = reference::eltwise::where_select(&c, &x, &y).unwrap();
        let bufs = upload_all(&[&c, &x, &y]);
        let out = g.zeros(want.shape()).unwrap();
        let d = g
            .encode(eltwise::where_select(
                g.target(),
                (bufs[0].binding(), sc),
                (bufs[1].binding(), sx),
                (bufs[2].binding(), sy),
                out.binding(),
            ))
            .unwrap();
        let got = run(&d, &out);
        assert_eq!(got.shape(), want.shape());
        assert_eq!(got.data(), want.data(), "where {sc:?} {sx:?} {sy:?}");
    }
    // NaN condition picks x; -0 picks y.
    let t = |v: &[f32]| Tensor::new(vec![v.len()], v.to_vec()).unwrap();
    let r = reference::eltwise::where_select(
        &t(&[f32::NAN, -0.0, 1.0]),
        &t(&[1.0, 2.0, 3.0]),
        &t(&[4.0, 5.0, 6.0]),
    )
    .unwrap();
    assert_eq!(r.data(), [1.0, 5.0, 3.0]);
    // Shapes that do not broadcast, and rank above 6.
    let b = g.zeros(&[64]).unwrap();
    let w = |s: &[usize]| {
        eltwise::where_select(
            g.target(),
            (b.binding(), s),
            (b.binding(), &[3]),
            (b.binding(), &[3]),
            b.binding(),
        )
    };
    assert!(w(&[4]).is_err());
    assert!(w(&[1, 1, 1, 1, 1, 1, 3]).is_err());
}
