#include "vidprobe/nn/residual_norm.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tensor_test_support.h"

namespace vidprobe::nn {
namespace {

using test_support::relative_error;

// LayerNorm of each row in float64, from its definition.
torch::Tensor row_norm_f64(const torch::Tensor& x, double eps) {
  const auto rows = x.to(torch::kFloat64);
  const auto mean = rows.mean(-1, true);
  const auto variance = (rows - mean).pow(2).mean(-1, true);
  return (rows - mean) / (variance + eps).sqrt();
}

TEST(ResidualNorm, ModulatedNormIsTheGatedSumNormalisedScaledAndShifted) {
  torch::manual_seed(3);
  const auto stream = torch::randn({2, 5, 12});
  const auto update = torch::randn({2, 5, 12});
  const auto gate = torch::randn({2, 1, 12});
  const auto multiplier = 1 + torch::randn({2, 1, 12});
  const auto shift = torch::randn({2, 1, 12});
  const auto result =
      modulated_layer_norm({stream, update, gate}, multiplier, shift, 1e-6, torch::kFloat32);
  const auto summed = stream + update * gate;
  EXPECT_TRUE(torch::equal(result.stream, summed));
  EXPECT_TRUE(torch::equal(updated_stream({stream, update, gate}), summed));
  const auto expected = row_norm_f64(summed, 1e-6) * multiplier + shift;
  EXPECT_LT(relative_error(result.normed, expected), 1e-5);
}

// The stream keeps its dtype whatever the update's and the gate's: the sum is formed in float32 and
// rounded to the stream's dtype once, as the kernel forms it.
TEST(ResidualNorm, TheUpdatedStreamKeepsItsDtype) {
  torch::manual_seed(6);
  const auto stream = torch::randn({1, 3, 8}).to(torch::kBFloat16);
  const auto update = torch::randn({1, 3, 8});
  const auto gate = torch::randn({8});
  const auto gated = updated_stream({stream, update.to(torch::kBFloat16), gate});
  EXPECT_EQ(gated.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(
      gated, (stream.to(torch::kFloat32) + update.to(torch::kBFloat16).to(torch::kFloat32) * gate)
                 .to(torch::kBFloat16)));
  const auto summed = updated_stream({stream, update});
  EXPECT_EQ(summed.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(summed, (stream.to(torch::kFloat32) + update).to(torch::kBFloat16)));
}

TEST(ResidualNorm, AffineNormWithoutAnUpdateLeavesTheStreamAndCasts) {
  torch::manual_seed(4);
  const auto stream = torch::randn({1, 7, 16});
  const auto weight = torch::randn({16});
  const auto bias = torch::randn({16});
  const auto result = affine_layer_norm({stream}, weight, bias, 1e-5, torch::kBFloat16);
  EXPECT_TRUE(result.stream.is_same(stream));
  EXPECT_EQ(result.normed.scalar_type(), torch::kBFloat16);
  EXPECT_LT(relative_error(result.normed, row_norm_f64(stream, 1e-5) * weight + bias), 8e-3);
  EXPECT_FALSE(residual_norm_uses_runtime_kernel({stream}, NormScale::kWeightAndBias, weight, bias,
                                                 torch::kBFloat16));  // a CPU tensor
}

// settle leaves the updated stream and no update, so a later norm adds nothing twice; a stream
// already settled is kept as it is. Off the GPU residual_norm_on_runtime_kernel declines.
TEST(ResidualNorm, SettleAddsThePendingUpdateOnce) {
  torch::manual_seed(8);
  const auto stream = torch::randn({2, 3, 8});
  const auto update = torch::randn({2, 3, 8});
  const auto gate = torch::randn({8});
  ResidualUpdate pending{stream, update, gate};
  EXPECT_FALSE(residual_norm_on_runtime_kernel(pending, NormScale::kModulation, 1 + gate, gate,
                                               1e-6, torch::kFloat32)
                   .has_value());
  const auto settled = settle(pending);
  EXPECT_TRUE(torch::equal(settled, updated_stream({stream, update, gate})));
  EXPECT_FALSE(pending.update.defined());
  EXPECT_FALSE(pending.gate.defined());
  EXPECT_TRUE(settle(pending).is_same(settled));
}

TEST(ResidualNorm, ADestinationOfOtherSizesOrDtypeIsRefusedByName) {
  const ResidualUpdate u{torch::randn({1, 3, 8})};
  const auto ones = torch::ones({8}), zeros = torch::zeros({8});
  for (const auto& into : {torch::empty({1, 4, 8}), torch::empty({1, 3, 8}, torch::kBFloat16)}) {
    try {
      residual_norm_on_runtime_kernel(u, NormScale::kModulation, ones, zeros, 1e-6, torch::kFloat32,
                                      into);
      ADD_FAILURE() << "a destination of sizes " << into.sizes() << " was taken";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("destination"), std::string::npos) << e.what();
    }
  }
}

// The profile's split between the fused kernel and libtorch's (the CUDA tests, bench
// ResidualNormKernels) is by the entry points' exact names, not by a prefix another kernel could
// share.
TEST(ResidualNorm, ItsKernelsAreKnownByTheirEntryPointsNames) {
  for (const char* name :
       {"residual_norm_f32_f32_f32", "residual_norm_f32_bf16_bf16", "residual_norm_bf16_bf16_bf16"})
    EXPECT_TRUE(is_residual_norm_kernel(name)) << name;
  for (const char* name : {"", "residual_norm_", "residual_norm_bf16_bf16_f32",
                           "void at::native::(anonymous namespace)::vectorized_layer_norm_kernel"})
    EXPECT_FALSE(is_residual_norm_kernel(name)) << name;
}

// The reference DiTs' form of each, written out here (the gated sum and the modulation as a
// product rounded, then a sum, in float32): what the kernel must reproduce.
NormedStream composed(const ResidualUpdate& u, const torch::Tensor& multiplier,
                      const torch::Tensor& shift, bool modulated, torch::ScalarType dtype) {
  auto stream = u.stream;
  if (u.update.defined() && u.gate.defined())
    stream = (u.stream.to(torch::kFloat32) + u.update * u.gate.to(torch::kFloat32))
                 .to(u.stream.scalar_type());
  else if (u.update.defined())
    stream = u.stream + u.update;
  const int64_t width = stream.size(-1);
  if (modulated) {
    const auto normed = torch::layer_norm(stream.to(torch::kFloat32), {width}, {}, {}, 1e-6);
    return {stream, (normed * multiplier + shift).to(dtype)};
  }
  return {stream, torch::layer_norm(stream, {width}, multiplier, shift, 1e-6).to(dtype)};
}

struct KernelCase {
  const char* name;
  int64_t width;
  torch::ScalarType stream, update, out;
  bool modulated, with_update, with_gate;
};

// The kernel against the reference's form on the same GPU, for every dtype combination it takes:
// the stream bit for bit (and nn::updated_stream's, which settles a kept layer), the normed rows
// within float32 rounding or one step of bf16. The gate and modulation are (B, 1, D) views into a
// (B, 6, D) table, as WAN's are.
TEST(ResidualNormCuda, MatchesLibtorchsAddNormAndModulation) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  torch::manual_seed(5);
  const auto f32 = torch::kFloat32, bf16 = torch::kBFloat16;
  const std::vector<KernelCase> cases{
      {"WAN-14B bf16, gated, modulated", 5120, f32, bf16, bf16, true, true, true},
      {"WAN-1.3B float32, cross-attention sum, affine", 1536, f32, f32, f32, false, true, false},
      {"ViT-L bf16 stream, sum, affine", 1024, bf16, bf16, bf16, false, true, false},
      {"ViT bf16 LayerScale gate, affine", 1024, bf16, bf16, bf16, false, true, true},
      {"no update, narrow row", 96, f32, bf16, bf16, true, false, false},
      {"one warp's row", 8, f32, f32, f32, true, true, true},
      {"the widest row, 256 threads", 8192, f32, bf16, bf16, true, true, true}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const int64_t batch = 2, tokens = 37;
    const auto on = [](torch::ScalarType t) { return torch::TensorOptions(torch::kCUDA).dtype(t); };
    ResidualUpdate u{torch::randn({batch, tokens, c.width}, on(c.stream))};
    const auto table = torch::randn({batch, 6, c.width}, on(f32));
    const auto chunks = table.chunk(6, 1);
    if (c.with_update) u.update = torch::randn({batch, tokens, c.width}, on(c.update));
    if (c.with_gate) u.gate = c.stream == bf16 ? torch::randn({c.width}, on(bf16)) : chunks[2];
    const auto multiplier = c.modulated ? 1 + chunks[1] : torch::randn({c.width}, on(c.stream));
    const auto shift = c.modulated ? chunks[0] : torch::randn({c.width}, on(c.stream));
    ASSERT_TRUE(residual_norm_uses_runtime_kernel(
        u, c.modulated ? NormScale::kModulation : NormScale::kWeightAndBias, multiplier, shift,
        c.out));
    const auto fused = c.modulated ? modulated_layer_norm(u, multiplier, shift, 1e-6, c.out)
                                   : affine_layer_norm(u, multiplier, shift, 1e-6, c.out);
    const auto expected = composed(u, multiplier, shift, c.modulated, c.out);
    ASSERT_EQ(fused.stream.scalar_type(), c.stream);
    ASSERT_EQ(fused.normed.scalar_type(), c.out);
    EXPECT_TRUE(torch::equal(fused.stream, expected.stream));
    EXPECT_TRUE(torch::equal(updated_stream(u), expected.stream));
    EXPECT_LT(relative_error(fused.normed, expected.normed), c.out == bf16 ? 8e-3 : 2e-6);
  }
}

TEST(ResidualNormCuda, RecordedGradientsAndOddWidthsTakeLibtorchsForm) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto options = torch::TensorOptions(torch::kCUDA);
  const auto stream = torch::randn({1, 4, 1030}, options);
  const auto weight = torch::randn({1030}, options), bias = torch::randn({1030}, options);
  EXPECT_FALSE(residual_norm_uses_runtime_kernel({stream}, NormScale::kWeightAndBias, weight, bias,
                                                 torch::kFloat32));
  EXPECT_TRUE(torch::equal(affine_layer_norm({stream}, weight, bias, 1e-6, torch::kFloat32).normed,
                           torch::layer_norm(stream, {1030}, weight, bias, 1e-6)));
  const auto ones = torch::ones({1024}, options), zeros = torch::zeros({1024}, options);
  const auto wide = torch::randn({1, 4, 1024}, options).requires_grad_(true);
  EXPECT_FALSE(residual_norm_uses_runtime_kernel({wide}, NormScale::kWeightAndBias, ones, zeros,
                                                 torch::kFloat32));
  // A norm being trained on a stream that needs no gradient keeps its weight's gradient.
  const auto trained = torch::ones({1024}, options).requires_grad_(true);
  const auto frozen = wide.detach();
  ASSERT_TRUE(residual_norm_uses_runtime_kernel({frozen}, NormScale::kWeightAndBias, ones, zeros,
                                                torch::kFloat32));
  EXPECT_FALSE(residual_norm_uses_runtime_kernel({frozen}, NormScale::kWeightAndBias, trained,
                                                 zeros, torch::kFloat32));
  EXPECT_TRUE(
      affine_layer_norm({frozen}, trained, zeros, 1e-6, torch::kFloat32).normed.requires_grad());
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(residual_norm_uses_runtime_kernel({wide}, NormScale::kWeightAndBias, ones, zeros,
                                                torch::kFloat32));
}

// A destination the kernel writes (the rows of one stream in a joint sequence, batch of one) and
// one it cannot (the same rows in a batch of two: not contiguous, so filled by a copy): the same
// bits as a call without one, the other rows untouched.
TEST(ResidualNormCuda, WritesTheNormedRowsIntoADestination) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  torch::manual_seed(9);
  const auto bf16 = torch::TensorOptions(torch::kCUDA).dtype(torch::kBFloat16);
  for (const int64_t batch : {1, 2}) {
    const ResidualUpdate u{torch::randn({batch, 5, 256}, bf16), torch::randn({batch, 5, 256}, bf16),
                           torch::randn({batch, 1, 256}, bf16)};
    const auto scale = torch::randn({batch, 1, 256}, bf16), shift = torch::randn({256}, bf16);
    const auto alone = residual_norm_on_runtime_kernel(u, NormScale::kModulation, scale, shift,
                                                       1e-6, torch::kBFloat16);
    ASSERT_TRUE(alone.has_value());
    auto joint = torch::full({batch, 7, 256}, 3.0, bf16);
    const auto rows = joint.slice(1, 2);
    EXPECT_EQ(rows.is_contiguous(), batch == 1);
    const auto written = residual_norm_on_runtime_kernel(u, NormScale::kModulation, scale, shift,
                                                         1e-6, torch::kBFloat16, rows);
    ASSERT_TRUE(written.has_value());
    EXPECT_EQ(written->normed.data_ptr(), rows.data_ptr());
    EXPECT_TRUE(torch::equal(rows, alone->normed)) << "batch " << batch;
    EXPECT_TRUE(torch::equal(written->stream, alone->stream)) << "batch " << batch;
    EXPECT_TRUE(torch::equal(joint.slice(1, 0, 2), torch::full({batch, 2, 256}, 3.0, bf16)));
  }
}

// Inputs whose libtorch result the kernel would not reproduce, or that it cannot read safely:
// a (B, D) scale (libtorch
// broadcasts it over the tokens, not the batch), a scale on the CPU, a LayerNorm weight in another
// dtype than the stream or not of shape (D) (libtorch's layer_norm refuses both), a row wider
// than 8,192.
TEST(ResidualNormCuda, RefusesWhatItWouldNotReproduce) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  const auto cuda = torch::TensorOptions(torch::kCUDA);
  const auto bf16 = cuda.dtype(torch::kBFloat16);
  const auto ones = torch::ones({64}, cuda), zeros = torch::zeros({64}, cuda);
  const ResidualUpdate narrow{torch::randn({2, 3, 64}, bf16), torch::randn({2, 3, 64}, bf16),
                              torch::randn({64}, bf16)};
  ASSERT_TRUE(residual_norm_uses_runtime_kernel(narrow, NormScale::kModulation, ones, zeros,
                                                torch::kBFloat16));
  // A float32 gate on a bf16 stream is taken: the sum is formed in float32 and kept in bf16.
  const ResidualUpdate float_gate{narrow.stream, narrow.update, torch::randn({64}, cuda)};
  ASSERT_TRUE(residual_norm_uses_runtime_kernel(float_gate, NormScale::kModulation, ones, zeros,
                                                torch::kBFloat16));
  const auto result = modulated_layer_norm(float_gate, ones, zeros, 1e-6, torch::kBFloat16);
  EXPECT_TRUE(torch::equal(result.stream, updated_stream(float_gate)));
  EXPECT_FALSE(residual_norm_uses_runtime_kernel(
      narrow, NormScale::kModulation, torch::ones({2, 64}, cuda), zeros, torch::kBFloat16));
  EXPECT_FALSE(residual_norm_uses_runtime_kernel(narrow, NormScale::kModulation, torch::ones({64}),
                                                 zeros, torch::kBFloat16));
  // libtorch's layer_norm takes a weight and bias (D) of the input's dtype only.
  EXPECT_FALSE(residual_norm_uses_runtime_kernel(narrow, NormScale::kWeightAndBias, ones, zeros,
                                                 torch::kBFloat16));
  EXPECT_TRUE(residual_norm_uses_runtime_kernel(narrow, NormScale::kWeightAndBias, ones.to(bf16),
                                                zeros.to(bf16), torch::kBFloat16));
  EXPECT_FALSE(residual_norm_uses_runtime_kernel(narrow, NormScale::kWeightAndBias,
                                                 ones.to(bf16).view({1, 1, 64}), zeros.to(bf16),
                                                 torch::kBFloat16));
  const auto wide = torch::randn({1, 2, 8192 + 64}, cuda);
  EXPECT_FALSE(residual_norm_uses_runtime_kernel({wide}, NormScale::kWeightAndBias,
                                                 torch::ones({8192 + 64}, cuda),
                                                 torch::zeros({8192 + 64}, cuda), torch::kFloat32));
}

}  // namespace
}  // namespace vidprobe::nn
