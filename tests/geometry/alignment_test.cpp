#include "vidprobe/geometry/alignment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "geometry/geometry_test_utils.h"
#include "vidprobe/core/error.h"

namespace vidprobe::geometry {
namespace {

using ::testing::HasSubstr;
using testing::max_abs_difference;
using ::testing::ThrowsMessage;

torch::Tensor transform(const torch::Tensor& points, const torch::Tensor& rotation, double scale,
                        const torch::Tensor& translation) {
  return scale * torch::matmul(points, rotation.transpose(-1, -2)) + translation;
}

TEST(Umeyama, RecoversAKnownSimilarityExactly) {
  torch::manual_seed(11);
  const auto rotation = testing::random_rotations(1)[0];
  const auto translation = torch::tensor({3.0, -2.0, 0.5}, torch::kDouble);
  const auto src = torch::randn({50, 3}, torch::kDouble);
  const auto dst = transform(src, rotation, 2.5, translation);
  const auto similarity = umeyama_alignment(src, dst);
  EXPECT_LT(max_abs_difference(similarity.rotation, rotation), 1e-12);
  EXPECT_NEAR(similarity.scale.item<double>(), 2.5, 1e-12);
  EXPECT_LT(max_abs_difference(similarity.translation, translation), 1e-12);
  EXPECT_LT(max_abs_difference(similarity.apply(src), dst), 1e-12);
}

TEST(Umeyama, RigidModeKeepsUnitScale) {
  torch::manual_seed(12);
  const auto rotation = testing::random_rotations(1)[0];
  const auto translation = torch::tensor({1.0, 2.0, 3.0}, torch::kDouble);
  const auto src = torch::randn({20, 3}, torch::kDouble);
  const auto similarity =
      umeyama_alignment(src, transform(src, rotation, 1.0, translation), std::nullopt, false);
  EXPECT_DOUBLE_EQ(similarity.scale.item<double>(), 1.0);
  EXPECT_LT(max_abs_difference(similarity.rotation, rotation), 1e-12);
  EXPECT_LT(max_abs_difference(similarity.translation, translation), 1e-12);
}

TEST(Umeyama, ZeroWeightOutliersAreIgnored) {
  torch::manual_seed(13);
  const auto rotation = testing::random_rotations(1)[0];
  const auto translation = torch::tensor({-1.0, 0.0, 4.0}, torch::kDouble);
  const auto src = torch::randn({30, 3}, torch::kDouble);
  auto dst = transform(src, rotation, 0.7, translation);
  auto weights = torch::ones({30}, torch::kDouble);
  dst.narrow(0, 0, 5).add_(1000 * torch::randn({5, 3}, torch::kDouble));
  weights.narrow(0, 0, 5).zero_();
  const auto similarity = umeyama_alignment(src, dst, weights);
  EXPECT_LT(max_abs_difference(similarity.rotation, rotation), 1e-12);
  EXPECT_NEAR(similarity.scale.item<double>(), 0.7, 1e-12);
  EXPECT_LT(max_abs_difference(similarity.translation, translation), 1e-12);
  // Without the weights the outliers wreck the fit: the test can tell the difference.
  EXPECT_GT(std::abs(umeyama_alignment(src, dst).scale.item<double>() - 0.7), 1e-3);
}

TEST(Umeyama, NeverReturnsAReflection) {
  torch::manual_seed(14);
  const auto src = torch::randn({40, 3}, torch::kDouble);
  // A mirror image: the best orthogonal map is a reflection, which must not be returned.
  const auto dst = src * torch::tensor({1.0, 1.0, -1.0}, torch::kDouble);
  const auto similarity = umeyama_alignment(src, dst);
  EXPECT_NEAR(torch::linalg_det(similarity.rotation).item<double>(), 1.0, 1e-12);
  const auto identity = torch::eye(3, torch::kDouble);
  EXPECT_LT(
      max_abs_difference(torch::matmul(similarity.rotation, similarity.rotation.t()), identity),
      1e-12);
}

TEST(Umeyama, BatchedInputsAreAlignedIndependently) {
  torch::manual_seed(15);
  const auto rotations = testing::random_rotations(4);
  const auto scales = torch::tensor({0.5, 1.0, 2.0, 3.0}, torch::kDouble);
  const auto translations = torch::randn({4, 3}, torch::kDouble);
  const auto src = torch::randn({4, 25, 3}, torch::kDouble);
  const auto dst = scales.view({4, 1, 1}) * torch::matmul(src, rotations.transpose(1, 2)) +
                   translations.unsqueeze(1);
  const auto similarity = umeyama_alignment(src.to(torch::kFloat), dst.to(torch::kFloat));
  ASSERT_EQ(similarity.rotation.sizes(), (std::vector<int64_t>{4, 3, 3}));
  EXPECT_LT(max_abs_difference(similarity.scale, scales), 1e-5);
  EXPECT_LT(max_abs_difference(similarity.rotation, rotations), 1e-5);
  EXPECT_EQ(similarity.apply(src.to(torch::kFloat)).scalar_type(), torch::kFloat);
}

TEST(Umeyama, RejectsBadInputNamingTheCulprit) {
  const auto points = torch::randn({10, 3}, torch::kDouble);
  auto weights = torch::zeros({10}, torch::kDouble);
  weights.narrow(0, 0, 2).fill_(1);
  EXPECT_THAT([&] { umeyama_alignment(points, points, weights); },
              ThrowsMessage<Error>(HasSubstr("at least 3 points with positive weight, got 2")));
  EXPECT_THAT([&] { umeyama_alignment(points.narrow(0, 0, 2), points.narrow(0, 0, 2)); },
              ThrowsMessage<Error>(HasSubstr("got 2")));
  const auto same = torch::tensor({1.0, 2.0, 3.0}, torch::kDouble).expand({10, 3});
  EXPECT_THAT(
      [&] { umeyama_alignment(same, points); },
      ThrowsMessage<Error>(HasSubstr("src points (with positive weight) are all identical")));
  EXPECT_THAT([&] { umeyama_alignment(points, same); },
              ThrowsMessage<Error>(HasSubstr("dst points")));
  auto broken = points.clone();
  broken[3][1] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT([&] { umeyama_alignment(points, broken); },
              ThrowsMessage<Error>(HasSubstr("dst has 1 non-finite")));
  EXPECT_THAT([&] { umeyama_alignment(points, points, -torch::ones({10}, torch::kDouble)); },
              ThrowsMessage<Error>(HasSubstr("weights must be >= 0")));
  EXPECT_THAT([&] { umeyama_alignment(points, points.narrow(0, 0, 9)); },
              ThrowsMessage<Error>(HasSubstr("differ in shape")));
}

TEST(ScalarAlignment, LeastSquaresScaleByHand) {
  const auto pred = torch::tensor({1.0, 2.0, 100.0}, torch::kDouble);
  const auto gt = torch::tensor({2.0, 4.0, 1.0}, torch::kDouble);
  const auto mask = torch::tensor({true, true, false});
  EXPECT_DOUBLE_EQ(least_squares_scale(pred, gt, mask).item<double>(), 2.0);
  // pred [1, 3], gt [1, 2]: s = (1 + 6) / (1 + 9) = 0.7.
  EXPECT_NEAR(least_squares_scale(torch::tensor({1.0, 3.0}), torch::tensor({1.0, 2.0}),
                                  torch::tensor({true, true}))
                  .item<double>(),
              0.7, 1e-15);
}

TEST(ScalarAlignment, IgnoresNonFiniteValuesOutsideTheMask) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto pred = torch::tensor({{1.0, nan}, {2.0, 3.0}}, torch::kDouble);
  const auto gt = torch::tensor({{3.0, 1.0}, {nan, 6.0}}, torch::kDouble);
  const auto mask = torch::tensor({{true, false}, {false, true}});
  const auto per_row = least_squares_scale(pred, gt, mask, 1);
  EXPECT_LT(max_abs_difference(per_row, torch::tensor({3.0, 2.0}, torch::kDouble)), 1e-15);
  EXPECT_THAT(
      [&] {
        least_squares_scale(pred, gt, torch::ones({2, 2}, torch::kBool));
      },
      ThrowsMessage<Error>(HasSubstr("pred has 1 non-finite")));
}

TEST(ScalarAlignment, ScaleShiftByHandAndFlatPrediction) {
  const auto pred = torch::tensor({1.0, 2.0, 3.0}, torch::kDouble);
  const auto gt = torch::tensor({3.0, 5.0, 7.0}, torch::kDouble);
  const auto all = torch::ones({3}, torch::kBool);
  EXPECT_LT(max_abs_difference(least_squares_scale_shift(pred, gt, all),
                               torch::tensor({2.0, 1.0}, torch::kDouble)),
            1e-14);
  // pred [0, 1, 2], gt [0, 2, 1]: s = cov / var = 0.5, b = mean(gt) - s mean(pred) = 0.5.
  EXPECT_LT(max_abs_difference(least_squares_scale_shift(torch::tensor({0.0, 1.0, 2.0}),
                                                         torch::tensor({0.0, 2.0, 1.0}), all),
                               torch::tensor({0.5, 0.5}, torch::kDouble)),
            1e-14);
  // Flat prediction: the minimiser is not unique; s = 0 and b = mean(gt) is returned.
  EXPECT_LT(max_abs_difference(least_squares_scale_shift(torch::full({3}, 4.0), gt, all),
                               torch::tensor({0.0, 5.0}, torch::kDouble)),
            1e-14);
}

TEST(ScalarAlignment, MedianScaleUsesTheMeanOfTheMiddlePair) {
  const auto pred = torch::tensor({{4.0, 1.0, 3.0, 2.0}, {1.0, 5.0, 2.0, -7.0}}, torch::kDouble);
  const auto gt = torch::tensor({{2.0, 100.0, 4.0, 6.0}, {9.0, 3.0, 6.0, 0.0}}, torch::kDouble);
  auto mask = torch::ones({2, 4}, torch::kBool);
  mask[1][3] = false;
  // Row 0: median(gt) = 5, median(pred) = 2.5 -> 2. Row 1: median(gt) = 6, median(pred) = 2 -> 3.
  EXPECT_LT(max_abs_difference(median_scale(pred, gt, mask, 1),
                               torch::tensor({2.0, 3.0}, torch::kDouble)),
            1e-15);
  EXPECT_THAT([&] { median_scale(-pred.abs(), gt, mask, 1); },
              ThrowsMessage<Error>(HasSubstr("median of pred over the mask is not positive")));
  EXPECT_THAT(
      [&] {
        median_scale(pred, gt, torch::zeros({2, 4}, torch::kBool), 1);
      },
      ThrowsMessage<Error>(HasSubstr("selects no entry in batch element 0")));
}

}  // namespace
}  // namespace vidprobe::geometry
