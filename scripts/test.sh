#!/usr/bin/env bash
# Builds vidprobe (set-up included, idempotent) and runs every test suite with CTest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${VIDPROBE_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/setup.sh"
# The report's browser test must run here, not skip (setup.sh installs its browser).
export VIDPROBE_REQUIRE_BROWSER=1
# One libtorch thread per test process and two processes: the machine has 2 cores.
OMP_NUM_THREADS=1 ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" "$@"
# The readers under libFuzzer (clang, its own build directory, a few seconds per target);
# VIDPROBE_FUZZ_SMOKE=0 skips it.
if [ "${VIDPROBE_FUZZ_SMOKE:-1}" = 1 ]; then
  VIDPROBE_FUZZ_CXX="${VIDPROBE_FUZZ_CXX:-clang++-14}" "$ROOT/scripts/fuzz-smoke.sh"
fi
