//! Dynamic shapes: one [`DynamicSession`] runs a network at several batch sizes and image
//! sizes, each run equal to the CPU reference, planning each shape once.

use std::sync::Arc;

use wgconv::compare::compare;
use wgconv::graph::{Graph, cpu};
use wgconv::plan::ParamData;
use wgconv::{Dim, DynamicSession, Error, SessionConfig, Tensor, weights, zoo};

use crate::graph::network_tolerance;

/// `g` with seeded weights (BatchNorm statistics calibrated on a batch of 2).
fn seeded(name: &str, input: &[usize], seed: u64) -> Graph {
    let mut g = zoo::build(name, input).unwrap();
    weights::init_seeded(&mut g, seed);
    let calib = Tensor::random(input.to_vec(), seed + 1);
    weights::calibrate_batch_norm(&mut g, &[calib]).unwrap();
    g
}

/// Runs `x` through `s` and checks the output against `g` (as built) on the CPU at `x`'s shape.
fn check_run(what: &str, s: &DynamicSession, g: &Graph, x: &Tensor) -> Tensor {
    let got = s
        .run(std::slice::from_ref(x))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let g = g.with_input_shapes(&[x.shape().to_vec()]).unwrap();
    let inputs = [x.clone()];
    let want = cpu::run(&g, &inputs).unwrap();
    let tol = network_tolerance(&g, &inputs);
    assert_eq!(got[0].shape(), want[0].shape(), "{what}: shape");
    let c = compare(got[0].data(), want[0].data(), tol);
    assert!(c.passed(), "{what}: {c} ({tol:?})");
    got.into_iter().next().unwrap()
}

#[test]
fn resnet18_runs_at_batch_1_8_3_then_1_again_planning_three_times() {
    let g = seeded("resnet18", &[1, 3, 40, 40], 31);
    let s = DynamicSession::from_graph(&g, &[("x", 0, "N")], &SessionConfig::default()).unwrap();
    assert_eq!(
        s.inputs()[0].dims,
        Some(vec![
            Dim::sym("N"),
            Dim::Fixed(3),
            Dim::Fixed(40),
            Dim::Fixed(40)
        ])
    );
    // Shapes are not all fixed: nothing is planned before the first run.
    assert_eq!(s.counters().plans_built, 0);
    let mut uploaded = vec![0];
    let mut outputs = Vec::new();
    for n in [1, 8, 3, 1] {
        let x = Tensor::random(vec![n, 3, 40, 40], 50 + n as u64);
        outputs.push(check_run(&format!("batch {n}"), &s, &g, &x));
        let new = s.counters().param_bytes_uploaded - uploaded.last().unwrap();
        uploaded.push(uploaded.last().unwrap() + new);
        // A later plan uploads at most the tensors it derives on the host (Winograd's
        // transformed weights where its shape picks Winograd); the model's own weights are
        // on the device already.
        if n != 1 {
            let plan = s.plan_for(&[&x]).unwrap();
            let derived: u64 = plan
                .plan()
                .steps
                .iter()
                .flat_map(|st| st.param_data.iter().zip(&st.params))
                .filter(|(d, _)| matches!(d, ParamData::Derived(_)))
                .map(|(_, r)| r.bytes)
                .sum();
            assert!(
                new <= derived,
                "batch {n}: {new} bytes uploaded, {derived} derived"
            );
        }
    }
    assert_eq!(outputs[3], outputs[0], "batch 1 again differs from batch 1");
    assert!(uploaded[1] > 0);
    assert_eq!(
        uploaded[4], uploaded[3],
        "the fourth run uploaded parameters"
    );
    let c = s.counters();
    // plan_for above found the plans of batches 8 and 3: two hits besides the fourth run's.
    assert_eq!((c.runs, c.plans_built, c.plan_hits), (4, 3, 3), "{c:?}");
}

#[test]
fn mobilenet_v2_runs_at_three_image_sizes() {
    let g = seeded("mobilenet_v2", &[1, 3, 64, 64], 32);
    let s = DynamicSession::from_graph(
        &g,
        &[("x", 2, "H"), ("x", 3, "W")],
        &SessionConfig::default(),
    )
    .unwrap();
    for (h, w) in [(64, 64), (96, 80), (33, 47)] {
        let x = Tensor::random(vec![1, 3, h, w], h as u64 * w as u64);
        check_run(&format!("{h}x{w}"), &s, &g, &x);
    }
    let c = s.counters();
    assert_eq!((c.plans_built, c.plan_hits), (3, 0), "{c:?}");
}

#[test]
fn the_cache_evicts_the_least_recently_used_plan_and_frees_its_buffers() {
    let g = seeded("cifar10_net", &[1, 3, 32, 32], 33);
    let s = DynamicSession::from_graph(
        &g,
        &[("x", 0, "N")],
        &SessionConfig::default().plan_cache(2),
    )
    .unwrap();
    let run = |n: usize| {
        s.run(&[Tensor::random(vec![n, 3, 32, 32], n as u64)])
            .unwrap()
    };
    run(1);
    run(2);
    let two_plans = s.device_bytes();
    run(1); // batch 1 is now the most recent: batch 2 goes next
    run(3);
    let c = s.counters();
    assert_eq!(
        (c.plans_built, c.evictions, c.cached_plans),
        (3, 1, 2),
        "{c:?}"
    );
    run(1);
    assert_eq!(s.counters().plans_built, 3, "batch 1 was evicted");
    run(2);
    assert_eq!(s.counters().plans_built, 4, "batch 2 was kept");
    // Two plans of batches 1 and 2 again: the same bytes as before.
    assert_eq!(s.device_bytes(), two_plans);
}

#[test]
fn eight_threads_with_different_shapes_match_sequential_runs() {
    let g = seeded("cifar10_net", &[1, 3, 32, 32], 34);
    let s = Arc::new(
        DynamicSession::from_graph(&g, &[("x", 0, "N")], &SessionConfig::default()).unwrap(),
    );
    let inputs: Vec<Tensor> = (0..8)
        .map(|i| Tensor::random(vec![1 + i % 4, 3, 32, 32], 70 + i as u64))
        .collect();
    let sequential: Vec<Vec<Tensor>> = inputs
        .iter()
        .map(|x| s.run(std::slice::from_ref(x)).unwrap())
        .collect();
    for round in 0..3 {
        let threads: Vec<_> = inputs
            .iter()
            .cloned()
            .map(|x| {
                let s = s.clone();
                std::thread::spawn(move || s.run(&[x]).unwrap())
            })
            .collect();
        for (i, t) in threads.into_iter().enumerate() {
            assert_eq!(
                t.join().unwrap(),
                sequential[i],
                "round {round}, thread {i}"
            );
        }
    }
    assert_eq!(s.counters().plans_built, 4);
}

#[test]
fn inputs_that_do_not_fit_are_typed_errors_and_the_session_stays_usable() {
    let g = seeded("cifar10_net", &[1, 3, 32, 32], 35);
    let s = DynamicSession::from_graph(&g, &[("x", 0, "N")], &SessionConfig::default()).unwrap();
    let bad = [
        (Tensor::zeros(vec![3, 32, 32]), "rank 4"),
        (Tensor::zeros(vec![2, 4, 32, 32]), "[N, 3, 32, 32]"),
    ];
    for (x, expected) in bad {
        match s.run(&[x]) {
            Err(Error::InputMismatch {
                input,
                expected: e,
                feeds,
                ..
            }) => {
                assert_eq!(input, "x");
                assert!(e.contains(expected), "{e}");
                assert!(feeds.contains("conv"), "{feeds}");
            }
            other => panic!("expected an input mismatch, got {other:?}"),
        }
    }
    assert_eq!(s.counters().plans_built, 0, "a bad input planned something");
    check_run(
        "after errors",
        &s,
        &g,
        &Tensor::random(vec![2, 3, 32, 32], 9),
    );
}
