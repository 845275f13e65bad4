//! Bytes moved by a plan and the minimum for its graph (`wgconv::traffic`), without a GPU:
//! hand-built graphs whose figures are worked out by hand in the comments, and README's
//! before/after table for the suite networks, regenerated and compared.

use std::collections::HashMap;

use wgconv::graph::{Conv2d, Graph, NodeId, Op, passes};
use wgconv::kernels::Launch;
use wgconv::kernels::algorithm::ConvAlgorithm;
use wgconv::kernels::conv::ConvTiling;
use wgconv::ops::Activation;
use wgconv::plan::{PlanOptions, Rewrites, Slice, Store, default_target, lower};
use wgconv::precision::Precision;
use wgconv::shaders::Shader;
use wgconv::traffic::{Bytes, Traffic, excess_by_op, launch_bytes, minimum_bytes};

/// `x [1, 3, 8, 8]` -> 3x3 conv to 4 channels (pad 1, bias) -> ReLU, fused into one node.
fn conv_relu() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 3, 8, 8]);
    let y = g.conv2d(x, "c", Conv2d::new(4, 3).pad(1)).unwrap();
    let y = g.relu(y).unwrap();
    g.output(y);
    let g = passes::optimize(&g).unwrap();
    assert_eq!(g.nodes().len(), 1, "the ReLU is fused into the conv");
    g
}

/// The conv node of `g` run as `algorithm`.
fn plan_as(g: &Graph, algorithm: ConvAlgorithm) -> wgconv::plan::Plan {
    let conv = g
        .nodes()
        .iter()
        .position(|n| matches!(n.op, Op::Conv { .. }))
        .unwrap();
    let options = PlanOptions {
        algorithms: HashMap::from([(NodeId(conv), algorithm)]),
        ..Default::default()
    };
    lower(g, &default_target(), &options).unwrap()
}

/// One direct-conv launch: reads the input (3*64*4 = 768 B), the weights (4*3*9*4 = 432 B)
/// and the bias (16 B), writes the output (4*64*4 = 1024 B). The absent residual is bound as
/// the input and `partial` as the output: aliases, counted once. The minimum is the same.
#[test]
fn conv_relu_moves_input_weights_bias_and_output_once() {
    let g = conv_relu();
    let plan = plan_as(&g, ConvAlgorithm::Implicit(ConvTiling::default()));
    let t = Traffic::of(&g, &plan);
    assert_eq!(t.dispatches, 1);
    assert_eq!(
        t.moved,
        Bytes {
            read: 768 + 432 + 16,
            written: 1024
        }
    );
    assert_eq!(t.minimum, 768 + 432 + 16 + 1024);
    assert_eq!(t.ratio(), 1.0);
}

/// Split-K in 2 ranges: the partial sums are scratch of 2 * 4*64 * 4 = 2048 B, written by the
/// first launch (which also reads 768 + 432 B; its bias slot aliases the weights) and read by
/// the reduction (with the 16 B bias; its residual slot aliases the partials), which writes
/// the 1024 B output: 1200 + 2048 + 2064 + 1024 = 6336 B, against a minimum of 2240 B.
#[test]
fn split_k_scratch_counts_like_a_tensor() {
    let g = conv_relu();
    let plan = plan_as(
        &g,
        ConvAlgorithm::SplitK {
            tiling: ConvTiling::default(),
            splits: 2,
        },
    );
    let t = Traffic::of(&g, &plan);
    assert_eq!(t.dispatches, 2);
    assert_eq!(
        t.moved,
        Bytes {
            read: 1200 + 2064,
            written: 2048 + 1024
        }
    );
    assert_eq!(t.minimum, 2240);
}

fn slice(store: Store, offset: u64, size: u64) -> Slice {
    Slice {
        store,
        offset,
        size,
    }
}

/// An eltwise launch (bindings a, b read; out written) whose bindings overlap: a = bytes
/// 0..1024 and b = 512..1536 of arena 0 are 1536 distinct bytes read; out = 256..512 of the
/// same arena is 256 bytes written (read and written are counted apart). The same offsets in
/// another buffer are other bytes.
#[test]
fn overlapping_and_aliased_bindings_count_once() {
    let launch = |bindings: Vec<Slice>| Launch {
        shader: Shader::Eltwise,
        constants: Vec::new(),
        params: Vec::new(),
        bindings,
        workgroups: 1,
    };
    let a = slice(Store::Arena(0), 0, 1024);
    let b = slice(Store::Arena(0), 512, 1024);
    let out = slice(Store::Arena(0), 256, 256);
    let bytes = |l| launch_bytes(&l);
    assert_eq!(
        bytes(launch(vec![a, b, out])),
        Bytes {
            read: 1536,
            written: 256
        }
    );
    // b aliasing a: 1024 read.
    assert_eq!(bytes(launch(vec![a, a, out])).read, 1024);
    // b in the staging buffer at the same offsets: 1024 + 1024.
    let staged = slice(Store::Staging(0), 512, 1024);
    assert_eq!(bytes(launch(vec![a, staged, out])).read, 2048);
}

/// `x [1,16,2,2]` (256 B) -> ReLU -> a, x -> Sigmoid -> b, Concat(a, b) on channels (512 B),
/// Flatten, ReLU -> output. Minimum: each activation reads its 256 B and writes 256 B, the
/// last reads the 512 B concat through the (free) Flatten and writes 512 B: 2048 B. With
/// Concat in place the plan is exactly that in 3 launches. Without, the Concat is two copies,
/// each reading its 256 B input and binding the whole 512 B output: 2048 + 2 * 768 = 3584 B
/// in 5 launches.
#[test]
fn concat_in_place_reaches_the_minimum_and_the_switch_turns_it_off() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 16, 2, 2]);
    let a = g.relu(x).unwrap();
    let b = g.act(x, Activation::Sigmoid).unwrap();
    let c = g.concat(&[a, b], 1).unwrap();
    let f = g.flatten(c, 1).unwrap();
    let y = g.relu(f).unwrap();
    g.output(y);
    let traffic = |rewrites| {
        let options = PlanOptions {
            rewrites,
            ..Default::default()
        };
        Traffic::of(&g, &lower(&g, &default_target(), &options).unwrap())
    };
    let after = traffic(Rewrites::ALL);
    assert_eq!((after.dispatches, after.moved.total()), (3, 2048));
    assert_eq!(after.minimum, 2048);
    let before = traffic(Rewrites::NONE);
    assert_eq!((before.dispatches, before.moved.total()), (5, 3584));
    assert_eq!(before.minimum, 2048);
}

/// Data movement is free in the minimum and a consumer pays for what it reads behind it.
/// `x [1,16,2,2]` (256 B): channels 0..4 sliced (64 B) -> ReLU: 64 + 64; x transposed
/// (free) -> Sigmoid: 256 + 256; x padded by 1 on each side of H and W (to 1x16x4x4,
/// 1024 B) -> Tanh: reads the 256 B behind the Pad, writes 1024 B. In all 128 + 512 + 1280
/// = 1920 B; in f16 half that.
#[test]
fn minimum_charges_no_data_movement() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 16, 2, 2]);
    let s = g.slice_channels(x, 0, 4).unwrap();
    let s = g.relu(s).unwrap();
    let t = g.transpose(x, &[0, 1, 3, 2]).unwrap();
    let t = g.act(t, Activation::Sigmoid).unwrap();
    let p = g.pad(x, &[0, 0, 1, 1], &[0, 0, 1, 1], 0.0).unwrap();
    let p = g.act(p, Activation::Tanh).unwrap();
    for v in [s, t, p] {
        g.output(v);
    }
    assert_eq!(minimum_bytes(&g, Precision::F32), 1920);
    assert_eq!(minimum_bytes(&g, Precision::F16), 960);
}

/// A network of README's table: name, input shape and graph as built or imported.
fn table_networks() -> Vec<(String, Vec<usize>, Graph)> {
    let mut nets = Vec::new();
    for name in [
        "resnet50",
        "mobilenet_v2",
        "efficientnet_b0",
        "googlenet",
        "shufflenet_v2_x1_0",
    ] {
        let input = vec![1, 3, 224, 224];
        let g = wgconv::zoo::build(name, &input).unwrap();
        nets.push((name.to_string(), input, g));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx");
    let path = dir.join("yolov8n_160/model.onnx");
    let g = wgconv::onnx::import_path(&path, &Default::default()).unwrap();
    let input = g.shape(g.inputs()[0]).to_vec();
    nets.push(("yolov8n (ONNX)".into(), input, g));
    nets
}

fn mb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 * 1e-6)
}

/// README's traffic block: per network the launches and bytes of the plan with the
/// byte-saving rewrites off ("before") and on ("after"), the minimum and the ratios, then
/// where the network furthest from its minimum loses its bytes.
fn traffic_block() -> String {
    let mut s = String::from(
        "\n| network | input | dispatches before | dispatches after | MB moved before | MB moved after | MB minimum | x minimum before | x minimum after | most MB over the minimum (after) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    let mut worst: Option<(f64, String, Graph)> = None;
    for (name, input, built) in table_networks() {
        // The graph passes and the planner, both with `rewrites`.
        let plan = |rewrites| {
            let g = passes::optimize_with(&built, &rewrites).unwrap();
            let options = PlanOptions {
                rewrites,
                ..Default::default()
            };
            let plan = lower(&g, &default_target(), &options).unwrap();
            (Traffic::of(&g, &plan), plan, g)
        };
        let ((b, ..), (a, after, g)) = (plan(Rewrites::NONE), plan(Rewrites::ALL));
        let shape = input.iter().map(usize::to_string).collect::<Vec<_>>();
        let (op, moved, min) = excess_by_op(&g, &after).swap_remove(0);
        s += &format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {op}: {:.2} |\n",
            shape.join("x"),
            b.dispatches,
            a.dispatches,
            mb(b.moved.total()),
            mb(a.moved.total()),
            mb(a.minimum),
            b.ratio(),
            a.ratio(),
            (moved as f64 - min as f64) * 1e-6
        );
        if worst.as_ref().is_none_or(|w| a.ratio() > w.0) {
            worst = Some((a.ratio(), name, g));
        }
    }
    let (_, name, g) = worst.expect("networks");
    let plan = lower(&g, &default_target(), &PlanOptions::default()).unwrap();
    s += &format!(
        "\nWhere {name} (after) moves more than its minimum, by op (rows with 0.01 MB or more either way):\n\n\
         | op | MB moved | MB minimum | MB over |\n|---|---:|---:|---:|\n"
    );
    for (op, moved, min) in excess_by_op(&g, &plan) {
        let over = moved as f64 - min as f64;
        if over.abs() >= 0.5e4 {
            s += &format!(
                "| {op} | {} | {} | {:.2} |\n",
                mb(moved),
                mb(min),
                over * 1e-6
            );
        }
    }
    s
}

/// README's traffic table is what the planner gives today (`WGCONV_README_BLESS=1` rewrites
/// it): plans only, no GPU.
#[test]
fn readme_traffic_table_is_current() {
    const START: &str = "<!-- traffic:start -->\n";
    const END: &str = "<!-- traffic:end -->";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = text.split_once(START).expect("README has the start marker");
    let (listed, tail) = rest.split_once(END).expect("README has the end marker");
    let want = traffic_block() + "\n";
    if listed == want {
        return;
    }
    if std::env::var_os("WGCONV_README_BLESS").is_some() {
        std::fs::write(&path, format!("{head}{START}{want}{END}{tail}")).unwrap();
        return;
    }
    panic!(
        "README.md's traffic table differs from the plans (WGCONV_README_BLESS=1 rewrites it); it should read:\n{want}"
    );
}
