#include "vidprobe/metrics/point_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "geometry/geometry_test_utils.h"
#include "vidprobe/core/error.h"

namespace vidprobe::metrics {
namespace {

using ::testing::HasSubstr;

torch::Tensor similarity_of(const torch::Tensor& points, double scale, std::uint64_t seed) {
  torch::manual_seed(seed);
  const auto rotation = testing::random_rotations(1)[0];
  return scale * torch::matmul(points, rotation.t()) +
         torch::tensor({2.0, -7.0, 0.5}, torch::kDouble);
}

TEST(NearestNeighbour, HandComputedDistances) {
  const auto a = torch::tensor({{0.0, 0.0, 0.0}, {1.0, 0.0, 0.0}}, torch::kDouble);
  const auto b = torch::tensor({{0.0, 0.0, 0.0}, {0.0, 2.0, 0.0}, {3.0, 0.0, 0.0}}, torch::kDouble);
  // a -> b: 0 and 1. b -> a: 0, 2 (to the origin) and 2 (to (1, 0, 0)).
  EXPECT_NEAR(mean_nearest_neighbour_distance(a, b).item<double>(), 0.5, 1e-15);
  EXPECT_NEAR(mean_nearest_neighbour_distance(b, a).item<double>(), 4.0 / 3, 1e-15);
}

TEST(NearestNeighbour, ChunkingDoesNotChangeTheResult) {
  torch::manual_seed(51);
  const auto a = torch::randn({257, 3}, torch::kDouble);
  const auto b = torch::randn({300, 3}, torch::kDouble);
  const auto brute = std::get<0>(torch::cdist(a, b, 2.0, 2).min(1)).mean().item<double>();
  for (const int64_t budget : {int64_t{1}, int64_t{301}, int64_t{7000}, int64_t{1} << 24}) {
    EXPECT_NEAR(mean_nearest_neighbour_distance(a, b, budget).item<double>(), brute, 1e-13)
        << budget;
  }
}

TEST(PointMetrics, GtUnderARandomSimilarityScoresZero) {
  torch::manual_seed(52);
  const auto gt =
      torch::randn({2, 6, 8, 3}, torch::kDouble) + torch::tensor({0.0, 0.0, 4.0}, torch::kDouble);
  const auto pred = similarity_of(gt, 0.3, 53).to(torch::kFloat);
  const auto valid = torch::rand({2, 6, 8}).gt(0.25);
  const auto scores = point_metrics(pred, gt, valid);
  EXPECT_EQ(scores.valid_points, valid.sum().item<int64_t>());
  EXPECT_LT(scores.err, 1e-5);  // float32 prediction
  EXPECT_LT(scores.chamfer, 1e-5);
  const auto exact = point_metrics(similarity_of(gt, 3.0, 54), gt, valid);
  EXPECT_LT(exact.err, 1e-12);
  EXPECT_LT(exact.accuracy, 1e-12);
  EXPECT_LT(exact.completeness, 1e-12);
}

TEST(PointMetrics, KnownErrorAfterAlignment) {
  // GT: the unit octahedron. Prediction: the same with the z vertices pushed out to +-1.2. By
  // symmetry the best Sim(3) has R = I, t = 0 and scale = trace(cov) / var(pred)
  // = (2 + 2 + 2.4) / (2 + 2 + 2.88) = 40 / 43: x and y vertices land 3/43 short, z vertices
  // 48/43 - 1 = 5/43 beyond. err = (4 * 3 + 2 * 5) / 43 / 6 = 11 / 129, and every nearest GT
  // point is the corresponding one, so accuracy = completeness = chamfer = 11 / 129 as well.
  const auto gt = torch::tensor({{1.0, 0.0, 0.0},
                                 {-1.0, 0.0, 0.0},
                                 {0.0, 1.0, 0.0},
                                 {0.0, -1.0, 0.0},
                                 {0.0, 0.0, 1.0},
                                 {0.0, 0.0, -1.0}},
                                torch::kDouble);
  auto pred = gt.clone();
  pred[4][2] = 1.2;
  pred[5][2] = -1.2;
  const auto scores = point_metrics(pred, gt, torch::ones({6}, torch::kBool));
  EXPECT_NEAR(scores.err, 11.0 / 129, 1e-14);
  EXPECT_NEAR(scores.accuracy, 11.0 / 129, 1e-14);
  EXPECT_NEAR(scores.completeness, 11.0 / 129, 1e-14);
  EXPECT_NEAR(scores.chamfer, 11.0 / 129, 1e-14);
  EXPECT_EQ(scores.valid_points, 6);
}

TEST(PointMetrics, SubsamplingIsReproducibleAndSeeded) {
  torch::manual_seed(55);
  const auto gt = torch::randn({3000, 3}, torch::kDouble);
  const auto pred = gt + 0.05 * torch::randn({3000, 3}, torch::kDouble);
  const auto valid = torch::ones({3000}, torch::kBool);
  const auto first = point_metrics(pred, gt, valid, 500, 7);
  const auto again = point_metrics(pred, gt, valid, 500, 7);
  const auto other_seed = point_metrics(pred, gt, valid, 500, 8);
  const auto full = point_metrics(pred, gt, valid, 5000, 7);
  EXPECT_EQ(first.chamfer, again.chamfer);
  EXPECT_NE(first.chamfer, other_seed.chamfer);
  EXPECT_EQ(first.err, full.err);  // err always uses every valid point
  // Sparser clouds have farther neighbours.
  EXPECT_GT(first.accuracy, full.accuracy);
}

TEST(PointMetrics, EdgeCases) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto gt = torch::tensor(
      {{0.0, 0.0, 1.0}, {1.0, 0.0, 1.0}, {0.0, 1.0, 1.0}, {nan, 0.0, 0.0}}, torch::kDouble);
  auto valid = torch::ones({4}, torch::kBool);
  // No valid point and fewer than 3: excluded (valid_points 0), never NaN.
  const auto none = point_metrics(gt, gt, torch::zeros({4}, torch::kBool));
  EXPECT_EQ(none.valid_points, 0);
  EXPECT_EQ(none.chamfer, 0.0);
  auto two = torch::zeros({4}, torch::kBool);
  two[0] = true;
  two[1] = true;
  EXPECT_EQ(point_metrics(gt, gt, two).valid_points, 0);
  // The NaN GT point is invalid: 3 usable points.
  auto pred = gt.clone();
  pred[3][0] = nan;
  EXPECT_EQ(point_metrics(pred, gt, valid).valid_points, 3);
  // NaN prediction at a valid point throws, naming pred.
  pred[1][1] = nan;
  EXPECT_THAT([&] { point_metrics(pred, gt, valid); },
              ::testing::ThrowsMessage<Error>(HasSubstr("point_metrics: pred has 1 non-finite")));
  // A collapsed prediction lands on the GT centroid.
  const auto collapsed = torch::ones({4, 3}, torch::kDouble);
  const auto centroid = gt.narrow(0, 0, 3).mean(0);
  const auto expected = (gt.narrow(0, 0, 3) - centroid).norm(2, -1).mean().item<double>();
  EXPECT_NEAR(point_metrics(collapsed, gt, valid).err, expected, 1e-15);
  EXPECT_THAT(
      [&] { point_metrics(gt.narrow(0, 0, 3), collapsed.narrow(0, 0, 3), valid.narrow(0, 0, 3)); },
      ::testing::ThrowsMessage<Error>(HasSubstr("gt points are all identical")));
  EXPECT_THAT([&] { point_metrics(gt, gt, torch::ones({3}, torch::kBool)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("valid must be a bool tensor of shape")));
}

TEST(PointMetrics, WorksOnCudaWhenAvailable) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(56);
  const auto gt = torch::randn({500, 3}, torch::kDouble);
  const auto pred = gt + 0.1 * torch::randn({500, 3}, torch::kDouble);
  const auto valid = torch::ones({500}, torch::kBool);
  const auto cpu = point_metrics(pred, gt, valid, 300, 3);
  const auto gpu = point_metrics(pred.cuda(), gt.cuda(), valid.cuda(), 300, 3);
  EXPECT_NEAR(gpu.err, cpu.err, 1e-10);
  EXPECT_NEAR(gpu.chamfer, cpu.chamfer, 1e-10);
}

}  // namespace
}  // namespace vidprobe::metrics
