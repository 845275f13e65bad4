//! Direct convolution cases.

use super::Case;
use super::run::conv_case;
use crate::ops::{Activation, ConvSpec};

pub(super) fn cases() -> Vec<Case> {
    vec![
        conv_case(
            "conv",
            "3x3 pad1",
            [1, 16],
            &[14, 14],
            32,
            ConvSpec::conv2d(3, 3).pad(1),
            Activation::Relu,
        ),
        conv_case(
            "conv",
            "odd sizes, batch 3",
            [3, 5],
            &[13, 11],
            7,
            ConvSpec::conv2d(3, 3).pad(1),
            Activation::Identity,
        ),
        conv_case(
            "conv",
            "stride 2 > tile edge",
            [1, 8],
            &[31, 29],
            70,
            ConvSpec::conv2d(3, 3).stride(2).pad(1),
            Activation::Silu,
        ),
        conv_case(
            "conv",
            "dilation 4",
            [1, 6],
            &[30, 30],
            9,
            ConvSpec::conv2d(3, 3).dilation(4).pad(4),
            Activation::Identity,
        ),
        conv_case(
            "conv",
            "groups 4",
            [2, 12],
            &[9, 9],
            8,
            ConvSpec::conv2d(3, 3).groups(4).pad(1),
            Activation::Relu6,
        ),
        conv_case(
            "conv",
            "stride > kernel, big padding",
            [1, 3],
            &[10, 10],
            4,
            ConvSpec::conv2d(2, 2).stride(3).pad(2),
            Activation::Identity,
        ),
        conv_case(
            "conv",
            "7x7 stem",
            [1, 3],
            &[37, 37],
            16,
            ConvSpec::conv2d(7, 7).stride(2).pad(3),
            Activation::Relu,
        ),
        conv_case(
            "conv",
            "asymmetric pad 3x1",
            [1, 4],
            &[12, 9],
            5,
            ConvSpec::conv2d(3, 1).pads(&[0, 1], &[2, 0]),
            Activation::Identity,
        ),
        conv_case(
            "conv",
            "1-D",
            [2, 4],
            &[29],
            6,
            ConvSpec::new(&[5]).stride(2).pad(2),
            Activation::Tanh,
        ),
        conv_case(
            "conv",
            "3-D",
            [1, 4],
            &[5, 9, 8],
            6,
            ConvSpec::new(&[3, 3, 3]).stride(2).pad(1),
            Activation::Identity,
        ),
    ]
}
