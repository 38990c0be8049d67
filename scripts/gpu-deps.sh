#!/usr/bin/env bash
# Run on a machine with Debian's package index (the development machine): gathers the Debian
# libraries that the GPU machine's image lacks (Embree, TBB, tinygltf, tinyobjloader, Google
# Benchmark, CLI11, nlohmann-json, GoogleTest, Gloo's headers, libdeflate) into .gpu-deps/, an
# ignored folder that travels to the GPU machine with `carry` and that scripts/gpu-build.sh puts on
# the search paths there (CMAKE_PREFIX_PATH finds libdeflate.h and libdeflate.so under
# .gpu-deps/root/usr; gpu-env.sh's LD_LIBRARY_PATH loads libdeflate.so.0 from there).
# Nothing is installed into / on either machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.gpu-deps"
PACKAGES=(libembree-dev libembree3-3 libtbb12 libtinygltf-dev libtinygltf2d libtinyobjloader-dev
  libtinyobjloader2rc10 libbenchmark-dev libbenchmark1debian libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libtbb-dev libtbbmalloc2 libtbbbind-2-5 libstb0 libgloo-dev
  libdeflate-dev libdeflate0)  # libdeflate0: the library; -dev: its header and libdeflate.so
mkdir -p "$DEPS/debs"
(cd "$DEPS/debs" && apt-get download "${PACKAGES[@]}")
for deb in "$DEPS"/debs/*.deb; do dpkg -x "$deb" "$DEPS/root"; done
rm -rf "$DEPS/debs"
# The CUDA runtime's crt/ and nv/ headers (PyPI nvidia-cuda-crt, nvidia-cuda-cccl), which the GPU
# machine's torch wheel includes without depending on them: the NCCL backend needs them.
mkdir -p "$DEPS/wheels" "$DEPS/root/usr/include"
python3 -m pip download -q --no-deps -d "$DEPS/wheels" nvidia-cuda-crt==13.0.88 nvidia-cuda-cccl==13.0.85
for wheel in "$DEPS"/wheels/*.whl; do python3 -m zipfile -e "$wheel" "$DEPS/wheels/x"; done
cp -r "$DEPS/wheels/x/nvidia/cu13/include/crt" "$DEPS/wheels/x/nvidia/cu13/include/nv" \
  "$DEPS/root/usr/include/"
rm -rf "$DEPS/wheels"
# Embree alone is 44 MB; compressed, the folder fits the device tool's 64 MiB transfer with the
# working tree: carry .gpu-deps.tar.xz, which gpu-build.sh unpacks where .gpu-deps is absent.
tar -C "$DEPS" -cf - . | xz -T0 -6 > "$ROOT/.gpu-deps.tar.xz.tmp"
mv "$ROOT/.gpu-deps.tar.xz.tmp" "$ROOT/.gpu-deps.tar.xz"
du -sh "$DEPS" "$ROOT/.gpu-deps.tar.xz"
