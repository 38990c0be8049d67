#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, ASan + UBSan, no libtorch) in a build directory of
# their own and runs each one: first over its regression corpus (tests/fuzz/regressions/<target>/,
# every input that once crashed it) and its seeds (written by fuzz_make_seeds, plus the test
# fixtures of its format), then fuzzing from those seeds for VIDPROBE_FUZZ_SECONDS (default 4)
# seconds. Fails on the first crash, leak, hang or over-large allocation, leaving the input in
# $BUILD/artifacts/<target>/. Longer campaigns: VIDPROBE_FUZZ_SECONDS=600 bash scripts/fuzz-smoke.sh
# Optional arguments: target names (default: all).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${VIDPROBE_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_EACH="${VIDPROBE_FUZZ_SECONDS:-4}"
JOBS="${VIDPROBE_FUZZ_BUILD_JOBS:-$(nproc)}"
TARGETS=(safetensors json gzip_json png jpeg colmap_text colmap_binary co3d dl3dv synthetic_clip
  configs manifest metrics)
(($#)) && TARGETS=("$@")

if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER="${VIDPROBE_FUZZ_CXX:-clang++}" \
    -DVIDPROBE_BUILD_FUZZERS=ON >/dev/null
fi
cmake --build "$BUILD" --parallel "$JOBS"

SEEDS="$BUILD/seeds"
rm -rf "$SEEDS" && mkdir -p "$SEEDS"
"$BUILD/bin/fuzz_make_seeds" "$SEEDS" "$ROOT"
fixtures="$ROOT/tests/fixtures"
find "$fixtures" -name '*.safetensors' -size -100k -exec cp {} "$SEEDS/safetensors/" \;
find "$fixtures/resize" -name '*.png' -size -4k -exec cp {} "$SEEDS/png/" \;
find "$fixtures" -name '*.json' -size -32k -exec cp --backup=numbered {} "$SEEDS/json/" \;

# A reader that allocates more than 1 GiB or runs 10 s on one input of a few KB is a finding.
LIMITS=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10)
# Each input is written to a file before it is read: in memory when /dev/shm is there.
[ -w /dev/shm ] && export TMPDIR="${VIDPROBE_FUZZ_TMPDIR:-/dev/shm}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for target in "${TARGETS[@]}"; do
  binary="$BUILD/bin/fuzz_$target"
  regressions="$ROOT/tests/fuzz/regressions/$target"
  corpus="$BUILD/corpus/$target"
  artifacts="$BUILD/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  inputs=("$SEEDS/$target") known=0
  if [ -d "$regressions" ]; then
    inputs+=("$regressions") known=$(find "$regressions" -type f | wc -l)
  fi
  printf '== fuzz_%s: %s regression input(s), %s seed(s), then %s s\n' "$target" "$known" \
    "$(find "$SEEDS/$target" -type f | wc -l)" "$SECONDS_EACH" >&2
  # Every regression input and seed once (a crash fails here, naming the file) ...
  "$binary" "${LIMITS[@]}" -artifact_prefix="$artifacts" -runs=0 "${inputs[@]}" 2>"$BUILD/$target.log" ||
    { tail -40 "$BUILD/$target.log" >&2; exit 1; }
  # ... then fuzzing, new inputs going to the build directory's corpus, never to the sources.
  "$binary" "${LIMITS[@]}" -artifact_prefix="$artifacts" -max_total_time="$SECONDS_EACH" \
    -print_final_stats=1 "$corpus" "${inputs[@]}" 2>>"$BUILD/$target.log" ||
    { tail -40 "$BUILD/$target.log" >&2; exit 1; }
  grep -E '^stat::number_of_executed_units' "$BUILD/$target.log" | tail -1 >&2
done
echo "fuzz smoke: ${#TARGETS[@]} target(s) clean" >&2
