#!/usr/bin/env bash
# Run on the GPU machine after scripts/gpu-build.sh: the speed figures of the performance goals,
# each C++ measurement next to its reference run on the same GPU with the same sizes. Writes one
# JSON line per measurement to $1/gpu-bench.jsonl (default: build-gpu/gpu-bench.jsonl), echoes
# it, and ends with tools/bench_table.py's table of those lines: every ratio and whether its goal
# is met (the README's generated tables come from such files).
# Sections, chosen by VIDPROBE_GPU_BENCH (words, in this order; default "backbones probe"; "all"
# = every one, which takes longer than one 10-minute device call: run them over several calls,
# each writing its own OUT, and name every file in the README's bench_table comment):
#   backbones   vidprobe_bench BackboneExtract vs bench/backbones_reference.py (transformers),
#               ViT-L at 16 frames: DINOv2 224, VideoMAE 224, V-JEPA 2 256
#   paper-size  the same for DINOv2 at the paper's 16 frames of 420 x 728
#   probe       vidprobe bench probe --reference: the vidfm3d preset's step at the paper's sizes
#               next to the authors' own modules (bench/vidfm3d_reference.py; their checkout in
#               VIDPROBE_VIDFM3D_CHECKOUT, default .ref/VidFM3D), with gradient checkpointing on
#               both sides (their config; fits an 80 GB GPU), then off on both (their fastest;
#               about 87 GB: skipped, saying so, on a GPU with less than 90 GiB), then
#               vidprobe's fastest setting that fits the GPU against their configured step
#               (every block checkpointed): no block checkpointed from 90 GiB up, else the first
#               trunk block only (73.8 GB on an H100)
#   wan         vidprobe_bench WanExtract vs bench/wan_reference.py (diffusers), 1.3B and 14B,
#               17 frames 480 x 832, DiT bf16 + VAE fp32
#   wan81       the same at the paper's clip: 81 frames, block 20 (peak memory on both sides)
#   sweep       WAN2.1-1.3B, 3 layers x 4 timesteps over 20 rendered clips of 17 frames
#               (`vidprobe sweep --extract-only`, reading and writing included) vs diffusers at
#               each layer, no I/O (lines tagged "role": "sweep_reference")
#   busy        scripts/gpu-extract-busy.sh's rows VIDPROBE_BUSY_ROWS (default "dinov2 wan-17
#               dinov2-420x728-15-threads": the default loader threads at 224 and for WAN, 15 at
#               the paper's size)
#   mfu         `vidprobe bench backbone` of every paper model at the paper's clip (random
#               weights at real size, bf16): per-stage ms, the transformer's counted TFLOPs and
#               its MFU (nn/stage_meter.h). VIDPROBE_GPU_BENCH_MFU_MODELS picks rows by backbone
#               name (default: all of MFU_ROWS below); VIDPROBE_GPU_BENCH_MFU_ITERS sets every
#               row's timed iterations (default: each row's own).
# Where nvidia-smi is, also writes $1/clocks.jsonl: GPU 0's SM clock and board power over each
# step (scripts/gpu-clocks.sh).
# wan, wan81 and sweep need diffusers (not in the GPU image): carry its wheel in .whl/ and
# install it first, as scripts/gpu-wan81.sh says.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
source "$ROOT/scripts/gpu-clocks.sh"
OUT_DIR="${1:-$BUILD_DIR}"
mkdir -p "$OUT_DIR"
clocks_start "$OUT_DIR"
LOG="$OUT_DIR/gpu-bench.jsonl"
: > "$LOG"
ALL_SECTIONS="backbones paper-size probe wan wan81 sweep busy mfu"
SECTIONS="${VIDPROBE_GPU_BENCH:-backbones probe}"
[ "$SECTIONS" = all ] && SECTIONS="$ALL_SECTIONS"
for section in $SECTIONS; do
  [[ " $ALL_SECTIONS " == *" $section "* ]] ||
    { echo "VIDPROBE_GPU_BENCH: unknown section '$section' (known: $ALL_SECTIONS, all)" >&2; exit 2; }
done
wanted() { [[ " $SECTIONS " == *" $1 "* ]]; }
# Runs one measuring command and keeps its JSON lines (after TAG, a sed expression applied to
# them, when given). A command that fails (after printing some lines, as `bench probe` prints its
# own before the reference runs) or prints none shows its last lines instead of vanishing; the
# script goes on to the next step either way.
HEADLINE=
# What the next steps measure; a clock mark of its own, so that work done outside step() (the
# sweep's rendering, the busy section) is not counted in the step before it.
headline() { echo "== $*" >&2; HEADLINE="$*"; clocks_mark "$HEADLINE"; }
step() {
  local output="$OUT_DIR/step.log" status=0
  local command="$*"
  clocks_mark "$HEADLINE | ${command//"$ROOT"\//}"
  "$@" > "$output" 2>&1 || status=$?
  grep -E '^\{' "$output" | sed "${TAG:-}" | tee -a "$LOG" || true
  if [ "$status" -ne 0 ] || ! grep -qE '^\{' "$output"; then
    echo "step failed (exit status $status) or printed no figures: $*; its last lines:" >&2
    tail -8 "$output" >&2
  fi
}
BENCH="$BUILD_DIR/bin/vidprobe_bench"
VIDPROBE="$BUILD_DIR/bin/vidprobe"
CHECKOUT="${VIDPROBE_VIDFM3D_CHECKOUT:-$ROOT/.ref/VidFM3D}"  # the authors' code, for the probe

if wanted backbones; then
  headline "backbones (ViT-L, bf16, 16 frames): C++ then transformers"
  step "$BENCH" --benchmark_filter=BackboneExtract
  step python3 "$ROOT/bench/backbones_reference.py" --device cuda --dtype bf16 --frames 16
fi
if wanted paper-size; then
  headline "DINOv2-L at the paper's 16 frames of 420 x 728, bf16: C++ then transformers"
  VIDPROBE_BACKBONE_BENCH_SIZE=420x728 step "$BENCH" --benchmark_filter='BackboneExtract/0/'
  step python3 "$ROOT/bench/backbones_reference.py" --backbone dinov2-vitl14 --device cuda \
    --dtype bf16 --frames 16 --size 420x728
fi
if wanted probe; then
  # Unchecked, each side needs about 87 GB: on a smaller GPU that pair would only end in
  # out-of-memory after minutes of set-up, so it is skipped there, saying so.
  GPU_GIB=$(python3 -c 'import torch; print(torch.cuda.get_device_properties(0).total_memory >> 30)' \
    2>/dev/null || echo unknown)  # unknown: both run, and the steps report what fails
  PROBE_CHECKPOINTING="on off"
  if [[ "$GPU_GIB" =~ ^[0-9]+$ ]] && [ "$GPU_GIB" -lt 90 ]; then
    PROBE_CHECKPOINTING="on"
    headline "probe without gradient checkpointing skipped: it needs about 87 GB, this GPU has $GPU_GIB GiB"
  fi
  for checkpointing in $PROBE_CHECKPOINTING; do
    headline "probe training step (the paper's probe and sizes, batch 10, gradient checkpointing" \
      "$checkpointing): C++ then the authors' code"
    step "$VIDPROBE" bench probe --device cuda --batch 10 --frames 4 --feature-dim 1536 \
      --grid 30x52 --size 294x518 --warmup 3 --steps 10 --reference --python python3 \
      --checkout "$CHECKOUT" --gradient-checkpointing "$checkpointing"
  done
  # vidprobe's fastest setting that fits this GPU against the authors' step as they configure it.
  # Nothing checkpointed only where the GPU is known to hold the unchecked step.
  # On 80 GB: the first block checkpointed, the other three keeping their activations (73.8 GB at
  # the peak on an H100 since the DPT heads' out_conv moved before the resize; docs/perf.md).
  FASTEST_BLOCKS=1
  FASTEST="its first trunk block only"
  if [[ "$GPU_GIB" =~ ^[0-9]+$ ]] && [ "$GPU_GIB" -ge 90 ]; then
    FASTEST_BLOCKS=0
    FASTEST="none of its trunk blocks"
  fi
  headline "probe training step, vidprobe checkpointing $FASTEST: C++ then the authors' code" \
    "(every block)"
  step "$VIDPROBE" bench probe --device cuda --batch 10 --frames 4 --feature-dim 1536 \
    --grid 30x52 --size 294x518 --warmup 3 --steps 10 --reference --python python3 \
    --checkout "$CHECKOUT" --gradient-checkpointing on --checkpoint-blocks "$FASTEST_BLOCKS"
fi
if wanted wan; then
  headline "WAN2.1 extraction (17 frames, 480x832): C++ then diffusers"
  step "$BENCH" --benchmark_filter=WanExtract
  step python3 "$ROOT/bench/wan_reference.py"
fi
if wanted wan81; then
  headline "WAN2.1 at the paper's clip (81 frames, 480x832, block 20): C++ then diffusers"
  VIDPROBE_WAN_BENCH_FRAMES=81 VIDPROBE_WAN_BENCH_LAYER=20 step "$BENCH" --benchmark_filter=WanExtract
  step python3 "$ROOT/bench/wan_reference.py" --frames 81 --layer 20
fi
if wanted sweep; then
  SWEEP_WORK="${VIDPROBE_WORK_DIR:-/tmp/vidprobe-gpu-bench}/sweep"
  LAYERS=10,15,20 TIMESTEPS=100,250,500,750 CLIPS=20
  headline "WAN2.1-1.3B sweep, layers $LAYERS x timesteps $TIMESTEPS, $CLIPS clips: C++ then diffusers"
  rm -rf "$SWEEP_WORK" && mkdir -p "$SWEEP_WORK"
  "$VIDPROBE" render --family objects --clips "$CLIPS" --frames 17 --width 960 --height 540 \
    --seed 11 --out "$SWEEP_WORK/data" > "$SWEEP_WORK/render.log" 2>&1 ||
    { echo "render failed; its last lines:" >&2 && tail -8 "$SWEEP_WORK/render.log" >&2; }
  started=$(date +%s.%N)
  if "$VIDPROBE" sweep --backbone wan2.1-t2v-1.3b --random-init --preset vidprobe --device cuda \
      --frames 17 --layers "$LAYERS" --timesteps "$TIMESTEPS" --extract-only \
      --data "$SWEEP_WORK/data" --out "$SWEEP_WORK/sweep" > "$SWEEP_WORK/sweep.log" 2>&1; then
    # seconds: both splits' extraction as extraction.json records it (reading, decoding, the
    # backbone and writing all 12 caches); command_seconds adds start-up and model creation.
    # The sizes and precisions are the sweep's defaults, which the reference runs too.
    python3 - "$started" "$(date +%s.%N)" "$CLIPS" "$LAYERS" "$TIMESTEPS" \
      "$SWEEP_WORK/sweep/extraction.json" <<'EOF' | tee -a "$LOG" || echo "no sweep line" >&2
import json, sys
started, ended, clips, layers, timesteps, extraction = sys.argv[1:]
splits = {name: split for name, split in json.load(open(extraction)).items() if isinstance(split, dict)}
print(json.dumps({"bench": "wan_sweep", "impl": "vidprobe", "variant": "wan2.1-t2v-1.3b",
                  "frames": 17, "height": 480, "width": 832, "dit_dtype": "bf16", "vae_dtype": "fp32",
                  "clips": int(clips), "layers": [int(v) for v in layers.split(",")],
                  "timesteps": [int(v) for v in timesteps.split(",")],
                  "seconds": sum(split["seconds"] for split in splits.values()),
                  "command_seconds": float(ended) - float(started), "splits": splits}))
EOF
  else
    echo "sweep failed; its last lines:" >&2 && tail -8 "$SWEEP_WORK/sweep.log" >&2
  fi
  for layer in ${LAYERS//,/ }; do
    TAG='s/^{/{"role": "sweep_reference", /' step python3 "$ROOT/bench/wan_reference.py" \
      --variant 1.3b --layer "$layer"
  done
fi
if wanted busy; then
  headline "dataset-level extraction, 200 clips: how busy the backbone is"
  VIDPROBE_BUSY_ROWS="${VIDPROBE_BUSY_ROWS:-dinov2 wan-17 dinov2-420x728-15-threads}" \
    bash "$ROOT/scripts/gpu-extract-busy.sh" "$OUT_DIR/busy" ||
    echo "gpu-extract-busy.sh failed (its message is above)" >&2
  grep -E '^\{' "$OUT_DIR/busy/extract-busy.jsonl" >> "$LOG" 2>/dev/null || true
fi
# backbone | frames | timed iterations | extra options: the paper's clip of each model
# (docs/backbones.md). `bench backbone` meters the stages over half the iterations after the
# timed ones: at 2 the transformer MFU comes from one clip, which for a 16-frame encoder (3-6 ms)
# one late launch can move by half (VideoMAE-L's stage took 3.67-6.28 ms over 2026-12-07's
# 2-iteration rounds, its kernels 3.31-3.38), so those run 40 (20 metered clips, under a second).
MFU_ROWS=(
  "dinov2-vitl14|16|40|"
  "videomae-large|16|40|"
  "vjepa2-vitl-fpc64-256|16|40|"
  "vjepa1-vith16-384|76|4|--backbone-opt size=480x832 --backbone-opt spaced_clips=5"
  "fast3r-vitl16-512|81|4|"
  "wan2.1-t2v-1.3b|81|2|"
  "cogvideox-5b-i2v|49|2|"
  "cogvideox-2b|49|2|"
  "aether|41|2|"
  "opensora-v2|129|2|"
  "wan2.1-t2v-14b|81|2|"
)
if wanted mfu; then
  for row in "${MFU_ROWS[@]}"; do
    IFS='|' read -r name frames iterations extra <<< "$row"
    if [ -n "${VIDPROBE_GPU_BENCH_MFU_MODELS:-}" ] && [[ " $VIDPROBE_GPU_BENCH_MFU_MODELS " != *" $name "* ]]; then
      continue
    fi
    headline "MFU: $name, $frames frames, bf16, random weights"
    # shellcheck disable=SC2086  # extra holds several options
    step "$VIDPROBE" bench backbone --backbone "$name" --device cuda --dtype bf16 \
      --frames "$frames" --iterations "${VIDPROBE_GPU_BENCH_MFU_ITERS:-$iterations}" $extra
  done
fi
clocks_stop
echo "figures in $LOG; the goals:" >&2
python3 "$ROOT/tools/bench_table.py" "$LOG" >&2
