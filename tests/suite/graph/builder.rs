//! The builder and shape inference: errors naming the node, batch re-inference, compaction.

use wgconv::Error;
use wgconv::graph::{Conv2d, Graph};
use wgconv::ops::Activation;

use super::mixed_net;

#[test]
fn shape_errors_name_node_op_and_shapes() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 3, 8, 8]);
    let err = g
        .conv2d(x, "layer1.conv", Conv2d::new(4, 3).groups(2))
        .unwrap_err();
    assert!(err.to_string().contains("layer1.conv"), "{err}");
    let y = g.conv2d(x, "a", Conv2d::new(4, 3)).unwrap();
    let err = g.add_values(x, y).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("add") && msg.contains("[1, 3, 8, 8]") && msg.contains("[1, 4, 6, 6]"),
        "{msg}"
    );
    // Duplicate names would make state_dict keys ambiguous.
    assert!(g.conv2d(x, "a", Conv2d::new(4, 3)).is_err());
    // A linear layer on a 4-D map must be told to flatten first.
    let err = g.linear(y, "fc", 3, true).unwrap_err();
    assert!(err.to_string().contains("fc"), "{err}");
    let err = g.reshape(y, &[-1, 7]).unwrap_err();
    assert!(matches!(err, Error::InvalidOp { .. }), "{err}");
}

#[test]
fn with_batch_reinfers_shapes() {
    let g = mixed_net(1);
    let g3 = g.with_batch(3).unwrap();
    assert_eq!(g3.shape(g3.outputs()[0]), &[3, 5]);
    assert_eq!(g3.parameter_count(), g.parameter_count());
}

#[test]
fn compact_removes_dead_nodes_and_restores_order() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 2, 4, 4]);
    let a = g.relu(x).unwrap();
    let _dead = g.conv2d(a, "dead", Conv2d::new(2, 1)).unwrap();
    let b = g.act(a, Activation::Sigmoid).unwrap();
    g.output(b);
    g.compact().unwrap();
    assert_eq!(g.nodes().len(), 2);
    assert!(g.find("dead").is_none());
}
