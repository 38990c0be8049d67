#include "vidprobe/nn/stage_meter.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vidprobe/nn/linear.h"
#include "vidprobe/nn/vit.h"

namespace vidprobe::nn {
namespace {

TEST(StageMeter, WithoutAMeterNothingIsCountedOrTimed) {
  Linear linear(8, 5);
  ScopedStage stage(kTransformerStage);
  EXPECT_FALSE(counting_flops());
  (void)linear(torch::randn({2, 3, 8}));  // must not touch any meter
  StageMeter meter(torch::kCPU);
  EXPECT_TRUE(meter.totals().empty());
}

TEST(StageMeter, CountsLinearAndAttentionProductsOfTheOpenStageOnly) {
  Linear linear(8, 5);
  StageMeter meter(torch::kCPU);
  (void)linear(torch::randn({2, 3, 8}));  // outside any stage: not counted
  {
    ScopedStage stage(kTransformerStage);
    (void)linear(torch::randn({2, 3, 8}));  // 6 rows x 8 x 5
    // (B 2, heads 3, Lq 4, d 6) against Lk 7 with dv 10: QK^T 2*3*4*7*6, weights x v 2*3*4*7*10.
    (void)attention(torch::randn({2, 3, 4, 6}), torch::randn({2, 3, 7, 6}),
                    torch::randn({2, 3, 7, 10}));
  }
  const auto totals = meter.stage(kTransformerStage);
  EXPECT_EQ(totals.entries, 1);
  EXPECT_DOUBLE_EQ(totals.flops, 2.0 * 6 * 8 * 5 + 2.0 * (2 * 3 * 4 * 7) * (6 + 10));
  EXPECT_GE(totals.seconds, 0.0);
  EXPECT_EQ(meter.totals().size(), 1u);
}

TEST(StageMeter, NestedStagesBelongToTheOutermost) {
  Linear linear(4, 4);
  StageMeter meter(torch::kCPU);
  {
    ScopedStage outer(kVaeStage);
    ScopedStage inner(kTransformerStage);
    (void)linear(torch::randn({1, 4}));
  }
  EXPECT_DOUBLE_EQ(meter.stage(kVaeStage).flops, 2.0 * 4 * 4);
  EXPECT_EQ(meter.stage(kTransformerStage).entries, 0);
  EXPECT_FALSE(counting_flops());
}

TEST(StageMeter, OneMeterPerThread) {
  StageMeter meter(torch::kCPU);
  EXPECT_THROW(StageMeter second(torch::kCPU), std::exception);
}

// A ViT's blocks, counted at run time, against the closed form per block over B sequences of n
// tokens of width d with MLP width f: 2 B n (4 d^2 + 2 d f) for the projections and MLP, and
// 4 B n^2 d for attention. The patch embedding is a convolution and is not counted.
TEST(StageMeter, ViTBlocksMatchTheClosedForm) {
  ViTConfig config;
  config.image_size = 28;
  config.patch_size = 14;
  config.width = 32;
  config.depth = 3;
  config.heads = 2;
  config.register_tokens = 4;
  ViT vit(config);
  vit->eval();
  torch::NoGradGuard no_grad;
  StageMeter meter(torch::kCPU);
  (void)vit->patch_features(torch::randn({2, 3, 28, 42}), {1});  // blocks 0 and 1
  const double b = 2, n = 1 + 4 + 2 * 3, d = 32, f = 4 * 32;
  const double per_block = 2 * b * n * (4 * d * d + 2 * d * f) + 4 * b * n * n * d;
  EXPECT_DOUBLE_EQ(meter.stage(kTransformerStage).flops, 2 * per_block);
}

}  // namespace
}  // namespace vidprobe::nn
