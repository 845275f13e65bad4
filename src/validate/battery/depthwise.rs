//! Depthwise and pointwise convolution cases.

use super::Case;
use super::run::conv_case;
use crate::ops::{Activation, ConvSpec};

pub(super) fn cases() -> Vec<Case> {
    vec![
        conv_case(
            "depthwise",
            "3x3",
            [2, 16],
            &[15, 17],
            16,
            ConvSpec::conv2d(3, 3).groups(16).pad(1),
            Activation::Relu6,
        ),
        conv_case(
            "depthwise",
            "5x5 stride 2",
            [1, 24],
            &[28, 28],
            24,
            ConvSpec::conv2d(5, 5).groups(24).stride(2).pad(2),
            Activation::Silu,
        ),
        conv_case(
            "depthwise",
            "multiplier 2, dilation 3",
            [1, 5],
            &[19, 13],
            10,
            ConvSpec::conv2d(3, 3).groups(5).dilation(3).pad(3),
            Activation::Identity,
        ),
        conv_case(
            "pointwise",
            "1x1",
            [1, 64],
            &[14, 14],
            40,
            ConvSpec::conv2d(1, 1),
            Activation::Relu,
        ),
        conv_case(
            "pointwise",
            "grouped g3, batch 2",
            [2, 24],
            &[7, 9],
            12,
            ConvSpec::conv2d(1, 1).groups(3),
            Activation::Identity,
        ),
    ]
}
