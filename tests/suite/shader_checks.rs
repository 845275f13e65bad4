//! Trusted kernels (compiled without runtime bounds checks) against the CPU reference, with
//! every module checked and with the trusted ones unchecked; and the host checks their safety
//! rests on.

use wgconv::compare::Tolerance;
use wgconv::device::{BufRef, ModuleKey, ShaderChecks};
use wgconv::kernels::channel_affine::{AffineBindings, channel_affine};
use wgconv::kernels::eltwise;
use wgconv::ops::{Activation, BinaryOp};
use wgconv::precision::Precision;
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
        for family in ["activation", "binary"] {
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
}

/// A launch's fields are public, so the device checks what it binds: an unchecked module's
/// launch whose Params reach past a binding is refused at dispatch; a checked module's is not.
#[test]
fn dispatch_refuses_tampered_trusted_launches() {
    for mode in [ShaderChecks::Trusted, ShaderChecks::Checked] {
        let g = device(mode);
        let buf = g.zeros(&[4, 4]).unwrap();
        let mut unary = eltwise::unary(
            g.target(),
            Activation::Relu,
            buf.binding(),
            buf.binding(),
            16,
        )
        .unwrap();
        assert!(g.dispatch(&unary).is_ok());
        unary.params[..4].copy_from_slice(&17u32.to_le_bytes());
        let mut binary = eltwise::binary(
            g.target(),
            BinaryOp::Add,
            Activation::Identity,
            (buf.binding(), &[4, 4]),
            (buf.binding(), &[4, 1]),
            buf.binding(),
        )
        .unwrap();
        assert!(g.dispatch(&binary).is_ok());
        // b's stride along the last dim (sb5, field 17) from 0 (broadcast) to 5: b then
        // reaches 1 + 3 * 1 + 3 * 5 = 19 elements of the 16 bound.
        binary.params[17 * 4..18 * 4].copy_from_slice(&5u32.to_le_bytes());
        for (launch, want) in [
            (&unary, "reaches 17"),
            (
                &binary,
                "b binding holds 16 elements, the kernel reaches 19",
            ),
        ] {
            match (mode, g.dispatch(launch)) {
                (ShaderChecks::Trusted, Err(e)) => assert!(e.to_string().contains(want), "{e}"),
                (ShaderChecks::Checked, Ok(_)) => {}
                (_, r) => panic!("{mode}: {want}: {r:?}"),
            }
        }
    }
}
