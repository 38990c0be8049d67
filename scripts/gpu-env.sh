# Sourced by the scripts/gpu-*.sh that run on the GPU machine: ROOT (the checkout), BUILD_DIR
# (VIDPROBE_BUILD_DIR, default build-gpu) and the Debian libraries the GPU image lacks, from
# .gpu-deps/ (made by scripts/gpu-deps.sh; unpacked from the carried .gpu-deps.tar.xz when only
# the archive is there) on the loader's, compiler's and linker's search paths.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${VIDPROBE_BUILD_DIR:-$ROOT/build-gpu}"
DEPS="$ROOT/.gpu-deps/root"
if [ ! -d "$DEPS" ] && [ -f "$ROOT/.gpu-deps.tar.xz" ]; then
  mkdir -p "$ROOT/.gpu-deps" && xz -dc "$ROOT/.gpu-deps.tar.xz" | tar -C "$ROOT/.gpu-deps" -xf -
fi
if [ -d "$DEPS" ]; then
  export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  export CPATH="$DEPS/usr/include:${CPATH:-}"
  export LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu:${LIBRARY_PATH:-}"
fi
