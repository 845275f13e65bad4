//! The plan soundness check every planner test runs: no two tensors alive at the same time
//! share bytes (lifetimes recomputed here from the graph, not the plan's own), offsets are
//! aligned, scratch regions are placed apart, and the peak never exceeds one buffer per tensor.

use wgconv::graph::{Graph, Op, ValueId};
use wgconv::kernels::algorithm;
use wgconv::plan::{ALIGN, Plan, plan};

use crate::views::slice_is_view;

/// Storage groups and their lifetimes, recomputed from the graph: a view (flatten, reshape,
/// dropout, identity) shares its source's storage, and so does a Slice the plan makes a view,
/// after checking here that its elements are one run of its input's at the run's aligned
/// offset, and a Concat input the plan writes in place (or the source of views that are its
/// inputs), after checking that the input sits at its chunk's aligned offset of a Concat
/// whose dims before the axis are 1. A
/// group lives from its first write (0 for graph inputs, i + 1 for node i) to its last read
/// (graph outputs: past the last node).
pub(crate) fn independent_lifetimes(g: &Graph, p: &Plan) -> (Vec<usize>, Vec<(usize, usize)>) {
    let n = g.values().len();
    let mut group: Vec<usize> = (0..n).collect();
    for node in g.nodes() {
        if matches!(
            node.op,
            Op::Flatten { .. } | Op::Reshape { .. } | Op::Dropout { .. } | Op::Identity
        ) {
            group[node.output.0] = group[node.inputs[0].0];
        }
        if slice_is_view(g, p, node) {
            group[node.output.0] = group[node.inputs[0].0];
        }
        if let Op::Concat { axis } = node.op {
            let out = node.output;
            let mut at = p.regions[out.0].offset;
            for v in &node.inputs {
                // An input in place, or a view of a value written in place (its root).
                if p.storage_of[v.0] == out {
                    assert!(g.shape(out)[..axis].iter().all(|&d| d == 1));
                    assert_eq!(
                        (p.regions[v.0].buffer, p.regions[v.0].offset),
                        (p.regions[out.0].buffer, at)
                    );
                    assert_eq!(at % ALIGN, 0);
                    let mut root = v.0;
                    while group[root] != root {
                        root = group[root];
                    }
                    if root != out.0 {
                        assert!(
                            !g.outputs().contains(&ValueId(root)),
                            "a graph output in place"
                        );
                        group[root] = out.0;
                    }
                }
                at += (g.shape(*v).iter().product::<usize>() * 4) as u64;
            }
        }
    }
    // Views of a value written in place follow it into its Concat's group.
    for v in 0..n {
        let mut r = v;
        while group[r] != r {
            r = group[r];
        }
        group[v] = r;
    }
    let mut life = vec![(usize::MAX, 0usize); n];
    let touch = |v: ValueId, t: usize, life: &mut Vec<(usize, usize)>| {
        let gr = group[v.0];
        life[gr].0 = life[gr].0.min(t);
        life[gr].1 = life[gr].1.max(t);
    };
    for &v in g.inputs() {
        touch(v, 0, &mut life);
    }
    for (i, node) in g.nodes().iter().enumerate() {
        touch(node.output, i + 1, &mut life);
        for &v in &node.inputs {
            touch(v, i + 1, &mut life);
        }
    }
    for &v in g.outputs() {
        touch(v, g.nodes().len() + 1, &mut life);
    }
    (group, life)
}

pub(crate) fn check_plan(what: &str, g: &Graph) -> (u64, u64) {
    check_plan_of(what, g, &plan(g).unwrap_or_else(|e| panic!("{what}: {e}")))
}

/// [`check_plan`] of a given plan of `g`; also checks every step's scratch regions: the sizes
/// its algorithm asks for, aligned, inside their buffers, in buffers apart from the node's
/// operands and from each other, and sharing no byte with any value alive at that step.
pub(crate) fn check_plan_of(what: &str, g: &Graph, p: &Plan) -> (u64, u64) {
    p.verify(g).unwrap_or_else(|e| panic!("{what}: {e}"));
    let (group, life) = independent_lifetimes(g, p);
    for (i, step) in p.steps.iter().enumerate() {
        let node = g.node(step.node);
        let want = match (&step.algorithm, &node.op) {
            (Some(a), Op::Conv { spec, weight, .. }) => algorithm::scratch_bytes(
                a,
                spec,
                g.shape(node.inputs[0]),
                weight.shape(),
                wgconv::Precision::F32,
            )
            .unwrap(),
            _ => Vec::new(),
        };
        assert_eq!(step.scratch.len(), want.len(), "{what}: node {}", node.name);
        for (j, (r, &bytes)) in step.scratch.iter().zip(&want).enumerate() {
            assert!(
                r.bytes >= bytes,
                "{what}: node {} scratch {j} too small",
                node.name
            );
            assert_eq!(r.offset % ALIGN, 0, "{what}: scratch unaligned");
            assert!(
                r.end() <= p.buffers[r.buffer],
                "{what}: scratch outside its buffer"
            );
            for v in node.inputs.iter().chain([&node.output]) {
                assert_ne!(
                    p.regions[v.0].buffer, r.buffer,
                    "{what}: node {} scratch {j} shares a buffer with an operand",
                    node.name
                );
            }
            for (k, o) in step.scratch.iter().enumerate() {
                assert!(
                    k == j || o.buffer != r.buffer,
                    "{what}: scratch share a buffer"
                );
            }
            let t = i + 1;
            for v in 0..g.values().len() {
                let l = life[group[v]];
                if l.0 != usize::MAX && l.0 <= t && t <= l.1 {
                    assert!(
                        !p.regions[v].overlaps(r),
                        "{what}: node {} scratch {j} {r:?} overlaps value {v} {:?}",
                        node.name,
                        p.regions[v]
                    );
                }
            }
        }
    }
    let (group, life) = independent_lifetimes(g, p);
    let n = g.values().len();
    for a in 0..n {
        assert_eq!(
            p.regions[a].offset % ALIGN,
            0,
            "{what}: value {a} unaligned"
        );
        assert!(
            p.regions[a].end() <= p.arena_bytes,
            "{what}: value {a} outside arena"
        );
        for b in a + 1..n {
            let (ga, gb) = (group[a], group[b]);
            if ga == gb {
                continue;
            }
            let (la, lb) = (life[ga], life[gb]);
            if la.0 <= lb.1 && lb.0 <= la.1 {
                assert!(
                    !p.regions[a].overlaps(&p.regions[b]),
                    "{what}: values {a} ({la:?}) and {b} ({lb:?}) live together but share bytes: {:?} {:?}",
                    p.regions[a],
                    p.regions[b]
                );
            }
        }
    }
    // wgpu's rule, checked independently of `verify`: no node's output shares a buffer with
    // one of its inputs (views dispatch nothing), in-place producers included.
    for node in g.nodes() {
        if matches!(
            node.op,
            Op::Flatten { .. } | Op::Reshape { .. } | Op::Dropout { .. } | Op::Identity
        ) || slice_is_view(g, p, node)
        {
            continue;
        }
        // A Concat's inputs written in place are not bound by it.
        for v in node
            .inputs
            .iter()
            .filter(|v| group[v.0] != group[node.output.0])
        {
            assert_ne!(
                p.regions[v.0].buffer, p.regions[node.output.0].buffer,
                "{what}: node {} reads and writes one buffer",
                node.name
            );
        }
    }
    assert_eq!(p.arena_bytes, p.buffers.iter().sum::<u64>());
    assert!(p.arena_bytes <= p.naive_bytes, "{what}");
    (p.arena_bytes, p.naive_bytes)
}
