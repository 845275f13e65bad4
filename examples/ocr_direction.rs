//! Text direction with PaddleOCR's classifier: is each text line upright (0) or upside down
//! (180)? The classifier is the one in tests/fixtures/ppocr_cls_pretrained.
//!
//!     cargo run --release --example ocr_direction -- [--rotate] [--detect] IMAGE...
//!
//! Each picture is one text line, or with `--detect` a page whose lines the PP-OCRv4
//! detector finds first (each line then classified; needs scripts/fetch_demo_weights.sh).
//! `--rotate` turns every picture 180 degrees first.

#[allow(dead_code)] // each demo uses its part of the shared code
#[path = "demos/mod.rs"]
mod demos;

use demos::ocr;

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/onnx/ppocr_cls_pretrained/model.onnx"
);

fn main() -> demos::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let (rotate, detect) = (flag("--rotate"), flag("--detect"));
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if paths.is_empty() {
        return Err("usage: ocr_direction [--rotate] [--detect] IMAGE...".into());
    }
    let (mut names, mut lines) = (Vec::new(), Vec::new());
    for path in &paths {
        let img = image::open(path)?.to_rgb8();
        let img = if rotate {
            image::imageops::rotate180(&img)
        } else {
            img
        };
        if detect {
            for b in ocr::detect_text(&demos::weight(ocr::DET_MODEL)?, &img)? {
                if let Some(line) = ocr::crop_text(&img, &b) {
                    names.push(format!("{path} {:?}", b.corners[0]));
                    lines.push(line);
                }
            }
        } else {
            names.push(path.to_string());
            lines.push(img);
        }
    }
    for (name, (label, p)) in names
        .iter()
        .zip(ocr::text_direction(std::path::Path::new(MODEL), &lines)?)
    {
        println!("{name}: {label} (probability {p:.4})");
    }
    Ok(())
}
