#include "vidprobe/nn/head_norm.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vidprobe/core/error.h"
#include "vidprobe/nn/strided_rows.h"
#include "vidprobe/nn/transformer.h"

namespace vidprobe::nn {
namespace {

torch::nn::LayerNorm random_head_norm(int64_t head_dim, torch::ScalarType dtype, double eps) {
  torch::nn::LayerNorm norm(torch::nn::LayerNormOptions({head_dim}).eps(eps));
  torch::NoGradGuard no_grad;
  norm->weight.normal_(1.0, 0.2);
  norm->bias.normal_(0.0, 0.2);
  norm->to(dtype);
  return norm;
}

// q of a packed (B, N, 3, heads, head_dim) projection as nn::Attention holds it, (B, heads, N,
// head_dim).
torch::Tensor packed_query(int64_t batch, int64_t tokens, int64_t heads, int64_t head_dim,
                           const torch::TensorOptions& options) {
  return torch::randn({batch, tokens, 3, heads, head_dim}, options).permute({2, 0, 3, 1, 4})[0];
}

// What the kernel takes, decided on the CPU: the qk-norm views of VGGT's and CogVideoX's
// attention (head width 64) in both dtypes; not a head width that is no power-of-two number of
// 16-byte packs up to 32, channels apart, float16, a gain in another dtype, a missing bias, or a
// gradient being recorded.
TEST(HeadNorm, TheKernelTakesTheQkNormViews) {
  torch::NoGradGuard no_grad;
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto norm = random_head_norm(64, dtype, 1e-5);
    const auto q = packed_query(2, 10, 4, 64, torch::TensorOptions().dtype(dtype));
    EXPECT_TRUE(head_layer_norm_kernel_accepts(q, norm->weight, norm->bias)) << dtype;
    EXPECT_TRUE(head_layer_norm_kernel_accepts(q.contiguous(), norm->weight, norm->bias));
    EXPECT_FALSE(head_layer_norm_uses_runtime_kernel(q, norm->weight, norm->bias));  // on the CPU
    EXPECT_FALSE(head_layer_norm_kernel_accepts(q.transpose(-1, -2).contiguous().transpose(-1, -2),
                                                norm->weight, norm->bias));  // channels apart
    EXPECT_FALSE(head_layer_norm_kernel_accepts(q, norm->weight.to(torch::kFloat64), norm->bias));
    EXPECT_FALSE(head_layer_norm_kernel_accepts(q, norm->weight, torch::Tensor()));
  }
  const auto bf16 = torch::TensorOptions().dtype(torch::kBFloat16);
  for (const int64_t width : {8, 32, 128, 256}) {
    const auto norm = random_head_norm(width, torch::kBFloat16, 1e-6);
    EXPECT_TRUE(head_layer_norm_kernel_accepts(packed_query(1, 3, 2, width, bf16), norm->weight,
                                               norm->bias))
        << width;
  }
  for (const int64_t width : {4, 48, 96, 512}) {  // half a pack; 6 and 12 packs; 64 packs
    const auto norm = random_head_norm(width, torch::kBFloat16, 1e-6);
    EXPECT_FALSE(head_layer_norm_kernel_accepts(packed_query(1, 3, 2, width, bf16), norm->weight,
                                                norm->bias))
        << width;
  }
  const auto half = random_head_norm(64, torch::kHalf, 1e-6);
  EXPECT_FALSE(head_layer_norm_kernel_accepts(
      packed_query(1, 3, 2, 64, torch::TensorOptions().dtype(torch::kHalf)), half->weight,
      half->bias));
}

TEST(HeadNorm, RecordedGradientsTakeTheLayerNorm) {
  const auto norm = random_head_norm(64, torch::kFloat32, 1e-5);
  const auto q = packed_query(1, 4, 2, 64, torch::TensorOptions());
  ASSERT_TRUE(norm->weight.requires_grad());
  EXPECT_FALSE(head_layer_norm_kernel_accepts(q, norm->weight, norm->bias));
  EXPECT_FALSE(head_layer_norm_kernel_accepts(q, torch::Tensor(), torch::Tensor()));  // no affine
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(head_layer_norm_kernel_accepts(q, norm->weight, norm->bias));
}

TEST(HeadNorm, CpuTensorsTakeTheLayerNormUnchanged) {
  torch::NoGradGuard no_grad;
  auto norm = random_head_norm(64, torch::kFloat32, 1e-5);
  const auto q = packed_query(2, 6, 3, 64, torch::TensorOptions());
  EXPECT_TRUE(torch::equal(head_layer_norm(q, norm), norm(q)));
}

// The kernel against libtorch's LayerNorm on the same GPU: float32 to its rounding, bf16 within one
// bf16 step of libtorch's value and mostly equal to it (a wrong epsilon would show in the rows
// scaled to a variance near it); the packed projection's view, a transposed one, a contiguous
// tensor, every head width it takes, and row counts that leave the last block part idle.
TEST(HeadNormCuda, MatchesLibtorchsLayerNorm) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  struct Case {
    std::string name;
    torch::ScalarType dtype;
    int64_t width;
    std::string layout;  // "packed", "transposed" (B, N, heads, d) or "contiguous"
  };
  const std::vector<Case> cases = {{"VGGT bf16", torch::kBFloat16, 64, "packed"},
                                   {"VGGT float32", torch::kFloat32, 64, "packed"},
                                   {"bf16 32", torch::kBFloat16, 32, "transposed"},
                                   {"bf16 128", torch::kBFloat16, 128, "packed"},
                                   {"bf16 256", torch::kBFloat16, 256, "contiguous"},
                                   {"f32 16", torch::kFloat32, 16, "packed"},
                                   {"f32 128", torch::kFloat32, 128, "transposed"}};
  torch::manual_seed(3);
  torch::NoGradGuard no_grad;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + " " + c.layout);
    const auto options = torch::TensorOptions().dtype(c.dtype).device(torch::kCUDA);
    const int64_t batch = 2, tokens = 37, heads = 3;
    // Rows at very different scales: the tiny ones have a variance near epsilon. Scaled before
    // the view is taken, so that the kernel reads the view itself (a product would be dense).
    const auto scales = torch::pow(10.0, torch::randint(-3, 3, {tokens, 1}, options));
    torch::Tensor x;
    if (c.layout == "packed")
      x = (torch::randn({batch, tokens, 3, heads, c.width}, options) *
           scales.view({tokens, 1, 1, 1}))
              .to(c.dtype)
              .permute({2, 0, 3, 1, 4})[0];
    if (c.layout == "transposed")
      x = (torch::randn({batch, tokens, heads, c.width}, options) * scales.view({tokens, 1, 1}))
              .to(c.dtype)
              .transpose(1, 2);
    if (c.layout == "contiguous")
      x = (torch::randn({batch, heads, tokens, c.width}, options) * scales).to(c.dtype);
    if (c.layout == "packed") ASSERT_FALSE(x.is_non_overlapping_and_dense());
    if (c.layout != "contiguous") ASSERT_FALSE(x.is_contiguous());
    auto norm = random_head_norm(c.width, c.dtype, 1e-5);
    norm->to(torch::kCUDA);
    ASSERT_TRUE(head_layer_norm_uses_runtime_kernel(x, norm->weight, norm->bias));
    const auto before = x.clone();
    const auto ours = head_layer_norm(x, norm);
    const auto reference = norm(x);
    // Rows in x's order: a view of the packed projection or a transposed one gives (B, N, heads,
    // d).
    EXPECT_EQ(ours.strides(), torch::empty_like(x).strides());
    EXPECT_EQ(ours.transpose(1, 2).is_contiguous(), c.layout != "contiguous");
    EXPECT_TRUE(torch::equal(x, before));
    ASSERT_EQ(ours.sizes(), reference.sizes());
    const auto a = ours.to(torch::kFloat32).cpu(), b = reference.to(torch::kFloat32).cpu();
    if (c.dtype == torch::kFloat32) {
      EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-5)) << (a - b).abs().max().item<float>();
    } else {
      const double step = 1.0 / 128;  // one bf16 step relative to the value
      EXPECT_TRUE(((a - b).abs() <= b.abs() * step + 1e-6).all().item<bool>())
          << (a - b).abs().max().item<float>();
      EXPECT_GT(a.eq(b).to(torch::kFloat32).mean().item<double>(), 0.98);
    }
  }
}

// Open-Sora 2.0's qk-norm: (B, L, heads, 128) projections viewed as (B, heads, L, 128), an
// RMSNorm with a scale in the model's dtype. The kernel takes that view in inference, not a scale
// in another dtype or one whose gradient is recorded; called on the CPU it names why it refuses.
TEST(HeadNorm, TheRmsFormTakesOpenSorasQkNormViews) {
  RmsNorm norm(128, 1e-6);
  norm->to(torch::kBFloat16);
  const auto q = torch::randn({1, 12, 4, 128}).to(torch::kBFloat16).transpose(1, 2);
  ASSERT_TRUE(norm->scale.requires_grad());
  EXPECT_FALSE(head_rms_norm_kernel_accepts(q, norm->scale));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(head_rms_norm_kernel_accepts(q, norm->scale));
  EXPECT_FALSE(head_rms_norm_kernel_accepts(q, norm->scale.to(torch::kFloat32)));
  EXPECT_FALSE(head_rms_norm_uses_runtime_kernel(q, norm->scale));
  try {
    (void)head_rms_norm(q, norm->scale, 1e-6);
    ADD_FAILURE() << "the CPU tensor was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cpu"), std::string::npos) << e.what();
  }
}

// nn::RmsNorm's steps written out: float32 statistics, the normalised value rounded to x's dtype,
// then the scale.
torch::Tensor rms_norm_steps(const torch::Tensor& x, const torch::Tensor& scale, double eps) {
  const auto x32 = x.to(torch::kFloat32);
  return (x32 * torch::rsqrt(x32.square().mean(-1, true) + eps)).to(x.scalar_type()) * scale;
}

TEST(HeadNorm, RmsNormOnTheCpuIsItsSteps) {
  torch::NoGradGuard no_grad;
  RmsNorm norm(64, 1e-6);
  norm->scale.normal_(1.0, 0.3);
  const auto q = torch::randn({2, 9, 3, 64}).transpose(1, 2);
  EXPECT_TRUE(torch::equal(norm(q), rms_norm_steps(q, norm->scale, 1e-6)));
}

// nn::RmsNorm on a GPU, where it takes the kernel, against its steps in libtorch on the same GPU:
// tolerances as for the LayerNorm above; Open-Sora's head width 128 and others, transposed and
// contiguous, rows down to a mean square near epsilon.
TEST(HeadNormCuda, RmsFormMatchesRmsNormsSteps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(4);
  torch::NoGradGuard no_grad;
  for (const auto dtype : {torch::kBFloat16, torch::kFloat32}) {
    for (const int64_t width : {128, 64, 32}) {
      for (const bool transposed : {true, false}) {
        SCOPED_TRACE(std::to_string(width) + (transposed ? " transposed " : " contiguous ") +
                     std::string(c10::toString(dtype)));
        const auto options = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
        const int64_t batch = 2, tokens = 45, heads = 3;
        auto x = transposed ? torch::randn({batch, tokens, heads, width}, options).transpose(1, 2)
                            : torch::randn({batch, heads, tokens, width}, options);
        const auto scales = torch::pow(10.0, torch::randint(-4, 2, {tokens, 1}, options));
        x = (x * scales).to(dtype);
        RmsNorm norm(width, 1e-6);
        norm->scale.normal_(1.0, 0.3);
        norm->to(torch::kCUDA, dtype);
        ASSERT_TRUE(head_rms_norm_uses_runtime_kernel(x, norm->scale));
        const auto ours = norm(x);
        const auto reference = rms_norm_steps(x, norm->scale, 1e-6);
        EXPECT_EQ(ours.transpose(1, 2).is_contiguous(), transposed);
        ASSERT_EQ(ours.sizes(), reference.sizes());
        const auto a = ours.to(torch::kFloat32).cpu(), b = reference.to(torch::kFloat32).cpu();
        if (dtype == torch::kFloat32) {
          EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-5)) << (a - b).abs().max().item<float>();
        } else {
          // Two bf16 steps: a normalised value one step apart is rounded again after the scale.
          const double steps = 2.0 / 128;
          EXPECT_TRUE(((a - b).abs() <= b.abs() * steps + 1e-6).all().item<bool>())
              << (a - b).abs().max().item<float>();
          EXPECT_GT(a.eq(b).to(torch::kFloat32).mean().item<double>(), 0.98);
        }
      }
    }
  }
}

}  // namespace
}  // namespace vidprobe::nn
