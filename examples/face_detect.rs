//! Face detection with MTCNN: boxes and five landmarks (eyes, nose, mouth corners) drawn.
//!
//!     bash scripts/fetch_demo_weights.sh
//!     cargo run --release --example face_detect -- tests/data/demos/astronaut.png docs/demos/face_detect.png

#[allow(dead_code)] // each demo uses its part of the shared code
#[path = "demos/mod.rs"]
mod demos;

fn main() -> demos::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        return Err("usage: face_detect IMAGE OUTPUT.png".into());
    };
    let img = image::open(input)?.to_rgb8();
    let mtcnn = demos::mtcnn::Mtcnn::load()?;
    let faces = mtcnn.detect(&img)?;
    for f in &faces {
        println!(
            "face {:?} confidence {:.4} landmarks {:?}",
            f.rect, f.confidence, f.landmarks
        );
    }
    demos::mtcnn::draw_faces(&img, &faces).save(output)?;
    println!("{} faces -> {output}", faces.len());
    Ok(())
}
