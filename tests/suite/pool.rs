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
        match self.spec.kind {
            PoolKind::Max => EXACT,
            PoolKind::Avg => Tolerance::accumulation(self.spec.kernel[0] * self.spec.kernel[1]),
        }
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

/// Asymmetric padding (ONNX pads / SAME_UPPER), stride > kernel, and a dilated max pool whose
/// edge windows fall entirely in padding (both sides give -inf, the documented convention).
#[test]
fn asymmetric_strided_and_dilated() {
    let mut s = spec(PoolKind::Avg, 3, 2, 0, false);
    s.pad_begin = [0, 1];
    s.pad_end = [1, 0];
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
    d.dilation = [5, 5];
    let got = PoolProblem {
        spec: d,
        shape: vec![1, 1, 2, 2],
        seed: 5,
    }
    .check();
    assert!(got.data().iter().all(|v| *v == f32::NEG_INFINITY));
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
    let tol = match kind {
        PoolKind::Max => EXACT,
        PoolKind::Avg => Tolerance::accumulation(len),
    };
    assert_close(&format!("global {kind:?} {shape:?}"), &got, &want, tol);
}

/// The network heads' 7x7 global average (64 invocations per row, 4 rows per workgroup, with
/// a partly filled last workgroup: 2*21 rows), and spatial sizes above the 256-wide workgroup
/// (each invocation sums several elements before the tree).
#[test]
fn global_pool_7x7_and_beyond_one_workgroup() {
    for kind in [PoolKind::Avg, PoolKind::Max] {
        global_case(kind, &[2, 21, 7, 7], 10);
        global_case(kind, &[1, 3, 23, 29], 11);
        global_case(kind, &[2, 2, 64, 64], 12);
        // 1x1 spatial: every row is its own result.
        global_case(kind, &[3, 5, 1, 1], 13);
    }
}

/// The shared naga test checks default overrides only; check every variant the host selects.
#[test]
fn every_variant_translates_to_every_target() {
    for target in Target::ALL {
        for kind in [0.0, 1.0] {
            for cip in [0.0, 1.0] {
                let c = [("POOL_KIND", kind), ("COUNT_INCLUDE_PAD", cip)];
                translate(Shader::Pool, &c, target).unwrap();
            }
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
    // Average pooling with dilation.
    let mut d = spec(PoolKind::Avg, 2, 1, 0, false);
    d.dilation = [2, 2];
    assert!(
        g.encode(pool::pool(g.target(), &d, &[1, 1, 4, 4], i, o))
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
    assert!(reference::pool::global_pool(PoolKind::Max, &Tensor::zeros(vec![1, 4])).is_err());
}

fn pool_problem() -> impl Strategy<Value = PoolProblem> {
    (
        any::<bool>(),
        [1usize..5, 1usize..5],
        [1usize..5, 1usize..5],
        [1usize..4, 1usize..4],
        any::<bool>(),
        any::<bool>(),
        (1usize..3, 1usize..4),
    )
        .prop_flat_map(|(is_max, k, s, d, ceil, cip, (n, c))| {
            let d = if is_max { d } else { [1, 1] };
            let span = [d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1];
            (
                Just((is_max, k, s, d, ceil, cip, n, c)),
                // Padding up to one less than the window on each side (ONNX's limit).
                [0..span[0], 0..span[1], 0..span[0], 0..span[1]],
                [0usize..9, 0usize..9],
                0u64..1000,
            )
                .prop_map(
                    move |((is_max, k, s, d, ceil, cip, n, c), p, extra, seed)| {
                        // The input must at least hold one window in the padded size.
                        let h = (span[0].saturating_sub(p[0] + p[2])).max(1) + extra[0];
                        let w = (span[1].saturating_sub(p[1] + p[3])).max(1) + extra[1];
                        PoolProblem {
                            spec: PoolSpec {
                                kind: if is_max { PoolKind::Max } else { PoolKind::Avg },
                                kernel: k,
                                stride: s,
                                pad_begin: [p[0], p[1]],
                                pad_end: [p[2], p[3]],
                                dilation: d,
                                ceil_mode: ceil,
                                count_include_pad: cip,
                            },
                            shape: vec![n, c, h, w],
                            seed,
                        }
                    },
                )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_pools(p in pool_problem()) {
        p.check();
    }

    #[test]
    fn random_global_pools(n in 1usize..3, c in 1usize..6,
                           spatial in prop::collection::vec(1usize..20, 1..=3),
                           is_max in any::<bool>(), seed in 0u64..1000) {
        let mut shape = vec![n, c];
        shape.extend(spatial);
        global_case(if is_max { PoolKind::Max } else { PoolKind::Avg }, &shape, seed);
    }
}
