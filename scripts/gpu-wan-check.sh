#!/usr/bin/env bash
# Run on the GPU machine after scripts/gpu-build.sh: `vidprobe check` on a random WAN2.1-T2V-1.3B
# at real size (--random-init: no checkpoint needed, nothing to carry) — the VAE encoder and the
# real-size decoder (96 base channels, 480x832), the DiT's x0 estimate — at 17 frames (timestep
# 250) and at the paper's preset (81 frames, UniPC index 749, fp32). The numbers of a random
# model mean nothing; this shows the command runs at real size on the GPU and gives its wall time
# and GPU memory (nvidia-smi memory.used polled every 100 ms, minus the reading before the
# process; CUDA context and allocator cache included).
# Usage: bash scripts/gpu-wan-check.sh OUT_DIR            (about 2-3 minutes on an H200)
#   run(command="bash scripts/gpu-wan-check.sh $OUT", carry=[".gpu-deps.tar.xz"])
# Writes OUT_DIR/wan-check.jsonl (one JSON line per run: the check's report plus seconds and GPU
# memory), OUT_DIR/wan-check.log, and OUT_DIR/check17/, OUT_DIR/check81/ (check.json and frames).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
OUT="${1:?usage: gpu-wan-check.sh OUT_DIR}"
[ -x "$BUILD_DIR/bin/vidprobe" ] || { echo "gpu-wan-check.sh: $BUILD_DIR/bin/vidprobe is missing: run scripts/gpu-build.sh first" >&2; exit 2; }
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/wan-check.jsonl"
RAW="$OUT/wan-check.log"
: > "$LOG"

mem_now() { nvidia-smi --id=0 --query-gpu=memory.used --format=csv,noheader,nounits | head -1 | tr -d ' '; }

# run_check NAME ARGS...: one check, timed, memory polled; appends its line to $LOG.
run_check() {
  local name="$1"; shift
  local base poll_pid start end
  base="$(mem_now)"
  nvidia-smi --id=0 --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$OUT/poll-$name.txt" 2>/dev/null &
  poll_pid=$!
  start="$(date +%s.%N)"
  "$BUILD_DIR/bin/vidprobe" -q check --backbone wan2.1-t2v-1.3b --random-init --device cuda \
      --out "$OUT/$name" "$@" > "$OUT/$name.json" 2>> "$RAW"
  end="$(date +%s.%N)"
  kill "$poll_pid" 2>/dev/null || true
  wait "$poll_pid" 2>/dev/null || true
  python3 - "$OUT/$name.json" "$OUT/poll-$name.txt" "$base" "$start" "$end" "$name" "$*" >> "$LOG" <<'PY'
import json, sys
report = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
vals = [int(v) for v in open(sys.argv[2]).read().split() if v.strip().isdigit()]
base = int(sys.argv[3])
report.update(run=sys.argv[6], args=sys.argv[7], seconds=round(float(sys.argv[5]) - float(sys.argv[4]), 2),
              gpu_mem_peak_gb=round((max(vals, default=base) - base) * 1024 * 1024 / 1e9, 2))
print(json.dumps(report))
PY
  tail -1 "$LOG" | tee -a "$RAW"
}

nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee -a "$RAW"
run_check check17 --frames 17 --timestep 250
run_check check81 --preset vidfm3d
echo "wrote $LOG" >&2
