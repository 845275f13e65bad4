//! 2-D resize (nearest, bilinear, bicubic; antialiasing, exclude_outside, every coordinate
//! transformation including tf_crop_and_resize, and every nearest rounding) against the CPU
//! reference, pinned cases derived by hand, and resize in a session.

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::graph::{Conv2d, Graph};
use wgconv::kernels::resize;
use wgconv::ops::{CoordinateMode, NearestMode, ResizeMode, ResizeSpec};
use wgconv::reference;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};

/// Nearest copies one input element: it must be exact.
const EXACT: Tolerance = Tolerance {
    atol: 0.0,
    rtol: 0.0,
};

const COORDINATES: [CoordinateMode; 7] = [
    CoordinateMode::HalfPixel,
    CoordinateMode::PytorchHalfPixel,
    CoordinateMode::AlignCorners,
    CoordinateMode::Asymmetric,
    CoordinateMode::TfHalfPixelForNn,
    CoordinateMode::HalfPixelSymmetric,
    CoordinateMode::TfCropAndResize,
];

const NEAREST: [NearestMode; 4] = [
    NearestMode::RoundPreferFloor,
    NearestMode::RoundPreferCeil,
    NearestMode::Floor,
    NearestMode::Ceil,
];

/// One resize: input shape and spec.
#[derive(Clone, Debug)]
struct ResizeProblem {
    input: [usize; 4],
    spec: ResizeSpec,
}

impl ResizeProblem {
    /// The spec a model giving `scales` has: `out = floor(in * scale)` in f32 (at least 1).
    fn with_scales(input: [usize; 4], spec: ResizeSpec, s: [f32; 2]) -> Self {
        let out = |i: usize| ((input[2 + i] as f32 * s[i]).floor() as usize).max(1);
        let spec = ResizeSpec {
            out: [out(0), out(1)],
            scale: Some([s[0] as f64, s[1] as f64]),
            ..spec
        };
        Self { input, spec }
    }

    /// Nearest is exact; the filters sum taps_h * taps_w weighted inputs (bilinear 4, bicubic
    /// 16, more when antialiasing). Cubic weights go negative, but their absolute values sum
    /// to at most 1.5 per axis for a in [-1, 0], which the inputs in [-1, 1] leave inside
    /// that accumulation bound.
    fn tolerance(&self) -> Tolerance {
        let [h, w] = [self.input[2], self.input[3]];
        let [oh, ow] = self.spec.out;
        match self.spec.mode {
            ResizeMode::Nearest => EXACT,
            ResizeMode::Linear | ResizeMode::Cubic => {
                Tolerance::accumulation(self.spec.taps(0, h, oh) * self.spec.taps(1, w, ow))
            }
        }
    }

    fn reference(&self, x: &Tensor) -> Tensor {
        reference::resize::resize(&self.spec, x).unwrap()
    }

    fn run_gpu(&self, x: &Tensor) -> Tensor {
        let g = gpu();
        let table = resize::resize_table(&self.spec, x.shape()).unwrap();
        let bufs = upload_all(&[x, &table]);
        let out = g
            .zeros(&self.spec.output_shape(x.shape()).unwrap())
            .unwrap();
        let d = g
            .encode(resize::resize(
                g.target(),
                &self.spec,
                x.shape(),
                bufs[0].binding(),
                bufs[1].binding(),
                out.binding(),
            ))
            .unwrap();
        run(&d, &out)
    }

    fn check(&self, seed: u64) {
        let x = Tensor::random(self.input.to_vec(), seed);
        assert_close(
            &format!("{self:?}"),
            &self.run_gpu(&x),
            &self.reference(&x),
            self.tolerance(),
        );
    }
}

/// Scale factors that models use: whole, halves, thirds (inexact in f32), downsampling.
const SCALES: [f32; 10] = [
    0.5,
    0.6,
    0.75,
    1.0,
    4.0 / 3.0,
    1.5,
    2.0,
    2.5,
    3.0,
    1.0 / 3.0,
];

fn problem() -> impl Strategy<Value = ResizeProblem> {
    (
        (1usize..3, 1usize..4, 1usize..10, 1usize..10),
        prop_oneof![
            Just(ResizeMode::Nearest),
            Just(ResizeMode::Linear),
            Just(ResizeMode::Cubic)
        ],
        prop::sample::select(COORDINATES.to_vec()),
        prop::sample::select(NEAREST.to_vec()),
        // Filter options: cubic coefficient, exclude_outside, antialias.
        (
            prop::sample::select(vec![-0.75, -0.5, -1.0]),
            any::<bool>(),
            any::<bool>(),
        ),
        // tf_crop_and_resize: a crop reaching past both edges at times, and its fill.
        (-0.3f64..0.6, 0.4f64..1.3, -2f32..2.0),
        prop_oneof![
            // Sizes: out / in, anything from a 1-pixel output to ~2.5x.
            (1usize..20, 1usize..20).prop_map(|(h, w)| (Some([h, w]), None)),
            // Scales: out = floor(in * scale), coordinates step by 1 / scale.
            (
                prop::sample::select(SCALES.to_vec()),
                prop::sample::select(SCALES.to_vec())
            )
                .prop_map(|(a, b)| (None, Some([a, b]))),
        ],
    )
        .prop_map(
            |((n, c, h, w), mode, coord, near, (a, exclude, aa), (start, end, fill), size)| {
                let input = [n, c, h, w];
                let mut base = ResizeSpec::new(mode, [1, 1])
                    .nearest_mode(near)
                    .cubic(a, exclude)
                    .antialias(aa);
                base = match coord {
                    CoordinateMode::TfCropAndResize => {
                        base.crop([[start, end], [end - 0.4, start + 0.5]], fill)
                    }
                    _ => base.coordinate(coord),
                };
                match size {
                    (Some(out), _) => ResizeProblem {
                        input,
                        spec: ResizeSpec { out, ..base },
                    },
                    (_, Some(s)) => ResizeProblem::with_scales(input, base, s),
                    _ => unreachable!(),
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_resize_matches_reference(p in problem(), seed in 0u64..1000) {
        p.check(seed);
    }
}

fn run_both(spec: ResizeSpec, x: &Tensor) -> (Tensor, Tensor) {
    let p = ResizeProblem {
        input: x.shape().try_into().unwrap(),
        spec,
    };
    (p.run_gpu(x), p.reference(x))
}

/// Checks GPU and reference against values derived by hand.
fn check_values(what: &str, spec: ResizeSpec, x: &Tensor, want: &[f32]) {
    let (got, reference) = run_both(spec, x);
    let want = Tensor::new(reference.shape().to_vec(), want.to_vec()).unwrap();
    let tol = Tolerance::elementwise();
    assert_close(&format!("{what} (reference)"), &reference, &want, tol);
    assert_close(&format!("{what} (gpu)"), &got, &want, tol);
}

fn row(v: &[f32]) -> Tensor {
    Tensor::new(vec![1, 1, 1, v.len()], v.to_vec()).unwrap()
}

/// PyTorch's nearest x2 (asymmetric, floor) is a repeat: [[1, 2], [3, 4]] -> each value a 2x2
/// block.
#[test]
fn nearest_x2_repeats() {
    let x = Tensor::new(vec![1, 1, 2, 2], vec![1., 2., 3., 4.]).unwrap();
    #[rustfmt::skip]
    let want = [
        1., 1., 2., 2.,
        1., 1., 2., 2.,
        3., 3., 4., 4.,
        3., 3., 4., 4.,
    ];
    check_values("nearest x2", ResizeSpec::torch_nearest([4, 4]), &x, &want);
}

/// align_corners maps the corners onto each other: 2x2 -> 3x3 samples at 0, 0.5, 1 in both
/// axes: [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]].
#[test]
fn bilinear_align_corners_2x2_to_3x3() {
    let x = Tensor::new(vec![1, 1, 2, 2], vec![1., 2., 3., 4.]).unwrap();
    let want = [1., 1.5, 2., 2., 2.5, 3., 3., 3.5, 4.];
    check_values(
        "align corners",
        ResizeSpec::torch_bilinear([3, 3], true),
        &x,
        &want,
    );
}

/// Half-pixel x2 on [0, 4]: x_original = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25;
/// clamped to [0, 1] that is 0, 0.25, 0.75, 1 -> [0, 1, 3, 4] (PyTorch's align_corners=False).
/// Guards the clamping of coordinates outside the input.
#[test]
fn bilinear_half_pixel_clamps_at_the_border() {
    check_values(
        "half pixel x2",
        ResizeSpec::torch_bilinear([1, 4], false),
        &row(&[0., 4.]),
        &[0., 1., 3., 4.],
    );
}

/// Ties: asymmetric 3 -> 2 samples x_original = x * 3 / 2 = 0, 1.5. Round-prefer-floor takes
/// index 1 for the tie, round-prefer-ceil index 2, floor 1, ceil 2: [10, 20] or [10, 30].
#[test]
fn nearest_modes_break_ties_as_named() {
    let x = row(&[10., 20., 30.]);
    for (mode, want) in [
        (NearestMode::RoundPreferFloor, [10., 20.]),
        (NearestMode::RoundPreferCeil, [10., 30.]),
        (NearestMode::Floor, [10., 20.]),
        (NearestMode::Ceil, [10., 30.]),
    ] {
        let spec = ResizeSpec::new(ResizeMode::Nearest, [1, 2])
            .coordinate(CoordinateMode::Asymmetric)
            .nearest_mode(mode);
        check_values(&format!("{mode:?}"), spec, &x, &want);
    }
}

/// A given scale is not out / in: 5 * 1.5 gives 7 outputs, and half-pixel output 6 samples
/// 6.5 / 1.5 - 0.5 = 3.8333 with the scale, but 6.5 * 5 / 7 - 0.5 = 4.14 (clamped to 4)
/// with sizes. Input [0, 1, 2, 3, 4] holds its index, so the output is the coordinate.
/// Scale: x = 0..7 -> (x + 0.5) / 1.5 - 0.5 = -0.1667 (0), 0.5, 1.1667, 1.8333, 2.5, 3.1667,
/// 3.8333.
#[test]
fn scales_and_sizes_give_different_coordinates() {
    let x = row(&[0., 1., 2., 3., 4.]);
    let base = ResizeSpec::new(ResizeMode::Linear, [1, 7]);
    let with_scale = [0., 0.5, 7. / 6., 11. / 6., 2.5, 19. / 6., 23. / 6.];
    check_values("scale 1.5", base.scale([1.0, 1.5]), &x, &with_scale);
    // Sizes: (x + 0.5) * 5 / 7 - 0.5 = -1/7 (0), 4/7, 9/7, 2, 19/7, 24/7, 29/7 (4).
    let with_sizes = [0., 4. / 7., 9. / 7., 2., 19. / 7., 24. / 7., 4.];
    check_values("sizes 7", base, &x, &with_sizes);
}

/// A 1-wide output: half-pixel samples the input's middle ((0.5) * 4 - 0.5 = 1.5: the mean of
/// elements 1 and 2 = 15), pytorch_half_pixel and align_corners sample 0 (0).
#[test]
fn one_pixel_output_per_coordinate_mode() {
    let x = row(&[0., 10., 20., 30.]);
    for (coord, want) in [
        (CoordinateMode::HalfPixel, 15.),
        (CoordinateMode::PytorchHalfPixel, 0.),
        (CoordinateMode::AlignCorners, 0.),
    ] {
        let spec = ResizeSpec::new(ResizeMode::Linear, [1, 1]).coordinate(coord);
        check_values(&format!("{coord:?}"), spec, &x, &[want]);
    }
}

/// tf_half_pixel_for_nn, 2 -> 4 by scale 2: (x + 0.5) / 2 = 0.25, 0.75, 1.25, 1.75, rounded
/// (round-prefer-floor) 0, 1, 1, 2 -> clamped 1: [a, b, b, b].
#[test]
fn tf_half_pixel_for_nn_shifts_by_half() {
    let spec = ResizeSpec::new(ResizeMode::Nearest, [1, 4])
        .coordinate(CoordinateMode::TfHalfPixelForNn)
        .scale([1.0, 2.0]);
    check_values("tf nn", spec, &row(&[5., 7.]), &[5., 7., 7., 7.]);
}

/// half_pixel_symmetric (opset 19), 4 -> floor(4 * 0.6) = 2: adjustment = 2 / 2.4, offset =
/// 2 * (1 - 2 / 2.4) = 1/3, x_original = 1/3 + (x + 0.5) / 0.6 - 0.5 = 2/3, 7/3. Input holds
/// its index -> [2/3, 7/3] (half_pixel would give [1/3, 2]).
#[test]
fn half_pixel_symmetric_recentres() {
    let x = row(&[0., 1., 2., 3.]);
    let base = ResizeSpec::new(ResizeMode::Linear, [1, 2]).scale([1.0, 0.6]);
    check_values(
        "symmetric",
        base.coordinate(CoordinateMode::HalfPixelSymmetric),
        &x,
        &[2. / 3., 7. / 3.],
    );
    check_values("half pixel", base, &x, &[1. / 3., 2.]);
}

/// Bicubic (a = -0.75) x2, asymmetric, on [1, 2, 4, 8]: x_original = 0, 0.5, ..., 3.5. At a
/// half the weights are w(1.5), w(0.5), w(0.5), w(1.5) = -3/32, 19/32, 19/32, -3/32; whole
/// coordinates copy. 0.5 reads [1, 1, 2, 4] (edge repeated): -3/32 + 19/32 + 38/32 - 12/32
/// = 1.3125; 1.5: (-3 + 38 + 76 - 24) / 32 = 2.71875; 2.5 [2, 4, 8, 8]: 6.1875; 3.5
/// [4, 8, 8, 8]: 8.375. exclude_outside drops the taps beyond the edge and renormalises:
/// 0.5: (19 + 38 - 12) / 35 = 9/7; 2.5: (-6 + 76 + 152) / 35 = 222/35; 3.5: (-12 + 152) / 16
/// = 8.75.
#[test]
fn cubic_weights_and_exclude_outside() {
    let x = row(&[1., 2., 4., 8.]);
    let base = ResizeSpec::new(ResizeMode::Cubic, [1, 8])
        .coordinate(CoordinateMode::Asymmetric)
        .scale([1.0, 2.0]);
    let edge = [1., 1.3125, 2., 2.71875, 4., 6.1875, 8., 8.375];
    check_values("cubic", base, &x, &edge);
    let exclude = [1., 9. / 7., 2., 2.71875, 4., 222. / 35., 8., 8.75];
    check_values("cubic exclude", base.cubic(-0.75, true), &x, &exclude);
}

/// Antialiased linear 4 -> 2 (half-pixel, scale 0.5): the triangle stretches to radius 2, so
/// x_original = 0.5 weighs indices -1..=2 by 0.25, 0.75, 0.75, 0.25 (normalised: 1/8, 3/8,
/// 3/8, 1/8). On [0, 4, 8, 12] (index -1 repeats 0, index 4 repeats 12): 2.5 and 9.5, where
/// plain linear gives 2 and 10.
#[test]
fn antialias_stretches_the_filter_when_downsampling() {
    let x = row(&[0., 4., 8., 12.]);
    let base = ResizeSpec::new(ResizeMode::Linear, [1, 2]);
    check_values("linear", base, &x, &[2., 10.]);
    check_values("antialias", base.antialias(true), &x, &[2.5, 9.5]);
    // Upsampling is not filtered: the same as plain linear.
    let up = ResizeSpec::new(ResizeMode::Linear, [1, 8]);
    let (plain, _) = run_both(up, &x);
    check_values("antialias up", up.antialias(true), &x, plain.data());
}

/// tf_crop_and_resize of columns 0.25..1.25 of [0, 10, 20, 30, 40] to 3: x_original = 1 + x *
/// 4 / 2 = 1, 3, 5; 5 lies beyond the input (4) and gives the extrapolation value -1. The
/// single row samples the middle of its crop 0..1 of one row: row 0.
#[test]
fn crop_and_resize_extrapolates_outside_the_input() {
    let x = row(&[0., 10., 20., 30., 40.]);
    for mode in [ResizeMode::Linear, ResizeMode::Nearest, ResizeMode::Cubic] {
        let spec = ResizeSpec::new(mode, [1, 3]).crop([[0.0, 1.0], [0.25, 1.25]], -1.0);
        check_values(&format!("crop {mode:?}"), spec, &x, &[10., 30., -1.]);
    }
}

/// Many planes, rows not a multiple of the kernel's 4 rows per invocation, several
/// workgroups: batch 3 x 5 channels, 17x19 -> 35x41 and -> 6x5.
#[test]
fn batched_odd_sizes_many_workgroups() {
    for spec in [
        ResizeSpec::torch_bilinear([35, 41], false),
        ResizeSpec::torch_bilinear([6, 5], true),
        ResizeSpec::torch_nearest([35, 41]),
        ResizeSpec::new(ResizeMode::Nearest, [6, 5]),
        ResizeSpec::new(ResizeMode::Cubic, [35, 41]),
        ResizeSpec::new(ResizeMode::Cubic, [6, 5]).antialias(true),
        ResizeSpec::new(ResizeMode::Linear, [6, 5]).antialias(true),
    ] {
        ResizeProblem {
            input: [3, 5, 17, 19],
            spec,
        }
        .check(5);
    }
}

/// Bad shapes are errors, not panics: a 3-D input, a 0-sized output, a too-small output
/// binding.
#[test]
fn invalid_resizes_are_errors() {
    let spec = ResizeSpec::torch_nearest([4, 4]);
    assert!(spec.output_shape(&[1, 2, 2]).is_err());
    assert!(
        ResizeSpec::torch_nearest([0, 4])
            .output_shape(&[1, 1, 2, 2])
            .is_err()
    );
    let g = gpu();
    let x = Tensor::random(vec![1, 1, 2, 2], 1);
    let table = resize::resize_table(&spec, x.shape()).unwrap();
    let bufs = upload_all(&[&x, &table]);
    let small = g.zeros(&[1, 1, 2, 2]).unwrap();
    let e = g
        .encode(resize::resize(
            g.target(),
            &spec,
            x.shape(),
            bufs[0].binding(),
            bufs[1].binding(),
            small.binding(),
        ))
        .unwrap_err();
    assert!(e.to_string().contains("too small"), "{e}");
}

/// A decoder-like graph (conv, bilinear x2, pad with 0.5, conv, nearest x2; the pad also an
/// output) through a session: the lookup travels in the parameter buffer.
#[test]
fn resize_and_pad_in_a_session() {
    let mut g = Graph::new();
    let x = g.input("x", &[2, 3, 5, 6]);
    let y = g.conv2d(x, "c1", Conv2d::new(4, 3).pad(1)).unwrap();
    let up = g
        .resize(y, ResizeSpec::torch_bilinear([10, 12], false))
        .unwrap();
    let p = g.pad(up, &[0, 0, 1, 0], &[0, 1, 0, 2], 0.5).unwrap(); // [2, 5, 11, 14]
    let z = g.conv2d(p, "c2", Conv2d::new(3, 3)).unwrap(); // [2, 3, 9, 12]
    let n = g.resize(z, ResizeSpec::torch_nearest([18, 24])).unwrap();
    g.output(n);
    g.output(p);
    let (g, inputs) = crate::graph::initialised(g, 11);
    crate::graph::check_on_device("resize and pad", &g, &inputs);
}
