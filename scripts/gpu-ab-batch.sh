#!/usr/bin/env bash
# Several before/after pairs in one device command (docs/perf.md's sections of 2026-12-07 ran this
# way): configures BUILD_DIR as scripts/gpu-build.sh does (kept when it is there already: a warm
# machine rebuilds only what changed), builds the targets, runs the CUDA test filters, then
# scripts/gpu-ab.sh for each job, every run timed and then profiled in the same process.
# Usage: bash scripts/gpu-ab-batch.sh OUT_DIR [JOB ...]
#   JOB: PATCH|BACKBONE|FRAMES|ROUNDS, PATCH the change under test as `git diff` writes it, already
#   applied in the tree (gpu-ab.sh builds the base with it reversed), e.g.
#   'change.patch|vggt-1b|16|2' 'change.patch|opensora-v2|129|1'
# Environment: VIDPROBE_AB_TARGETS (default vidprobe; add vidprobe_nn_tests /
# vidprobe_backbones_tests for the filters), VIDPROBE_NN_TESTS and VIDPROBE_BACKBONES_TESTS (gtest
# filters, run when set), VIDPROBE_AB_STOP_AFTER (seconds since the start after which no further
# job starts: under `timeout`, set it to the limit less the longest pair, so that the command ends
# with whole pairs instead of one cut while building; steps.log names the jobs left, and the exit
# status is 1). Writes
# OUT_DIR/steps.log (seconds since the start), machine.txt, the test logs, and per job
# OUT_DIR/<patch>/<backbone>-<frames>/: gpu-ab.sh's files, the profiles' kernels.json and
# transformer.txt, and base-new.txt (round 1's profiles side by side).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
[ $# -ge 1 ] || { echo "usage: gpu-ab-batch.sh OUT_DIR [PATCH|BACKBONE|FRAMES|ROUNDS ...]" >&2; exit 2; }
OUT_DIR=$(realpath -m "$1")
shift
jobs=()
for job in "$@"; do  # every job checked, its patch made absolute, before anything is built
  IFS='|' read -r patch backbone frames rounds <<< "$job"
  if ! [ -f "$patch" ] || [ -z "$backbone" ] || ! [[ "$frames" =~ ^[1-9][0-9]*$ ]] ||
    ! [[ "$rounds" =~ ^[1-9][0-9]*$ ]]; then
    echo "job '$job' is not PATCH|BACKBONE|FRAMES|ROUNDS with an existing PATCH" >&2
    exit 2
  fi
  jobs+=("$(realpath "$patch")|$backbone|$frames|$rounds")
done
stop_after=${VIDPROBE_AB_STOP_AFTER:-}
if [ -n "$stop_after" ] && ! [[ "$stop_after" =~ ^[0-9]+$ ]]; then
  echo "VIDPROBE_AB_STOP_AFTER='$stop_after' is not a whole number of seconds" >&2
  exit 2
fi
mkdir -p "$OUT_DIR"
cd "$ROOT" || exit 1
start=$(date +%s)
step() { echo "[$(($(date +%s) - start))s] $*" | tee -a "$OUT_DIR/steps.log"; }
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,power.limit --format=csv
  nproc
  python3 -c 'import torch; print(torch.__version__)'
} > "$OUT_DIR/machine.txt" 2>&1

TORCH_PREFIX="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
PREFIXES="$TORCH_PREFIX"
[ -d "$DEPS" ] && PREFIXES="$PREFIXES;$DEPS/usr;$DEPS/usr/lib/x86_64-linux-gnu/cmake;$DEPS/usr/share/cmake"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PREFIXES" -DVIDPROBE_PYTHON="$(command -v python3)" \
  > "$OUT_DIR/configure.log" 2>&1 || { step "configure failed"; tail -30 "$OUT_DIR/configure.log"; exit 1; }
step configured
targets=${VIDPROBE_AB_TARGETS:-vidprobe}
# shellcheck disable=SC2086  # the targets are words
cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target $targets > "$OUT_DIR/build.log" 2>&1 ||
  { step "build failed"; tail -40 "$OUT_DIR/build.log"; exit 1; }
step "built $targets"

failed=0
run_filter() {  # binary filter log
  [ -n "$2" ] || return 0
  "$BUILD_DIR/bin/$1" --gtest_filter="$2" > "$OUT_DIR/$3" 2>&1
  local status=$?
  step "$1 --gtest_filter='$2': exit status $status"
  grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT_DIR/$3"
  [ "$status" -eq 0 ] || failed=1
}
run_filter vidprobe_nn_tests "${VIDPROBE_NN_TESTS:-}" nn-tests.log
run_filter vidprobe_backbones_tests "${VIDPROBE_BACKBONES_TESTS:-}" backbones-tests.log

run=0
for job in "${jobs[@]}"; do
  IFS='|' read -r patch backbone frames rounds <<< "$job"
  if [ -n "$stop_after" ] && [ $(($(date +%s) - start)) -ge "$stop_after" ]; then
    step "not started, VIDPROBE_AB_STOP_AFTER=$stop_after s passed: $(basename "$patch") on $backbone at $frames frames"
    failed=1
    continue
  fi
  pair="$OUT_DIR/$(basename "$patch" .patch)/$backbone-$frames"
  mkdir -p "$pair"
  bash scripts/gpu-ab.sh "$pair" "$patch" vidprobe "$rounds" -- "{bin}" bench backbone \
    --backbone "$backbone" --device cuda --dtype bf16 --frames "$frames" --iterations 2 \
    --profile "$pair/profile-{label}-{round}" > "$pair/gpu-ab.log" 2>&1
  status=$?
  step "$(basename "$patch") on $backbone at $frames frames, $rounds round(s): exit status $status"
  [ "$status" -eq 0 ] || { failed=1; tail -8 "$pair/gpu-ab.log"; }
  for profile in "$pair"/profile-*; do
    [ -f "$profile/kernels.json" ] || continue
    python3 tools/compare_kernel_profiles.py "$profile/kernels.json" --stage transformer \
      > "$profile/transformer.txt" 2>&1
    find "$profile" -name '*.json' ! -name kernels.json -delete  # the traces: large, and read here
  done
  if [ -f "$pair/profile-new-1/kernels.json" ] && [ -f "$pair/profile-base-1/kernels.json" ]; then
    python3 tools/compare_kernel_profiles.py "$pair/profile-new-1/kernels.json" \
      "$pair/profile-base-1/kernels.json" --labels new,base --stage transformer \
      > "$pair/base-new.txt" 2>&1 && head -12 "$pair/base-new.txt"
  fi
  rm -rf "$pair/ab-binaries"
  run=$((run + 1))
done
step "$run of ${#jobs[@]} jobs run"
exit "$failed"
