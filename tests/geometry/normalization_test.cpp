#include "vidprobe/geometry/normalization.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "geometry/geometry_test_utils.h"
#include "vidprobe/core/error.h"
#include "vidprobe/geometry/camera.h"

namespace vidprobe::geometry {
namespace {

using ::testing::HasSubstr;
using testing::max_abs_difference;

struct Scene {
  torch::Tensor extrinsics, intrinsics, depth, world_points, valid;
};

// A consistent scene: world points are the back-projected depth maps.
Scene make_scene(int64_t batch, int64_t frames, double world_scale) {
  Scene scene;
  scene.extrinsics = testing::random_extrinsics(batch * frames).view({batch, frames, 3, 4});
  scene.extrinsics.select(-1, 3).mul_(world_scale);
  scene.intrinsics = testing::make_intrinsics(6, 6, 2.5, 1.5).expand({batch, frames, 3, 3});
  scene.depth = world_scale * (1 + 3 * torch::rand({batch, frames, 4, 6}, torch::kDouble));
  scene.world_points = depth_to_world_points(scene.depth, scene.intrinsics, scene.extrinsics);
  scene.valid = torch::rand({batch, frames, 4, 6}).gt(0.3);
  return scene;
}

TEST(NormalizeScene, FirstCameraIdentityAndUnitMeanDistance) {
  torch::manual_seed(21);
  const auto scene = make_scene(2, 3, 5.0);
  const auto normalized =
      normalize_scene(scene.extrinsics, scene.depth, scene.world_points, scene.valid);
  EXPECT_LT(max_abs_difference(normalized.extrinsics.select(1, 0),
                               torch::eye(3, 4, torch::kDouble).expand({2, 3, 4})),
            1e-15);
  for (int64_t b = 0; b < 2; ++b) {
    const auto distances = normalized.world_points[b].norm(2, -1).masked_select(scene.valid[b]);
    EXPECT_NEAR(distances.mean().item<double>(), 1.0, 1e-12);
  }
  // Still a consistent scene: normalized depth back-projects to the normalized points.
  const auto reprojected =
      depth_to_world_points(normalized.depth, scene.intrinsics, normalized.extrinsics);
  EXPECT_LT(max_abs_difference(reprojected, normalized.world_points), 1e-12);
  // The scale is the mean distance of the valid points from the first camera centre.
  const auto first_camera_points = depth_to_world_points(
      scene.depth[0], scene.intrinsics[0],
      compose_extrinsics(scene.extrinsics[0], invert_extrinsics(scene.extrinsics[0][0])));
  EXPECT_NEAR(normalized.scale[0].item<double>(),
              first_camera_points.norm(2, -1).masked_select(scene.valid[0]).mean().item<double>(),
              1e-12);
}

TEST(NormalizeScene, InvariantToAWorldSimilarity) {
  torch::manual_seed(22);
  const auto scene = make_scene(1, 3, 1.0);
  // Move and scale the world: x' = s R x + t; cameras follow (R_i R^T, s t_i - R_i R^T t).
  const auto rotation = testing::random_rotations(1)[0];
  const double s = 4.0;
  const auto t = torch::tensor({1.0, -3.0, 2.0}, torch::kDouble);
  const auto points = s * torch::matmul(scene.world_points, rotation.t()) + t;
  const auto new_rotations = torch::matmul(scene.extrinsics.narrow(-1, 0, 3), rotation.t());
  const auto new_translations =
      s * scene.extrinsics.select(-1, 3) - torch::matmul(new_rotations, t);
  const auto extrinsics = torch::cat({new_rotations, new_translations.unsqueeze(-1)}, -1);
  const auto a = normalize_scene(scene.extrinsics, scene.depth, scene.world_points, scene.valid);
  const auto b = normalize_scene(extrinsics, s * scene.depth, points, scene.valid);
  EXPECT_LT(max_abs_difference(a.extrinsics, b.extrinsics), 1e-12);
  EXPECT_LT(max_abs_difference(a.world_points, b.world_points), 1e-12);
  EXPECT_LT(max_abs_difference(a.depth, b.depth), 1e-12);
  EXPECT_NEAR(b.scale.item<double>() / a.scale.item<double>(), s, 1e-12);
}

TEST(NormalizeScene, NoValidPointGivesScaleOneAndInvalidNaNIsTolerated) {
  torch::manual_seed(23);
  auto scene = make_scene(2, 2, 1.0);
  scene.valid[1].fill_(false);
  scene.world_points[1][0][0][0][0] = std::numeric_limits<double>::quiet_NaN();
  scene.valid[0][0][0][0] = false;
  scene.world_points[0][0][0][0][1] = std::numeric_limits<double>::infinity();
  const auto normalized =
      normalize_scene(scene.extrinsics.to(torch::kFloat), scene.depth.to(torch::kFloat),
                      scene.world_points.to(torch::kFloat), scene.valid);
  EXPECT_EQ(normalized.world_points.scalar_type(), torch::kFloat);
  EXPECT_DOUBLE_EQ(normalized.scale[1].item<double>(), 1.0);
  EXPECT_TRUE(std::isfinite(normalized.scale[0].item<double>()));
  EXPECT_NE(normalized.scale[0].item<double>(), 1.0);
}

TEST(NormalizeScene, RejectsNonFiniteValidPointsAndBadShapes) {
  torch::manual_seed(24);
  auto scene = make_scene(1, 2, 1.0);
  scene.valid[0][1][2][3] = true;
  scene.world_points[0][1][2][3][2] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(
      [&] { normalize_scene(scene.extrinsics, scene.depth, scene.world_points, scene.valid); },
      ::testing::ThrowsMessage<Error>(HasSubstr("world_points has 1 non-finite")));
  EXPECT_THAT(
      [&] {
        normalize_scene(scene.extrinsics, scene.depth, scene.world_points,
                        scene.valid.to(torch::kFloat));
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("valid must be a bool tensor")));
  EXPECT_THAT(
      [&] { normalize_scene(scene.extrinsics[0], scene.depth, scene.world_points, scene.valid); },
      ::testing::ThrowsMessage<Error>(HasSubstr("extrinsics must have shape (B, S, 3, 4)")));
}

}  // namespace
}  // namespace vidprobe::geometry
