//! The GEMM kernel (pointwise / grouped pointwise conv, Linear, MatMul) against the CPU reference.

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::kernels::matmul::{self, GemmTiling};
use wgconv::kernels::{ConvBindings, Launch};
use wgconv::ops::matmul_output_shape;
use wgconv::ops::{Activation, ConvSpec, Epilogue};
use wgconv::reference;
use wgconv::reference::activation::apply;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};

/// The reference epilogue: `act(pre + residual)` (the bias is already in `pre`).
pub fn epilogue_ref(pre: &Tensor, residual: Option<&Tensor>, act: Activation) -> Tensor {
    let data = pre
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let r = residual.map_or(0.0, |r| r.data()[i] as f64);
            apply(act, v as f64 + r) as f32
        })
        .collect();
    Tensor::new(pre.shape().to_vec(), data).unwrap()
}

/// A 1x1 convolution problem.
#[derive(Clone, Debug)]
pub struct PointwiseProblem {
    pub n: usize,
    pub c: usize,
    pub o: usize,
    pub groups: usize,
    pub spatial: Vec<usize>,
    pub bias: bool,
    pub residual: bool,
    pub act: Activation,
    pub seed: u64,
    /// `None`: the heuristic's.
    pub tiling: Option<GemmTiling>,
}

impl PointwiseProblem {
    fn shapes(&self) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let mut x = vec![self.n, self.c];
        x.extend(&self.spatial);
        let mut w = vec![self.o, self.c / self.groups];
        w.extend(self.spatial.iter().map(|_| 1));
        let mut y = x.clone();
        y[1] = self.o;
        (x, w, y)
    }

    /// Checks the GEMM against the CPU reference; returns whether it ran unchecked (aligned).
    pub fn check(&self) -> bool {
        let (xs, ws, ys) = self.shapes();
        let spec = ConvSpec::new(&vec![1; self.spatial.len()]).groups(self.groups);
        assert!(matmul::is_pointwise(&spec));
        let x = Tensor::random(xs.clone(), self.seed);
        let w = Tensor::random(ws.clone(), self.seed + 1);
        let bias = Tensor::random(vec![self.o], self.seed + 2);
        let res = Tensor::random(ys.clone(), self.seed + 3);
        let g = gpu();
        let bufs = upload_all(&[&x, &w, &bias, &res]);
        let out = g.zeros(&ys).unwrap();
        let epilogue = Epilogue {
            activation: self.act,
            residual: self.residual,
            input_scale: false,
        };
        let launch = matmul::pointwise_tiled(
            g.target(),
            &spec,
            &xs,
            &ws,
            epilogue,
            ConvBindings {
                input: bufs[0].binding(),
                weight: bufs[1].binding(),
                bias: self.bias.then(|| bufs[2].binding()),
                residual: self.residual.then(|| bufs[3].binding()),
                input_scale: None,
                output: out.binding(),
            },
            self.tiling,
        )
        .unwrap();
        let aligned = is_aligned(&launch);
        let d = g.encode(Ok(launch)).unwrap();
        let got = run(&d, &out);
        let pre =
            reference::matmul::pointwise(&x, &w, self.bias.then_some(&bias), self.groups).unwrap();
        let want = epilogue_ref(&pre, self.residual.then_some(&res), self.act);
        assert_close(
            &format!("{self:?}"),
            &got,
            &want,
            Tolerance::accumulation(self.c / self.groups + 2),
        );
        aligned
    }
}

/// `nn.Linear`: x [n, k] W^T with W [m, k].
#[derive(Clone, Debug)]
pub struct LinearProblem {
    pub n: usize,
    pub k: usize,
    pub m: usize,
    pub bias: bool,
    pub act: Activation,
    pub seed: u64,
    pub tiling: Option<GemmTiling>,
}

impl LinearProblem {
    pub fn check(&self) -> bool {
        let x = Tensor::random(vec![self.n, self.k], self.seed);
        let w = Tensor::random(vec![self.m, self.k], self.seed + 1);
        let bias = Tensor::random(vec![self.m], self.seed + 2);
        let g = gpu();
        let bufs = upload_all(&[&x, &w, &bias]);
        let out = g.zeros(&[self.n, self.m]).unwrap();
        let launch = matmul::linear_tiled(
            g.target(),
            x.shape(),
            w.shape(),
            self.act,
            bufs[0].binding(),
            bufs[1].binding(),
            self.bias.then(|| bufs[2].binding()),
            out.binding(),
            self.tiling,
        )
        .unwrap();
        let aligned = is_aligned(&launch);
        let d = g.encode(Ok(launch)).unwrap();
        let got = run(&d, &out);
        let pre = reference::matmul::linear(&x, &w, self.bias.then_some(&bias)).unwrap();
        let want = epilogue_ref(&pre, None, self.act);
        assert_close(
            &format!("{self:?}"),
            &got,
            &want,
            Tolerance::accumulation(self.k + 1),
        );
        aligned
    }
}

/// numpy matmul of rank-2/3 operands.
#[derive(Clone, Debug)]
pub struct MatmulProblem {
    pub a: Vec<usize>,
    pub b: Vec<usize>,
    pub seed: u64,
    pub tiling: Option<GemmTiling>,
}

impl MatmulProblem {
    pub fn check(&self) -> bool {
        let a = Tensor::random(self.a.clone(), self.seed);
        let b = Tensor::random(self.b.clone(), self.seed + 1);
        let g = gpu();
        let shape = matmul_output_shape(&self.a, &self.b).unwrap();
        let bufs = upload_all(&[&a, &b]);
        let out = g.zeros(&shape).unwrap();
        let launch = matmul::matmul_tiled(
            g.target(),
            &self.a,
            &self.b,
            bufs[0].binding(),
            bufs[1].binding(),
            out.binding(),
            self.tiling,
        )
        .unwrap();
        let aligned = is_aligned(&launch);
        let d = g.encode(Ok(launch)).unwrap();
        let got = run(&d, &out);
        let want = reference::matmul::matmul(&a, &b).unwrap();
        let k = self.a[self.a.len() - 1];
        assert_close(
            &format!("{self:?}"),
            &got,
            &want,
            Tolerance::accumulation(k),
        );
        aligned
    }
}

/// Whether a GEMM launch runs the aligned (unchecked) variant.
fn is_aligned<B>(l: &Launch<B>) -> bool {
    l.constants.contains(&("ALIGNED", 1.0))
}

/// The tilings beyond the 4x4-block ones: longer chunks, 8x4 / 4x8 / 8x8 blocks, on 16x16
/// invocations (tile sides 64 and 128).
pub fn big_tilings() -> Vec<GemmTiling> {
    let t = GemmTiling::new(16, 16);
    [
        (4, 4, 32),
        (8, 4, 16),
        (4, 8, 16),
        (8, 8, 16),
        (8, 8, 32),
        (4, 8, 32),
    ]
    .into_iter()
    .map(|(rm, rn, tk)| GemmTiling { rm, rn, tk, ..t })
    .collect()
}

/// A tiling for a randomized problem: the heuristic's, a small one, or a big one.
fn tiling() -> impl Strategy<Value = Option<GemmTiling>> {
    let mut all = vec![
        None,
        Some(GemmTiling::new(4, 4)),
        Some(GemmTiling::new(8, 16)),
    ];
    all.extend(big_tilings().into_iter().map(Some));
    prop::sample::select(all)
}

fn activation() -> impl Strategy<Value = Activation> {
    (0usize..Activation::well_conditioned().len()).prop_map(|i| Activation::well_conditioned()[i])
}

prop_compose! {
    /// Groups 1-4 dividing both channel counts, spatial rank 1-3, sizes around the 64-wide tile.
    fn pointwise_problem()(
        groups in 1usize..=4, cpg in 1usize..=20, opg in 1usize..=9, n in 1usize..=3,
        spatial in prop::collection::vec(1usize..=9, 1..=3),
        bias in any::<bool>(), residual in any::<bool>(), act in activation(), seed in 0u64..1000,
        tiling in tiling(),
    ) -> PointwiseProblem {
        PointwiseProblem { n, c: cpg * groups, o: opg * groups, groups, spatial, bias, residual, act, seed, tiling }
    }
}

prop_compose! {
    /// M, N, K from 1 across the tile edges (16, 64) with a few K chunks.
    fn linear_problem()(
        n in 1usize..=40, k in 1usize..=90, m in 1usize..=80,
        bias in any::<bool>(), act in activation(), seed in 0u64..1000, tiling in tiling(),
    ) -> LinearProblem {
        LinearProblem { n, k, m, bias, act, seed, tiling }
    }
}

prop_compose! {
    /// Rank 1 to 4 on each side (1-D operands promoted); up to two batch dims of 1..3, each
    /// side's possibly broadcast (size 1) or absent.
    fn matmul_problem()(
        m in 1usize..=70, k in 1usize..=40, n in 1usize..=70,
        ra in 1usize..=4, rb in 1usize..=4, batch in prop::collection::vec(1usize..=3, 2),
        a_one in prop::collection::vec(any::<bool>(), 2), b_one in prop::collection::vec(any::<bool>(), 2),
        seed in 0u64..1000, tiling in tiling(),
    ) -> MatmulProblem {
        let mk = |rank: usize, one: &[bool], mat: [usize; 2], vector: usize| {
            if rank == 1 {
                return vec![vector];
            }
            let dims = rank - 2;
            let mut v: Vec<usize> = (2 - dims..2).map(|i| if one[i] { 1 } else { batch[i] }).collect();
            v.extend(mat);
            v
        };
        MatmulProblem { a: mk(ra, &a_one, [m, k], k), b: mk(rb, &b_one, [k, n], k), seed, tiling }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_pointwise(p in pointwise_problem()) {
        p.check();
    }

    #[test]
    fn random_linear(p in linear_problem()) {
        p.check();
    }

    #[test]
    fn random_matmul(p in matmul_problem()) {
        p.check();
    }
}

/// ShuffleNet v1 grouped 1x1 convs: g = 3 (240 -> 60 channels, 28x28, with the unit's
/// residual + ReLU) and g = 4 (272 -> 68, 7x7, batch 2); each group is its own GEMM batch.
#[test]
fn shufflenet_grouped_pointwise() {
    PointwiseProblem {
        n: 1,
        c: 240,
        o: 60,
        groups: 3,
        spatial: vec![28, 28],
        bias: true,
        residual: true,
        act: Activation::Relu,
        seed: 100,
        tiling: None,
    }
    .check();
    PointwiseProblem {
        n: 2,
        c: 272,
        o: 68,
        groups: 4,
        spatial: vec![7, 7],
        bias: true,
        residual: false,
        act: Activation::Relu,
        seed: 101,
        tiling: None,
    }
    .check();
}

/// Pointwise conv with one channel in and out, and 1-D / 3-D spatial ranks.
#[test]
fn pointwise_edge_shapes() {
    for (c, o, spatial) in [(1, 1, vec![1]), (1, 5, vec![130]), (6, 1, vec![3, 5, 7])] {
        PointwiseProblem {
            n: 2,
            c,
            o,
            groups: 1,
            spatial,
            bias: true,
            residual: false,
            act: Activation::Identity,
            seed: 7,
            tiling: None,
        }
        .check();
    }
}

/// Linear with K = 1001 (not a multiple of the 16-wide K chunk: the tail chunk is zero-filled),
/// and the classifier shape batch 1 (skinny tile path).
#[test]
fn linear_k_not_multiple_of_chunk() {
    LinearProblem {
        n: 5,
        k: 1001,
        m: 37,
        bias: true,
        act: Activation::Identity,
        seed: 200,
        tiling: None,
    }
    .check();
    LinearProblem {
        n: 1,
        k: 515,
        m: 130,
        bias: true,
        act: Activation::Silu,
        seed: 201,
        tiling: None,
    }
    .check();
    LinearProblem {
        n: 1,
        k: 1,
        m: 1,
        bias: false,
        act: Activation::Identity,
        seed: 202,
        tiling: None,
    }
    .check();
}

/// Batch broadcast both ways, 1x1x1, more than 65,535 batch entries (folded dispatch), K = 0.
#[test]
fn matmul_pinned() {
    for (a, b) in [
        (vec![3, 5, 7], vec![7, 4]),
        (vec![6, 7], vec![3, 7, 9]),
        (vec![1, 65, 17], vec![2, 17, 66]),
        (vec![1, 1], vec![1, 1]),
        (vec![65_540, 1, 2], vec![65_540, 2, 1]),
        // K = 0: no K chunk runs, the output is all zeros (numpy's empty sum).
        (vec![2, 3, 0], vec![0, 5]),
        // ONNX node tests' shapes: 1-D operands, 4-D, broadcast batch dims in two groups
        // (a over the outer, b over the inner).
        (vec![3], vec![3]),
        (vec![4], vec![2, 4, 1]),
        (vec![1, 2, 3, 4], vec![1, 2, 4, 3]),
        (vec![1, 2, 5, 4], vec![4]),
        (vec![3, 1, 3, 4], vec![1, 2, 4, 2]),
        (vec![2, 3, 1, 2, 5], vec![1, 1, 4, 5, 3]),
    ] {
        MatmulProblem {
            a,
            b,
            seed: 300,
            tiling: None,
        }
        .check();
    }
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
    // Not pointwise: 3x3 kernel, stride 2, padding.
    for spec in [
        ConvSpec::conv2d(3, 3),
        ConvSpec::conv2d(1, 1).stride(2),
        ConvSpec::conv2d(1, 1).pad(1),
    ] {
        assert!(!matmul::is_pointwise(&spec));
        assert!(
            g.encode(matmul::pointwise(
                g.target(),
                &spec,
                &[1, 4, 4, 4],
                &[4, 4, 1, 1],
                e,
                cb
            ))
            .is_err()
        );
    }
    let pw = ConvSpec::conv2d(1, 1);
    // Channel mismatch, groups not dividing, rank mismatch.
    assert!(
        g.encode(matmul::pointwise(
            g.target(),
            &pw,
            &[1, 4, 4, 4],
            &[4, 3, 1, 1],
            e,
            cb
        ))
        .is_err()
    );
    assert!(
        g.encode(matmul::pointwise(
            g.target(),
            &pw.clone().groups(3),
            &[1, 4, 4, 4],
            &[3, 1, 1, 1],
            e,
            cb
        ))
        .is_err()
    );
    assert!(
        g.encode(matmul::pointwise(
            g.target(),
            &pw,
            &[1, 4, 4],
            &[4, 4, 1, 1],
            e,
            cb
        ))
        .is_err()
    );
    // Residual flag without a buffer, and a buffer without the flag.
    let with_res = Epilogue {
        residual: true,
        ..e
    };
    assert!(
        g.encode(matmul::pointwise(
            g.target(),
            &pw,
            &[1, 4, 4, 4],
            &[4, 4, 1, 1],
            with_res,
            cb
        ))
        .is_err()
    );
    let cb_res = ConvBindings {
        residual: Some(r),
        ..cb
    };
    assert!(
        g.encode(matmul::pointwise(
            g.target(),
            &pw,
            &[1, 4, 4, 4],
            &[4, 4, 1, 1],
            e,
            cb_res
        ))
        .is_err()
    );
    // Output binding too small for the shapes.
    let small = g.zeros(&[8]).unwrap();
    let cb_small = ConvBindings {
        output: small.binding(),
        ..cb
    };
    assert!(
        g.encode(matmul::pointwise(
            g.target(),
            &pw,
            &[1, 4, 4, 4],
            &[4, 4, 1, 1],
            e,
            cb_small
        ))
        .is_err()
    );
    // Linear: rank, feature mismatch.
    assert!(
        g.encode(matmul::linear(
            g.target(),
            &[2, 3, 4],
            &[5, 4],
            Activation::Identity,
            r,
            r,
            None,
            r
        ))
        .is_err()
    );
    assert!(
        g.encode(matmul::linear(
            g.target(),
            &[2, 3],
            &[5, 4],
            Activation::Identity,
            r,
            r,
            None,
            r
        ))
        .is_err()
    );
    // MatMul: inner mismatch, batches 2 vs 3, batch dims broadcasting in three alternating
    // groups (beyond the two-level batched GEMM).
    assert!(
        g.encode(matmul::matmul(g.target(), &[2, 3], &[4, 5], r, r, r))
            .is_err()
    );
    assert!(
        g.encode(matmul::matmul(g.target(), &[2, 3, 4], &[3, 4, 5], r, r, r))
            .is_err()
    );
    let e = g
        .encode(matmul::matmul(
            g.target(),
            &[2, 1, 2, 1, 1],
            &[1, 2, 1, 1, 1],
            r,
            r,
            r,
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("alternating"), "{e}");
    // References agree on the rejections.
    let t = |s: &[usize]| Tensor::zeros(s.to_vec());
    assert!(reference::matmul::matmul(&t(&[2, 3, 4]), &t(&[3, 4, 5])).is_err());
    assert!(reference::matmul::linear(&t(&[2, 3]), &t(&[5, 4]), None).is_err());
    assert!(reference::matmul::pointwise(&t(&[1, 4, 2]), &t(&[3, 1, 1]), None, 3).is_err());
}
