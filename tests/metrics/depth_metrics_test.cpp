#include "vidprobe/metrics/depth_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vidprobe/core/error.h"

namespace vidprobe::metrics {
namespace {

using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

torch::Tensor map2x2(double a, double b, double c, double d) {
  return torch::tensor({a, b, c, d}, torch::kDouble).view({1, 2, 2});
}

const torch::Tensor& all_valid() {
  static const auto valid = torch::ones({1, 2, 2}, torch::kBool);
  return valid;
}

// gt [1, 2, 4, 8], pred [2, 2, 4, 20]: both medians are 3, so the scale is 1.
// AbsRel = (1/1 + 0 + 0 + 12/8) / 4 = 0.625; ratios 2, 1, 1, 2.5 -> delta1 = 0.5.
TEST(DepthMetrics, TwoByTwoByHand) {
  const auto gt = map2x2(1, 2, 4, 8);
  const auto scores =
      depth_metrics(map2x2(2, 2, 4, 20), gt, all_valid(), DepthAlignment::kMedianPerFrame);
  EXPECT_NEAR(scores.abs_rel, 0.625, 1e-15);
  EXPECT_NEAR(scores.delta1, 0.5, 1e-15);
  EXPECT_EQ(scores.valid_pixels, 4);
  // Half the prediction: the median scale 2 restores it exactly.
  const auto halved =
      depth_metrics(map2x2(1, 1, 2, 10), gt, all_valid(), DepthAlignment::kMedianPerClip);
  EXPECT_NEAR(halved.abs_rel, 0.625, 1e-15);
  EXPECT_NEAR(halved.delta1, 0.5, 1e-15);
}

TEST(DepthMetrics, InvariantToScalingThePrediction) {
  torch::manual_seed(41);
  const auto gt = 1 + 9 * torch::rand({3, 6, 5}, torch::kDouble);
  const auto pred = gt * (1 + 0.3 * torch::randn({3, 6, 5}, torch::kDouble)).abs();
  const auto valid = torch::rand({3, 6, 5}).gt(0.2);
  for (const auto mode : {DepthAlignment::kMedianPerFrame, DepthAlignment::kMedianPerClip,
                          DepthAlignment::kScaleShiftPerFrame}) {
    const auto reference = depth_metrics(pred, gt, valid, mode);
    const auto scaled = depth_metrics(pred * 123.0, gt, valid, mode);
    EXPECT_GT(reference.abs_rel, 0.01);
    EXPECT_NEAR(scaled.abs_rel, reference.abs_rel, 1e-12);
    EXPECT_DOUBLE_EQ(scaled.delta1, reference.delta1);
  }
}

TEST(DepthMetrics, PerFramePerClipAndScaleShiftDiffer) {
  // Frame 0 predicted at twice, frame 1 at four times the GT depth of 1.
  const auto gt = torch::ones({2, 1, 2}, torch::kDouble);
  const auto pred = torch::tensor({2.0, 2.0, 4.0, 4.0}, torch::kDouble).view({2, 1, 2});
  const auto valid = torch::ones({2, 1, 2}, torch::kBool);
  const auto per_frame = depth_metrics(pred, gt, valid, DepthAlignment::kMedianPerFrame);
  EXPECT_NEAR(per_frame.abs_rel, 0.0, 1e-15);
  EXPECT_DOUBLE_EQ(per_frame.delta1, 1.0);
  // One clip scale: median(gt) / median(pred) = 1 / 3 -> aligned 2/3, 2/3, 4/3, 4/3.
  const auto per_clip = depth_metrics(pred, gt, valid, DepthAlignment::kMedianPerClip);
  EXPECT_NEAR(per_clip.abs_rel, 1.0 / 3, 1e-15);
  EXPECT_DOUBLE_EQ(per_clip.delta1, 0.0);  // ratios 1.5 and 1.33
  // Scale and shift: an affine prediction of a non-flat GT is perfect.
  const auto ramp = torch::tensor({1.0, 2.0, 3.0, 5.0}, torch::kDouble).view({2, 1, 2});
  const auto affine =
      depth_metrics(2 * ramp - 0.5, ramp, valid, DepthAlignment::kScaleShiftPerFrame);
  EXPECT_NEAR(affine.abs_rel, 0.0, 1e-14);
  EXPECT_DOUBLE_EQ(affine.delta1, 1.0);
}

TEST(DepthMetrics, InvalidNonFiniteAndNonPositiveGtPixelsAreExcluded) {
  // Only pixel (0, 0) is usable: one is masked, one NaN, one zero in the GT. The prediction may
  // hold anything at excluded pixels.
  const auto gt = map2x2(2, kNaN, 0, 5);
  auto valid = torch::ones({1, 2, 2}, torch::kBool);
  valid[0][1][1] = false;
  const auto scores =
      depth_metrics(map2x2(1, kNaN, kNaN, -3), gt, valid, DepthAlignment::kMedianPerFrame);
  EXPECT_EQ(scores.valid_pixels, 1);
  EXPECT_NEAR(scores.abs_rel, 0.0, 1e-15);
  EXPECT_DOUBLE_EQ(scores.delta1, 1.0);
}

TEST(DepthMetrics, NoValidPixelExcludesTheClipWithoutNaN) {
  const auto scores = depth_metrics(map2x2(1, 2, 3, 4), map2x2(0, 0, kNaN, -1), all_valid(),
                                    DepthAlignment::kMedianPerFrame);
  EXPECT_EQ(scores.valid_pixels, 0);
  EXPECT_EQ(scores.abs_rel, 0.0);
  EXPECT_EQ(scores.delta1, 0.0);
  // A frame without valid pixels next to a good one does not disturb the per-frame alignment.
  auto gt = torch::ones({2, 2, 2}, torch::kDouble);
  gt[1].fill_(0);
  const auto mixed =
      depth_metrics(3 * torch::ones({2, 2, 2}, torch::kDouble), gt,
                    torch::ones({2, 2, 2}, torch::kBool), DepthAlignment::kScaleShiftPerFrame);
  EXPECT_EQ(mixed.valid_pixels, 4);
  EXPECT_NEAR(mixed.abs_rel, 0.0, 1e-15);
}

TEST(DepthMetrics, NonPositiveAlignedDepthIsNeverAHit) {
  // Scale-shift fits gt [1, 2, 3] from pred [0, 1, 2] exactly, but pred -3 then aligns to -2.
  const auto gt = torch::tensor({1.0, 2.0, 3.0, 0.5}, torch::kDouble).view({1, 1, 4});
  const auto pred = torch::tensor({0.0, 1.0, 2.0, -3.0}, torch::kDouble).view({1, 1, 4});
  auto valid = torch::ones({1, 1, 4}, torch::kBool);
  valid[0][0][3] = false;
  const auto fit = depth_metrics(pred, gt, valid, DepthAlignment::kScaleShiftPerFrame);
  EXPECT_DOUBLE_EQ(fit.delta1, 1.0);
  valid[0][0][3] = true;
  const auto with_negative = depth_metrics(pred, gt, valid, DepthAlignment::kScaleShiftPerFrame);
  EXPECT_LE(with_negative.delta1, 0.75);
}

TEST(DepthMetrics, NonFinitePredictionAtAValidPixelThrows) {
  EXPECT_THAT(
      [] {
        depth_metrics(map2x2(1, kNaN, 3, 4), map2x2(1, 2, 3, 4), all_valid(),
                      DepthAlignment::kMedianPerFrame);
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("depth_metrics: pred has 1 non-finite")));
  EXPECT_THAT(
      [] {
        depth_metrics(map2x2(1, 2, 3, 4), map2x2(1, 2, 3, 4).view({1, 4}), all_valid(),
                      DepthAlignment::kMedianPerFrame);
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("gt must be")));
}

}  // namespace
}  // namespace vidprobe::metrics
