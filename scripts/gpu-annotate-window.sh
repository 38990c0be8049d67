#!/usr/bin/env bash
# Run on the GPU machine after scripts/gpu-build.sh: `vidprobe annotate` on whole windows as the
# authors' pseudo-GT (issue #11 item 3): VGGT-1B at real size (random weights: --random-init, the
# default configuration is VGGT-1B), all FRAMES frames of a clip jointly, bf16 aggregator with
# float32 heads, VGGT's "crop" preprocessing 960x540 -> 518x294, depth head chunked over
# CHUNK frames, written in the authors' .sft layout (--format vidfm3d: depth, depth_conf, points
# unprojected from depth with the decoded cameras).
#   1. render CLIPS clips of FRAMES frames at 960x540 (scenes family, no shadows; reused if there);
#   2. for each window length in WINDOWS (default "81 150": CO3D's and DL3DV's), annotate the
#      clips' first N frames (--window N: the seeded start is 0 when N = FRAMES; with N < FRAMES
#      a seeded start) and record the whole command's wall time, vidprobe's own model-build and
#      summed VGGT-forward times, each clip's forward time (from the .sft metadata; clip 0 pays the
#      CUDA warm-up) and the GPU memory peak;
#   3. checks every written file's tensors (shapes, dtypes, finite values, confidence > 1).
# GPU memory: nvidia-smi memory.used polled every 100 ms (CUDA context and the caching allocator's
# reserve included: an upper bound of the allocator peak, which vidprobe does not report) minus
# the reading before the process started, in GB of 10^9 bytes (scripts/gpu-memory.sh; the runs of
# 2026-12-03 wrote GiB under the same name, see docs/vggt.md).
# Usage: bash scripts/gpu-annotate-window.sh OUT_DIR
# Knobs: VIDPROBE_ANNOTATE_FRAMES (150), VIDPROBE_ANNOTATE_CLIPS (2), VIDPROBE_ANNOTATE_WINDOWS
#        ("81 150"), VIDPROBE_ANNOTATE_CHUNK (8), VIDPROBE_ANNOTATE_DEVICE (cuda),
#        VIDPROBE_ANNOTATE_DTYPE (bf16), VIDPROBE_ANNOTATE_MODEL_CONFIG (a VGGT config JSON; empty =
#        VGGT-1B), VIDPROBE_ANNOTATE_SIZE (518), VIDPROBE_ANNOTATE_WIDTH / _HEIGHT (960 / 540),
#        VIDPROBE_WORK_DIR (/tmp/vidprobe-annotate-window), VIDPROBE_BUILD_DIR (build-gpu).
# CPU dry run (tiny model, few frames; what was run before handing this over):
#   VIDPROBE_BUILD_DIR=build VIDPROBE_ANNOTATE_DEVICE=cpu VIDPROBE_ANNOTATE_DTYPE=fp32 \
#   VIDPROBE_ANNOTATE_FRAMES=6 VIDPROBE_ANNOTATE_WINDOWS="4 6" VIDPROBE_ANNOTATE_WIDTH=96 \
#   VIDPROBE_ANNOTATE_HEIGHT=54 VIDPROBE_ANNOTATE_SIZE=56 VIDPROBE_ANNOTATE_CHUNK=4 \
#   VIDPROBE_ANNOTATE_MODEL_CONFIG=/tmp/vggt-small.json bash scripts/gpu-annotate-window.sh /tmp/out
#   (/tmp/vggt-small.json: the "small" object of tests/fixtures/backbones/vggt/meta.json)
# Expected run time on the H200 (16 cores): ~2-4 minutes (rendering 2 x 150 frames at 960x540
# on the CPU ~20-40 s, VGGT-1B random init on the CPU twice, two annotate runs); not measured yet.
# Writes OUT_DIR/annotate-window.jsonl (one JSON line per measurement) and
# OUT_DIR/annotate-window.log (everything).
#   run(command="bash scripts/gpu-annotate-window.sh $OUT", carry=[".gpu-deps.tar.xz"])
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
source "$ROOT/scripts/gpu-memory.sh"  # gpu_memory_start / gpu_memory_stop
OUT="${1:?usage: gpu-annotate-window.sh OUT_DIR}"
FRAMES="${VIDPROBE_ANNOTATE_FRAMES:-150}"
CLIPS="${VIDPROBE_ANNOTATE_CLIPS:-2}"
WINDOWS="${VIDPROBE_ANNOTATE_WINDOWS:-81 150}"
CHUNK="${VIDPROBE_ANNOTATE_CHUNK:-8}"
DEVICE="${VIDPROBE_ANNOTATE_DEVICE:-cuda}"
DTYPE="${VIDPROBE_ANNOTATE_DTYPE:-bf16}"
CONFIG="${VIDPROBE_ANNOTATE_MODEL_CONFIG:-}"
SIZE="${VIDPROBE_ANNOTATE_SIZE:-518}"
WIDTH="${VIDPROBE_ANNOTATE_WIDTH:-960}"
HEIGHT="${VIDPROBE_ANNOTATE_HEIGHT:-540}"
WORK="${VIDPROBE_WORK_DIR:-/tmp/vidprobe-annotate-window}"
mkdir -p "$OUT" "$WORK"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/annotate-window.jsonl"
RAW="$OUT/annotate-window.log"
: > "$LOG"
: > "$RAW"
vidprobe() { "$BUILD_DIR/bin/vidprobe" "$@"; }
step() { printf '\n== %s\n' "$*" | tee -a "$RAW" >&2; }
now() { date +%s.%N; }
emit() { python3 -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])))' "$1" | tee -a "$LOG" "$RAW"; }
[ -x "$BUILD_DIR/bin/vidprobe" ] || { echo "gpu-annotate-window.sh: $BUILD_DIR/bin/vidprobe is missing: run scripts/gpu-build.sh first" >&2; exit 2; }

[ "$DEVICE" != cpu ] || export GPU_MEMORY_OFF=1

step "render $CLIPS clips of $FRAMES frames at ${WIDTH}x${HEIGHT}"
DATA="$WORK/data-${FRAMES}f-${WIDTH}x${HEIGHT}"
T0="$(now)"
vidprobe render --family scenes --clips "$CLIPS" --frames "$FRAMES" --width "$WIDTH" --height "$HEIGHT" \
  --seed 0 --no-shadows --out "$DATA" >> "$RAW" 2>&1
emit "{\"what\": \"render\", \"clips\": $CLIPS, \"frames\": $FRAMES, \"size\": [$WIDTH, $HEIGHT], \"wall_s\": $(python3 -c "print(round($(now) - $T0, 3))")}"

MODEL_ARGS=(--random-init)
[ -n "$CONFIG" ] && MODEL_ARGS+=(--model-config "$CONFIG")
for N in $WINDOWS; do
  step "annotate: window of $N frames, $DTYPE, chunk $CHUNK, on $DEVICE"
  DEST="$WORK/annotated-$N"
  rm -rf "$DEST"
  gpu_memory_start "$WORK/poll-$N.txt"
  T0="$(now)"
  set +e
  vidprobe annotate --data "$DATA" "${MODEL_ARGS[@]}" --backbone-size "$SIZE" --window "$N" \
    --format vidfm3d --conf-percentile 0 --compute-dtype "$DTYPE" --frame-chunk "$CHUNK" \
    --device "$DEVICE" --out "$DEST" > "$WORK/annotate-$N.log" 2>&1
  RC=$?
  set -e
  WALL="$(python3 -c "print(round($(now) - $T0, 3))")"
  gpu_memory_stop "$WORK/poll-$N.txt" MEM
  cat "$WORK/annotate-$N.log" >> "$RAW"
  SUMMARY="$(grep -E 'clips written' "$WORK/annotate-$N.log" | tail -1 || true)"
  emit "{\"what\": \"annotate\", \"window\": $N, \"clips\": $CLIPS, \"dtype\": \"$DTYPE\", \"frame_chunk\": $CHUNK, \"device\": \"$DEVICE\", \"rc\": $RC, \"wall_s\": $WALL, \"gpu_mem\": $MEM, \"summary\": $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$SUMMARY")}"
  if [ "$RC" != 0 ]; then tail -20 "$WORK/annotate-$N.log" >&2; continue; fi
  # Per-clip forward times and a check of every written file (header, shapes, finite confidences).
  python3 "$ROOT/tools/annotated_scenes.py" check "$DEST" --window "$N" | tee -a "$LOG" "$RAW"
done
step "done: $LOG"
