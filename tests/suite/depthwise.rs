//! The depthwise kernel against the CPU reference (problems shared with `conv`).

use proptest::prelude::*;
use wgconv::kernels::ConvBindings;
use wgconv::kernels::depthwise::{self, DepthwiseTiling, is_depthwise};
use wgconv::ops::{Activation, ConvSpec, Epilogue};

use crate::common::{assert_close, gpu};
use crate::conv::ConvCheck;
use wgconv::problem::ConvProblem;

fn check(p: &ConvProblem) {
    assert!(is_depthwise(&p.spec, &p.input_shape), "{p:?}");
    assert_close(
        &format!("{p:?}"),
        &p.run_with(|t, s, i, w, e, b| depthwise::depthwise(t, s, i, w, e, b)),
        &p.want(),
        p.tolerance(),
    );
}

fn check_tiling(p: &ConvProblem, tiling: DepthwiseTiling) {
    let got =
        p.run_with(|t, s, i, w, e, b| depthwise::depthwise_tiled(t, s, i, w, e, b, Some(tiling)));
    assert_close(&format!("{tiling:?} {p:?}"), &got, &p.want(), p.tolerance());
}

/// A depthwise problem: channels C, multiplier, kernel and geometry per dimension.
fn dw_problem() -> impl Strategy<Value = ConvProblem> {
    let dim = (
        1usize..=5,
        1usize..=3,
        1usize..=4,
        0usize..=3,
        0usize..=3,
        1usize..=20,
    );
    (
        dim.clone(),
        dim,
        1usize..=6,
        1usize..=3,
        1usize..=2,
        any::<(bool, bool)>(),
        0usize..11,
        0u64..1_000_000,
    )
        .prop_map(|(h, w, c, mult, batch, (bias, residual), act, seed)| {
            let fit = |(k, s, d, pb, pe, n): (usize, usize, usize, usize, usize, usize)| {
                let span = d * (k - 1) + 1;
                (k, s, d, pb, pe, n.max(span.saturating_sub(pb + pe)).max(1))
            };
            let (h, w) = (fit(h), fit(w));
            let spec = ConvSpec {
                kernel: vec![h.0, w.0],
                stride: vec![h.1, w.1],
                dilation: vec![h.2, w.2],
                pad_begin: vec![h.3, w.3],
                pad_end: vec![h.4, w.4],
                groups: c,
            };
            ConvProblem {
                spec,
                input_shape: vec![batch, c, h.5, w.5],
                out_channels: c * mult,
                bias,
                residual,
                act: Activation::well_conditioned()[act],
                // The problem's base seed; 4 tensors per problem.
                seed: seed * 4,
            }
        })
}

/// Any workgroup shape: powers of two up to 8 along each axis and 256 invocations (WebGPU's
/// default limit), staged or not.
fn dw_tiling() -> impl Strategy<Value = DepthwiseTiling> {
    (0u32..4, 0u32..4, 0u32..4, any::<bool>()).prop_map(|(x, y, c, stage_input)| DepthwiseTiling {
        dw_x: 1 << x,
        dw_y: 1 << y,
        dw_c: 1 << c.min(8 - x - y),
        stage_input,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn random_depthwise(p in dw_problem()) {
        check(&p);
    }

    /// Random shapes under random tilings: channel groups ragged against C, strips ragged
    /// against the output, sliding windows of every stride and dilation.
    #[test]
    fn random_depthwise_tiling(p in dw_problem(), t in dw_tiling()) {
        // Patches that do not fit workgroup memory are read from global memory instead.
        let stage_input = t.stage_input && t.staged(&p.spec) <= 3072;
        check_tiling(&p, DepthwiseTiling { stage_input, ..t });
    }
}

/// Channel multiplier 2 (O = 2C): each workgroup computes both output channels of its input
/// channel from one staged patch.
#[test]
fn multiplier_two() {
    check(
        &ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1).groups(5), &[2, 5, 9, 14], 10)
            .act(Activation::Relu6),
    );
}

/// MobileNet's downsampling depthwise: 3x3, stride 2, pad 1, with ReLU6, odd input sizes.
#[test]
fn mobilenet_stride2_pad1() {
    check(
        &ConvProblem::new(
            ConvSpec::conv2d(3, 3).stride(2).pad(1).groups(8),
            &[2, 8, 17, 15],
            8,
        )
        .act(Activation::Relu6),
    );
    // EfficientNet's 5x5 stride-2 variant with SiLU and an inverted-residual skip (stride 1).
    check(
        &ConvProblem::new(
            ConvSpec::conv2d(5, 5).stride(2).pad(2).groups(4),
            &[1, 4, 13, 19],
            4,
        )
        .act(Activation::Silu),
    );
    check(
        &ConvProblem::new(ConvSpec::conv2d(5, 5).pad(2).groups(4), &[1, 4, 13, 19], 4)
            .residual(true),
    );
}

/// Every tile shape, with staging and without, on outputs ragged against every tile
/// (23 x 37 outputs, asymmetric padding, dilation 2, stride 1 and 2).
#[test]
fn every_tiling() {
    for stride in [1, 2] {
        let p = ConvProblem::new(
            ConvSpec::conv2d(3, 3)
                .stride(stride)
                .dilation(2)
                .pads(&[2, 1], &[1, 3])
                .groups(3),
            &[2, 3, 24 * stride, 36 * stride],
            6,
        )
        .act(Activation::HardSwish);
        for (dw_x, dw_y, dw_c) in [
            (1, 1, 1),
            (2, 4, 2),
            (8, 8, 1),
            (8, 1, 4),
            (1, 8, 1),
            (16, 4, 1),
        ] {
            for stage_input in [true, false] {
                check_tiling(
                    &p,
                    DepthwiseTiling {
                        dw_x,
                        dw_y,
                        dw_c,
                        stage_input,
                    },
                );
            }
        }
    }
}

/// A kernel whose input patch does not fit workgroup memory even for one strip (15x15,
/// dilation 4: 57 x 60 floats > 3072): the host must fall back to global-memory taps.
#[test]
fn huge_dilated_kernel_falls_back() {
    let spec = ConvSpec::conv2d(15, 15).dilation(4).groups(2);
    let t = DepthwiseTiling::for_problem(&spec, 2, 8, 8, 3072);
    assert!(!t.stage_input, "{t:?}");
    check(&ConvProblem::new(spec, &[1, 2, 64, 63], 2));
}

/// MobileNet / EfficientNet tail layers (7x7 and 14x14 maps) take several channels per
/// workgroup so it holds 64 invocations; big maps keep one. Run on ragged channel groups
/// (C = 6 in groups of 4), batch 2, multiplier 3, residual.
#[test]
fn small_maps_share_workgroups_across_channels() {
    let s1 = ConvSpec::conv2d(3, 3).pad(1);
    let s2 = ConvSpec::conv2d(5, 5).stride(2).pad(2);
    let t = |spec: &ConvSpec, c, h| DepthwiseTiling::for_problem(spec, c, h, h, 3072);
    let shape = |t: DepthwiseTiling| (t.dw_x, t.dw_y, t.dw_c, t.stage_input);
    assert_eq!(shape(t(&s1, 960, 7)), (2, 8, 4, true));
    assert_eq!(shape(t(&s2, 672, 7)), (2, 8, 4, true));
    assert_eq!(shape(t(&s1, 576, 14)), (4, 8, 2, true));
    assert_eq!(shape(t(&s1, 144, 56)), (8, 8, 1, true));
    // Never more channels than the layer has.
    assert_eq!(t(&s1, 3, 7).dw_c, 2);
    assert_eq!(t(&s1, 1, 7).dw_c, 1);
    for (spec, h) in [(s1, 7), (s2, 14)] {
        let p = ConvProblem::new(spec.groups(6), &[2, 6, h, h], 18)
            .act(Activation::Relu6)
            .residual(true);
        let chosen = t(&p.spec, 6, 7);
        assert_eq!(chosen.dw_c, 4, "{p:?}");
        check(&p);
        check_tiling(&p, chosen);
    }
}

/// Pinned edges of the sliding window: stride larger than the kernel (the strip's taps skip
/// columns), padding larger than the kernel (whole taps in the padding), a 1-wide kernel,
/// non-square kernel with dilation only along one axis.
#[test]
fn sliding_window_edges() {
    for (spec, hw) in [
        (ConvSpec::conv2d(2, 2).stride(3), [11, 14]),
        (ConvSpec::conv2d(3, 3).pad(4), [5, 6]),
        (ConvSpec::conv2d(1, 1).stride(2), [9, 9]),
        (
            ConvSpec::conv2d(3, 5)
                .dilations(&[1, 3])
                .pads(&[0, 6], &[2, 0]),
            [8, 21],
        ),
    ] {
        check(&ConvProblem::new(spec.groups(3), &[1, 3, hw[0], hw[1]], 3).bias(true));
    }
}

/// Ragged tiles (9 x 10 outputs in 8 x 32 tiles) must not write outside an arena slot.
#[test]
fn no_writes_outside_output() {
    ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1).groups(3), &[2, 3, 9, 10], 6)
        .check_no_stray_writes(|t, s, i, w, e, b| depthwise::depthwise(t, s, i, w, e, b));
}

/// 1x1 outputs and a single channel.
#[test]
fn tiny_outputs() {
    check(&ConvProblem::new(
        ConvSpec::conv2d(3, 3).groups(1),
        &[3, 1, 3, 3],
        1,
    ));
    check(&ConvProblem::new(
        ConvSpec::conv2d(3, 3).stride(4).pad(1).groups(2),
        &[1, 2, 2, 2],
        4,
    ));
}

#[test]
fn rejects_non_depthwise() {
    let g = gpu();
    let x = g.zeros(&[1, 4, 8, 8]).unwrap();
    let w = g.zeros(&[4, 1, 3, 3]).unwrap();
    let y = g.zeros(&[1, 4, 6, 6]).unwrap();
    let b = ConvBindings {
        input: x.binding(),
        weight: w.binding(),
        bias: None,
        residual: None,
        input_scale: None,
        output: y.binding(),
    };
    let dw = ConvSpec::conv2d(3, 3).groups(4);
    assert!(is_depthwise(&dw, &[1, 4, 8, 8]));
    assert!(!is_depthwise(
        &ConvSpec::conv2d(3, 3).groups(2),
        &[1, 4, 8, 8]
    ));
    assert!(!is_depthwise(&ConvSpec::new(&[3]).groups(4), &[1, 4, 8]));
    // Grouped but not depthwise.
    let grouped = ConvSpec::conv2d(3, 3).groups(2);
    assert!(
        g.encode(depthwise::depthwise(
            g.target(),
            &grouped,
            &[1, 4, 8, 8],
            &[4, 2, 3, 3],
            Epilogue::default(),
            b
        ))
        .is_err()
    );
    // Weight with the wrong input-channel count.
    assert!(
        g.encode(depthwise::depthwise(
            g.target(),
            &dw,
            &[1, 4, 8, 8],
            &[4, 2, 3, 3],
            Epilogue::default(),
            b
        ))
        .is_err()
    );
    // Output channels not a multiple of C.
    assert!(
        g.encode(depthwise::depthwise(
            g.target(),
            &dw,
            &[1, 4, 8, 8],
            &[6, 1, 3, 3],
            Epilogue::default(),
            b
        ))
        .is_err()
    );
    assert!(
        g.encode(depthwise::depthwise(
            g.target(),
            &dw,
            &[1, 4, 8, 8],
            &[4, 1, 3, 3],
            Epilogue::default(),
            b
        ))
        .is_ok()
    );
}
