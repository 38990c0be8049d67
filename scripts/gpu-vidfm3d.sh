#!/usr/bin/env bash
# Run on the GPU machine after scripts/gpu-build.sh: the paper's protocol (the default `vidfm3d`
# preset) measured and exercised on one GPU.
#   1. the probe's training step at the paper's sizes (WAN2.1-1.3B's 1536 channels on a 30 x 52
#      grid, GT 294 x 518, batch 10, 4 views, bf16) next to the authors' own step in PyTorch
#      (bench/vidfm3d_reference.py over a checkout of zxhuang1698/VidFM3D), with and without their
#      gradient checkpointing;
#   2. the default preset end to end on rendered data: 81-frame clips, features of the real-size
#      DINOv2-L with random weights (no checkpoint can be downloaded here; never a result), whole
#      clips in the cache, `vidprobe train` with no preset flag for a few epochs, `vidprobe eval`.
# Usage: bash scripts/gpu-vidfm3d.sh OUT_DIR [CHECKOUT]   (CHECKOUT default: .ref/VidFM3D)
# Writes OUT_DIR/vidfm3d-gpu.jsonl (benchmark lines), OUT_DIR/train.log, OUT_DIR/metrics.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
OUT="${1:?usage: gpu-vidfm3d.sh OUT_DIR [CHECKOUT]}"
CHECKOUT="${2:-$ROOT/.ref/VidFM3D}"
WORK="${VIDPROBE_WORK_DIR:-/tmp/vidprobe-vidfm3d}"
mkdir -p "$OUT" "$WORK"
LOG="$OUT/vidfm3d-gpu.jsonl"
RAW="$OUT/vidfm3d-bench.log"
: > "$LOG"
: > "$RAW"
vidprobe() { "$BUILD_DIR/bin/vidprobe" "$@"; }
# Everything goes to the raw log (errors included); the JSON lines also to $LOG and the terminal.
json_lines() { tee -a "$RAW" | grep -E '^\{' | tee -a "$LOG"; }
step() { printf '\n== %s\n' "$*" >&2; }

for checkpointing in off on; do
  step "probe training step, paper sizes: C++ then the authors' code, gradient checkpointing $checkpointing"
  vidprobe bench probe --device cuda --batch 10 --frames 4 --feature-dim 1536 --grid 30x52 \
    --size 294x518 --warmup 3 --steps 10 --reference --python python3 --checkout "$CHECKOUT" \
    --gradient-checkpointing "$checkpointing" 2>&1 | json_lines || true
done

CLIPS="${VIDPROBE_VIDFM3D_CLIPS:-50}"
step "render $CLIPS clips x 81 frames"
vidprobe -q render --family objects --clips "$CLIPS" --frames 81 --size 224 --seed 3 --out "$WORK/data"
for split in train test; do
  step "extract dinov2-vitl14 (random weights), whole 81-frame clips, $split"
  vidprobe -q extract --backbone dinov2-vitl14 --random-init --device cuda --data "$WORK/data" \
    --split "$split" --train-ratio 0.8 --frames 81 --sampling uniform --gt-size 224 \
    --out "$WORK/feats/$split"
done
step "train the paper's probe (default preset) for 3 epochs"
rm -rf "$WORK/run"
start=$(date +%s.%N)
vidprobe train --features "$WORK/feats/train" --val-features "$WORK/feats/test" --device cuda \
  --epochs 3 --out "$WORK/run" 2>&1 | tee "$OUT/train.log"
end=$(date +%s.%N)
step "evaluate"
vidprobe eval --run "$WORK/run" --features "$WORK/feats/test" --device cuda --out "$WORK/eval" \
  2>&1 | tee -a "$OUT/train.log"
cp "$WORK/eval/metrics.json" "$OUT/metrics.json"
cp "$WORK/run/train_log.jsonl" "$OUT/train_log.jsonl"
python3 - "$WORK/run/train_log.jsonl" "$start" "$end" <<'PY' | json_lines
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print(json.dumps({"benchmark": "vidfm3d_preset_rendered_run", "steps": rows[-1]["step"],
                  "train_wall_s": float(sys.argv[3]) - float(sys.argv[2]),
                  "steps_per_s_logged": [r["steps_per_s"] for r in rows],
                  "val": {k: v for k, v in rows[-1].items() if k.startswith("val")}}))
PY
echo "figures in $LOG" >&2
