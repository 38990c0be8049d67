#include "vidprobe/probe/visualize.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/ply.h"

namespace vidprobe::probe {

std::array<std::uint8_t, 3> viridis(double t) {
  static constexpr std::array<std::array<int, 3>, 11> kSamples = {{{68, 1, 84},
                                                                   {72, 36, 117},
                                                                   {65, 68, 135},
                                                                   {53, 95, 141},
                                                                   {42, 120, 142},
                                                                   {33, 145, 140},
                                                                   {34, 168, 132},
                                                                   {68, 191, 112},
                                                                   {122, 209, 81},
                                                                   {189, 223, 38},
                                                                   {253, 231, 37}}};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 10.0;
  const int i = std::min(static_cast<int>(t), 9);
  const double f = t - i;
  std::array<std::uint8_t, 3> rgb{};
  for (int c = 0; c < 3; ++c)
    rgb[c] =
        static_cast<std::uint8_t>(std::lround(kSamples[i][c] * (1 - f) + kSamples[i + 1][c] * f));
  return rgb;
}

ImageU8 colorize_depth(const torch::Tensor& depth, const torch::Tensor& valid, double lo,
                       double hi) {
  const auto d = depth.to(torch::kCPU, torch::kFloat64).contiguous();
  const auto v = valid.to(torch::kCPU, torch::kBool).contiguous();
  const int h = static_cast<int>(d.size(0)), w = static_cast<int>(d.size(1));
  ImageU8 image(w, h, 3);
  const auto* dp = d.data_ptr<double>();
  const auto* vp = v.data_ptr<bool>();
  const double span = hi > lo ? hi - lo : 1.0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const auto i = static_cast<std::size_t>(y) * w + x;
      if (!vp[i]) continue;
      const auto rgb = viridis((dp[i] - lo) / span);
      for (int c = 0; c < 3; ++c) image.at(x, y, c) = rgb[c];
    }
  return image;
}

namespace {

constexpr double kErrorScale = 0.3;  // relative error mapped to the colour ramp's top (30 %)

// (|pred - gt| / gt on valid pixels) as colours over [0, kErrorScale].
ImageU8 colorize_error(const torch::Tensor& gt, const torch::Tensor& pred,
                       const torch::Tensor& valid) {
  const auto g = gt.to(torch::kCPU, torch::kFloat64);
  const auto relative = (pred.to(torch::kCPU, torch::kFloat64) - g).abs() / g.clamp_min(1e-9);
  return colorize_depth(relative, valid, 0.0, kErrorScale);
}

// The 2nd and 98th percentiles of `values` (any shape); {0, 1} when empty.
std::pair<double, double> percentile_range(const torch::Tensor& values) {
  if (values.numel() == 0) return {0.0, 1.0};
  const auto flat = values.to(torch::kFloat64).flatten();
  return {torch::quantile(flat, 0.02).item<double>(), torch::quantile(flat, 0.98).item<double>()};
}

// The ramp under columns [first, last] of a panel whose tiles are `tile` wide.
void draw_colour_bar(ImageU8& panel, int first, int last, int tile, int gap, int y0, int height) {
  const int x0 = first * (tile + gap), x1 = last * (tile + gap) + tile;
  for (int x = x0; x < x1; ++x) {
    const auto rgb = viridis(static_cast<double>(x - x0) / std::max(1, x1 - x0 - 1));
    for (int y = y0; y < y0 + height; ++y)
      for (int c = 0; c < 3; ++c) panel.at(x, y, c) = rgb[c];
  }
}

ImageU8 rgb_tile(const torch::Tensor& image) {
  const auto hwc = image.to(torch::kCPU, torch::kUInt8).permute({1, 2, 0}).contiguous();
  ImageU8 tile(static_cast<int>(hwc.size(1)), static_cast<int>(hwc.size(0)), 3);
  std::memcpy(tile.pixels.data(), hwc.data_ptr<std::uint8_t>(), tile.pixels.size());
  return tile;
}

}  // namespace

nlohmann::json DepthPanel::layout() const {
  nlohmann::json bars_json = nlohmann::json::array();
  for (const auto& bar : bars)
    bars_json.push_back({{"label", bar.label},
                         {"unit", bar.unit},
                         {"first_column", bar.first_column},
                         {"last_column", bar.last_column},
                         {"lo", bar.lo},
                         {"hi", bar.hi},
                         {"log", bar.log}});
  return {{"width", image.width},
          {"height", image.height},
          {"tile_width", tile_width},
          {"tile_height", tile_height},
          {"gap", gap},
          {"frames", frames},
          {"bar_height", bar_height},
          {"columns", column_titles},
          {"bars", bars_json}};
}

DepthPanel depth_comparison_panel(const torch::Tensor& rgb, const torch::Tensor& gt_depth,
                                  const torch::Tensor& pred_depth, const torch::Tensor& valid,
                                  const torch::Tensor& confidence) {
  const int64_t S = gt_depth.size(0), H = gt_depth.size(1), W = gt_depth.size(2);
  DepthPanel panel;
  panel.tile_width = static_cast<int>(W);
  panel.tile_height = static_cast<int>(H);
  panel.gap = 2;
  panel.frames = static_cast<int>(S);
  panel.bar_height = std::max<int>(4, static_cast<int>(H / 12));
  if (rgb.defined() && rgb.size(0) == S) panel.column_titles.push_back("input");
  const int gt_column = static_cast<int>(panel.column_titles.size());
  for (const char* title : {"GT depth", "predicted depth", "relative error"})
    panel.column_titles.push_back(title);
  if (confidence.defined()) panel.column_titles.push_back("confidence");

  // One scale per clip, so that frames compare with each other as well as GT with prediction.
  const auto v = valid.to(torch::kCPU, torch::kBool);
  const auto g = gt_depth.to(torch::kCPU, torch::kFloat64);
  const auto [lo, hi] = percentile_range(g.masked_select(v));
  panel.bars.push_back(
      {"depth (GT and prediction)", "dataset units", gt_column, gt_column + 1, lo, hi, false});
  panel.bars.push_back({"relative depth error |pred - GT| / GT", "% of GT depth", gt_column + 2,
                        gt_column + 2, 0.0, 100 * kErrorScale, false});
  torch::Tensor log_confidence;
  if (confidence.defined()) {
    log_confidence = confidence.to(torch::kCPU, torch::kFloat64).clamp_min(1e-9).log();
    const auto [c_lo, c_hi] = percentile_range(log_confidence);
    panel.bars.push_back({"predicted confidence", "log scale", gt_column + 3, gt_column + 3,
                          std::exp(c_lo), std::exp(c_hi), true});
  }

  const int gap = panel.gap, columns = static_cast<int>(panel.column_titles.size());
  const int width = static_cast<int>(columns * W + (columns - 1) * gap);
  panel.image = ImageU8(width, static_cast<int>(S * (H + gap) + panel.bar_height), 3, 255);
  auto blit = [&](const ImageU8& tile, int x0, int y0) {
    for (int y = 0; y < tile.height; ++y)
      for (int x = 0; x < tile.width; ++x)
        for (int c = 0; c < 3; ++c) panel.image.at(x0 + x, y0 + y, c) = tile.at(x, y, c);
  };
  const auto all_valid = torch::ones({H, W}, torch::kBool);
  for (int64_t s = 0; s < S; ++s) {
    std::vector<ImageU8> tiles;
    if (gt_column == 1) tiles.push_back(rgb_tile(rgb[s]));
    tiles.push_back(colorize_depth(g[s], v[s], lo, hi));
    tiles.push_back(colorize_depth(pred_depth[s], all_valid, lo, hi));
    tiles.push_back(colorize_error(g[s], pred_depth[s], v[s]));
    if (confidence.defined()) {
      const auto& bar = panel.bars.back();
      tiles.push_back(
          colorize_depth(log_confidence[s], all_valid, std::log(bar.lo), std::log(bar.hi)));
    }
    for (std::size_t column = 0; column < tiles.size(); ++column)
      blit(tiles[column], static_cast<int>(column * (W + gap)), static_cast<int>(s * (H + gap)));
  }
  for (const auto& bar : panel.bars)
    draw_colour_bar(panel.image, bar.first_column, bar.last_column, panel.tile_width, gap,
                    static_cast<int>(S * (H + gap)), panel.bar_height);
  return panel;
}

void write_ply(const std::filesystem::path& path, const torch::Tensor& points,
               const torch::Tensor& colors) {
  require(points.dim() == 2 && points.size(1) == 3, "write_ply: points must be (N, 3)");
  require(colors.sizes() == points.sizes(), "write_ply: colors must be (N, 3) like points");
  const auto p = points.to(torch::kCPU, torch::kFloat32).contiguous();
  const auto c = colors.to(torch::kCPU, torch::kUInt8).contiguous();
  PlyData data;
  data.xyz.assign(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  data.rgb.assign(c.data_ptr<std::uint8_t>(), c.data_ptr<std::uint8_t>() + c.numel());
  vidprobe::write_ply(path, data);
}

}  // namespace vidprobe::probe
