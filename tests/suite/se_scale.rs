//! Squeeze-excitation's channel scale applied by the pointwise GEMM as it stages its B operand
//! (`Epilogue::input_scale`, `HAS_B_SCALE` in matmul.wgsl) against the CPU reference of
//! `conv(x * s)`, and the graph rewrite that uses it (`passes::fuse_se_scale`).

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::graph::{Conv2d, Graph, Op, Rewrites, ValueId, passes};
use wgconv::kernels::algorithm::{self, ConvAlgorithm};
use wgconv::kernels::conv::ConvTiling;
use wgconv::kernels::matmul::GemmTiling;
use wgconv::kernels::{ConvBindings, Launch};
use wgconv::ops::{Activation, ConvSpec, Epilogue};
use wgconv::plan::{self, PlanOptions};
use wgconv::reference;
use wgconv::session::{Session, SessionOptions};
use wgconv::shaders::Shader;
use wgconv::tensor::Tensor;
use wgconv::{Gpu, GpuTensor, Result, blocks, zoo};

use crate::common::{assert_close, gpu};
use crate::graph::{check_on_device, initialised, network_tolerance};
use crate::matmul::{big_tilings, epilogue_ref};

/// A 1x1 convolution of `x` `[n, c, h, w]` scaled per (image, channel) by `s` `[n, c, 1, 1]`.
/// The graph pass makes only ungrouped ones; the kernel takes any groups.
#[derive(Clone, Debug)]
pub struct ScaledProblem {
    pub n: usize,
    pub c: usize,
    pub o: usize,
    pub groups: usize,
    pub hw: [usize; 2],
    pub bias: bool,
    pub residual: bool,
    pub act: Activation,
    pub seed: u64,
    /// `Gemm` or `GemmSplitK`.
    pub algorithm: ConvAlgorithm,
}

/// The operands of a [`ScaledProblem`]: x, s, weight, bias, residual.
pub struct ScaledData {
    pub x: Tensor,
    pub s: Tensor,
    pub w: Tensor,
    pub bias: Tensor,
    pub res: Tensor,
}

impl ScaledProblem {
    pub fn spec(&self) -> ConvSpec {
        ConvSpec::new(&[1, 1]).groups(self.groups)
    }

    pub fn shapes(&self) -> [Vec<usize>; 3] {
        let [h, w] = self.hw;
        [
            vec![self.n, self.c, h, w],
            vec![self.o, self.c / self.groups, 1, 1],
            vec![self.n, self.o, h, w],
        ]
    }

    pub fn data(&self) -> ScaledData {
        let [xs, ws, ys] = self.shapes();
        ScaledData {
            x: Tensor::random(xs, self.seed),
            // Gates lie in (0, 1); the random values' sign only widens the test.
            s: Tensor::random(vec![self.n, self.c, 1, 1], self.seed + 1),
            w: Tensor::random(ws, self.seed + 2),
            bias: Tensor::random(vec![self.o], self.seed + 3),
            res: Tensor::random(ys, self.seed + 4),
        }
    }

    fn epilogue(&self) -> Epilogue {
        Epilogue {
            activation: self.act,
            residual: self.residual,
            input_scale: true,
        }
    }

    /// The launches on `g` (in its precision) with every operand uploaded.
    pub fn launches<'a>(
        &self,
        g: &Gpu,
        bufs: &'a [GpuTensor],
        scratch: &'a [GpuTensor],
        out: &'a GpuTensor,
    ) -> Result<Vec<Launch<wgconv::device::BufRef<'a>>>> {
        let [xs, ws, _] = self.shapes();
        algorithm::conv_with(
            g.target(),
            &self.algorithm,
            &self.spec(),
            &xs,
            &ws,
            self.epilogue(),
            ConvBindings {
                input: bufs[0].binding(),
                weight: bufs[2].binding(),
                bias: self.bias.then(|| bufs[3].binding()),
                residual: self.residual.then(|| bufs[4].binding()),
                input_scale: Some(bufs[1].binding()),
                output: out.binding(),
            },
            &scratch.iter().map(|t| t.binding()).collect::<Vec<_>>(),
        )
    }

    /// Runs on `g` (in its precision); also returns whether the GEMM ran unchecked (aligned).
    pub fn run_on(&self, g: &Gpu, d: &ScaledData) -> (Tensor, bool) {
        let [xs, ws, ys] = self.shapes();
        let bufs: Vec<GpuTensor> = [&d.x, &d.s, &d.w, &d.bias, &d.res]
            .iter()
            .map(|t| g.upload(t).unwrap())
            .collect();
        let p = g.precision();
        let scratch: Vec<GpuTensor> =
            algorithm::scratch_bytes(&self.algorithm, &self.spec(), &xs, &ws, p)
                .unwrap()
                .into_iter()
                .map(|b| g.zeros(&[(b as usize).div_ceil(p.elem_bytes())]).unwrap())
                .collect();
        let out = g.zeros(&ys).unwrap();
        let launches = self
            .launches(g, &bufs, &scratch, &out)
            .unwrap_or_else(|e| panic!("{self:?}: {e}"));
        assert_eq!(launches.len(), self.algorithm.dispatch_count());
        let aligned = launches[0].constants.contains(&("ALIGNED", 1.0));
        assert!(launches[0].constants.contains(&("HAS_B_SCALE", 1.0)));
        let ds = g.encode(Ok(launches)).unwrap();
        g.submit(&ds.iter().collect::<Vec<_>>()).unwrap();
        (g.download(&out).unwrap(), aligned)
    }

    /// `act(conv(xs, w) + bias + residual)` on the CPU, `xs` the scaled input.
    pub fn reference(&self, d: &ScaledData, xs: &Tensor) -> Tensor {
        let bias = self.bias.then_some(&d.bias);
        let pre = reference::matmul::pointwise(xs, &d.w, bias, self.groups).unwrap();
        epilogue_ref(&pre, self.residual.then_some(&d.res), self.act)
    }

    /// Checks the f32 kernel against the reference of `conv(x * s)` (the product rounded to
    /// f32 as the graph's Mul rounds it); returns whether it ran aligned.
    pub fn check(&self) -> bool {
        let d = self.data();
        let (got, aligned) = self.run_on(gpu(), &d);
        let want = self.reference(&d, &scale(&d.x, &d.s, |v| v));
        assert_close(
            &format!("{self:?}"),
            &got,
            &want,
            Tolerance::accumulation(self.c / self.groups + 2),
        );
        aligned
    }
}

/// `x[n, c, ..] * s[n, c]`, each product passed through `round`.
pub fn scale(x: &Tensor, s: &Tensor, round: impl Fn(f32) -> f32) -> Tensor {
    let plane: usize = x.shape()[2..].iter().product();
    let data = x
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| round(v * s.data()[i / plane]))
        .collect();
    Tensor::new(x.shape().to_vec(), data).unwrap()
}

/// The heuristic's tiling, small ones, and the big ones; split-K over 2-3 ranges on some.
fn scaled_algorithm() -> impl Strategy<Value = Option<ConvAlgorithm>> {
    let mut tilings = vec![GemmTiling::new(4, 4), GemmTiling::new(8, 16)];
    tilings.extend(big_tilings());
    let mut all: Vec<Option<ConvAlgorithm>> = vec![None];
    all.extend(tilings.iter().map(|&t| Some(ConvAlgorithm::Gemm(t))));
    for splits in [2, 3] {
        all.extend(
            tilings[..3]
                .iter()
                .map(|&tiling| Some(ConvAlgorithm::GemmSplitK { tiling, splits })),
        );
    }
    prop::sample::select(all)
}

fn activation() -> impl Strategy<Value = Activation> {
    (0usize..Activation::well_conditioned().len()).prop_map(|i| Activation::well_conditioned()[i])
}

prop_compose! {
    /// Batch 1-3, groups 1-3, one to 40 channels per group each way (across the 16/32-long K
    /// chunks), odd maps.
    pub fn scaled_problem()(
        n in 1usize..=3, groups in prop_oneof![3 => Just(1usize), 1 => 2usize..=3],
        cg in 1usize..=40, og in 1usize..=40, h in 1usize..=9, w in 1usize..=9,
        bias in any::<bool>(), residual in any::<bool>(), act in activation(),
        seed in 0u64..1000, algorithm in scaled_algorithm(),
    ) -> ScaledProblem {
        let (c, o) = (cg * groups, og * groups);
        let spec = ConvSpec::new(&[1, 1]).groups(groups);
        let algorithm = algorithm
            .filter(|a| a.supports(&spec, &[n, c, h, w], &[o, cg, 1, 1]).is_ok())
            .unwrap_or_else(|| {
                algorithm::single_pass_with(&spec, &[n, c, h, w], &[o, cg, 1, 1], &Epilogue {
                    input_scale: true,
                    ..Epilogue::default()
                })
            });
        ScaledProblem { n, c, o, groups, hw: [h, w], bias, residual, act, seed, algorithm }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_scaled_pointwise(p in scaled_problem()) {
        p.check();
    }
}

/// Pinned: the aligned (unchecked) variant, its split-K, and unaligned M, N and K, one channel.
#[test]
fn scaled_pointwise_pinned() {
    let base = ScaledProblem {
        n: 2,
        c: 32,
        o: 64,
        groups: 1,
        hw: [8, 8],
        bias: true,
        residual: true,
        act: Activation::Silu,
        seed: 7,
        algorithm: ConvAlgorithm::Gemm(GemmTiling::new(16, 16)),
    };
    assert!(
        base.check(),
        "64x64 tiles over M = N = 64, K = 32 run aligned"
    );
    let split = ScaledProblem {
        algorithm: ConvAlgorithm::GemmSplitK {
            tiling: GemmTiling::new(16, 16),
            splits: 2,
        },
        ..base.clone()
    };
    assert!(split.check(), "two 16-long ranges of K = 32 run aligned");
    // Unaligned M, N and K, one channel, and groups (the scale indexed by (image, group)).
    for (c, o, groups, hw) in [
        (33, 65, 1, [9, 7]),
        (1, 5, 1, [3, 3]),
        (17, 1, 1, [1, 1]),
        (12, 9, 3, [5, 4]),
    ] {
        let p = ScaledProblem {
            c,
            o,
            groups,
            hw,
            bias: false,
            residual: false,
            act: Activation::Identity,
            ..base.clone()
        };
        assert!(!p.check(), "{p:?} runs checked");
    }
}

/// Kernels that cannot scale their input, and mismatched bindings, are typed errors.
#[test]
fn input_scale_refusals() {
    let g = gpu();
    let p = ScaledProblem {
        n: 1,
        c: 8,
        o: 8,
        groups: 1,
        hw: [4, 4],
        bias: false,
        residual: false,
        act: Activation::Identity,
        seed: 3,
        algorithm: ConvAlgorithm::Implicit(ConvTiling::default()),
    };
    let d = p.data();
    let bufs: Vec<GpuTensor> = [&d.x, &d.s, &d.w, &d.bias, &d.res]
        .iter()
        .map(|t| g.upload(t).unwrap())
        .collect();
    let out = g.zeros(&p.shapes()[2]).unwrap();
    let e = p.launches(g, &bufs, &[], &out).unwrap_err().to_string();
    assert!(e.contains("cannot scale"), "{e}");
    // The scale binding must hold [N, C].
    let short = g.zeros(&[7]).unwrap();
    let [xs, ws, _] = p.shapes();
    let gemm = ConvAlgorithm::Gemm(GemmTiling::new(4, 4));
    let run = |e: Epilogue, scale: Option<&GpuTensor>| {
        let b = ConvBindings {
            input: bufs[0].binding(),
            weight: bufs[2].binding(),
            bias: None,
            residual: None,
            input_scale: scale.map(|t| t.binding()),
            output: out.binding(),
        };
        algorithm::conv_with(g.target(), &gemm, &p.spec(), &xs, &ws, e, b, &[])
            .unwrap_err()
            .to_string()
    };
    let e = run(p.epilogue(), Some(&short));
    assert!(e.contains("input scale"), "{e}");
    let e = run(p.epilogue(), None);
    assert!(e.contains("no scale buffer"), "{e}");
    let e = run(Epilogue::default(), Some(&bufs[1]));
    assert!(e.contains("does not scale"), "{e}");
}

/// SE (gate computed from `x`) then a 1x1 projection to `o` channels; the Mul's operands in
/// either order.
fn se_then_project(input: [usize; 4], o: usize, gate_first: bool) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &input);
    let c = input[1];
    let s = g.global_avg_pool(x).unwrap();
    let s = g
        .conv2d(s, "se.fc1", Conv2d::new(c.div_ceil(4), 1))
        .unwrap();
    let s = g.act(s, Activation::Silu).unwrap();
    let s = g.conv2d(s, "se.fc2", Conv2d::new(c, 1)).unwrap();
    let s = g.act(s, Activation::Sigmoid).unwrap();
    let y = if gate_first {
        g.mul(s, x).unwrap()
    } else {
        g.mul(x, s).unwrap()
    };
    let z = g.conv2d(y, "project", Conv2d::new(o, 1)).unwrap();
    g.output(z);
    g
}

fn count(g: &Graph, f: impl Fn(&Op) -> bool) -> usize {
    g.nodes().iter().filter(|n| f(&n.op)).count()
}

fn scaled(g: &Graph) -> usize {
    count(g, |op| op.input_scale_input().is_some())
}

fn muls(g: &Graph) -> usize {
    count(g, |op| op.kind() == "mul")
}

fn without_se_scale() -> Rewrites {
    Rewrites {
        se_scale: false,
        ..Rewrites::ALL
    }
}

/// The device output of `g` optimized with `rewrites` (run as given, not optimized again).
fn session_output(g: &Graph, rewrites: &Rewrites, inputs: &[Tensor]) -> (Tensor, usize) {
    let h = passes::optimize_with(g, rewrites).unwrap();
    let options = SessionOptions {
        optimize: false,
        ..Default::default()
    };
    let s = Session::with_options(gpu(), &h, options).unwrap();
    (s.run(inputs).unwrap().remove(0), s.dispatch_count())
}

/// The pass fires on SE followed by a 1x1 convolution (either operand order): the Mul is gone,
/// SE plus projection take 2 dispatches (gate, GEMM), and the session matches the CPU
/// reference and the session of the unfused graph.
#[test]
fn se_scale_fuses_into_the_projection() {
    for (input, gate_first) in [([2, 24, 5, 5], false), ([1, 16, 7, 3], true)] {
        let (g, inputs) = initialised(se_then_project(input, 12, gate_first), 21);
        let h = passes::optimize(&g).unwrap();
        assert_eq!((scaled(&h), muls(&h)), (1, 0), "{}", h.describe());
        let kernels: Vec<Shader> = plan::plan(&h)
            .unwrap()
            .launches()
            .map(|l| l.shader)
            .collect();
        assert_eq!(
            kernels,
            [Shader::SeGate, Shader::Matmul],
            "{}",
            h.describe()
        );
        let (got, _) = check_on_device("SE + projection", &g, &inputs);
        let (unfused, n) = session_output(&g, &without_se_scale(), &inputs);
        assert_eq!(n, 3, "unfused: gate, Mul, GEMM");
        assert_close(
            "fused vs unfused",
            &got[0],
            &unfused,
            network_tolerance(&g, &inputs),
        );
    }
}

/// Any `[N, C, 1, 1]` operand is a gate (here a graph input), and the pass honours
/// `Rewrites::se_scale` and `Rewrites::NONE`.
#[test]
fn se_scale_takes_any_gate_and_honours_the_switch() {
    let mut g = Graph::new();
    let x = g.input("x", &[2, 6, 3, 5]);
    let s = g.input("s", &[2, 6, 1, 1]);
    let y = g.mul(s, x).unwrap();
    let z = g.conv2d(y, "c", Conv2d::new(5, 1)).unwrap();
    let z = g.relu(z).unwrap();
    g.output(z);
    let (g, inputs) = initialised(g, 22);
    let h = passes::optimize(&g).unwrap();
    assert_eq!((scaled(&h), muls(&h)), (1, 0), "{}", h.describe());
    for off in [without_se_scale(), Rewrites::NONE] {
        let h = passes::optimize_with(&g, &off).unwrap();
        assert_eq!((scaled(&h), muls(&h)), (0, 1), "{}", h.describe());
    }
    let (_, n) = check_on_device("gate input", &g, &inputs);
    assert_eq!(n, 1);
}

/// The pass leaves the Mul alone when its product is read elsewhere (another reader, a graph
/// output), when the convolution is not a dense pointwise one, and when the small operand is
/// not `[N, C, 1, 1]` of the map.
#[test]
fn se_scale_declines() {
    type Build = fn(&mut Graph, ValueId, ValueId) -> Result<ValueId>;
    let cases: [(&str, [usize; 4], Build); 6] = [
        ("second reader", [2, 6, 1, 1], |g, x, s| {
            let y = g.mul(x, s)?;
            let a = g.conv2d(y, "a", Conv2d::new(4, 1))?;
            let b = g.conv2d(y, "b", Conv2d::new(4, 1))?;
            g.add_values(a, b)
        }),
        ("graph output", [2, 6, 1, 1], |g, x, s| {
            let y = g.mul(x, s)?;
            g.output(y);
            g.conv2d(y, "a", Conv2d::new(4, 1))
        }),
        ("3x3", [2, 6, 1, 1], |g, x, s| {
            let y = g.mul(x, s)?;
            g.conv2d(y, "a", Conv2d::new(4, 3).pad(1))
        }),
        ("strided", [2, 6, 1, 1], |g, x, s| {
            let y = g.mul(x, s)?;
            g.conv2d(y, "a", Conv2d::new(4, 1).stride(2))
        }),
        ("grouped", [2, 6, 1, 1], |g, x, s| {
            let y = g.mul(x, s)?;
            g.conv2d(y, "a", Conv2d::new(4, 1).groups(2))
        }),
        ("per-channel only", [1, 6, 1, 1], |g, x, s| {
            let y = g.mul(x, s)?;
            g.conv2d(y, "a", Conv2d::new(4, 1))
        }),
    ];
    for (what, gate, f) in cases {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 6, 4, 4]);
        let s = g.input("s", &gate);
        let z = f(&mut g, x, s).unwrap();
        g.output(z);
        let (g, inputs) = initialised(g, 23);
        let h = passes::optimize(&g).unwrap();
        assert_eq!((scaled(&h), muls(&h)), (0, 1), "{what}: {}", h.describe());
        check_on_device(what, &g, &inputs);
    }
}

/// The seeds' MBConv: its SE scale moves into the projection.
#[test]
fn mbconv_block_fuses() {
    let mut g = Graph::new();
    let x = g.input("x", &[2, 8, 5, 5]);
    let y = blocks::mb_conv(&mut g, x, "", 8, 4, 4).unwrap();
    g.output(y);
    let (g, inputs) = initialised(g, 24);
    let h = passes::optimize(&g).unwrap();
    assert_eq!((scaled(&h), muls(&h)), (1, 0), "{}", h.describe());
    let (_, fused) = check_on_device("MBConv", &g, &inputs);
    let (_, unfused) = session_output(&g, &without_se_scale(), &inputs);
    assert_eq!(fused + 1, unfused);
}

/// EfficientNet-B0 has 16 SE blocks, each before a 1x1 projection: 16 fewer dispatches, and
/// the planner keeps each scaled projection on a pointwise GEMM algorithm.
#[test]
fn efficientnet_b0_drops_one_dispatch_per_se_block() {
    let g = zoo::build("efficientnet_b0", &[1, 3, 224, 224]).unwrap();
    let fused = passes::optimize(&g).unwrap();
    let unfused = passes::optimize_with(&g, &without_se_scale()).unwrap();
    assert_eq!(scaled(&fused), 16);
    assert_eq!(muls(&unfused) - muls(&fused), 16);
    let p = plan::plan(&fused).unwrap();
    let q = plan::plan(&unfused).unwrap();
    assert_eq!(q.dispatch_count() - p.dispatch_count(), 16);
    for step in &p.steps {
        if fused.node(step.node).op.input_scale_input().is_some() {
            assert!(step.algorithm.unwrap().takes_input_scale(), "{step:?}");
        }
    }
}

/// An override that cannot scale the input is refused, naming the node; a GEMM one is taken.
#[test]
fn scaled_node_overrides() {
    let g = passes::optimize(&se_then_project([1, 16, 6, 6], 8, false)).unwrap();
    let id = (0..g.nodes().len())
        .map(wgconv::graph::NodeId)
        .find(|&i| g.node(i).op.input_scale_input().is_some())
        .unwrap();
    let with = |a: ConvAlgorithm| PlanOptions {
        algorithms: [(id, a)].into_iter().collect(),
        ..Default::default()
    };
    let target = plan::default_target();
    let implicit = with(ConvAlgorithm::Implicit(ConvTiling::default()));
    let e = plan::lower(&g, &target, &implicit).unwrap_err().to_string();
    assert!(e.contains("project") && e.contains("cannot scale"), "{e}");
    let split = with(ConvAlgorithm::GemmSplitK {
        tiling: GemmTiling::new(4, 4),
        splits: 2,
    });
    plan::lower(&g, &target, &split).unwrap();
}

/// A scaled projection beyond the binding limit is split (batch ranges; or per image
/// input-channel chunks, each scaling the channels it reads) and matches the unsplit session
/// and the CPU reference.
#[test]
fn scaled_projection_splits() {
    // 192 KiB in 48 KiB images: batch ranges; one 140 KiB image: input-channel chunks.
    for (what, input) in [("batch", [4, 12, 32, 32]), ("K chunks", [1, 40, 29, 31])] {
        let mut g = Graph::new();
        let x = g.input("x", &input);
        let s = g.input("s", &[input[0], input[1], 1, 1]);
        let y = g.mul(x, s).unwrap();
        let z = g.conv2d(y, "project", Conv2d::new(12, 1)).unwrap();
        let z = g.relu(z).unwrap();
        g.output(z);
        assert_eq!(scaled(&passes::optimize(&g).unwrap()), 1);
        crate::big_tensors::check(what, g);
    }
}

/// A channel shuffle read by a scaled convolution stays: folding it into the weights alone
/// would pair the gate's channels with the wrong inputs.
#[test]
fn shuffle_before_a_scaled_conv_is_not_folded() {
    let mut g = Graph::new();
    let x = g.input("x", &[2, 6, 3, 3]);
    let s = g.input("s", &[2, 6, 1, 1]);
    let y = g.channel_shuffle(x, 2).unwrap();
    let y = g.mul(y, s).unwrap();
    let z = g.conv2d(y, "c", Conv2d::new(4, 1)).unwrap();
    g.output(z);
    let (g, inputs) = initialised(g, 25);
    let mut h = g.clone();
    passes::fuse_se_scale(&mut h).unwrap();
    passes::fold_channel_shuffles(&mut h).unwrap();
    assert_eq!(scaled(&h), 1);
    assert_eq!(
        count(&h, |op| op.kind() == "channel_shuffle"),
        1,
        "{}",
        h.describe()
    );
    let want = wgconv::graph::cpu::run(&g, &inputs).unwrap();
    let got = wgconv::graph::cpu::run(&h, &inputs).unwrap();
    assert_close("cpu", &got[0], &want[0], network_tolerance(&g, &inputs));
}
