#!/usr/bin/env bash
# Screenshots of a report's views for the README (docs/images/report-*.png), taken the way the
# report's browser test opens pages: Debian's chromium-headless-shell with software WebGL.
#   tools/report_screenshots.sh REPORT_DIR [OUT_DIR]
# Rerun after `bash scripts/demo.sh` (the demo's report is report/). Views: the benchmark
# (index.html#benchmark), the sweeps (#sweeps), one run's curves and depth panels (#run-<name>;
# VIDPROBE_SCREENSHOT_RUN picks it, default the objects' random-vit run, else the first run) and
# the 3D viewer of that run's first clip.
set -euo pipefail
REPORT="$(cd "${1:?usage: $0 REPORT_DIR [OUT_DIR]}" && pwd)"
OUT="${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/docs/images}"
mkdir -p "$OUT"
shot() {  # url, output name, height
  chromium-headless-shell --no-sandbox --disable-gpu-sandbox --enable-unsafe-swiftshader \
    --use-angle=swiftshader --hide-scrollbars --window-size="1200,$3" --virtual-time-budget=5000 \
    --screenshot="$OUT/$2" "file://$1" 2>/dev/null
}
shot "$REPORT/index.html#benchmark" report-overview.png 2400
grep -q "id='sweeps'" "$REPORT/index.html" && shot "$REPORT/index.html#sweeps" report-sweep.png 1500
runs="$(grep -o "id='run-[^']*'" "$REPORT/index.html" | sed "s/id='\(.*\)'/\1/")"
run="run-${VIDPROBE_SCREENSHOT_RUN:-objects_random_vit}"
grep -qx "$run" <<<"$runs" || run="$(head -n 1 <<<"$runs")"
[ -n "$run" ] && shot "$REPORT/index.html#$run" report-depth-panels.png 1500
viewer="$(find "$REPORT/viewer" -name "${run#run-}_*.html" 2>/dev/null | sort | head -n 1)"
[ -n "$viewer" ] || viewer="$(find "$REPORT/viewer" -name '*.html' 2>/dev/null | sort | head -n 1)"
[ -n "$viewer" ] && shot "$viewer" report-3d-viewer.png 760
ls -l "$OUT"/report-*.png
