#include "vidprobe/nn/rotary.h"

#include "vidprobe/core/error.h"

namespace vidprobe::nn {
namespace {

// (a, b) -> (b, a) for every rotated pair; one copy.
torch::Tensor swap_pairs(const torch::Tensor& x, const RotaryAngles& angles) {
  if (angles.pairing == RotaryAngles::Pairing::kInterleaved)
    return x.unflatten(-1, {-1, 2}).flip(-1).flatten(-2);
  return x.unflatten(-1, {angles.axes, 2, -1}).flip(-2).flatten(-3);
}

// -1 on the channel of each pair that receives -b, +1 on the other.
torch::Tensor pair_signs(const RotaryAngles& angles, int64_t head_dim,
                         const torch::TensorOptions& options) {
  auto signs = torch::ones({head_dim}, options);
  if (angles.pairing == RotaryAngles::Pairing::kInterleaved)
    signs.slice(0, 0, head_dim, 2).fill_(-1);
  else
    signs.view({angles.axes, 2, -1}).select(1, 0).fill_(-1);
  return signs;
}

// (B, N) positions along one axis -> (B, 1, N, d) angles, each frequency used by channels i and
// i + d / 2.
torch::Tensor axis_angles(const torch::Tensor& position, int64_t d, double base) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(position.device());
  const auto inv_freq = torch::pow(base, -torch::arange(0, d, 2, options) / static_cast<double>(d));
  const auto angles = position.to(torch::kFloat32).unsqueeze(-1) * inv_freq;
  return torch::cat({angles, angles}, -1).unsqueeze(1);
}

}  // namespace

torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryAngles& angles) {
  const auto prepared = in_dtype(angles, x.scalar_type());
  return x * prepared.cos + swap_pairs(x, angles) * prepared.signed_sin;
}

RotaryAngles in_dtype(const RotaryAngles& angles, torch::ScalarType dtype) {
  if (angles.signed_sin.defined() && angles.signed_sin.scalar_type() == dtype &&
      angles.cos.scalar_type() == dtype)
    return angles;  // prepared already: the tables are shared, nothing is computed
  const auto sin = angles.sin.to(dtype);
  return {angles.cos.to(dtype), sin, angles.pairing, angles.axes,
          sin * pair_signs(angles, sin.size(-1), sin.options())};
}

RotaryAngles rope_2d(const torch::Tensor& positions, int64_t head_dim, double base) {
  require(head_dim % 4 == 0,
          "2D RoPE needs a head width divisible by 4, got " + std::to_string(head_dim));
  require(positions.dim() == 3 && positions.size(-1) == 2,
          "2D RoPE positions must be (B, N, 2), got " + c10::str(positions.sizes()));
  const int64_t half = head_dim / 2;
  const auto angles = torch::cat({axis_angles(positions.select(-1, 0), half, base),
                                  axis_angles(positions.select(-1, 1), half, base)},
                                 -1);
  return {angles.cos(), angles.sin(), RotaryAngles::Pairing::kSplitHalves, 2};
}

torch::Tensor grid_positions(int64_t h, int64_t w, torch::Device device) {
  const auto options = torch::TensorOptions().dtype(torch::kLong).device(device);
  const auto grid = torch::meshgrid({torch::arange(h, options), torch::arange(w, options)}, "ij");
  return torch::stack({grid[0].reshape(-1), grid[1].reshape(-1)}, -1).unsqueeze(0);
}

RotaryAngles rope_axes_interleaved(const torch::Tensor& positions,
                                   const std::vector<int64_t>& axis_widths, double theta) {
  require(positions.dim() == 2 && positions.size(1) == static_cast<int64_t>(axis_widths.size()),
          "RoPE positions must be (tokens, " + std::to_string(axis_widths.size()) + "), got " +
              c10::str(positions.sizes()));
  const auto options = torch::TensorOptions().dtype(torch::kFloat64).device(positions.device());
  std::vector<torch::Tensor> per_axis;
  for (std::size_t a = 0; a < axis_widths.size(); ++a) {
    const int64_t width = axis_widths[a];
    require(width > 0 && width % 2 == 0, "RoPE axis " + std::to_string(a) +
                                             " needs an even width, got " + std::to_string(width));
    const auto inv_freq =
        torch::pow(theta, -torch::arange(0, width, 2, options) / static_cast<double>(width));
    const auto position = positions.select(1, static_cast<int64_t>(a)).to(torch::kFloat64);
    per_axis.push_back(torch::outer(position, inv_freq).repeat_interleave(2, 1));
  }
  const auto angles = torch::cat(per_axis, 1).unsqueeze(0).unsqueeze(0);
  return {angles.cos().to(torch::kFloat32), angles.sin().to(torch::kFloat32),
          RotaryAngles::Pairing::kInterleaved, 1};
}

RotaryAngles rope_axes_split_halves(const torch::Tensor& positions,
                                    const std::vector<int64_t>& axis_widths, double theta) {
  require(positions.dim() == 3 && positions.size(2) == static_cast<int64_t>(axis_widths.size()),
          "RoPE positions must be (B, tokens, " + std::to_string(axis_widths.size()) + "), got " +
              c10::str(positions.sizes()));
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(positions.device());
  std::vector<torch::Tensor> per_axis;
  for (std::size_t a = 0; a < axis_widths.size(); ++a) {
    const int64_t width = axis_widths[a];
    require(width > 0 && width % 2 == 0, "RoPE axis " + std::to_string(a) +
                                             " needs an even width, got " + std::to_string(width));
    const auto inv_freq =
        1.0 / torch::pow(theta, torch::arange(0, width, 2, options) / static_cast<double>(width));
    const auto position = positions.select(2, static_cast<int64_t>(a)).to(torch::kFloat32);
    per_axis.push_back(position.unsqueeze(-1) * inv_freq);
  }
  const auto half = torch::cat(per_axis, -1);
  const auto angles = torch::cat({half, half}, -1).unsqueeze(1);
  return {angles.cos(), angles.sin(), RotaryAngles::Pairing::kSplitHalves, 1};
}

RotaryAngles with_unrotated_prefix(const RotaryAngles& angles, int64_t tokens) {
  auto shape = angles.cos.sizes().vec();
  shape[shape.size() - 2] = tokens;
  const auto prefixed = [&shape](const torch::Tensor& table, double value) {
    if (!table.defined()) return table;
    return torch::cat({torch::full(shape, value, table.options()), table}, -2);
  };
  return {prefixed(angles.cos, 1), prefixed(angles.sin, 0), angles.pairing, angles.axes,
          prefixed(angles.signed_sin, 0)};
}

RotaryAngles regroup(const RotaryAngles& angles, at::IntArrayRef shape) {
  return {angles.cos.reshape(shape), angles.sin.reshape(shape), angles.pairing, angles.axes,
          angles.signed_sin.defined() ? angles.signed_sin.reshape(shape) : torch::Tensor()};
}

}  // namespace vidprobe::nn
