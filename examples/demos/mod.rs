//! Pre- and post-processing of the pretrained-model demos, shared by the example programs
//! (examples/ocr_detect.rs, ocr_direction.rs, face_detect.rs) and their tests
//! (tests/suite/demos.rs), so the library itself needs no image crates.

pub mod mtcnn;
pub mod ocr;

use std::path::PathBuf;

use wgconv::Tensor;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A file of the demo weights folder (`WGCONV_DEMO_WEIGHTS`, default
/// `~/.cache/wgconv/demo-weights`), which `scripts/fetch_demo_weights.sh` fills.
pub fn weight(name: &str) -> Result<PathBuf> {
    let dir = match std::env::var_os("WGCONV_DEMO_WEIGHTS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?)
            .join(".cache/wgconv/demo-weights"),
    };
    let path = dir.join(name);
    if !path.is_file() {
        return Err(format!(
            "{} is missing: run scripts/fetch_demo_weights.sh (or set WGCONV_DEMO_WEIGHTS)",
            path.display()
        )
        .into());
    }
    Ok(path)
}

/// An RGB picture as a `[1, 3, H, W]` tensor of `(v / 255 - 0.5) / 0.5` in the channel order
/// `channels` (indices into RGB): PaddleOCR's normalisation.
pub fn paddle_tensor(img: &image::RgbImage, channels: [usize; 3]) -> Tensor {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut data = vec![0f32; 3 * w * h];
    for (x, y, p) in img.enumerate_pixels() {
        for (c, &src) in channels.iter().enumerate() {
            data[c * h * w + y as usize * w + x as usize] = (p[src] as f32 / 255.0 - 0.5) / 0.5;
        }
    }
    Tensor::new(vec![1, 3, h, w], data).expect("sized to the image")
}

/// PaddleOCR's models were trained on OpenCV's BGR pixels.
pub const BGR: [usize; 3] = [2, 1, 0];
