//! Data-movement kernels refuse bad shapes with an error, as their CPU references do.

use wgconv::kernels::rearrange;
use wgconv::ops::{ChannelOrder, ChannelShuffle, PixelShuffle, SpaceToDepth};
use wgconv::reference;
use wgconv::tensor::Tensor;

use crate::common::gpu;

#[test]
fn bad_shapes_are_errors() {
    let g = gpu();
    let b = g.zeros(&[64]).unwrap();
    let (i, o) = (b.binding(), b.binding());
    let ps = PixelShuffle {
        factor: 2,
        order: ChannelOrder::Crd,
    };
    // Channels not divisible by r^2, wrong rank, factor 0.
    assert!(
        g.encode(rearrange::pixel_shuffle(
            g.target(),
            &ps,
            &[1, 6, 2, 2],
            i,
            o
        ))
        .is_err()
    );
    assert!(
        g.encode(rearrange::pixel_shuffle(g.target(), &ps, &[4, 2, 2], i, o))
            .is_err()
    );
    let ps0 = PixelShuffle { factor: 0, ..ps };
    assert!(
        g.encode(rearrange::pixel_shuffle(
            g.target(),
            &ps0,
            &[1, 4, 2, 2],
            i,
            o
        ))
        .is_err()
    );
    // Spatial size not divisible by the block.
    let s2d = SpaceToDepth {
        block: 2,
        order: ChannelOrder::Dcr,
    };
    assert!(
        g.encode(rearrange::space_to_depth(
            g.target(),
            &s2d,
            &[1, 1, 3, 4],
            i,
            o
        ))
        .is_err()
    );
    // Groups not dividing channels.
    let cs = ChannelShuffle { groups: 4 };
    assert!(
        g.encode(rearrange::channel_shuffle(
            g.target(),
            &cs,
            &[1, 6, 1, 1],
            i,
            o
        ))
        .is_err()
    );
    // Not a permutation.
    assert!(
        g.encode(rearrange::transpose(
            g.target(),
            &[0, 0, 1],
            &[2, 2, 2],
            i,
            o
        ))
        .is_err()
    );
    assert!(
        g.encode(rearrange::transpose(g.target(), &[0, 1], &[2, 2, 2], i, o))
            .is_err()
    );
    // Any rank is a valid transpose; the kernel takes what merging leaves within six dims: a
    // rank-7 reversal of size-1 dims is a plain copy, of size-2 dims it stays seven dims.
    let big = g.zeros(&[128]).unwrap();
    let rank7 = |dims: &[usize]| {
        g.encode(rearrange::transpose(
            g.target(),
            &[6, 5, 4, 3, 2, 1, 0],
            dims,
            big.binding(),
            big.binding(),
        ))
    };
    assert!(rank7(&[1; 7]).is_ok());
    let e = rank7(&[2; 7]).unwrap_err().to_string();
    assert!(e.contains("after merging"), "{e}");
    // Part too big for the output, mismatched off-axis dims, axis out of range.
    assert!(
        g.encode(rearrange::copy_into(
            g.target(),
            1,
            &[1, 3, 2],
            &[1, 4, 2],
            2,
            i,
            o
        ))
        .is_err()
    );
    assert!(
        g.encode(rearrange::copy_into(
            g.target(),
            1,
            &[1, 2, 3],
            &[1, 4, 2],
            0,
            i,
            o
        ))
        .is_err()
    );
    assert!(
        g.encode(rearrange::copy_into(
            g.target(),
            3,
            &[1, 2, 2],
            &[1, 4, 2],
            0,
            i,
            o
        ))
        .is_err()
    );
    // End past the input, step 0, wrong entry count.
    assert!(
        g.encode(rearrange::slice(
            g.target(),
            &[4, 4],
            &[0, 0],
            &[5, 4],
            &[1, 1],
            i,
            o
        ))
        .is_err()
    );
    assert!(
        g.encode(rearrange::slice(
            g.target(),
            &[4, 4],
            &[0, 0],
            &[4, 4],
            &[1, 0],
            i,
            o
        ))
        .is_err()
    );
    assert!(
        g.encode(rearrange::slice(
            g.target(),
            &[4, 4],
            &[0],
            &[4],
            &[1],
            i,
            o
        ))
        .is_err()
    );
    // A binding too small for the tensor (64 elements bound, 2*4*4*4 = 128 needed).
    assert!(
        g.encode(rearrange::pixel_shuffle(
            g.target(),
            &ps,
            &[2, 4, 4, 4],
            i,
            o
        ))
        .is_err()
    );
    // The references refuse the same shapes.
    let x = Tensor::zeros(vec![1, 6, 2, 2]);
    assert!(reference::rearrange::pixel_shuffle(&ps, &x).is_err());
    assert!(reference::rearrange::channel_shuffle(&cs, &x).is_err());
    assert!(reference::rearrange::transpose(&[0, 1], &x).is_err());
    assert!(reference::rearrange::concat(4, &[&x]).is_err());
    assert!(reference::rearrange::concat(0, &[]).is_err());
    assert!(reference::rearrange::slice(&x, &[0, 0, 0, 0], &[1, 7, 2, 2], &[1; 4]).is_err());
}
