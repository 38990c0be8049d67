#include "vidprobe/metrics/camera_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "geometry/geometry_test_utils.h"
#include "vidprobe/core/error.h"

namespace vidprobe::metrics {
namespace {

using ::testing::HasSubstr;
using testing::max_abs_difference;

torch::Tensor pose(const torch::Tensor& rotation, std::array<double, 3> translation) {
  return torch::cat(
      {rotation, torch::tensor({translation[0], translation[1], translation[2]}, torch::kDouble)
                     .view({3, 1})},
      -1);
}

PairErrors errors_of(std::vector<double> rotation, std::vector<double> translation) {
  return {torch::tensor(rotation, torch::kDouble), torch::tensor(translation, torch::kDouble),
          torch::zeros({static_cast<int64_t>(rotation.size())}, torch::kBool)};
}

// GT: camera 1 turned 10 degrees about y and moved along x. The relative translation of pair
// (0, 1) is -R^T t = -(cos 10, 0, sin 10): a direction at 10 degrees in the x-z plane (negated).
// Prediction: no rotation; relative translation at 30 degrees in that plane.
TEST(CameraMetrics, TwoCamerasWithKnownAngles) {
  const auto identity = torch::eye(3, torch::kDouble);
  const auto gt = torch::stack(
      {pose(identity, {0, 0, 0}), pose(testing::axis_angle_rotation({0, 1, 0}, 10), {1, 0, 0})});
  const double c30 = std::cos(testing::degrees_to_radians(30));
  const double s30 = std::sin(testing::degrees_to_radians(30));
  const auto pred = torch::stack({pose(identity, {0, 0, 0}), pose(identity, {c30, 0, s30})});
  const auto errors = relative_pose_errors(pred, gt);
  ASSERT_EQ(errors.rotation_deg.numel(), 1);
  EXPECT_NEAR(errors.rotation_deg.item<double>(), 10.0, 1e-10);
  EXPECT_NEAR(errors.translation_deg.item<double>(), 20.0, 1e-10);
  EXPECT_FALSE(errors.zero_baseline.item<bool>());
  // The opposite direction (160 degrees away) folds to the same 20 degrees.
  const auto flipped = torch::stack({pose(identity, {0, 0, 0}), pose(identity, {-c30, 0, -s30})});
  EXPECT_NEAR(relative_pose_errors(flipped, gt).translation_deg.item<double>(), 20.0, 1e-10);
  // Translation length does not matter, only its direction.
  const auto longer =
      torch::stack({pose(identity, {0, 0, 0}), pose(identity, {7 * c30, 0, 7 * s30})});
  EXPECT_NEAR(relative_pose_errors(longer, gt).translation_deg.item<double>(), 20.0, 1e-10);
}

TEST(CameraMetrics, PairsFollowCombinationOrder) {
  torch::manual_seed(31);
  const auto gt = testing::random_extrinsics(4);
  auto pred = gt.clone();
  // Only frame 3 is off: pairs (0,3), (1,3), (2,3) are indices 2, 4, 5 of (01 02 03 12 13 23).
  pred[3].narrow(-1, 0, 3).copy_(
      torch::matmul(testing::axis_angle_rotation({1, 0, 0}, 3), gt[3].narrow(-1, 0, 3)));
  const auto errors = relative_pose_errors(pred, gt);
  ASSERT_EQ(errors.rotation_deg.numel(), 6);
  const auto expected = torch::tensor({0.0, 0.0, 3.0, 0.0, 3.0, 3.0}, torch::kDouble);
  EXPECT_LT(max_abs_difference(errors.rotation_deg, expected), 1e-9);
}

TEST(CameraMetrics, AucByHandIncludesTheClosedLastBin) {
  // max errors: 1.5, 2.5, 5, 10, 3.
  const auto errors = errors_of({0.5, 2.5, 4.0, 10.0, 3.0}, {1.5, 0.2, 5.0, 1.0, 0.0});
  // AUC@5: fractions below 1, 2, 3, 4 and <= 5 are 0, 1/5, 2/5, 3/5, 4/5 -> mean 0.4.
  EXPECT_NEAR(pose_auc(errors, 5), 0.4, 1e-15);
  // AUC@3: 0, 1/5, 3/5 (3 is in the closed last bin [2, 3]) -> 0.8 / 3.
  EXPECT_NEAR(pose_auc(errors, 3), 0.8 / 3, 1e-15);
  // AUC@30: each pair misses the thresholds t <= its error: 1 + 2 + 5 + 10 + 3 of 5 * 30.
  EXPECT_NEAR(pose_auc(errors, 30), 1.0 - (1 + 2 + 5 + 10 + 3) / (5.0 * 30), 1e-15);
  EXPECT_NEAR(rotation_accuracy(errors, 5), 0.8, 1e-15);
  EXPECT_NEAR(translation_accuracy(errors, 5), 0.8, 1e-15);  // 5 is not < 5
  EXPECT_NEAR(translation_accuracy(errors, 1), 0.4, 1e-15);
  EXPECT_THAT([&] { pose_auc(errors, 0); },
              ::testing::ThrowsMessage<Error>(HasSubstr("max_threshold_deg")));
}

TEST(CameraMetrics, PredictionEqualToGtUnderAWorldSimilarityIsPerfect) {
  torch::manual_seed(32);
  const auto gt = testing::random_extrinsics(24);
  // World moved by x' = s R x + t: cameras become (R_i R^T, s t_i - R_i R^T t).
  const auto rotation = testing::random_rotations(1)[0];
  const double s = 0.37;
  const auto t = torch::tensor({5.0, -1.0, 2.0}, torch::kDouble);
  const auto rotations = torch::matmul(gt.narrow(-1, 0, 3), rotation.t());
  const auto translations = s * gt.select(-1, 3) - torch::matmul(rotations, t);
  const auto pred = torch::cat({rotations, translations.unsqueeze(-1)}, -1).to(torch::kFloat);
  const auto errors = relative_pose_errors(pred, gt);
  EXPECT_EQ(errors.rotation_deg.numel(), 24 * 23 / 2);
  EXPECT_LT(errors.rotation_deg.max().item<double>(), 1e-3);  // float32 input
  EXPECT_LT(errors.translation_deg.max().item<double>(), 1e-2);
  const auto scores = camera_metrics(pred, gt);
  EXPECT_DOUBLE_EQ(scores.at("auc5"), 1.0);
  EXPECT_DOUBLE_EQ(scores.at("auc30"), 1.0);
  EXPECT_DOUBLE_EQ(scores.at("rra5"), 1.0);
  EXPECT_DOUBLE_EQ(scores.at("rta5"), 1.0);
  EXPECT_DOUBLE_EQ(scores.at("pairs"), 276.0);
  EXPECT_DOUBLE_EQ(scores.at("zero_baseline_pairs"), 0.0);
  // Exactly equal double input scores exactly 0 (no epsilon floor).
  EXPECT_EQ(relative_pose_errors(gt, gt).rotation_deg.max().item<double>(), 0.0);
}

TEST(CameraMetrics, ZeroBaselineScoresNinetyDegreesAndIsFlagged) {
  torch::manual_seed(33);
  auto gt = testing::random_extrinsics(3);
  gt[1].copy_(gt[0]);  // frames 0 and 1 are the same camera
  const auto errors = relative_pose_errors(gt, gt);
  EXPECT_TRUE(errors.zero_baseline[0].item<bool>());
  EXPECT_FALSE(errors.zero_baseline[1].item<bool>());
  EXPECT_DOUBLE_EQ(errors.translation_deg[0].item<double>(), 90.0);
  EXPECT_LT(errors.translation_deg[1].item<double>(), 1e-6);
  EXPECT_DOUBLE_EQ(camera_metrics(gt, gt).at("zero_baseline_pairs"), 1.0);
}

TEST(CameraMetrics, ConcatenatePoolsPairsOfSeveralClips) {
  const auto pooled =
      concatenate_pair_errors({errors_of({1.0, 2.0}, {0.0, 0.0}), errors_of({40.0}, {0.0})});
  ASSERT_EQ(pooled.rotation_deg.numel(), 3);
  // Pooled AUC@5 differs from the mean of per-clip AUCs, which is why pooling is offered.
  EXPECT_NEAR(pose_auc(pooled, 5), (0.0 + 1.0 / 3 + 2.0 / 3 + 2.0 / 3 + 2.0 / 3) / 5, 1e-15);
}

TEST(CameraMetrics, RejectsNonFiniteOrMisshapenInput) {
  torch::manual_seed(34);
  const auto gt = testing::random_extrinsics(3);
  auto pred = gt.clone();
  pred[2][1][3] = std::numeric_limits<double>::infinity();
  EXPECT_THAT([&] { camera_metrics(pred, gt); },
              ::testing::ThrowsMessage<Error>(HasSubstr("pred_extrinsics has 1 non-finite")));
  EXPECT_THAT([&] { camera_metrics(gt, pred); },
              ::testing::ThrowsMessage<Error>(HasSubstr("gt_extrinsics has 1 non-finite")));
  EXPECT_THAT([&] { camera_metrics(gt.narrow(0, 0, 1), gt.narrow(0, 0, 1)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("S >= 2")));
  EXPECT_THAT([&] { camera_metrics(gt.narrow(0, 0, 2), gt); },
              ::testing::ThrowsMessage<Error>(HasSubstr("differ in shape")));
}

}  // namespace
}  // namespace vidprobe::metrics
