//! The GEMM kernel's bounds proof (`shaders/matmul.wgsl` is trusted): the builder's launches
//! over randomized shapes, tilings, variants (aligned, split-K, bias, residual, input scale)
//! and precisions pass `check_trusted` with every binding exactly as large as it must be, and
//! fail it, naming the binding, with any of them one element short; tampered launches are
//! refused at dispatch.

use proptest::prelude::*;
use wgconv::device::{BufRef, ShaderChecks};
use wgconv::kernels::bounds::check_trusted;
use wgconv::kernels::matmul::{self, GemmTiling};
use wgconv::kernels::{Binding, ConvBindings, Launch, Target};
use wgconv::ops::{Activation, ConvSpec, Epilogue};
use wgconv::precision::Precision;
use wgconv::{Gpu, GpuOptions};

use crate::common::gpu;
use crate::matmul::big_tilings;

/// What a pointwise GEMM launch binds: which optional inputs, and split-K's splits.
#[derive(Clone, Copy, Debug)]
struct Variant {
    bias: bool,
    residual: bool,
    scale: bool,
    splits: Option<u32>,
}

/// Binding `i` of `l` named as the proof's refusals name it, with its element size.
fn named(i: usize, p: Precision) -> (&'static str, usize) {
    let names = ["a", "b", "bias", "residual", "c", "partial", "b_scale"];
    let unit = if i == 5 {
        p.acc_bytes()
    } else {
        p.elem_bytes()
    };
    (names[i], unit)
}

/// `check_trusted` accepts `l` (whose bindings `used` are exactly as large as the shapes
/// need) and refuses it, naming the binding, with any one of them an element short.
fn tight(l: &Launch<BufRef<'_>>, used: &[usize], p: Precision) {
    check_trusted(l, p).unwrap_or_else(|e| panic!("{p:?} {:?}: {e}", l.constants));
    for &i in used {
        let (name, unit) = named(i, p);
        let mut short = l.clone();
        short.bindings[i] = short.bindings[i].resized(short.bindings[i].size() - unit as u64);
        let err = check_trusted(&short, p).expect_err(name);
        assert!(
            err.to_string().contains(&format!("{name} binding")),
            "{name}: {err}"
        );
    }
}

/// A pointwise convolution `[n, c, hw]` -> `[n, o, hw]` in `groups` through the builder, on
/// bindings exactly as large as its tensors, checked by [`tight`]; returns whether it ran
/// the aligned variant.
#[allow(clippy::too_many_arguments)]
fn pointwise_case(
    buf: &wgpu::Buffer,
    target: &Target,
    (n, c, o, hw, groups): (usize, usize, usize, usize, usize),
    v: Variant,
    tiling: Option<GemmTiling>,
) -> bool {
    let p = target.precision;
    let bytes = |elems: usize, unit: usize| BufRef {
        buffer: buf,
        offset: 0,
        size: (elems * unit) as u64,
    };
    let e = p.elem_bytes();
    let spec = ConvSpec::conv2d(1, 1).groups(groups);
    let input_shape = [n, c, hw, 1];
    let weight_shape = [o, c / groups, 1, 1];
    let (input, weight) = (bytes(n * c * hw, e), bytes(o * c / groups, e));
    let scale = v.scale.then(|| bytes(n * c, e));
    let (launch, mut used) = match v.splits {
        Some(s) => {
            let partial = bytes(s as usize * n * o * hw, p.acc_bytes());
            let l = matmul::pointwise_partial(
                target,
                &spec,
                &input_shape,
                &weight_shape,
                (input, scale),
                weight,
                partial,
                tiling,
                s,
            );
            (l, vec![0, 1, 5])
        }
        None => {
            let epilogue = Epilogue {
                residual: v.residual,
                input_scale: v.scale,
                ..Epilogue::default()
            };
            let b = ConvBindings {
                input,
                weight,
                bias: v.bias.then(|| bytes(o, e)),
                residual: v.residual.then(|| bytes(n * o * hw, e)),
                input_scale: scale,
                output: bytes(n * o * hw, e),
            };
            let l = matmul::pointwise_tiled(
                target,
                &spec,
                &input_shape,
                &weight_shape,
                epilogue,
                b,
                tiling,
            );
            (l, vec![0, 1, 4])
        }
    };
    let launch = launch.unwrap_or_else(|e| panic!("{v:?}: {e}"));
    let optional = [
        (v.bias && v.splits.is_none(), 2),
        (v.residual && v.splits.is_none(), 3),
        (v.scale, 6),
    ];
    used.extend(optional.iter().filter(|o| o.0).map(|o| o.1));
    tight(&launch, &used, p);
    launch.constants.contains(&("ALIGNED", 1.0))
}

fn targets() -> Vec<Target> {
    Precision::ALL
        .map(|precision| Target {
            precision,
            ..gpu().target().clone()
        })
        .to_vec()
}

/// A buffer the launches' (never dispatched) bindings point into.
fn scratch() -> wgconv::GpuTensor {
    gpu().zeros(&[1 << 18]).unwrap()
}

/// Whole-tile shapes take the aligned variant (plain and split-K); their launches are tight
/// too, in every precision.
#[test]
fn aligned_matmul_launches_are_tight() {
    let scratch = scratch();
    let buf = scratch.buffer();
    let square = GemmTiling::new(16, 16);
    let every = Variant {
        bias: true,
        residual: true,
        scale: true,
        splits: None,
    };
    for target in targets() {
        for tiling in std::iter::once(square).chain(big_tilings()) {
            let side = tiling.tile_m().max(tiling.tile_n()) as usize;
            let shape = (2, 64, side, side, 1);
            assert!(pointwise_case(buf, &target, shape, every, Some(tiling)));
            let split = Variant {
                splits: Some(2),
                ..every
            };
            assert!(pointwise_case(buf, &target, shape, split, Some(tiling)));
        }
    }
}

/// Linear and broadcast MatMul launches are tight (weights read transposed, batch strides 0).
#[test]
fn linear_and_matmul_launches_are_tight() {
    let scratch = scratch();
    let buf = scratch.buffer();
    for target in targets() {
        let p = target.precision;
        let e = p.elem_bytes();
        let bytes = |elems: usize| BufRef {
            buffer: buf,
            offset: 0,
            size: (elems * e) as u64,
        };
        for (rows, k, m) in [(1, 1, 1), (3, 17, 5), (64, 32, 64), (33, 70, 9)] {
            let l = matmul::linear(
                &target,
                &[rows, k],
                &[m, k],
                Activation::Relu,
                bytes(rows * k),
                bytes(m * k),
                Some(bytes(m)),
                bytes(rows * m),
            )
            .unwrap();
            tight(&l, &[0, 1, 2, 4], p);
        }
        for (a, b, out) in [
            (vec![2, 1, 5, 7], vec![3, 7, 4], 2 * 3 * 5 * 4),
            (vec![4, 3, 9], vec![9, 6], 4 * 3 * 6),
            (vec![2, 64, 32], vec![2, 32, 64], 2 * 64 * 64),
        ] {
            let n = |s: &[usize]| s.iter().product::<usize>();
            let l =
                matmul::matmul(&target, &a, &b, bytes(n(&a)), bytes(n(&b)), bytes(out)).unwrap();
            tight(&l, &[0, 1, 4], p);
        }
    }
}

fn device(shader_checks: ShaderChecks) -> Gpu {
    Gpu::with_options(&GpuOptions {
        backends: Some(wgpu::Backends::VULKAN),
        shader_checks,
        ..Default::default()
    })
    .expect("a Vulkan adapter (lavapipe in CI)")
}

/// Sets `Params` field `field` (4-byte words) of a launch to `value`.
fn set_field(launch: &mut Launch<BufRef<'_>>, field: usize, value: u32) {
    launch.params[field * 4..field * 4 + 4].copy_from_slice(&value.to_le_bytes());
}

fn set_constant(launch: &mut Launch<BufRef<'_>>, name: &str, value: f64) {
    launch.constants.iter_mut().find(|c| c.0 == name).unwrap().1 = value;
}

/// Tampered GEMM launches (Params or overrides past what the bindings hold) are refused at
/// dispatch when the module is unchecked, naming the binding; a checked module runs them.
#[test]
fn dispatch_refuses_tampered_matmul_launches() {
    type Tamper = fn(&mut Launch<BufRef<'_>>);
    for mode in [ShaderChecks::Trusted, ShaderChecks::Checked] {
        let g = device(mode);
        let t = g.target();
        let buf = g.zeros(&[4, 4]).unwrap();
        let m = buf.binding();
        let mm = || matmul::matmul(t, &[4, 4], &[4, 4], m, m, m).unwrap();
        let spec = ConvSpec::conv2d(1, 1);
        let scaled = || {
            let epilogue = Epilogue {
                input_scale: true,
                ..Epilogue::default()
            };
            let b = ConvBindings {
                input: m,
                weight: m,
                bias: None,
                residual: None,
                input_scale: Some(m),
                output: m,
            };
            matmul::pointwise(t, &spec, &[2, 4, 1, 2], &[4, 4, 1, 1], epilogue, b).unwrap()
        };
        let split = || {
            matmul::pointwise_partial(
                t,
                &spec,
                &[1, 2, 2, 2],
                &[2, 2, 1, 1],
                (m, None),
                m,
                m,
                None,
                2,
            )
            .unwrap()
        };
        // Every binding holds 16 elements.
        let cases: Vec<(Launch<BufRef<'_>>, Tamper, &str)> = vec![
            // Rows (field 0) from 4 to 5: A [5, 4].
            (
                mm(),
                |l| set_field(l, 0, 5),
                "a binding holds 16 elements, the kernel reaches 20",
            ),
            // B's row stride (field 11) from 4 to 5: 3 * 5 + 3 + 1.
            (
                mm(),
                |l| set_field(l, 11, 5),
                "b binding holds 16 elements, the kernel reaches 19",
            ),
            // C's column stride (field 16) from 1 to 2: 3 * 4 + 3 * 2 + 1.
            (
                mm(),
                |l| set_field(l, 16, 2),
                "c binding holds 16 elements, the kernel reaches 19",
            ),
            // The aligned variant on a 4x4 problem would read whole 16x16 tiles.
            (
                mm(),
                |l| set_constant(l, "ALIGNED", 1.0),
                "ALIGNED needs K 4",
            ),
            // A workgroup side that is not a power of two breaks the tiles' swizzle.
            (
                mm(),
                |l| set_constant(l, "WG_X", 3.0),
                "WG_X 3 is not allowed",
            ),
            // The input scale's image stride (s_bo, field 24) from 4 to 16: 2 images, 4 channels.
            (
                scaled(),
                |l| set_field(l, 24, 16),
                "b_scale binding holds 16 elements, the kernel reaches 20",
            ),
            // Split-K's splits (field 22) from 2 to 3: a third slice of 8 partial sums.
            (
                split(),
                |l| set_field(l, 22, 3),
                "partial binding holds 16 elements, the kernel reaches 24",
            ),
        ];
        for (mut launch, tamper, want) in cases {
            assert!(g.dispatch(&launch).is_ok(), "{mode}: untampered {want}");
            tamper(&mut launch);
            match (mode, g.dispatch(&launch)) {
                (ShaderChecks::Trusted, Err(e)) => assert!(e.to_string().contains(want), "{e}"),
                (ShaderChecks::Checked, Ok(_)) => {}
                (_, r) => panic!("{mode}: {want}: {r:?}"),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Randomized pointwise GEMMs: odd sizes, groups, batch > 1, one channel, every variant,
    /// tiling and precision.
    #[test]
    fn random_matmul_launches_are_tight(
        n in 1usize..4, cg in 1usize..40, og in 1usize..40, groups in 1usize..4,
        hw in 1usize..80, bias: bool, residual: bool, scale: bool,
        splits in prop::option::of(1u32..5), t in 0usize..9, prec in 0usize..3,
    ) {
        let mut tilings = vec![None, Some(GemmTiling::new(4, 4)), Some(GemmTiling::new(8, 16))];
        tilings.extend(big_tilings().into_iter().map(Some));
        let target = &targets()[prec];
        let v = Variant { bias, residual, scale, splits };
        pointwise_case(scratch().buffer(), target, (n, cg * groups, og * groups, hw, groups), v, tilings[t % tilings.len()]);
    }
}
