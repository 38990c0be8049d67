#!/usr/bin/env bash
# The main job, end to end on a CPU in about ten minutes: set-up and build, render a small
# CO3D-like (objects) and DL3DV-like (scenes) set with exact ground truth, extract features, train
# one probe per (family, features), evaluate on held-out clips, and write report/index.html +
# metrics.md. Per family, from floor to ceiling: the constant predictor (the floor), the built-in
# backbones `pixels` and `random-vit`, the calibration oracles `oracle-depth` (each frame's exact
# depth and rays, nothing across frames) and `oracle-points` (plus the clip's point map: the
# ceiling), and the temporal ablation of the ceiling (`oracle-points --temporal per-frame`); and a
# layer sweep of `random-vit` on the objects for the report's sweep view. The
# paper's finding should show: per-frame information reads out depth as well as the ceiling does,
# but not the cameras.
# Re-running reuses finished renders, feature caches and trained probes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${VIDPROBE_BUILD_DIR:-$ROOT/build}"
OUT="${VIDPROBE_DEMO_OUT:-$ROOT/demo-out}"
REPORT="${VIDPROBE_REPORT_DIR:-$ROOT/report}"
CLIPS="${VIDPROBE_DEMO_CLIPS:-160}"
STEPS="${VIDPROBE_DEMO_STEPS:-200}"
# A reduced probe of the `vidprobe` preset (width 192, DPT features 32, batch 2, the clips' stored
# frames) so ten probes train on 2 CPU cores in minutes; the paper's protocol (the `vidfm3d`
# preset, a 384 M-parameter probe on views drawn from whole clips) is `vidprobe train`'s default,
# see docs/protocol.md and configs/demo-probe.json.
PROBE_CONFIG="${VIDPROBE_DEMO_CONFIG:-$ROOT/configs/demo-probe.json}"
FAMILIES=(objects scenes)
# label:backbone:extract flags. Every row gets the same probe and the same training budget.
FEATURES=(
  "pixels:pixels:"
  "random-vit:random-vit:"
  "oracle-depth:oracle-depth:"
  "oracle-points:oracle-points:"
  "oracle-points per-frame:oracle-points:--temporal per-frame"
)

# VIDPROBE_SKIP_SETUP=1 runs an existing build as is (e.g. while another build is under way).
[ "${VIDPROBE_SKIP_SETUP:-0}" = 1 ] || "$ROOT/scripts/setup.sh"
vidprobe() { "$BUILD_DIR/bin/vidprobe" "$@"; }
step() { printf '\n== %s\n' "$*" >&2; }

for family in "${FAMILIES[@]}"; do
  step "render $family: $CLIPS clips x 8 frames, 128x128"
  vidprobe render --family "$family" --clips "$CLIPS" --frames 8 --size 128 --seed 7 --out "$OUT/data/$family"
  for row in "${FEATURES[@]}"; do
    IFS=: read -r label backbone flags <<<"$row"
    for split in train test; do
      step "extract $label features, $family $split split"
      # shellcheck disable=SC2086  # flags are words
      vidprobe -q extract --backbone "$backbone" $flags --data "$OUT/data/$family" --split "$split" \
        --train-ratio 0.8 --frames 4 --sampling uniform --gt-size 64 --seed 7 \
        --out "$OUT/features/$family/${label// /-}/$split"
    done
  done
done

# Train and evaluate one probe. Two run side by side with one thread each: on 2 cores that trains
# ~1.3x faster than one after the other with two threads (small kernels scale poorly).
probe() {
  local family=$1 label=$2
  local feats="$OUT/features/$family/${label// /-}" run="$OUT/runs/$family/${label// /-}"
  local log="$OUT/logs/$family-${label// /-}.log" started=$SECONDS
  mkdir -p "$OUT/logs"
  if [ ! -f "$run/model.safetensors" ]; then
    # An interrupted run (config written, no final weights) continues from its last checkpoint.
    local resume=(); [ -f "$run/config.json" ] && resume=(--resume)
    OMP_NUM_THREADS=1 vidprobe -q train --features "$feats/train" --out "$run" \
      --config "$PROBE_CONFIG" --steps "$STEPS" --seed 7 "${resume[@]}" >"$log" 2>&1 ||
      { cat "$log" >&2; return 1; }
  fi
  OMP_NUM_THREADS=1 vidprobe -q eval --run "$run" --features "$feats/test" --out "$run/eval" \
    --chamfer-points 4096 >>"$log" 2>&1 || { cat "$log" >&2; return 1; }
  printf '  %s / %s: trained and evaluated in %d s\n' "$family" "$label" $((SECONDS - started)) >&2
}

evals=() jobs=()
for family in "${FAMILIES[@]}"; do
  for row in "${FEATURES[@]}"; do
    IFS=: read -r label _ _ <<<"$row"
    jobs+=("$family:$label")
    evals+=(--eval "$family/$label=$OUT/runs/$family/${label// /-}/eval")
  done
done
step "train and evaluate ${#jobs[@]} probes ($STEPS steps each), two at a time"
for ((i = 0; i < ${#jobs[@]}; i += 2)); do
  pids=()
  for job in "${jobs[@]:i:2}"; do
    probe "${job%%:*}" "${job#*:}" & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
done

# The report's sweep view: one probe per layer of random-vit on the objects (an encoder, so layers
# only; diffusion backbones add timesteps: `vidprobe sweep --timesteps`), with the probe and
# budget above. Its features are extracted once for all layers.
SWEEP_LAYERS="${VIDPROBE_DEMO_SWEEP_LAYERS:-1,3,5}"
SWEEP="$OUT/sweeps/objects-random-vit"
step "sweep random-vit over layers $SWEEP_LAYERS on objects ($STEPS steps per probe)"
started=$SECONDS
vidprobe -q sweep --backbone random-vit --preset vidprobe --config "$PROBE_CONFIG" \
  --steps "$STEPS" --seed 7 --data "$OUT/data/objects" --train-ratio 0.8 --frames 4 \
  --sampling uniform --gt-size 64 --layers "$SWEEP_LAYERS" --chamfer-points 4096 --threads 2 \
  --out "$SWEEP" >"$OUT/logs/sweep-objects-random-vit.log" 2>&1 ||
  { cat "$OUT/logs/sweep-objects-random-vit.log" >&2; exit 1; }
printf '  sweep: %d s\n' $((SECONDS - started)) >&2

step "report"
notes="$OUT/notes.md"
cat > "$notes" <<NOTES
Synthetic data from \`vidprobe render\` ($CLIPS clips per family, 8 frames rendered, 4 sampled per
clip, 80% of the clips for training and 20% held out). Features: \`pixels\` (raw 8x8 RGB patches,
no learning), \`random-vit\` (a ViT-S/8 with fixed random weights), and two calibration oracles
computed from the exact ground truth, not models: \`oracle-depth\` (each frame's depth and camera rays
alone) and \`oracle-points\` (plus the clip's point map in the first camera's frame: the ceiling),
whose \`--temporal per-frame\` run sees each frame alone. Probes: $STEPS steps of the reduced
configuration of the \`vidprobe\` preset in \`$(basename "$PROBE_CONFIG")\` (CPU budget); the paper's
protocol (\`--preset vidfm3d\`, docs/protocol.md) is the default of \`vidprobe train\`. The constant
predictor (mean of the training GT) is the floor: a probe is only informative where it beats it.
Accuracy, completeness and Chamfer use 4096 points per cloud (\`vidprobe eval --chamfer-points\`).
The sweep: one such probe per layer ($SWEEP_LAYERS) of \`random-vit\` (blocks 0..5) on the objects.
NOTES
vidprobe report "${evals[@]}" --sweep "$SWEEP" --out "$REPORT" --notes "$notes" \
  --title "vidprobe demo: from floor to ceiling on synthetic objects and scenes"
printf '\nDone: open %s/index.html (tables in %s/metrics.md)\n' "$REPORT" "$REPORT" >&2
