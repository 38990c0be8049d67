#!/usr/bin/env bash
# Run on the GPU machine after scripts/gpu-build.sh: `vidprobe check` on a random WAN2.1-T2V-1.3B
# at real size (--random-init: no checkpoint needed, nothing to carry) — the VAE encoder and the
# real-size decoder (96 base channels, 480x832), the DiT's x0 estimate — at 17 frames (timestep
# 250) and at the paper's preset (81 frames, UniPC index 749, fp32). The numbers of a random
# model mean nothing; this shows the command runs at real size on the GPU and gives its wall time
# and GPU memory (nvidia-smi memory.used polled every 100 ms, minus the reading before the
# process; CUDA context and allocator cache included; GB of 10^9 bytes under "gpu_mem":
# scripts/gpu-memory.sh).
# Usage: bash scripts/gpu-wan-check.sh OUT_DIR            (about 2-3 minutes on an H200)
#   run(command="bash scripts/gpu-wan-check.sh $OUT", carry=[".gpu-deps.tar.xz"])
# Writes OUT_DIR/wan-check.jsonl (one JSON line per run: the check's report plus seconds and GPU
# memory), OUT_DIR/wan-check.log, and OUT_DIR/check17/, OUT_DIR/check81/ (check.json and frames).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
source "$ROOT/scripts/gpu-memory.sh"  # gpu_memory_start / gpu_memory_stop
OUT="${1:?usage: gpu-wan-check.sh OUT_DIR}"
[ -x "$BUILD_DIR/bin/vidprobe" ] || { echo "gpu-wan-check.sh: $BUILD_DIR/bin/vidprobe is missing: run scripts/gpu-build.sh first" >&2; exit 2; }
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/wan-check.jsonl"
RAW="$OUT/wan-check.log"
: > "$LOG"

# run_check NAME ARGS...: one check, timed, memory polled; appends its line to $LOG.
run_check() {
  local name="$1"; shift
  local start end mem
  gpu_memory_start "$OUT/poll-$name.txt"
  start="$(date +%s.%N)"
  "$BUILD_DIR/bin/vidprobe" -q check --backbone wan2.1-t2v-1.3b --random-init --device cuda \
      --out "$OUT/$name" "$@" > "$OUT/$name.json" 2>> "$RAW"
  end="$(date +%s.%N)"
  gpu_memory_stop "$OUT/poll-$name.txt" mem
  python3 - "$OUT/$name.json" "$mem" "$start" "$end" "$name" "$*" >> "$LOG" <<'PY'
import json, sys
report = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
report.update(run=sys.argv[5], args=sys.argv[6], seconds=round(float(sys.argv[4]) - float(sys.argv[3]), 2))
report["gpu_mem"] = json.loads(sys.argv[2])
print(json.dumps(report))
PY
  tail -1 "$LOG" | tee -a "$RAW"
}

nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee -a "$RAW"
run_check check17 --frames 17 --timestep 250
run_check check81 --preset vidfm3d
echo "wrote $LOG" >&2
