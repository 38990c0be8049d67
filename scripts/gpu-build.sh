#!/usr/bin/env bash
# Run on the GPU machine, in the repository root: configures vidprobe against that machine's own
# torch (python3 -c 'import torch' there is the CUDA build), builds it, and runs every test suite
# with a GPU visible, so the CUDA paths (tests named *Cuda*/*Gpu*) run instead of skipping.
# Libraries the GPU image lacks come from .gpu-deps/ (made by scripts/gpu-deps.sh, carried along).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"  # ROOT, BUILD_DIR, DEPS, library paths
TORCH_PREFIX="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
PREFIXES="$TORCH_PREFIX"
[ -d "$DEPS" ] && PREFIXES="$PREFIXES;$DEPS/usr;$DEPS/usr/lib/x86_64-linux-gnu/cmake;$DEPS/usr/share/cmake"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PREFIXES" -DVIDPROBE_PYTHON="$(command -v python3)" "$@"
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
"$BUILD_DIR/bin/vidprobe" info
# VIDPROBE_GPU_TESTS=0 builds only (a later call runs the suites: the device tool limits one call).
if [ "${VIDPROBE_GPU_TESTS:-1}" = 1 ]; then
  OMP_NUM_THREADS=1 ctest --test-dir "$BUILD_DIR" --output-on-failure -j 8
fi
