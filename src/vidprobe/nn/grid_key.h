#pragma once
// What a table kept for "the last token grid asked" (position tables, RoPE angles) was made for:
// the grid and the device and dtype it lives in. Models keep one such table because every run
// of an extraction asks for the same grid; a run asking for another key makes it again.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace vidprobe::nn {

struct GridKey {
  std::vector<int64_t> grid;  // empty: nothing kept yet
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;

  static GridKey of(std::vector<int64_t> grid, const torch::TensorOptions& like) {
    return {std::move(grid), like.device(), like.dtype().toScalarType()};
  }
  bool operator==(const GridKey&) const = default;
};

}  // namespace vidprobe::nn
