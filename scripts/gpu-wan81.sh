#!/usr/bin/env bash
# Run on the GPU machine after scripts/gpu-build.sh: WAN2.1-T2V-1.3B extraction of one 81-frame
# 480x832 clip with `vidprobe extract --preset vidfm3d` (block 20, UniPC index 749, float32, the
# empty prompt padded to 226 rows, noise per clip), next to the authors' own extraction code
# (zxhuang1698/VidFM3D features/wan, imported from CHECKOUT by bench/vidfm3d_wan_extract_reference.py)
# on the same GPU, the same random real-size weights, the same clip, the same text context and,
# for one extra call on their side, the same noise; then the features of both are compared.
#   1. render CLIPS (default 4) clips of 81 frames at 832x480 (scenes family); clip 0 is the one
#      both sides extract, the others give vidprobe's per-clip time in steady state;
#   2. a random WAN2.1-T2V-1.3B at real size (fp32), saved in the diffusers layout with the
#      scheduler config, model_index.json and a (1, 4096) empty-prompt context (reused if there);
#   3. the authors' extraction timed (see the Python file's docstring: precisions "highest" = as
#      their run_dl3dv.py/run_co3d.py ran it, "high" = TF32, as extract_features.py run as a
#      script), plus their float32 block-20 features with vidprobe's noise;
#   4. vidprobe extract --preset vidfm3d on clip 0 alone (whole command timed; its fp32 cache is
#      compared with theirs) and on all CLIPS clips (per clip = (T_N - T_1) / (N - 1));
#   5. feature parity (max abs / relative differences, timestep and sigma of both sides).
# GPU memory of every process: nvidia-smi memory.used polled every 100 ms (CUDA context and
# allocator cache included, the same for both sides), minus the reading before it started, in GB
# of 10^9 bytes (scripts/gpu-memory.sh); the Python side also reports torch's allocator peak.
# Usage: bash scripts/gpu-wan81.sh OUT_DIR [CHECKOUT]   (CHECKOUT default: .ref/VidFM3D, which must
#        hold features/wan/ and features/run_dl3dv.py of the authors' repository)
# Knobs: VIDPROBE_WAN81_CLIPS (4), VIDPROBE_WAN81_ITERS (3), VIDPROBE_WAN81_PRECISIONS
#        (highest,high), VIDPROBE_WAN81_EXTRA=1 (also `vidprobe bench backbone` fp32 and
#        vidprobe_bench WanExtract bf16 at 81 frames), VIDPROBE_WAN81_STRICT=1 (NVIDIA_TF32_OVERRIDE=0
#        for every process: no TF32 anywhere, cuDNN included; parity only, precisions = highest),
#        VIDPROBE_WORK_DIR (/tmp/vidprobe-wan81).
# Writes OUT_DIR/wan81.jsonl (one JSON line per measurement) and OUT_DIR/wan81.log (everything).
# diffusers is not in the GPU image: carry the wheel in .whl/ (this script installs it):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 -d .whl diffusers==0.42.1
#   run(command="bash scripts/gpu-wan81.sh $OUT", carry=[".gpu-deps.tar.xz", ".ref", ".whl"])
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
source "$ROOT/scripts/gpu-memory.sh"  # gpu_memory_start / gpu_memory_stop
OUT="${1:?usage: gpu-wan81.sh OUT_DIR [CHECKOUT]}"
CHECKOUT="$(cd "${2:-$ROOT/.ref/VidFM3D}" && pwd)"
WORK="${VIDPROBE_WORK_DIR:-/tmp/vidprobe-wan81}"
CLIPS="${VIDPROBE_WAN81_CLIPS:-4}"
ITERS="${VIDPROBE_WAN81_ITERS:-3}"
PRECISIONS="${VIDPROBE_WAN81_PRECISIONS:-highest,high}"
if [ "${VIDPROBE_WAN81_STRICT:-0}" = 1 ]; then
  export NVIDIA_TF32_OVERRIDE=0
  PRECISIONS=highest
fi
export PYTHONUNBUFFERED=1
REF="$ROOT/bench/vidfm3d_wan_extract_reference.py"
MODEL="$WORK/Wan2.1-T2V-1.3B-Diffusers-random"  # "T2V" in the name: their extract_features.py L173
CLIP_ID=scenes_00000
# vidprobe names a sampled clip <sequence>@<first>..<last>: the id its shard and its noise seed use.
SHARD_ID="$CLIP_ID@0..80"
mkdir -p "$OUT" "$WORK"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/wan81.jsonl"
RAW="$OUT/wan81.log"
: > "$LOG"
: > "$RAW"
vidprobe() { "$BUILD_DIR/bin/vidprobe" "$@"; }
# Everything goes to the raw log (errors included); the JSON lines also to $LOG and the terminal.
json_lines() { tee -a "$RAW" | { grep -E '^\{' || true; } | tee -a "$LOG"; }
step() { printf '\n== %s\n' "$*" | tee -a "$RAW" >&2; }
now() { date +%s.%N; }
emit() { python3 -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])))' "$1" | tee -a "$LOG" "$RAW"; }

[ -x "$BUILD_DIR/bin/vidprobe" ] || { echo "gpu-wan81.sh: $BUILD_DIR/bin/vidprobe is missing: run scripts/gpu-build.sh first" >&2; exit 2; }
for f in features/wan/extract_features.py features/wan/wan_feature.py features/run_dl3dv.py; do
  [ -f "$CHECKOUT/$f" ] || { echo "gpu-wan81.sh: $CHECKOUT/$f is missing (git archive HEAD features/wan features/run_dl3dv.py of zxhuang1698/VidFM3D into it)" >&2; exit 2; }
done
if ! python3 -c 'import diffusers' 2>/dev/null; then
  shopt -s nullglob
  wheels=("$ROOT"/.whl/*.whl)
  shopt -u nullglob
  [ ${#wheels[@]} -gt 0 ] || { echo "gpu-wan81.sh: diffusers is not installed and .whl/ holds no wheel (see this script's header)" >&2; exit 2; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "${wheels[@]}"
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
python3 -c 'import diffusers, transformers, torch; print("diffusers", diffusers.__version__, "transformers", transformers.__version__, "torch", torch.__version__)' | tee -a "$RAW" >&2

step "render $CLIPS clips x 81 frames at 832x480"
t0=$(now)
rm -rf "$WORK/data" "$WORK/data1"
vidprobe -q render --family scenes --clips "$CLIPS" --frames 81 --width 832 --height 480 --seed 11 \
  --out "$WORK/data" 2>&1 | tee -a "$RAW"
mkdir -p "$WORK/data1"
ln -s "$WORK/data/$CLIP_ID" "$WORK/data1/$CLIP_ID"
emit "{\"benchmark\": \"wan81_render\", \"clips\": $CLIPS, \"frames\": 81, \"seconds\": $(python3 -c "print($(now) - $t0)")}"

step "random WAN2.1-T2V-1.3B at real size (fp32, diffusers layout)"
python3 "$REF" make --model-dir "$MODEL" 2>&1 | json_lines
SPEC="$(grep '"wan81_make_random_weights"' "$LOG" | tail -1 | python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["vidprobe_timestep_spec"])')"
CONTEXT="$MODEL/empty_prompt_context.safetensors"
echo "vidprobe --timestep $SPEC" | tee -a "$RAW" >&2

step "the authors' extraction (features/wan), precisions $PRECISIONS, $ITERS timed calls each"
gpu_memory_start "$WORK/poll-authors.txt"
t0=$(now)
python3 "$REF" bench --checkout "$CHECKOUT" --model-dir "$MODEL" --clip "$WORK/data/$CLIP_ID" \
  --work "$WORK/authors" --iters "$ITERS" --precisions "$PRECISIONS" --noise-seed 0 \
  --clip-id "$SHARD_ID" 2>&1 | json_lines ||
  echo "gpu-wan81.sh: the authors' run failed (wan81.log has the traceback); going on" >&2
t1=$(now)
gpu_memory_stop "$WORK/poll-authors.txt" MEM
emit "{\"benchmark\": \"wan81_authors_process\", \"wall_s\": $(python3 -c "print($t1 - $t0)"), \"gpu_mem\": $MEM}"

run_vidprobe() {  # $1 = data root, $2 = cache dir, $3 = tag
  rm -rf "$2"  # a cache resumes: an existing shard would be skipped, not timed
  gpu_memory_start "$WORK/poll-$3.txt"
  local start end summary ok=true clips
  clips="$(find -L "$1" -mindepth 2 -maxdepth 2 -name clip.json | wc -l)"
  start=$(now)
  vidprobe extract --preset vidfm3d --backbone wan2.1-t2v-1.3b --weights "$MODEL" --device cuda \
    --frames 81 --timestep "$SPEC" --backbone-opt "text_context=$CONTEXT" --dtype fp32 \
    --data "$1" --out "$2" 2>&1 | tee "$WORK/$3.log" | tee -a "$RAW" >&2 || ok=false
  end=$(now)
  gpu_memory_stop "$WORK/poll-$3.txt" MEM
  summary="$(grep -Eo 'extract: [0-9]+ clips written, [0-9]+ already done, [0-9.e+-]+ s' "$WORK/$3.log" | tail -1 | awk '{print $(NF-1)}' || true)"
  WALL="$(python3 -c "print($end - $start)")"
  emit "{\"benchmark\": \"wan81_vidprobe_extract\", \"tag\": \"$3\", \"ok\": $ok, \"clips\": $clips, \"wall_s\": $WALL, \"extract_summary_s\": ${summary:-null}, \"preset\": \"vidfm3d\", \"compute_dtype\": \"fp32\", \"cache_dtype\": \"fp32\", \"timestep\": \"$SPEC\", \"text_context\": \"$CONTEXT\", \"gpu_mem\": $MEM}"
  $ok
}

step "vidprobe extract --preset vidfm3d, clip 0 alone (parity features)"
OK1=true
run_vidprobe "$WORK/data1" "$WORK/vp1" vidprobe_1clip || OK1=false
WALL1="$WALL"
if [ "$CLIPS" -gt 1 ] && $OK1; then
  step "vidprobe extract --preset vidfm3d, $CLIPS clips (per-clip time in steady state)"
  run_vidprobe "$WORK/data" "$WORK/vpN" "vidprobe_${CLIPS}clips" &&
  emit "{\"benchmark\": \"wan81_vidprobe_per_clip\", \"seconds_per_clip\": $(python3 -c "print(($WALL - $WALL1) / ($CLIPS - 1))"), \"how\": \"(wall of $CLIPS clips - wall of 1 clip) / $((CLIPS - 1)), one process each, same weights\"}"
fi

step "feature parity: vidprobe's fp32 cache against their float32 features"
python3 "$REF" compare --vidprobe-cache "$WORK/vp1" --work "$WORK/authors" --clip-id "$SHARD_ID" 2>&1 | json_lines ||
  echo "gpu-wan81.sh: no comparison (see wan81.log)" >&2

if [ "${VIDPROBE_WAN81_EXTRA:-0}" = 1 ]; then
  step "vidprobe bench backbone: fp32, 81 frames, block 20, random weights (steady state, no I/O)"
  vidprobe bench backbone --backbone wan2.1-t2v-1.3b --device cuda --dtype fp32 --frames 81 \
    --layer 20 --iterations "$ITERS" 2>&1 | json_lines || true
  step "vidprobe_bench WanExtract 1.3B: bf16 DiT, 81 frames, block 20 (allocator peak)"
  VIDPROBE_WAN_BENCH_FRAMES=81 VIDPROBE_WAN_BENCH_LAYER=20 VIDPROBE_WAN_BENCH_ITERS="$ITERS" \
    "$BUILD_DIR/bin/vidprobe_bench" --benchmark_filter='BM_WanExtract/0/' 2>&1 | json_lines || true
fi
echo "figures in $LOG" >&2
