#include "vidprobe/nn/fused_conv_bias.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vidprobe::nn {
namespace {

namespace tnn = torch::nn;

TEST(FusedConvBias, OnTheCpuTheyAreTheConvolutionThenTheReluOrTheSum) {
  torch::manual_seed(1);
  tnn::Conv2d conv(tnn::Conv2dOptions(6, 6, 3).padding(1));
  const auto x = torch::randn({2, 6, 5, 7});
  const auto residual = torch::randn({2, 6, 5, 7});
  EXPECT_TRUE(torch::equal(conv2d_bias_relu(*conv, x), torch::relu(conv(x))));
  EXPECT_TRUE(torch::equal(conv2d_bias_residual(*conv, x, residual), residual + conv(x)));
}

struct Outputs {
  torch::Tensor value, x_grad, weight_grad, bias_grad, residual_grad;
};

// One forward and backward of relu(conv(x)) (no residual) or residual + conv(x), by `fused` or by
// libtorch's modules, from the same inputs and the same upstream gradient.
Outputs run_conv_bias(tnn::Conv2d& conv, const torch::Tensor& x, const torch::Tensor& residual,
                      const torch::Tensor& upstream, bool fused) {
  conv->zero_grad();
  const auto x_in = x.detach().requires_grad_(true);
  const auto residual_in = residual.defined() ? residual.detach().requires_grad_(true) : residual;
  torch::Tensor value;
  if (residual.defined())
    value = fused ? conv2d_bias_residual(*conv, x_in, residual_in) : residual_in + conv(x_in);
  else
    value = fused ? conv2d_bias_relu(*conv, x_in) : torch::relu(conv(x_in));
  value.backward(upstream);
  return {value.detach(), x_in.grad(), conv->weight.grad().clone(), conv->bias.grad().clone(),
          residual.defined() ? residual_in.grad() : torch::Tensor()};
}

// The kernels against libtorch's convolution, bias, ReLU and sum on the same GPU: values, the
// bias's and the residual's gradients equal; the convolution's own gradients (cuDNN's backward,
// run on the same upstream gradient) within rounding. 16-byte and one-element kernels.
TEST(FusedConvBiasCuda, MatchesTheConvolutionThenTheReluOrTheSum) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(2);
  for (const int64_t channels : {16, 6}) {
    SCOPED_TRACE(channels);
    tnn::Conv2d conv(tnn::Conv2dOptions(channels, channels, 3).padding(1));
    conv->to(torch::kCUDA);
    const auto cl = torch::MemoryFormat::ChannelsLast;
    const auto x = torch::randn({3, channels, 9, 13}, torch::kCUDA).contiguous(cl);
    const auto residual = torch::randn({3, channels, 9, 13}, torch::kCUDA).contiguous(cl);
    const auto upstream = torch::randn({3, channels, 9, 13}, torch::kCUDA).contiguous(cl);
    const auto bias_free = torch::conv2d(x, conv->weight, {}, 1, 1);
    ASSERT_TRUE(conv_bias_uses_runtime_kernels(bias_free, conv->bias, residual));
    for (const bool with_residual : {false, true}) {
      SCOPED_TRACE(with_residual ? "residual" : "relu");
      const auto r = with_residual ? residual : torch::Tensor();
      const auto mine = run_conv_bias(conv, x, r, upstream, true);
      const auto theirs = run_conv_bias(conv, x, r, upstream, false);
      EXPECT_TRUE(torch::equal(mine.value, theirs.value));
      EXPECT_TRUE(torch::equal(mine.bias_grad, theirs.bias_grad));
      if (with_residual) {
        EXPECT_TRUE(torch::equal(mine.residual_grad, theirs.residual_grad));
      }
      EXPECT_TRUE(torch::allclose(mine.x_grad, theirs.x_grad, 1e-4, 1e-5));
      EXPECT_TRUE(torch::allclose(mine.weight_grad, theirs.weight_grad, 1e-4, 1e-4));
    }
  }
}

TEST(FusedConvBiasCuda, OtherInputsTakeLibtorch) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto bias = torch::randn({8}, torch::kCUDA);
  const auto y = torch::randn({2, 8, 4, 4}, torch::kCUDA);
  const auto cl = y.contiguous(torch::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(conv_bias_uses_runtime_kernels(cl, bias, {}));
  EXPECT_FALSE(conv_bias_uses_runtime_kernels(y, bias, {}));  // not channels-last
  EXPECT_FALSE(conv_bias_uses_runtime_kernels(cl.to(torch::kBFloat16), bias, {}));  // bf16
  EXPECT_FALSE(conv_bias_uses_runtime_kernels(cl, bias, y));         // a residual in another layout
  EXPECT_FALSE(conv_bias_uses_runtime_kernels(cl, bias.cpu(), {}));  // a bias elsewhere
}

}  // namespace
}  // namespace vidprobe::nn
