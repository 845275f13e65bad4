//! Constant padding of any rank against the CPU reference (bit-exact), and a pinned case
//! derived by hand.

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::kernels::pad;
use wgconv::reference;
use wgconv::tensor::Tensor;

use crate::common::{assert_close, gpu, run, upload_all};

/// Padding moves values: exact.
const EXACT: Tolerance = Tolerance {
    atol: 0.0,
    rtol: 0.0,
};

fn run_gpu(x: &Tensor, begin: &[usize], end: &[usize], value: f32) -> wgconv::Result<Tensor> {
    let g = gpu();
    let out_shape = wgconv::ops::pad_shape(x.shape(), begin, end)?;
    let bufs = upload_all(&[x]);
    let out = g.zeros(&out_shape)?;
    let d = g.encode(pad::pad(
        g.target(),
        begin,
        end,
        value,
        x.shape(),
        bufs[0].binding(),
        out.binding(),
    ))?;
    Ok(run(&d, &out))
}

fn check(x: &Tensor, begin: &[usize], end: &[usize], value: f32) {
    let want = reference::pad::pad(x, begin, end, value).unwrap();
    let got = run_gpu(x, begin, end, value).unwrap();
    assert_close(
        &format!("pad {:?} by {begin:?} / {end:?}", x.shape()),
        &got,
        &want,
        EXACT,
    );
}

/// [[1, 2], [3, 4]] padded by one 0.5 on every side of H and W:
///   0.5 0.5 0.5 0.5
///   0.5  1   2  0.5
///   0.5  3   4  0.5
///   0.5 0.5 0.5 0.5
#[test]
fn pad_2x2_by_one_with_half() {
    let x = Tensor::new(vec![1, 1, 2, 2], vec![1., 2., 3., 4.]).unwrap();
    #[rustfmt::skip]
    let want = Tensor::new(vec![1, 1, 4, 4], vec![
        0.5, 0.5, 0.5, 0.5,
        0.5, 1.0, 2.0, 0.5,
        0.5, 3.0, 4.0, 0.5,
        0.5, 0.5, 0.5, 0.5,
    ]).unwrap();
    let begin = [0, 0, 1, 1];
    let end = [0, 0, 1, 1];
    assert_close(
        "reference",
        &reference::pad::pad(&x, &begin, &end, 0.5).unwrap(),
        &want,
        EXACT,
    );
    assert_close(
        "gpu",
        &run_gpu(&x, &begin, &end, 0.5).unwrap(),
        &want,
        EXACT,
    );
}

/// Padding batch and channels (not only spatial dims), a rank-7 tensor whose unpadded dims
/// merge to fit the kernel's six, and one that cannot merge (an error, not a panic).
#[test]
fn pad_any_dims_and_ranks() {
    let x = Tensor::random(vec![2, 3, 4, 5], 1);
    check(&x, &[1, 0, 0, 2], &[0, 2, 1, 0], -3.0);
    let x7 = Tensor::random(vec![2, 1, 3, 2, 2, 3, 2], 2);
    check(&x7, &[0, 0, 1, 0, 0, 1, 0], &[0, 0, 0, 0, 0, 2, 1], 7.0);
    let all = [1; 7];
    let e = run_gpu(&x7, &all, &all, 0.0).unwrap_err();
    assert!(e.to_string().contains("dims"), "{e}");
    // Larger than one workgroup's 1024 outputs, padding only at the end.
    check(
        &Tensor::random(vec![3, 8, 30, 31], 3),
        &[0, 0, 0, 0],
        &[0, 0, 3, 2],
        0.0,
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_pad_matches_reference(
        dims in prop::collection::vec((1usize..6, 0usize..4, 0usize..4), 1..6),
        value in -2.0f32..2.0,
        seed in 0u64..1000,
    ) {
        let shape: Vec<usize> = dims.iter().map(|d| d.0).collect();
        let begin: Vec<usize> = dims.iter().map(|d| d.1).collect();
        let end: Vec<usize> = dims.iter().map(|d| d.2).collect();
        check(&Tensor::random(shape, seed), &begin, &end, value);
    }
}
