#!/usr/bin/env bash
# Run on the GPU machine after scripts/gpu-build.sh: V-JEPA (v1) ViT-L/16, Fast3R ViT-L, Open-Sora
# 2.0 and VGGT-1B at the published sizes against their OFFICIAL code (the CogVideoX counterpart is
# scripts/gpu-cogvideox.sh). Per family, in order:
#   1. bench/official_reference.py make: a random model built by the official constructor,
#      saved in the published checkpoint format and key names, and the official float32
#      features of one clip at the paper's layer (TF32 off);
#   2. parity: tests/backbones/<family>/real_size_test.cpp against them (fp32 and bf16);
#   3. speed: `vidprobe bench backbone` and bench/official_reference.py bench on the same GPU at
#      the paper's clip size, then the ratios.
#   vjepa1    vitl16.pth.tar; parity 16 frames at 480 x 832; speed 76 frames at 480 x 832 as 5
#             spaced clips of 16 (the paper's window), fp32 (VidFM3D's) and bf16
#   fast3r    hub layout (model.safetensors with the heads, config.json); parity and speed 81
#             frames at 288 x 512, map 24; speed in bf16 (vidprobe: bf16 weights; official: fp32
#             weights under bf16 autocast, the authors' setting)
#   opensora  19 double + 21 single blocks at the real width (single_blocks[20] is the feature;
#             the 17 blocks after it are left out: ~15.6 GB of bf16 weights instead of 22 GB),
#             Hunyuan VAE at its published size; parity: VAE moments of a 33-frame 480 x 848
#             clip + the MMDiT block on the official transformer input; speed: 129 frames at
#             480 x 848, everything bf16 (the authors')
#   vggt      VGGT-1B as the authors' pseudo-GT step runs it (VidFM3D's vidfm3d/vggt, from
#             .ref/VidFM3D): model.safetensors under the released key names; parity: 8 frames at
#             294 x 518 through `vidprobe annotate`'s path (float32, then the bf16 aggregator);
#             speed: the CO3D window, 81 frames at 294 x 518 (their crop of 960 x 540), from
#             host memory to host memory. vidprobe's side is `vidprobe annotate --format vidfm3d
#             --window 81 --prefetch VIDPROBE_VGGT_PREFETCH (1)` over VIDPROBE_VGGT_CLIPS (6,
#             at least 2) rendered 960 x 540 clips, bf16 weights in the aggregator and float32
#             heads: the median of the clips' `vggt_seconds` (.sft metadata) after the first,
#             which pays the warm-up; the official side both as the authors call it (point head
#             computed and dropped) and without the point head (vidprobe's outputs), bf16
#             autocast over float32 weights (their precision, not vidprobe's)
# Usage: bash scripts/gpu-official.sh OUT_DIR. Writes OUT_DIR/official.jsonl (JSON lines:
# official_reference_make, official_real_size_parity, vidprobe's bench lines, official_reference,
# official_speed_ratio) and OUT_DIR/official.log (everything).
# Needs .ref/ (bash scripts/gpu-official-ref.sh, on the machine with the mirrors) and, for
# opensora, the diffusers wheel in .whl/ (as scripts/gpu-cogvideox.sh).
# Knobs (environment):
#   VIDPROBE_OFFICIAL_FAMILIES   subset, in order (default "vjepa1 fast3r opensora vggt")
#   VIDPROBE_{VJEPA1,FAST3R,OPENSORA,VGGT}_ITERS   timed clips per variant after one warm-up
#                                (2, 2, 1, 2); vidprobe's VGGT side times VIDPROBE_VGGT_CLIPS - 1
#   VIDPROBE_VGGT_CLIPS (6), VIDPROBE_VGGT_PREFETCH (1)   vidprobe annotate's clips and --prefetch
#   VIDPROBE_VJEPA1_DTYPES (fp32,bf16), VIDPROBE_FAST3R_DTYPES (bf16), VIDPROBE_OPENSORA_DTYPES
#   (bf16)
#   VIDPROBE_OPENSORA_SINGLE_BLOCKS (21, at most 38), VIDPROBE_OPENSORA_PARITY_FRAMES (33, 4k+1)
#   VIDPROBE_OFFICIAL_PROFILE=1  also one more clip of each side under its kernel profiler:
#                                OUT_DIR/profiles/{vidprobe,official}/<family>-<dtype>/kernels.json
#                                and trace.json (tools/compare_kernel_profiles.py reads them)
#   VIDPROBE_WORK_DIR (/tmp/vidprobe-official; random models are reused when already there)
#   VIDPROBE_PARITY_TESTS        the test binary (default $BUILD_DIR/bin/vidprobe_backbones_tests)
#   (on a GPU, always) OUT_DIR/clocks.jsonl: per step, the SM clock and board power
#   (scripts/gpu-clocks.sh: at the power limit, a pipeline with fewer idle or memory-bound moments
#   runs its kernels at a lower clock)
#   VIDPROBE_OFFICIAL_TINY=1     CPU dry run at tiny sizes (with VIDPROBE_BUILD_DIR=build): checks
#                                the plumbing only, no figure means anything
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
source "$ROOT/scripts/gpu-clocks.sh"
source "$ROOT/scripts/gpu-memory.sh"  # vggt: `vidprobe annotate`'s GPU memory (nvidia-smi)
TESTS="${VIDPROBE_PARITY_TESTS:-$BUILD_DIR/bin/vidprobe_backbones_tests}"
OUT="${1:?usage: gpu-official.sh OUT_DIR}"
WORK="${VIDPROBE_WORK_DIR:-/tmp/vidprobe-official}"
FAMILIES="${VIDPROBE_OFFICIAL_FAMILIES:-vjepa1 fast3r opensora vggt}"
TINY="${VIDPROBE_OFFICIAL_TINY:-0}"
PYTHON="${VIDPROBE_OFFICIAL_PYTHON:-python3}"
mkdir -p "$OUT" "$WORK"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/official.jsonl"
RAW="$OUT/official.log"
: > "$LOG"
: > "$RAW"
export PYTHONUNBUFFERED=1
json_lines() { tee -a "$RAW" | { grep -E '^\{' || true; } | tee -a "$LOG"; }
step() {
  printf '\n== %s\n' "$*" | tee -a "$RAW" >&2
  clocks_mark "$*"
}

if [ "$TINY" = 1 ]; then
  DEVICE=cpu
  REF_ARGS=(--device cpu --tiny)
  export VIDPROBE_OFFICIAL_PARITY_CPU=1 GPU_MEMORY_OFF=1
else
  DEVICE=cuda
  REF_ARGS=(--device cuda)
fi
[ -x "$BUILD_DIR/bin/vidprobe" ] || { echo "gpu-official.sh: run scripts/gpu-build.sh first" >&2; exit 2; }
[ -d "$ROOT/.ref" ] || { echo "gpu-official.sh: .ref/ is missing: run scripts/gpu-official-ref.sh where the mirrors are" >&2; exit 2; }
if [[ " $FAMILIES " == *" opensora "* ]] && ! "$PYTHON" -c 'import diffusers' 2>/dev/null; then
  shopt -s nullglob
  wheels=("$ROOT"/.whl/diffusers-*.whl)
  shopt -u nullglob
  [ ${#wheels[@]} -gt 0 ] || { echo "gpu-official.sh: diffusers is missing and .whl/ holds no diffusers wheel" >&2; exit 2; }
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "${wheels[@]}"
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi

PROFILE="${VIDPROBE_OFFICIAL_PROFILE:-0}"
REF_PROFILE=()  # official_reference.py bench's, when profiles are asked for
[ "$PROFILE" = 1 ] && REF_PROFILE=(--profile "$OUT/profiles/official")
[ "$TINY" = 1 ] || clocks_start "$OUT"
reference() { "$PYTHON" "$ROOT/bench/official_reference.py" "$@" "${REF_ARGS[@]}"; }
vidprobe_bench() { "$BUILD_DIR/bin/vidprobe" bench backbone --device "$DEVICE" "$@"; }
dtypes() { tr ',' ' ' <<< "$1"; }

# family TEST_FILTER PARITY_VARIABLE [make options...]: steps 1 and 2.
make_and_check() {
  local family="$1" filter="$2" variable="$3" dir="$WORK/$1"
  shift 3
  step "$family: random model at the published size + the official float32 features"
  [ -f "$dir/parity.safetensors" ] || reference make "$family" "$dir" "$@" 2>&1 | json_lines
  step "$family: parity, vidprobe against the official code (fp32, bf16)"
  env "$variable=$dir" "$TESTS" --gtest_filter="$filter" 2>&1 |
    json_lines || echo "gpu-official.sh: $family parity failed" >&2
}

# family TYPES WHAT BACKBONE_ARGS...: step 3, vidprobe's side, once per dtype in TYPES.
bench_each_dtype() {
  local family="$1" types="$2" what="$3"
  shift 3
  for dtype in $(dtypes "$types"); do
    step "$family: speed, vidprobe $dtype, $what"
    local profile=()
    [ "$PROFILE" = 1 ] && profile=(--profile "$OUT/profiles/vidprobe/$family-$dtype")
    vidprobe_bench "$@" --dtype "$dtype" "${profile[@]}" 2>&1 | json_lines || true
  done
}

run_vjepa1() {
  local dir="$WORK/vjepa1" iters="${VIDPROBE_VJEPA1_ITERS:-2}" types="${VIDPROBE_VJEPA1_DTYPES:-fp32,bf16}"
  local frames=76 size=480x832 clips=5
  [ "$TINY" = 1 ] && frames=7 size=32x48 clips=2
  make_and_check vjepa1 'VJEPA1Cuda.*' VIDPROBE_VJEPA1_PARITY_DIR
  bench_each_dtype vjepa1 "$types" "$frames frames at $size as $clips spaced clips" \
    --backbone vjepa1-vitl16 --weights "$dir/vitl16.pth.tar" --frames "$frames" \
    --iterations "$iters" --backbone-opt "size=$size" --backbone-opt "spaced_clips=$clips"
  step "vjepa1: speed, official code"
  reference bench vjepa1 "$dir" --iterations "$iters" --dtypes "$types" "${REF_PROFILE[@]}" 2>&1 |
    json_lines || true
}

run_fast3r() {
  local dir="$WORK/fast3r" iters="${VIDPROBE_FAST3R_ITERS:-2}" types="${VIDPROBE_FAST3R_DTYPES:-bf16}"
  local frames=81 size=288x512
  [ "$TINY" = 1 ] && frames=2 size=32x48
  make_and_check fast3r 'Fast3RCuda.*' VIDPROBE_FAST3R_PARITY_DIR
  bench_each_dtype fast3r "$types" "$frames frames at $size" --backbone fast3r-vitl16-512 \
    --weights "$dir/model.safetensors" --frames "$frames" --iterations "$iters" \
    --backbone-opt "size=$size"
  step "fast3r: speed, official code"
  reference bench fast3r "$dir" --iterations "$iters" --dtypes "$types" "${REF_PROFILE[@]}" 2>&1 |
    json_lines || true
}

run_opensora() {
  local dir="$WORK/opensora" iters="${VIDPROBE_OPENSORA_ITERS:-1}" types="${VIDPROBE_OPENSORA_DTYPES:-bf16}"
  local frames=129 size=480x848
  [ "$TINY" = 1 ] && frames=9 size=32x48
  make_and_check opensora 'OpenSoraCuda.*' VIDPROBE_OPENSORA_PARITY_DIR \
    --opensora-single "${VIDPROBE_OPENSORA_SINGLE_BLOCKS:-21}" \
    --opensora-parity-frames "${VIDPROBE_OPENSORA_PARITY_FRAMES:-33}"
  for dtype in $(dtypes "$types"); do  # the VAE in the model's dtype, as the authors run it
    bench_each_dtype opensora "$dtype" "VAE $dtype, $frames frames at $size" \
      --backbone opensora-v2 --weights "$dir" --frames "$frames" --iterations "$iters" \
      --backbone-opt "size=$size" --backbone-opt "vae_dtype=$dtype"
  done
  step "opensora: speed, official code"
  reference bench opensora "$dir" --iterations "$iters" --dtypes "$types" \
    --opensora-single "${VIDPROBE_OPENSORA_SINGLE_BLOCKS:-21}" "${REF_PROFILE[@]}" 2>&1 |
    json_lines || true
}

# vidprobe's side of the VGGT comparison: `vidprobe annotate` on rendered 960 x 540 clips, the
# window of the authors' CO3D pseudo-GT; one JSON line of the clips after the first. A failure is
# reported and the script goes on (the reference's side and the other families still run).
vggt_annotate() {
  local dir="$1" clips="$2" frames="$3" size="$4" width="$5" height="$6" prefetch="$7"
  local data="$WORK/vggt-clips-$clips-${frames}f-${width}x$height" dest="$WORK/vggt-annotated"
  if [ ! -d "$data" ]; then
    rm -rf "$data.tmp"
    "$BUILD_DIR/bin/vidprobe" render --family scenes --clips "$clips" --frames "$frames" \
      --width "$width" --height "$height" --seed 0 --no-shadows --out "$data.tmp" >> "$RAW" 2>&1 &&
      mv "$data.tmp" "$data" || { echo "gpu-official.sh: vggt clips: render failed" >&2; return 0; }
  fi
  rm -rf "$dest"
  local mem
  gpu_memory_start "$WORK/vggt-memory.txt"
  "$BUILD_DIR/bin/vidprobe" annotate --data "$data" --weights "$dir/model.safetensors" \
    --backbone-size "$size" --window "$frames" --format vidfm3d --conf-percentile 0 \
    --compute-dtype bf16 --frame-chunk 8 --prefetch "$prefetch" --device "$DEVICE" \
    --out "$dest" >> "$RAW" 2>&1 ||
    { gpu_memory_stop "$WORK/vggt-memory.txt" mem; echo "gpu-official.sh: vggt annotate failed" >&2; return 0; }
  gpu_memory_stop "$WORK/vggt-memory.txt" mem
  "$PYTHON" "$ROOT/tools/annotated_scenes.py" timing "$dest" --extra "$mem" \
    --extra "{\"backbone\": \"vggt-1b-annotate\", \"prefetch\": $prefetch,
              \"implementation\": \"vidprobe annotate --format vidfm3d\"}" |
    json_lines || echo "gpu-official.sh: vggt annotate: no timing" >&2
}

run_vggt() {
  local dir="$WORK/vggt" iters="${VIDPROBE_VGGT_ITERS:-2}" clips="${VIDPROBE_VGGT_CLIPS:-6}"
  local prefetch="${VIDPROBE_VGGT_PREFETCH:-1}" frames=81 size=518 width=960 height=540
  [ "$TINY" = 1 ] && clips=3 frames=3 size=56 width=96 height=72  # 42 x 56, the reference's
  make_and_check vggt 'VggtCuda.*' VIDPROBE_VGGT_PARITY_DIR
  step "vggt: speed, vidprobe annotate, $clips clips of $frames frames (${width}x$height -> crop at $size)"
  vggt_annotate "$dir" "$clips" "$frames" "$size" "$width" "$height" "$prefetch"
  step "vggt: speed, the authors' code"
  reference bench vggt "$dir" --iterations "$iters" --dtypes bf16 "${REF_PROFILE[@]}" 2>&1 |
    json_lines || true
}

for family in $FAMILIES; do
  case "$family" in
    vjepa1) run_vjepa1 ;;
    fast3r) run_fast3r ;;
    opensora) run_opensora ;;
    vggt) run_vggt ;;
    *) echo "gpu-official.sh: unknown family '$family' (vjepa1 fast3r opensora vggt)" >&2; exit 2 ;;
  esac
done

"$PYTHON" - "$LOG" <<'PY' | tee -a "$LOG"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
ours = [r for r in rows if "clips_per_s" in r and r.get("benchmark") is None]
refs = [r for r in rows if r.get("benchmark") == "official_reference"]
for mine in ours:
    for ref in refs:
        if ref["backbone"] == mine["backbone"] and ref["dtype"] == mine["dtype"]:
            print(json.dumps({"benchmark": "official_speed_ratio", "backbone": mine["backbone"],
                              "dtype": mine["dtype"], "frames": mine["frames"],
                              "official_variant": ref.get("variant"),
                              "vidprobe_clips_per_s": mine["clips_per_s"],
                              "official_clips_per_s": ref["clips_per_s"],
                              "vidprobe_peak_gb": mine.get("peak_allocated_gb"),
                              "official_peak_gb": ref.get("peak_allocated_gb"),
                              # vggt: `vidprobe annotate` reports nvidia-smi's peak (context and
                              # allocator reserve included), not the allocator's
                              "vidprobe_nvidia_smi_peak_gb": mine.get("gpu_mem_peak_gb"),
                              "ratio": mine["clips_per_s"] / ref["clips_per_s"]}))
PY
clocks_stop
echo "figures in $LOG" >&2
