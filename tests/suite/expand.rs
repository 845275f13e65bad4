//! Expand (numpy broadcast to a shape, the strided copy with stride 0 along broadcast dims)
//! against the CPU reference, whole and split to fit a small binding limit, and its errors.

use proptest::prelude::*;
use wgconv::graph::{Graph, Op, cpu};
use wgconv::kernels::rearrange;
use wgconv::plan::{PlanOptions, default_target, lower};
use wgconv::reference;
use wgconv::tensor::Tensor;

use crate::common::{gpu, run};

/// Runs `expand(x -> shape)` on the GPU and checks it equals the reference exactly (a copy).
fn check(x_shape: &[usize], shape: &[usize], seed: u64) {
    let x = Tensor::random(x_shape.to_vec(), seed);
    let want = reference::rearrange::expand(&x, shape).unwrap();
    let g = gpu();
    let input = g.upload(&x).unwrap();
    let out = g.zeros(want.shape()).unwrap();
    let d = g
        .encode(rearrange::expand(
            g.target(),
            x_shape,
            want.shape(),
            input.binding(),
            out.binding(),
        ))
        .unwrap_or_else(|e| panic!("{x_shape:?} -> {shape:?}: {e}"));
    let got = run(&d, &out);
    assert_eq!(got.data(), want.data(), "{x_shape:?} -> {shape:?}");
}

#[test]
fn expand_pinned() {
    for (x, shape) in [
        (vec![3, 1], vec![2, 1, 6]),
        (vec![1], vec![4, 5]),
        (vec![2, 1, 4], vec![2, 3, 4]),
        // Bidirectional: the target's 1 keeps the input's extent.
        (vec![3, 4], vec![2, 1, 1]),
        (vec![1, 1, 1], vec![1, 1, 1]),
        (vec![5, 1, 1, 7], vec![5, 6, 3, 7]),
    ] {
        check(&x, &shape, 4);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn random_expand(
        dims in prop::collection::vec(1usize..5, 1..5),
        ones in prop::collection::vec(any::<bool>(), 5),
        extra in 0usize..2, seed in 0u64..100,
    ) {
        let x: Vec<usize> = dims.iter().zip(&ones).map(|(&d, &o)| if o { 1 } else { d }).collect();
        let mut shape = vec![2; extra];
        shape.extend(&dims);
        check(&x, &shape, seed);
    }
}

/// A graph expand split to fit a 1 KiB binding limit lowers to chunk copies; the split plan's
/// launches bind within the limit, and the reference agrees with the unsplit graph.
#[test]
fn expand_in_a_graph_and_split() {
    let mut g = Graph::new();
    let x = g.input("x", &[4, 1, 32]);
    let y = g
        .add(
            "e",
            Op::Expand {
                shape: vec![4, 16, 32],
            },
            &[x],
        )
        .unwrap();
    g.output(y);
    let mut target = default_target();
    target.limits.max_storage_buffer_binding_size = 1 << 10;
    let p = lower(&g, &target, &PlanOptions::default()).unwrap();
    assert!(p.steps[0].split && p.dispatch_count() > 1);
    for l in p.launches() {
        assert!(l.bindings.iter().all(|b| b.size <= 1 << 10));
    }
    let t = Tensor::random(vec![4, 1, 32], 2);
    let out = cpu::run(&g, std::slice::from_ref(&t)).unwrap();
    assert_eq!(
        out[0],
        reference::rearrange::expand(&t, &[4, 16, 32]).unwrap()
    );
    let s = wgconv::Session::new(gpu(), &g).unwrap();
    assert_eq!(s.run(&[t]).unwrap()[0], out[0]);
}

#[test]
fn expand_errors() {
    // 3 does not broadcast against 4.
    assert!(rearrange::expand_plan(&[3], &[4]).is_err());
    assert!(reference::rearrange::expand(&Tensor::zeros(vec![3]), &[4]).is_err());
    let mut g = Graph::new();
    let x = g.input("x", &[3, 2]);
    assert!(g.add("e", Op::Expand { shape: vec![4, 2] }, &[x]).is_err());
}
