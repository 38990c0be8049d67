#include "vidprobe/report/viewer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/ply.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/report/svg_chart.h"

namespace vidprobe::report {
namespace fs = std::filesystem;
namespace {

struct ClipGeometry {
  torch::Tensor gt, pred, colours, error, gt_cameras, pred_cameras, intrinsics;
  int height = 0, width = 0;
};

torch::Tensor tensor_of(const TensorMap& tensors, const std::string& key, const fs::path& path,
                        std::vector<int64_t> trailing) {
  const auto it = tensors.find(key);
  require(it != tensors.end(), "'" + path.string() + "' has no tensor '" + key + "'");
  const auto& t = it->second;
  bool fits = t.dim() == static_cast<int64_t>(trailing.size()) + 1;
  for (std::size_t d = 0; fits && d < trailing.size(); ++d)
    fits = t.size(static_cast<int64_t>(d) + 1) == trailing[d];
  require(fits, "'" + path.string() + "': tensor '" + key + "' has shape " + c10::str(t.sizes()) +
                    ", expected (N, " + c10::str(trailing) + ")");
  return t;
}

ClipGeometry read_geometry(const fs::path& path) {
  const auto tensors = load_safetensors(path);
  ClipGeometry g;
  g.gt = tensor_of(tensors, "gt_points", path, {3}).to(torch::kFloat32);
  g.pred = tensor_of(tensors, "pred_points", path, {3}).to(torch::kFloat32);
  g.colours = tensor_of(tensors, "colors", path, {3}).to(torch::kUInt8);
  g.error = tensor_of(tensors, "error", path, {}).to(torch::kFloat32);
  g.gt_cameras = tensor_of(tensors, "gt_cameras", path, {3, 4}).to(torch::kFloat32);
  g.pred_cameras = tensor_of(tensors, "pred_cameras", path, {3, 4}).to(torch::kFloat32);
  g.intrinsics = tensor_of(tensors, "intrinsics", path, {3, 3}).to(torch::kFloat32);
  const auto n = g.gt.size(0);
  require(g.pred.size(0) == n && g.colours.size(0) == n && g.error.size(0) == n &&
              g.pred_cameras.size(0) == g.gt_cameras.size(0) &&
              g.intrinsics.size(0) == g.gt_cameras.size(0),
          "'" + path.string() + "': point and camera counts differ between its tensors");
  const auto size = tensors.find("image_size");
  require(size != tensors.end() && size->second.numel() == 2,
          "'" + path.string() + "' has no tensor 'image_size' (height, width)");
  g.height = static_cast<int>(size->second[0].item<int64_t>());
  g.width = static_cast<int>(size->second[1].item<int64_t>());
  return g;
}

std::string json_numbers(const torch::Tensor& t, int decimals = 4) {
  const auto flat = t.to(torch::kFloat64).contiguous().reshape({-1});
  const auto* v = flat.data_ptr<double>();
  std::ostringstream out;
  out.precision(decimals);
  out << std::fixed << "[";
  for (int64_t i = 0; i < flat.numel(); ++i) out << (i ? "," : "") << v[i];
  out << "]";
  return out.str();
}

// Frustum vertices (centre + 4 image corners at `depth`) and edges of each world-from-camera.
void add_frusta(PlyData& ply, const torch::Tensor& cameras, const torch::Tensor& intrinsics,
                int width, int height, float depth, std::array<std::uint8_t, 3> colour) {
  for (int64_t c = 0; c < cameras.size(0); ++c) {
    const auto m = cameras[c].to(torch::kFloat64);
    const auto k = intrinsics[c].to(torch::kFloat64);
    const auto base = static_cast<int>(ply.xyz.size() / 3);
    const auto add = [&](double x, double y, double z) {
      const auto p = torch::matmul(m.slice(1, 0, 3), torch::tensor({x, y, z}, torch::kFloat64)) +
                     m.select(1, 3);
      for (int i = 0; i < 3; ++i) ply.xyz.push_back(static_cast<float>(p[i].item<double>()));
      ply.rgb.insert(ply.rgb.end(), colour.begin(), colour.end());
    };
    add(0, 0, 0);
    const double fx = k[0][0].item<double>(), fy = k[1][1].item<double>();
    const double cx = k[0][2].item<double>(), cy = k[1][2].item<double>();
    for (const auto& [u, v] : {std::pair{0, 0}, {width, 0}, {width, height}, {0, height}})
      add((u - cx) / fx * depth, (v - cy) / fy * depth, depth);
    for (int i = 0; i < 4; ++i) {
      ply.edges.push_back({base, base + 1 + i});
      ply.edges.push_back({base + 1 + i, base + 1 + (i + 1) % 4});
    }
  }
}

PlyData points_ply(const torch::Tensor& points, const torch::Tensor& colours) {
  const auto p = points.contiguous();
  const auto c = colours.contiguous();
  return {{p.data_ptr<float>(), p.data_ptr<float>() + p.numel()},
          {c.data_ptr<std::uint8_t>(), c.data_ptr<std::uint8_t>() + c.numel()},
          {}};
}

float scene_radius(const torch::Tensor& points) {
  if (points.size(0) == 0) return 1.0f;
  const auto centre = points.mean(0);
  return std::max(1e-3f, (points - centre).norm(2, 1).quantile(0.9).item<float>());
}

std::vector<std::string> write_exports(const ClipGeometry& g, const std::string& name,
                                       const fs::path& out_dir) {
  const float depth = 0.1f * scene_radius(g.gt);
  PlyData cameras;
  add_frusta(cameras, g.gt_cameras, g.intrinsics, g.width, g.height, depth, {27, 158, 58});
  add_frusta(cameras, g.pred_cameras, g.intrinsics, g.width, g.height, depth, {232, 112, 42});
  const std::vector<std::string> files = {"exports/" + name + "_gt.ply",
                                          "exports/" + name + "_pred.ply",
                                          "exports/" + name + "_cameras.ply"};
  write_ply(out_dir / files[0], points_ply(g.gt, g.colours));
  write_ply(out_dir / files[1], points_ply(g.pred, g.colours));
  write_ply(out_dir / files[2], cameras);
  return files;
}

std::string viewer_data(const ClipGeometry& g, std::int64_t budget) {
  const auto n = g.gt.size(0);
  const auto stride = std::max<int64_t>(1, (n + budget - 1) / std::max<int64_t>(1, budget));
  const auto keep = torch::arange(0, n, stride);
  const auto gt = g.gt.index_select(0, keep);
  const float radius = scene_radius(gt);
  std::ostringstream js;
  js << "window.VIDPROBE_CLOUD = {gt: " << json_numbers(gt)
     << ", pred: " << json_numbers(g.pred.index_select(0, keep))
     << ", rgb: " << json_numbers(g.colours.index_select(0, keep), 0)
     << ", error: " << json_numbers(g.error.index_select(0, keep))
     << ", gt_cameras: " << json_numbers(g.gt_cameras)
     << ", pred_cameras: " << json_numbers(g.pred_cameras)
     << ", intrinsics: " << json_numbers(g.intrinsics) << ", width: " << g.width
     << ", height: " << g.height
     << ", centre: " << json_numbers(gt.size(0) ? gt.mean(0) : torch::zeros({3}))
     << ", radius: " << radius << ", frustum_depth: " << 0.1 * radius
     << ", point_size: " << radius / 150 << "};\n";
  return js.str();
}

std::string viewer_page(const std::string& title, const std::string& name, std::int64_t points) {
  return "<!doctype html><html><head><meta charset='utf-8'><title>" + html_escape(title) +
         "</title><style>body{font-family:sans-serif;margin:1em}canvas{border:1px solid "
         "#ccc;cursor:grab}</style></head><body><h2>" +
         html_escape(title) +
         "</h2><p><label><input type='checkbox' id='show-gt' checked> ground truth</label> "
         "<label><input type='checkbox' id='show-pred' checked> prediction (Sim(3)-aligned)"
         "</label> <label><input type='checkbox' id='show-cameras' checked> cameras (GT green, "
         "predicted orange)</label> colour by <select id='colour'><option value='rgb'>RGB"
         "</option><option value='error'>error (prediction; blue low, red high)</option>"
         "</select></p><p id='error-legend' hidden>error: 0 <span style='display:inline-block;"
         "width:160px;height:10px;vertical-align:middle;background:linear-gradient(to right,"
         "#00f,#ff0,#f00)'></span> <span id='error-top'></span> (distance to the GT point, GT "
         "units; red from the 95th percentile up)</p>"
         "<canvas id='view' width='900' height='600'></canvas><p>" +
         std::to_string(points) +
         " points per cloud. Drag to orbit, wheel to zoom.</p><script src='three.min.js'>"
         "</script><script src='" +
         html_escape(name) + ".js'></script><script src='viewer.js'></script></body></html>\n";
}

std::vector<fs::path> geometry_files(const fs::path& eval_dir, int clips) {
  std::vector<fs::path> files;
  if (!fs::is_directory(eval_dir)) return files;
  for (const auto& entry : fs::directory_iterator(eval_dir))
    if (entry.path().filename().string().ends_with("_geometry.safetensors"))
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (static_cast<int>(files.size()) > clips) files.resize(static_cast<std::size_t>(clips));
  return files;
}

}  // namespace

fs::path three_js_source() {
  if (const char* path = std::getenv("VIDPROBE_THREE_JS"); path && fs::exists(path)) return path;
  const fs::path debian = "/usr/share/javascript/three/three.min.js";
  return fs::exists(debian) ? debian : fs::path();
}

std::vector<ClipViewer> write_clip_viewers(const RunResult& run, const std::string& prefix,
                                           const fs::path& out_dir, int clips,
                                           std::int64_t point_budget) {
  std::vector<ClipViewer> viewers;
  const auto three = three_js_source();
  fs::create_directories(out_dir / "exports");
  if (!three.empty()) fs::create_directories(out_dir / "viewer");
  for (const auto& file : geometry_files(run.eval_dir, clips)) {
    const auto clip = file.filename().string().substr(
        0, file.filename().string().size() - std::string("_geometry.safetensors").size());
    const auto name = prefix + "_" + clip;
    const auto geometry = read_geometry(file);
    ClipViewer viewer{clip, "", write_exports(geometry, name, out_dir),
                      std::min(point_budget, geometry.gt.size(0))};
    if (!three.empty()) {
      write_file_atomically(out_dir / "viewer" / (name + ".js"),
                            viewer_data(geometry, point_budget));
      write_file_atomically(out_dir / "viewer" / (name + ".html"),
                            viewer_page(run.label + ": " + clip, name, viewer.points));
      viewer.page = "viewer/" + name + ".html";
    }
    viewers.push_back(std::move(viewer));
  }
  if (!three.empty() && !viewers.empty()) {
    write_file_atomically(out_dir / "viewer" / "three.min.js", read_file(three));
    write_file_atomically(out_dir / "viewer" / "viewer.js", viewer_script());
  }
  return viewers;
}

}  // namespace vidprobe::report
