//! Transposed convolution (1-D, 2-D, 3-D) against the scatter-form CPU reference.

use std::time::Instant;

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::kernels::ConvBindings;
use wgconv::kernels::conv_transpose::conv_transpose;
use wgconv::ops::{Activation, ConvSpec, ConvTransposeSpec, Epilogue};
use wgconv::reference;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};
use crate::matmul::epilogue_ref;

/// One transposed convolution: geometry, channels, and the fused epilogue.
#[derive(Clone, Debug)]
pub struct ConvTransposeProblem {
    pub spec: ConvTransposeSpec,
    pub n: usize,
    pub c: usize,
    pub o: usize,
    pub input: Vec<usize>,
    pub bias: bool,
    pub residual: bool,
    pub act: Activation,
    pub seed: u64,
}

impl ConvTransposeProblem {
    pub(crate) fn shapes(&self) -> (Vec<usize>, Vec<usize>) {
        let mut x = vec![self.n, self.c];
        x.extend(&self.input);
        let mut w = vec![self.c, self.o / self.spec.conv.groups];
        w.extend(&self.spec.conv.kernel);
        (x, w)
    }

    pub(crate) fn out_shape(&self) -> wgconv::Result<Vec<usize>> {
        let (x, w) = self.shapes();
        self.spec.output_shape(&x, &w)
    }

    /// Runs on the GPU and returns (got, input, weight, bias, residual).
    fn run_gpu(&self) -> (Tensor, Tensor, Tensor, Tensor, Tensor) {
        let (xs, ws) = self.shapes();
        let ys = self.out_shape().unwrap();
        let x = Tensor::random(xs.clone(), self.seed);
        let w = Tensor::random(ws.clone(), self.seed + 1);
        let bias = Tensor::random(vec![self.o], self.seed + 2);
        let res = Tensor::random(ys.clone(), self.seed + 3);
        let g = gpu();
        let bufs = upload_all(&[&x, &w, &bias, &res]);
        let out = g.zeros(&ys).unwrap();
        let d = g
            .encode(conv_transpose(
                g.target(),
                &self.spec,
                &xs,
                &ws,
                Epilogue {
                    activation: self.act,
                    residual: self.residual,
                    input_scale: false,
                },
                ConvBindings {
                    input: bufs[0].binding(),
                    weight: bufs[1].binding(),
                    bias: self.bias.then(|| bufs[2].binding()),
                    residual: self.residual.then(|| bufs[3].binding()),
                    input_scale: None,
                    output: out.binding(),
                },
            ))
            .unwrap();
        (run(&d, &out), x, w, bias, res)
    }

    /// Terms summed per output, an upper bound: every input channel of the group times every tap.
    pub(crate) fn terms(&self) -> usize {
        (self.c / self.spec.conv.groups) * self.spec.conv.kernel.iter().product::<usize>() + 2
    }

    pub fn check(&self) {
        let (got, x, w, bias, res) = self.run_gpu();
        let pre = reference::conv_transpose::conv_transpose(
            &self.spec,
            &x,
            &w,
            self.bias.then_some(&bias),
        )
        .unwrap();
        let want = epilogue_ref(&pre, self.residual.then_some(&res), self.act);
        assert_close(
            &format!("{self:?}"),
            &got,
            &want,
            Tolerance::accumulation(self.terms()),
        );
    }
}

fn plain(
    spec: ConvTransposeSpec,
    n: usize,
    c: usize,
    o: usize,
    input: &[usize],
) -> ConvTransposeProblem {
    ConvTransposeProblem {
        spec,
        n,
        c,
        o,
        input: input.to_vec(),
        bias: true,
        residual: false,
        act: Activation::Identity,
        seed: 11,
    }
}

prop_compose! {
    /// Per-dimension geometry for spatial rank `r`: stride 1-4 (often > kernel), dilation 1-3,
    /// asymmetric padding, output_padding below max(stride, dilation).
    fn geometry(r: usize)(
        kernel in prop::collection::vec(1usize..=4, r),
        stride in prop::collection::vec(1usize..=4, r),
        dilation in prop::collection::vec(1usize..=3, r),
        pb in prop::collection::vec(0usize..=3, r),
        pe in prop::collection::vec(0usize..=3, r),
        op_frac in prop::collection::vec(0usize..4, r),
    ) -> (ConvSpec, Vec<usize>) {
        let spec = ConvSpec::new(&kernel).strides(&stride).dilations(&dilation).pads(&pb, &pe);
        let op = op_frac.iter().zip(stride.iter().zip(&dilation))
            .map(|(&f, (&s, &d))| f % s.max(d))
            .collect();
        (spec, op)
    }
}

pub(crate) fn problem() -> impl Strategy<Value = ConvTransposeProblem> {
    (1usize..=3)
        .prop_flat_map(|r| {
            // Keep the volume small on lavapipe: 1-D up to 13, 2-D up to 7, 3-D up to 4.
            let max = [13, 7, 4][r - 1];
            (
                geometry(r),
                prop::collection::vec(1usize..=max, r),
                1usize..=3,
                1usize..=3,
                1usize..=4,
                1usize..=2,
                (
                    any::<bool>(),
                    any::<bool>(),
                    0usize..Activation::well_conditioned().len(),
                    0u64..1000,
                ),
            )
        })
        .prop_map(
            |((conv, op), input, groups, cpg, opg, n, (bias, residual, act, seed))| {
                ConvTransposeProblem {
                    spec: ConvTransposeSpec::new(conv.groups(groups)).output_padding(&op),
                    n,
                    c: cpg * groups,
                    o: opg * groups,
                    input,
                    bias,
                    residual,
                    act: Activation::well_conditioned()[act],
                    seed,
                }
            },
        )
        .prop_filter("padding removes the whole output", |p| {
            p.out_shape().is_ok()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn random_conv_transpose(p in problem()) {
        p.check();
    }
}

/// The seed's ConvTranspose2d(32, 16, 3, stride 2) on [1, 32, 128, 128]: [1, 16, 257, 257],
/// checked numerically at full size (about 0.3 s GPU + reference on lavapipe, release).
#[test]
fn seed_conv_transpose_2d() {
    let spec = ConvTransposeSpec::new(ConvSpec::conv2d(3, 3).stride(2));
    let p = plain(spec, 1, 32, 16, &[128, 128]);
    assert_eq!(p.out_shape().unwrap(), vec![1, 16, 257, 257]);
    let t = Instant::now();
    p.check();
    eprintln!("seed conv_transpose 2d checked in {:?}", t.elapsed());
}

/// 3-D transposed conv (a 3-D U-Net decoder step: k3 s2 p1 op1 doubles every dim), with the
/// residual + ReLU epilogue, batch 2 and 2 groups.
#[test]
fn conv_transpose_3d() {
    let spec = ConvTransposeSpec::new(ConvSpec::new(&[3, 3, 3]).stride(2).pad(1).groups(2))
        .output_padding(&[1, 1, 1]);
    let mut p = plain(spec, 2, 6, 4, &[3, 5, 4]);
    assert_eq!(p.out_shape().unwrap(), vec![2, 4, 6, 10, 8]);
    p.residual = true;
    p.act = Activation::Relu;
    p.check();
}

/// output_padding = stride - 1 (the largest allowed): the extra last rows/columns get only the
/// taps that reach them, plus the bias.
#[test]
fn output_padding_stride_minus_one() {
    let spec =
        ConvTransposeSpec::new(ConvSpec::conv2d(4, 4).stride(3).pad(1)).output_padding(&[2, 2]);
    plain(spec, 1, 3, 5, &[5, 6]).check();
    // Allowed through the dilation instead of the stride: op < dilation.
    let spec = ConvTransposeSpec::new(ConvSpec::new(&[3]).dilation(3)).output_padding(&[2]);
    plain(spec, 1, 2, 3, &[9]).check();
}

/// Stride > kernel leaves outputs that no tap reaches (bias only); plus depthwise (groups = C),
/// 1-D with dilation 3 and asymmetric padding, one channel, 1x1 input.
#[test]
fn pinned_geometries() {
    let gaps = ConvTransposeSpec::new(ConvSpec::conv2d(2, 2).stride(3));
    plain(gaps, 2, 3, 4, &[4, 3]).check();
    let depthwise = ConvTransposeSpec::new(ConvSpec::conv2d(3, 3).stride(2).pad(1).groups(8));
    plain(depthwise, 1, 8, 8, &[5, 5]).check();
    let dil = ConvTransposeSpec::new(ConvSpec::new(&[3]).stride(2).dilation(3).pads(&[4], &[1]));
    plain(dil, 2, 3, 2, &[10]).check();
    let one = ConvTransposeSpec::new(ConvSpec::conv2d(3, 3).stride(2));
    plain(one, 1, 1, 1, &[1, 1]).check();
    // Wider than one 4-column block per phase and more than 4 output channels per group.
    let wide = ConvTransposeSpec::new(
        ConvSpec::conv2d(3, 5)
            .strides(&[1, 2])
            .pads(&[1, 2], &[0, 1]),
    );
    let mut p = plain(wide, 1, 5, 9, &[3, 37]);
    p.act = Activation::Silu;
    p.check();
}

/// Regression (GL backend): the column-phase tap test divides the offset t = (r + pw) - kx*dw,
/// which is negative for late taps of early phases. WGSL's i32 `/` and `%` truncate, but naga
/// copies them into GLSL, where negative operands are undefined: on Mesa llvmpipe (GL) the
/// battery case below (t in -3..=2) had 4224 of 5184 outputs wrong. Lavapipe (Vulkan) always
/// got it right, so the static check `no_signed_division_in_shader` is what guards it there.
#[test]
fn negative_tap_offsets_k4_s3_groups2() {
    // The `wgconv validate` case: t = -3 is an exact negative multiple of the stride (a tap
    // that does reach), t = -1 and -2 are not.
    let spec =
        ConvTransposeSpec::new(ConvSpec::conv2d(4, 4).stride(3).groups(2)).output_padding(&[2, 2]);
    let p = plain(spec, 2, 8, 6, &[5, 7]);
    assert_eq!(p.out_shape().unwrap(), vec![2, 6, 18, 24]);
    p.check();
    // 1-D with dilation: t = r - 2*kx reaches -6 and -3 (both multiples of 3).
    let spec = ConvTransposeSpec::new(ConvSpec::new(&[4]).stride(3).dilation(2));
    let p = plain(spec, 1, 2, 3, &[9]);
    assert_eq!(p.out_shape().unwrap(), vec![1, 3, 31]);
    p.check();
}

#[test]
fn bad_shapes_are_errors() {
    let g = gpu();
    let buf = g.zeros(&[4096]).unwrap();
    let r = buf.binding();
    let cb = ConvBindings {
        input: r,
        weight: r,
        bias: None,
        residual: None,
        input_scale: None,
        output: r,
    };
    let e = Epilogue::default();
    let base = ConvTransposeSpec::new(ConvSpec::conv2d(3, 3).stride(2));
    let ok = g.encode(conv_transpose(
        g.target(),
        &base,
        &[1, 4, 3, 3],
        &[4, 2, 3, 3],
        e,
        cb,
    ));
    assert!(ok.is_ok(), "{:?}", ok.err());
    // output_padding not below stride or dilation.
    let bad_op = base.clone().output_padding(&[2, 0]);
    assert!(
        g.encode(conv_transpose(
            g.target(),
            &bad_op,
            &[1, 4, 3, 3],
            &[4, 2, 3, 3],
            e,
            cb
        ))
        .is_err()
    );
    // Weight's input channels differ from the input's; kernel mismatch; rank mismatch.
    assert!(
        g.encode(conv_transpose(
            g.target(),
            &base,
            &[1, 4, 3, 3],
            &[3, 2, 3, 3],
            e,
            cb
        ))
        .is_err()
    );
    assert!(
        g.encode(conv_transpose(
            g.target(),
            &base,
            &[1, 4, 3, 3],
            &[4, 2, 2, 3],
            e,
            cb
        ))
        .is_err()
    );
    assert!(
        g.encode(conv_transpose(
            g.target(),
            &base,
            &[1, 4, 3],
            &[4, 2, 3],
            e,
            cb
        ))
        .is_err()
    );
    // Groups not dividing the input channels.
    let grouped = ConvTransposeSpec::new(ConvSpec::conv2d(3, 3).groups(3));
    assert!(
        g.encode(conv_transpose(
            g.target(),
            &grouped,
            &[1, 4, 3, 3],
            &[4, 2, 3, 3],
            e,
            cb
        ))
        .is_err()
    );
    // Padding that removes the whole output.
    let eaten = ConvTransposeSpec::new(ConvSpec::conv2d(1, 1).pad(1));
    assert!(
        g.encode(conv_transpose(
            g.target(),
            &eaten,
            &[1, 4, 1, 1],
            &[4, 2, 1, 1],
            e,
            cb
        ))
        .is_err()
    );
    // An empty spatial dimension.
    assert!(
        g.encode(conv_transpose(
            g.target(),
            &base,
            &[1, 4, 0, 3],
            &[4, 2, 3, 3],
            e,
            cb
        ))
        .is_err()
    );
    // Residual flag and binding disagree.
    let with_res = Epilogue {
        residual: true,
        ..e
    };
    assert!(
        g.encode(conv_transpose(
            g.target(),
            &base,
            &[1, 4, 3, 3],
            &[4, 2, 3, 3],
            with_res,
            cb
        ))
        .is_err()
    );
    // Output binding too small.
    let small = g.zeros(&[8]).unwrap();
    let cb_small = ConvBindings {
        output: small.binding(),
        ..cb
    };
    assert!(
        g.encode(conv_transpose(
            g.target(),
            &base,
            &[1, 4, 3, 3],
            &[4, 2, 3, 3],
            e,
            cb_small
        ))
        .is_err()
    );
    // The reference rejects the same shapes.
    let t = |s: &[usize]| Tensor::zeros(s.to_vec());
    assert!(
        reference::conv_transpose::conv_transpose(
            &bad_op,
            &t(&[1, 4, 3, 3]),
            &t(&[4, 2, 3, 3]),
            None
        )
        .is_err()
    );
}
