//! The pretrained-model demos end to end (examples/demos/) on the committed pictures of
//! tests/data/demos/, against the original Python pipelines run on onnxruntime
//! (tests/data/demos/make_reference.py wrote reference.json). The weights come from
//! scripts/fetch_demo_weights.sh; without them these tests fail.
//!
//! Tolerances: the Python pipelines resize with OpenCV (bilinear, area) and trace contours
//! with findContours / pyclipper; the demos use the `image` crate's triangle filter and
//! `imageproc`. The text pictures need no resize, so only the box geometry's rounding
//! differs; MTCNN resizes at every stage, so its inputs differ a little.

use std::path::{Path, PathBuf};

use serde_json::Value;

#[path = "../../examples/demos/mod.rs"]
mod pipelines;

use pipelines::{mtcnn, ocr};

/// Text box corners: the probability maps agree (2.3e-5), but pyclipper offsets on an integer
/// grid and RapidOCR truncates, so a corner may land a pixel away.
const CORNER_PX: f32 = 1.0;
/// MTCNN boxes and landmarks are whole pixels (truncated) after three resized stages.
const FACE_PX: i32 = 2;
const FACE_CONFIDENCE: f32 = 0.005;
/// The classifier's input is exactly the reference's (no resize at 192x48).
const DIRECTION_PROBABILITY: f32 = 1e-3;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/demos")
        .join(name)
}

fn picture(name: &str) -> image::RgbImage {
    image::open(data(name))
        .expect("a committed demo picture")
        .to_rgb8()
}

fn reference(key: &str) -> Value {
    let text = std::fs::read_to_string(data("reference.json")).expect("reference.json");
    let all: Value = serde_json::from_str(&text).expect("reference.json is JSON");
    all[key].clone()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_i64().expect("an integer"))
        .collect()
}

#[test]
fn text_detection_matches_onnxruntime() {
    let img = picture("text.png");
    let model = pipelines::weight(ocr::DET_MODEL).expect("run scripts/fetch_demo_weights.sh");
    let boxes = ocr::detect_text(&model, &img).expect("detection runs");
    let expected: Vec<Vec<(f32, f32)>> = reference("text_boxes")
        .as_array()
        .expect("boxes")
        .iter()
        .map(|b| {
            let c: Vec<Vec<i64>> = b.as_array().unwrap().iter().map(ints).collect();
            c.iter().map(|p| (p[0] as f32, p[1] as f32)).collect()
        })
        .collect();
    assert_eq!(
        boxes.len(),
        expected.len(),
        "wgconv {boxes:?}, onnxruntime {expected:?}"
    );
    for want in &expected {
        let distance = |b: &ocr::TextBox| {
            b.corners
                .iter()
                .zip(want)
                .map(|(g, w)| (g.0 - w.0).abs().max((g.1 - w.1).abs()))
                .fold(0.0, f32::max)
        };
        let best = boxes
            .iter()
            .min_by(|a, b| distance(a).total_cmp(&distance(b)))
            .unwrap();
        assert!(
            distance(best) <= CORNER_PX,
            "onnxruntime box {want:?}: nearest wgconv box {best:?}"
        );
    }
    // The drawing outlines each box through its corners.
    let drawn = ocr::draw_text_boxes(&img, &boxes);
    for b in &boxes {
        let (x, y) = b.corners[0];
        assert_eq!(
            drawn.get_pixel(x as u32, y as u32).0,
            [230, 30, 30],
            "outline at {:?}",
            b.corners[0]
        );
    }
}

#[test]
fn text_direction_matches_onnxruntime() {
    let line = picture("text_line.png");
    let lines = [image::imageops::rotate180(&line), line];
    let model = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx/ppocr_cls_pretrained/model.onnx");
    let got = ocr::text_direction(&model, &lines).expect("classification runs");
    // The reference lists the upright line, then the turned one.
    let expected = reference("text_direction");
    for (g, e) in got.iter().zip(expected.as_array().unwrap().iter().rev()) {
        assert_eq!(g.0, e["label"].as_str().unwrap());
        let p = e["probability"].as_f64().unwrap() as f32;
        assert!(
            (g.1 - p).abs() <= DIRECTION_PROBABILITY,
            "probability {} vs onnxruntime {p}",
            g.1
        );
    }
    assert_eq!(
        [got[0].0, got[1].0],
        [ocr::DIRECTION_LABELS[1], ocr::DIRECTION_LABELS[0]]
    );
}

/// Detection then direction, as an OCR pipeline chains them: each detected line of the page,
/// straightened, reads upright; each line of the page turned 180 degrees reads turned.
#[test]
fn detected_lines_read_in_their_direction() {
    let page = picture("text.png");
    let det = pipelines::weight(ocr::DET_MODEL).expect("run scripts/fetch_demo_weights.sh");
    let cls = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx/ppocr_cls_pretrained/model.onnx");
    for (img, label) in [
        (page.clone(), "0"),
        (image::imageops::rotate180(&page), "180"),
    ] {
        let boxes = ocr::detect_text(&det, &img).expect("detection runs");
        let lines: Vec<_> = boxes
            .iter()
            .filter_map(|b| ocr::crop_text(&img, b))
            .collect();
        assert_eq!(lines.len(), 4, "one crop per line of text.png");
        for (b, (got, p)) in boxes
            .iter()
            .zip(ocr::text_direction(&cls, &lines).expect("runs"))
        {
            assert_eq!(got, label, "line at {:?} (probability {p})", b.corners[0]);
            assert!(p > 0.9, "line at {:?}: probability {p}", b.corners[0]);
        }
    }
}

#[test]
fn faces_match_onnxruntime() {
    let img = picture("astronaut.png");
    let faces = mtcnn::Mtcnn::load()
        .expect("run scripts/fetch_demo_weights.sh")
        .detect(&img)
        .expect("MTCNN runs");
    let expected = reference("faces");
    let expected = expected.as_array().unwrap();
    assert_eq!(
        faces.len(),
        expected.len(),
        "wgconv {faces:?}, onnxruntime {expected:?}"
    );
    for (f, e) in faces.iter().zip(expected) {
        let near = |got: &[i32], want: &[i64]| {
            got.iter()
                .zip(want)
                .all(|(&g, &w)| (g as i64 - w).abs() <= FACE_PX as i64)
        };
        assert!(
            near(&f.rect, &ints(&e["box"])),
            "box {:?} vs onnxruntime {}",
            f.rect,
            e["box"]
        );
        for (p, want) in f.landmarks.iter().zip(e["keypoints"].as_array().unwrap()) {
            assert!(
                near(&[p.0, p.1], &ints(want)),
                "landmark {p:?} vs onnxruntime {want}"
            );
        }
        let c = e["confidence"].as_f64().unwrap() as f32;
        assert!(
            (f.confidence - c).abs() <= FACE_CONFIDENCE,
            "confidence {} vs onnxruntime {c}",
            f.confidence
        );
    }
    let drawn = mtcnn::draw_faces(&img, &faces);
    let (x, y) = (faces[0].rect[0] as u32, faces[0].rect[1] as u32);
    assert_eq!(drawn.get_pixel(x, y).0, [255, 155, 0], "box outline");
}
