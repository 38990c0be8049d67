#pragma once
// Pictures and point clouds of probe predictions for reports: depth maps colour-coded with
// viridis next to the GT, and PLY point clouds with the GT and the (Sim(3)-aligned) prediction
// in two colours.
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/io/image.h"

namespace vidprobe::probe {

// t in [0, 1] (clamped) -> RGB of matplotlib's viridis (piecewise linear through 11 samples).
std::array<std::uint8_t, 3> viridis(double t);

// Colour-codes depth (H, W) in [lo, hi] (invalid pixels black).
ImageU8 colorize_depth(const torch::Tensor& depth, const torch::Tensor& valid, double lo,
                       double hi);

// A colour bar of a depth panel: the viridis ramp under columns [first, last] maps lo..hi
// (linearly, or linearly in log(value) when `log`), in `unit`. The report draws its numbers.
struct PanelColourBar {
  std::string label;  // e.g. "depth (GT and prediction)"
  std::string unit;   // e.g. "dataset units", "% of GT depth"
  int first_column = 0, last_column = 0;
  double lo = 0, hi = 1;
  bool log = false;
};

// The picture and where its parts lie, so that `vidprobe report` can label the columns and put
// numbers on the colour bars (`<clip>_depth.json` next to the PNG).
struct DepthPanel {
  ImageU8 image;
  int tile_width = 0, tile_height = 0, gap = 0, frames = 0, bar_height = 0;
  std::vector<std::string> column_titles;
  std::vector<PanelColourBar> bars;
  nlohmann::json layout() const;  // the fields above, without the image
};

// One row per frame: RGB image (when defined for every frame) | GT depth | predicted depth (one
// colour range for the clip: the 2nd to 98th percentile of the valid GT of all frames) | relative
// depth error on valid pixels (0 to 30 %) | predicted confidence (log, the clip's 2nd to 98th
// percentile; when defined). At the bottom, under the colourised columns, their colour bars (one
// spanning GT and prediction, which share it). rgb (S, 3, H, W) uint8, confidence (S, H, W).
DepthPanel depth_comparison_panel(const torch::Tensor& rgb, const torch::Tensor& gt_depth,
                                  const torch::Tensor& pred_depth, const torch::Tensor& valid,
                                  const torch::Tensor& confidence = {});

// Binary little-endian PLY with x y z red green blue; points (N, 3), colors (N, 3) uint8.
void write_ply(const std::filesystem::path& path, const torch::Tensor& points,
               const torch::Tensor& colors);

}  // namespace vidprobe::probe
