#include "vidprobe/geometry/camera.h"

#include <torch/torch.h>

#include "vidprobe/core/error.h"
#include "vidprobe/geometry/tensor_checks.h"

namespace vidprobe::geometry {
namespace {

using torch::indexing::Slice;

torch::Tensor rotation_part(const torch::Tensor& extrinsics) {
  return extrinsics.index({"...", Slice(0, 3), Slice(0, 3)});
}

torch::Tensor translation_part(const torch::Tensor& extrinsics) {
  return extrinsics.index({"...", Slice(0, 3), 3});
}

// [R | t] from (..., 3, 3) and (..., 3) whose leading dimensions broadcast.
torch::Tensor make_extrinsics(const torch::Tensor& rotation, const torch::Tensor& translation) {
  const auto leading = at::infer_size(rotation.sizes().slice(0, rotation.dim() - 2),
                                      translation.sizes().slice(0, translation.dim() - 1));
  std::vector<int64_t> rotation_shape(leading.begin(), leading.end());
  rotation_shape.insert(rotation_shape.end(), {3, 3});
  std::vector<int64_t> column_shape(leading.begin(), leading.end());
  column_shape.insert(column_shape.end(), {3, 1});
  return torch::cat(
      {rotation.expand(rotation_shape), translation.unsqueeze(-1).expand(column_shape)}, -1);
}

void require_extrinsics(const torch::Tensor& extrinsics, const std::string& name) {
  require(extrinsics.defined() && extrinsics.is_floating_point(),
          name + " must be a floating-point tensor");
  require(extrinsics.dim() >= 2 && extrinsics.size(-1) == 4 &&
              (extrinsics.size(-2) == 3 || extrinsics.size(-2) == 4),
          name + " must have shape (..., 3, 4) or (..., 4, 4), got " + shape_string(extrinsics));
}

}  // namespace

torch::Tensor quaternion_to_rotation(const torch::Tensor& quaternion_xyzw) {
  require_float_with_tail(quaternion_xyzw, {4}, "quaternion");
  const auto x = quaternion_xyzw.select(-1, 0);
  const auto y = quaternion_xyzw.select(-1, 1);
  const auto z = quaternion_xyzw.select(-1, 2);
  const auto w = quaternion_xyzw.select(-1, 3);
  // Dividing by the squared norm makes any non-zero quaternion a valid rotation.
  const auto two_over_norm2 = 2.0 / quaternion_xyzw.square().sum(-1);
  const auto entries =
      torch::stack({1 - two_over_norm2 * (y * y + z * z), two_over_norm2 * (x * y - z * w),
                    two_over_norm2 * (x * z + y * w), two_over_norm2 * (x * y + z * w),
                    1 - two_over_norm2 * (x * x + z * z), two_over_norm2 * (y * z - x * w),
                    two_over_norm2 * (x * z - y * w), two_over_norm2 * (y * z + x * w),
                    1 - two_over_norm2 * (x * x + y * y)},
                   -1);
  auto shape = quaternion_xyzw.sizes().vec();
  shape.back() = 3;
  shape.push_back(3);
  return entries.reshape(shape);
}

torch::Tensor rotation_to_quaternion(const torch::Tensor& rotation) {
  require_float_with_tail(rotation, {3, 3}, "rotation");
  const auto m = rotation.flatten(-2);
  const auto entry = [&](int row, int col) { return m.select(-1, 3 * row + col); };
  const auto m00 = entry(0, 0), m01 = entry(0, 1), m02 = entry(0, 2);
  const auto m10 = entry(1, 0), m11 = entry(1, 1), m12 = entry(1, 2);
  const auto m20 = entry(2, 0), m21 = entry(2, 1), m22 = entry(2, 2);
  // 4 x^2, 4 y^2, 4 z^2, 4 w^2 of the unit quaternion. Each of the four rows below is the
  // quaternion multiplied by 4 |q_k| for one component k; dividing the row of the largest
  // component is well conditioned for every rotation, 180 degrees included (Shepperd's method).
  const auto four_squared = torch::stack(
      {1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22, 1 + m00 + m11 + m22}, -1);
  const auto scaled_rows = torch::stack(
      {torch::stack({four_squared.select(-1, 0), m01 + m10, m02 + m20, m21 - m12}, -1),
       torch::stack({m01 + m10, four_squared.select(-1, 1), m12 + m21, m02 - m20}, -1),
       torch::stack({m02 + m20, m12 + m21, four_squared.select(-1, 2), m10 - m01}, -1),
       torch::stack({m21 - m12, m02 - m20, m10 - m01, four_squared.select(-1, 3)}, -1)},
      -2);
  const auto best = four_squared.argmax(-1, /*keepdim=*/true);  // (..., 1)
  auto row_index_shape = scaled_rows.sizes().vec();
  row_index_shape[row_index_shape.size() - 2] = 1;
  const auto best_row =
      scaled_rows.gather(-2, best.unsqueeze(-1).expand(row_index_shape)).squeeze(-2);
  const auto denominator = 2 * four_squared.gather(-1, best).clamp_min(1e-30).sqrt();
  auto quaternion = best_row / denominator;
  // Renormalise (absorbs a slightly non-orthonormal input) and pick the w >= 0 representative.
  quaternion = quaternion / quaternion.norm(2, -1, /*keepdim=*/true);
  return torch::where(quaternion.select(-1, 3).unsqueeze(-1) < 0, -quaternion, quaternion);
}

torch::Tensor to_homogeneous(const torch::Tensor& extrinsics) {
  require_extrinsics(extrinsics, "extrinsics");
  if (extrinsics.size(-2) == 4) return extrinsics;
  auto row_shape = extrinsics.sizes().vec();
  row_shape[row_shape.size() - 2] = 1;
  const auto last_row =
      torch::tensor({0.0, 0.0, 0.0, 1.0}, extrinsics.options()).view({1, 4}).expand(row_shape);
  return torch::cat({extrinsics, last_row}, -2);
}

torch::Tensor invert_extrinsics(const torch::Tensor& extrinsics) {
  require_extrinsics(extrinsics, "extrinsics");
  const auto rotation_t = rotation_part(extrinsics).transpose(-1, -2);
  const auto translation = -torch::matmul(rotation_t, translation_part(extrinsics).unsqueeze(-1));
  const auto inverse = torch::cat({rotation_t, translation}, -1);
  return extrinsics.size(-2) == 4 ? to_homogeneous(inverse) : inverse;
}

torch::Tensor compose_extrinsics(const torch::Tensor& a, const torch::Tensor& b) {
  require_extrinsics(a, "a");
  require_extrinsics(b, "b");
  const auto rotation_a = rotation_part(a);
  const auto rotation = torch::matmul(rotation_a, rotation_part(b));
  const auto translation =
      torch::matmul(rotation_a, translation_part(b).unsqueeze(-1)).squeeze(-1) +
      translation_part(a);
  return make_extrinsics(rotation, translation);
}

torch::Tensor relative_poses(const torch::Tensor& extrinsics) {
  require_extrinsics(extrinsics, "extrinsics");
  require(extrinsics.dim() >= 3,
          "extrinsics must have shape (..., S, 3, 4), got " + shape_string(extrinsics));
  const auto poses = to_homogeneous(extrinsics);
  const auto inverses = invert_extrinsics(poses);
  return torch::matmul(poses.unsqueeze(-3), inverses.unsqueeze(-4));
}

torch::Tensor extrinsics_intrinsics_to_pose_encoding(const torch::Tensor& extrinsics,
                                                     const torch::Tensor& intrinsics,
                                                     int64_t height, int64_t width) {
  require_float_with_tail(extrinsics, {3, 4}, "extrinsics");
  require_float_with_tail(intrinsics, {3, 3}, "intrinsics");
  require(height > 0 && width > 0, "image size must be positive, got height " +
                                       std::to_string(height) + " width " + std::to_string(width));
  const auto quaternion = rotation_to_quaternion(rotation_part(extrinsics));
  const auto fov_h = 2 * torch::atan((height / 2.0) / intrinsics.index({"...", 1, 1}));
  const auto fov_w = 2 * torch::atan((width / 2.0) / intrinsics.index({"...", 0, 0}));
  const auto leading = at::infer_size(extrinsics.sizes().slice(0, extrinsics.dim() - 2),
                                      intrinsics.sizes().slice(0, intrinsics.dim() - 2));
  const auto expand_leading = [&](const torch::Tensor& tensor) {
    std::vector<int64_t> shape(leading.begin(), leading.end());
    shape.push_back(tensor.size(-1));
    return tensor.expand(shape);
  };
  return torch::cat({expand_leading(translation_part(extrinsics)), expand_leading(quaternion),
                     expand_leading(fov_h.unsqueeze(-1)), expand_leading(fov_w.unsqueeze(-1))},
                    -1);
}

std::pair<torch::Tensor, torch::Tensor> pose_encoding_to_extrinsics_intrinsics(
    const torch::Tensor& encoding, int64_t height, int64_t width) {
  require_float_with_tail(encoding, {9}, "pose encoding");
  require(height > 0 && width > 0, "image size must be positive, got height " +
                                       std::to_string(height) + " width " + std::to_string(width));
  const auto translation = encoding.index({"...", Slice(0, 3)});
  const auto rotation = quaternion_to_rotation(encoding.index({"...", Slice(3, 7)}));
  const auto fy = (height / 2.0) / torch::tan(encoding.select(-1, 7) / 2);
  const auto fx = (width / 2.0) / torch::tan(encoding.select(-1, 8) / 2);
  const auto zero = torch::zeros_like(fx);
  const auto one = torch::ones_like(fx);
  const auto cx = torch::full_like(fx, width / 2.0);
  const auto cy = torch::full_like(fx, height / 2.0);
  auto shape = fx.sizes().vec();
  shape.push_back(3);
  shape.push_back(3);
  const auto intrinsics =
      torch::stack({fx, zero, cx, zero, fy, cy, zero, zero, one}, -1).reshape(shape);
  return {make_extrinsics(rotation, translation), intrinsics};
}

torch::Tensor depth_to_camera_points(const torch::Tensor& depth, const torch::Tensor& intrinsics) {
  require(depth.defined() && depth.is_floating_point() && depth.dim() >= 2,
          "depth must be a floating-point tensor of shape (..., H, W), got " + shape_string(depth));
  require_float_with_tail(intrinsics, {3, 3}, "intrinsics");
  const auto options =
      depth.options().dtype(torch::promote_types(depth.scalar_type(), intrinsics.scalar_type()));
  const auto k = intrinsics.to(options.dtype()).unsqueeze(-1).unsqueeze(-1);  // (..., 3, 3, 1, 1)
  const auto fx = k.select(-4, 0).select(-3, 0), skew = k.select(-4, 0).select(-3, 1);
  const auto cx = k.select(-4, 0).select(-3, 2), fy = k.select(-4, 1).select(-3, 1);
  const auto cy = k.select(-4, 1).select(-3, 2);
  const auto u = torch::arange(depth.size(-1), options);
  const auto v = torch::arange(depth.size(-2), options).unsqueeze(-1);
  // K^-1 [u, v, 1] for an upper-triangular K with unit K[2][2].
  const auto y_normalised = (v - cy) / fy;
  const auto x_normalised = (u - cx - skew * y_normalised) / fx;
  const auto z = depth.to(options.dtype());
  auto coords = torch::broadcast_tensors({x_normalised * z, y_normalised * z, z});
  return torch::stack(coords, -1);
}

torch::Tensor depth_to_world_points(const torch::Tensor& depth, const torch::Tensor& intrinsics,
                                    const torch::Tensor& extrinsics) {
  require_float_with_tail(extrinsics, {3, 4}, "extrinsics");
  const auto camera_points = depth_to_camera_points(depth, intrinsics);
  const auto extr = extrinsics.to(camera_points.scalar_type());
  // x_world = R^T (x_cam - t), written for row vectors: (x_cam - t) R.
  const auto translation = translation_part(extr).unsqueeze(-2).unsqueeze(-2);
  return torch::matmul(camera_points - translation, rotation_part(extr).unsqueeze(-3));
}

torch::Tensor world_points_to_depth(const torch::Tensor& world_points,
                                    const torch::Tensor& extrinsics) {
  require_float_with_tail(world_points, {3}, "world_points");
  require(world_points.dim() >= 3,
          "world_points must have shape (..., H, W, 3), got " + shape_string(world_points));
  require_float_with_tail(extrinsics, {3, 4}, "extrinsics");
  const auto third_row = extrinsics.index({"...", 2, Slice(0, 3)}).unsqueeze(-2).unsqueeze(-2);
  const auto third_translation = extrinsics.index({"...", 2, 3}).unsqueeze(-1).unsqueeze(-1);
  return (world_points * third_row).sum(-1) + third_translation;
}

std::pair<torch::Tensor, torch::Tensor> project_points(const torch::Tensor& world_points,
                                                       const torch::Tensor& intrinsics,
                                                       const torch::Tensor& extrinsics) {
  require_float_with_tail(world_points, {3}, "world_points");
  require(world_points.dim() >= 2,
          "world_points must have shape (..., N, 3), got " + shape_string(world_points));
  require_float_with_tail(intrinsics, {3, 3}, "intrinsics");
  require_float_with_tail(extrinsics, {3, 4}, "extrinsics");
  const auto camera_points =
      torch::matmul(world_points, rotation_part(extrinsics).transpose(-1, -2)) +
      translation_part(extrinsics).unsqueeze(-2);
  const auto image_points = torch::matmul(camera_points, intrinsics.transpose(-1, -2));
  const auto depth = camera_points.select(-1, 2);
  const auto pixels =
      image_points.index({"...", Slice(0, 2)}) / image_points.index({"...", Slice(2, 3)});
  return {pixels, depth};
}

}  // namespace vidprobe::geometry
