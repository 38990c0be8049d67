#!/usr/bin/env bash
# Run on the GPU machine after scripts/gpu-build.sh: the speed figures the README quotes, each C++
# benchmark next to its Python reference run on the same GPU with the same sizes. Writes one JSON
# line per measurement to $1/gpu-bench.jsonl (default: build-gpu/gpu-bench.jsonl) and echoes it.
#   backbones  vidprobe_bench BackboneExtract vs bench/backbones_reference.py (transformers)
#   probe      vidprobe bench probe --reference: the vidfm3d preset's step at the paper's sizes
#              next to the authors' own modules (bench/vidfm3d_reference.py; their checkout in
#              VIDPROBE_VIDFM3D_CHECKOUT, default .ref/VidFM3D)
#   wan        VIDPROBE_GPU_BENCH_WAN=1 adds vidprobe_bench WanExtract vs bench/wan_reference.py
#   mfu        VIDPROBE_GPU_BENCH_MFU=1 adds `vidprobe bench backbone` of every paper model at the
#              paper's clip (random weights at real size, bf16): per-stage ms, the transformer's
#              counted TFLOPs and its MFU (nn/stage_meter.h). VIDPROBE_GPU_BENCH_MFU_MODELS picks
#              rows by backbone name (default: all of MFU_ROWS below).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
OUT_DIR="${1:-$BUILD_DIR}"
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu-bench.jsonl"
: > "$LOG"
# Runs one measuring command and keeps its JSON lines. A command that fails (after printing some
# lines, as `bench probe` prints its own before the reference runs) or prints none shows its last
# lines instead of vanishing; the script goes on to the next step either way.
step() {
  local output="$OUT_DIR/step.log" status=0
  "$@" > "$output" 2>&1 || status=$?
  grep -E '^\{' "$output" | tee -a "$LOG" || true
  if [ "$status" -ne 0 ] || ! grep -qE '^\{' "$output"; then
    echo "step failed (exit status $status) or printed no figures: $*; its last lines:" >&2
    tail -8 "$output" >&2
  fi
}
CHECKOUT="${VIDPROBE_VIDFM3D_CHECKOUT:-$ROOT/.ref/VidFM3D}"  # the authors' code, for the probe

echo "== backbones (ViT-L, bf16, 16 frames): C++ then transformers" >&2
step "$BUILD_DIR/bin/vidprobe_bench" --benchmark_filter=BackboneExtract
step python3 "$ROOT/bench/backbones_reference.py" --device cuda --dtype bf16 --frames 16

echo "== probe training step (the paper's probe and sizes, batch 10): C++ then the authors' code" >&2
step "$BUILD_DIR/bin/vidprobe" bench probe --device cuda --batch 10 --frames 4 --feature-dim 1536 \
  --grid 30x52 --size 294x518 --warmup 3 --steps 10 --reference --python python3 \
  --checkout "$CHECKOUT"

if [ "${VIDPROBE_GPU_BENCH_WAN:-0}" = 1 ]; then
  echo "== WAN2.1 extraction (17 frames, 480x832): C++ then diffusers" >&2
  step "$BUILD_DIR/bin/vidprobe_bench" --benchmark_filter=WanExtract
  step python3 "$ROOT/bench/wan_reference.py"
fi
# backbone | frames | extra options: the paper's clip of each model (docs/backbones.md).
MFU_ROWS=(
  "dinov2-vitl14|16|"
  "videomae-large|16|"
  "vjepa2-vitl-fpc64-256|16|"
  "vjepa1-vith16-384|76|--backbone-opt size=480x832 --backbone-opt spaced_clips=5"
  "fast3r-vitl16-512|81|"
  "wan2.1-t2v-1.3b|81|"
  "cogvideox-5b-i2v|49|"
  "aether|41|"
  "opensora-v2|129|"
  "wan2.1-t2v-14b|81|"
)
if [ "${VIDPROBE_GPU_BENCH_MFU:-0}" = 1 ]; then
  for row in "${MFU_ROWS[@]}"; do
    IFS='|' read -r name frames extra <<< "$row"
    if [ -n "${VIDPROBE_GPU_BENCH_MFU_MODELS:-}" ] && [[ " $VIDPROBE_GPU_BENCH_MFU_MODELS " != *" $name "* ]]; then
      continue
    fi
    echo "== MFU: $name, $frames frames, bf16, random weights" >&2
    # shellcheck disable=SC2086  # extra holds several options
    step "$BUILD_DIR/bin/vidprobe" bench backbone --backbone "$name" --device cuda --dtype bf16 \
      --frames "$frames" --iterations "${VIDPROBE_GPU_BENCH_MFU_ITERS:-2}" $extra
  done
fi
echo "figures in $LOG" >&2
