#!/usr/bin/env bash
# Run on the GPU machine after scripts/gpu-build.sh: the speed figures the README quotes, each C++
# benchmark next to its Python reference run on the same GPU with the same sizes. Writes one JSON
# line per measurement to $1/gpu-bench.jsonl (default: build-gpu/gpu-bench.jsonl) and echoes it.
#   backbones  vidprobe_bench BackboneExtract vs bench/backbones_reference.py (transformers)
#   probe      vidprobe bench probe --reference (bench/probe_reference.py, PyTorch)
#   wan        VIDPROBE_GPU_BENCH_WAN=1 adds vidprobe_bench WanExtract vs bench/wan_reference.py
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
OUT_DIR="${1:-$BUILD_DIR}"
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu-bench.jsonl"
: > "$LOG"
json_lines() { grep -E '^\{' | tee -a "$LOG"; }

echo "== backbones (ViT-L, bf16, 16 frames): C++ then transformers" >&2
"$BUILD_DIR/bin/vidprobe_bench" --benchmark_filter=BackboneExtract 2>&1 | json_lines || true
python3 "$ROOT/bench/backbones_reference.py" --device cuda --dtype bf16 --frames 16 2>&1 | json_lines || true

echo "== probe training step (paper configuration, batch 8): C++ then PyTorch" >&2
"$BUILD_DIR/bin/vidprobe" bench probe --device cuda --batch 8 --steps 20 --warmup 3 --reference \
  --python python3 --reference-script "$ROOT/bench/probe_reference.py" 2>&1 | json_lines || true

if [ "${VIDPROBE_GPU_BENCH_WAN:-0}" = 1 ]; then
  echo "== WAN2.1 extraction (17 frames, 480x832): C++ then diffusers" >&2
  "$BUILD_DIR/bin/vidprobe_bench" --benchmark_filter=WanExtract 2>&1 | json_lines || true
  python3 "$ROOT/bench/wan_reference.py" 2>&1 | json_lines || true
fi
echo "figures in $LOG" >&2
