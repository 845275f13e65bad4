#!/bin/sh
# Seeds the corpora (the seeds are not committed twice): every ONNX fixture and every ONNX
# backend node-test model (together they cover every op family) for onnx_import, and the kept
# fuzz regressions for both targets.
set -e
cd "$(dirname "$0")"
mkdir -p corpus/onnx_import corpus/graph_build
for f in ../tests/fixtures/onnx/*/*.onnx; do
    cp "$f" "corpus/onnx_import/$(basename "$(dirname "$f")").onnx"
done
node="${WGCONV_ONNX_NODE_TESTS:-$HOME/.cache/wgconv/onnx-1.22.0/onnx/backend/test/data/node}"
if [ -d "$node" ]; then
    for f in "$node"/*/model.onnx; do
        [ -f "$f" ] && cp "$f" "corpus/onnx_import/node_$(basename "$(dirname "$f")").onnx"
    done
else
    echo "no ONNX node tests at $node: seeding with the fixtures only" >&2
fi
if [ -d ../tests/fixtures/fuzz ]; then
    for t in onnx_import graph_build; do
        [ -d "../tests/fixtures/fuzz/$t" ] && cp ../tests/fixtures/fuzz/$t/* corpus/$t/ 2>/dev/null || true
    done
fi
