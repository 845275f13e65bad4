//! Classifying an image from disk: decode with the `image` crate, resize, normalise with the
//! ImageNet statistics, run a network, print the top classes.
//!
//!     cargo run --release --example image -- photo.png [model.onnx]
//!
//! Without a model it runs the built-in SqueezeNet 1.1 with seeded weights (so the classes are
//! meaningless, but the whole path from pixels to logits runs). Without an image it makes a
//! gradient test picture.

use wgconv::{Session, SessionConfig, Tensor, weights, zoo};

const SIZE: u32 = 224;
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// RGB pixels to a normalised `[1, 3, H, W]` tensor.
fn to_tensor(img: &image::RgbImage) -> Tensor {
    let (w, h) = img.dimensions();
    let mut data = vec![0f32; (3 * w * h) as usize];
    for (x, y, p) in img.enumerate_pixels() {
        for c in 0..3 {
            data[(c as u32 * h * w + y * w + x) as usize] =
                (p[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
    Tensor::new(vec![1, 3, h as usize, w as usize], data).expect("sized to the image")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let img = match args.first() {
        Some(path) => image::open(path)?.to_rgb8(),
        None => image::RgbImage::from_fn(SIZE, SIZE, |x, y| image::Rgb([x as u8, y as u8, 128])),
    };
    let img = image::imageops::resize(&img, SIZE, SIZE, image::imageops::FilterType::Triangle);
    let x = to_tensor(&img);
    let session = match args.get(1) {
        Some(model) => Session::from_onnx_path(model, &SessionConfig::default())?,
        None => {
            let mut g = zoo::build("squeezenet1_1", x.shape())?;
            weights::init_seeded(&mut g, 0);
            Session::from_graph(&g, &SessionConfig::default())?
        }
    };
    let input = session.inputs()[0].0.clone();
    let outputs = session.run_named(&[(&input, &x)])?;
    let (name, logits) = &outputs[0];
    let mut ranked: Vec<(usize, f32)> = logits.data().iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("{name}: top classes {:?}", &ranked[..ranked.len().min(5)]);
    Ok(())
}
