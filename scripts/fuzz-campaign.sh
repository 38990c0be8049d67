#!/usr/bin/env bash
# A long fuzzing campaign over every libFuzzer target (fuzz/), for the record in
# docs/reliability.md: unlike scripts/fuzz-smoke.sh it does not stop at the first finding. Each
# target fuzzes for VIDPROBE_FUZZ_SECONDS of wall time (default 330) in libFuzzer's fork mode,
# which keeps going after a crash, timeout or out-of-memory and leaves every such input in
# $BUILD/campaign/<target>/artifacts/. Run it niced beside other work: it records the CPU time it
# really got (user + system of the fuzzing processes), not the wall time.
# Output: one JSON line per target and a total on stdout, also in $BUILD/campaign/campaign.jsonl.
# VIDPROBE_FUZZ_JOBS (default 1) fuzzing processes per target at a time (libFuzzer's -fork=N):
# the number of free cores, so that the CPU time comes close to jobs x wall time.
# Usage: [VIDPROBE_FUZZ_SECONDS=S] [VIDPROBE_FUZZ_JOBS=N] nice -n 19 bash scripts/fuzz-campaign.sh [target ...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${VIDPROBE_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_EACH="${VIDPROBE_FUZZ_SECONDS:-330}"
JOBS="${VIDPROBE_FUZZ_JOBS:-1}"
TARGETS=(safetensors json gzip_json png jpeg colmap_text colmap_binary co3d dl3dv synthetic_clip
  configs manifest metrics)
(($#)) && TARGETS=("$@")

# The smoke run builds the targets, writes the seeds and checks the regression corpus first.
VIDPROBE_FUZZ_SECONDS=1 bash "$ROOT/scripts/fuzz-smoke.sh" "${TARGETS[@]}"
SEEDS="$BUILD/seeds"
CAMPAIGN="$BUILD/campaign"
mkdir -p "$CAMPAIGN"
SUMMARY="$CAMPAIGN/campaign.jsonl"
: >"$SUMMARY"
LIMITS=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10)
[ -w /dev/shm ] && export TMPDIR="${VIDPROBE_FUZZ_TMPDIR:-/dev/shm}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

cpu_seconds() {  # user + system seconds of this shell's finished children so far
  python3 -c 'import os; t = os.times(); print(t[2] + t[3])' 2>/dev/null || echo 0
}

for target in "${TARGETS[@]}"; do
  dir="$CAMPAIGN/$target"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  inputs=("$SEEDS/$target")
  [ -d "$ROOT/tests/fuzz/regressions/$target" ] && inputs+=("$ROOT/tests/fuzz/regressions/$target")
  echo "== fuzz_$target: $SECONDS_EACH s" >&2
  start_wall=$(date +%s)
  # /usr/bin/time is not everywhere: bash's `times` after the child gives its CPU seconds.
  (
    "$BUILD/bin/fuzz_$target" "${LIMITS[@]}" -fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 \
      -ignore_ooms=1 -artifact_prefix="$dir/artifacts/" -max_total_time="$SECONDS_EACH" \
      -print_final_stats=1 "$dir/corpus" "${inputs[@]}" >"$dir/log.txt" 2>&1 || true
    times >"$dir/times.txt"
  )
  wall=$(($(date +%s) - start_wall))
  # `times` prints the shell's then its children's user/system times as XmY.YYYs pairs.
  cpu=$(python3 - "$dir/times.txt" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
total = 0.0
for part in re.findall(r"(\d+)m([\d.]+)s", lines[1] if len(lines) > 1 else ""):
    total += int(part[0]) * 60 + float(part[1])
print(f"{total:.1f}")
PY
)
  findings=$(find "$dir/artifacts" -type f | wc -l)
  execs=$(grep -oE 'exec/s: [0-9]+|#[0-9]+' "$dir/log.txt" | tail -1 || true)
  corpus=$(find "$dir/corpus" -type f | wc -l)
  line="{\"target\": \"fuzz_$target\", \"jobs\": $JOBS, \"wall_s\": $wall, \"cpu_s\": $cpu, \"findings\": $findings, \"corpus\": $corpus, \"last_status\": \"${execs}\"}"
  echo "$line" | tee -a "$SUMMARY"
done
python3 - "$SUMMARY" <<'PY' | tee -a "$SUMMARY"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{\"target")]
print(json.dumps({"campaign_total_cpu_min": round(sum(r["cpu_s"] for r in rows) / 60, 1),
                  "campaign_total_wall_min": round(sum(r["wall_s"] for r in rows) / 60, 1),
                  "findings": sum(r["findings"] for r in rows), "targets": len(rows)}))
PY
