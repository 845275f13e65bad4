//! Pooling nodes in every rank: MaxPool's Indices output (both storage orders), LpPool,
//! GlobalLpPool on video tensors, and the forms refused with a reason.

use wgconv::onnx::proto::{AttributeProto, NodeProto};
use wgconv::onnx::{ImportOptions, import_bytes};
use wgconv::ops::{PoolKind, PoolSpec};
use wgconv::reference;
use wgconv::tensor::Tensor;

use super::{attr_i, attr_ints, model_at, node, run_model, value_info};

/// One pooling node at opset 22 over `x` of `shape`, reading output `out` (of `outs`).
fn pool_model(
    op: &str,
    shape: &[i64],
    outs: &[&str],
    out: &str,
    attrs: Vec<AttributeProto>,
) -> Vec<u8> {
    model_at(
        22,
        vec![NodeProto {
            attribute: attrs,
            ..node(op, "p", &["x"], outs)
        }],
        vec![value_info("x", shape)],
        vec![],
        out,
    )
}

#[test]
fn max_pool_indices_in_both_storage_orders() {
    let x = Tensor::random(vec![2, 3, 5, 6, 7], 3);
    for order in [0, 1] {
        let attrs = vec![
            attr_ints("kernel_shape", &[2, 3, 2]),
            attr_ints("strides", &[2, 1, 2]),
            attr_ints("pads", &[1, 0, 1, 0, 1, 1]),
            attr_i("storage_order", order),
        ];
        let bytes = pool_model("MaxPool", &[2, 3, 5, 6, 7], &["y", "i"], "i", attrs);
        let (_, got) = run_model(&bytes, &x);
        let mut spec = PoolSpec::nd(
            PoolKind::MaxIndex {
                column_major: order == 1,
            },
            3,
            2,
            2,
            0,
        );
        (spec.kernel, spec.stride) = (vec![2, 3, 2], vec![2, 1, 2]);
        (spec.pad_begin, spec.pad_end) = (vec![1, 0, 1], vec![0, 1, 1]);
        let want = reference::pool::pool(&spec, &x).unwrap();
        assert_eq!(got.data(), want.data(), "storage_order {order}");
    }
}

#[test]
fn lp_pools_and_a_video_global_lp_pool() {
    let x = Tensor::random(vec![1, 2, 9], 4);
    let bytes = pool_model(
        "LpPool",
        &[1, 2, 9],
        &["y"],
        "y",
        vec![attr_ints("kernel_shape", &[3]), attr_i("p", 3)],
    );
    let (_, got) = run_model(&bytes, &x);
    let want = reference::pool::pool(&PoolSpec::nd(PoolKind::Lp(3), 1, 3, 1, 0), &x).unwrap();
    super::check("LpPool p=3", &got, &want);
    let v = Tensor::random(vec![2, 4, 3, 5, 5], 5);
    let bytes = pool_model("GlobalLpPool", &[2, 4, 3, 5, 5], &["y"], "y", vec![]);
    let (_, got) = run_model(&bytes, &v);
    let want = reference::pool::global_pool(PoolKind::Lp(2), &v).unwrap();
    assert_eq!(got.shape(), [2, 4, 1, 1, 1]);
    super::check("GlobalLpPool", &got, &want);
}

#[test]
fn refused_pool_forms_name_the_reason() {
    let cases = [
        (
            "MaxPool",
            vec![1, 1, 2, 2, 2, 2],
            vec![attr_ints("kernel_shape", &[1, 1, 1, 1])],
            "more than 3 spatial dims",
        ),
        (
            "MaxPool",
            vec![1, 1, 4, 4],
            vec![
                attr_ints("kernel_shape", &[2, 2]),
                attr_i("storage_order", 2),
            ],
            "storage_order",
        ),
        (
            "LpPool",
            vec![1, 1, 4],
            vec![attr_ints("kernel_shape", &[2]), attr_i("p", 0)],
            "attribute p",
        ),
        (
            "AveragePool",
            vec![1, 1, 4, 4],
            vec![attr_ints("kernel_shape", &[2])],
            "kernel_shape",
        ),
    ];
    for (op, shape, attrs, want) in cases {
        let bytes = pool_model(op, &shape, &["y", "i"], "i", attrs);
        let err = import_bytes(&bytes, &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{op}: {want:?} not in {err}");
    }
}
