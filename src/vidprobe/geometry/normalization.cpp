#include "vidprobe/geometry/normalization.h"

#include <torch/torch.h>

#include "vidprobe/core/error.h"
#include "vidprobe/geometry/camera.h"
#include "vidprobe/geometry/tensor_checks.h"

namespace vidprobe::geometry {

NormalizedScene normalize_scene(const torch::Tensor& extrinsics, const torch::Tensor& depth,
                                const torch::Tensor& world_points, const torch::Tensor& valid,
                                ScaleFrom scale_from) {
  require_float_with_tail(extrinsics, {3, 4}, "normalize_scene: extrinsics");
  require(
      extrinsics.dim() == 4 && extrinsics.size(1) >= 1,
      "normalize_scene: extrinsics must have shape (B, S, 3, 4), got " + shape_string(extrinsics));
  const auto batch = extrinsics.size(0), frames = extrinsics.size(1);
  require(depth.defined() && depth.is_floating_point() && depth.dim() == 4 &&
              depth.size(0) == batch && depth.size(1) == frames,
          "normalize_scene: depth must have shape (B, S, H, W) matching extrinsics " +
              shape_string(extrinsics) + ", got " + shape_string(depth));
  std::vector<int64_t> points_shape = depth.sizes().vec();
  points_shape.push_back(3);
  require(world_points.defined() && world_points.is_floating_point() &&
              world_points.sizes() == c10::IntArrayRef(points_shape),
          "normalize_scene: world_points must have shape (B, S, H, W, 3) matching depth " +
              shape_string(depth) + ", got " + shape_string(world_points));
  require(valid.defined() && valid.scalar_type() == torch::kBool && valid.sizes() == depth.sizes(),
          "normalize_scene: valid must be a bool tensor of shape " + shape_string(depth) +
              ", got " + shape_string(valid));
  require_finite(extrinsics, "normalize_scene: extrinsics");
  require_finite(world_points, valid, "normalize_scene: world_points");
  require_finite(depth, valid, "normalize_scene: depth");

  const auto first = extrinsics.select(1, 0).to(torch::kDouble);  // (B, 3, 4)
  const auto first_rotation = first.narrow(-1, 0, 3);
  const auto first_translation = first.select(-1, 3);
  // Into the first camera's frame: x' = R0 x + t0 (row vectors: x R0^T + t0).
  const auto points = torch::matmul(world_points.to(torch::kDouble),
                                    first_rotation.transpose(-1, -2).view({batch, 1, 1, 3, 3})) +
                      first_translation.view({batch, 1, 1, 1, 3});
  const auto counted = scale_from == ScaleFrom::kFirstView ? valid.narrow(1, 0, 1) : valid;
  const auto valid_f = counted.to(torch::kDouble);
  const auto valid_count = valid_f.sum({1, 2, 3});
  const auto counted_points = scale_from == ScaleFrom::kFirstView ? points.narrow(1, 0, 1) : points;
  // Invalid points may hold NaN; keep them out of the sum.
  const auto distance_sum =
      torch::where(counted, counted_points.norm(2, -1), torch::zeros({}, valid_f.options()))
          .sum({1, 2, 3});
  auto scale = distance_sum / valid_count.clamp_min(1);
  // No valid point (or all of them at the first camera's centre): nothing to normalise by.
  scale = torch::where(valid_count.gt(0) & scale.gt(1e-12), scale, torch::ones_like(scale));

  // T_i' = T_i T_0^-1: the first camera becomes the identity.
  auto relative =
      compose_extrinsics(extrinsics.to(torch::kDouble), invert_extrinsics(first).unsqueeze(1));
  const auto scaled_translation = relative.select(-1, 3) / scale.view({batch, 1, 1});
  relative = torch::cat({relative.narrow(-1, 0, 3), scaled_translation.unsqueeze(-1)}, -1);
  // Exactly the identity rather than R0 R0^T rounded.
  relative.select(1, 0).copy_(torch::eye(3, 4, relative.options()).expand({batch, 3, 4}));

  NormalizedScene scene;
  scene.extrinsics = relative.to(extrinsics.scalar_type());
  scene.depth = (depth.to(torch::kDouble) / scale.view({batch, 1, 1, 1})).to(depth.scalar_type());
  scene.world_points = (points / scale.view({batch, 1, 1, 1, 1})).to(world_points.scalar_type());
  scene.scale = scale.to(extrinsics.scalar_type());
  return scene;
}

}  // namespace vidprobe::geometry
