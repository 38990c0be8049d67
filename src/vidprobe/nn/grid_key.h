#pragma once
// What a table kept for "the last token grid asked" (position tables, RoPE angles) was made for:
// the grid and the device and dtype it lives in. Models keep one such table because every run
// of an extraction asks for the same grid; a run asking for another key makes it again.
#include <torch/torch.h>

#include <cstdint>
#include <utility>
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

// The one value kept for the last key asked: get() makes it again, with `make`, when asked for
// another key; a `make` that throws leaves the kept value as it was.
template <class Value>
class KeptForGrid {
 public:
  template <class Make>
  const Value& get(GridKey key, Make&& make) {
    if (key_ != key) {
      value_ = std::forward<Make>(make)();
      key_ = std::move(key);
    }
    return value_;
  }
  // Frees the kept value (its memory; the next get() makes it again).
  void release() {
    key_ = {};
    value_ = Value{};
  }

 private:
  GridKey key_;
  Value value_{};
};

}  // namespace vidprobe::nn
