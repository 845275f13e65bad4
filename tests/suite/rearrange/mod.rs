//! Data-movement kernels (strided copy) against the CPU reference: bit-exact.

use proptest::prelude::*;
use wgconv::compare::Tolerance;
use wgconv::device::{BufRef, Dispatch};
use wgconv::kernels::rearrange;
use wgconv::ops::{ChannelOrder, ChannelShuffle, PixelShuffle, SpaceToDepth};
use wgconv::reference;
use wgconv::shader_check::{Target, translate};
use wgconv::shaders::Shader;
use wgconv::tensor::Tensor;
use wgconv::{GpuTensor, Result};

use crate::common::{assert_close, gpu, run, upload_all};

mod bad_shapes;

/// Data movement must reproduce every value exactly.
const EXACT: Tolerance = Tolerance {
    atol: 0.0,
    rtol: 0.0,
};

const ORDERS: [ChannelOrder; 2] = [ChannelOrder::Crd, ChannelOrder::Dcr];

/// Uploads `x`, runs `f(input, output)` into a fresh `out_shape` tensor, downloads.
fn gpu_op(
    x: &Tensor,
    out_shape: &[usize],
    f: impl FnOnce(BufRef<'_>, BufRef<'_>) -> Result<Dispatch>,
) -> Tensor {
    let bufs = upload_all(&[x]);
    let out = gpu().zeros(out_shape).unwrap();
    let d = f(bufs[0].binding(), out.binding()).unwrap();
    run(&d, &out)
}

/// Values 0, 1, 2, ... so a misplaced element is visible in a failure report.
fn iota(shape: &[usize]) -> Tensor {
    let n = shape.iter().product::<usize>();
    Tensor::new(shape.to_vec(), (0..n).map(|v| v as f32).collect()).unwrap()
}

fn check_pixel_shuffle(op: PixelShuffle, x: &Tensor) {
    let want = reference::rearrange::pixel_shuffle(&op, x).unwrap();
    let got = gpu_op(x, want.shape(), |i, o| {
        gpu().encode(rearrange::pixel_shuffle(
            gpu().target(),
            &op,
            x.shape(),
            i,
            o,
        ))
    });
    assert_close(&format!("{op:?} {:?}", x.shape()), &got, &want, EXACT);
}

fn check_space_to_depth(op: SpaceToDepth, x: &Tensor) {
    let want = reference::rearrange::space_to_depth(&op, x).unwrap();
    let got = gpu_op(x, want.shape(), |i, o| {
        gpu().encode(rearrange::space_to_depth(
            gpu().target(),
            &op,
            x.shape(),
            i,
            o,
        ))
    });
    assert_close(&format!("{op:?} {:?}", x.shape()), &got, &want, EXACT);
}

fn check_channel_shuffle(op: ChannelShuffle, x: &Tensor) {
    let want = reference::rearrange::channel_shuffle(&op, x).unwrap();
    let got = gpu_op(x, want.shape(), |i, o| {
        gpu().encode(rearrange::channel_shuffle(
            gpu().target(),
            &op,
            x.shape(),
            i,
            o,
        ))
    });
    assert_close(&format!("{op:?} {:?}", x.shape()), &got, &want, EXACT);
}

fn check_transpose(perm: &[usize], x: &Tensor) {
    let want = reference::rearrange::transpose(perm, x).unwrap();
    let got = gpu_op(x, want.shape(), |i, o| {
        gpu().encode(rearrange::transpose(gpu().target(), perm, x.shape(), i, o))
    });
    assert_close(
        &format!("transpose {perm:?} {:?}", x.shape()),
        &got,
        &want,
        EXACT,
    );
}

/// Concat as the graph runs it: one `copy_into` per part, all in one submission.
fn check_concat(axis: usize, parts: &[Tensor]) {
    let refs: Vec<&Tensor> = parts.iter().collect();
    let want = reference::rearrange::concat(axis, &refs).unwrap();
    let g = gpu();
    let bufs: Vec<GpuTensor> = upload_all(&refs);
    let out = g.zeros(want.shape()).unwrap();
    let mut offset = 0;
    let mut ds = Vec::new();
    for (p, b) in parts.iter().zip(&bufs) {
        ds.push(
            g.encode(rearrange::copy_into(
                g.target(),
                axis,
                p.shape(),
                want.shape(),
                offset,
                b.binding(),
                out.binding(),
            ))
            .unwrap(),
        );
        offset += p.shape()[axis];
    }
    g.submit(&ds.iter().collect::<Vec<_>>()).unwrap();
    let got = g.download(&out).unwrap();
    let shapes: Vec<_> = parts.iter().map(|p| p.shape().to_vec()).collect();
    assert_close(
        &format!("concat axis {axis} {shapes:?}"),
        &got,
        &want,
        EXACT,
    );
}

fn check_slice(x: &Tensor, starts: &[usize], ends: &[usize], steps: &[usize]) {
    let want = reference::rearrange::slice(x, starts, ends, steps).unwrap();
    let got = gpu_op(x, want.shape(), |i, o| {
        gpu().encode(rearrange::slice(
            gpu().target(),
            x.shape(),
            starts,
            ends,
            steps,
            i,
            o,
        ))
    });
    assert_close(
        &format!("slice {:?} {starts:?}..{ends:?} step {steps:?}", x.shape()),
        &got,
        &want,
        EXACT,
    );
}

/// The seed's `nn.PixelShuffle(2)` on (1, 32, 128, 128) -> (1, 8, 256, 256).
#[test]
fn seed_pixel_shuffle_32x128x128() {
    let x = Tensor::random(vec![1, 32, 128, 128], 1);
    let op = PixelShuffle {
        factor: 2,
        order: ChannelOrder::Crd,
    };
    assert_eq!(op.output_shape(x.shape()).unwrap(), vec![1, 8, 256, 256]);
    check_pixel_shuffle(op, &x);
}

/// The seed's space-to-depth with block 8 on a 512x512 RGB image -> (1, 192, 64, 64). The seed
/// describes the TensorFlow op (block offsets are the high-order part of the channel: DCR);
/// PyTorch's pixel_unshuffle order (CRD) is checked on the same shape.
#[test]
fn seed_space_to_depth_block8_512() {
    let x = Tensor::random(vec![1, 3, 512, 512], 2);
    for order in ORDERS {
        let op = SpaceToDepth { block: 8, order };
        assert_eq!(op.output_shape(x.shape()).unwrap(), vec![1, 192, 64, 64]);
        check_space_to_depth(op, &x);
    }
}

/// pixel_shuffle(space_to_depth(x)) == x for each order, on the GPU alone (the two mappings
/// are written separately, so a shared mistake in one order would break the round trip).
#[test]
fn space_to_depth_then_pixel_shuffle_round_trips() {
    let x = Tensor::random(vec![2, 3, 12, 18], 3);
    for order in ORDERS {
        for r in [1, 2, 3, 6] {
            let s2d = SpaceToDepth { block: r, order };
            let mid_shape = s2d.output_shape(x.shape()).unwrap();
            let mid = gpu_op(&x, &mid_shape, |i, o| {
                gpu().encode(rearrange::space_to_depth(
                    gpu().target(),
                    &s2d,
                    x.shape(),
                    i,
                    o,
                ))
            });
            let ps = PixelShuffle { factor: r, order };
            let back = gpu_op(&mid, x.shape(), |i, o| {
                gpu().encode(rearrange::pixel_shuffle(
                    gpu().target(),
                    &ps,
                    &mid_shape,
                    i,
                    o,
                ))
            });
            assert_close(&format!("round trip {order:?} r={r}"), &back, &x, EXACT);
        }
    }
}

/// Guards against CRD and DCR being swapped (in kernel or reference). Hand derivation, r = 2:
/// pixel shuffle of [1, 8, 1, 1] holding its channel index, to [1, 2, 2, 2] (C = 2):
///   CRD: out[c, i, j] = in[c*4 + i*2 + j]          -> [0, 1, 2, 3, 4, 5, 6, 7]
///   DCR: out[c, i, j] = in[(i*2 + j)*2 + c]         -> c=0: 0,2,4,6; c=1: 1,3,5,7
/// space-to-depth of [1, 2, 2, 2] holding c*4 + y*2 + x, to [1, 8, 1, 1]:
///   CRD: out[c*4 + i*2 + j] = in[c, i, j]           -> [0, 1, 2, 3, 4, 5, 6, 7]
///   DCR: out[(i*2 + j)*2 + c] = in[c, i, j]         -> [0, 4, 1, 5, 2, 6, 3, 7]
#[test]
fn crd_and_dcr_differ_as_derived_by_hand() {
    let d2s_in = iota(&[1, 8, 1, 1]);
    let s2d_in = iota(&[1, 2, 2, 2]);
    let cases: [(ChannelOrder, [f32; 8], [f32; 8]); 2] = [
        (
            ChannelOrder::Crd,
            [0., 1., 2., 3., 4., 5., 6., 7.],
            [0., 1., 2., 3., 4., 5., 6., 7.],
        ),
        (
            ChannelOrder::Dcr,
            [0., 2., 4., 6., 1., 3., 5., 7.],
            [0., 4., 1., 5., 2., 6., 3., 7.],
        ),
    ];
    for (order, d2s_want, s2d_want) in cases {
        let ps = PixelShuffle { factor: 2, order };
        let want = Tensor::new(vec![1, 2, 2, 2], d2s_want.to_vec()).unwrap();
        let got = gpu_op(&d2s_in, &[1, 2, 2, 2], |i, o| {
            gpu().encode(rearrange::pixel_shuffle(
                gpu().target(),
                &ps,
                &[1, 8, 1, 1],
                i,
                o,
            ))
        });
        assert_close(&format!("gpu {ps:?}"), &got, &want, EXACT);
        let r = reference::rearrange::pixel_shuffle(&ps, &d2s_in).unwrap();
        assert_close(&format!("reference {ps:?}"), &r, &want, EXACT);

        let s2d = SpaceToDepth { block: 2, order };
        let want = Tensor::new(vec![1, 8, 1, 1], s2d_want.to_vec()).unwrap();
        let got = gpu_op(&s2d_in, &[1, 8, 1, 1], |i, o| {
            gpu().encode(rearrange::space_to_depth(
                gpu().target(),
                &s2d,
                &[1, 2, 2, 2],
                i,
                o,
            ))
        });
        assert_close(&format!("gpu {s2d:?}"), &got, &want, EXACT);
        let r = reference::rearrange::space_to_depth(&s2d, &s2d_in).unwrap();
        assert_close(&format!("reference {s2d:?}"), &r, &want, EXACT);
    }
}

/// ShuffleNet's shuffle with g = 2 and g = 3 on 6 channels. Output channel o is input channel
/// (o % g) * k + o / g with k = 6 / g: g=2 -> [0, 3, 1, 4, 2, 5], g=3 -> [0, 2, 4, 1, 3, 5].
#[test]
fn channel_shuffle_groups_2_and_3() {
    for (g, order) in [(2, [0., 3., 1., 4., 2., 5.]), (3, [0., 2., 4., 1., 3., 5.])] {
        let op = ChannelShuffle { groups: g };
        let x = iota(&[1, 6, 1, 1]);
        let got = gpu_op(&x, &[1, 6, 1, 1], |i, o| {
            gpu().encode(rearrange::channel_shuffle(
                gpu().target(),
                &op,
                x.shape(),
                i,
                o,
            ))
        });
        let want = Tensor::new(vec![1, 6, 1, 1], order.to_vec()).unwrap();
        assert_close(&format!("g={g}"), &got, &want, EXACT);
        // And on real-sized planes, batch 2, against the reference.
        check_channel_shuffle(op, &Tensor::random(vec![2, 12, 7, 9], g as u64));
    }
}

/// Transposes whose innermost output dim is strided in the input and long enough take the
/// 32x32 workgroup-tile path; odd sizes leave partial tiles on both axes.
#[test]
fn tiled_transposes() {
    // [B, M, N] -> [B, N, M].
    check_transpose(&[0, 2, 1], &Tensor::random(vec![3, 37, 45], 4));
    // NCHW -> NHWC and back (C = 17 and 40 both qualify; W*H merges).
    check_transpose(&[0, 2, 3, 1], &Tensor::random(vec![2, 17, 5, 19], 5));
    check_transpose(&[0, 3, 1, 2], &Tensor::random(vec![2, 5, 19, 40], 6));
    // A matrix bigger than one tile in both dims, with outer dims after merging.
    check_transpose(&[1, 0], &Tensor::random(vec![70, 33], 7));
}

/// Rank 6 with no mergeable neighbours uses all six kernel dims.
#[test]
fn rank6_transpose() {
    check_transpose(
        &[5, 3, 1, 4, 0, 2],
        &Tensor::random(vec![2, 3, 2, 4, 3, 5], 8),
    );
    check_transpose(
        &[0, 1, 2, 3, 4, 5],
        &Tensor::random(vec![2, 1, 3, 1, 2, 2], 9),
    );
}

/// Concat of parts with odd sizes along channels (Inception, Fire), batch and the last axis.
#[test]
fn concat_parts() {
    let p = |shape: &[usize], seed| Tensor::random(shape.to_vec(), seed);
    check_concat(
        1,
        &[
            p(&[2, 3, 5, 7], 10),
            p(&[2, 1, 5, 7], 11),
            p(&[2, 6, 5, 7], 12),
        ],
    );
    check_concat(0, &[p(&[1, 3, 4], 13), p(&[2, 3, 4], 14)]);
    check_concat(2, &[p(&[2, 3, 1], 15), p(&[2, 3, 5], 16)]);
}

/// Slices with steps, a split into three, and an empty slice starting at the end of a dim.
#[test]
fn slices() {
    let x = Tensor::random(vec![2, 7, 9, 5], 20);
    check_slice(&x, &[0, 1, 2, 0], &[2, 7, 9, 5], &[1, 2, 3, 1]);
    check_slice(&x, &[1, 0, 0, 4], &[2, 7, 9, 5], &[1, 1, 1, 1]);
    // Split along channels 7 = 2 + 2 + 3.
    for (a, b) in [(0, 2), (2, 4), (4, 7)] {
        check_slice(&x, &[0, a, 0, 0], &[2, b, 9, 5], &[1, 1, 1, 1]);
    }
    check_slice(&x, &[0, 7, 0, 0], &[2, 7, 9, 5], &[1, 1, 1, 1]);
}

/// A slice of a slice-sized buffer binding: element offsets in Params mean the input binding
/// need not start on a 256-byte boundary of the data.
#[test]
fn slice_offset_is_not_binding_aligned() {
    let x = Tensor::random(vec![1, 3, 3], 21);
    // Start at element 1 (4 bytes), impossible as a binding offset.
    check_slice(&x, &[0, 0, 1], &[1, 3, 3], &[1, 1, 1]);
}

/// The shared naga test checks default overrides only; every variant must translate too.
#[test]
fn every_variant_translates_to_every_target() {
    for target in Target::ALL {
        translate(Shader::StridedCopy, &[("TILED", 1.0)], target).unwrap();
        for rank in 1..=6 {
            translate(Shader::StridedCopy, &[("RANK", rank as f64)], target).unwrap();
        }
    }
}

fn order() -> impl Strategy<Value = ChannelOrder> {
    prop_oneof![Just(ChannelOrder::Crd), Just(ChannelOrder::Dcr)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_pixel_shuffle(n in 1usize..3, c in 1usize..4, r in 1usize..5, h in 1usize..8,
                            w in 1usize..8, order in order(), seed in 0u64..1000) {
        let x = Tensor::random(vec![n, c * r * r, h, w], seed);
        check_pixel_shuffle(PixelShuffle { factor: r, order }, &x);
    }

    #[test]
    fn random_space_to_depth(n in 1usize..3, c in 1usize..4, r in 1usize..5, h in 1usize..6,
                             w in 1usize..6, order in order(), seed in 0u64..1000) {
        let x = Tensor::random(vec![n, c, h * r, w * r], seed);
        check_space_to_depth(SpaceToDepth { block: r, order }, &x);
    }

    #[test]
    fn random_channel_shuffle(n in 1usize..3, g in 1usize..5, k in 1usize..5,
                              spatial in prop::collection::vec(1usize..7, 0..3), seed in 0u64..1000) {
        let mut shape = vec![n, g * k];
        shape.extend(spatial);
        check_channel_shuffle(ChannelShuffle { groups: g }, &Tensor::random(shape, seed));
    }

    #[test]
    fn random_transpose((shape, perm) in (1usize..=6)
                            .prop_flat_map(|r| (prop::collection::vec(1usize..6, r),
                                                Just((0..r).collect::<Vec<_>>()).prop_shuffle())),
                        seed in 0u64..1000) {
        check_transpose(&perm, &Tensor::random(shape, seed));
    }

    /// Sizes around and above the 32x32 tile, so both tiled and flat paths are drawn.
    #[test]
    fn random_large_transpose((shape, perm) in (2usize..=4)
                                  .prop_flat_map(|r| (prop::collection::vec(1usize..40, r),
                                                      Just((0..r).collect::<Vec<_>>()).prop_shuffle()))
                                  .prop_filter("small enough", |(s, _)| s.iter().product::<usize>() <= 20_000),
                              seed in 0u64..1000) {
        check_transpose(&perm, &Tensor::random(shape, seed));
    }

    #[test]
    fn random_concat((shape, axis, sizes) in (1usize..=4)
                         .prop_flat_map(|r| (prop::collection::vec(1usize..6, r), 0..r,
                                             prop::collection::vec(1usize..5, 1..4))),
                     seed in 0u64..1000) {
        let parts: Vec<Tensor> = sizes.iter().enumerate().map(|(i, &s)| {
            let mut ps = shape.clone();
            ps[axis] = s;
            Tensor::random(ps, seed + i as u64)
        }).collect();
        check_concat(axis, &parts);
    }

    #[test]
    fn random_slice(dims in prop::collection::vec((1usize..8, 0usize..8, 0usize..8, 1usize..5), 1..=4),
                    seed in 0u64..1000) {
        let shape: Vec<usize> = dims.iter().map(|d| d.0).collect();
        // Start anywhere up to the end, length 0..8 clipped to the dim.
        let starts: Vec<usize> = dims.iter().map(|d| d.1 % (d.0 + 1)).collect();
        let ends: Vec<usize> = dims.iter().zip(&starts).map(|(d, &s)| (s + d.2).min(d.0)).collect();
        let steps: Vec<usize> = dims.iter().map(|d| d.3).collect();
        check_slice(&Tensor::random(shape, seed), &starts, &ends, &steps);
    }
}
