#include "vidprobe/backbones/wan/rope.h"

#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {
namespace {

// (positions, part / 2) angles position * theta^(-2i / part), float64.
torch::Tensor axis_angles(int part, int64_t positions) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  const auto exponents = torch::arange(0, part, 2, options) / static_cast<double>(part);
  const auto inverse_frequencies = 1.0 / torch::pow(10000.0, exponents);
  return torch::outer(torch::arange(positions, options), inverse_frequencies);
}

}  // namespace

RopeSplit rope_split(int head_dim) {
  require(head_dim % 2 == 0 && head_dim >= 6,
          "rotary head dim must be even and at least 6, got " + std::to_string(head_dim));
  const int spatial = 2 * (head_dim / 6);
  return {head_dim - 2 * spatial, spatial, spatial};
}

RopeTables rope_tables(int head_dim, int64_t f, int64_t h, int64_t w, int max_positions,
                       torch::Device device) {
  require(f <= max_positions && h <= max_positions && w <= max_positions,
          "token grid " + std::to_string(f) + "x" + std::to_string(h) + "x" + std::to_string(w) +
              " exceeds the rotary table of " + std::to_string(max_positions) +
              " positions per axis");
  const auto split = rope_split(head_dim);
  const auto frame = axis_angles(split.frames, f).view({f, 1, 1, -1}).expand({f, h, w, -1});
  const auto row = axis_angles(split.height, h).view({1, h, 1, -1}).expand({f, h, w, -1});
  const auto column = axis_angles(split.width, w).view({1, 1, w, -1}).expand({f, h, w, -1});
  const auto angles = torch::cat({frame, row, column}, -1).reshape({f * h * w, head_dim / 2});
  // Computed on the device: the host would spend milliseconds on cos/sin of every token.
  const auto on_device = angles.to(device);
  return {torch::complex(on_device.cos().to(torch::kFloat32), on_device.sin().to(torch::kFloat32))
              .unsqueeze(1)};
}

}  // namespace vidprobe::backbones::wan
