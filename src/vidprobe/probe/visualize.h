#pragma once
// Pictures and point clouds of probe predictions for reports: depth maps colour-coded with
// viridis next to the GT, and PLY point clouds with the GT and the (Sim(3)-aligned) prediction
// in two colours.
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <filesystem>

#include "vidprobe/io/image.h"

namespace vidprobe::probe {

// t in [0, 1] (clamped) -> RGB of matplotlib's viridis (piecewise linear through 11 samples).
std::array<std::uint8_t, 3> viridis(double t);

// Colour-codes depth (H, W) in [lo, hi] (invalid pixels black).
ImageU8 colorize_depth(const torch::Tensor& depth, const torch::Tensor& valid, double lo,
                       double hi);

// One row per frame: RGB image (when defined for every frame) | GT depth | predicted depth (one
// colour range per frame: the 2nd to 98th percentile of the valid GT) | relative depth error on
// valid pixels (0 to 0.3) | predicted confidence (log, when defined), and at the bottom the colour
// bar every column uses (low left, high right). rgb (S, 3, H, W) uint8, confidence (S, H, W).
ImageU8 depth_comparison_panel(const torch::Tensor& rgb, const torch::Tensor& gt_depth,
                               const torch::Tensor& pred_depth, const torch::Tensor& valid,
                               const torch::Tensor& confidence = {});

// Binary little-endian PLY with x y z red green blue; points (N, 3), colors (N, 3) uint8.
void write_ply(const std::filesystem::path& path, const torch::Tensor& points,
               const torch::Tensor& colors);

}  // namespace vidprobe::probe
