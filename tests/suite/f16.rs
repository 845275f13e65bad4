//! The shader-f16 path: every kernel family in `Precision::F16` (f16 storage and accumulation)
//! and `Precision::F16AccF32` (f16 storage, f32 accumulation) against the CPU reference run on
//! the f16-rounded operands, under the bound of `compare::F16Tolerance` (derived in its doc
//! comment); whole networks in f16 against the f64 reference; refusal on a device without
//! `SHADER_F16`; NaN and infinity in f16.

use proptest::prelude::*;
use wgconv::compare::{F16Tolerance, Tolerance, compare, compare_f16};
use wgconv::device::Dispatch;
use wgconv::kernels::algorithm::{self, ConvAlgorithm};
use wgconv::kernels::channel_affine::{AffineBindings, channel_affine};
use wgconv::kernels::conv::ConvTiling;
use wgconv::kernels::matmul::GemmTiling;
use wgconv::kernels::se_gate::{SeGateBindings, se_gate};
use wgconv::kernels::{
    ConvBindings, conv, conv_transpose, depthwise, eltwise, matmul, pad, pool, rearrange, resize,
    softmax, winograd,
};
use wgconv::ops::{
    Activation, BinaryOp, ChannelOrder, ConvSpec, ConvTransposeSpec, CoordinateMode, Epilogue,
    NearestMode, PixelShuffle, PoolKind, PoolSpec, ResizeMode, ResizeSpec,
};
use wgconv::reference;
use wgconv::session::{Session, SessionOptions};
use wgconv::tensor::Tensor;
use wgconv::{Error, Gpu, GpuOptions, GpuTensor, Precision, Result, zoo};

use crate::common::gpu;
use crate::conv::conv_problem;
use wgconv::problem::{ConvData, ConvKernel, ConvProblem};

/// Both f16 precisions.
const HALF: [Precision; 2] = [Precision::F16, Precision::F16AccF32];

/// Lipschitz constant of the steepest supported activation (HardSwish's ramp, (2x + 3) / 6 at
/// x = 3); every other one is at most 1.13 (GELU).
const SLOPE: f64 = 1.5;

/// The test device in `p` (lavapipe offers shader-f16; CI must run this path).
fn hgpu(p: Precision) -> Gpu {
    gpu()
        .with_precision(p)
        .unwrap_or_else(|e| panic!("the test adapter must support {p}: {e}"))
}

/// `t` rounded to f16, as the device stores it.
fn r16(t: &Tensor) -> Tensor {
    map(t, |x| Precision::F16.round(x))
}

fn abs(t: &Tensor) -> Tensor {
    map(t, f32::abs)
}

fn map(t: &Tensor, f: impl Fn(f32) -> f32) -> Tensor {
    Tensor::new(t.shape().to_vec(), t.data().iter().map(|&x| f(x)).collect()).unwrap()
}

fn up(g: &Gpu, ts: &[&Tensor]) -> Vec<GpuTensor> {
    ts.iter().map(|t| g.upload(t).expect("upload")).collect()
}

fn run(g: &Gpu, d: Result<Dispatch>, out: &GpuTensor) -> Tensor {
    g.submit(&[&d.expect("dispatch")]).expect("submit");
    g.download(out).expect("download")
}

/// Asserts the device result is within `tol` of the reference on rounded operands.
fn check(what: &str, got: &Tensor, want: &Tensor, abs_sums: &Tensor, tol: F16Tolerance) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let c = compare_f16(got.data(), want.data(), abs_sums.data(), tol);
    assert!(c.passed(), "{what}: {c} ({tol:?})");
}

/// Runs a convolution-like kernel (conv, depthwise, pointwise) on `pr` in `p` and checks it.
fn check_conv_like(pr: &ConvProblem, p: Precision, kernel: impl ConvKernel) {
    let g = hgpu(p);
    let d = pr.data().unwrap().map(r16);
    let got = pr
        .launch_with(&g, &d, kernel)
        .expect("dispatch")
        .run(&g)
        .expect("run");
    let tol = F16Tolerance::new(pr.k(), p).slope(SLOPE);
    check(
        &format!("{p} {pr:?}"),
        &got,
        &pr.reference_on(&d).unwrap(),
        &abs_sums(pr, &d),
        tol,
    );
}

/// The reference on absolute values without activation: each output's sum of absolute terms.
fn abs_sums(pr: &ConvProblem, d: &ConvData) -> Tensor {
    let mut q = pr.clone();
    q.act = Activation::Identity;
    q.reference_on(&d.map(abs)).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn depthwise_problem(
    n: usize,
    c: usize,
    mult: usize,
    hw: [usize; 2],
    k: [usize; 2],
    stride: usize,
    pad: usize,
    dil: usize,
) -> ConvProblem {
    let spec = ConvSpec {
        kernel: k.to_vec(),
        stride: vec![stride; 2],
        pad_begin: vec![pad; 2],
        pad_end: vec![pad; 2],
        dilation: vec![dil; 2],
        groups: c,
    };
    ConvProblem::new(spec, &[n, c, hw[0], hw[1]], c * mult)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// The general implicit-GEMM conv: ranks 1-3, groups, stride, padding, dilation, every
    /// activation, bias and residual.
    #[test]
    fn conv_matches_reference(pr in conv_problem()) {
        for p in HALF {
            check_conv_like(&pr, p, |t, s, i, w, e, b| conv::conv(t, s, i, w, e, b));
        }
    }

    /// Depthwise: odd maps, multiplier 1-3, stride/padding/dilation 1-3.
    #[test]
    fn depthwise_matches_reference(
        n in 1usize..=2, c in 1usize..=5, mult in 1usize..=3, h in 1usize..=13, w in 1usize..=13,
        kk in 1usize..=5, stride in 1usize..=3, pad in 0usize..=3, dil in 1usize..=2,
        act in 0usize..11, bias: bool, seed in 0u64..1000,
    ) {
        let span = (kk - 1) * dil + 1;
        prop_assume!(h + 2 * pad >= span && w + 2 * pad >= span);
        let mut pr = depthwise_problem(n, c, mult, [h, w], [kk, kk], stride, pad, dil)
            .bias(bias)
            .act(Activation::all()[act]);
        // The problem's base seed; 4 tensors per problem.
        pr.seed = seed * 4;
        for p in HALF {
            check_conv_like(&pr, p, |t, s, i, w, e, b| depthwise::depthwise(t, s, i, w, e, b));
        }
    }
}

/// Pinned convolution-like cases: what each guards is in its comment.
#[test]
fn conv_like_pinned() {
    for p in HALF {
        // 3x3 conv, 37 channels (K = 333 not a multiple of TK, M past a 64-row tile), residual.
        let pr = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[2, 37, 9, 11], 70)
            .residual(true)
            .act(Activation::Relu);
        check_conv_like(&pr, p, |t, s, i, w, e, b| conv::conv(t, s, i, w, e, b));
        // 1x1 conv through the GEMM (pointwise), grouped, odd pixel count.
        let mut spec = ConvSpec::conv2d(1, 1);
        spec.groups = 3;
        let pr = ConvProblem::new(spec, &[1, 9, 5, 7], 12).act(Activation::HardSwish);
        check_conv_like(&pr, p, |t, s, i, w, e, b| {
            matmul::pointwise(t, s, i, w, e, b)
        });
        // Depthwise 3x3 stride 2 (MobileNet), a patch that is not staged (large map).
        let pr = depthwise_problem(1, 4, 1, [67, 67], [3, 3], 2, 1, 1).act(Activation::Relu6);
        check_conv_like(&pr, p, |t, s, i, w, e, b| {
            depthwise::depthwise(t, s, i, w, e, b)
        });
    }
}

/// Transposed convolution with stride, padding, output padding, groups and bias.
#[test]
fn conv_transpose_matches_reference() {
    let cases = [
        // (input, out channels, groups, kernel, stride, pad, output_padding, dilation)
        ([1, 3, 5, 7], 4, 1, 3, 2, 1, 1, 1),
        ([2, 4, 3, 4], 6, 2, 4, 2, 1, 0, 1),
        ([1, 5, 4, 3], 3, 1, 2, 3, 0, 2, 2),
    ];
    for (i, &(input, o, groups, k, s, pd, op, dil)) in cases.iter().enumerate() {
        let conv = ConvSpec {
            kernel: vec![k; 2],
            stride: vec![s; 2],
            pad_begin: vec![pd; 2],
            pad_end: vec![pd; 2],
            dilation: vec![dil; 2],
            groups,
        };
        let spec = ConvTransposeSpec::new(conv).output_padding(&[op, op]);
        let x = r16(&Tensor::random(input.to_vec(), 10 + i as u64));
        let w = r16(&Tensor::random(
            vec![input[1], o / groups, k, k],
            20 + i as u64,
        ));
        let b = r16(&Tensor::random(vec![o], 30 + i as u64));
        let want = reference::conv_transpose::conv_transpose(&spec, &x, &w, Some(&b)).unwrap();
        let sums =
            reference::conv_transpose::conv_transpose(&spec, &abs(&x), &abs(&w), Some(&abs(&b)))
                .unwrap();
        for p in HALF {
            let g = hgpu(p);
            let bufs = up(&g, &[&x, &w, &b]);
            let out = g.zeros(want.shape()).unwrap();
            let d = g.encode(conv_transpose::conv_transpose(
                g.target(),
                &spec,
                x.shape(),
                w.shape(),
                Epilogue::default(),
                ConvBindings {
                    input: bufs[0].binding(),
                    weight: bufs[1].binding(),
                    bias: Some(bufs[2].binding()),
                    residual: None,
                    output: out.binding(),
                },
            ));
            let got = run(&g, d, &out);
            // Each output sums at most (C / g) * k * k products.
            let tol = F16Tolerance::new(input[1] / groups * k * k, p);
            check(
                &format!("{p} conv_transpose case {i}"),
                &got,
                &want,
                &sums,
                tol,
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Batched MatMul and Linear (bias per output column) with odd sizes.
    #[test]
    fn gemm_matches_reference(
        batch in 1usize..=3, m in 1usize..=70, k in 1usize..=90, n in 1usize..=70,
        seed in 0u64..1000,
    ) {
        let a = r16(&Tensor::random(vec![batch, m, k], seed));
        let b = r16(&Tensor::random(vec![batch, k, n], seed + 1));
        let want = reference::matmul::matmul(&a, &b).unwrap();
        let sums = reference::matmul::matmul(&abs(&a), &abs(&b)).unwrap();
        let w = r16(&Tensor::random(vec![n, k], seed + 2));
        let bias = r16(&Tensor::random(vec![n], seed + 3));
        let x = r16(&Tensor::random(vec![m, k], seed + 4));
        let lin = reference::matmul::linear(&x, &w, Some(&bias)).unwrap();
        let lin_sums = reference::matmul::linear(&abs(&x), &abs(&w), Some(&abs(&bias))).unwrap();
        for p in HALF {
            let g = hgpu(p);
            let bufs = up(&g, &[&a, &b, &x, &w, &bias]);
            let out = g.zeros(want.shape()).unwrap();
            let d = g.encode(matmul::matmul(g.target(), a.shape(), b.shape(), bufs[0].binding(), bufs[1].binding(), out.binding(),
            ));
            let got = run(&g, d, &out);
            check(&format!("{p} matmul {a:?}"), &got, &want, &sums, F16Tolerance::new(k, p));
            let out = g.zeros(lin.shape()).unwrap();
            let d = g.encode(matmul::linear(g.target(), x.shape(), w.shape(), Activation::Identity, bufs[2].binding(),
                bufs[3].binding(), Some(bufs[4].binding()), out.binding(),
            ));
            let got = run(&g, d, &out);
            check(&format!("{p} linear {m}x{k}x{n}"), &got, &lin, &lin_sums, F16Tolerance::new(k, p));
        }
    }
}

/// Elementwise activations and broadcasting binary ops: computed in f32, so only the output
/// rounding (and f32's) remains.
#[test]
fn eltwise_matches_reference() {
    let a = r16(&Tensor::random_range(vec![2, 3, 5, 7], 1, -4.0, 4.0));
    let b = r16(&Tensor::random_range(vec![1, 3, 1, 7], 2, -4.0, 4.0));
    for p in HALF {
        let g = hgpu(p);
        let bufs = up(&g, &[&a, &b]);
        for act in Activation::all() {
            let out = g.zeros(a.shape()).unwrap();
            let d = g.encode(eltwise::unary(
                g.target(),
                act,
                bufs[0].binding(),
                out.binding(),
                a.numel(),
            ));
            let got = run(&g, d, &out);
            let want = reference::eltwise::unary(act, &a);
            let tol = F16Tolerance::new(1, Precision::F16AccF32).slope(SLOPE);
            check(&format!("{p} {act:?}"), &got, &want, &abs(&a), tol);
        }
        for op in [BinaryOp::Add, BinaryOp::Mul] {
            let out = g.zeros(a.shape()).unwrap();
            let d = g.encode(eltwise::binary(
                g.target(),
                op,
                Activation::Relu,
                (bufs[0].binding(), a.shape()),
                (bufs[1].binding(), b.shape()),
                out.binding(),
            ));
            let got = run(&g, d, &out);
            let want = reference::eltwise::binary(op, Activation::Relu, &a, &b).unwrap();
            let sums =
                reference::eltwise::binary(op, Activation::Identity, &abs(&a), &abs(&b)).unwrap();
            let tol = F16Tolerance::new(2, Precision::F16AccF32);
            check(&format!("{p} {op:?}"), &got, &want, &sums, tol);
        }
    }
}

/// Window pooling (max: exact; average: an f32 sum of the window), global pooling (f32
/// partials), softmax (f32), per-channel affine (f32).
#[test]
fn reductions_and_affine_match_reference() {
    let x = r16(&Tensor::random(vec![2, 3, 11, 9], 5));
    for p in HALF {
        let g = hgpu(p);
        let bx = g.upload(&x).unwrap();
        for kind in [PoolKind::Max, PoolKind::Avg] {
            let spec = PoolSpec {
                kind,
                kernel: [3, 2],
                stride: [2, 2],
                pad_begin: [1, 0],
                pad_end: [1, 1],
                dilation: [1, 1],
                ceil_mode: true,
                count_include_pad: false,
            };
            let want = reference::pool::pool(&spec, &x).unwrap();
            let out = g.zeros(want.shape()).unwrap();
            let got = run(
                &g,
                g.encode(pool::pool(
                    g.target(),
                    &spec,
                    x.shape(),
                    bx.binding(),
                    out.binding(),
                )),
                &out,
            );
            let (tol, sums) = match kind {
                PoolKind::Max => (F16Tolerance::exact(), want.clone()),
                PoolKind::Avg => (
                    F16Tolerance::new(6, Precision::F16AccF32),
                    reference::pool::pool(&spec, &abs(&x)).unwrap(),
                ),
            };
            check(&format!("{p} pool {kind:?}"), &got, &want, &sums, tol);

            let want = reference::pool::global_pool(kind, &x).unwrap();
            let out = g.zeros(want.shape()).unwrap();
            let d = g.encode(pool::global_pool(
                g.target(),
                kind,
                x.shape(),
                bx.binding(),
                out.binding(),
            ));
            let got = run(&g, d, &out);
            let (tol, sums) = match kind {
                PoolKind::Max => (F16Tolerance::exact(), want.clone()),
                PoolKind::Avg => (
                    F16Tolerance::new(99, Precision::F16AccF32),
                    reference::pool::global_pool(kind, &abs(&x)).unwrap(),
                ),
            };
            check(
                &format!("{p} global pool {kind:?}"),
                &got,
                &want,
                &sums,
                tol,
            );
        }
        for axis in [1, 3] {
            let want = reference::softmax::softmax(axis, &x).unwrap();
            let out = g.zeros(x.shape()).unwrap();
            let d = g.encode(softmax::softmax(
                g.target(),
                axis,
                x.shape(),
                bx.binding(),
                out.binding(),
            ));
            let got = run(&g, d, &out);
            let tol = F16Tolerance::new(x.shape()[axis], Precision::F16AccF32);
            check(&format!("{p} softmax {axis}"), &got, &want, &want, tol);
        }
        let scale = r16(&Tensor::random(vec![3], 6));
        let shift = r16(&Tensor::random(vec![3], 7));
        let res = r16(&Tensor::random(x.shape().to_vec(), 8));
        let f64s = |t: &Tensor| t.data().iter().map(|&v| v as f64).collect::<Vec<_>>();
        let want = reference::channel_affine::channel_affine(
            &x,
            &f64s(&scale),
            &f64s(&shift),
            Some(&res),
            Activation::Silu,
        )
        .unwrap();
        let sums = reference::channel_affine::channel_affine(
            &abs(&x),
            &f64s(&abs(&scale)),
            &f64s(&abs(&shift)),
            Some(&abs(&res)),
            Activation::Identity,
        )
        .unwrap();
        let bufs = up(&g, &[&scale, &shift, &res]);
        let out = g.zeros(x.shape()).unwrap();
        let d = g.encode(channel_affine(
            g.target(),
            x.shape(),
            Activation::Silu,
            AffineBindings {
                input: bx.binding(),
                scale: bufs[0].binding(),
                shift: bufs[1].binding(),
                residual: Some(bufs[2].binding()),
                output: out.binding(),
            },
        ));
        let got = run(&g, d, &out);
        let tol = F16Tolerance::new(3, Precision::F16AccF32).slope(SLOPE);
        check(&format!("{p} channel affine"), &got, &want, &sums, tol);
    }
}

/// SE's excitation MLP on pooled features. Bound, first order, per gate g = sigmoid(z):
/// layer 1's hidden unit h_j = relu(sum_c w1 p + b1) errs by
/// dh_j = gamma_{C+2} (sum_c |w1 p| + |b1|) and is stored in the accumulator type (u_a |h_j|);
/// z errs by gamma_{R+2} (sum_j |w2 h| + |b2|) + sum_j |w2| dh_j; sigmoid's slope is 1/4; then
/// the output rounding of `F16Tolerance`.
#[test]
fn se_gate_matches_reference() {
    let (n, c, r) = (2, 37, 5);
    let x = r16(&Tensor::random(vec![n, c], 11));
    let w1 = r16(&Tensor::random(vec![r, c], 12));
    let b1 = r16(&Tensor::random(vec![r], 13));
    let w2 = r16(&Tensor::random(vec![c, r], 14));
    let b2 = r16(&Tensor::random(vec![c], 15));
    let want = reference::se_gate::se_gate(&x, &w1, &b1, Activation::Relu, &w2, &b2).unwrap();
    for p in HALF {
        let ua = p.acc_roundoff();
        let gamma = |m: usize| (m + 2) as f64 * ua / (1.0 - (m + 2) as f64 * ua);
        let mut bound = Vec::new();
        for s in 0..n {
            let xs = &x.data()[s * c..(s + 1) * c];
            let mut h = vec![0.0f64; r];
            let mut dh = vec![0.0f64; r];
            for j in 0..r {
                let row = &w1.data()[j * c..(j + 1) * c];
                let z: f64 = row
                    .iter()
                    .zip(xs)
                    .map(|(&a, &b)| a as f64 * b as f64)
                    .sum::<f64>()
                    + b1.data()[j] as f64;
                let a: f64 = row
                    .iter()
                    .zip(xs)
                    .map(|(&a, &b)| (a as f64 * b as f64).abs())
                    .sum::<f64>()
                    + (b1.data()[j] as f64).abs();
                h[j] = z.max(0.0);
                dh[j] = gamma(c) * a + ua * h[j];
            }
            for o in 0..c {
                let row = &w2.data()[o * r..(o + 1) * r];
                let a: f64 = row
                    .iter()
                    .zip(&h)
                    .map(|(&w, &v)| (w as f64 * v).abs())
                    .sum::<f64>()
                    + (b2.data()[o] as f64).abs();
                let prop: f64 = row
                    .iter()
                    .zip(&dh)
                    .map(|(&w, &d)| (w as f64).abs() * d)
                    .sum();
                bound.push((0.25 * (gamma(r) * a + prop)) as f32);
            }
        }
        let g = hgpu(p);
        let bufs = up(&g, &[&x, &w1, &b1, &w2, &b2]);
        let out = g.zeros(&[n, c]).unwrap();
        let d = g.encode(se_gate(
            g.target(),
            n,
            c,
            r,
            None,
            Activation::Relu,
            SeGateBindings {
                input: bufs[0].binding(),
                w1: bufs[1].binding(),
                b1: bufs[2].binding(),
                w2: bufs[3].binding(),
                b2: bufs[4].binding(),
                gate: out.binding(),
            },
        ));
        let got = run(&g, d, &out);
        // The propagated bound enters as `abs_sums` of a unit-slope, f32-accumulated sum of
        // one term: F16Tolerance then adds exactly the output rounding on top of it.
        let tol = F16Tolerance {
            k: 1,
            acc_roundoff: 1.0 / 3.0, // gamma_3 = 1: the bound passes through unchanged
            slope: 1.0,
        };
        let sums = Tensor::new(vec![n, c], bound).unwrap();
        let want = want.clone().reshape(vec![n, c]).unwrap();
        check(&format!("{p} se_gate"), &got, &want, &sums, tol);
    }
}

/// Data movement in f16 is bit-exact: transpose, pixel shuffle, concat, constant pad, nearest
/// resize; bilinear resize interpolates in f32 (the lookup table stays f32).
#[test]
fn data_movement_and_resize() {
    let x = r16(&Tensor::random(vec![1, 8, 5, 3], 21));
    for p in HALF {
        let g = hgpu(p);
        let bx = g.upload(&x).unwrap();
        let exact = F16Tolerance::exact();
        let perm = [0, 2, 3, 1];
        let want = reference::rearrange::transpose(&perm, &x).unwrap();
        let out = g.zeros(want.shape()).unwrap();
        let d = g.encode(rearrange::transpose(
            g.target(),
            &perm,
            x.shape(),
            bx.binding(),
            out.binding(),
        ));
        check(
            &format!("{p} transpose"),
            &run(&g, d, &out),
            &want,
            &want,
            exact,
        );

        let ps = PixelShuffle {
            factor: 2,
            order: ChannelOrder::Crd,
        };
        let want = reference::rearrange::pixel_shuffle(&ps, &x).unwrap();
        let out = g.zeros(want.shape()).unwrap();
        let d = g.encode(rearrange::pixel_shuffle(
            g.target(),
            &ps,
            x.shape(),
            bx.binding(),
            out.binding(),
        ));
        check(
            &format!("{p} pixel shuffle"),
            &run(&g, d, &out),
            &want,
            &want,
            exact,
        );

        let want = reference::rearrange::concat(1, &[&x, &x]).unwrap();
        let out = g.zeros(want.shape()).unwrap();
        for (i, off) in [0, 8].into_iter().enumerate() {
            let d = g.encode(rearrange::copy_into(
                g.target(),
                1,
                x.shape(),
                want.shape(),
                off,
                bx.binding(),
                out.binding(),
            ));
            let got = run(&g, d, &out);
            if i == 1 {
                check(&format!("{p} concat"), &got, &want, &want, exact);
            }
        }

        let (begin, end) = ([0, 1, 2, 0], [0, 0, 1, 3]);
        let want = reference::pad::pad(&x, &begin, &end, 0.5).unwrap();
        let out = g.zeros(want.shape()).unwrap();
        let d = g.encode(pad::pad(
            g.target(),
            &begin,
            &end,
            0.5,
            x.shape(),
            bx.binding(),
            out.binding(),
        ));
        check(&format!("{p} pad"), &run(&g, d, &out), &want, &want, exact);

        for mode in [ResizeMode::Nearest, ResizeMode::Linear] {
            let spec = ResizeSpec {
                mode,
                coordinate: CoordinateMode::HalfPixel,
                nearest_mode: NearestMode::RoundPreferFloor,
                out: [9, 7],
                scale: None,
            };
            let want = reference::resize::resize(&spec, &x).unwrap();
            // The table is f32 in every precision: uploaded through an f32 handle.
            let table = gpu()
                .upload(&resize::resize_table(&spec, x.shape()).unwrap())
                .unwrap();
            let out = g.zeros(want.shape()).unwrap();
            let d = g.encode(resize::resize(
                g.target(),
                &spec,
                x.shape(),
                bx.binding(),
                table.binding(),
                out.binding(),
            ));
            let got = run(&g, d, &out);
            let (tol, sums) = match mode {
                ResizeMode::Nearest => (exact, want.clone()),
                ResizeMode::Linear => (
                    F16Tolerance::new(4, Precision::F16AccF32),
                    reference::resize::resize(&spec, &abs(&x)).unwrap(),
                ),
            };
            check(&format!("{p} resize {mode:?}"), &got, &want, &sums, tol);
        }
    }
}

/// Without SHADER_F16 (wgpu's GL backend never offers it; llvmpipe-GL here) an f16 handle or
/// session is a typed error, not a panic or a shader compile failure.
#[test]
fn f16_refused_without_shader_f16() {
    let gl = Gpu::with_options(&GpuOptions {
        backends: Some(wgpu::Backends::GL),
        ..Default::default()
    })
    .expect("CI has llvmpipe on GL (Mesa): a GL adapter must exist");
    assert!(!gl.has_shader_f16(), "{}", gl.describe());
    assert!(gl.supports(Precision::F32) && !gl.supports(Precision::F16));
    for p in HALF {
        match gl.with_precision(p) {
            Err(Error::MissingFeature { feature, .. }) => assert_eq!(feature, "shader-f16"),
            other => panic!("{p} on GL: expected MissingFeature, got {other:?}"),
        }
        let g = zoo::cifar10_net(&[1, 3, 32, 32]).unwrap();
        let opts = SessionOptions {
            precision: Some(p),
            ..Default::default()
        };
        match Session::with_options(&gl, &g, opts) {
            Err(Error::MissingFeature { .. }) => {}
            other => panic!(
                "{p} session on GL: expected MissingFeature, got {:?}",
                other.err()
            ),
        }
    }
    // And the f16 device says yes.
    assert!(
        gpu().has_shader_f16(),
        "the test adapter must offer shader-f16"
    );
}

/// NaN propagates through f16 storage; finite values beyond f16's range (65504) become
/// infinities, on upload (the host rounds to nearest) and in the kernels (WGSL converts values
/// of magnitude >= 2^16 to infinity). f16 accumulation also overflows on an intermediate sum
/// beyond 65504 even when the final value would fit; f32 accumulation does not.
#[test]
fn nan_and_inf_in_f16() {
    let big = Tensor::new(
        vec![1, 6, 1, 1],
        vec![f32::NAN, 1.0e5, -1.0e5, 7.0e4, 65504.0, 1.0],
    )
    .unwrap();
    for p in HALF {
        let g = hgpu(p);
        let bx = g.upload(&big).unwrap();
        // Upload rounds: +-1e5 and 7e4 are infinities, 65504 stays.
        let back = g.download(&bx).unwrap();
        assert!(back.data()[0].is_nan());
        assert_eq!(
            &back.data()[1..],
            &[
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::INFINITY,
                65504.0,
                1.0
            ]
        );
        // ReLU keeps NaN (not max(NaN, 0) = 0) and infinities.
        let out = g.zeros(big.shape()).unwrap();
        let d = g.encode(eltwise::unary(
            g.target(),
            Activation::Relu,
            bx.binding(),
            out.binding(),
            6,
        ));
        let got = run(&g, d, &out);
        assert!(got.data()[0].is_nan(), "{p}: relu(NaN)");
        assert_eq!(
            &got.data()[1..],
            &[f32::INFINITY, 0.0, f32::INFINITY, 65504.0, 1.0]
        );
        // In-kernel overflow: 65504 + 65504 in f32 then stored: infinity.
        let out = g.zeros(big.shape()).unwrap();
        let d = g.encode(eltwise::binary(
            g.target(),
            BinaryOp::Add,
            Activation::Identity,
            (bx.binding(), big.shape()),
            (bx.binding(), big.shape()),
            out.binding(),
        ));
        assert_eq!(
            run(&g, d, &out).data()[4],
            f32::INFINITY,
            "{p}: overflow on store"
        );
        // Max pooling propagates NaN.
        let out = g.zeros(&[1, 1]).unwrap();
        let nan_first = Tensor::new(vec![1, 1, 2, 3], big.data().to_vec()).unwrap();
        let bn = g.upload(&nan_first).unwrap();
        let d = g.encode(pool::global_pool(
            g.target(),
            PoolKind::Max,
            nan_first.shape(),
            bn.binding(),
            out.binding(),
        ));
        assert!(run(&g, d, &out).data()[0].is_nan(), "{p}: max pool of NaN");

        // 1x1 conv over 3 channels: 200*200 + 200*200 - 200*200. The f16 accumulator
        // overflows at the second product (80000 > 65504) and stays infinite; f32 gives 40000.
        let x = Tensor::new(vec![1, 3, 1, 1], vec![200.0, 200.0, -200.0]).unwrap();
        let w = Tensor::new(vec![1, 3, 1, 1], vec![200.0; 3]).unwrap();
        let bufs = up(&g, &[&x, &w]);
        let out = g.zeros(&[1, 1, 1, 1]).unwrap();
        let d = g.encode(conv::conv(
            g.target(),
            &ConvSpec::conv2d(1, 1),
            x.shape(),
            w.shape(),
            Epilogue::default(),
            ConvBindings {
                input: bufs[0].binding(),
                weight: bufs[1].binding(),
                bias: None,
                residual: None,
                output: out.binding(),
            },
        ));
        let got = run(&g, d, &out).data()[0];
        match p {
            Precision::F16 => assert_eq!(got, f32::INFINITY, "f16 accumulation overflows"),
            _ => assert_eq!(got, 40000.0, "f32 accumulation holds 80000"),
        }
    }
}

fn rms(t: &Tensor) -> f64 {
    (t.data().iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / t.numel().max(1) as f64).sqrt()
}

/// The tolerance for a whole network in f16, against the f64 reference on the *unrounded*
/// f32 weights and input (end to end, as a user sees it). Model (the f32 one of
/// `graph::cpu::network_tolerance`, made statistical in k): sigma is the largest activation RMS
/// in the network; rounding errors are independent with random signs, so variances add; layers
/// are normalised (He-scaled weights, calibrated BatchNorm), so an error passes through later
/// layers with gain about one. Per layer with k products:
/// - accumulation: the i-th addition errs by at most u_a times the running sum, whose RMS grows
///   like sqrt(i / k) sigma, so the sum's error has variance about u_a^2 sigma^2 k / 2
///   (u_a = 2^-11 for f16 accumulation, 2^-24 for f32);
/// - storage: the operands (each rounded to f16, relative error uniform in [-u, u], u = 2^-11)
///   perturb the sum by about u sigma sqrt(2/3), and the output's rounding by u sigma / sqrt(3):
///   variance about u^2 sigma^2.
///
/// Over the L layers of the longest path the variance is sigma^2 (u_a^2 sum k / 2 + u^2 L), with
/// sum k <= sqrt(L) * sqrt(sum k^2) (Cauchy-Schwarz; `Graph::accumulation_depth_rss` gives
/// sqrt(sum k^2)) and L at most the node count. The tolerance is 3 standard deviations, with a
/// relative u for the output's own rounding.
fn f16_network_tolerance(
    g: &wgconv::graph::Graph,
    values: &[Option<Tensor>],
    p: Precision,
) -> Tolerance {
    let d = g.accumulation_depth_rss().max(1.0);
    let sigma = values
        .iter()
        .flatten()
        .map(rms)
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let u = p.storage_roundoff();
    let ua = p.acc_roundoff();
    let layers = g.nodes().len() as f64;
    let variance = ua * ua * layers.sqrt() * d / 2.0 + u * u * layers;
    Tolerance {
        atol: 3.0 * sigma * variance.sqrt(),
        rtol: u,
    }
}

/// A whole network in f16 and f16-acc32 against the f64 CPU reference; prints the measured
/// errors next to f32's.
fn check_network(name: &str, input: &[usize]) {
    let g = zoo::build(name, input).unwrap();
    let (g, inputs) = crate::graph::initialised(g, 7);
    let values = wgconv::graph::cpu::run_all(&g, &inputs).unwrap();
    let want = values[g.outputs()[0].0].clone().unwrap();
    let scale = want.data().iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    for p in Precision::ALL {
        let opts = SessionOptions {
            precision: Some(p),
            ..Default::default()
        };
        let s = Session::with_options(gpu(), &g, opts).unwrap();
        assert_eq!(s.precision(), p);
        let got = s.run(&inputs).unwrap();
        let tol = match p {
            Precision::F32 => wgconv::graph::cpu::network_tolerance(&g, &values),
            _ => f16_network_tolerance(&g, &values, p),
        };
        let c = compare(got[0].data(), want.data(), tol);
        eprintln!(
            "{name} {input:?} {p}: max abs err {:.3e} ({:.2e} of max |y| = {scale:.3}), atol {:.3e} (sigma {:.3}, sqrt(sum k^2) {:.0}, nodes {}), arena {} bytes",
            c.max_abs,
            c.max_abs / scale,
            tol.atol,
            values.iter().flatten().map(rms).fold(0.0f64, f64::max),
            g.accumulation_depth_rss(),
            g.nodes().len(),
            s.plan().arena_bytes
        );
        assert!(c.passed(), "{name} {p}: {c} ({tol:?})");
    }
}

#[test]
fn resnet18_32px_in_f16() {
    check_network("resnet18", &[1, 3, 32, 32]);
}

#[test]
fn cifar10_net_in_f16() {
    check_network("cifar10_net", &[2, 3, 32, 32]);
}

/// f16 sessions use half the activation and parameter memory of f32 (plus each region's
/// 256-byte alignment).
#[test]
fn f16_session_halves_memory() {
    let g = zoo::cifar10_net(&[1, 3, 32, 32]).unwrap();
    let plan = |p| {
        let s = Session::with_options(
            gpu(),
            &g,
            SessionOptions {
                precision: Some(p),
                ..Default::default()
            },
        )
        .unwrap();
        (s.plan().arena_bytes, s.plan().param_bytes)
    };
    let (a32, p32) = plan(Precision::F32);
    let (a16, p16) = plan(Precision::F16);
    let half = |b16: u64, b32: u64| (b16 as f64) < 0.52 * b32 as f64;
    assert!(
        half(a16, a32) && half(p16, p32),
        "{a32} {p32} vs {a16} {p16}"
    );
}

/// Runs convolution `pr` through `algorithm` (`algorithm::conv_with`, scratch sized by
/// `scratch_bytes` in `p`) and checks it under `tol`.
fn check_algorithm(pr: &ConvProblem, p: Precision, a: &ConvAlgorithm, tol: F16Tolerance) {
    check_algorithm_on(pr, pr.data().unwrap(), p, a, tol);
}

/// [`check_algorithm`] on given data.
fn check_algorithm_on(
    pr: &ConvProblem,
    d: ConvData,
    p: Precision,
    a: &ConvAlgorithm,
    tol: F16Tolerance,
) {
    let g = hgpu(p);
    // Winograd's host transform is computed from the f16 weights in f64 and rounded to f16 on
    // upload, as a session does.
    let d = d.map(r16);
    let got = pr
        .launch(&g, &d, a)
        .expect("dispatches")
        .run(&g)
        .expect("run");
    let want = pr.reference_on(&d).unwrap();
    check(
        &format!("{p} {a:?} {pr:?}"),
        &got,
        &want,
        &abs_sums(pr, &d),
        tol,
    );
}

/// Split-K in both f16 precisions: partial sums are Acc (f16 in F16, f32 in F16AccF32), so the
/// bound is the direct convolution's (each slice accumulates fewer terms than the whole sum;
/// the reduce adds the slices in f32). F16AccF32 in particular must keep f32's sums: f16
/// partials would add 2^-11 * sum |partials|, beyond its bound.
#[test]
fn splitk_in_f16() {
    for p in HALF {
        // Implicit GEMM, K = 72 * 9 = 648 over 5 splits (not a multiple of TK), bias,
        // residual and ReLU in the reduce.
        let pr = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[1, 72, 7, 7], 40)
            .residual(true)
            .act(Activation::Relu);
        let a = ConvAlgorithm::SplitK {
            tiling: ConvTiling::default(),
            splits: 5,
        };
        check_algorithm(&pr, p, &a, F16Tolerance::new(pr.k(), p).slope(SLOPE));
        // Pointwise through the GEMM, K = 300 over 4 splits, odd pixel count (odd f16 scratch).
        let pr = ConvProblem::new(ConvSpec::conv2d(1, 1), &[2, 300, 3, 5], 33)
            .act(Activation::HardSwish);
        let a = ConvAlgorithm::GemmSplitK {
            tiling: GemmTiling::for_problem(33, 15),
            splits: 4,
        };
        check_algorithm(&pr, p, &a, F16Tolerance::new(pr.k(), p).slope(SLOPE));
    }
}

/// Split-K partial sums that cancel: with f16 partials (Elem scratch) F16AccF32 would fail.
/// Channels 0..512 have positive weights, 512..1024 negative ones, all inputs positive, so the
/// two slices' partial sums are about +-29 (f16 spacing 2^-6 there: up to 0.008 of rounding
/// each) while outputs are about 1 and F16AccF32's bound is about 0.006; f32 partials keep
/// the error near f32's.
#[test]
fn splitk_partials_cancel_in_f16_acc32() {
    let p = Precision::F16AccF32;
    let (c, o) = (1024, 32);
    let pr = ConvProblem::new(ConvSpec::conv2d(1, 1), &[1, c, 4, 4], o).bias(false);
    let x = Tensor::random_range(vec![1, c, 4, 4], 5, 0.5, 1.0);
    let mag = Tensor::random_range(vec![o, c, 1, 1], 6, 0.05, 0.1);
    let w = Tensor::new(
        vec![o, c, 1, 1],
        mag.data()
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % c < c / 2 { v } else { -v })
            .collect(),
    )
    .unwrap();
    let data = || ConvData {
        x: x.clone(),
        w: w.clone(),
        bias: None,
        residual: None,
    };
    let tol = F16Tolerance::new(pr.k(), p).slope(SLOPE);
    let a = ConvAlgorithm::GemmSplitK {
        tiling: GemmTiling::for_problem(o, 16),
        splits: 2,
    };
    check_algorithm_on(&pr, data(), p, &a, tol);
    let a = ConvAlgorithm::SplitK {
        tiling: ConvTiling::default(),
        splits: 2,
    };
    check_algorithm_on(&pr, data(), p, &a, tol);
}

/// The split-K scratch holds accumulators: twice the f16 storage size in F16AccF32.
#[test]
fn splitk_scratch_holds_acc() {
    let spec = ConvSpec::conv2d(3, 3).pad(1);
    let a = ConvAlgorithm::SplitK {
        tiling: ConvTiling::default(),
        splits: 3,
    };
    let bytes = |p| algorithm::scratch_bytes(&a, &spec, &[1, 8, 5, 5], &[6, 8, 3, 3], p).unwrap();
    // 3 splits of [1, 6, 5, 5] = 450 partial sums.
    assert_eq!(bytes(Precision::F32), vec![1800]);
    assert_eq!(bytes(Precision::F16AccF32), vec![1800]);
    assert_eq!(bytes(Precision::F16), vec![900]);
    // Winograd's V and M are Elem: [16, 8, 9] and [16, 6, 9] for 9 tiles.
    let w = ConvAlgorithm::Winograd {
        tile: 2,
        gemm: GemmTiling::for_problem(6, 9),
    };
    let wb = |p| algorithm::scratch_bytes(&w, &spec, &[1, 8, 5, 5], &[6, 8, 3, 3], p).unwrap();
    assert_eq!(wb(Precision::F32), vec![16 * 8 * 9 * 4, 16 * 6 * 9 * 4]);
    assert_eq!(wb(Precision::F16), vec![16 * 8 * 9 * 2, 16 * 6 * 9 * 2]);
    assert_eq!(wb(Precision::F16AccF32), wb(Precision::F16));
}

/// Winograd in both f16 precisions, under `winograd::f16_tolerance` (derived there: the
/// transforms' growth factor times three extra f16 roundings and the accumulation's).
#[test]
fn winograd_in_f16() {
    for p in HALF {
        // Batch 2, odd output (partial edge tiles), bias, residual, ReLU.
        let pr = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[2, 24, 9, 11], 20)
            .residual(true)
            .act(Activation::Relu);
        let a = ConvAlgorithm::Winograd {
            tile: 2,
            gemm: GemmTiling::for_problem(20, 2 * 5 * 6),
        };
        check_algorithm(&pr, p, &a, winograd::f16_tolerance(pr.k(), p).slope(SLOPE));
        // Asymmetric padding, one input channel, odd tile count.
        let pr = ConvProblem::new(
            ConvSpec::conv2d(3, 3).pads(&[0, 2], &[1, 0]),
            &[1, 1, 6, 5],
            3,
        );
        let a = ConvAlgorithm::Winograd {
            tile: 2,
            gemm: GemmTiling::for_problem(3, 9),
        };
        check_algorithm(&pr, p, &a, winograd::f16_tolerance(pr.k(), p).slope(SLOPE));
    }
}
