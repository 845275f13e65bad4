//! Image ingestion: 8-bit RGBA pixels (one `u32` per pixel, red in the lowest byte, as
//! `image::RgbaImage` and most camera and video decoders lay them out) normalised per channel
//! into the f32 NCHW tensor a network takes. Alpha is dropped.

use crate::error::{Error, Result};

/// Which colour channel lands first in the network's input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PixelOrder {
    /// Channels 0, 1, 2 = red, green, blue (torchvision models).
    #[default]
    Rgb,
    /// Channels 0, 1, 2 = blue, green, red (Caffe and OpenCV models).
    Bgr,
}

/// `out[n, c, y, x] = (byte / 255 - mean[c]) / std[c]`, where `byte` is the colour channel
/// that [`PixelOrder`] puts at `c` in pixel `(n, y, x)`; `mean` and `std` are in output
/// channel order, on the 0..1 scale (torchvision's `Normalize` after `ToTensor`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rgba8Normalize {
    mean: [f32; 3],
    std: [f32; 3],
    order: PixelOrder,
}

impl Rgba8Normalize {
    /// RGB order with these per-channel statistics; every `std` must be finite and non-zero,
    /// every `mean` finite.
    pub fn new(mean: [f32; 3], std: [f32; 3]) -> Result<Self> {
        let bad =
            mean.iter().any(|m| !m.is_finite()) || std.iter().any(|s| !s.is_finite() || *s == 0.0);
        if bad {
            return Err(Error::invalid_op(
                "rgba8_normalize",
                format!("mean {mean:?} must be finite and std {std:?} finite and non-zero"),
            ));
        }
        Ok(Self {
            mean,
            std,
            order: PixelOrder::Rgb,
        })
    }

    /// The ImageNet statistics torchvision's pretrained models expect.
    pub fn imagenet() -> Self {
        Self {
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            order: PixelOrder::Rgb,
        }
    }

    /// The same normalisation writing the channels in `order`.
    pub fn with_order(self, order: PixelOrder) -> Self {
        Self { order, ..self }
    }

    /// Per-channel mean, in output channel order.
    pub fn mean(&self) -> [f32; 3] {
        self.mean
    }

    /// Per-channel standard deviation, in output channel order.
    pub fn std(&self) -> [f32; 3] {
        self.std
    }

    /// The channel order of the output.
    pub fn order(&self) -> PixelOrder {
        self.order
    }

    /// The byte of the pixel (0 = red ... 3 = alpha) that output channel `c` reads.
    pub fn source_byte(&self, c: usize) -> usize {
        match self.order {
            PixelOrder::Rgb => c,
            PixelOrder::Bgr => 2 - c,
        }
    }

    /// The output shape for `batch` frames of `height` x `width` pixels: `[batch, 3, h, w]`.
    pub fn out_dims(&self, batch: usize, height: usize, width: usize) -> [usize; 4] {
        [batch, 3, height, width]
    }
}
