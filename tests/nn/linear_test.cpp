#include "vidprobe/nn/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace vidprobe::nn {
namespace {

// torch::nn::Linear's draws, in its order: the same seed gives the same weights (the probe's
// initialisation, and every seeded random backbone, stayed what they were when nn::Linear was a
// torch::nn::Linear).
TEST(Linear, DrawsTheWeightsTorchNnLinearDraws) {
  for (const bool with_bias : {true, false}) {
    const auto options = torch::nn::LinearOptions(48, 20).bias(with_bias);
    torch::manual_seed(7);
    torch::nn::Linear theirs(options);
    torch::manual_seed(7);
    Linear ours(options);
    EXPECT_TRUE(torch::equal(ours->weight, theirs->weight));
    EXPECT_EQ(ours->bias.defined(), with_bias);
    if (with_bias) EXPECT_TRUE(torch::equal(ours->bias, theirs->bias));
    std::vector<std::string> names;
    for (const auto& item : ours->named_parameters()) names.push_back(item.key());
    const std::vector<std::string> expected =
        with_bias ? std::vector<std::string>{"weight", "bias"} : std::vector<std::string>{"weight"};
    EXPECT_EQ(names, expected);
    const auto x = torch::randn({2, 5, 48});
    EXPECT_TRUE(torch::equal(ours(x), torch::linear(x, theirs->weight, theirs->bias)));
  }
}

// Inside an UndrawnLinears scope the parameters are allocated, not drawn: the generator has not
// moved (the next draw is the one a fresh seed gives), and the layer loads as any other.
TEST(Linear, AnUndrawnScopeLeavesTheGeneratorAndTheLoadAlone) {
  torch::manual_seed(3);
  const auto first_draw = torch::rand({4});
  torch::manual_seed(3);
  Linear undrawn = [] {
    UndrawnLinears scope;
    EXPECT_TRUE(UndrawnLinears::active());
    return Linear(16, 8);
  }();
  EXPECT_FALSE(UndrawnLinears::active());
  EXPECT_TRUE(torch::equal(torch::rand({4}), first_draw));
  EXPECT_EQ(undrawn->weight.sizes(), (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(undrawn->bias.sizes(), (std::vector<int64_t>{8}));
  torch::manual_seed(3);
  Linear drawn(16, 8);  // outside the scope again: drawn
  EXPECT_FALSE(torch::equal(torch::rand({4}), first_draw));
  {
    torch::NoGradGuard no_grad;
    undrawn->weight.copy_(drawn->weight);
    undrawn->bias.copy_(drawn->bias);
  }
  const auto x = torch::randn({3, 16});
  EXPECT_TRUE(torch::equal(undrawn(x), drawn(x)));
}

struct Projection {
  torch::Tensor weight, bias;
};

Projection random_projection(int64_t in, int64_t out, const torch::TensorOptions& options) {
  return {torch::randn({out, in}, options) / std::sqrt(static_cast<double>(in)),
          torch::randn({out}, options) * 0.1};
}

// Off the epilogue's path (here, the CPU) the value is linear then the tanh GELU, bit for bit.
TEST(LinearGeluTanh, OffTheGpuIsLinearThenTheTanhGelu) {
  torch::manual_seed(0);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto options = torch::TensorOptions().dtype(dtype);
    const auto x = torch::randn({2, 7, 24}, options);
    const auto p = random_projection(24, 40, options);
    EXPECT_FALSE(gelu_epilogue_applies(x, p.weight, p.bias));
    const auto expected = torch::gelu(torch::linear(x, p.weight, p.bias), "tanh");
    EXPECT_TRUE(torch::equal(linear_gelu_tanh(x, p.weight, p.bias), expected)) << dtype;
  }
}

// On a GPU in bf16 the epilogue applies the GELU to the float32 accumulator: within one bf16
// step of the float32 value, and on average no further from it than linear then gelu, which
// round twice. What it does not take: float32, rows not contiguous, a gradient being recorded, no
// bias.
TEST(LinearGeluTanhCuda, TheEpilogueRoundsOnceInBf16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(1);
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
  const auto x = torch::randn({3, 37, 96}, options);
  const auto p = random_projection(96, 200, options);
  ASSERT_TRUE(gelu_epilogue_applies(x, p.weight, p.bias));
  const auto ours = linear_gelu_tanh(x, p.weight, p.bias);
  EXPECT_EQ(ours.sizes(), (std::vector<int64_t>{3, 37, 200}));
  EXPECT_EQ(ours.scalar_type(), torch::kBFloat16);
  const auto f = [](const torch::Tensor& t) { return t.to(torch::kFloat32); };
  const auto exact = torch::gelu(torch::linear(f(x), f(p.weight), f(p.bias)), "tanh").cpu();
  const auto twice = f(torch::gelu(torch::linear(x, p.weight, p.bias), "tanh")).cpu();
  const auto once = f(ours).cpu();
  const double step = 1.0 / 128;  // one bf16 step relative to the value
  EXPECT_TRUE(((once - exact).abs() <= exact.abs() * step + 1e-3).all().item<bool>())
      << (once - exact).abs().max().item<float>();
  EXPECT_LE((once - exact).abs().mean().item<double>(),
            (twice - exact).abs().mean().item<double>() * 1.05);

  EXPECT_FALSE(gelu_epilogue_applies(f(x), f(p.weight), f(p.bias)));
  EXPECT_FALSE(gelu_epilogue_applies(x.transpose(0, 1), p.weight, p.bias));
  EXPECT_FALSE(gelu_epilogue_applies(x, p.weight, torch::Tensor()));
  {
    torch::AutoGradMode grad(true);
    const auto trained = p.weight.clone().requires_grad_(true);
    EXPECT_FALSE(gelu_epilogue_applies(x, trained, p.bias));
  }
}

}  // namespace
}  // namespace vidprobe::nn
