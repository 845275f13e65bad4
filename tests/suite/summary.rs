//! Model summaries and parameter counts against the numbers PyTorch printed in the seeds and
//! torchvision's published counts. No GPU needed.

use wgconv::blocks;
use wgconv::graph::{Conv2d, Graph};
use wgconv::ops::{ConvSpec, ConvTransposeSpec};
use wgconv::summary::Summary;
use wgconv::zoo;

/// Seed 003's torchsummary output for the CIFAR-10 network, verbatim.
const SEED_003_TABLE: &str = "\
----------------------------------------------------------------
        Layer (type)               Output Shape         Param #
================================================================
            Conv2d-1           [-1, 32, 32, 32]             864
              ReLU-2           [-1, 32, 32, 32]               0
       BatchNorm2d-3           [-1, 32, 32, 32]              64
           Dropout-4           [-1, 32, 32, 32]               0
            Conv2d-5           [-1, 32, 32, 32]             288
            Conv2d-6           [-1, 32, 34, 34]           1,024
              ReLU-7           [-1, 32, 34, 34]               0
       BatchNorm2d-8           [-1, 32, 34, 34]              64
           Dropout-9           [-1, 32, 34, 34]               0
           Conv2d-10           [-1, 32, 16, 16]           9,216
             ReLU-11           [-1, 32, 16, 16]               0
      BatchNorm2d-12           [-1, 32, 16, 16]              64
          Dropout-13           [-1, 32, 16, 16]               0
           Conv2d-14           [-1, 40, 16, 16]          11,520
             ReLU-15           [-1, 40, 16, 16]               0
      BatchNorm2d-16           [-1, 40, 16, 16]              80
          Dropout-17           [-1, 40, 16, 16]               0
           Conv2d-18           [-1, 40, 16, 16]          14,400
             ReLU-19           [-1, 40, 16, 16]               0
      BatchNorm2d-20           [-1, 40, 16, 16]              80
          Dropout-21           [-1, 40, 16, 16]               0
           Conv2d-22             [-1, 40, 7, 7]          14,400
             ReLU-23             [-1, 40, 7, 7]               0
      BatchNorm2d-24             [-1, 40, 7, 7]              80
          Dropout-25             [-1, 40, 7, 7]               0
           Conv2d-26             [-1, 40, 7, 7]          14,400
             ReLU-27             [-1, 40, 7, 7]               0
      BatchNorm2d-28             [-1, 40, 7, 7]              80
          Dropout-29             [-1, 40, 7, 7]               0
           Conv2d-30             [-1, 40, 7, 7]          14,400
             ReLU-31             [-1, 40, 7, 7]               0
      BatchNorm2d-32             [-1, 40, 7, 7]              80
          Dropout-33             [-1, 40, 7, 7]               0
           Conv2d-34             [-1, 40, 3, 3]          14,400
             ReLU-35             [-1, 40, 3, 3]               0
      BatchNorm2d-36             [-1, 40, 3, 3]              80
          Dropout-37             [-1, 40, 3, 3]               0
           Conv2d-38             [-1, 64, 3, 3]          23,040
             ReLU-39             [-1, 64, 3, 3]               0
      BatchNorm2d-40             [-1, 64, 3, 3]             128
          Dropout-41             [-1, 64, 3, 3]               0
           Conv2d-42             [-1, 64, 3, 3]          36,864
             ReLU-43             [-1, 64, 3, 3]               0
      BatchNorm2d-44             [-1, 64, 3, 3]             128
          Dropout-45             [-1, 64, 3, 3]               0
           Conv2d-46             [-1, 64, 3, 3]          36,864
             ReLU-47             [-1, 64, 3, 3]               0
      BatchNorm2d-48             [-1, 64, 3, 3]             128
          Dropout-49             [-1, 64, 3, 3]               0
AdaptiveAvgPool2d-50             [-1, 64, 1, 1]               0
           Conv2d-51             [-1, 10, 1, 1]             640
================================================================
Total params: 193,376
Trainable params: 193,376
Non-trainable params: 0
----------------------------------------------------------------
Input size (MB): 0.01
Forward/backward pass size (MB): 3.50
Params size (MB): 0.74
Estimated Total Size (MB): 4.25
----------------------------------------------------------------
";

#[test]
fn seed_003_cifar10_table_reproduced_verbatim() {
    let g = zoo::cifar10_net(&[1, 3, 32, 32]).unwrap();
    let s = Summary::of(&g);
    let got = s.torchsummary();
    for (i, (a, b)) in got.lines().zip(SEED_003_TABLE.lines()).enumerate() {
        assert_eq!(a, b, "line {i}");
    }
    assert_eq!(got, SEED_003_TABLE);
    // The memory figures are per sample, as torchsummary's: batch 4 prints the same table.
    let g4 = g.with_batch(4).unwrap();
    assert_eq!(Summary::of(&g4).torchsummary(), SEED_003_TABLE);
}

#[test]
fn torchvision_parameter_counts() {
    for &(name, build, count, chw) in zoo::NETWORKS {
        let g = build(&[1, chw[0], chw[1], chw[2]]).unwrap();
        assert_eq!(g.parameter_count(), count, "{name}");
        let out = g.shape(g.outputs()[0]);
        let classes = if name == "cifar10_net" { 10 } else { 1000 };
        assert_eq!(out, &[1, classes], "{name} output shape");
    }
}

/// Parameter counts printed in the seeds' notebooks.
#[test]
fn seed_block_parameter_counts() {
    let count = |f: &dyn Fn(&mut Graph) -> wgconv::Result<()>| {
        let mut g = Graph::new();
        f(&mut g).unwrap();
        g.parameter_count()
    };
    // Seed 000: Conv3d(16, 32, 3, stride 2, padding 1): 13,856.
    assert_eq!(
        count(&|g| {
            let x = g.input("x", &[1, 16, 3, 16, 16]);
            let spec = ConvSpec::new(&[3, 3, 3]).stride(2).pad(1);
            let y = g.conv_nd(x, "conv3d", 32, spec, true)?;
            assert_eq!(g.shape(y), &[1, 32, 2, 8, 8]);
            Ok(())
        }),
        13_856
    );
    // Seed 000: depthwise-separable 10 -> 32: 452.
    assert_eq!(
        count(&|g| {
            let x = g.input("x", &[1, 10, 16, 16]);
            let y = blocks::depthwise_separable_conv(g, x, "", 32)?;
            assert_eq!(g.shape(y), &[1, 32, 14, 14]);
            Ok(())
        }),
        452
    );
    // Seed 000: standard Conv2d(10, 32, 3): 2,912.
    assert_eq!(
        count(&|g| {
            let x = g.input("x", &[1, 10, 16, 16]);
            g.conv2d(x, "conv", Conv2d::new(32, 3))?;
            Ok(())
        }),
        2_912
    );
    // Seed 000: ConvTranspose2d(32, 16, 3, stride 2): 4,624, 128 -> 257.
    assert_eq!(
        count(&|g| {
            let x = g.input("x", &[1, 32, 128, 128]);
            let spec = ConvTransposeSpec::new(ConvSpec::conv2d(3, 3).stride(2));
            let y = g.conv_transpose(x, "up", 16, spec, true)?;
            assert_eq!(g.shape(y), &[1, 16, 257, 257]);
            Ok(())
        }),
        4_624
    );
    // Seed 000: SqueezeExcite (Fire) 256 -> 48 -> 2 x 192: 105,744.
    assert_eq!(
        count(&|g| {
            let x = g.input("x", &[1, 256, 8, 8]);
            let y = blocks::fire(g, x, "", 48, 192)?;
            assert_eq!(g.shape(y), &[1, 384, 8, 8]);
            Ok(())
        }),
        105_744
    );
    // Seed 002: DWSConv(32, 64): 2,528; DWSConv(3, 3): 48.
    assert_eq!(
        count(&|g| {
            let x = g.input("x", &[1, 32, 8, 8]);
            blocks::dws_conv(g, x, "", 64)?;
            Ok(())
        }),
        2_528
    );
    assert_eq!(
        count(&|g| {
            let x = g.input("x", &[1, 3, 5, 5]);
            let y = blocks::dws_conv(g, x, "", 3)?;
            assert_eq!(g.shape(y), &[1, 3, 5, 5]);
            Ok(())
        }),
        48
    );
}

#[test]
fn summary_counts_macs() {
    let mut g = Graph::new();
    let x = g.input("x", &[2, 3, 8, 8]);
    let y = g.conv2d(x, "c", Conv2d::new(4, 3).pad(1)).unwrap();
    g.output(y);
    let s = Summary::of(&g);
    // 2 * 4 * 8 * 8 outputs, 3 * 9 MACs each.
    assert_eq!(s.rows[0].macs, 2 * 4 * 64 * 27);
    assert_eq!(s.total_macs, 2 * 4 * 64 * 27);
    let text = s.to_string();
    assert!(text.contains("Conv2d-1"), "{text}");
    assert!(text.contains("13,824"), "{text}");
}
