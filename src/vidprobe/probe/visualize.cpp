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

constexpr double kErrorScale = 0.3;  // AbsRel mapped to the colour ramp's top

// (|pred - gt| / gt on valid pixels) as colours over [0, kErrorScale].
ImageU8 colorize_error(const torch::Tensor& gt, const torch::Tensor& pred,
                       const torch::Tensor& valid) {
  const auto g = gt.to(torch::kCPU, torch::kFloat64);
  const auto relative = (pred.to(torch::kCPU, torch::kFloat64) - g).abs() / g.clamp_min(1e-9);
  return colorize_depth(relative, valid, 0.0, kErrorScale);
}

// log(confidence) over the frame's 2nd-98th percentile.
ImageU8 colorize_confidence(const torch::Tensor& confidence) {
  const auto c = confidence.to(torch::kCPU, torch::kFloat64).clamp_min(1e-9).log();
  const double lo = torch::quantile(c.flatten(), 0.02).item<double>();
  const double hi = torch::quantile(c.flatten(), 0.98).item<double>();
  return colorize_depth(c, torch::ones_like(c, torch::kBool), lo, hi);
}

// The ramp every column uses, low (left) to high (right).
ImageU8 colour_bar(int width, int height) {
  ImageU8 bar(width, height, 3);
  for (int x = 0; x < width; ++x) {
    const auto rgb = viridis(static_cast<double>(x) / std::max(1, width - 1));
    for (int y = 0; y < height; ++y)
      for (int c = 0; c < 3; ++c) bar.at(x, y, c) = rgb[c];
  }
  return bar;
}

ImageU8 rgb_tile(const torch::Tensor& image) {
  const auto hwc = image.to(torch::kCPU, torch::kUInt8).permute({1, 2, 0}).contiguous();
  ImageU8 tile(static_cast<int>(hwc.size(1)), static_cast<int>(hwc.size(0)), 3);
  std::memcpy(tile.pixels.data(), hwc.data_ptr<std::uint8_t>(), tile.pixels.size());
  return tile;
}

}  // namespace

ImageU8 depth_comparison_panel(const torch::Tensor& rgb, const torch::Tensor& gt_depth,
                               const torch::Tensor& pred_depth, const torch::Tensor& valid,
                               const torch::Tensor& confidence) {
  const int64_t S = gt_depth.size(0), H = gt_depth.size(1), W = gt_depth.size(2);
  const bool with_rgb = rgb.defined() && rgb.size(0) == S;
  const int columns = 3 + (with_rgb ? 1 : 0) + (confidence.defined() ? 1 : 0);
  const int gap = 2, bar_height = std::max<int>(4, static_cast<int>(H / 12));
  const int width = static_cast<int>(columns * W + (columns - 1) * gap);
  ImageU8 panel(width, static_cast<int>(S * (H + gap) + bar_height), 3, 255);
  auto blit = [&](const ImageU8& tile, int x0, int y0) {
    for (int y = 0; y < tile.height; ++y)
      for (int x = 0; x < tile.width; ++x)
        for (int c = 0; c < 3; ++c) panel.at(x0 + x, y0 + y, c) = tile.at(x, y, c);
  };
  const auto all_valid = torch::ones({H, W}, torch::kBool);
  for (int64_t s = 0; s < S; ++s) {
    const auto v = valid[s].to(torch::kCPU, torch::kBool);
    const auto g = gt_depth[s].to(torch::kCPU, torch::kFloat64);
    double lo = 0, hi = 1;
    if (v.any().item<bool>()) {
      const auto values = g.masked_select(v);
      lo = torch::quantile(values, 0.02).item<double>();
      hi = torch::quantile(values, 0.98).item<double>();
    }
    std::vector<ImageU8> tiles;
    if (with_rgb) tiles.push_back(rgb_tile(rgb[s]));
    tiles.push_back(colorize_depth(g, v, lo, hi));  // GT and prediction share one scale
    tiles.push_back(colorize_depth(pred_depth[s], all_valid, lo, hi));
    tiles.push_back(colorize_error(g, pred_depth[s], v));
    if (confidence.defined()) tiles.push_back(colorize_confidence(confidence[s]));
    for (std::size_t column = 0; column < tiles.size(); ++column)
      blit(tiles[column], static_cast<int>(column * (W + gap)), static_cast<int>(s * (H + gap)));
  }
  blit(colour_bar(width, bar_height), 0, static_cast<int>(S * (H + gap)));
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
