#include "vidprobe/nn/patch_embed.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tensor_test_support.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::nn {
namespace {

// The convolution the embedding replaces, with its tokens in (t, y, x) order.
torch::Tensor convolved_tokens(const torch::Tensor& input, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
  const auto kernel = weight.sizes().slice(2);
  const auto maps = weight.dim() == 5 ? torch::conv3d(input, weight, bias, kernel)
                                      : torch::conv2d(input, weight, bias, kernel);
  return maps.flatten(2).transpose(1, 2);
}

TEST(EmbedPatches, TubeletsMatchTheConvolutionDroppingRemainders) {
  torch::manual_seed(0);
  // 5 frames, 35 x 50 pixels in tubelets of 2 x 16 x 16: 2 x 2 x 3 tokens, the remainders dropped.
  const auto video = torch::randn({2, 3, 5, 35, 50});
  const auto weight = torch::randn({8, 3, 2, 16, 16}), bias = torch::randn({8});
  const auto tokens = embed_patches(video, weight, bias);
  ASSERT_EQ(tokens.sizes(), (std::vector<int64_t>{2, 12, 8}));
  EXPECT_TRUE(tokens.is_contiguous());
  EXPECT_LT(test_support::relative_error(tokens, convolved_tokens(video, weight, bias)), 1e-5);
  // The order of the pixels inside a patch matters: a transposed kernel gives other values.
  EXPECT_GT(
      test_support::relative_error(tokens, convolved_tokens(video, weight.transpose(3, 4), bias)),
      0.1);
}

TEST(EmbedPatches, ReadsAnyStridesAndTwoDimensionalPatches) {
  torch::manual_seed(1);
  // (B, T, C, H, W) frames seen as (B, C, T, H, W) without a copy, as a clip's channels-second
  // view.
  const auto frames = torch::randn({1, 4, 3, 28, 42});
  const auto video = frames.permute({0, 2, 1, 3, 4});
  ASSERT_FALSE(video.is_contiguous());
  const auto weight = torch::randn({6, 3, 2, 14, 14}), bias = torch::randn({6});
  EXPECT_LT(test_support::relative_error(embed_patches(video, weight, bias),
                                         convolved_tokens(video.contiguous(), weight, bias)),
            1e-5);

  const auto image = torch::randn({3, 3, 30, 44});
  const auto weight_2d = torch::randn({5, 3, 14, 14});
  EXPECT_LT(test_support::relative_error(embed_patches(image, weight_2d, {}),
                                         convolved_tokens(image, weight_2d, {})),
            1e-5);
}

TEST(EmbedPatches, CountsTheGemmAndNamesMismatchedShapes) {
  const auto video = torch::randn({1, 3, 2, 32, 32});
  const auto weight = torch::randn({8, 3, 2, 16, 16});
  {
    StageMeter meter(torch::kCPU);
    {
      ScopedStage stage(kTransformerStage);
      embed_patches(video, weight, {});
    }
    EXPECT_DOUBLE_EQ(meter.stage(kTransformerStage).flops, 2.0 * 4 * (3 * 2 * 16 * 16) * 8);
  }
  try {
    embed_patches(torch::randn({1, 4, 2, 32, 32}), weight, {});
    FAIL() << "four channels against a three-channel weight were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[1, 4, 2, 32, 32]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(embed_patches(torch::randn({1, 3, 1, 32, 32}), weight, {}), Error);
  // An empty batch gives no tokens, as the convolution does.
  EXPECT_EQ(embed_patches(torch::randn({0, 3, 2, 32, 32}), weight, {}).sizes(),
            (std::vector<int64_t>{0, 4, 8}));
}

}  // namespace
}  // namespace vidprobe::nn
