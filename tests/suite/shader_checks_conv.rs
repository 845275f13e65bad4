//! Conv's (`shaders/conv.wgsl`) host bounds proof, without a device: the builders' own
//! launches pass `check_trusted`, tampered ones are refused (dispatch-time refusals and both
//! bounds-check modes: `shader_checks.rs`).

use wgconv::kernels::bounds::check_trusted;
use wgconv::kernels::conv::{self, ConvTiling};
use wgconv::kernels::{ConvBindings, Launch};
use wgconv::ops::{Activation, ConvSpec, Epilogue};
use wgconv::plan::{Slice, Store};
use wgconv::precision::Precision;

use crate::common::gpu;
use crate::conv_tiles::TILINGS;

/// Exact bindings (`numel` elements each, `acc` bytes for a partial) for conv's builders.
fn exact(numel: usize, bytes: usize) -> Slice {
    let size = (numel * bytes) as u64;
    Slice {
        store: Store::Arena(0),
        offset: 0,
        size,
    }
}

/// The conv builders' own launches, on exact bindings, pass `check_trusted` over a spread of
/// shapes, tilings, precisions and splits (both fast-path flags included); tampered tiling,
/// odometer, flags and a short binding are refused with the reason.
#[test]
fn conv_launches_pass_and_tampered_ones_fail_check_trusted() {
    let problems = [
        (ConvSpec::conv2d(3, 3).pad(1), vec![2, 20, 9, 11], 70),
        (ConvSpec::conv2d(3, 3), vec![2, 16, 10, 10], 128),
        (ConvSpec::conv2d(1, 1), vec![1, 64, 8, 16], 64),
        (ConvSpec::new(&[5]).stride(3).dilation(2), vec![3, 1, 40], 1),
        (
            ConvSpec::new(&[3, 2, 3]).pad(2).groups(2),
            vec![1, 6, 4, 5, 3],
            4,
        ),
        (
            ConvSpec::conv2d(7, 7).stride(2).pad(3).groups(3),
            vec![2, 3, 17, 9],
            9,
        ),
    ];
    let tilings = TILINGS
        .into_iter()
        .chain([(8, 4), (4, 8), (8, 8)].map(|(rm, rn)| ConvTiling::big(rm, rn, 32)));
    let mut flags = [0usize; 2];
    let residual = Epilogue {
        activation: Activation::Relu,
        residual: true,
        ..Epilogue::default()
    };
    for precision in [Precision::F32, Precision::F16, Precision::F16AccF32] {
        let t = gpu().target().with_precision(precision);
        let e = precision.elem_bytes();
        for (spec, input, out_c) in &problems {
            let weight = [vec![*out_c, input[1] / spec.groups], spec.kernel.clone()].concat();
            let out = spec.output_shape(input, &weight).unwrap();
            let n = |s: &[usize]| s.iter().product::<usize>();
            let bindings = ConvBindings {
                input: exact(n(input), e),
                weight: exact(n(&weight), e),
                bias: Some(exact(*out_c, e)),
                residual: Some(exact(n(&out), e)),
                input_scale: None,
                output: exact(n(&out), e),
            };
            for tiling in tilings.clone() {
                let mut launches = vec![
                    conv::conv_tiled(&t, spec, input, &weight, residual, bindings, Some(tiling))
                        .unwrap(),
                ];
                for splits in [2, 3] {
                    let partial = exact(splits * n(&out), precision.acc_bytes());
                    let (i, w) = (bindings.input, bindings.weight);
                    launches.push(
                        conv::conv_partial(
                            &t,
                            spec,
                            input,
                            &weight,
                            i,
                            w,
                            partial,
                            Some(tiling),
                            splits as u32,
                        )
                        .unwrap(),
                    );
                }
                for l in &launches {
                    check_trusted(l, precision)
                        .unwrap_or_else(|e| panic!("{spec:?} {input:?} {tiling:?}: {e}"));
                    for (f, name) in flags.iter_mut().zip(["ALIGNED", "IN_RANGE"]) {
                        *f += l.constants.contains(&(name, 1.0)) as usize;
                    }
                }
            }
        }
    }
    assert!(
        flags.iter().all(|&f| f > 0),
        "ALIGNED, IN_RANGE launches: {flags:?}"
    );

    // Ragged M, N and K with padding, as 8x8 blocks of 16x16 invocations and TK = 16.
    let t = gpu().target();
    let (spec, input, weight) = (
        ConvSpec::conv2d(3, 3).pad(1),
        [2, 20, 9, 11],
        [70, 20, 3, 3],
    );
    let bindings = ConvBindings {
        input: exact(2 * 20 * 99, 4),
        weight: exact(70 * 180, 4),
        bias: Some(exact(70, 4)),
        residual: None,
        input_scale: None,
        output: exact(2 * 70 * 99, 4),
    };
    let launch = conv::conv_tiled(
        t,
        &spec,
        &input,
        &weight,
        Epilogue::default(),
        bindings,
        Some(ConvTiling::big(8, 8, 16)),
    )
    .unwrap();
    check_trusted(&launch, Precision::F32).unwrap();
    type Tamper = fn(&mut Launch<Slice>);
    fn constant(l: &mut Launch<Slice>, name: &str, v: f64) {
        l.constants.iter_mut().find(|c| c.0 == name).unwrap().1 = v;
    }
    let cases: [(Tamper, &str); 8] = [
        (|l| constant(l, "TK", 48.0), "24 weight and 24 input loads"),
        (|l| constant(l, "WG_N", 16.5), "tiling"),
        (|l| constant(l, "RN", 16.0), "tiling"),
        (|l| constant(l, "TK", 32.0), "odometer"),
        (|l| l.params[33 * 4] += 1, "odometer"),
        (|l| constant(l, "ALIGNED", 1.0), "ALIGNED needs"),
        (|l| constant(l, "IN_RANGE", 1.0), "IN_RANGE needs"),
        (
            |l| l.bindings[2].size -= 4,
            "bias binding holds 69 elements, the kernel reaches 70",
        ),
    ];
    for (tamper, want) in cases {
        let mut l = launch.clone();
        tamper(&mut l);
        let err = check_trusted(&l, Precision::F32).unwrap_err();
        assert!(err.to_string().contains(want), "{want}: {err}");
    }
}
