//! The general convolution kernel (1-D, 2-D, 3-D implicit GEMM) against the CPU reference.

use proptest::prelude::*;
use wgconv::Result;
use wgconv::compare::Tolerance;
use wgconv::device::{BufRef, Dispatch};
use wgconv::kernels::ConvBindings;
use wgconv::kernels::conv::{self, ConvTiling};
use wgconv::ops::{Activation, ConvSpec, Epilogue};
use wgconv::problem::{ConvKernel, ConvProblem};
use wgconv::reference;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};

/// The tests' checks on a library [`ConvProblem`] (panicking, against the CPU reference).
pub trait ConvCheck {
    fn tolerance(&self) -> Tolerance;
    /// Runs `kernel` on the GPU.
    fn run_with(&self, kernel: impl ConvKernel) -> Tensor;
    /// Runs `kernel` with the output bound at an offset inside a larger buffer filled with a
    /// sentinel (as a planner's arena slot would be), and checks that nothing outside the
    /// output's range was written and that the output is right.
    fn check_no_stray_writes(&self, kernel: impl ConvKernel);
    fn run_gpu(&self) -> Tensor;
    /// GPU (general kernel) against the reference.
    fn check(&self);
    /// GPU with a forced tiling against the reference.
    fn check_tiling(&self, tiling: ConvTiling);
    fn want(&self) -> Tensor;
}

impl ConvCheck for ConvProblem {
    fn tolerance(&self) -> Tolerance {
        Tolerance::accumulation(self.k())
    }

    fn want(&self) -> Tensor {
        self.reference().expect("reference")
    }

    fn run_with(&self, kernel: impl ConvKernel) -> Tensor {
        let g = gpu();
        let d = self.data().expect("data");
        let run = self.launch_with(g, &d, kernel).expect("dispatch");
        run.run(g).expect("run")
    }

    fn check_no_stray_writes(&self, kernel: impl ConvKernel) {
        const SENTINEL: f32 = 1234.5;
        let g = gpu();
        let bufs = self.upload(g, &self.data().unwrap()).unwrap();
        let out_shape = self.output_shape().unwrap();
        let n = out_shape.iter().product::<usize>();
        let head = g.limits().min_storage_buffer_offset_alignment as usize / 4;
        let tail = 4099;
        let arena = g
            .upload(&Tensor::new(vec![head + n + tail], vec![SENTINEL; head + n + tail]).unwrap())
            .unwrap();
        let output = BufRef {
            buffer: arena.buffer(),
            offset: (head * 4) as u64,
            size: ((n + tail) * 4) as u64,
        };
        let dispatch = g
            .encode(kernel(
                g.target(),
                &self.spec,
                &self.input_shape,
                &self.weight_shape(),
                self.epilogue(),
                bufs.bindings(output),
            ))
            .expect("dispatch");
        let all = run(&dispatch, &arena).into_data();
        let stray = all[..head]
            .iter()
            .chain(&all[head + n..])
            .filter(|&&v| v != SENTINEL)
            .count();
        assert_eq!(stray, 0, "{self:?}: {stray} writes outside the output");
        let got = Tensor::new(out_shape, all[head..head + n].to_vec()).unwrap();
        assert_close(&format!("{self:?}"), &got, &self.want(), self.tolerance());
    }

    fn run_gpu(&self) -> Tensor {
        self.run_with(|t, s, i, w, e, b| conv::conv(t, s, i, w, e, b))
    }

    fn check(&self) {
        assert_close(
            &format!("{self:?}"),
            &self.run_gpu(),
            &self.want(),
            self.tolerance(),
        );
    }

    fn check_tiling(&self, tiling: ConvTiling) {
        let got =
            self.run_with(|t, s, i, w, e, b| conv::conv_tiled(t, s, i, w, e, b, Some(tiling)));
        assert_close(
            &format!("{tiling:?} {self:?}"),
            &got,
            &self.want(),
            self.tolerance(),
        );
    }
}

/// Per spatial dimension: (kernel, stride, dilation, pad_begin, pad_end, input size).
fn dim(kmax: usize, dmax: usize, nmax: usize) -> impl Strategy<Value = [usize; 6]> {
    (
        1..=kmax,
        1usize..=4,
        1..=dmax,
        0usize..=4,
        0usize..=4,
        1..=nmax,
    )
        .prop_map(|(k, s, d, pb, pe, n)| {
            // Grow the input until the dilated kernel fits the padded input.
            let span = d * (k - 1) + 1;
            [k, s, d, pb, pe, n.max(span.saturating_sub(pb + pe)).max(1)]
        })
}

/// Random problems: rank 1-3, odd and ragged sizes, stride up to 4 (often > kernel), padding up
/// to 4 (often >= kernel), dilation 1-4, groups 1-4 over 1-4 channels per group, output channels
/// per group 1-5 or 17-40 (so channel tiles of 16, 32 and 64 all occur), batch 1-3.
pub fn conv_problem() -> impl Strategy<Value = ConvProblem> {
    (1usize..=3)
        .prop_flat_map(|rank| {
            let d = match rank {
                1 => dim(5, 4, 40),
                2 => dim(4, 4, 12),
                _ => dim(3, 2, 6),
            };
            (
                prop::collection::vec(d, rank),
                1usize..=4,
                1usize..=4,
                prop_oneof![1usize..=5, 17usize..=40],
                1usize..=3,
                any::<(bool, bool)>(),
                0usize..11,
                0u64..1_000_000,
            )
        })
        .prop_map(
            |(dims, groups, cg, og, batch, (bias, residual), act, seed)| {
                let col = |i: usize| dims.iter().map(|d| d[i]).collect::<Vec<_>>();
                let spec = ConvSpec {
                    kernel: col(0),
                    stride: col(1),
                    dilation: col(2),
                    pad_begin: col(3),
                    pad_end: col(4),
                    groups,
                };
                let mut input_shape = vec![batch, groups * cg];
                input_shape.extend(col(5));
                ConvProblem {
                    spec,
                    input_shape,
                    out_channels: groups * og,
                    bias,
                    residual,
                    act: Activation::well_conditioned()[act],
                    // The problem's base seed; 4 tensors per problem.
                    seed: seed * 4,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn random_convs(p in conv_problem()) {
        p.check();
    }
}

/// Ragged tiles must not write past the output: with the output inside a larger arena buffer,
/// robust buffer access no longer hides stray tail writes.
#[test]
fn no_writes_outside_output() {
    // M = 70 and N = 3*5*7 = 105 leave partial tiles in both dimensions.
    ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[3, 6, 5, 7], 70)
        .residual(true)
        .check_no_stray_writes(|t, s, i, w, e, b| conv::conv(t, s, i, w, e, b));
    ConvProblem::new(ConvSpec::new(&[3]).stride(2).groups(3), &[2, 3, 9], 3)
        .check_no_stray_writes(|t, s, i, w, e, b| conv::conv(t, s, i, w, e, b));
}

/// K = 3*3*3 = 27: one full K-chunk of 16 and a partial one of 11.
#[test]
fn k_not_multiple_of_chunk() {
    ConvProblem::new(ConvSpec::conv2d(3, 3), &[1, 3, 10, 13], 8).check();
}

/// M = 1: one output channel in a 16-row tile (15 idle rows must not write).
#[test]
fn single_output_channel() {
    ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1), &[2, 5, 7, 9], 1)
        .act(Activation::Sigmoid)
        .check();
}

/// 1x1 outputs: a kernel covering the whole input, and a pointwise conv on a 1x1 map (the
/// squeeze-and-excitation shape), with batch > 1 so pixels of different images share a tile.
#[test]
fn one_by_one_outputs() {
    ConvProblem::new(ConvSpec::conv2d(3, 3), &[3, 4, 3, 3], 6).check();
    ConvProblem::new(ConvSpec::conv2d(1, 1), &[5, 24, 1, 1], 6)
        .act(Activation::Relu)
        .check();
}

/// Spatial-separable pair 3x1 then 1x3, chained on the GPU in one submission (the second conv
/// reads the first one's output buffer); each stage checked against the reference of its input.
#[test]
fn spatial_separable_pair() {
    let g = gpu();
    let x = Tensor::random(vec![2, 6, 11, 9], 50);
    let w1 = Tensor::random(vec![8, 6, 3, 1], 51);
    let w2 = Tensor::random(vec![8, 8, 1, 3], 52);
    let s1 = ConvSpec::conv2d(3, 1).pads(&[1, 0], &[1, 0]);
    let s2 = ConvSpec::conv2d(1, 3).pads(&[0, 1], &[0, 1]);
    let bufs = upload_all(&[&x, &w1, &w2]);
    let mid = g.zeros(&[2, 8, 11, 9]).unwrap();
    let out = g.zeros(&[2, 8, 11, 9]).unwrap();
    let bind = |input, weight, output| ConvBindings {
        input,
        weight,
        bias: None,
        residual: None,
        input_scale: None,
        output,
    };
    let d1 = g
        .encode(conv::conv(
            g.target(),
            &s1,
            x.shape(),
            w1.shape(),
            Epilogue::act(Activation::Relu),
            bind(bufs[0].binding(), bufs[1].binding(), mid.binding()),
        ))
        .unwrap();
    let d2 = g
        .encode(conv::conv(
            g.target(),
            &s2,
            &[2, 8, 11, 9],
            w2.shape(),
            Epilogue::default(),
            bind(mid.binding(), bufs[2].binding(), out.binding()),
        ))
        .unwrap();
    g.submit(&[&d1, &d2]).unwrap();
    let got_mid = g.download(&mid).unwrap();
    let got = g.download(&out).unwrap();
    let want_mid =
        reference::conv::conv_epilogue(&s1, &x, &w1, None, None, Activation::Relu).unwrap();
    assert_close("3x1", &got_mid, &want_mid, Tolerance::accumulation(18));
    let want = reference::conv::conv(&s2, &got_mid, &w2, None).unwrap();
    assert_close("1x3", &got, &want, Tolerance::accumulation(24));
}

/// Asymmetric padding (begin != end, as ONNX SAME_UPPER/SAME_LOWER produce), with stride so
/// the last window position depends on pad_end.
#[test]
fn asymmetric_padding() {
    ConvProblem::new(
        ConvSpec::conv2d(3, 4).stride(2).pads(&[0, 2], &[3, 1]),
        &[2, 3, 9, 10],
        5,
    )
    .check();
    // 1-D SAME_UPPER for an even kernel: pad 1 before, 2 after.
    ConvProblem::new(ConvSpec::new(&[4]).pads(&[1], &[2]), &[1, 2, 13], 3).check();
}

/// Stride larger than the kernel (inputs skipped) and padding at least the kernel size (output
/// positions whose window lies entirely in the padding: bias only).
#[test]
fn stride_beyond_kernel_and_padding_beyond_kernel() {
    ConvProblem::new(ConvSpec::conv2d(2, 2).stride(3).pad(3), &[1, 3, 8, 7], 4)
        .act(Activation::LeakyRelu { slope: 0.1 })
        .check();
}

/// Seed 000's dilated conv (Conv2d 3->32, k3, dilation 2, 512x512 -> 508x508) at 37x45.
#[test]
fn seed000_dilated_3x3_d2() {
    ConvProblem::new(ConvSpec::conv2d(3, 3).dilation(2), &[1, 3, 37, 45], 32)
        .bias(true)
        .check();
}

/// Seed 000's Conv3d(16, 32, k3, s2, p1): shape rule at the full [1,16,3,512,512] size, numbers
/// at a reduced input (the full 1.8 GMAC problem is minutes of f64 reference on CI).
#[test]
fn seed000_conv3d_k3_s2_p1() {
    let spec = ConvSpec::new(&[3, 3, 3]).stride(2).pad(1);
    assert_eq!(
        spec.output_shape(&[1, 16, 3, 512, 512], &[32, 16, 3, 3, 3])
            .unwrap(),
        vec![1, 32, 2, 256, 256]
    );
    let p = ConvProblem::new(spec, &[1, 16, 3, 19, 22], 32);
    assert_eq!(p.output_shape().unwrap(), vec![1, 32, 2, 10, 11]);
    p.check();
}

/// Every groups value dividing 12 channels, including depthwise (12) through this kernel.
#[test]
fn every_group_count() {
    for g in [1, 2, 3, 4, 6, 12] {
        ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1).groups(g), &[2, 12, 5, 6], 12).check();
    }
}

/// Bad input is a typed error, not a panic.
#[test]
fn invalid_inputs_are_errors() {
    let g = gpu();
    let x = g.zeros(&[1, 4, 8, 8]).unwrap();
    let w = g.zeros(&[6, 4, 3, 3]).unwrap();
    let y = g.zeros(&[1, 6, 6, 6]).unwrap();
    let bind = |residual| ConvBindings {
        input: x.binding(),
        weight: w.binding(),
        bias: None,
        residual,
        input_scale: None,
        output: y.binding(),
    };
    let spec = ConvSpec::conv2d(3, 3);
    let ok = |r: Result<Dispatch>| r.map(drop);
    // Weight's input channels do not match (C/g = 2 with two groups, weight says 4).
    assert!(
        ok(g.encode(conv::conv(
            g.target(),
            &spec.clone().groups(2),
            &[1, 4, 8, 8],
            &[6, 4, 3, 3],
            Epilogue::default(),
            bind(None)
        )))
        .is_err()
    );
    // Weight's kernel does not match the spec.
    assert!(
        ok(g.encode(conv::conv(
            g.target(),
            &spec,
            &[1, 4, 8, 8],
            &[6, 4, 3, 5],
            Epilogue::default(),
            bind(None)
        )))
        .is_err()
    );
    // Residual flag without a residual buffer.
    let with_res = Epilogue {
        activation: Activation::Relu,
        residual: true,
        input_scale: false,
    };
    assert!(
        ok(g.encode(conv::conv(
            g.target(),
            &spec,
            &[1, 4, 8, 8],
            &[6, 4, 3, 3],
            with_res,
            bind(None)
        )))
        .is_err()
    );
    // Shapes larger than the buffers.
    assert!(
        ok(g.encode(conv::conv(
            g.target(),
            &spec,
            &[2, 4, 8, 8],
            &[6, 4, 3, 3],
            Epilogue::default(),
            bind(None)
        )))
        .is_err()
    );
    // A 4-D kernel and a bad tiling.
    assert!(
        ok(g.encode(conv::conv(
            g.target(),
            &ConvSpec::new(&[1, 1, 1, 1]),
            &[1, 1, 1, 1, 1, 1],
            &[1, 1, 1, 1, 1, 1],
            Epilogue::default(),
            bind(None)
        )))
        .is_err()
    );
    let bad_tiling = ConvTiling {
        wg_m: 6,
        ..ConvTiling::default()
    };
    assert!(
        ok(g.encode(conv::conv_tiled(
            g.target(),
            &spec,
            &[1, 4, 8, 8],
            &[6, 4, 3, 3],
            Epilogue::default(),
            bind(None),
            Some(bad_tiling)
        )))
        .is_err()
    );
    // The valid call succeeds.
    assert!(
        ok(g.encode(conv::conv(
            g.target(),
            &spec,
            &[1, 4, 8, 8],
            &[6, 4, 3, 3],
            Epilogue::default(),
            bind(None)
        )))
        .is_ok()
    );
}
