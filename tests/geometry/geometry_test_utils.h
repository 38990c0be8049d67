#pragma once
// Random rotations, poses and similarities for the geometry and metrics tests (float64, CPU).
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <numbers>

#include "vidprobe/geometry/camera.h"

namespace vidprobe::testing {

inline double degrees_to_radians(double degrees) {
  return degrees * std::numbers::pi / 180.0;
}

// Uniformly random unit quaternions (x, y, z, w), w >= 0, shape (count, 4).
inline torch::Tensor random_quaternions(int64_t count) {
  auto q = torch::randn({count, 4}, torch::kDouble);
  q = q / q.norm(2, -1, true);
  return torch::where(q.select(-1, 3).unsqueeze(-1) < 0, -q, q);
}

inline torch::Tensor random_rotations(int64_t count) {
  return geometry::quaternion_to_rotation(random_quaternions(count));
}

// Rotation by angle_deg about the given axis (Rodrigues), (3, 3) float64.
inline torch::Tensor axis_angle_rotation(std::array<double, 3> axis, double angle_deg) {
  const auto a = torch::tensor({axis[0], axis[1], axis[2]}, torch::kDouble);
  const auto k = a / a.norm();
  const auto half = degrees_to_radians(angle_deg) / 2;
  const auto q = torch::cat({k * std::sin(half), torch::tensor({std::cos(half)}, torch::kDouble)});
  return geometry::quaternion_to_rotation(q);
}

// Random camera-from-world extrinsics (count, 3, 4).
inline torch::Tensor random_extrinsics(int64_t count, double translation_scale = 2.0) {
  return torch::cat(
      {random_rotations(count), translation_scale * torch::randn({count, 3, 1}, torch::kDouble)},
      -1);
}

inline torch::Tensor make_intrinsics(double fx, double fy, double cx, double cy) {
  return torch::tensor({fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0}, torch::kDouble).view({3, 3});
}

inline double max_abs_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

}  // namespace vidprobe::testing
