#!/usr/bin/env bash
# The CPU cost of loading one clip the way `vidprobe extract` does, stage by stage (issue #14;
# bench/loader_bench.cpp says what each stage is). One thread (the cost of one loader thread),
# REPS repetitions of each benchmark; prints one JSON line per stage and target with the median
# and the fastest repetition, in milliseconds per clip and per frame.
# Usage: bash scripts/loader-stages.sh [LABEL] >> docs/results/FILE.jsonl
#   LABEL names the run in every line (e.g. "before" or "after"); default: the commit.
# Knobs: VIDPROBE_BUILD_DIR (build), VIDPROBE_LOADER_REPS (5), VIDPROBE_LOADER_FILTER (all stages).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${VIDPROBE_BUILD_DIR:-$ROOT/build}"
LABEL="${1:-$(git -C "$ROOT" rev-parse --short HEAD)}"
REPS="${VIDPROBE_LOADER_REPS:-5}"
FILTER="${VIDPROBE_LOADER_FILTER:-BM_(LoadClip|ReadClip|DecodeRgbPng|DecodeRgbJpeg|DecodeMaskPng|ReadDepth|ClipToTensors|ResizeRgb|ResizeDepthMask)}"
RAW="$(mktemp)"
trap 'rm -f "$RAW"' EXIT
OMP_NUM_THREADS=1 "$BUILD_DIR/bin/vidprobe_bench" --benchmark_filter="$FILTER" \
  --benchmark_repetitions="$REPS" --benchmark_format=json --benchmark_out="$RAW" \
  --benchmark_out_format=json > /dev/null
python3 - "$RAW" "$LABEL" "$REPS" <<'EOF'
import json, statistics, sys
raw, label, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
doc = json.load(open(raw))
runs = {}
for b in doc["benchmarks"]:
    if b.get("run_type") != "iteration":
        continue
    runs.setdefault(b["run_name"], []).append(b)
for name, rs in runs.items():
    ms = [r["real_time"] for r in rs]  # Unit(kMillisecond): ms per iteration = per clip
    frames = rs[0].get("frames", 0)
    print(json.dumps({
        "benchmark": "loader_stages", "run": label, "stage": name.split("/")[0][3:],
        "target": rs[0].get("label", ""), "frames_per_clip": int(frames),
        "ms_per_clip_median": round(statistics.median(ms), 2),
        "ms_per_clip_min": round(min(ms), 2),
        "ms_per_frame_median": round(statistics.median(ms) / frames, 3) if frames else None,
        "repetitions": len(ms), "threads": 1,
        "machine": doc["context"].get("host_name", "") + ", "
                   + str(doc["context"].get("num_cpus", "")) + " CPUs",
    }))
EOF
