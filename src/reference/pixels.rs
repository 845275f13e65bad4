//! CPU reference for RGBA8 normalisation, in f64 from its definition.

use crate::error::{Error, Result};
use crate::ops::Rgba8Normalize;
use crate::tensor::Tensor;

/// `frames` (`[batch, height, width]` pixels, red in the lowest byte) normalised by `norm`
/// into `[batch, 3, height, width]`.
pub fn normalize_rgba8(frames: &[u32], dims: [usize; 3], norm: &Rgba8Normalize) -> Result<Tensor> {
    let [batch, height, width] = dims;
    if frames.len() != batch * height * width {
        return Err(Error::invalid_op(
            "rgba8_normalize",
            format!(
                "{} pixels given for {batch} frame(s) of {height}x{width}",
                frames.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(frames.len() * 3);
    for n in 0..batch {
        for c in 0..3 {
            let byte = norm.source_byte(c);
            let (mean, std) = (norm.mean()[c] as f64, norm.std()[c] as f64);
            for y in 0..height {
                for x in 0..width {
                    let pixel = frames[(n * height + y) * width + x].to_le_bytes();
                    let v = pixel[byte] as f64 / 255.0;
                    out.push(((v - mean) / std) as f32);
                }
            }
        }
    }
    Tensor::new(norm.out_dims(batch, height, width).to_vec(), out)
}
