//! Window and global pooling kernels against the CPU reference.

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::kernels::pool;
use wgconv::ops::{PoolKind, PoolSpec};
use wgconv::reference;
use wgconv::shader_check::{Target, translate};
use wgconv::shaders::Shader;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};

const ROW_MAJOR: PoolKind = PoolKind::MaxIndex {
    column_major: false,
};
const COLUMN_MAJOR: PoolKind = PoolKind::MaxIndex { column_major: true };

/// A max is one of its inputs: exact.
const EXACT: Tolerance = Tolerance {
    atol: 0.0,
    rtol: 0.0,
};

/// One pooling problem: spec, input shape and data seed.
#[derive(Clone, Debug)]
struct PoolProblem {
    spec: PoolSpec,
    shape: Vec<usize>,
    seed: u64,
}

impl PoolProblem {
    fn input(&self) -> Tensor {
        Tensor::random(self.shape.clone(), self.seed)
    }

    fn tolerance(&self) -> Tolerance {
        tolerance(self.spec.kind, self.spec.window())
    }

    fn run_gpu(&self, x: &Tensor) -> Tensor {
        let g = gpu();
        let out_shape = self.spec.output_shape(x.shape()).unwrap();
        let bufs = upload_all(&[x]);
        let out = g.zeros(&out_shape).unwrap();
        let d = g
            .encode(pool::pool(
                g.target(),
                &self.spec,
                x.shape(),
                bufs[0].binding(),
                out.binding(),
            ))
            .unwrap();
        run(&d, &out)
    }

    fn check_with(&self, x: &Tensor) -> Tensor {
        let want = reference::pool::pool(&self.spec, x).unwrap();
        let got = self.run_gpu(x);
        assert_close(&format!("{self:?}"), &got, &want, self.tolerance());
        got
    }

    fn check(&self) -> Tensor {
        self.check_with(&self.input())
    }
}

/// Max and its index are exact; an average sums `len` values; Lp sums `len` products of `p`
/// factors, and its root is one transcendental more (inside the 1e-5 relative part).
fn tolerance(kind: PoolKind, len: usize) -> Tolerance {
    match kind {
        PoolKind::Max | PoolKind::MaxIndex { .. } => EXACT,
        PoolKind::Avg => Tolerance::accumulation(len),
        PoolKind::Lp(p) => Tolerance::accumulation(len * p as usize),
    }
}

fn spec(kind: PoolKind, k: usize, s: usize, p: usize, ceil: bool) -> PoolSpec {
    PoolSpec {
        ceil_mode: ceil,
        ..PoolSpec::new(kind, k, s, p)
    }
}

/// GoogLeNet's MaxPool2d(3, 2, ceil_mode=True): 112 -> 56 and 14 -> 7, where floor mode would
/// give 6 and drop the last column of windows.
#[test]
fn googlenet_maxpool_3x3_s2_ceil() {
    for (hw, out) in [(112, 56), (14, 7)] {
        let p = PoolProblem {
            spec: spec(PoolKind::Max, 3, 2, 0, true),
            shape: vec![1, 8, hw, hw],
            seed: hw as u64,
        };
        assert_eq!(p.spec.output_shape(&p.shape).unwrap()[2], out);
        p.check();
    }
}

/// ResNet's stem MaxPool2d(3, 2, padding=1) on all-negative input: if padding (0) entered the
/// max, the border outputs would be 0.
#[test]
fn padding_never_wins_a_max() {
    let p = PoolProblem {
        spec: spec(PoolKind::Max, 3, 2, 1, false),
        shape: vec![2, 3, 9, 10],
        seed: 1,
    };
    let x = Tensor::random_range(p.shape.clone(), 1, -5.0, -1.0);
    let got = p.check_with(&x);
    assert!(got.data().iter().all(|&v| v < -1.0 + f32::EPSILON));
}

/// Hand-computed divisors: 2x2 ones, AvgPool 2x2 stride 1 padding 1 -> 3x3. Including padding,
/// corners see 1 of 4 taps, edges 2 of 4, the centre 4 of 4; excluding it every output is 1.
#[test]
fn count_include_pad_divisors_by_hand() {
    let x = Tensor::new(vec![1, 1, 2, 2], vec![1.0; 4]).unwrap();
    for (include, want) in [
        (true, [0.25, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.25]),
        (false, [1.0; 9]),
    ] {
        let p = PoolProblem {
            spec: PoolSpec {
                count_include_pad: include,
                ..spec(PoolKind::Avg, 2, 1, 1, false)
            },
            shape: vec![1, 1, 2, 2],
            seed: 0,
        };
        let got = p.check_with(&x);
        let want = Tensor::new(vec![1, 1, 3, 3], want.to_vec()).unwrap();
        assert_close("by hand", &got, &want, EXACT);
    }
}

/// ceil_mode windows that overhang the padded input: AvgPool(3, 2, padding 1, ceil) on 6x6
/// gives 4x4; the last window spans rows 5 (input), 6 (padding) and 7 (beyond the padding),
/// so with count_include_pad its divisor counts 2 rows, not 3 (PyTorch's rule).
#[test]
fn ceil_mode_overhang_average() {
    for include in [true, false] {
        let p = PoolProblem {
            spec: PoolSpec {
                count_include_pad: include,
                ..spec(PoolKind::Avg, 3, 2, 1, true)
            },
            shape: vec![2, 2, 6, 6],
            seed: 2,
        };
        assert_eq!(p.spec.output_shape(&p.shape).unwrap(), vec![2, 2, 4, 4]);
        p.check();
    }
}

/// A dilated ceil_mode window that overhangs the padded input: AvgPool1d(3, stride 2,
/// dilation 3, pad_end 1, ceil) on 9 ones; the last window's taps 4, 7, 10 leave the padded
/// input [0, 10) at 10, so count_include_pad divides by 2 taps (counting the undilated span
/// would give 3 and 2/3).
#[test]
fn dilated_overhang_divisor_counts_taps() {
    let mut s = PoolSpec::nd(PoolKind::Avg, 1, 3, 2, 0);
    (s.dilation, s.pad_end, s.ceil_mode) = (vec![3], vec![1], true);
    let x = Tensor::new(vec![1, 1, 9], vec![1.0; 9]).unwrap();
    let got = PoolProblem {
        spec: s,
        shape: vec![1, 1, 9],
        seed: 0,
    }
    .check_with(&x);
    assert_eq!(got.data(), &[1.0; 3]);
}

/// Asymmetric padding (ONNX pads / SAME_UPPER), stride > kernel, and a dilated max pool whose
/// edge windows fall entirely in padding (both sides give -inf, the documented convention).
#[test]
fn asymmetric_strided_and_dilated() {
    let mut s = spec(PoolKind::Avg, 3, 2, 0, false);
    s.pad_begin = vec![0, 1];
    s.pad_end = vec![1, 0];
    s.count_include_pad = false;
    PoolProblem {
        spec: s,
        shape: vec![1, 3, 8, 7],
        seed: 3,
    }
    .check();
    PoolProblem {
        spec: spec(PoolKind::Max, 2, 3, 0, false),
        shape: vec![2, 1, 11, 8],
        seed: 4,
    }
    .check();
    let mut d = spec(PoolKind::Max, 2, 1, 3, false);
    d.dilation = vec![5, 5];
    let got = PoolProblem {
        spec: d,
        shape: vec![1, 1, 2, 2],
        seed: 5,
    }
    .check();
    assert!(got.data().iter().all(|v| *v == f32::NEG_INFINITY));
}

/// Indices by hand on one 3x4 map of image 1, channel 1 of [2, 2, 3, 4] (plane offset
/// 3 * 12 = 36): 2x2 windows, stride 2. The first window holds a tie (the first one wins), the
/// second a NaN (it wins), a -inf-only window still points at its first tap.
#[test]
fn max_indices_by_hand() {
    let mut x = Tensor::random(vec![2, 2, 3, 4], 7);
    let plane = [
        5.0,
        1.0,
        2.0,
        f32::NAN,
        0.0,
        5.0,
        3.0,
        4.0,
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
        9.0,
        -1.0,
    ];
    x.data_mut()[36..].copy_from_slice(&plane);
    let p = PoolProblem {
        spec: spec(ROW_MAJOR, 2, 2, 0, true),
        shape: x.shape().to_vec(),
        seed: 0,
    };
    let got = p.check_with(&x);
    // [2, 2, 2, 2] outputs; the last plane is (image 1, channel 1).
    assert_eq!(&got.data()[12..], &[36.0, 39.0, 44.0, 46.0]);
    // Column-major (storage_order 1): (row, col) of a 3x4 map is row + 3 * col.
    let cm = PoolProblem {
        spec: spec(COLUMN_MAJOR, 2, 2, 0, true),
        ..p.clone()
    }
    .check_with(&x);
    assert_eq!(&cm.data()[12..], &[36.0, 45.0, 38.0, 44.0]);
    // Every index is a flattened input position holding the window's maximum.
    let max = PoolProblem {
        spec: spec(PoolKind::Max, 2, 2, 0, true),
        ..p
    }
    .check_with(&x);
    for (i, m) in got.data().iter().zip(max.data()) {
        let v = x.data()[*i as usize];
        assert!(v == *m || v.is_nan() && m.is_nan(), "{v} vs {m}");
    }
}

/// LpPool by hand: p = 1 sums |x|, p = 2 is the Euclidean norm, p = 3 the cube root of |x|^3
/// sums, over a 1-D window of 3 with stride 3; the last window's 2 padded taps add nothing.
#[test]
fn lp_by_hand() {
    let x = Tensor::new(vec![1, 1, 7], vec![3.0, -4.0, 0.0, 1.0, -2.0, 2.0, -2.0]).unwrap();
    for (p, want) in [
        (1, [7.0, 5.0, 2.0]),
        (2, [5.0, 3.0, 2.0]),
        (3, [91f32.cbrt(), 17f32.cbrt(), 2.0]),
    ] {
        let mut s = PoolSpec::nd(PoolKind::Lp(p), 1, 3, 3, 0);
        s.pad_end = vec![2];
        let got = PoolProblem {
            spec: s,
            shape: vec![1, 1, 7],
            seed: 0,
        }
        .check_with(&x);
        let want = Tensor::new(vec![1, 1, 3], want.to_vec()).unwrap();
        assert_close("lp by hand", &got, &want, tolerance(PoolKind::Lp(p), 3));
    }
}

/// Video-sized 3-D pools (r3d_18-like stem pooling: 3x3x3 stride 2 padding 1, and a
/// dilated average over time) and 1-D pools over a long sequence.
#[test]
fn three_d_and_one_d_pools() {
    for kind in [
        PoolKind::Max,
        PoolKind::Avg,
        PoolKind::Lp(2),
        ROW_MAJOR,
        COLUMN_MAJOR,
    ] {
        PoolProblem {
            spec: PoolSpec::nd(kind, 3, 3, 2, 1),
            shape: vec![2, 3, 5, 9, 8],
            seed: 20,
        }
        .check();
        let mut d = PoolSpec::nd(kind, 3, 2, 1, 0);
        d.dilation = vec![2, 1, 3];
        d.count_include_pad = false;
        PoolProblem {
            spec: d,
            shape: vec![1, 2, 6, 5, 7],
            seed: 21,
        }
        .check();
        PoolProblem {
            spec: PoolSpec::nd(kind, 1, 4, 3, 2),
            shape: vec![3, 1, 301],
            seed: 22,
        }
        .check();
    }
}

fn global_case(kind: PoolKind, shape: &[usize], seed: u64) {
    let x = Tensor::random(shape.to_vec(), seed);
    let want = reference::pool::global_pool(kind, &x).unwrap();
    let g = gpu();
    let bufs = upload_all(&[&x]);
    let out = g.zeros(want.shape()).unwrap();
    let d = g
        .encode(pool::global_pool(
            g.target(),
            kind,
            shape,
            bufs[0].binding(),
            out.binding(),
        ))
        .unwrap();
    let got = run(&d, &out);
    let len: usize = shape[2..].iter().product();
    let tol = tolerance(kind, len);
    assert_close(&format!("global {kind:?} {shape:?}"), &got, &want, tol);
}

/// The network heads' 7x7 global average (64 invocations per row, 4 rows per workgroup, with
/// a partly filled last workgroup: 2*21 rows), and spatial sizes above the 256-wide workgroup
/// (each invocation sums several elements before the tree).
#[test]
fn global_pool_7x7_and_beyond_one_workgroup() {
    for kind in [
        PoolKind::Avg,
        PoolKind::Max,
        PoolKind::Lp(2),
        PoolKind::Lp(3),
    ] {
        global_case(kind, &[2, 21, 7, 7], 10);
        global_case(kind, &[1, 3, 23, 29], 11);
        global_case(kind, &[2, 2, 64, 64], 12);
        // 1x1 spatial: every row is its own result.
        global_case(kind, &[3, 5, 1, 1], 13);
        // Video (r3d_18's head: [N, 512, T, 7, 7]) and sequences.
        global_case(kind, &[2, 512, 2, 7, 7], 14);
        global_case(kind, &[2, 3, 50], 15);
    }
}

/// The shared naga test checks default overrides only; check every variant the host selects.
#[test]
fn every_variant_translates_to_every_target() {
    for target in Target::ALL {
        for kind in [
            PoolKind::Max,
            PoolKind::Avg,
            PoolKind::Lp(2),
            ROW_MAJOR,
            COLUMN_MAJOR,
        ] {
            let kind = kind.code() as f64;
            for cip in [0.0, 1.0] {
                let c = [("POOL_KIND", kind), ("COUNT_INCLUDE_PAD", cip)];
                translate(Shader::Pool, &c, target).unwrap();
            }
        }
        for kind in [PoolKind::Max, PoolKind::Avg, PoolKind::Lp(2)] {
            let kind = kind.code() as f64;
            for threads in [32.0, 64.0, 128.0, 256.0] {
                let c = [("POOL_KIND", kind), ("ROW_THREADS", threads)];
                translate(Shader::GlobalPool, &c, target).unwrap();
            }
        }
    }
}

#[test]
fn bad_shapes_are_errors() {
    let g = gpu();
    let b = g.zeros(&[64]).unwrap();
    let (i, o) = (b.binding(), b.binding());
    let ok = spec(PoolKind::Max, 2, 2, 0, false);
    // Wrong rank.
    assert!(
        g.encode(pool::pool(g.target(), &ok, &[1, 4, 4], i, o))
            .is_err()
    );
    // Zero kernel / stride.
    assert!(
        g.encode(pool::pool(
            g.target(),
            &spec(PoolKind::Max, 0, 1, 0, false),
            &[1, 1, 4, 4],
            i,
            o
        ))
        .is_err()
    );
    assert!(
        g.encode(pool::pool(
            g.target(),
            &spec(PoolKind::Max, 2, 0, 0, false),
            &[1, 1, 4, 4],
            i,
            o
        ))
        .is_err()
    );
    // Padding as large as the window.
    assert!(
        g.encode(pool::pool(
            g.target(),
            &spec(PoolKind::Max, 3, 1, 3, false),
            &[1, 1, 4, 4],
            i,
            o
        ))
        .is_err()
    );
    // Window larger than the padded input.
    assert!(
        g.encode(pool::pool(
            g.target(),
            &spec(PoolKind::Avg, 5, 1, 0, false),
            &[1, 1, 4, 4],
            i,
            o
        ))
        .is_err()
    );
    // Four spatial dims, a vector of the wrong length, Lp with p = 0.
    let four = PoolSpec::nd(PoolKind::Max, 4, 1, 1, 0);
    assert!(
        g.encode(pool::pool(g.target(), &four, &[1, 1, 2, 2, 2, 2], i, o))
            .is_err()
    );
    let mut short = spec(PoolKind::Avg, 2, 1, 0, false);
    short.dilation = vec![1];
    assert!(
        g.encode(pool::pool(g.target(), &short, &[1, 1, 4, 4], i, o))
            .is_err()
    );
    let lp0 = spec(PoolKind::Lp(0), 2, 1, 0, false);
    assert!(
        g.encode(pool::pool(g.target(), &lp0, &[1, 1, 4, 4], i, o))
            .is_err()
    );
    // p beyond the repeated-multiplication limit.
    let lp_big = spec(PoolKind::Lp(wgconv::ops::MAX_LP_P + 1), 2, 1, 0, false);
    assert!(
        g.encode(pool::pool(g.target(), &lp_big, &[1, 1, 4, 4], i, o))
            .is_err()
    );
    // Indices have no global form.
    assert!(
        g.encode(pool::global_pool(g.target(), ROW_MAJOR, &[1, 4, 4], i, o))
            .is_err()
    );
    // Input binding too small (64 elements bound, 2*4*4*4 needed).
    assert!(
        g.encode(pool::pool(g.target(), &ok, &[2, 4, 4, 4], i, o))
            .is_err()
    );
    // Global pool without a spatial part, or an empty one.
    assert!(
        g.encode(pool::global_pool(g.target(), PoolKind::Avg, &[1, 4], i, o))
            .is_err()
    );
    assert!(
        g.encode(pool::global_pool(
            g.target(),
            PoolKind::Avg,
            &[1, 4, 0],
            i,
            o
        ))
        .is_err()
    );
    // The references refuse the same.
    assert!(reference::pool::pool(&ok, &Tensor::zeros(vec![1, 4, 4])).is_err());
    assert!(reference::pool::pool(&lp0, &Tensor::zeros(vec![1, 1, 4, 4])).is_err());
    assert!(reference::pool::global_pool(PoolKind::Max, &Tensor::zeros(vec![1, 4])).is_err());
}

fn pool_kind() -> impl Strategy<Value = PoolKind> {
    prop_oneof![
        Just(PoolKind::Max),
        Just(PoolKind::Avg),
        (1u32..5).prop_map(PoolKind::Lp),
        any::<bool>().prop_map(|column_major| PoolKind::MaxIndex { column_major }),
    ]
}

/// Random pools of 1 to 3 spatial dims, every kind, dilated, padded up to the window.
fn pool_problem() -> impl Strategy<Value = PoolProblem> {
    (1usize..=3)
        .prop_flat_map(|r| {
            (
                pool_kind(),
                prop::collection::vec((1usize..5, 1usize..5, 1usize..4), r),
                any::<bool>(),
                any::<bool>(),
                (1usize..3, 1usize..4),
            )
        })
        .prop_flat_map(|(kind, ksd, ceil, cip, (n, c))| {
            let span: Vec<usize> = ksd.iter().map(|&(k, _, d)| d * (k - 1) + 1).collect();
            // Padding up to one less than the window on each side (ONNX's limit).
            let pads: Vec<_> = span.iter().map(|&s| (0..s, 0..s, 0usize..7)).collect();
            (Just((kind, ksd, ceil, cip, n, c, span)), pads, 0u64..1000)
        })
        .prop_map(|((kind, ksd, ceil, cip, n, c, span), pads, seed)| {
            let mut shape = vec![n, c];
            // The input must at least hold one window in the padded size.
            for (s, &(b, e, extra)) in span.iter().zip(&pads) {
                shape.push(s.saturating_sub(b + e).max(1) + extra);
            }
            PoolProblem {
                spec: PoolSpec {
                    kind,
                    kernel: ksd.iter().map(|v| v.0).collect(),
                    stride: ksd.iter().map(|v| v.1).collect(),
                    pad_begin: pads.iter().map(|v| v.0).collect(),
                    pad_end: pads.iter().map(|v| v.1).collect(),
                    dilation: ksd.iter().map(|v| v.2).collect(),
                    ceil_mode: ceil,
                    count_include_pad: cip,
                },
                shape,
                seed,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_pools(p in pool_problem()) {
        p.check();
    }

    #[test]
    fn random_global_pools(n in 1usize..3, c in 1usize..6,
                           spatial in prop::collection::vec(1usize..20, 1..=3),
                           kind in pool_kind().prop_filter("windowed only",
                                                           |k| !k.is_index()),
                           seed in 0u64..1000) {
        let mut shape = vec![n, c];
        shape.extend(spatial);
        global_case(kind, &shape, seed);
    }
}
