#include "vidprobe/geometry/camera.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "geometry/geometry_test_utils.h"
#include "vidprobe/core/error.h"

namespace vidprobe::geometry {
namespace {

using ::testing::HasSubstr;
using testing::max_abs_difference;

// The same rotation has two quaternions q and -q; compare up to that sign.
double quaternion_distance(const torch::Tensor& a, const torch::Tensor& b) {
  const auto same = (a - b).abs().amax(-1);
  const auto flipped = (a + b).abs().amax(-1);
  return torch::minimum(same, flipped).max().item<double>();
}

TEST(Quaternion, KnownRotationAboutZ) {
  const double h = std::sqrt(0.5);
  const auto rotation = quaternion_to_rotation(torch::tensor({0.0, 0.0, h, h}, torch::kDouble));
  const auto expected =
      torch::tensor({0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0}, torch::kDouble).view({3, 3});
  EXPECT_LT(max_abs_difference(rotation, expected), 1e-15);
  const auto back = rotation_to_quaternion(expected);
  EXPECT_LT(max_abs_difference(back, torch::tensor({0.0, 0.0, h, h}, torch::kDouble)), 1e-15);
}

TEST(Quaternion, RoundTripOnRandomRotations) {
  torch::manual_seed(1);
  const auto q = testing::random_quaternions(2000);
  const auto rotation = quaternion_to_rotation(q);
  // Proper rotations: orthonormal with determinant +1.
  const auto identity = torch::eye(3, torch::kDouble).expand({2000, 3, 3});
  EXPECT_LT(max_abs_difference(torch::matmul(rotation, rotation.transpose(1, 2)), identity), 1e-14);
  EXPECT_LT(max_abs_difference(torch::linalg_det(rotation), torch::ones({2000}, torch::kDouble)),
            1e-14);
  const auto back = rotation_to_quaternion(rotation);
  EXPECT_LT(max_abs_difference(back, q), 1e-14);
  EXPECT_TRUE(back.select(-1, 3).ge(0).all().item<bool>());
}

TEST(Quaternion, RoundTripNearAndAt180Degrees) {
  torch::manual_seed(2);
  // w = cos(angle / 2) tiny or zero: the trace branch is useless, the other three must work.
  for (const double w : {0.0, 1e-12, 1e-7, 1e-4}) {
    auto axis = torch::randn({500, 3}, torch::kDouble);
    axis = axis / axis.norm(2, -1, true) * std::sqrt(1 - w * w);
    const auto q = torch::cat({axis, torch::full({500, 1}, w, torch::kDouble)}, -1);
    const auto back = rotation_to_quaternion(quaternion_to_rotation(q));
    EXPECT_LT(quaternion_distance(back, q), 1e-12) << "w = " << w;
    EXPECT_LT(max_abs_difference(back.norm(2, -1), torch::ones({500}, torch::kDouble)), 1e-14);
  }
  // Exact half turns about the coordinate axes.
  const auto half_turn_x = torch::diag(torch::tensor({1.0, -1.0, -1.0}, torch::kDouble));
  EXPECT_LT(quaternion_distance(rotation_to_quaternion(half_turn_x),
                                torch::tensor({1.0, 0.0, 0.0, 0.0}, torch::kDouble)),
            1e-15);
  const auto half_turn_z = torch::diag(torch::tensor({-1.0, -1.0, 1.0}, torch::kDouble));
  EXPECT_LT(quaternion_distance(rotation_to_quaternion(half_turn_z),
                                torch::tensor({0.0, 0.0, 1.0, 0.0}, torch::kDouble)),
            1e-15);
}

TEST(Quaternion, UnnormalisedQuaternionAndFloatBatch) {
  const auto q = torch::tensor({0.0, 0.0, 3.0, 3.0}, torch::kFloat).expand({2, 5, 4});
  const auto rotation = quaternion_to_rotation(q);
  ASSERT_EQ(rotation.sizes(), (std::vector<int64_t>{2, 5, 3, 3}));
  EXPECT_EQ(rotation.scalar_type(), torch::kFloat);
  EXPECT_NEAR(rotation[1][3][1][0].item<double>(), 1.0, 1e-6);
  EXPECT_EQ(rotation_to_quaternion(rotation).sizes(), (std::vector<int64_t>{2, 5, 4}));
}

TEST(Quaternion, RejectsWrongShapesNamingTheArgument) {
  EXPECT_THAT(
      [] {
        quaternion_to_rotation(torch::zeros({3, 3}));
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("quaternion")));
  EXPECT_THAT(
      [] {
        rotation_to_quaternion(torch::zeros({3, 4}));
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("rotation")));
}

TEST(Extrinsics, InverseComposeAndHomogeneous) {
  torch::manual_seed(3);
  const auto extrinsics = testing::random_extrinsics(6);
  const auto identity = torch::eye(3, 4, torch::kDouble).expand({6, 3, 4});
  EXPECT_LT(
      max_abs_difference(compose_extrinsics(extrinsics, invert_extrinsics(extrinsics)), identity),
      1e-13);
  const auto homogeneous = to_homogeneous(extrinsics);
  ASSERT_EQ(homogeneous.sizes(), (std::vector<int64_t>{6, 4, 4}));
  EXPECT_LT(max_abs_difference(torch::matmul(homogeneous, invert_extrinsics(homogeneous)),
                               torch::eye(4, torch::kDouble).expand({6, 4, 4})),
            1e-13);
  // The camera centre is -R^T t: it maps to the camera origin.
  const auto centre = invert_extrinsics(extrinsics).select(-1, 3);
  const auto in_camera =
      torch::matmul(extrinsics.narrow(-1, 0, 3), centre.unsqueeze(-1)).squeeze(-1) +
      extrinsics.select(-1, 3);
  EXPECT_LT(in_camera.abs().max().item<double>(), 1e-13);
}

TEST(Extrinsics, RelativePosesMapCameraJToCameraI) {
  torch::manual_seed(4);
  const auto extrinsics = testing::random_extrinsics(4);
  const auto relative = relative_poses(extrinsics);
  ASSERT_EQ(relative.sizes(), (std::vector<int64_t>{4, 4, 4, 4}));
  const auto world_point = torch::tensor({0.3, -1.2, 2.0, 1.0}, torch::kDouble);
  const auto camera_points = torch::matmul(to_homogeneous(extrinsics), world_point);  // (4, 4)
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      const auto mapped = torch::matmul(relative[i][j], camera_points[j]);
      EXPECT_LT(max_abs_difference(mapped, camera_points[i]), 1e-12) << i << "," << j;
    }
  }
}

TEST(PoseEncoding, HandComputedFieldOfView) {
  const auto extrinsics = torch::eye(3, 4, torch::kDouble);
  // H = 100, fy = 50 -> fov_h = 2 atan(1) = 90 degrees; W = 200, fx = 100 sqrt(3) -> 60 degrees.
  const auto intrinsics = testing::make_intrinsics(100 * std::sqrt(3.0), 50, 100, 50);
  const auto encoding = extrinsics_intrinsics_to_pose_encoding(extrinsics, intrinsics, 100, 200);
  const auto expected =
      torch::tensor({0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, std::numbers::pi / 2, std::numbers::pi / 3},
                    torch::kDouble);
  EXPECT_LT(max_abs_difference(encoding, expected), 1e-14);
}

TEST(PoseEncoding, RoundTripWithCentredPrincipalPoint) {
  torch::manual_seed(5);
  const int64_t height = 240, width = 320;
  const auto extrinsics = testing::random_extrinsics(8).view({2, 4, 3, 4});
  const auto focal = 150 + 300 * torch::rand({2, 4, 2}, torch::kDouble);
  auto intrinsics = torch::zeros({2, 4, 3, 3}, torch::kDouble);
  intrinsics.select(-1, 0).select(-1, 0).copy_(focal.select(-1, 0));
  intrinsics.select(-1, 1).select(-1, 1).copy_(focal.select(-1, 1));
  intrinsics.select(-2, 0).select(-1, 2).fill_(width / 2.0);
  intrinsics.select(-2, 1).select(-1, 2).fill_(height / 2.0);
  intrinsics.select(-2, 2).select(-1, 2).fill_(1.0);
  const auto encoding =
      extrinsics_intrinsics_to_pose_encoding(extrinsics, intrinsics, height, width);
  ASSERT_EQ(encoding.sizes(), (std::vector<int64_t>{2, 4, 9}));
  const auto [extrinsics_back, intrinsics_back] =
      pose_encoding_to_extrinsics_intrinsics(encoding, height, width);
  EXPECT_LT(max_abs_difference(extrinsics_back, extrinsics), 1e-12);
  EXPECT_LT(max_abs_difference(intrinsics_back, intrinsics), 1e-9);
}

TEST(Unprojection, HandComputedPixel) {
  // fx = 2, fy = 4, cx = 1, cy = 0.5: pixel (u = 3, v = 2) at depth 2 -> ((3-1)/2*2, (2-0.5)/4*2,
  // 2).
  auto depth = torch::zeros({3, 4}, torch::kDouble);
  depth[2][3] = 2.0;
  const auto points = depth_to_camera_points(depth, testing::make_intrinsics(2, 4, 1, 0.5));
  ASSERT_EQ(points.sizes(), (std::vector<int64_t>{3, 4, 3}));
  EXPECT_LT(max_abs_difference(points[2][3], torch::tensor({2.0, 0.75, 2.0}, torch::kDouble)),
            1e-15);
  EXPECT_LT(points[0][0].abs().max().item<double>(), 1e-15);
}

TEST(Unprojection, DepthToWorldToDepthAndProjectionRoundTrip) {
  torch::manual_seed(6);
  const int64_t frames = 3, height = 5, width = 7;
  const auto extrinsics = testing::random_extrinsics(frames);
  const auto intrinsics = testing::make_intrinsics(8, 9, 3.2, 1.9).expand({frames, 3, 3});
  const auto depth = 1 + 4 * torch::rand({frames, height, width}, torch::kDouble);
  const auto world = depth_to_world_points(depth, intrinsics, extrinsics);
  ASSERT_EQ(world.sizes(), (std::vector<int64_t>{frames, height, width, 3}));
  EXPECT_LT(max_abs_difference(world_points_to_depth(world, extrinsics), depth), 1e-12);

  const auto [pixels, projected_depth] =
      project_points(world.view({frames, height * width, 3}), intrinsics, extrinsics);
  const auto grid = torch::meshgrid(
      {torch::arange(height, torch::kDouble), torch::arange(width, torch::kDouble)}, "ij");
  const auto expected_pixels = torch::stack({grid[1], grid[0]}, -1).view({1, height * width, 2});
  EXPECT_LT(max_abs_difference(pixels, expected_pixels.expand({frames, height * width, 2})), 1e-11);
  EXPECT_LT(max_abs_difference(projected_depth, depth.view({frames, -1})), 1e-12);
}

TEST(Geometry, WorksOnCudaWhenAvailable) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(7);
  const auto extrinsics = testing::random_extrinsics(3);
  const auto intrinsics = testing::make_intrinsics(8, 9, 3, 2).expand({3, 3, 3});
  const auto depth = 1 + torch::rand({3, 4, 5}, torch::kDouble);
  const auto cpu = depth_to_world_points(depth, intrinsics, extrinsics);
  const auto gpu = depth_to_world_points(depth.cuda(), intrinsics.cuda(), extrinsics.cuda());
  EXPECT_LT(max_abs_difference(gpu.cpu(), cpu), 1e-12);
  const auto q = testing::random_quaternions(100);
  EXPECT_LT(max_abs_difference(rotation_to_quaternion(quaternion_to_rotation(q.cuda())).cpu(), q),
            1e-12);
}

}  // namespace
}  // namespace vidprobe::geometry
