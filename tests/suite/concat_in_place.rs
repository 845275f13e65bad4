//! Concat in place: convolutions write straight into their chunk of a channel concat at
//! batch 1 (also a convolution whose split halves are concatenated in order), and every case
//! that cannot (batch 2, a chunk at an unaligned offset, a producer that is a graph output, a
//! producer already in place in another concat, a producer reading another chunk) falls back
//! to the copy. Each case checks which inputs went in place, the concat's launches, the plan's
//! invariants and the device result against the CPU reference.

use wgconv::graph::{Conv2d, Graph, Op, ValueId, cpu};
use wgconv::session::Session;

use crate::common::{assert_close, gpu};
use crate::graph::{initialised, network_tolerance};

/// A 3x3 convolution of `x` to `c` channels.
fn conv(g: &mut Graph, x: ValueId, name: &str, c: usize) -> ValueId {
    g.conv2d(x, name, Conv2d::new(c, 3).pad(1)).unwrap()
}

/// Runs `g` on the device and the CPU; returns, per Concat of the session's graph in node
/// order, which of its inputs were written in place and how many copies it launches.
fn in_place(what: &str, g: Graph) -> Vec<(Vec<bool>, usize)> {
    let (g, inputs) = initialised(g, 5);
    let s = Session::new(gpu(), &g).unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = s.run(&inputs).unwrap();
    let want = cpu::run(&g, &inputs).unwrap();
    let tol = network_tolerance(&g, &inputs);
    for (a, b) in got.iter().zip(&want) {
        assert_close(what, a, b, tol);
    }
    let (h, p) = (s.graph(), s.plan());
    p.verify(h).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(s.dispatch_count(), p.dispatch_count());
    p.steps
        .iter()
        .filter(|step| matches!(h.node(step.node).op, Op::Concat { .. }))
        .map(|step| {
            let node = h.node(step.node);
            let mask = node
                .inputs
                .iter()
                .map(|v| p.storage_of[v.0] == node.output)
                .collect();
            (mask, step.launches.len())
        })
        .collect()
}

/// Two convolutions of a `[batch, 4, side, side]` input, `a` and `b` channels, concatenated
/// and mixed by a 1x1 convolution; with `b_out` the second convolution is an output too.
pub(crate) fn pair(batch: usize, side: usize, a: usize, b: usize, b_out: bool) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &[batch, 4, side, side]);
    let ya = conv(&mut g, x, "a", a);
    let ya = g.relu(ya).unwrap();
    let yb = conv(&mut g, x, "b", b);
    let cat = g.concat(&[ya, yb], 1).unwrap();
    let y = g.conv2d(cat, "mix", Conv2d::new(3, 1)).unwrap();
    g.output(y);
    if b_out {
        g.output(yb);
    }
    g
}

#[test]
fn batch_one_writes_in_place() {
    // 8x8 planes: 6 channels are 1536 bytes, an aligned offset for the second chunk.
    assert_eq!(
        in_place("batch 1", pair(1, 8, 6, 10, false)),
        [(vec![true, true], 0)]
    );
}

#[test]
fn batch_two_copies() {
    assert_eq!(
        in_place("batch 2", pair(2, 8, 6, 10, false)),
        [(vec![false, false], 2)]
    );
}

#[test]
fn unaligned_chunk_copies() {
    // 5x5 planes: 3 channels are 300 bytes, so the second chunk cannot be bound on its own.
    assert_eq!(
        in_place("odd channels", pair(1, 5, 3, 5, false)),
        [(vec![true, false], 1)]
    );
}

#[test]
fn graph_output_producer_copies() {
    assert_eq!(
        in_place("producer is an output", pair(1, 8, 6, 10, true)),
        [(vec![true, false], 1)]
    );
}

#[test]
fn producer_feeding_two_concats_goes_in_place_once() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 8, 8]);
    let a = conv(&mut g, x, "a", 4);
    let b = conv(&mut g, x, "b", 8);
    let c = conv(&mut g, x, "c", 4);
    let first = g.concat(&[a, b], 1).unwrap();
    let second = g.concat(&[b, c], 1).unwrap();
    let first = g.conv2d(first, "m1", Conv2d::new(2, 1)).unwrap();
    let second = g.conv2d(second, "m2", Conv2d::new(2, 1)).unwrap();
    let y = g.add_values(first, second).unwrap();
    g.output(y);
    assert_eq!(
        in_place("two concats", g),
        [(vec![true, true], 0), (vec![false, true], 1)]
    );
}

/// YOLOv8's C2f: a convolution split in two channel halves (views), the second half feeding
/// a branch, all three concatenated. The halves lay out the convolution's output in order, so
/// the convolution itself writes into the first two chunks; `shortcut` adds the second half to
/// the branch (as the backbone's C2f does), whose producer then reads a chunk of the output
/// and copies instead. With the halves swapped they no longer tile it, and both copy.
fn c2f(shortcut: bool, swapped: bool) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 8, 8]);
    let t = conv(&mut g, x, "cv1", 8);
    let (y0, y1) = (
        g.slice_channels(t, 0, 4).unwrap(),
        g.slice_channels(t, 4, 8).unwrap(),
    );
    let m = conv(&mut g, y1, "m.cv1", 4);
    let m = conv(&mut g, m, "m.cv2", 4);
    let m = if shortcut {
        g.add_values(y1, m).unwrap()
    } else {
        m
    };
    let halves = if swapped { [y1, y0] } else { [y0, y1] };
    let cat = g.concat(&[halves[0], halves[1], m], 1).unwrap();
    let y = g.conv2d(cat, "cv2", Conv2d::new(3, 1)).unwrap();
    g.output(y);
    g
}

#[test]
fn split_halves_concatenated_in_order_write_in_place() {
    assert_eq!(
        in_place("c2f", c2f(false, false)),
        [(vec![true, true, true], 0)]
    );
    assert_eq!(
        in_place("c2f with shortcut", c2f(true, false)),
        [(vec![true, true, false], 1)]
    );
    assert_eq!(
        in_place("c2f with swapped halves", c2f(false, true)),
        [(vec![false, false, true], 2)]
    );
}

/// YOLOv8's SPPF: three chained max pools concatenated after their source. A producer may
/// not read a chunk it shares the output with, so in input order the source goes in place,
/// the first pool (reading it) copies, the second (reading the first) goes in place, the
/// third copies.
#[test]
fn chained_producers_alternate() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 8, 8]);
    let c = conv(&mut g, x, "cv1", 4);
    let p1 = g.max_pool(c, 5, 1, 2, false).unwrap();
    let p2 = g.max_pool(p1, 5, 1, 2, false).unwrap();
    let p3 = g.max_pool(p2, 5, 1, 2, false).unwrap();
    let cat = g.concat(&[c, p1, p2, p3], 1).unwrap();
    let y = g.conv2d(cat, "cv2", Conv2d::new(3, 1)).unwrap();
    g.output(y);
    assert_eq!(in_place("sppf", g), [(vec![true, false, true, false], 2)]);
}
