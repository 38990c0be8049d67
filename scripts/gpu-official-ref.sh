#!/usr/bin/env bash
# Fills the ignored folder .ref/ with what bench/official_reference.py needs on the GPU machine
# (no internet there): the official source files, exported with `git archive` from local mirrors
# (git clones or bare mirrors) of the three repositories, and the pure-Python packages the
# official code imports that the GPU image lacks (einops, omegaconf; PyYAML as omegaconf's
# dependency, used only if the image has none). About 3 MB in all.
#
#   .ref/jepa/src/...        facebookresearch/jepa       src/models, src/masks, src/utils
#   .ref/fast3r/fast3r/...   facebookresearch/fast3r     fast3r/ (the package, Python files only)
#   .ref/Open-Sora/opensora  hpcaitech/Open-Sora (v2)    opensora/ (Python files only)
#   .ref/Aether/aether       OpenRobotLab/Aether         aether/ (Python files only), for
#                                                         bench/cogvideox_reference.py --variant
#                                                         aether (scripts/gpu-cogvideox.sh). Its
#                                                         pipeline module imports numpy, PIL, torch,
#                                                         diffusers, transformers, einops and
#                                                         aether.utils.preprocess_utils (numpy) at
#                                                         import time: nothing to stub (the
#                                                         visualisation modules of aether/utils,
#                                                         which need matplotlib, plyfile and
#                                                         trimesh, are never imported)
#   .ref/site/               einops, omegaconf, yaml     (appended to sys.path, never ahead of the
#                                                         image's own packages)
# diffusers (the Hunyuan VAE's base classes, Aether's pipeline) comes from .whl/ as for
# scripts/gpu-cogvideox.sh. Other entries of .ref/ (VidFM3D/, filled by hand for
# scripts/gpu-vidfm3d.sh and gpu-wan81.sh) are left as they are; the ones above are replaced.
#
# Usage: bash scripts/gpu-official-ref.sh [MIRROR_ROOT]
#   MIRROR_ROOT holds <owner>+<name>/repo git directories (default /work/.mirror, what the
#   `fetch` tool writes); each may also be given as JEPA_GIT, FAST3R_GIT, OPENSORA_GIT, AETHER_GIT
#   (a git directory or a clone; AETHER_GIT defaults to OpenRobotLab+Aether, else
#   InternRobotics+Aether, the repository's later owner). PYTHON_SITE: a site-packages with einops
#   and omegaconf to copy from (default: pip installs einops==0.8.2 omegaconf==2.4.0 pyyaml into
#   .ref/site).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MIRRORS="${1:-/work/.mirror}"
JEPA_GIT="${JEPA_GIT:-$MIRRORS/facebookresearch+jepa/repo}"
FAST3R_GIT="${FAST3R_GIT:-$MIRRORS/facebookresearch+fast3r/repo}"
OPENSORA_GIT="${OPENSORA_GIT:-$MIRRORS/hpcaitech+Open-Sora/repo}"
if [ -z "${AETHER_GIT:-}" ]; then
  AETHER_GIT="$MIRRORS/OpenRobotLab+Aether/repo"
  [ -e "$AETHER_GIT" ] || AETHER_GIT="$MIRRORS/InternRobotics+Aether/repo"
fi
REF="$ROOT/.ref"
PART="$REF.part"
ENTRIES=(jepa fast3r Open-Sora Aether site)
rm -rf "$PART"
for entry in "${ENTRIES[@]}"; do mkdir -p "$PART/$entry"; done

# export GIT_DIR DEST PATHSPEC...: the committed files at HEAD (Python sources only where a
# pathspec ends in *.py), plus the commit in DEST/.commit.
# The fetch mirrors omit large blobs (fast3r's assets/*.gif): git archive names them on stderr
# ("error: invalid object ... for 'assets/...'") and still exports the requested paths.
export_tree() {
  local git_dir="$1" dest="$2"
  shift 2
  [ -e "$git_dir" ] || { echo "gpu-official-ref.sh: no git directory at $git_dir" >&2; exit 2; }
  git --git-dir="$git_dir" rev-parse --verify -q HEAD >/dev/null 2>&1 ||
    git_dir="$git_dir/.git"  # a clone given instead of its git directory
  git --git-dir="$git_dir" archive --format=tar HEAD -- "$@" | tar -x -C "$dest"
  git --git-dir="$git_dir" rev-parse HEAD > "$dest/.commit"
}
export_tree "$JEPA_GIT" "$PART/jepa" 'src/models/*.py' 'src/masks/*.py' 'src/utils/*.py'
export_tree "$FAST3R_GIT" "$PART/fast3r" 'fast3r/*.py'
export_tree "$OPENSORA_GIT" "$PART/Open-Sora" 'opensora/*.py'
export_tree "$AETHER_GIT" "$PART/Aether" 'aether/*.py'

if [ -n "${PYTHON_SITE:-}" ]; then
  for package in einops omegaconf yaml; do
    [ -d "$PYTHON_SITE/$package" ] && cp -r "$PYTHON_SITE/$package" "$PART/site/"
  done
  [ -d "$PART/site/einops" ] && [ -d "$PART/site/omegaconf" ] ||
    { echo "gpu-official-ref.sh: $PYTHON_SITE lacks einops or omegaconf" >&2; exit 2; }
else
  python3 -m pip install -q --no-deps --no-compile --target "$PART/site" \
    einops==0.8.2 omegaconf==2.4.0 pyyaml
fi
find "$PART" -name __pycache__ -prune -exec rm -rf {} +
mkdir -p "$REF"
for entry in "${ENTRIES[@]}"; do
  rm -rf "${REF:?}/$entry"
  mv "$PART/$entry" "$REF/$entry"
done
rmdir "$PART"
du -sh "$REF" >&2
