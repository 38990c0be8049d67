#include "vidprobe/nn/group_norm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tensor_test_support.h"
#include "vidprobe/core/error.h"

namespace vidprobe::nn {
namespace {

// A video VAE's activations: (N, C, T, H, W) with per-channel offsets well above their spread,
// where a careless one-pass variance would cancel.
torch::Tensor activations(torch::Dtype dtype = torch::kFloat32) {
  torch::manual_seed(3);
  const auto offsets = torch::randn({2, 12, 1, 1, 1}) * 8;
  return (torch::randn({2, 12, 3, 10, 14}) + offsets).to(dtype);
}

TEST(GroupNorm, MatchesATenGroupNormWithAndWithoutAffine) {
  const auto x = activations();
  const auto weight = torch::randn({12}), bias = torch::randn({12});
  EXPECT_LT(test_support::relative_error(group_norm(x, 4, weight, bias, 1e-6),
                                         torch::group_norm(x, 4, weight, bias, 1e-6)),
            1e-5);
  EXPECT_LT(test_support::relative_error(group_norm(x, 3, torch::Tensor(), torch::Tensor(), 1e-5),
                                         torch::group_norm(x, 3, {}, {}, 1e-5)),
            1e-5);
  // Not the identity: the test can see a missing normalisation.
  EXPECT_GT(test_support::relative_error(x, torch::group_norm(x, 4, weight, bias, 1e-6)), 0.5);
}

TEST(GroupNorm, Bf16InputHasFloatStatisticsAndBf16Output) {
  const auto x = activations(torch::kBFloat16);
  const auto weight = torch::randn({12}), bias = torch::randn({12});
  const auto ours = group_norm(x, 4, weight.to(torch::kBFloat16), bias.to(torch::kBFloat16), 1e-6);
  EXPECT_EQ(ours.scalar_type(), torch::kBFloat16);
  const auto exact = torch::group_norm(x.to(torch::kFloat32), 4, weight, bias, 1e-6);
  EXPECT_LT(test_support::relative_error(ours, exact),
            1e-2);  // bf16 rounding of input, weights, result
}

TEST(GroupNorm, ModuleKeepsTorchsParameterNamesAndOptions) {
  GroupNorm norm(torch::nn::GroupNormOptions(4, 12).eps(1e-6));
  const auto named = norm->named_parameters();
  EXPECT_TRUE(named.contains("weight"));
  EXPECT_TRUE(named.contains("bias"));
  torch::nn::GroupNorm reference(torch::nn::GroupNormOptions(4, 12).eps(1e-6));
  torch::NoGradGuard no_grad;
  reference->weight.copy_(torch::randn({12}));
  reference->bias.copy_(torch::randn({12}));
  norm->weight.copy_(reference->weight);
  norm->bias.copy_(reference->bias);
  const auto x = activations();
  EXPECT_LT(test_support::relative_error(norm(x), reference(x)), 1e-5);
}

TEST(GroupNorm, RejectsChannelsThatDoNotSplitIntoGroups) {
  EXPECT_THROW(group_norm(torch::zeros({1, 10, 4}), 4, torch::Tensor(), torch::Tensor(), 1e-6),
               Error);
  EXPECT_THROW(group_norm(torch::zeros({10}), 2, torch::Tensor(), torch::Tensor(), 1e-6), Error);
}

TEST(GroupNormCuda, MatchesATenOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto x = activations().to(torch::kCUDA);
  const auto weight = torch::randn({12}).cuda(), bias = torch::randn({12}).cuda();
  EXPECT_LT(test_support::relative_error(group_norm(x, 4, weight, bias, 1e-6),
                                         torch::group_norm(x, 4, weight, bias, 1e-6)),
            1e-5);
}

}  // namespace
}  // namespace vidprobe::nn
