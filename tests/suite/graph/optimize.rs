//! The graph passes, each checked on the CPU reference: the optimized and the original graph
//! agree.

use wgconv::blocks;
use wgconv::graph::{Conv2d, Graph, Op, passes};
use wgconv::ops::PoolKind;
use wgconv::shaders::Shader;

use super::{check_on_device, check_pass, count, initialised, mixed_net};

#[test]
fn remove_identities_keeps_function() {
    let (g, inputs) = initialised(mixed_net(2), 1);
    let h = check_pass("remove_identities", &g, &inputs, |h| {
        passes::remove_identities(h).unwrap();
    });
    assert_eq!(count(&h, |op| matches!(op, Op::Dropout { .. })), 0);
    assert!(count(&g, |op| matches!(op, Op::Dropout { .. })) > 0);
}

#[test]
fn fold_batch_norm_keeps_function() {
    let (g, inputs) = initialised(mixed_net(2), 2);
    let h = check_pass("fold_batch_norm", &g, &inputs, |h| {
        passes::fold_batch_norm(h).unwrap();
    });
    assert_eq!(count(&h, |op| matches!(op, Op::BatchNorm { .. })), 0);
    // The pre-activation block's first BN follows a ReLU: it becomes an affine op.
    assert_eq!(count(&h, |op| matches!(op, Op::ChannelAffine { .. })), 1);
    assert!(count(&g, |op| matches!(op, Op::BatchNorm { .. })) > 0);
    // Every conv that fed a BN now has a bias; named, so a renamed block cannot empty the check.
    let fed: Vec<&str> = h
        .nodes()
        .iter()
        .filter(|n| n.name.starts_with("stem.0") || n.name.ends_with("conv1"))
        .map(|n| {
            assert!(
                matches!(&n.op, Op::Conv { bias: Some(_), .. }),
                "{}: {:?}",
                n.name,
                n.op.kind()
            );
            n.name.as_str()
        })
        .collect();
    assert_eq!(
        fed,
        [
            "stem.0",
            "res1.conv1",
            "res2.conv1",
            "pre.conv1",
            "fire.conv1"
        ]
    );
}

#[test]
fn fold_batch_norm_into_transposed_conv_with_groups() {
    use wgconv::ops::{ConvSpec, ConvTransposeSpec};
    let mut g = Graph::new();
    let x = g.input("x", &[2, 4, 5, 5]);
    let spec = ConvTransposeSpec::new(ConvSpec::conv2d(3, 3).stride(2).groups(2));
    let y = g.conv_transpose(x, "up", 6, spec, false).unwrap();
    let y = g.batch_norm(y, "bn").unwrap();
    g.output(y);
    let (g, inputs) = initialised(g, 3);
    let h = check_pass("fold into conv_transpose", &g, &inputs, |h| {
        passes::fold_batch_norm(h).unwrap();
    });
    assert_eq!(h.nodes().len(), 1);
}

#[test]
fn fuse_residual_and_activation_keep_function() {
    let (g, inputs) = initialised(mixed_net(2), 4);
    let h = check_pass("residual + activation fusion", &g, &inputs, |h| {
        passes::remove_identities(h).unwrap();
        passes::fold_batch_norm(h).unwrap();
        passes::fuse_residual_add(h).unwrap();
        passes::fuse_activations(h).unwrap();
    });
    let adds = count(
        &h,
        |op| matches!(op, Op::Binary { .. } if op.kind() == "add"),
    );
    assert_eq!(adds, 0, "{}", h.describe());
    let residual_convs = count(
        &h,
        |op| matches!(op, Op::Conv { epilogue, .. } if epilogue.residual),
    );
    assert_eq!(residual_convs, 3, "{}", h.describe());
    // The only activations left are those that cannot fuse: none here (the Fire ReLU after
    // the concat moves into both expand convolutions).
    assert_eq!(
        count(&h, |op| matches!(op, Op::Activation(_))),
        0,
        "{}",
        h.describe()
    );
}

#[test]
fn fusion_skips_values_with_other_readers() {
    // conv -> relu, and the conv output is also a graph output: the activation must not fuse.
    let mut g = Graph::new();
    let x = g.input("x", &[1, 2, 5, 5]);
    let c = g.conv2d(x, "c", Conv2d::new(3, 3)).unwrap();
    let r = g.relu(c).unwrap();
    g.output(c);
    g.output(r);
    let (g, inputs) = initialised(g, 5);
    let h = check_pass("shared output", &g, &inputs, |h| {
        passes::fuse_activations(h).unwrap();
    });
    assert_eq!(count(&h, |op| matches!(op, Op::Activation(_))), 1);
}

/// SE on a small map takes 2 dispatches (gate with the pooling fused, scale); on a large map
/// 3 (a parallel pool, gate, scale).
#[test]
fn squeeze_excitation_fuses_to_two_or_three_dispatches() {
    for (shape, expect) in [
        ([2, 16, 6, 6], vec![Shader::SeGate, Shader::Eltwise]),
        (
            [1, 8, 40, 40],
            vec![Shader::GlobalPool, Shader::SeGate, Shader::Eltwise],
        ),
    ] {
        let mut g = Graph::new();
        let x = g.input("x", &shape);
        let y = blocks::se(&mut g, x, "", 4).unwrap();
        g.output(y);
        let (g, inputs) = initialised(g, 6);
        let h = check_pass("SE fusion", &g, &inputs, |h| {
            *h = passes::optimize(h).unwrap();
        });
        assert_eq!(count(&h, |op| matches!(op, Op::SeGate { .. })), 1);
        let plan = wgconv::plan::plan(&h).unwrap();
        let kernels: Vec<Shader> = plan.launches().map(|l| l.shader).collect();
        assert_eq!(kernels, expect, "{}", h.describe());
        let (_, dispatches) = check_on_device("SE block", &g, &inputs);
        assert_eq!(dispatches, expect.len());
    }
}

#[test]
fn optimize_keeps_function_and_shrinks_the_graph() {
    let (g, inputs) = initialised(mixed_net(2), 7);
    let h = check_pass("optimize", &g, &inputs, |h| {
        *h = passes::optimize(h).unwrap();
    });
    assert!(h.nodes().len() < g.nodes().len() / 2, "{}", h.describe());
    // The SE's pooling is fused into its gate kernel (a 3 x 3 map); the head's remains.
    assert!(
        count(&h, |op| matches!(op, Op::GlobalPool(PoolKind::Avg))) == 1,
        "{}",
        h.describe()
    );
}
