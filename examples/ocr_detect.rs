//! Text detection with PaddleOCR's PP-OCRv4 detector: every text region of a photo or scan
//! outlined.
//!
//!     bash scripts/fetch_demo_weights.sh
//!     cargo run --release --example ocr_detect -- tests/data/demos/text.png docs/demos/ocr_detect.png

#[allow(dead_code)] // each demo uses its part of the shared code
#[path = "demos/mod.rs"]
mod demos;

fn main() -> demos::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        return Err("usage: ocr_detect IMAGE OUTPUT.png".into());
    };
    let img = image::open(input)?.to_rgb8();
    let boxes = demos::ocr::detect_text(&demos::weight(demos::ocr::DET_MODEL)?, &img)?;
    for b in &boxes {
        println!("text {:?} score {:.3}", b.corners, b.score);
    }
    demos::ocr::draw_text_boxes(&img, &boxes).save(output)?;
    println!("{} regions -> {output}", boxes.len());
    Ok(())
}
