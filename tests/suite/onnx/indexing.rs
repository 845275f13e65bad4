//! Tile and Gather of a computed tensor with constant repeats / indices (lowered to Expand,
//! Slice and Concat) on the device in every precision against naive host loops, Gather also
//! against the importer's constant fold of the same model; pinned and random shapes; errors.

use proptest::prelude::*;
use wgconv::Precision;
use wgconv::onnx::proto::TensorProto;
use wgconv::onnx::{ImportOptions, import_bytes};
use wgconv::session::{Session, SessionOptions};
use wgconv::tensor::{Tensor, strides};

use super::{attr_i, int64s, model, node, value_info};
use crate::common::gpu;

/// Random values rounded to f16: the lowering only copies, so every precision is exact.
fn values(shape: &[usize], seed: u64) -> Tensor {
    let t = Tensor::random(shape.to_vec(), seed);
    let v = t.data().iter().map(|&x| Precision::F16.round(x)).collect();
    Tensor::new(shape.to_vec(), v).unwrap()
}

/// The row-major multi-index of flat index `i` in `shape`.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

fn at(x: &Tensor, idx: &[usize]) -> f32 {
    let s = strides(x.shape());
    x.data()[idx.iter().zip(&s).map(|(i, s)| i * s).sum::<usize>()]
}

/// numpy.tile: output element `i` is input element `i mod n` along every dim.
fn tile_ref(x: &Tensor, reps: &[usize]) -> Tensor {
    let shape: Vec<usize> = x.shape().iter().zip(reps).map(|(n, r)| n * r).collect();
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|i| {
            let o = unravel(i, &shape);
            let src: Vec<usize> = o.iter().zip(x.shape()).map(|(j, n)| j % n).collect();
            at(x, &src)
        })
        .collect();
    Tensor::new(shape, v).unwrap()
}

/// numpy.take: output `[pre, k, post]` reads input `[pre, idx[k] (wrapped), post]`.
fn gather_ref(x: &Tensor, idx: &[i64], idx_shape: &[usize], axis: usize) -> Tensor {
    let xs = x.shape();
    let mut shape = xs[..axis].to_vec();
    shape.extend(idx_shape);
    shape.extend(&xs[axis + 1..]);
    let n: usize = shape.iter().product();
    let k = idx_shape.len();
    let v = (0..n)
        .map(|i| {
            let o = unravel(i, &shape);
            let flat = o[axis..axis + k]
                .iter()
                .zip(&strides(idx_shape))
                .map(|(a, b)| a * b)
                .sum::<usize>();
            let j = idx[flat];
            let j = if j < 0 { j + xs[axis] as i64 } else { j } as usize;
            let mut src = o[..axis].to_vec();
            src.push(j);
            src.extend(&o[axis + k..]);
            at(x, &src)
        })
        .collect();
    Tensor::new(shape, v).unwrap()
}

fn i64s(name: &str, v: &[i64], shape: &[usize]) -> TensorProto {
    let mut t = int64s(name, v);
    t.dims = shape.iter().map(|&d| d as i64).collect();
    t
}

fn as_i64(s: &[usize]) -> Vec<i64> {
    s.iter().map(|&d| d as i64).collect()
}

/// Imports `bytes` with `x` fed at run time and checks every precision's output equals `want`.
fn check_all(bytes: &[u8], x: &Tensor, want: &Tensor) {
    let mut opts = ImportOptions::default();
    opts.input_shapes.insert("x".into(), x.shape().to_vec());
    let g = import_bytes(bytes, &opts).unwrap();
    let cpu = wgconv::graph::cpu::run(&g, std::slice::from_ref(x)).unwrap();
    assert_eq!(&cpu[0], want, "cpu");
    for p in Precision::ALL {
        let o = SessionOptions {
            precision: Some(p),
            ..Default::default()
        };
        let got = Session::with_options(gpu(), &g, o)
            .unwrap()
            .run(std::slice::from_ref(x))
            .unwrap();
        assert_eq!(&got[0], want, "{p}");
    }
}

fn check_tile(shape: &[usize], reps: &[usize], seed: u64) {
    let x = values(shape, seed);
    let bytes = model(
        vec![node("Tile", "t", &["x", "r"], &["y"])],
        vec![value_info("x", &as_i64(shape))],
        vec![int64s("r", &as_i64(reps))],
        "y",
    );
    check_all(&bytes, &x, &tile_ref(&x, reps));
}

fn gather_model(shape: &[usize], idx: &[i64], idx_shape: &[usize], axis: i64) -> Vec<u8> {
    let mut n = node("Gather", "g", &["x", "i"], &["y"]);
    n.attribute = vec![attr_i("axis", axis)];
    model(
        vec![n],
        vec![value_info("x", &as_i64(shape))],
        vec![i64s("i", idx, idx_shape)],
        "y",
    )
}

fn check_gather(shape: &[usize], idx: &[i64], idx_shape: &[usize], axis: usize, seed: u64) {
    let x = values(shape, seed);
    let want = gather_ref(&x, idx, idx_shape, axis);
    // A negative axis counts from the end.
    let bytes = gather_model(shape, idx, idx_shape, axis as i64 - shape.len() as i64);
    check_all(&bytes, &x, &want);
    // The importer's host fold of the same Gather with x a constant agrees.
    let mut opts = ImportOptions::default();
    opts.constants.insert("x".into(), x.clone());
    let g = import_bytes(&bytes, &opts).unwrap();
    assert_eq!(wgconv::graph::cpu::run(&g, &[]).unwrap()[0], want, "fold");
}

#[test]
fn tile_pinned() {
    for (shape, reps) in [
        (vec![2, 3, 4, 5], vec![3, 2, 2, 3]),
        (vec![7], vec![3]),
        (vec![1, 3], vec![4, 1]),
        (vec![2, 1, 3, 1, 2], vec![1, 3, 2, 2, 1]),
        (vec![3, 2], vec![1, 1]),
    ] {
        check_tile(&shape, &reps, 1);
    }
}

#[test]
fn gather_pinned() {
    for (shape, idx, idx_shape, axis) in [
        (vec![5, 4, 3], vec![0, 1, 3], vec![3], 0),
        (vec![5, 4, 3], vec![3, 1, -1, 0, 2, 2], vec![2, 3], 1),
        // Scalar indices drop the axis.
        (vec![5, 4, 3], vec![-2], vec![], 2),
        // A strided run (0, 2, 4), then a repeat and a descent.
        (vec![2, 7], vec![0, 2, 4, 4, 1], vec![5], 1),
        (vec![6], vec![0, 1, 2, 3, 4, 5], vec![6], 0),
    ] {
        check_gather(&shape, &idx, &idx_shape, axis, 2);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    #[test]
    fn random_tile(
        dims in prop::collection::vec((1usize..4, 1usize..4), 1..5), seed in 0u64..100,
    ) {
        let (shape, reps): (Vec<usize>, Vec<usize>) = dims.into_iter().unzip();
        check_tile(&shape, &reps, seed);
    }

    #[test]
    fn random_gather(
        shape in prop::collection::vec(1usize..5, 1..5),
        axis in 0usize..4, picks in prop::collection::vec(0i64..100, 1..7),
        two_d in any::<bool>(), seed in 0u64..100,
    ) {
        let axis = axis % shape.len();
        let d = shape[axis] as i64;
        // Both signs of every index.
        let idx: Vec<i64> = picks.iter().map(|p| p % (2 * d) - d).collect();
        let n = idx.len();
        let idx_shape = if two_d && n.is_multiple_of(2) { vec![2, n / 2] } else { vec![n] };
        check_gather(&shape, &idx, &idx_shape, axis, seed);
    }
}

#[test]
fn tile_and_gather_errors() {
    let refused = |bytes: Vec<u8>, wants: &[&str]| {
        let err = import_bytes(&bytes, &ImportOptions::default())
            .unwrap_err()
            .to_string();
        for w in wants {
            assert!(err.contains(w), "{err} (wanted {w:?})");
        }
    };
    let tile = |reps: &[i64]| {
        model(
            vec![node("Tile", "t", &["x", "r"], &["y"])],
            vec![value_info("x", &[2, 3])],
            vec![int64s("r", reps)],
            "y",
        )
    };
    refused(tile(&[2]), &["\"t\" (Tile)", "one per dim"]);
    refused(tile(&[2, -1]), &["\"t\" (Tile)", "non-negative"]);
    refused(tile(&[2, 0]), &["\"t\" (Tile)", "empty"]);
    refused(
        gather_model(&[2, 3], &[3], &[1], 1),
        &["\"g\" (Gather)", "index 3"],
    );
    refused(
        gather_model(&[2, 3], &[-3], &[1], 0),
        &["\"g\" (Gather)", "index -3"],
    );
    // Indices computed on the device have no lowering.
    let bytes = model(
        vec![
            node("Relu", "r", &["x"], &["i"]),
            node("Gather", "g", &["x", "i"], &["y"]),
        ],
        vec![value_info("x", &[2, 3])],
        vec![],
        "y",
    );
    refused(bytes, &["\"g\" (Gather)", "computed indices"]);
}
