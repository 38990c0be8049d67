#!/usr/bin/env bash
# Run on the GPU machine after scripts/gpu-build.sh: CogVideoX-5B-I2V at the published size, random
# weights, one 49-frame 480 x 720 clip, block 20 at timestep 250 (the authors' point):
#   1. bench/cogvideox_reference.py make: the random model in the diffusers layout and diffusers'
#      float32 latents / transformer input / block-20 states (TF32 off);
#   2. parity: tests/backbones/cogvideox/real_size_test.cpp against them (fp32 and bf16);
#   3. speed: `vidprobe bench backbone` (bf16 transformer, fp32 VAE) next to diffusers on the same
#      GPU (bench/cogvideox_reference.py bench: VAE fp32 and bf16, 21 or all 42 blocks), then the
#      ratios.
# Usage: bash scripts/gpu-cogvideox.sh OUT_DIR. Writes OUT_DIR/cogvideox.jsonl (JSON lines) and
# OUT_DIR/cogvideox.log. diffusers is not in the GPU image: carry its wheel in .whl/ (see
# scripts/gpu-wan81.sh's header for the pip download line).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
OUT="${1:?usage: gpu-cogvideox.sh OUT_DIR}"
WORK="${VIDPROBE_WORK_DIR:-/tmp/vidprobe-cogvideox}"
ITERS="${VIDPROBE_COGVIDEOX_ITERS:-3}"
mkdir -p "$OUT" "$WORK"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/cogvideox.jsonl"
RAW="$OUT/cogvideox.log"
: > "$LOG"
: > "$RAW"
export PYTHONUNBUFFERED=1
json_lines() { tee -a "$RAW" | { grep -E '^\{' || true; } | tee -a "$LOG"; }
step() { printf '\n== %s\n' "$*" | tee -a "$RAW" >&2; }

[ -x "$BUILD_DIR/bin/vidprobe" ] || { echo "gpu-cogvideox.sh: run scripts/gpu-build.sh first" >&2; exit 2; }
if ! python3 -c 'import diffusers' 2>/dev/null; then
  shopt -s nullglob
  wheels=("$ROOT"/.whl/*.whl)
  shopt -u nullglob
  [ ${#wheels[@]} -gt 0 ] || { echo "gpu-cogvideox.sh: diffusers is missing and .whl/ holds no wheel" >&2; exit 2; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "${wheels[@]}"
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
MODEL="$WORK/CogVideoX-5b-I2V-random"

step "random CogVideoX-5B-I2V at real size + diffusers float32 reference"
[ -f "$MODEL/parity.safetensors" ] ||
  python3 "$ROOT/bench/cogvideox_reference.py" make "$MODEL" 2>&1 | json_lines

step "parity: vidprobe against diffusers (fp32, bf16)"
VIDPROBE_COGVIDEOX_PARITY_DIR="$MODEL" "$BUILD_DIR/bin/vidprobe_backbones_tests" \
  --gtest_filter='CogVideoXBackboneCuda.*' 2>&1 | json_lines || echo "gpu-cogvideox.sh: parity failed" >&2

step "speed: vidprobe (bf16 transformer, fp32 VAE), $ITERS clips"
"$BUILD_DIR/bin/vidprobe" bench backbone --backbone cogvideox-5b-i2v --weights "$MODEL" \
  --device cuda --dtype bf16 --frames 49 --iterations "$ITERS" \
  --backbone-opt "text_context=$MODEL/context.safetensors" 2>&1 | json_lines || true

step "speed: diffusers, same GPU, same clip size"
python3 "$ROOT/bench/cogvideox_reference.py" bench "$MODEL" --iterations "$ITERS" 2>&1 | json_lines || true

python3 - "$LOG" <<'PY' | tee -a "$LOG"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
ours = [r for r in rows if r.get("backbone") == "cogvideox-5b-i2v" and "clips_per_s" in r
        and r.get("benchmark") is None]
refs = [r for r in rows if r.get("benchmark") == "cogvideox_extract_reference"]
for mine in ours:
    for ref in refs:
        print(json.dumps({"benchmark": "cogvideox_speed_ratio", "vidprobe_clips_per_s": mine["clips_per_s"],
                          "reference_clips_per_s": ref["clips_per_s"], "reference_vae_dtype": ref["vae_dtype"],
                          "reference_blocks_run": ref["blocks_run"],
                          "ratio": mine["clips_per_s"] / ref["clips_per_s"]}))
PY
echo "figures in $LOG" >&2
