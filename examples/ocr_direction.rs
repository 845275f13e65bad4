//! Text direction with PaddleOCR's classifier: is each text line picture upright (0) or
//! upside down (180)? The classifier is the one in tests/fixtures/ppocr_cls_pretrained.
//!
//!     cargo run --release --example ocr_direction -- tests/data/demos/text_line.png [--rotate] [MORE.png ...]
//!
//! `--rotate` turns every picture 180 degrees first.

#[allow(dead_code)] // each demo uses its part of the shared code
#[path = "demos/mod.rs"]
mod demos;

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/onnx/ppocr_cls_pretrained/model.onnx"
);

fn main() -> demos::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rotate = args.iter().any(|a| a == "--rotate");
    let paths: Vec<&String> = args.iter().filter(|a| *a != "--rotate").collect();
    if paths.is_empty() {
        return Err("usage: ocr_direction [--rotate] IMAGE...".into());
    }
    let mut lines = Vec::new();
    for path in &paths {
        let line = image::open(path)?.to_rgb8();
        lines.push(if rotate {
            image::imageops::rotate180(&line)
        } else {
            line
        });
    }
    let found = demos::ocr::text_direction(std::path::Path::new(MODEL), &lines)?;
    for (path, (label, p)) in paths.iter().zip(found) {
        println!("{path}: {label} (probability {p:.4})");
    }
    Ok(())
}
