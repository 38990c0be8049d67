#!/usr/bin/env bash
# Run on the GPU machine after scripts/gpu-build.sh: CogVideoX (5B-I2V, 5B, 2B) and AetherV1 at
# the published size, random weights, block 20 at timestep 250 (index 749 of 1000 trailing steps,
# the authors' point). Per variant, in order:
#   1. bench/cogvideox_reference.py make --variant V: the random model built by the reference's
#      own constructor (diffusers; Aether: the official pipeline of OpenRobotLab/Aether from
#      .ref/Aether) in the diffusers layout, and the reference's float32 view of one clip (TF32
#      off): latents, transformer input, block-20 video states (Aether: also the geometry
#      latents of its 4-step reconstruction);
#   2. parity: tests/backbones/cogvideox/real_size_test.cpp against them (fp32 and bf16);
#   3. speed: `vidprobe bench backbone` (bf16 transformer, fp32 VAE) next to the reference on the
#      same GPU and clip (bench/cogvideox_reference.py bench: VAE fp32 and bf16, block 20 or all
#      blocks), then the ratios.
#   5b-i2v  49 frames at 480 x 720, I2V image latents from the posterior mean
#   5b      49 frames at 480 x 720 (text-to-video)
#   2b      49 frames at 480 x 720 (text-to-video, sin-cos positions)
#   aether  41 frames at 480 x 720, the authors' videogen protocol (4-step DPM reconstruction,
#           then the feature pass with the fps-8 RoPE; all draws from one seeded generator)
# Usage: bash scripts/gpu-cogvideox.sh OUT_DIR. Writes OUT_DIR/cogvideox.jsonl (JSON lines:
# cogvideox_make_random_weights, cogvideox_real_size_parity, vidprobe's bench lines,
# cogvideox_extract_reference, cogvideox_speed_ratio), OUT_DIR/cogvideox-<variant>.jsonl (the
# same, per variant) and OUT_DIR/cogvideox.log (everything).
# diffusers is not in the GPU image: carry its wheel in .whl/ (see scripts/gpu-wan81.sh's header
# for the pip download line). aether needs .ref/Aether (bash scripts/gpu-official-ref.sh, on the
# machine with the mirrors; carry .ref).
# Knobs (environment):
#   VIDPROBE_COGVIDEOX_VARIANTS  subset, in order (default "5b-i2v"; all: "5b-i2v 5b 2b aether")
#   VIDPROBE_COGVIDEOX_ITERS     timed clips per measurement after one warm-up (default 3)
#   VIDPROBE_WORK_DIR            (/tmp/vidprobe-cogvideox; random models are reused when there)
#   VIDPROBE_PARITY_TESTS        the test binary (default $BUILD_DIR/bin/vidprobe_backbones_tests)
#   VIDPROBE_COGVIDEOX_PYTHON    the reference's Python (default python3)
#   VIDPROBE_COGVIDEOX_TINY=1    CPU dry run at tiny sizes (with VIDPROBE_BUILD_DIR=build): checks
#                                the plumbing only, no figure means anything
#   VIDPROBE_COGVIDEOX_TILED=1   also the VAE's tiled encode at the published size against
#                                diffusers' (bench/cogvideox_reference.py tiled; the test
#                                CogVideoXVaeCuda.TiledEncodeAtRealSizeMatchesDiffusers)
#   VIDPROBE_COGVIDEOX_CONFIGS   instead of step 3's default pairing, one speed pair per entry
#                                "VAE_DTYPE:TILING" (e.g. "fp32:off fp32:on bf16:on"): vidprobe
#                                with --backbone-opt vae_dtype=VAE_DTYPE (fp32: left out) and
#                                vae_tiling=TILING, the reference with the same VAE dtype and
#                                tiling (--vae-dtypes, --vae-tiling), both stopping after block 20;
#                                every line of the pair carries vae_dtype and vae_tiling
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
OUT="${1:?usage: gpu-cogvideox.sh OUT_DIR}"
TINY="${VIDPROBE_COGVIDEOX_TINY:-0}"
if [ "$TINY" = 1 ]; then
  WORK="${VIDPROBE_WORK_DIR:-/tmp/vidprobe-cogvideox-tiny}"
else
  WORK="${VIDPROBE_WORK_DIR:-/tmp/vidprobe-cogvideox}"
fi
ITERS="${VIDPROBE_COGVIDEOX_ITERS:-3}"
VARIANTS="${VIDPROBE_COGVIDEOX_VARIANTS:-5b-i2v}"
TESTS="${VIDPROBE_PARITY_TESTS:-$BUILD_DIR/bin/vidprobe_backbones_tests}"
PYTHON="${VIDPROBE_COGVIDEOX_PYTHON:-python3}"
mkdir -p "$OUT" "$WORK"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/cogvideox.jsonl"
RAW="$OUT/cogvideox.log"
: > "$LOG"
: > "$RAW"
VARIANT_LOG=/dev/null
export PYTHONUNBUFFERED=1
json_lines() { tee -a "$RAW" | { grep -E '^\{' || true; } | tee -a "$LOG" "$VARIANT_LOG"; }
step() { printf '\n== %s\n' "$*" | tee -a "$RAW" >&2; }

if [ "$TINY" = 1 ]; then
  DEVICE=cpu
  REF_ARGS=(--device cpu --tiny)
  VIDPROBE_ARGS=(--backbone-opt size=32x48)
  export VIDPROBE_OFFICIAL_PARITY_CPU=1  # the parity test runs on the CPU (real_size_support.h)
else
  DEVICE=cuda
  REF_ARGS=(--device cuda)
  VIDPROBE_ARGS=()
fi
[ -x "$BUILD_DIR/bin/vidprobe" ] || { echo "gpu-cogvideox.sh: run scripts/gpu-build.sh first" >&2; exit 2; }
for config in ${VIDPROBE_COGVIDEOX_CONFIGS:-}; do
  [[ "$config" =~ ^(fp32|bf16|fp16):(on|off)$ ]] ||
    { echo "gpu-cogvideox.sh: VIDPROBE_COGVIDEOX_CONFIGS entry '$config' is not VAE_DTYPE:TILING (fp32|bf16|fp16 : on|off)" >&2; exit 2; }
  [ "${config%%:*}" != fp16 ] ||
    { echo "gpu-cogvideox.sh: '$config': the reference times a VAE in fp32 or in the transformer's bf16 only" >&2; exit 2; }
done
for variant in $VARIANTS; do
  case "$variant" in
    5b-i2v|5b|2b) ;;
    aether) [ -f "$ROOT/.ref/Aether/aether/pipelines/aetherv1_pipeline_cogvideox.py" ] ||
      { echo "gpu-cogvideox.sh: .ref/Aether is missing: run scripts/gpu-official-ref.sh where the mirrors are" >&2; exit 2; } ;;
    *) echo "gpu-cogvideox.sh: unknown variant '$variant' (5b-i2v 5b 2b aether)" >&2; exit 2 ;;
  esac
done
if ! "$PYTHON" -c 'import diffusers' 2>/dev/null; then
  shopt -s nullglob
  wheels=("$ROOT"/.whl/*.whl)
  shopt -u nullglob
  [ ${#wheels[@]} -gt 0 ] || { echo "gpu-cogvideox.sh: diffusers is missing and .whl/ holds no wheel" >&2; exit 2; }
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "${wheels[@]}"
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi

reference() { "$PYTHON" "$ROOT/bench/cogvideox_reference.py" "$@" "${REF_ARGS[@]}"; }

# variant: steps 1 to 3 and the ratios.
run_variant() {
  local variant="$1" backbone frames model variable param
  case "$variant" in
    5b-i2v) backbone=cogvideox-5b-i2v frames=49 model=CogVideoX-5b-I2V-random
            variable=VIDPROBE_COGVIDEOX_PARITY_DIR param=cogvideox_5b_i2v ;;
    5b)     backbone=cogvideox-5b frames=49 model=CogVideoX-5b-random
            variable=VIDPROBE_COGVIDEOX_5B_PARITY_DIR param=cogvideox_5b ;;
    2b)     backbone=cogvideox-2b frames=49 model=CogVideoX-2b-random
            variable=VIDPROBE_COGVIDEOX_2B_PARITY_DIR param=cogvideox_2b ;;
    aether) backbone=aether frames=41 model=AetherV1-random
            variable=VIDPROBE_AETHER_PARITY_DIR param=aether ;;
  esac
  if [ "$TINY" = 1 ]; then
    frames=9
    [ "$variant" = aether ] && frames=17
    # The registered sizes refuse a tiny directory; the config-sized entry reads any size.
    [ "$variant" = aether ] || backbone=cogvideox
  fi
  local dir="$WORK/$model"
  VARIANT_LOG="$OUT/cogvideox-$variant.jsonl"
  : > "$VARIANT_LOG"

  step "$variant: random model at the published size + the reference's float32 features"
  [ -f "$dir/parity.safetensors" ] ||
    reference make "$dir" --variant "$variant" 2>&1 | json_lines

  step "$variant: parity, vidprobe against the reference (fp32, bf16)"
  env "$variable=$dir" "$TESTS" --gtest_filter="*CogVideoXBackboneCuda.*/$param" 2>&1 |
    json_lines || echo "gpu-cogvideox.sh: $variant parity failed" >&2

  if [ "${VIDPROBE_COGVIDEOX_TILED:-0}" = 1 ]; then
    step "$variant: the VAE's tiled encode at this size, vidprobe against diffusers"
    rm -f "$dir/tiled.safetensors"
    reference tiled "$dir" --variant "$variant" 2>&1 | json_lines ||
      echo "gpu-cogvideox.sh: $variant tiled reference failed" >&2
    if [ -f "$dir/tiled.safetensors" ]; then
      env VIDPROBE_COGVIDEOX_TILED_DIR="$dir" "$TESTS" \
        --gtest_filter='CogVideoXVaeCuda.TiledEncodeAtRealSizeMatchesDiffusers' 2>&1 | json_lines ||
        echo "gpu-cogvideox.sh: $variant tiled parity failed" >&2
    fi
  fi
  if [ -n "${VIDPROBE_COGVIDEOX_CONFIGS:-}" ]; then
    local config
    for config in $VIDPROBE_COGVIDEOX_CONFIGS; do
      speed_pair "$variant" "$backbone" "$dir" "$frames" "${config%%:*}" "${config##*:}"
    done
    VARIANT_LOG=/dev/null
    return
  fi

  step "$variant: speed, vidprobe (bf16 transformer, fp32 VAE), $ITERS clips of $frames frames"
  "$BUILD_DIR/bin/vidprobe" bench backbone --backbone "$backbone" --weights "$dir" \
    --device "$DEVICE" --dtype bf16 --frames "$frames" --iterations "$ITERS" \
    --backbone-opt "text_context=$dir/context.safetensors" ${VIDPROBE_ARGS[@]+"${VIDPROBE_ARGS[@]}"} 2>&1 |
    json_lines || true

  step "$variant: speed, the reference, same device, same clip size"
  reference bench "$dir" --variant "$variant" --iterations "$ITERS" 2>&1 | json_lines || true

  speed_ratios "$VARIANT_LOG" "$variant" "{}"
  VARIANT_LOG=/dev/null
}

# speed_ratios FILE VARIANT LABEL: one cogvideox_speed_ratio line per (vidprobe line, reference
# line) of FILE, with LABEL's fields (a JSON object: the configuration, or {}) added.
speed_ratios() {
  "$PYTHON" - "$@" <<'PY' | json_lines
import json, sys
path, variant, label = sys.argv[1:]
rows = [json.loads(line) for line in open(path) if line.startswith("{")]
ours = [r for r in rows if "clips_per_s" in r and r.get("benchmark") is None]
refs = [r for r in rows if r.get("benchmark") == "cogvideox_extract_reference"]
for mine in ours:
    for ref in refs:
        print(json.dumps({"benchmark": "cogvideox_speed_ratio", "variant": variant,
                          "backbone": ref["backbone"], "frames": mine["frames"], **json.loads(label),
                          "vidprobe_clips_per_s": mine["clips_per_s"],
                          "vidprobe_blocks_run": mine["layer"] + 1,
                          "reference_clips_per_s": ref["clips_per_s"],
                          "reference_implementation": ref["implementation"],
                          "reference_vae_dtype": ref["vae_dtype"],
                          "reference_vae_tiling": ref.get("vae_tiling", False),
                          "reference_blocks_run": ref["blocks_run"],
                          "vidprobe_peak_gb": mine.get("peak_allocated_gb"),
                          "reference_peak_gb": ref.get("peak_allocated_gb"),
                          "ratio": mine["clips_per_s"] / ref["clips_per_s"]}))
PY
}

# One configuration's speed pair: vidprobe and the reference with the same VAE dtype and tiling,
# block 20, then their ratio. Lines are labelled with the configuration.
speed_pair() {
  local variant="$1" backbone="$2" dir="$3" frames="$4" vae_dtype="$5" tiling="$6"
  local label="{\"vae_dtype\": \"$vae_dtype\", \"vae_tiling\": \"$tiling\"}"
  local options=(--backbone-opt "vae_tiling=$tiling") ref_options=(--vae-dtypes "$vae_dtype" --blocks stop)
  [ "$vae_dtype" = fp32 ] || options+=(--backbone-opt "vae_dtype=$vae_dtype")
  [ "$tiling" = on ] && ref_options+=(--vae-tiling)
  local pair="$OUT/cogvideox-$variant-$vae_dtype-$tiling.jsonl"
  step "$variant: speed pair, VAE $vae_dtype, tiling $tiling, $ITERS clips of $frames frames"
  "$BUILD_DIR/bin/vidprobe" bench backbone --backbone "$backbone" --weights "$dir" \
    --device "$DEVICE" --dtype bf16 --frames "$frames" --iterations "$ITERS" \
    --backbone-opt "text_context=$dir/context.safetensors" "${options[@]}" \
    ${VIDPROBE_ARGS[@]+"${VIDPROBE_ARGS[@]}"} 2>&1 | tee -a "$RAW" | { grep -E '^\{' || true; } |
    "$PYTHON" -c 'import json,sys; [print(json.dumps({**json.loads(l), **json.loads(sys.argv[1])})) for l in sys.stdin]' "$label" |
    tee "$pair" | tee -a "$LOG" "$VARIANT_LOG" || true  # already in $RAW, unlabelled
  reference bench "$dir" --variant "$variant" --iterations "$ITERS" "${ref_options[@]}" 2>&1 |
    json_lines | tee -a "$pair" || true
  speed_ratios "$pair" "$variant" "$label"
}

for variant in $VARIANTS; do
  run_variant "$variant"
done
echo "figures in $LOG" >&2
