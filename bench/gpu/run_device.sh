#!/usr/bin/env bash
# The whole GPU measurement of issue 5 in one command, for a machine with an NVIDIA GPU, the
# NVIDIA Vulkan driver and PyTorch (the H100 that the `device` tool lends some sessions).
#
# Prepared on the development machine (no GPU there), from the repository root:
#   cargo build --release                      # the binary travels as target/release/wgconv
#   mkdir -p .gl && (cd .gl && apt-get download libvulkan1 libegl1 libglvnd0)   # Vulkan loader
# Then on the GPU machine, from the repository root, with OUT set to a results folder:
#   bash bench/gpu/run_device.sh
# It writes $OUT/wgconv.json (every suite layer and model through Vulkan), $OUT/torch.json
# (PyTorch eager, FP32, TF32 off, cudnn.benchmark on), $OUT/compare.md (the side-by-side
# table) and $OUT/info.txt (adapter, driver, limits, cooperative-matrix configurations);
# for tensor cores (issue 14) $OUT/validate_coop.txt (their self-checks in f16, f16-acc32 and
# f32 with the opt-in), $OUT/wgconv_f16acc32_tc.json and $OUT/wgconv_f16acc32_plain.json
# (f16-acc32 with and without them); $OUT/inflight_1.txt and inflight_4.txt (ResNet-50 batch 1
# end to end, upload and readback included, one run at a time and from 4 threads: the
# throughput of runs in flight); $OUT/torch_f16.json and compare_f16.md (PyTorch f16
# channels_last beside f16-acc32 with tensor cores). Commit wgconv.json as
# bench/results/<adapter>-<date>.json and the table in README.md, with this command.
# Each step has its own time limit (`step SECONDS NAME CMD...`), so that one slow or hung step
# leaves the others their share of the lent minutes; a step that fails or times out is
# reported in $OUT/steps.txt and the script goes on.
set -euo pipefail
OUT=${OUT:-bench/results/out}
mkdir -p "$OUT"
if ! ldconfig -p | grep -q libvulkan.so.1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
if [ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export WGCONV_BACKEND=vulkan
bin=target/release/wgconv
step() {
    local limit=$1 name=$2
    shift 2
    local t0=$SECONDS rc=0
    timeout "$limit" "$@" || rc=$?
    echo "$name: exit $rc after $((SECONDS - t0)) s (limit $limit s)" | tee -a "$OUT/steps.txt"
}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv >"$OUT/info.txt" || true
"$bin" info >>"$OUT/info.txt"
step 90 validate sh -c "\"$bin\" validate --json $OUT/validate.json >$OUT/validate.txt"
step 150 bench-f32 "$bin" bench bench/suite.json --json "$OUT/wgconv.json" ${WGCONV_BENCH_ARGS:-}
# Tensor cores: their self-checks first (a failing one is reported and disabled, not fatal),
# then f16-acc32 with them (the default where the adapter has them) and without.
step 60 validate-coop sh -c "\"$bin\" validate --filter self-check --json $OUT/validate_coop.json >$OUT/validate_coop.txt"
step 100 bench-f16acc32-tc "$bin" bench bench/suite.json --precision f16-acc32 --json "$OUT/wgconv_f16acc32_tc.json" ${WGCONV_BENCH_ARGS:-}
step 100 bench-f16acc32-plain env WGCONV_TENSOR_CORES=off "$bin" bench bench/suite.json --precision f16-acc32 --json "$OUT/wgconv_f16acc32_plain.json" ${WGCONV_BENCH_ARGS:-}
# Runs in flight: the heuristic's configurations (no autotuning, which would time every
# layer at session build), 200 timed runs each.
for n in 1 4; do
    step 45 "in-flight-$n" sh -c "\"$bin\" run resnet50 --shape input=1x3x224x224 --no-autotune --warmup 10 --runs 200 --in-flight $n >$OUT/inflight_$n.txt"
done
step 120 torch python3 bench/gpu/torch_baseline.py bench/suite.json --json "$OUT/torch.json"
step 120 torch-f16 python3 bench/gpu/torch_baseline.py bench/suite.json --half --json "$OUT/torch_f16.json"
python3 bench/gpu/compare.py "$OUT/wgconv.json" "$OUT/torch.json" | tee "$OUT/compare.md"
python3 bench/gpu/compare.py "$OUT/wgconv_f16acc32_tc.json" "$OUT/torch_f16.json" | tee "$OUT/compare_f16.md" || true
