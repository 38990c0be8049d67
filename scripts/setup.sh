#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: system packages, the pinned
# torch wheel (libtorch for C++), and a Release build of vidprobe in build/.
# Every step checks first and does nothing when its result is already there.
set -euo pipefail

TORCH_VERSION="2.11.0"
# The CUDA 13.0 line of the wheel's nvidia-cuda-runtime: headers its own headers include.
CUDA_HEADER_WHEELS=("nvidia-cuda-crt==13.0.88" "nvidia-cuda-cccl==13.0.85")
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${VIDPROBE_BUILD_DIR:-$ROOT/build}"
# The venv lives outside the checkout so fresh clones (and CI) reuse the 3 GB wheel set.
VENV="${VIDPROBE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/vidprobe/venv-torch-$TORCH_VERSION}"

APT_PACKAGES=(build-essential cmake ninja-build pkg-config python3 python3-venv python3-pip
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libembree-dev libpng-dev libjpeg-dev zlib1g-dev libtinygltf-dev libtinyobjloader-dev
  libdeflate-dev  # PNG decoding (io/image.cpp)
  libsentencepiece-dev libgloo-dev  # libgloo-dev: declarations for libtorch's own Gloo (dist/)
  libjs-three chromium-headless-shell  # the report's 3D viewer and its in-browser test
  clang-14 libclang-rt-14-dev)  # the build's compiler; fuzz-smoke.sh: libFuzzer, ASan, UBSan
# Clang, not GCC, by default: Clang's precompiled header keeps the template instantiations that
# <torch/torch.h> asks for, which GCC redoes in every file that includes it (8 s a file on a
# 2-core machine; the whole build takes half the CPU time with Clang). GCC 12 builds the same
# sources warning-free (the GPU machine's scripts use it): VIDPROBE_CXX=g++.
CXX_COMPILER="${VIDPROBE_CXX:-clang++-14}"

log() { printf '[setup] %s\n' "$*" >&2; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

has_torch() { "$1" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null; }
# A python3 that already carries the pinned torch (the GPU machine's) is used as is.
if [ -n "${VIDPROBE_PYTHON:-}" ]; then PY="$VIDPROBE_PYTHON"
elif has_torch python3; then PY="$(command -v python3)"
else
  PY="$VENV/bin/python"
  if ! has_torch "$PY"; then
    log "creating $VENV with torch==$TORCH_VERSION (libtorch for the C++ build)"
    python3 -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q "torch==$TORCH_VERSION" numpy safetensors
  fi
  # The CUDA runtime's crt/ and nv/ headers, which the wheel's own headers include but the wheel
  # does not depend on: needed to compile the NCCL backend (src/vidprobe/CMakeLists.txt, dist/).
  if ! "$PY" -c "import importlib.metadata as m; m.version('nvidia-cuda-crt'); m.version('nvidia-cuda-cccl')" 2>/dev/null; then
    "$PY" -m pip install -q "${CUDA_HEADER_WHEELS[@]}"
  fi
fi

TORCH_PREFIX="$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  log "configuring $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER="$CXX_COMPILER" -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DVIDPROBE_PYTHON="$PY"
else
  configured="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)"
  [ "$(command -v "$CXX_COMPILER" || echo "$CXX_COMPILER")" = "$configured" ] ||
    log "warning: $BUILD_DIR was configured with ${configured:-an unknown compiler}, not" \
      "$CXX_COMPILER; it keeps its compiler (remove $BUILD_DIR to change it)"
fi
log "building ($(nproc) jobs)"
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
