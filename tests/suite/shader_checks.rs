//! Trusted kernels (compiled without runtime bounds checks) against the CPU reference, with
//! every module checked and with the trusted ones unchecked; and the host checks their safety
//! rests on.

use wgconv::compare::Tolerance;
use wgconv::device::{BufRef, ModuleKey, ShaderChecks};
use wgconv::kernels::channel_affine::{AffineBindings, channel_affine};
use wgconv::kernels::conv::{self, ConvTiling};
use wgconv::kernels::convert::{self, Convert};
use wgconv::kernels::se_gate::{SeGateBindings, se_gate};
use wgconv::kernels::winograd::winograd;
use wgconv::kernels::{ConvBindings, Launch, depthwise, eltwise, pad, pool, splitk};
use wgconv::ops::{Activation, BinaryOp, ConvSpec, Epilogue, PoolKind};
use wgconv::precision::Precision;
use wgconv::problem::ConvProblem;
use wgconv::shaders::Shader;
use wgconv::tensor::Tensor;
use wgconv::validate::run_battery;
use wgconv::{Error, Gpu, GpuOptions, reference};

use crate::common::{assert_close, gpu};

fn device(shader_checks: ShaderChecks) -> Gpu {
    Gpu::with_options(&GpuOptions {
        backends: Some(wgpu::Backends::VULKAN),
        shader_checks,
        ..Default::default()
    })
    .expect("a Vulkan adapter (lavapipe in CI)")
}

/// Runs every trusted kernel once on `g` and compares it with the CPU reference.
fn run_trusted_kernels(g: &Gpu) {
    let shape = [2, 3, 5, 7];
    let x = Tensor::random(shape.to_vec(), 1);
    let b = Tensor::random(vec![3, 1, 1], 2);
    let scale = Tensor::random(vec![3], 3);
    let shift = Tensor::random(vec![3], 4);
    let up = |t: &Tensor| g.upload(t).unwrap();
    let (gx, gb, gscale, gshift) = (up(&x), up(&b), up(&scale), up(&shift));
    let out = g.zeros(&shape).unwrap();
    let run = |d: &wgconv::device::Dispatch| {
        g.submit(&[d]).unwrap();
        g.download(&out).unwrap()
    };

    let act = Activation::Sigmoid;
    let d = g
        .encode(eltwise::unary(
            g.target(),
            act,
            gx.binding(),
            out.binding(),
            x.numel(),
        ))
        .unwrap();
    let want = reference::eltwise::unary(act, &x);
    assert_close("unary", &run(&d), &want, Tolerance::elementwise());

    let d = g
        .encode(eltwise::binary(
            g.target(),
            BinaryOp::Mul,
            Activation::Identity,
            (gx.binding(), x.shape()),
            (gb.binding(), b.shape()),
            out.binding(),
        ))
        .unwrap();
    let want = reference::eltwise::binary(BinaryOp::Mul, Activation::Identity, &x, &b).unwrap();
    assert_close("binary", &run(&d), &want, Tolerance::elementwise());

    let cond = Tensor::new(vec![1, 5, 1], vec![1.0, 0.0, 0.0, 1.0, 1.0]).unwrap();
    let d = g
        .encode(eltwise::where_select(
            g.target(),
            (up(&cond).binding(), cond.shape()),
            (gx.binding(), x.shape()),
            (gb.binding(), b.shape()),
            out.binding(),
        ))
        .unwrap();
    let want = reference::eltwise::where_select(&cond, &x, &b).unwrap();
    assert_close("where", &run(&d), &want, Tolerance::elementwise());

    // A storage cast (f32 to f32, words to words): exact.
    let d = g
        .encode(convert::convert(
            g.target(),
            &Convert::cast(Precision::F32, Precision::F32, x.numel()),
            gx.binding(),
            0,
            out.binding(),
            0,
        ))
        .unwrap();
    assert_close("convert", &run(&d), &x, Tolerance::elementwise());

    // SE's gate with the pooling fused: x as [2, 3, 35], 2 hidden units.
    let w = [vec![2, 3], vec![2], vec![3, 2], vec![3]];
    let [w1, b1, w2, b2] = w.map(|s| Tensor::random(s, 5));
    let (gw1, gb1, gw2, gb2) = (up(&w1), up(&b1), up(&w2), up(&b2));
    let gate = g.zeros(&[2, 3, 1, 1]).unwrap();
    let d = g
        .encode(se_gate(
            g.target(),
            2,
            3,
            2,
            Some(35),
            Activation::Relu,
            SeGateBindings {
                input: gx.binding(),
                w1: gw1.binding(),
                b1: gb1.binding(),
                w2: gw2.binding(),
                b2: gb2.binding(),
                gate: gate.binding(),
            },
        ))
        .unwrap();
    g.submit(&[&d]).unwrap();
    let want = reference::se_gate::se_gate(&x, &w1, &b1, Activation::Relu, &w2, &b2).unwrap();
    let tolerance = Tolerance::accumulation((35 + 3) * 2 + 2);
    assert_close("se_gate", &g.download(&gate).unwrap(), &want, tolerance);

    let d = g
        .encode(channel_affine(
            g.target(),
            &shape,
            Activation::Relu,
            AffineBindings {
                input: gx.binding(),
                scale: gscale.binding(),
                shift: gshift.binding(),
                residual: Some(gx.binding()),
                output: out.binding(),
            },
        ))
        .unwrap();
    let f = |t: &Tensor| t.data().iter().map(|&v| v as f64).collect::<Vec<_>>();
    let want = reference::channel_affine::channel_affine(
        &x,
        &f(&scale),
        &f(&shift),
        Some(&x),
        Activation::Relu,
    )
    .unwrap();
    assert_close("channel_affine", &run(&d), &want, Tolerance::elementwise());

    // The implicit-GEMM conv: ragged and padded (every guard on), then whole tiles and chunks
    // inside the input (ALIGNED and IN_RANGE: no guards).
    let ragged = ConvProblem::new(ConvSpec::conv2d(3, 3).pad(1).stride(2), &[2, 5, 9, 7], 6)
        .bias(true)
        .residual(true)
        .act(Activation::Relu);
    let whole = ConvProblem::new(ConvSpec::conv2d(3, 3), &[2, 16, 10, 10], 128);
    for (p, tiling) in [
        (ragged, ConvTiling::big(4, 4, 16)),
        (whole, ConvTiling::big(8, 8, 16)),
    ] {
        let got = p
            .launch_with(g, &p.data().unwrap(), |t, s, i, w, e, b| {
                conv::conv_tiled(t, s, i, w, e, b, Some(tiling))
            })
            .unwrap();
        let tolerance = Tolerance::accumulation(p.k());
        assert_close(
            "conv",
            &got.run(g).unwrap(),
            &p.reference().unwrap(),
            tolerance,
        );
    }
}

/// Both modes give the reference's answers on every trusted kernel and on the validate
/// battery's elementwise cases, and each module is compiled the way its mode says.
#[test]
fn trusted_kernels_match_reference_checked_and_unchecked() {
    assert!(!Shader::TRUSTED.is_empty());
    for mode in [ShaderChecks::Checked, ShaderChecks::Trusted] {
        let g = device(mode);
        assert_eq!(g.shader_checks(), mode);
        run_trusted_kernels(&g);
        for family in [
            "activation",
            "binary",
            "depthwise",
            "pad",
            "global_pool",
            "splitk",
            "winograd",
            "linear",
            "matmul",
        ] {
            let (cases, _) = run_battery(&g, Some(family), &mut |_| {});
            assert!(!cases.is_empty(), "no {family} cases");
            let bad: Vec<_> = cases.iter().filter(|c| !c.passed).collect();
            assert!(bad.is_empty(), "{mode}: {bad:?}");
        }
        let modules = g.pipeline_cache().modules();
        for &shader in Shader::TRUSTED {
            let key = ModuleKey {
                shader,
                precision: Precision::F32,
                bounds_checked: mode == ShaderChecks::Checked,
            };
            assert!(modules.contains(&key), "{mode}: {key:?} not in {modules:?}");
        }
        // Every other kernel, and every module in checked mode, keeps its bounds checks.
        for m in &modules {
            assert_eq!(
                m.bounds_checked,
                mode == ShaderChecks::Checked || !m.shader.trusted(),
                "{mode}: {m:?}"
            );
        }
    }
}

/// The suite's shared device reads `WGCONV_SHADER_CHECKS` (CI also runs it `checked`); an
/// unknown value is a typed error naming the variable.
#[test]
fn setting_parses_and_defaults_to_trusted() {
    assert_eq!(GpuOptions::default().shader_checks, ShaderChecks::Trusted);
    let want = match std::env::var("WGCONV_SHADER_CHECKS").ok().as_deref() {
        Some("checked") => ShaderChecks::Checked,
        _ => ShaderChecks::Trusted,
    };
    assert_eq!(gpu().shader_checks(), want);
    assert_eq!(
        ShaderChecks::parse("Checked").unwrap(),
        ShaderChecks::Checked
    );
    match ShaderChecks::parse("off") {
        Err(Error::InvalidSetting { name, value, .. }) => {
            assert_eq!((name, value.as_str()), ("WGCONV_SHADER_CHECKS", "off"));
        }
        other => panic!("expected InvalidSetting, got {other:?}"),
    }
}

/// The host half of the proof: a trusted kernel refuses a binding smaller than what its
/// indices reach, naming the op and the binding.
#[test]
fn trusted_kernels_refuse_short_bindings() {
    let g = gpu();
    let buf = g.zeros(&[4, 4]).unwrap();
    let short = BufRef {
        size: 15 * 4,
        ..buf.binding()
    };
    let err = eltwise::unary(g.target(), Activation::Relu, buf.binding(), short, 16).unwrap_err();
    assert!(err.to_string().contains("output binding"), "{err}");
    let err = eltwise::binary(
        g.target(),
        BinaryOp::Add,
        Activation::Identity,
        (short, &[4, 4]),
        (buf.binding(), &[4, 1]),
        buf.binding(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("a binding"), "{err}");
    let err = channel_affine(
        g.target(),
        &[1, 4, 4],
        Activation::Identity,
        AffineBindings {
            input: buf.binding(),
            scale: buf.binding(),
            shift: buf.binding(),
            residual: Some(short),
            output: buf.binding(),
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("residual binding"), "{err}");
    let err = eltwise::where_select(
        g.target(),
        (short, &[4, 4]),
        (buf.binding(), &[4, 4]),
        (buf.binding(), &[4, 4]),
        buf.binding(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cond binding"), "{err}");
}

/// Sets `Params` field `field` (4-byte words) of a launch to `value`.
fn set_field(launch: &mut Launch<BufRef<'_>>, field: usize, value: u32) {
    launch.params[field * 4..field * 4 + 4].copy_from_slice(&value.to_le_bytes());
}

/// A launch's fields are public, so the device checks what it binds: per trusted kernel
/// family, a valid launch is accepted, then one whose Params (or constants) reach past a
/// binding is refused at dispatch when its module is unchecked; a checked module's is not.
#[test]
fn dispatch_refuses_tampered_trusted_launches() {
    type Tamper = fn(&mut Launch<BufRef<'_>>);
    for mode in [ShaderChecks::Trusted, ShaderChecks::Checked] {
        let g = device(mode);
        let t = g.target();
        let buf = g.zeros(&[4, 4]).unwrap();
        let m = buf.binding();
        let conv = ConvBindings {
            input: m,
            weight: m,
            bias: Some(m),
            residual: None,
            input_scale: None,
            output: m,
        };
        let dw = ConvSpec::conv2d(1, 1).groups(4);
        let wino = ConvSpec::conv2d(3, 3).pad(1);
        let k3 = ConvSpec::conv2d(3, 3);
        // (launch, tampering, what the refusal says); every binding holds 16 elements.
        let cases: Vec<(Launch<BufRef<'_>>, Tamper, &str)> = vec![
            (
                eltwise::unary(t, Activation::Relu, m, m, 16).unwrap(),
                |l| set_field(l, 0, 17),
                "reaches 17",
            ),
            // b's stride along the last dim (sb5, field 17) from 0 (broadcast) to 5: b then
            // reaches 1 + 3 * 1 + 3 * 5 = 19 elements.
            (
                eltwise::binary(
                    t,
                    BinaryOp::Add,
                    Activation::Identity,
                    (m, &[4, 4]),
                    (m, &[4, 1]),
                    m,
                )
                .unwrap(),
                |l| set_field(l, 17, 5),
                "b binding holds 16 elements, the kernel reaches 19",
            ),
            // Where's y stride along the last dim (sy5, field 23), as above.
            (
                eltwise::where_select(t, (m, &[4, 4]), (m, &[4, 4]), (m, &[4, 1]), m).unwrap(),
                |l| set_field(l, 23, 5),
                "y binding holds 16 elements, the kernel reaches 19",
            ),
            // Pad's innermost input dim (i5, field 13) from 12 to 17.
            (
                pad::pad(t, &[1, 0], &[0, 0], 0.0, &[3, 4], m, m).unwrap(),
                |l| set_field(l, 13, 17),
                "input binding holds 16 elements, the kernel reaches 17",
            ),
            // Global pooling's row length (field 1) from 4 to 5: 4 rows of 5.
            (
                pool::global_pool(t, PoolKind::Avg, &[1, 4, 2, 2], m, m).unwrap(),
                |l| set_field(l, 1, 5),
                "input binding holds 16 elements, the kernel reaches 20",
            ),
            // Split-K's splits (field 1) from 1 to 2: partial sums of two slices.
            (
                splitk::reduce(t, &[1, 4, 2, 2], 1, Epilogue::default(), m, None, None, m).unwrap(),
                |l| set_field(l, 1, 2),
                "partial binding holds 16 elements, the kernel reaches 32",
            ),
            // Convert's element count (field 0) from 16 to 17: a second plane of 16.
            (
                convert::convert(
                    t,
                    &Convert::cast(Precision::F32, Precision::F32, 16),
                    m,
                    0,
                    m,
                    0,
                )
                .unwrap(),
                |l| set_field(l, 0, 17),
                "source binding holds 16 elements, the kernel reaches 32",
            ),
            // SE's hidden units (field 2) from 4 to 5: w1 [5, 4].
            (
                se_gate(
                    t,
                    1,
                    4,
                    4,
                    None,
                    Activation::Relu,
                    SeGateBindings {
                        input: m,
                        w1: m,
                        b1: m,
                        w2: m,
                        b2: m,
                        gate: m,
                    },
                )
                .unwrap(),
                |l| set_field(l, 2, 5),
                "w1 binding holds 16 elements, the kernel reaches 20",
            ),
            // Winograd's input transform: channels (field 0) from 1 to 2, so V [16, 2, 1].
            (
                winograd(
                    t,
                    &wino,
                    &[1, 1, 2, 2],
                    &[1, 1, 3, 3],
                    Epilogue::default(),
                    conv,
                    None,
                    [m, m],
                )
                .unwrap()[0]
                    .clone(),
                |l| set_field(l, 0, 2),
                "v binding holds 16 elements, the kernel reaches 32",
            ),
            // Its output transform: output channels (field 0) from 1 to 2, so M [16, 2, 1].
            (
                winograd(
                    t,
                    &wino,
                    &[1, 1, 2, 2],
                    &[1, 1, 3, 3],
                    Epilogue::default(),
                    conv,
                    None,
                    [m, m],
                )
                .unwrap()[2]
                    .clone(),
                |l| set_field(l, 0, 2),
                "m binding holds 16 elements, the kernel reaches 32",
            ),
            // Depthwise's channels (field 1) from 4 to 5: input [1, 5, 2, 2].
            (
                depthwise::depthwise(
                    t,
                    &dw,
                    &[1, 4, 2, 2],
                    &[4, 1, 1, 1],
                    Epilogue::default(),
                    conv,
                )
                .unwrap(),
                |l| set_field(l, 1, 5),
                "input binding holds 16 elements, the kernel reaches 20",
            ),
            // Conv's batch (field 0) from 1 to 2: input [2, 1, 4, 4].
            (
                conv::conv(
                    t,
                    &k3,
                    &[1, 1, 4, 4],
                    &[1, 1, 3, 3],
                    Epilogue::default(),
                    conv,
                )
                .unwrap(),
                |l| set_field(l, 0, 2),
                "input binding holds 16 elements, the kernel reaches 32",
            ),
            // Conv's output channels per group (field 11) from 1 to 2 (out_c too): weight [2, 9].
            (
                conv::conv(
                    t,
                    &k3,
                    &[1, 1, 4, 4],
                    &[1, 1, 3, 3],
                    Epilogue::default(),
                    conv,
                )
                .unwrap(),
                |l| {
                    set_field(l, 5, 2);
                    set_field(l, 11, 2);
                },
                "weight binding holds 16 elements, the kernel reaches 18",
            ),
            // Conv's split-K: splits (field 29) from 2 to 3 partial slices of 4.
            (
                conv::conv_partial(t, &k3, &[1, 1, 4, 4], &[1, 1, 3, 3], m, m, m, None, 2).unwrap(),
                |l| set_field(l, 29, 5),
                "partial binding holds 16 elements, the kernel reaches 20",
            ),
            // Depthwise's workgroup memory declared smaller than the staged patches.
            (
                depthwise::depthwise(
                    t,
                    &dw,
                    &[1, 4, 2, 2],
                    &[4, 1, 1, 1],
                    Epilogue::default(),
                    conv,
                )
                .unwrap(),
                |l| {
                    let cap = l.constants.iter_mut().find(|c| c.0 == "PATCH_CAP").unwrap();
                    cap.1 = 4.0;
                },
                "PATCH_CAP is 4",
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
