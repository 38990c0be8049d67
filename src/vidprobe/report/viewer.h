#pragma once
// The report's per-clip 3D view of predicted and GT point clouds and cameras (three.js, offline)
// and their PLY exports, from the `<clip>_geometry.safetensors` files `vidprobe eval` writes.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "vidprobe/report/report.h"

namespace vidprobe::report {

struct ClipViewer {
  std::string clip;
  std::string page;                  // viewer/<name>.html, relative to the report
  std::vector<std::string> exports;  // exports/<name>_{gt,pred,cameras}.ply
  std::int64_t points = 0;           // per cloud, after down-sampling
};

// three.min.js: $VIDPROBE_THREE_JS, else Debian libjs-three's file; empty when neither exists.
std::filesystem::path three_js_source();

// For the run's first `clips` geometry files (sorted by name): the PLY exports (every point, GT
// and prediction coloured by RGB, the cameras as frusta edges) and, when three.js is available,
// a viewer page whose data is down-sampled to `point_budget` points per cloud. Files go to
// out_dir/viewer and out_dir/exports, each written atomically; `prefix` keeps runs apart. Throws
// vidprobe::Error naming a geometry file with missing or inconsistent tensors.
std::vector<ClipViewer> write_clip_viewers(const RunResult& run, const std::string& prefix,
                                           const std::filesystem::path& out_dir, int clips,
                                           std::int64_t point_budget = 20000);

// The viewer's script (viewer_script.cpp).
const char* viewer_script();

}  // namespace vidprobe::report
