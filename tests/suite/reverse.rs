//! Reverse (`torch.flip`, and the second half of an ONNX Slice with negative steps): the
//! strided copy reading some dims backwards, against the CPU reference in every precision,
//! whole and split to fit a tiny binding limit, and the ONNX Slice it completes.

use proptest::prelude::*;
use wgconv::graph::{Graph, Op, cpu};
use wgconv::{Gpu, GpuOptions, Precision, Session, SessionOptions, Tensor, reference};

use crate::common::gpu;

/// Values exact in f16, so that a copy equals the reference bit for bit in every precision.
fn values(shape: &[usize], seed: u64) -> Tensor {
    let t = Tensor::random_range(shape.to_vec(), seed, -2.0, 2.0);
    let v = t.data().iter().map(|&x| Precision::F16.round(x)).collect();
    Tensor::new(shape.to_vec(), v).unwrap()
}

/// `slice(x)` then `reverse(axes)` as one graph.
fn graph(
    shape: &[usize],
    starts: &[usize],
    ends: &[usize],
    steps: &[usize],
    axes: &[usize],
) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", shape);
    let op = Op::Slice {
        starts: starts.to_vec(),
        ends: ends.to_vec(),
        steps: steps.to_vec(),
    };
    let s = g.add("s", op, &[x]).unwrap();
    let r = g
        .add(
            "r",
            Op::Reverse {
                axes: axes.to_vec(),
            },
            &[s],
        )
        .unwrap();
    g.output(r);
    g
}

fn check_on(gpu: &Gpu, g: &Graph, x: &Tensor, what: &str) {
    let want = cpu::run(g, std::slice::from_ref(x)).unwrap();
    for p in Precision::ALL {
        let opts = SessionOptions {
            precision: Some(p),
            ..Default::default()
        };
        let got = Session::with_options(gpu, g, opts)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .run(std::slice::from_ref(x))
            .unwrap();
        assert_eq!(got, want, "{what} {p}");
    }
}

#[test]
fn reverse_reference_is_a_flip() {
    // [[0, 1, 2], [3, 4, 5]] flipped along 1 and along both.
    let x = Tensor::new(vec![2, 3], (0..6).map(|v| v as f32).collect()).unwrap();
    let r1 = reference::rearrange::reverse(&x, &[1]).unwrap();
    assert_eq!(r1.data(), &[2.0, 1.0, 0.0, 5.0, 4.0, 3.0]);
    let r01 = reference::rearrange::reverse(&x, &[0, 1]).unwrap();
    assert_eq!(r01.data(), &[5.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
    assert!(reference::rearrange::reverse(&x, &[2]).is_err());
    let mut g = Graph::new();
    let v = g.input("x", &[2, 3]);
    assert!(g.add("r", Op::Reverse { axes: vec![2] }, &[v]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_slices_reversed(
        dims in prop::collection::vec(1usize..7, 1..5),
        picks in prop::collection::vec((0usize..7, 0usize..7, 1usize..4, any::<bool>()), 5),
        seed in 0u64..1000,
    ) {
        let r = dims.len();
        let (mut starts, mut ends, mut steps, mut axes) = (vec![], vec![], vec![], vec![]);
        for (d, &(a, b, st, rev)) in picks.iter().take(r).enumerate() {
            let (lo, hi) = (a.min(b).min(dims[d] - 1), a.max(b).min(dims[d]).max(a.min(b).min(dims[d] - 1) + 1));
            starts.push(lo);
            ends.push(hi);
            steps.push(st);
            if rev {
                axes.push(d);
            }
        }
        let g = graph(&dims, &starts, &ends, &steps, &axes);
        let x = values(&dims, seed);
        check_on(gpu(), &g, &x, &format!("{dims:?} {starts:?}..{ends:?} by {steps:?}, flip {axes:?}"));
    }
}

/// On a device whose binding limit (1 KiB) is far below the tensor, the reversed copy is cut
/// into chunks; each chunk must read its input from the other end.
#[test]
fn reverse_split_to_a_small_binding_limit() {
    let mut limits = gpu().adapter().limits();
    limits.max_storage_buffer_binding_size = 1 << 10;
    let small = Gpu::with_options(&GpuOptions {
        backends: Some(gpu().adapter_info().backend.into()),
        adapter_name: Some(gpu().adapter_info().name.clone()),
        limits: Some(limits),
        ..Default::default()
    })
    .unwrap();
    for (shape, axes) in [
        (vec![6, 40, 9], vec![1]),
        (vec![6, 40, 9], vec![0, 2]),
        (vec![2000], vec![0]),
        (vec![3, 5, 7, 11], vec![0, 1, 2, 3]),
    ] {
        let r = shape.len();
        let g = graph(&shape, &vec![0; r], &shape, &vec![1; r], &axes);
        let s = Session::new(&small, &g).unwrap();
        assert!(
            s.plan().steps.iter().any(|st| st.split),
            "{shape:?} was not split"
        );
        check_on(
            &small,
            &g,
            &values(&shape, 3),
            &format!("split {shape:?} flip {axes:?}"),
        );
    }
}
