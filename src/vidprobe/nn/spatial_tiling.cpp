#include "vidprobe/nn/spatial_tiling.h"

#include <algorithm>
#include <string>
#include <vector>

#include "vidprobe/core/error.h"

namespace vidprobe::nn {

TileAxis overlapping_tile_axis(int64_t input_tile, int64_t output_tile, double overlap) {
  const auto blend = static_cast<int64_t>(static_cast<double>(output_tile) * overlap);
  return {.tile = input_tile,
          .stride = static_cast<int64_t>(static_cast<double>(input_tile) * (1 - overlap)),
          .blend = blend,
          .keep = output_tile - blend};
}

void blend_tiles(const torch::Tensor& a, torch::Tensor& b, int64_t extent, int64_t dim) {
  extent = std::min({a.size(dim), b.size(dim), extent});
  for (int64_t y = 0; y < extent; ++y) {
    const double w = static_cast<double>(y) / static_cast<double>(extent);
    b.select(dim, y).copy_(a.select(dim, a.size(dim) - extent + y) * (1 - w) +
                           b.select(dim, y) * w);
  }
}

torch::Tensor tiled_spatial(const torch::Tensor& x, const SpatialTiling& tiling,
                            const std::function<torch::Tensor(const torch::Tensor&)>& run_tile) {
  const auto& [height, width] = tiling;
  // A zero stride (a tile too small for its overlap factor) would never advance.
  require(height.stride > 0 && width.stride > 0 && height.tile > 0 && width.tile > 0,
          "spatial tiling: tiles " + std::to_string(height.tile) + " x " +
              std::to_string(width.tile) + " with strides " + std::to_string(height.stride) +
              " x " + std::to_string(width.stride) + " must be positive");
  std::vector<std::vector<torch::Tensor>> rows;
  for (int64_t i = 0; i < x.size(-2); i += height.stride) {
    rows.emplace_back();
    for (int64_t j = 0; j < x.size(-1); j += width.stride)
      rows.back().push_back(run_tile(x.slice(-2, i, i + height.tile).slice(-1, j, j + width.tile)));
  }
  std::vector<torch::Tensor> stitched_rows;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::vector<torch::Tensor> stitched;
    for (std::size_t j = 0; j < rows[i].size(); ++j) {
      auto& current = rows[i][j];
      if (i > 0) blend_tiles(rows[i - 1][j], current, height.blend, -2);
      if (j > 0) blend_tiles(rows[i][j - 1], current, width.blend, -1);
      stitched.push_back(current.slice(-2, 0, height.keep).slice(-1, 0, width.keep));
    }
    stitched_rows.push_back(torch::cat(stitched, -1));
  }
  return torch::cat(stitched_rows, -2);
}

}  // namespace vidprobe::nn
