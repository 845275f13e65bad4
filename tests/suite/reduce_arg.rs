//! ArgMax / ArgMin (the index kinds of the reduction family): ties broken by index (first, or
//! last), NaN as the extreme (numpy), in both the serial and the tree modes of the kernel;
//! refused empty sets and indices beyond f32's exact integers.

use wgconv::kernels::reduce;
use wgconv::ops::{ReduceKind, ReduceSpec};
use wgconv::reference;
use wgconv::tensor::Tensor;

use crate::common::{gpu, run, upload_all};

const ARGS: [ReduceKind; 4] = [
    ReduceKind::ArgMax,
    ReduceKind::ArgMin,
    ReduceKind::ArgMaxLast,
    ReduceKind::ArgMinLast,
];

fn spec(kind: ReduceKind, axes: &[usize]) -> ReduceSpec {
    ReduceSpec {
        kind,
        axes: axes.to_vec(),
        keepdims: false,
    }
}

/// The kernel's indices, asserted equal to the reference's.
fn gpu_indices(spec: &ReduceSpec, x: &Tensor) -> Vec<f32> {
    let want = reference::reduce::reduce(spec, x).unwrap();
    let g = gpu();
    let bufs = upload_all(&[x]);
    let out = g.zeros(want.shape()).unwrap();
    let d = g
        .encode(reduce::reduce(
            g.target(),
            spec,
            x.shape(),
            bufs[0].binding(),
            out.binding(),
        ))
        .unwrap();
    let got = run(&d, &out);
    assert_eq!(got.data(), want.data(), "{spec:?} of {:?}", x.shape());
    got.data().to_vec()
}

/// One row of `len` zeros with `v` at each of `at`.
fn row(len: usize, at: &[usize], v: f32) -> Tensor {
    let mut d = vec![0.0; len];
    for &i in at {
        d[i] = v;
    }
    Tensor::new(vec![1, len], d).unwrap()
}

/// Tied extremes: the first or the last index, whichever invocation saw them (lengths 20:
/// serial; 300 and 1000: strided partials and a tree, the ties in different lanes).
#[test]
fn ties_give_the_first_or_last_index() {
    for len in [20, 300, 1000] {
        let at = [3, len / 2 + 1, len - 2];
        for kind in ARGS {
            let v = match kind {
                ReduceKind::ArgMax | ReduceKind::ArgMaxLast => 2.0,
                _ => -2.0,
            };
            let last = matches!(kind, ReduceKind::ArgMaxLast | ReduceKind::ArgMinLast);
            let got = gpu_indices(&spec(kind, &[1]), &row(len, &at, v));
            let want = if last { at[2] } else { at[0] };
            assert_eq!(got, [want as f32], "{kind:?} len {len}");
        }
        // All equal: index 0 or len - 1.
        let got = gpu_indices(&spec(ReduceKind::ArgMaxLast, &[1]), &row(len, &[], 0.0));
        assert_eq!(got, [(len - 1) as f32]);
        let got = gpu_indices(&spec(ReduceKind::ArgMin, &[1]), &row(len, &[], 0.0));
        assert_eq!(got, [0.0]);
    }
}

/// NaN beats every number, infinities included, for both argmax and argmin (numpy's and
/// PyTorch's choice); of several NaNs the first (or the last).
#[test]
fn nan_is_the_extreme() {
    for len in [7, 500] {
        let mut x = row(len, &[1], f32::INFINITY);
        x.data_mut()[2] = f32::NEG_INFINITY;
        x.data_mut()[len - 3] = f32::NAN;
        x.data_mut()[len - 1] = f32::NAN;
        for kind in ARGS {
            let last = matches!(kind, ReduceKind::ArgMaxLast | ReduceKind::ArgMinLast);
            let got = gpu_indices(&spec(kind, &[1]), &x);
            let want = if last { len - 1 } else { len - 3 };
            assert_eq!(got, [want as f32], "{kind:?} len {len}");
        }
        // Without NaN the infinities win.
        let mut y = row(len, &[1], f32::INFINITY);
        y.data_mut()[2] = f32::NEG_INFINITY;
        assert_eq!(gpu_indices(&spec(ReduceKind::ArgMax, &[1]), &y), [1.0]);
        assert_eq!(gpu_indices(&spec(ReduceKind::ArgMin, &[1]), &y), [2.0]);
    }
}

/// Over a middle axis (strided elements) of an NCHW-like map, as a segmentation head's argmax
/// over classes; several reduced axes give the row-major index within them.
#[test]
fn strided_axes_and_axis_sets() {
    let x = Tensor::random_range(vec![2, 21, 5, 7], 3, -4.0, 4.0);
    for kind in ARGS {
        gpu_indices(&spec(kind, &[1]), &x);
        gpu_indices(&spec(kind, &[1, 3]), &x);
    }
    let x = Tensor::new(vec![2, 3], vec![0.0, 5.0, 1.0, 9.0, 2.0, 3.0]).unwrap();
    assert_eq!(gpu_indices(&spec(ReduceKind::ArgMax, &[0, 1]), &x), [3.0]);
}

/// An index of nothing, and indices past 2^24 (not exact in f32), are shape errors.
#[test]
fn empty_and_overlong_sets_are_refused() {
    for kind in ARGS {
        assert!(spec(kind, &[1]).output_shape(&[3, 0]).is_err());
        let n = ReduceKind::MAX_INDEX + 1;
        assert!(spec(kind, &[0]).output_shape(&[n]).is_ok());
        let e = spec(kind, &[0]).output_shape(&[n + 1]).unwrap_err();
        assert!(e.to_string().contains(kind.name()), "{e}");
        assert!(spec(kind, &[0, 1]).output_shape(&[4096, 4097]).is_err());
    }
}

/// In an f16 plan an index past 2048 (not an f16 value) is refused at lowering, naming the
/// node; 2048 itself lowers. f32 plans take both.
#[test]
fn f16_plans_refuse_indices_past_2048_naming_the_node() {
    use wgconv::Precision;
    use wgconv::graph::{Graph, Op};
    use wgconv::plan::{PlanOptions, default_target, lower};
    let graph = |len: usize| {
        let mut g = Graph::new();
        let x = g.input("x", &[2, len]);
        let y = g
            .add(
                "head.argmax",
                Op::Reduce(spec(ReduceKind::ArgMax, &[1])),
                &[x],
            )
            .unwrap();
        g.output(y);
        g
    };
    let mut t = default_target();
    let opts = PlanOptions::default();
    assert!(lower(&graph(2049), &t, &opts).is_ok());
    assert!(lower(&graph(2050), &t, &opts).is_ok());
    t.precision = Precision::F16;
    assert!(lower(&graph(2049), &t, &opts).is_ok());
    let e = lower(&graph(2050), &t, &opts).unwrap_err().to_string();
    assert!(e.contains("head.argmax") && e.contains("2048"), "{e}");
}
