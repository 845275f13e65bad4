//! Fewer bytes and dispatches: a Slice that is one aligned run of its input becomes a view
//! (its consumers bind the run), and a channel shuffle read only by convolutions is folded into
//! their weights. Every case runs on the device against the CPU reference of the unrewritten
//! graph, checks the plan's invariants, and which slices became views or which shuffles went;
//! the cases that must keep their copy (unaligned, batch 2, strided, a shuffle read by a
//! Slice or as an output) check that they do.

use wgconv::graph::{Conv2d, Graph, Node, Op, ValueId, passes};
use wgconv::plan::{ALIGN, Plan, plan};
use wgconv::session::Session;

use crate::common::gpu;
use crate::graph::{check_on_device, initialised};
use crate::plan_check::check_plan_of;

/// True when the plan makes `node` a Slice view (its output shares its input's storage);
/// then checks, element by element, that the slice is the run of its input's elements
/// starting at the view's offset, which is aligned.
pub(crate) fn slice_is_view(g: &Graph, p: &Plan, node: &Node) -> bool {
    let Op::Slice { starts, steps, .. } = &node.op else {
        return false;
    };
    let (x, y) = (node.inputs[0], node.output);
    if p.storage_of[x.0] != p.storage_of[y.0] {
        return false;
    }
    let (input, out) = (g.shape(x), g.shape(y));
    let (rx, ry) = (p.regions[x.0], p.regions[y.0]);
    assert_eq!(
        rx.buffer, ry.buffer,
        "{}: view in another buffer",
        node.name
    );
    assert_eq!(ry.offset % ALIGN, 0, "{}: view unaligned", node.name);
    let first = (ry.offset - rx.offset) / 4;
    let count: usize = out.iter().product();
    for i in 0..count {
        // Output index i, unravelled, mapped to its input element.
        let (mut rest, mut at, mut stride) = (i, 0usize, 1usize);
        for d in (0..out.len()).rev() {
            at += (starts[d] + rest % out[d] * steps[d]) * stride;
            rest /= out[d];
            stride *= input[d];
        }
        assert_eq!(
            at as u64,
            first + i as u64,
            "{}: slice view element {i} is not at its input's run",
            node.name
        );
    }
    true
}

/// Runs `g` on the device against the CPU reference, checks the session's plan (its own
/// `verify` and the independent lifetimes of `plan.rs`); returns, per Slice of its graph
/// in node order, whether it is a view (and then launches nothing).
fn views(what: &str, g: Graph) -> Vec<bool> {
    let (g, inputs) = initialised(g, 7);
    check_on_device(what, &g, &inputs);
    let s = Session::new(gpu(), &g).unwrap();
    let (h, p) = (s.graph(), s.plan());
    check_plan_of(what, h, p);
    p.steps
        .iter()
        .filter(|step| matches!(h.node(step.node).op, Op::Slice { .. }))
        .map(|step| {
            let view = slice_is_view(h, p, h.node(step.node));
            assert_eq!(view, step.launches.is_empty(), "{what}: a view launches");
            view
        })
        .collect()
}

/// A 3x3 convolution of a `[batch, 4, side, side]` input to `c` channels, cut into the channel
/// ranges `cuts`, each mixed by its own 1x1 convolution and given out.
pub(crate) fn cut(batch: usize, side: usize, c: usize, cuts: &[(usize, usize)]) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &[batch, 4, side, side]);
    let y = g.conv2d(x, "conv", Conv2d::new(c, 3).pad(1)).unwrap();
    for (i, &(a, b)) in cuts.iter().enumerate() {
        let part = g.slice_channels(y, a, b).unwrap();
        let z = g
            .conv2d(part, &format!("mix{i}"), Conv2d::new(2, 1))
            .unwrap();
        g.output(z);
    }
    g
}

#[test]
fn aligned_channel_slices_are_views() {
    // 8x8 planes: 4 channels are 1024 bytes.
    assert_eq!(
        views("aligned", cut(1, 8, 8, &[(0, 4), (4, 8)])),
        [true, true]
    );
}

#[test]
fn unaligned_slice_copies() {
    // 5x5 planes: 3 channels are 300 bytes, no binding can start there.
    assert_eq!(
        views("unaligned", cut(1, 5, 8, &[(0, 3), (3, 8)])),
        [true, false]
    );
}

#[test]
fn batch_two_slices_copy() {
    // Each image's channels are a run of their own: two runs, no view.
    assert_eq!(
        views("batch 2", cut(2, 8, 8, &[(0, 4), (4, 8)])),
        [false, false]
    );
}

/// `x` cut by an explicit Slice.
fn slice(g: &mut Graph, x: ValueId, starts: &[usize], ends: &[usize], steps: &[usize]) -> ValueId {
    let op = Op::Slice {
        starts: starts.to_vec(),
        ends: ends.to_vec(),
        steps: steps.to_vec(),
    };
    g.add("", op, &[x]).unwrap()
}

#[test]
fn strided_and_row_slices() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 16, 16]);
    let y = g.conv2d(x, "conv", Conv2d::new(4, 3).pad(1)).unwrap();
    // Every other channel: strided, a copy.
    let even = slice(&mut g, y, &[0, 0, 0, 0], &[1, 4, 16, 16], &[1, 2, 1, 1]);
    // Rows 4..12 of channel 1: one run at byte (16 * 16 + 4 * 16) * 4 = 1280, a view.
    let rows = slice(&mut g, y, &[0, 1, 4, 0], &[1, 2, 12, 16], &[1, 1, 1, 1]);
    // Rows 3..12: at byte 1216, a copy.
    let odd = slice(&mut g, y, &[0, 1, 3, 0], &[1, 2, 12, 16], &[1, 1, 1, 1]);
    // Columns 0..8 of every row: not one run, a copy.
    let cols = slice(&mut g, y, &[0, 0, 0, 0], &[1, 4, 16, 8], &[1, 1, 1, 1]);
    for v in [even, rows, odd, cols] {
        let z = g.relu(v).unwrap();
        g.output(z);
    }
    assert_eq!(views("strided", g), [false, true, false, false]);
}

#[test]
fn views_of_an_input_nest_and_are_read_back() {
    // Channels 4..8 of the input (byte 1024), then its channels 2..4 (byte 1536 in all), both
    // outputs: read back from inside the input's region.
    let mut g = Graph::new();
    let x = g.input("x", &[1, 8, 8, 8]);
    let a = g.slice_channels(x, 4, 8).unwrap();
    let b = g.slice_channels(a, 2, 4).unwrap();
    let y = g.conv2d(x, "conv", Conv2d::new(3, 3).pad(1)).unwrap();
    g.output(a);
    g.output(b);
    g.output(y);
    assert_eq!(views("nested", g), [true, true]);
}

#[test]
fn a_view_keeps_its_source_alive() {
    // `y`'s last direct reader is the first slice's chain; its view `late` is read only at
    // the end, after four convolutions that would reuse `y`'s bytes if the view did not
    // hold it.
    let mut g = Graph::new();
    let x = g.input("x", &[1, 4, 8, 8]);
    let y = g.conv2d(x, "conv", Conv2d::new(8, 3).pad(1)).unwrap();
    let early = g.slice_channels(y, 0, 4).unwrap();
    let late = g.slice_channels(y, 4, 8).unwrap();
    let mut z = early;
    for i in 0..4 {
        z = g
            .conv2d(z, &format!("c{i}"), Conv2d::new(4, 3).pad(1))
            .unwrap();
    }
    let z = g.add_values(z, late).unwrap();
    g.output(z);
    assert_eq!(views("lifetime", g), [true, true]);
}

/// Channel shuffles left in the optimised graph.
fn shuffles(g: &Graph) -> usize {
    let h = passes::optimize(g).unwrap();
    let n = h.nodes().iter();
    n.filter(|n| matches!(n.op, Op::ChannelShuffle(_))).count()
}

/// `[1, 8, 6, 6]` through a 3x3 convolution, shuffled in 2 groups; `tail` reads the shuffle.
fn shuffled(tail: impl Fn(&mut Graph, ValueId)) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 8, 6, 6]);
    let y = g.conv2d(x, "conv", Conv2d::new(8, 3).pad(1)).unwrap();
    let s = g.channel_shuffle(y, 2).unwrap();
    tail(&mut g, s);
    g
}

#[test]
fn shuffle_before_dense_convolutions_is_folded() {
    let g = shuffled(|g, s| {
        let a = g.conv2d(s, "a", Conv2d::new(5, 1)).unwrap();
        let b = g.conv2d(s, "b", Conv2d::new(5, 3).pad(1)).unwrap();
        let y = g.add_values(a, b).unwrap();
        g.output(y);
    });
    assert_eq!(shuffles(&g), 0);
    views("dense", g);
}

#[test]
fn shuffle_folds_through_depthwise_and_per_channel_ops() {
    // ShuffleNet V2's stride-2 unit: a depthwise branch (with BatchNorm and ReLU) and a dense
    // branch read the shuffle; the depthwise weights, bias and the affine follow the
    // permutation, the 1x1 convolutions after them take it.
    let g = shuffled(|g, s| {
        let d = g
            .conv2d(s, "dw", Conv2d::new(8, 3).pad(1).stride(2).groups(8))
            .unwrap();
        let d = g.batch_norm(d, "bn").unwrap();
        let d = g.relu(d).unwrap();
        let d = g.conv2d(d, "pw", Conv2d::new(4, 1)).unwrap();
        let e = g.conv2d(s, "e", Conv2d::new(4, 1).stride(2)).unwrap();
        let y = g.concat(&[d, e], 1).unwrap();
        g.output(y);
    });
    assert_eq!(shuffles(&g), 0);
    views("depthwise", g);
}

#[test]
fn shuffle_read_otherwise_stays() {
    // ShuffleNet V2's stride-1 unit: the halves go to a Slice each.
    let split = shuffled(|g, s| {
        let a = g.slice_channels(s, 0, 4).unwrap();
        let b = g.slice_channels(s, 4, 8).unwrap();
        let b = g.conv2d(b, "b", Conv2d::new(4, 1)).unwrap();
        let y = g.concat(&[a, b], 1).unwrap();
        g.output(y);
    });
    // A depthwise convolution given out: its channels must stay in shuffled order.
    let out = shuffled(|g, s| {
        let d = g
            .conv2d(s, "dw", Conv2d::new(8, 3).pad(1).groups(8))
            .unwrap();
        let e = g.conv2d(d, "e", Conv2d::new(4, 1)).unwrap();
        g.output(d);
        g.output(e);
    });
    // A residual add of the shuffle.
    let add = shuffled(|g, s| {
        let a = g.conv2d(s, "a", Conv2d::new(8, 1)).unwrap();
        let y = g.add_values(a, s).unwrap();
        g.output(y);
    });
    for (what, g) in [("split", split), ("output", out), ("residual", add)] {
        assert_eq!(shuffles(&g), 1, "{what}");
        views(what, g);
    }
}

/// ShuffleNet V2 at batch 1 and 64x64: stage 2's halves (58 channels of 8x8) and stage 3's
/// (116 of 4x4) start at aligned bytes, stage 4's (232 of 2x2) do not; the shuffles ending
/// stages 2 and 3 (read by stride-2 units) and the last (read by conv5) fold.
#[test]
fn shufflenet_v2_batch_one() {
    let g = wgconv::zoo::build("shufflenet_v2_x1_0", &[1, 3, 64, 64]).unwrap();
    let before = g.nodes().iter();
    let before = before
        .filter(|n| matches!(n.op, Op::ChannelShuffle(_)))
        .count();
    assert_eq!((before, shuffles(&g)), (16, 13));
    let v = views("shufflenet_v2", g);
    // Per stride-1 unit a first half (offset 0) and a second half: 3 + 7 units aligned, 3 not.
    assert_eq!(v.len(), 26);
    assert_eq!(v.iter().filter(|&&b| b).count(), 13 + 10);
}

/// Activation bytes the plan's launches bind (each binding once per launch), and launches.
fn traffic(p: &Plan) -> (u64, usize) {
    let bytes = p
        .launches()
        .map(|l| l.bindings.iter().map(|b| b.size).sum::<u64>());
    (bytes.sum(), p.dispatch_count())
}

/// Launches and bound bytes of the zoo at 1x3x224x224 and of the ONNX fixtures at their input
/// shape, printed with `--nocapture`. Pinned where views or folds apply; before them (every
/// slice copied, every shuffle kept; same heuristics) ShuffleNet V2 took 117 launches binding
/// 60_977_368 bytes, the ShuffleNet V2 x0.5 fixture (batch 2, 64x64) 133 and 6_869_032,
/// YOLOv8n at 160 (its C2f splits) 154 and 65_685_804 (with views 149 and 65_596_404; then
/// C2f's split source written into its Concat in place: 134 and 63_382_004; then fused
/// Winograd: 126). Fewer is allowed, more a regression. The GEMM's input-scale binding (SE's
/// gate, `se_scale`) added 4 bytes per unscaled GEMM launch (its placeholder) to the pins.
#[test]
fn fewer_launches_and_bytes() {
    let pins = [
        ("shufflenet_v2_x1_0", 114, 59_704_300u64),
        ("shufflenet_v2_x0_5", 130, 6_783_164),
        ("yolov8n_160", 126, 51_266_136),
    ];
    let mut pinned = 0;
    let zoo = [
        "googlenet",
        "shufflenet_v2_x1_0",
        "squeezenet1_1",
        "resnet50",
    ];
    let mut graphs: Vec<(String, Graph)> = zoo
        .iter()
        .map(|&n| {
            (
                n.to_string(),
                wgconv::zoo::build(n, &[1, 3, 224, 224]).unwrap(),
            )
        })
        .collect();
    for dir in crate::onnx::fixture_dirs() {
        let (g, _, _) = crate::onnx::load(&dir);
        graphs.push((dir.file_name().unwrap().to_string_lossy().into(), g));
    }
    for (name, g) in graphs {
        let h = passes::optimize(&g).unwrap();
        let p = plan(&h).unwrap();
        p.verify(&h).unwrap();
        let (bytes, launches) = traffic(&p);
        let slices = h
            .nodes()
            .iter()
            .filter(|n| matches!(n.op, Op::Slice { .. }));
        let (n_slices, n_views) = slices.fold((0, 0), |(n, v), node| {
            (n + 1, v + slice_is_view(&h, &p, node) as usize)
        });
        let folded = g
            .nodes()
            .iter()
            .filter(|n| matches!(n.op, Op::ChannelShuffle(_)))
            .count()
            - shuffles(&g);
        let x = g.shape(g.inputs()[0]);
        eprintln!(
            "{name} {x:?}: {launches} launches, {bytes} bytes bound; {n_views} of {n_slices} slices are views, {folded} shuffles folded"
        );
        if let Some(&(_, l, b)) = pins.iter().find(|p| p.0 == name) {
            assert!(
                launches <= l && bytes <= b,
                "{name}: more than {l} launches / {b} bytes"
            );
            pinned += 1;
        }
    }
    assert_eq!(pinned, pins.len(), "a pinned network is missing");
}
