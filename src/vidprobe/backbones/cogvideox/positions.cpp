#include "vidprobe/backbones/cogvideox/positions.h"

#include <cmath>

#include "vidprobe/core/error.h"

namespace vidprobe::backbones::cogvideox {
namespace {

// (M,) positions -> (M, width) [sin | cos] with frequencies 10000^(-k / (width / 2)).
torch::Tensor sincos_1d(const torch::Tensor& positions, int64_t width) {
  const int64_t half = width / 2;
  const auto omega = torch::pow(10000.0, -torch::arange(half, torch::kFloat64) / (half * 1.0));
  const auto angles = torch::outer(positions.to(torch::kFloat64), omega);
  return torch::cat({angles.sin(), angles.cos()}, 1);
}

// n positions start + i * step, step taking the last one to `last` (torch.linspace).
torch::Tensor linspace_positions(double start, double last, int64_t n) {
  return torch::linspace(start, last, n, torch::kFloat32);
}

}  // namespace

torch::Tensor sincos_position_table(const TransformerConfig& config, int64_t frames, int64_t rows,
                                    int64_t cols) {
  const int64_t dim = config.dim(), temporal = dim / 4, spatial_half = 3 * dim / 8;
  const auto grid = [](int64_t n, double scale) {
    return torch::arange(n, torch::kFloat32) / scale;  // float32, as the reference's grid
  };
  const auto row = grid(rows, config.spatial_interpolation_scale);
  const auto col = grid(cols, config.spatial_interpolation_scale);
  const auto time = grid(frames, config.temporal_interpolation_scale);
  const auto spatial = torch::cat({sincos_1d(col.repeat({rows}), spatial_half),
                                   sincos_1d(row.repeat_interleave(cols), spatial_half)},
                                  1);  // (rows * cols, 3 dim / 4), row-major tokens
  const auto video =
      torch::cat({sincos_1d(time, temporal).unsqueeze(1).expand({-1, rows * cols, -1}),
                  spatial.unsqueeze(0).expand({frames, -1, -1})},
                 2)
          .reshape({frames * rows * cols, dim});
  const auto text = torch::zeros({config.max_text_tokens, dim}, torch::kFloat64);
  return torch::cat({text, video}, 0).unsqueeze(0).to(torch::kFloat32);
}

CropRegion rope_crop_region(const TransformerConfig& config, int64_t rows, int64_t cols) {
  const double base_rows = config.sample_height / config.patch;
  const double base_cols = config.sample_width / config.patch;
  const double h = static_cast<double>(rows), w = static_cast<double>(cols);
  double resized_rows = base_rows, resized_cols = base_cols;
  // std::nearbyint rounds halves to even in the default rounding mode, like Python's round.
  if (h / w > base_rows / base_cols)
    resized_cols = std::nearbyint(base_rows / h * w);
  else
    resized_rows = std::nearbyint(base_cols / w * h);
  const double top = std::nearbyint((base_rows - resized_rows) / 2.0);
  const double left = std::nearbyint((base_cols - resized_cols) / 2.0);
  return {top, left, top + resized_rows, left + resized_cols};
}

torch::Tensor rope_positions(const TransformerConfig& config, int64_t frames, int64_t rows,
                             int64_t cols) {
  const auto region = rope_crop_region(config, rows, cols);
  const auto time =
      linspace_positions(0.0, frames * (frames - 1.0) / frames, frames) * config.rope_time_scale;
  const auto row = linspace_positions(region.top, region.bottom * (rows - 1.0) / rows, rows);
  const auto col = linspace_positions(region.left, region.right * (cols - 1.0) / cols, cols);
  const auto grid = torch::meshgrid({time, row, col}, "ij");
  return torch::stack({grid[0].flatten(), grid[1].flatten(), grid[2].flatten()}, 1);
}

torch::Tensor timestep_sinusoid(const torch::Tensor& timesteps, int64_t dim) {
  require(dim % 2 == 0, "timestep embedding width must be even, got " + std::to_string(dim));
  const int64_t half = dim / 2;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(timesteps.device());
  const auto exponent =
      -std::log(10000.0) * torch::arange(half, options) / static_cast<double>(half);
  const auto angles =
      timesteps.to(torch::kFloat32).flatten().unsqueeze(1) * exponent.exp().unsqueeze(0);
  return torch::cat({angles.cos(), angles.sin()}, 1);
}

}  // namespace vidprobe::backbones::cogvideox
