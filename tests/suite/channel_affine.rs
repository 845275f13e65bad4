//! The per-channel affine kernel (unfolded BatchNorm) and SE's excitation kernel against the
//! CPU reference.

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::kernels::channel_affine::{AffineBindings, channel_affine};
use wgconv::kernels::se_gate::{MAX_HIDDEN, SeGateBindings, se_gate};
use wgconv::ops::Activation;
use wgconv::reference;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};

#[derive(Clone, Debug)]
struct AffineProblem {
    shape: Vec<usize>,
    residual: bool,
    act: Activation,
    seed: u64,
}

impl AffineProblem {
    fn check(&self) {
        let g = gpu();
        let c = self.shape[1];
        let x = Tensor::random(self.shape.clone(), self.seed);
        let r = Tensor::random(self.shape.clone(), self.seed + 1);
        let scale = Tensor::random_range(vec![c], self.seed + 2, -2.0, 2.0);
        let shift = Tensor::random(vec![c], self.seed + 3);
        let bufs = upload_all(&[&x, &r, &scale, &shift]);
        let out = g.zeros(&self.shape).unwrap();
        let d = g
            .encode(channel_affine(
                g.target(),
                &self.shape,
                self.act,
                AffineBindings {
                    input: bufs[0].binding(),
                    scale: bufs[2].binding(),
                    shift: bufs[3].binding(),
                    residual: self.residual.then(|| bufs[1].binding()),
                    output: out.binding(),
                },
            ))
            .unwrap();
        let got = run(&d, &out);
        let f = |t: &Tensor| t.data().iter().map(|&v| v as f64).collect::<Vec<_>>();
        let want = reference::channel_affine::channel_affine(
            &x,
            &f(&scale),
            &f(&shift),
            self.residual.then_some(&r),
            self.act,
        )
        .unwrap();
        // One fma, one add and one activation per element: elementwise rounding only.
        assert_close(&format!("{self:?}"), &got, &want, Tolerance::elementwise());
    }
}

fn affine_problem() -> impl Strategy<Value = AffineProblem> {
    (
        1usize..3,
        1usize..9,
        prop::collection::vec(1usize..7, 0..3),
        any::<bool>(),
        prop::sample::select(Activation::well_conditioned()),
        any::<u64>(),
    )
        .prop_map(|(n, c, spatial, residual, act, seed)| {
            let mut shape = vec![n, c];
            shape.extend(spatial);
            AffineProblem {
                shape,
                residual,
                act,
                seed: seed % 1000,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn channel_affine_matches_reference(p in affine_problem()) {
        p.check();
    }
}

/// Pinned: a map bigger than one dispatch row of workgroups, and a 2-D `[N, C]` input.
#[test]
fn channel_affine_pinned() {
    AffineProblem {
        shape: vec![2, 3, 300, 301],
        residual: true,
        act: Activation::Relu,
        seed: 5,
    }
    .check();
    AffineProblem {
        shape: vec![5, 7],
        residual: false,
        act: Activation::Silu,
        seed: 6,
    }
    .check();
}

#[derive(Clone, Debug)]
struct SeProblem {
    batch: usize,
    channels: usize,
    hidden: usize,
    /// Spatial positions of the feature map with the pooling fused; `None`: pooled input.
    spatial: Option<usize>,
    act: Activation,
    seed: u64,
}

impl SeProblem {
    fn check(&self) {
        let g = gpu();
        let (n, c, r) = (self.batch, self.channels, self.hidden);
        let s = self.spatial.unwrap_or(1);
        let p = Tensor::random(vec![n, c, s, 1], self.seed);
        let w1 = Tensor::random(vec![r, c], self.seed + 1);
        let b1 = Tensor::random(vec![r], self.seed + 2);
        let w2 = Tensor::random(vec![c, r], self.seed + 3);
        let b2 = Tensor::random(vec![c], self.seed + 4);
        let bufs = upload_all(&[&p, &w1, &b1, &w2, &b2]);
        let out = g.zeros(&[n, c, 1, 1]).unwrap();
        let d = g
            .encode(se_gate(
                g.target(),
                n,
                c,
                r,
                self.spatial,
                self.act,
                SeGateBindings {
                    input: bufs[0].binding(),
                    w1: bufs[1].binding(),
                    b1: bufs[2].binding(),
                    w2: bufs[3].binding(),
                    b2: bufs[4].binding(),
                    gate: out.binding(),
                },
            ))
            .unwrap();
        let got = run(&d, &out);
        let want = reference::se_gate::se_gate(&p, &w1, &b1, self.act, &w2, &b2).unwrap();
        // The gate sums R terms of hidden units, each a sum of C terms of means of S values:
        // the pooling's and the first layer's errors pass through weights in [-1, 1], R of
        // them.
        let k = (s + c) * r + r;
        assert_close(
            &format!("{self:?}"),
            &got,
            &want,
            Tolerance::accumulation(k),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn se_gate_matches_reference(
        batch in 1usize..4,
        channels in 1usize..300,
        hidden in 1usize..70,
        spatial in prop::option::of(1usize..60),
        act in prop::sample::select(vec![Activation::Relu, Activation::Silu, Activation::Identity]),
        seed in 0u64..1000,
    ) {
        SeProblem { batch, channels, hidden, spatial, act, seed }.check();
    }
}

/// Pinned: EfficientNet-B0's largest SE (1152 channels, 48 hidden), hidden counts around
/// the 32-unit chunk and the 8-lane split, and the fused pooling at B0's 7 x 7 and 14 x 14
/// stages and across more channels than invocations.
#[test]
fn se_gate_pinned() {
    for (c, r, s) in [
        (1152, 48, None),
        (33, 32, None),
        (9, 33, None),
        (1, 1, None),
        (2000, MAX_HIDDEN, None),
        (1152, 48, Some(49)),
        (672, 28, Some(196)),
        (300, 7, Some(5)),
    ] {
        SeProblem {
            batch: 2,
            channels: c,
            hidden: r,
            spatial: s,
            act: Activation::Silu,
            seed: 11,
        }
        .check();
    }
}

#[test]
fn se_gate_rejects_too_many_hidden_units() {
    let g = gpu();
    let t = g.zeros(&[4]).unwrap();
    let b = t.binding();
    let err = g
        .encode(se_gate(
            g.target(),
            1,
            1,
            MAX_HIDDEN + 1,
            None,
            Activation::Relu,
            SeGateBindings {
                input: b,
                w1: b,
                b1: b,
                w2: b,
                b2: b,
                gate: b,
            },
        ))
        .unwrap_err();
    assert!(err.to_string().contains("hidden"), "{err}");
}
