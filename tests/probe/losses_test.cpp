#include "vidprobe/probe/losses.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "vidprobe/probe/probe_config.h"

namespace vidprobe::probe {
namespace {

ProbeTargets make_targets(int64_t B = 1, int64_t S = 2, int64_t H = 6, int64_t W = 5) {
  torch::manual_seed(11);
  ProbeTargets t;
  t.depth = torch::rand({B, S, H, W}) + 0.5;
  t.world_points = torch::randn({B, S, H, W, 3});
  t.valid = torch::rand({B, S, H, W}).gt(0.2);
  t.confidence = t.valid.to(torch::kFloat32);
  t.pose_encoding = torch::randn({B, S, 9});
  return t;
}

nn::GeometryPrediction perfect_prediction(const ProbeTargets& t, double conf) {
  nn::GeometryPrediction p;
  p.depth = t.depth.clone();
  p.world_points = t.world_points.clone();
  p.depth_conf = torch::full_like(t.depth, conf);
  p.world_points_conf = torch::full_like(t.depth, conf);
  p.pose_encodings = {t.pose_encoding.clone()};
  return p;
}

TEST(ProbeLoss, ZeroAtPerfectPredictionWithUnitConfidenceAndPositiveOtherwise) {
  const auto t = make_targets();
  const auto config = probe_preset("vidprobe").loss;  // every term on, L1 camera
  const auto perfect = probe_loss(perfect_prediction(t, 1.0), t, config);
  EXPECT_NEAR(perfect.total.item<double>(), 0.0, 1e-6);

  // Any error raises every term.
  auto wrong = perfect_prediction(t, 1.0);
  wrong.depth = wrong.depth * 1.3;
  wrong.world_points = wrong.world_points + 0.2 * torch::randn_like(wrong.world_points);
  wrong.pose_encodings[0] = wrong.pose_encodings[0] + 0.1;
  const auto out = probe_loss(wrong, t, config);
  EXPECT_GT(out.total.item<double>(), 0.1);
  for (const char* key : {"depth_reg", "depth_grad", "point_reg", "point_grad", "camera"})
    EXPECT_GT(out.terms.at(key).item<double>(), 0.0) << key;
  EXPECT_NEAR(out.terms.at("camera_t").item<double>(), 0.1, 1e-5);
}

TEST(ProbeLoss, ConfidenceTermIsMinimisedAtAlphaOverError) {
  // For a constant error e the per-pixel term gamma e c - alpha log c is minimal at c = alpha /
  // (gamma e): check that the loss there is below the loss at nearby confidences.
  const auto t = make_targets();
  auto config = probe_preset("vidprobe").loss.depth;
  config.gradient = "none";
  const auto gt = t.depth.unsqueeze(-1);
  const auto pred = gt + 0.05;  // error 0.05 everywhere
  auto loss_at = [&](double c) {
    return regression_loss(pred, gt, t.valid, torch::full_like(t.depth, c), t.confidence, config)
        .conf.item<double>();
  };
  const double best = 0.2 / 0.05;
  EXPECT_NEAR(loss_at(best), 0.05 * best - 0.2 * std::log(best), 1e-5);
  EXPECT_LT(loss_at(best), loss_at(best * 1.2));
  EXPECT_LT(loss_at(best), loss_at(best / 1.2));
}

TEST(ProbeLoss, GradientTermMatchesAHandComputation) {
  // One 2 x 3 single-channel map; the error (pred - gt) is
  //   [0 1 3]
  //   [2 2 X]   X invalid.
  // Valid horizontal pairs: |1-0| + |3-1| + |2-2| = 3; vertical: |2-0| + |2-1| = 3 (the pair
  // through X is dropped). 5 valid pixels -> 6 / 5.
  const auto gt = torch::zeros({1, 2, 3, 1});
  const auto pred = torch::tensor({0.f, 1.f, 3.f, 2.f, 2.f, 7.f}).view({1, 2, 3, 1});
  const auto mask = torch::tensor({true, true, true, true, true, false}).view({1, 2, 3});
  EXPECT_NEAR(gradient_loss(pred, gt, mask, {}, 1.0, 0.2).item<double>(), 6.0 / 5.0, 1e-6);
  // Confidence c on every pixel: each valid pair costs gamma c |.| - alpha log c, with the
  // confidence of the pair's second pixel.
  const double c = 2.0;
  const auto conf = torch::full({1, 2, 3}, c);
  const double expected = (c * 6.0 - 5 * 0.2 * std::log(c)) / 5.0;
  EXPECT_NEAR(gradient_loss(pred, gt, mask, conf, 1.0, 0.2).item<double>(), expected, 1e-5);
}

TEST(ProbeLoss, NormalTermIsZeroForTheSamePlaneAndPositiveForATiltedOne) {
  const auto ys = torch::arange(5.0).view({5, 1}).expand({5, 5});
  const auto xs = torch::arange(5.0).view({1, 5}).expand({5, 5});
  const auto plane = torch::stack({xs, ys, torch::ones({5, 5})}, -1).unsqueeze(0);
  const auto tilted = torch::stack({xs, ys, 1 + 0.7 * xs}, -1).unsqueeze(0);
  const auto mask = torch::ones({1, 5, 5}, torch::kBool);
  EXPECT_NEAR(normal_loss(plane * 2, plane, mask, {}, 1, 0.2).item<double>(), 0.0, 1e-6);
  const double tilt = normal_loss(tilted, plane, mask, {}, 1, 0.2).item<double>();
  EXPECT_NEAR(tilt, 1 - 1 / std::sqrt(1 + 0.49), 1e-5);
}

TEST(ProbeLoss, CameraLossWeightsIterationsAndParts) {
  const auto gt = torch::zeros({1, 2, 9});
  auto first = torch::zeros({1, 2, 9});
  first.slice(-1, 0, 3).fill_(1.0);  // translation error 1 in the first iteration
  auto last = torch::zeros({1, 2, 9});
  last.slice(-1, 7, 9).fill_(2.0);  // field-of-view error 2 in the last one
  CameraLossConfig config;
  config.type = "l1";
  const auto terms = camera_loss({first, last}, gt, config);
  // translation: (0.6 * 1 + 1 * 0) / 2, fov: (0.6 * 0 + 1 * 2) / 2
  EXPECT_NEAR(terms.translation.item<double>(), 0.3, 1e-6);
  EXPECT_NEAR(terms.fov.item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(terms.rotation.item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(terms.total.item<double>(), 0.3 + 0.5 * 1.0, 1e-6);
}

TEST(ProbeLoss, NoValidPixelGivesZeroAndAGraph) {
  auto t = make_targets();
  t.valid.zero_();
  auto p = perfect_prediction(t, 3.0);
  p.depth = (p.depth + 1).requires_grad_();
  const auto out = probe_loss(p, t, LossConfig{});
  EXPECT_NEAR(out.terms.at("depth").item<double>(), 0.0, 1e-9);
  out.total.backward();
  EXPECT_TRUE(p.depth.grad().defined());
}

TEST(ProbeLoss, GroundTruthConfidenceWeighsTheDistanceAndNormalisationIsPerClip) {
  auto t = make_targets(2);
  t.valid.fill_(true);
  t.confidence = 1 + torch::rand_like(t.depth);
  auto config = probe_preset("vidfm3d").loss.point;
  ASSERT_EQ(config.confidence, "ground_truth");
  ASSERT_TRUE(config.normalize);
  const auto pred = t.world_points * 3 + 0.1;                  // a scaled copy plus an offset
  const auto predicted_conf = torch::full_like(t.depth, 7.0);  // ignored
  const auto terms =
      regression_loss(pred, t.world_points, t.valid, predicted_conf, t.confidence, config);
  const auto gt_n = normalize_points(t.world_points, t.valid);
  const auto pred_n = normalize_points(pred, t.valid);
  const auto expected = (t.confidence * (pred_n - gt_n).norm(2, -1)).mean();
  EXPECT_NEAR(terms.conf.item<double>(), expected.item<double>(), 1e-6);
  // A pure scale is normalised away: only the offset is left.
  const auto scaled = regression_loss(t.world_points * 5, t.world_points, t.valid, predicted_conf,
                                      t.confidence, config);
  EXPECT_NEAR(scaled.conf.item<double>(), 0.0, 1e-5);
}

}  // namespace
}  // namespace vidprobe::probe
