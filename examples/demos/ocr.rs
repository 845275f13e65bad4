//! PaddleOCR: the PP-OCRv4 text detector (DB: a text-probability map, binarised, a
//! rotated box per connected component grown by the unclip margin) and the text-direction
//! classifier. Settings are RapidOCR 1.4.4's defaults for these models.

use std::path::Path;

use image::{GrayImage, Luma, RgbImage, imageops::FilterType};
use imageproc::{
    point::Point,
    region_labelling::{Connectivity, connected_components},
};
use wgconv::{Session, SessionConfig, Tensor};

use super::{BGR, Result, paddle_tensor};

pub const DET_MODEL: &str = "ppocr_det.onnx";
/// The detector's input side limit: larger pictures are scaled down to it.
const LIMIT_SIDE: u32 = 960;
/// Pixels with text probability above this are text.
const THRESH: f32 = 0.3;
/// A region is kept when its box's mean probability reaches this.
const BOX_THRESH: f32 = 0.5;
/// The DB paper's margin: the box grows by area * ratio / perimeter on every side, undoing
/// the shrink of the training labels.
const UNCLIP_RATIO: f32 = 1.6;
/// Boxes with a shorter side are noise.
const MIN_SIDE: f32 = 3.0;
const MAX_CANDIDATES: usize = 1000;

/// A text region: corners clockwise from the top left, in the input picture's pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct TextBox {
    pub corners: [(f32, f32); 4],
    pub score: f32,
}

/// The detector's input size: the picture scaled so its longer side is at most
/// [`LIMIT_SIDE`], each side rounded to a multiple of 32 (the network downsamples by 32).
fn det_size(w: u32, h: u32) -> Result<(u32, u32)> {
    let ratio = (LIMIT_SIDE as f32 / w.max(h) as f32).min(1.0);
    // RapidOCR truncates, then rounds half to even (Python's round).
    let side = |s: u32| ((s as f32 * ratio).trunc() / 32.0).round_ties_even() as u32 * 32;
    match (side(w), side(h)) {
        (0, _) | (_, 0) => {
            Err(format!("a {w}x{h} picture is too small for the text detector").into())
        }
        size => Ok(size),
    }
}

/// Every text region of `img` found by the detector at `model`.
pub fn detect_text(model: &Path, img: &RgbImage) -> Result<Vec<TextBox>> {
    let (w, h) = det_size(img.width(), img.height())?;
    let resized;
    let input = if (w, h) == img.dimensions() {
        img
    } else {
        resized = image::imageops::resize(img, w, h, FilterType::Triangle);
        &resized
    };
    let config = SessionConfig::default().input_shape("x", &[1, 3, h as usize, w as usize]);
    let session = Session::from_onnx_path(model, &config)?;
    let prob = session.run(&[paddle_tensor(input, BGR)])?.remove(0);
    Ok(boxes_from_map(&prob, img.width(), img.height()))
}

/// DB post-processing of a `[1, 1, h, w]` probability map into boxes in a `dest_w` x `dest_h`
/// picture.
fn boxes_from_map(prob: &Tensor, dest_w: u32, dest_h: u32) -> Vec<TextBox> {
    let (h, w) = (prob.shape()[2] as u32, prob.shape()[3] as u32);
    let p = |x: u32, y: u32| prob.data()[(y * w + x) as usize];
    let bitmap = GrayImage::from_fn(w, h, |x, y| Luma([if p(x, y) > THRESH { 255 } else { 0 }]));
    // RapidOCR dilates with a 2x2 kernel anchored at its bottom right, joining nearby strokes.
    let square = GrayImage::from_pixel(2, 2, Luma([255]));
    let mask = imageproc::morphology::Mask::from_image(&square, 1, 1);
    let bitmap = imageproc::morphology::grayscale_dilate(&bitmap, &mask);
    let labels = connected_components(&bitmap, Connectivity::Eight, Luma([0]));
    let mut regions: Vec<Vec<Point<f32>>> = Vec::new();
    for (x, y, l) in labels.enumerate_pixels() {
        if l[0] > 0 {
            let i = l[0] as usize - 1;
            if regions.len() <= i {
                regions.resize(i + 1, Vec::new());
            }
            regions[i].push(Point::new(x as f32, y as f32));
        }
    }
    let (sx, sy) = (dest_w as f32 / w as f32, dest_h as f32 / h as f32);
    let mut boxes = Vec::new();
    for region in regions.iter().take(MAX_CANDIDATES) {
        let (quad, side) = min_box(region);
        if side < MIN_SIDE {
            continue;
        }
        let score = mean_inside(&quad, w, h, &p);
        if score < BOX_THRESH {
            continue;
        }
        let (quad, side) = min_box(&unclip(&quad));
        if side < MIN_SIDE + 2.0 {
            continue;
        }
        let to_dest = |(x, y): (f32, f32)| {
            let x = (x * sx).round_ties_even().clamp(0.0, dest_w as f32);
            let y = (y * sy).round_ties_even().clamp(0.0, dest_h as f32);
            (x.min(dest_w as f32 - 1.0), y.min(dest_h as f32 - 1.0))
        };
        let corners = quad.map(to_dest);
        let len = |a: (f32, f32), b: (f32, f32)| ((a.0 - b.0).hypot(a.1 - b.1)).trunc();
        if len(corners[0], corners[1]) > 3.0 && len(corners[0], corners[3]) > 3.0 {
            boxes.push(TextBox { corners, score });
        }
    }
    boxes
}

/// The minimum-area rectangle around `points`, corners ordered top left, top right, bottom
/// right, bottom left, and its shorter side.
fn min_box(points: &[Point<f32>]) -> ([(f32, f32); 4], f32) {
    let (mut c, short) = min_area_rect(points);
    c.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (tl, bl) = if c[1].1 > c[0].1 {
        (c[0], c[1])
    } else {
        (c[1], c[0])
    };
    let (tr, br) = if c[3].1 > c[2].1 {
        (c[2], c[3])
    } else {
        (c[3], c[2])
    };
    ([tl, tr, br, bl], short)
}

/// Rotating calipers over the convex hull: the best rectangle has a side on a hull edge.
/// (imageproc's `min_area_rect` rounds the corners outwards to whole pixels, which grows
/// text boxes by up to two pixels before the unclip margin multiplies that.)
fn min_area_rect(points: &[Point<f32>]) -> ([(f32, f32); 4], f32) {
    let hull = imageproc::geometry::convex_hull(points);
    let mut best = ([(0.0, 0.0); 4], 0.0, f32::MAX);
    for (i, a) in hull.iter().enumerate() {
        let b = hull[(i + 1) % hull.len()];
        let len = (b.x - a.x).hypot(b.y - a.y);
        if len == 0.0 {
            continue;
        }
        let u = ((b.x - a.x) / len, (b.y - a.y) / len);
        let (mut lo, mut hi) = ((f32::MAX, f32::MAX), (f32::MIN, f32::MIN));
        for p in &hull {
            let (s, t) = (p.x * u.0 + p.y * u.1, p.y * u.0 - p.x * u.1);
            lo = (lo.0.min(s), lo.1.min(t));
            hi = (hi.0.max(s), hi.1.max(t));
        }
        let area = (hi.0 - lo.0) * (hi.1 - lo.1);
        if area < best.2 {
            let at = |s: f32, t: f32| (s * u.0 - t * u.1, s * u.1 + t * u.0);
            let corners = [
                at(lo.0, lo.1),
                at(hi.0, lo.1),
                at(hi.0, hi.1),
                at(lo.0, hi.1),
            ];
            best = (corners, (hi.0 - lo.0).min(hi.1 - lo.1), area);
        }
    }
    (best.0, best.1)
}

/// The rectangle grown by area * [`UNCLIP_RATIO`] / perimeter on every side (the
/// minimum-area rectangle of its round-joined offset).
fn unclip(quad: &[(f32, f32); 4]) -> Vec<Point<f32>> {
    let side = |a: (f32, f32), b: (f32, f32)| (a.0 - b.0).hypot(a.1 - b.1);
    let (along, across) = (side(quad[0], quad[1]), side(quad[0], quad[3]));
    let d = along * across * UNCLIP_RATIO / (2.0 * (along + across));
    let unit = |a: (f32, f32), b: (f32, f32)| ((b.0 - a.0) / side(a, b), (b.1 - a.1) / side(a, b));
    let (u, v) = (unit(quad[0], quad[1]), unit(quad[0], quad[3]));
    [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
        .iter()
        .zip(quad)
        .map(|(&(su, sv), &(x, y))| {
            Point::new(x + d * (su * u.0 + sv * v.0), y + d * (su * u.1 + sv * v.1))
        })
        .collect()
}

/// The mean of `p` over the pixels of the quadrilateral (RapidOCR's "fast" box score).
fn mean_inside(quad: &[(f32, f32); 4], w: u32, h: u32, p: &impl Fn(u32, u32) -> f32) -> f32 {
    let bound = |v: f32, n: u32| v.clamp(0.0, n as f32 - 1.0) as u32;
    let xs = quad.map(|c| c.0);
    let ys = quad.map(|c| c.1);
    let x0 = bound(xs.iter().copied().fold(f32::MAX, f32::min).floor(), w);
    let x1 = bound(xs.iter().copied().fold(f32::MIN, f32::max).ceil(), w);
    let y0 = bound(ys.iter().copied().fold(f32::MAX, f32::min).floor(), h);
    let y1 = bound(ys.iter().copied().fold(f32::MIN, f32::max).ceil(), h);
    let mut mask = GrayImage::new(x1 - x0 + 1, y1 - y0 + 1);
    let poly: Vec<Point<i32>> = quad
        .iter()
        .map(|&(x, y)| Point::new((x - x0 as f32) as i32, (y - y0 as f32) as i32))
        .collect();
    imageproc::drawing::draw_polygon_mut(&mut mask, &poly, Luma([1]));
    let (mut sum, mut n) = (0.0, 0);
    for (x, y, m) in mask.enumerate_pixels() {
        if m[0] == 1 {
            sum += p(x + x0, y + y0);
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { sum / n as f32 }
}

/// The box's pixels straightened into an upright picture (a perspective warp of its
/// corners onto a rectangle); a box over 1.5 times taller than wide is taken as vertical
/// text and turned a quarter anticlockwise, as RapidOCR does.
pub fn crop_text(img: &RgbImage, b: &TextBox) -> Option<RgbImage> {
    use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp_into};
    let [tl, tr, br, bl] = b.corners;
    let side = |a: (f32, f32), b: (f32, f32)| (a.0 - b.0).hypot(a.1 - b.1);
    let w = side(tl, tr).max(side(bl, br)) as u32;
    let h = side(tl, bl).max(side(tr, br)) as u32;
    if w == 0 || h == 0 {
        return None;
    }
    let (wf, hf) = (w as f32, h as f32);
    let to = [(0.0, 0.0), (wf, 0.0), (wf, hf), (0.0, hf)];
    let projection = Projection::from_control_points(b.corners, to)?;
    let mut out = RgbImage::new(w, h);
    warp_into(
        img,
        projection,
        Interpolation::Bilinear,
        Border::Replicate,
        &mut out,
    );
    Some(if hf >= 1.5 * wf {
        image::imageops::rotate270(&out)
    } else {
        out
    })
}

pub const DIRECTION_LABELS: [&str; 2] = ["0", "180"];
const CLS_H: u32 = 48;
const CLS_W: u32 = 192;

/// The direction of each text line picture (its label in [`DIRECTION_LABELS`] and
/// probability), from the classifier at `model`: each line scaled to 48 pixels high, at most
/// 192 wide, padded on the right.
pub fn text_direction(model: &Path, lines: &[RgbImage]) -> Result<Vec<(&'static str, f32)>> {
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let plane = (CLS_H * CLS_W) as usize;
    let mut data = vec![0f32; lines.len() * 3 * plane];
    for (line, out) in lines.iter().zip(data.chunks_mut(3 * plane)) {
        if line.width() == 0 || line.height() == 0 {
            return Err("an empty text line picture".into());
        }
        let w =
            ((CLS_H as f32 * line.width() as f32 / line.height() as f32).ceil() as u32).min(CLS_W);
        let resized = image::imageops::resize(line, w, CLS_H, FilterType::Triangle);
        let t = paddle_tensor(&resized, BGR);
        for (c, rows) in t.data().chunks(w as usize * CLS_H as usize).enumerate() {
            for (y, row) in rows.chunks(w as usize).enumerate() {
                let start = c * plane + y * CLS_W as usize;
                out[start..start + w as usize].copy_from_slice(row);
            }
        }
    }
    let shape = [lines.len(), 3, CLS_H as usize, CLS_W as usize];
    let session =
        Session::from_onnx_path(model, &SessionConfig::default().input_shape("x", &shape))?;
    let probs = session
        .run(&[Tensor::new(shape.to_vec(), data)?])?
        .remove(0);
    Ok(probs
        .data()
        .chunks(2)
        .map(|p| {
            if p[1] > p[0] {
                (DIRECTION_LABELS[1], p[1])
            } else {
                (DIRECTION_LABELS[0], p[0])
            }
        })
        .collect())
}

/// The picture with every box outlined.
pub fn draw_text_boxes(img: &RgbImage, boxes: &[TextBox]) -> RgbImage {
    let mut out = img.clone();
    for b in boxes {
        // Two outlines a pixel apart: a one-pixel line is hard to see.
        for grow in [0.0, 1.0] {
            let (cx, cy) = (
                b.corners.iter().map(|c| c.0).sum::<f32>() / 4.0,
                b.corners.iter().map(|c| c.1).sum::<f32>() / 4.0,
            );
            let poly: Vec<Point<f32>> = b
                .corners
                .iter()
                .map(|&(x, y)| {
                    Point::new(x + grow * (x - cx).signum(), y + grow * (y - cy).signum())
                })
                .collect();
            imageproc::drawing::draw_hollow_polygon_mut(&mut out, &poly, image::Rgb([230, 30, 30]));
        }
    }
    out
}
