//! What f16 cannot do: refusal on a device without `SHADER_F16`, and NaN and infinity (overflow
//! beyond 65504) in f16 storage and accumulation.

use super::*;

/// Without SHADER_F16 (wgpu's GL backend never offers it; llvmpipe-GL here) an f16 handle or
/// session is a typed error, not a panic or a shader compile failure.
#[test]
fn f16_refused_without_shader_f16() {
    let gl = Gpu::with_options(&GpuOptions {
        backends: Some(wgpu::Backends::GL),
        ..Default::default()
    })
    .expect("CI has llvmpipe on GL (Mesa): a GL adapter must exist");
    assert!(!gl.has_shader_f16(), "{}", gl.describe());
    assert!(gl.supports(Precision::F32) && !gl.supports(Precision::F16));
    for p in HALF {
        match gl.with_precision(p) {
            Err(Error::MissingFeature { feature, .. }) => assert_eq!(feature, "shader-f16"),
            other => panic!("{p} on GL: expected MissingFeature, got {other:?}"),
        }
        let g = zoo::cifar10_net(&[1, 3, 32, 32]).unwrap();
        let opts = SessionOptions {
            precision: Some(p),
            ..Default::default()
        };
        match Session::with_options(&gl, &g, opts) {
            Err(Error::MissingFeature { .. }) => {}
            other => panic!(
                "{p} session on GL: expected MissingFeature, got {:?}",
                other.err()
            ),
        }
    }
    // And the f16 device says yes.
    assert!(
        gpu().has_shader_f16(),
        "the test adapter must offer shader-f16"
    );
}

/// NaN propagates through f16 storage; finite values beyond f16's range (65504) become
/// infinities, on upload (the host rounds to nearest) and in the kernels (WGSL converts values
/// of magnitude >= 2^16 to infinity). f16 accumulation also overflows on an intermediate sum
/// beyond 65504 even when the final value would fit; f32 accumulation does not.
#[test]
fn nan_and_inf_in_f16() {
    let big = Tensor::new(
        vec![1, 6, 1, 1],
        vec![f32::NAN, 1.0e5, -1.0e5, 7.0e4, 65504.0, 1.0],
    )
    .unwrap();
    for p in HALF {
        let g = hgpu(p);
        let bx = g.upload(&big).unwrap();
        // Upload rounds: +-1e5 and 7e4 are infinities, 65504 stays.
        let back = g.download(&bx).unwrap();
        assert!(back.data()[0].is_nan());
        assert_eq!(
            &back.data()[1..],
            &[
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::INFINITY,
                65504.0,
                1.0
            ]
        );
        // ReLU keeps NaN (not max(NaN, 0) = 0) and infinities.
        let out = g.zeros(big.shape()).unwrap();
        let d = g.encode(eltwise::unary(
            g.target(),
            Activation::Relu,
            bx.binding(),
            out.binding(),
            6,
        ));
        let got = run(&g, d, &out);
        assert!(got.data()[0].is_nan(), "{p}: relu(NaN)");
        assert_eq!(
            &got.data()[1..],
            &[f32::INFINITY, 0.0, f32::INFINITY, 65504.0, 1.0]
        );
        // In-kernel overflow: 65504 + 65504 in f32 then stored: infinity.
        let out = g.zeros(big.shape()).unwrap();
        let d = g.encode(eltwise::binary(
            g.target(),
            BinaryOp::Add,
            Activation::Identity,
            (bx.binding(), big.shape()),
            (bx.binding(), big.shape()),
            out.binding(),
        ));
        assert_eq!(
            run(&g, d, &out).data()[4],
            f32::INFINITY,
            "{p}: overflow on store"
        );
        // Max pooling propagates NaN.
        let out = g.zeros(&[1, 1]).unwrap();
        let nan_first = Tensor::new(vec![1, 1, 2, 3], big.data().to_vec()).unwrap();
        let bn = g.upload(&nan_first).unwrap();
        let d = g.encode(pool::global_pool(
            g.target(),
            PoolKind::Max,
            nan_first.shape(),
            bn.binding(),
            out.binding(),
        ));
        assert!(run(&g, d, &out).data()[0].is_nan(), "{p}: max pool of NaN");

        // 1x1 conv over 3 channels: 200*200 + 200*200 - 200*200. The f16 accumulator
        // overflows at the second product (80000 > 65504) and stays infinite; f32 gives 40000.
        let x = Tensor::new(vec![1, 3, 1, 1], vec![200.0, 200.0, -200.0]).unwrap();
        let w = Tensor::new(vec![1, 3, 1, 1], vec![200.0; 3]).unwrap();
        let bufs = up(&g, &[&x, &w]);
        let out = g.zeros(&[1, 1, 1, 1]).unwrap();
        let d = g.encode(conv::conv(
            g.target(),
            &ConvSpec::conv2d(1, 1),
            x.shape(),
            w.shape(),
            Epilogue::default(),
            ConvBindings {
                input: bufs[0].binding(),
                weight: bufs[1].binding(),
                bias: None,
                residual: None,
                input_scale: None,
                output: out.binding(),
            },
        ));
        let got = run(&g, d, &out).data()[0];
        match p {
            Precision::F16 => assert_eq!(got, f32::INFINITY, "f16 accumulation overflows"),
            _ => assert_eq!(got, 40000.0, "f32 accumulation holds 80000"),
        }
    }
}
