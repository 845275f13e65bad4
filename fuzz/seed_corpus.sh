#!/bin/sh
# Copies the ONNX fixtures into the onnx_import corpus (they are not committed twice).
set -e
cd "$(dirname "$0")"
mkdir -p corpus/onnx_import corpus/graph_build
for f in ../tests/fixtures/onnx/*/*.onnx; do
    cp "$f" "corpus/onnx_import/$(basename "$(dirname "$f")").onnx"
done
if [ -d ../tests/fixtures/fuzz ]; then
    for t in onnx_import graph_build; do
        [ -d "../tests/fixtures/fuzz/$t" ] && cp ../tests/fixtures/fuzz/$t/* corpus/$t/ 2>/dev/null || true
    done
fi
