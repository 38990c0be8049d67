#!/usr/bin/env bash
# Before/after of one change in one device call (docs/perf.md: a difference between versions
# means something only beside the spread of repeated runs of each, taken on the same machine in
# turn). Builds TARGET twice in BUILD_DIR (scripts/gpu-env.sh; configured already, e.g. by
# scripts/gpu-build.sh): "new" from the working tree as it is, "base" with PATCH reversed (PATCH:
# the change under test, as `git diff` writes it, already applied in the tree). The tree is left
# as it was found, also when a build fails. Then runs COMMAND ROUNDS times per build, in turns
# (base, new, base, new, ...), with {bin} in its words replaced by the round's binary, {label} by
# "base" or "new" and {round} by the round's number (so that a run can write its own files, e.g.
# `--profile OUT/profile-{label}-{round}`: timed, then profiled in the same process), and keeps
# every JSON line it prints with "build" and "round" added, in OUT_DIR/ab.jsonl (echoed); exits
# non-zero when a run failed. Only TARGET differs between the builds: the runs happen with the
# patch applied, so what the binaries read from the tree at run time (bench/*.py, configs) is the
# patched version for both.
# Usage: bash scripts/gpu-ab.sh OUT_DIR PATCH TARGET ROUNDS -- COMMAND...
#   e.g. bash scripts/gpu-ab.sh $OUT dpt.patch vidprobe 2 -- {bin} bench probe --device cuda \
#          --batch 10 --feature-dim 1536 --grid 30x52 --size 294x518
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
usage="usage: gpu-ab.sh OUT_DIR PATCH TARGET ROUNDS -- COMMAND..."
if [ $# -lt 6 ] || [ "$5" != -- ]; then echo "$usage" >&2; exit 2; fi
OUT_DIR=$(realpath -m "$1") PATCH=$(realpath "$2") TARGET=$3 ROUNDS=$4
shift 5
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive number, got '$ROUNDS'" >&2; exit 2; }
cd "$ROOT"
git apply --check -R "$PATCH" ||
  { echo "$PATCH does not reverse on this tree: it must be applied already (git apply it)" >&2; exit 2; }
mkdir -p "$OUT_DIR"
BINARIES="$OUT_DIR/ab-binaries"
mkdir -p "$BINARIES"
LOG="$OUT_DIR/ab.jsonl"
: > "$LOG"

build() {  # build label: TARGET as the tree now is, copied to $BINARIES/label
  echo "== building $TARGET ($1)" >&2
  cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target "$TARGET" > "$OUT_DIR/build-$1.log" 2>&1 ||
    { echo "the $1 build failed; its last lines:" >&2; tail -20 "$OUT_DIR/build-$1.log" >&2; return 1; }
  cp "$BUILD_DIR/bin/$TARGET" "$BINARIES/$1"
}
build new
reversed=0
trap '[ "$reversed" = 0 ] || git apply "$PATCH"' EXIT  # the tree as found, also on a failure
git apply -R "$PATCH"
reversed=1  # (a SIGKILL, as a device command's time limit sends, runs no trap: the tree stays so)
build base
git apply "$PATCH" || { echo "cannot re-apply $PATCH; the tree is as the base build saw it" >&2; exit 1; }
reversed=0
build new  # the build folder holds the tree's own binary again, as it did

for ((round = 1; round <= ROUNDS; ++round)); do
  for label in base new; do
    echo "== round $round: $label" >&2
    words=("${@//\{bin\}/"$BINARIES/$label"}")
    words=("${words[@]//\{label\}/$label}")
    words=("${words[@]//\{round\}/$round}")
    run_log="$OUT_DIR/run-$round-$label.log" status=0
    "${words[@]}" > "$run_log" 2>&1 || status=$?
    grep -E '^\{.*[^{ ]' "$run_log" |
      sed "s/^{/{\"build\": \"$label\", \"round\": $round, /" | tee -a "$LOG" || true
    if [ "$status" -ne 0 ]; then
      echo "the $label run failed (exit status $status); its last lines:" >&2
      tail -8 "$run_log" >&2
      failed=1
    fi
  done
done
echo "figures in $LOG" >&2
exit "${failed:-0}"
