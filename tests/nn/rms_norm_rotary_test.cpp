#include "vidprobe/nn/rms_norm_rotary.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tensor_test_support.h"

namespace vidprobe::nn {
namespace {

using test_support::relative_error;

// A (tokens, 1, pairs) complex64 table of random angles.
torch::Tensor random_rotation(int64_t tokens, int64_t pairs, const torch::TensorOptions& options) {
  const auto angles = torch::rand({tokens, 1, pairs}, options) * 6.28;
  return torch::polar(torch::ones_like(angles), angles);
}

// The norm and the turn written out in float64: x / rms(x) * weight, then each pair (a, b) of a
// head as (a cos - b sin, a sin + b cos).
torch::Tensor expected_f64(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                           const torch::Tensor& rotation) {
  const auto rows = x.to(torch::kFloat64);
  const auto normed = rows / (rows.pow(2).mean(-1, true) + eps).sqrt() * weight.to(torch::kFloat64);
  const int64_t pairs = rotation.size(-1);
  const auto heads = normed.unflatten(-1, {-1, pairs, 2});  // (B, N, H, pairs, 2)
  const auto a = heads.select(-1, 0), b = heads.select(-1, 1);
  const auto cos = torch::real(rotation).to(torch::kFloat64),
             sin = torch::imag(rotation).to(torch::kFloat64);
  return torch::stack({a * cos - b * sin, a * sin + b * cos}, -1).flatten(-2);
}

TEST(RmsNormRotary, NormalisesOverEveryHeadThenTurnsEachPair) {
  torch::manual_seed(6);
  const auto x = torch::randn({2, 5, 24});
  const auto weight = torch::randn({24});
  const auto rotation = random_rotation(5, 3, torch::TensorOptions());
  const auto result = rms_norm_rotate_pairs(x, weight, 1e-6, rotation);
  ASSERT_EQ(result.sizes(), (std::vector<int64_t>{2, 5, 4, 6}));
  EXPECT_LT(relative_error(result, expected_f64(x, weight, 1e-6, rotation)), 1e-5);
  EXPECT_FALSE(rms_norm_rotary_uses_runtime_kernel(x, weight, rotation));  // a CPU tensor
}

TEST(RmsNormRotary, ATableOfTheWrongWidthIsRefused) {
  const auto x = torch::randn({1, 5, 20});
  EXPECT_THROW(rms_norm_rotate_pairs(x, torch::ones({20}), 1e-6,
                                     random_rotation(5, 3, torch::TensorOptions())),
               std::exception);
  EXPECT_THROW(rms_norm_rotate_pairs(x, torch::ones({20}), 1e-6,
                                     random_rotation(5, 0, torch::TensorOptions())),
               std::exception);
}

// The kernel against libtorch's at::rms_norm and complex product on the same GPU: WAN2.1-14B's
// width and head, a narrow row, float32 and bf16 (the norm's sum of squares is summed in another
// order, so agreement is to float32 rounding, or one bf16 step of either rounding).
TEST(RmsNormRotaryCuda, MatchesLibtorchsNormAndComplexProduct) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  torch::manual_seed(7);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (const auto& [width, head_dim] :
         std::vector<std::pair<int64_t, int64_t>>{{5120, 128}, {8192, 128}, {48, 12}}) {
      SCOPED_TRACE(std::to_string(width) + (dtype == torch::kFloat32 ? " float32" : " bf16"));
      const auto options = torch::TensorOptions(torch::kCUDA).dtype(dtype);
      const auto x = torch::randn({2, 33, width}, options);
      const auto weight = torch::randn({width}, options);
      const auto rotation = random_rotation(33, head_dim / 2, torch::TensorOptions(torch::kCUDA));
      ASSERT_TRUE(rms_norm_rotary_uses_runtime_kernel(x, weight, rotation));
      const auto fused = rms_norm_rotate_pairs(x, weight, 1e-6, rotation);
      const auto normed = at::rms_norm(x, {width}, weight, 1e-6);
      const auto expected = rotate_pairs(normed.unflatten(-1, {-1, head_dim}), rotation);
      ASSERT_EQ(fused.sizes(), expected.sizes());
      ASSERT_EQ(fused.scalar_type(), dtype);
      EXPECT_LT(relative_error(fused, expected), dtype == torch::kFloat32 ? 2e-6 : 1.6e-2);
    }
  }
}

// Inputs the kernel cannot read safely take libtorch's path (which then decides): a weight on
// another device or of another width, a two-dimensional table, a row wider than its blocks hold.
TEST(RmsNormRotaryCuda, RefusesWhatItCannotReadSafely) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  const auto cuda = torch::TensorOptions(torch::kCUDA);
  const auto x = torch::randn({1, 6, 64}, cuda);
  const auto rotation = random_rotation(6, 8, cuda);
  ASSERT_TRUE(rms_norm_rotary_uses_runtime_kernel(x, torch::ones({64}, cuda), rotation));
  EXPECT_FALSE(rms_norm_rotary_uses_runtime_kernel(x, torch::ones({64}), rotation));
  EXPECT_FALSE(rms_norm_rotary_uses_runtime_kernel(x, torch::ones({32}, cuda), rotation));
  EXPECT_FALSE(
      rms_norm_rotary_uses_runtime_kernel(x, torch::ones({64}, cuda), rotation.squeeze(1)));
  const auto wide = torch::randn({1, 6, 8192 + 64}, cuda);
  EXPECT_FALSE(rms_norm_rotary_uses_runtime_kernel(wide, torch::ones({8192 + 64}, cuda), rotation));
}

}  // namespace
}  // namespace vidprobe::nn
