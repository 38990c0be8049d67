#include "vidprobe/nn/rotary.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nn/runtime_kernel_test_support.h"
#include "vidprobe/nn/strided_rows.h"

namespace vidprobe::nn {
namespace {

TEST(Rotary, CpuTensorsTakeTheLibtorchComposition) {
  const auto angles = in_dtype(rope_2d(grid_positions(2, 3, torch::kCPU), 8, 100), torch::kFloat);
  EXPECT_TRUE(rotary_kernel_accepts(torch::randn({1, 2, 6, 8}), angles));
  EXPECT_FALSE(rotary_uses_runtime_kernels(torch::randn({1, 2, 6, 8}), angles));
}

// What the kernels can read, decided on the CPU: any strides with adjacent channels, such as q and
// k as the permuted view of a packed (B, N, 3, heads, head_dim) projection or heads transposed out
// of (B, N, heads, head_dim); not channels apart, leading dimensions that do not collapse into one
// index, or tables without their (table batch, 1) dimensions.
TEST(Rotary, TheKernelsReadAnyLayoutWithAdjacentChannels) {
  const int64_t batch = 2, tokens = 6, heads = 3, width = 8;
  const auto angles =
      in_dtype(rope_2d(grid_positions(2, 3, torch::kCPU), width, 100), torch::kFloat);
  const auto packed = torch::randn({batch, tokens, 3, heads, width}).permute({2, 0, 3, 1, 4});
  EXPECT_TRUE(rotary_kernel_accepts(packed.narrow(0, 0, 2), angles));
  EXPECT_TRUE(rotary_kernel_accepts(packed[0], angles));
  EXPECT_TRUE(
      rotary_kernel_accepts(torch::randn({batch, tokens, heads, width}).transpose(1, 2), angles));
  EXPECT_TRUE(rotary_kernel_accepts(
      torch::randn({4, batch, heads, tokens, width}).view({2, 2, batch, heads, tokens, width}),
      angles));  // leading dimensions contiguous
  EXPECT_FALSE(rotary_kernel_accepts(torch::randn({batch, heads, width, tokens}).transpose(-1, -2),
                                     angles));  // channels apart
  EXPECT_FALSE(
      rotary_kernel_accepts(torch::randn({2, 2, batch, heads, tokens, width}).transpose(0, 1),
                            angles));  // leading dimensions swapped
  auto flat = angles;
  flat.cos = angles.cos.view({tokens, width});
  flat.signed_sin = angles.signed_sin.view({tokens, width});
  EXPECT_FALSE(rotary_kernel_accepts(packed.narrow(0, 0, 2), flat));  // 2-D tables
  EXPECT_FALSE(rotary_kernel_accepts(packed.narrow(0, 0, 2).to(torch::kHalf), angles));
}

struct RotaryCase {
  std::string name;
  std::vector<int64_t> shape;  // (..., batch, heads, tokens, width)
  RotaryAngles::Pairing pairing;
  int axes;
  int64_t table_batch;
  int64_t offset;  // elements x starts into its storage: 1 breaks the 16-byte alignment
};

RotaryAngles random_angles(const RotaryCase& c, torch::ScalarType dtype) {
  const int64_t tokens = c.shape[c.shape.size() - 2], width = c.shape.back();
  const auto angle = torch::rand({c.table_batch, 1, tokens, width}) * 6.3;
  return in_dtype({angle.cos(), angle.sin(), c.pairing, c.axes}, dtype);
}

RotaryAngles on_cuda(const RotaryAngles& a) {
  return {a.cos.cuda(), a.sin.cuda(), a.pairing, a.axes, a.signed_sin.cuda()};
}

// The kernels against the libtorch composition on the CPU, the same inputs: forward values and
// input gradients equal bit for bit, in float32 and bf16, for both pairings, the 16-byte and the
// one-element kernels, tables per batch entry and shared, and q and k rotated as one tensor.
TEST(RotaryCuda, MatchesTheCpuCompositionBitForBit) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  using P = RotaryAngles::Pairing;
  const std::vector<RotaryCase> cases = {
      {"probe trunk", {3, 4, 50, 64}, P::kSplitHalves, 2, 3, 0},
      {"shared table", {2, 3, 40, 64}, P::kSplitHalves, 2, 1, 0},
      {"one axis", {2, 2, 33, 32}, P::kSplitHalves, 1, 2, 0},
      {"q and k as one", {2, 2, 3, 17, 64}, P::kSplitHalves, 2, 2, 0},
      {"interleaved", {2, 3, 21, 64}, P::kInterleaved, 1, 1, 0},
      {"narrow halves", {2, 2, 9, 12}, P::kSplitHalves, 1, 2, 0},
      {"narrow interleaved", {1, 2, 9, 6}, P::kInterleaved, 1, 1, 0},
      {"unaligned", {2, 2, 9, 64}, P::kSplitHalves, 2, 2, 1}};
  torch::manual_seed(0);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name + (dtype == torch::kFloat32 ? " float32" : " bf16"));
      const auto angles = random_angles(c, dtype);
      const int64_t numel = c10::multiply_integers(c.shape);
      // Offsets made on the GPU: a copy there would start a fresh, aligned buffer.
      const auto storage = torch::randn({numel + c.offset}).to(dtype);
      const auto x = storage.slice(0, c.offset).view(c.shape);
      const auto upstream_storage = torch::randn({numel + c.offset}).to(dtype);
      const auto upstream = upstream_storage.slice(0, c.offset).view(c.shape);

      const auto x_gpu =
          storage.cuda().slice(0, c.offset).view(c.shape).detach().requires_grad_(true);
      const auto upstream_gpu = upstream_storage.cuda().slice(0, c.offset).view(c.shape);
      ASSERT_TRUE(rotary_uses_runtime_kernels(x_gpu, on_cuda(angles)));
      const auto y_gpu = apply_rotary(x_gpu, on_cuda(angles));
      y_gpu.backward(upstream_gpu);

      const auto x_cpu = x.clone().requires_grad_(true);
      const auto y_cpu = apply_rotary(x_cpu, angles);
      y_cpu.backward(upstream);

      EXPECT_TRUE(torch::equal(y_gpu.cpu(), y_cpu))
          << (y_gpu.cpu() - y_cpu).abs().max().item<float>();
      EXPECT_TRUE(torch::equal(x_gpu.grad().cpu(), x_cpu.grad()))
          << (x_gpu.grad().cpu() - x_cpu.grad()).abs().max().item<float>();
    }
  }
}

// q and k read by strides: the permuted view of a packed (B, N, 3, heads, head_dim) projection, as
// nn::Attention hands them over, and one head layout transposed (Open-Sora's MMDiT), against the
// composition on the same views on the CPU; forward and input gradients bit for bit, both dtypes,
// both pairings, V-JEPA 2's layout among them (64 channels, 4 left unrotated); head widths of 64
// take the 16-byte kernels, 6 the one-element ones.
TEST(RotaryCuda, ReadsPermutedViewsBitForBit) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  using P = RotaryAngles::Pairing;
  struct ViewCase {
    std::string name;
    int64_t batch, tokens, heads, width;
    P pairing;
    int axes;
    bool packed;  // the qkv view; otherwise (B, N, heads, head_dim) transposed
  };
  const std::vector<ViewCase> cases = {
      {"packed interleaved", 2, 18, 4, 64, P::kInterleaved, 1, true},
      {"packed halves", 2, 17, 3, 64, P::kSplitHalves, 2, true},
      {"packed narrow", 1, 9, 2, 6, P::kInterleaved, 1, true},
      {"transposed", 2, 21, 3, 64, P::kSplitHalves, 1, false}};
  torch::manual_seed(0);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name + (dtype == torch::kFloat32 ? " float32" : " bf16"));
      const auto angle = torch::rand({1, 1, c.tokens, c.width}) * 6.3;
      const auto angles = in_dtype({angle.cos(), angle.sin(), c.pairing, c.axes}, dtype);
      const auto view = [&c](const torch::Tensor& base) {
        return c.packed ? base.permute({2, 0, 3, 1, 4}).narrow(0, 0, 2) : base.transpose(1, 2);
      };
      const std::vector<int64_t> shape =
          c.packed ? std::vector<int64_t>{c.batch, c.tokens, 3, c.heads, c.width}
                   : std::vector<int64_t>{c.batch, c.tokens, c.heads, c.width};
      const auto base = torch::randn(shape).to(dtype);
      const auto upstream = view(torch::randn(shape).to(dtype)).contiguous();

      const auto base_gpu = base.cuda().requires_grad_(true);
      const auto x_gpu = view(base_gpu);
      ASSERT_FALSE(x_gpu.is_contiguous());
      ASSERT_TRUE(rotary_uses_runtime_kernels(x_gpu, on_cuda(angles)));
      const auto y_gpu = apply_rotary(x_gpu, on_cuda(angles));
      EXPECT_EQ(y_gpu.strides(), torch::empty_like(x_gpu).strides());  // x's order, not copied
      EXPECT_FALSE(y_gpu.is_contiguous());
      y_gpu.backward(upstream.cuda());

      const auto base_cpu = base.clone().requires_grad_(true);
      const auto y_cpu = apply_rotary(view(base_cpu), angles);
      y_cpu.backward(upstream);

      EXPECT_TRUE(torch::equal(y_gpu.cpu(), y_cpu))
          << (y_gpu.cpu() - y_cpu).abs().max().item<float>();
      EXPECT_TRUE(torch::equal(base_gpu.grad().cpu(), base_cpu.grad()))
          << (base_gpu.grad().cpu() - base_cpu.grad()).abs().max().item<float>();
    }
  }
}

TEST(RotaryCuda, OtherInputsTakeTheLibtorchComposition) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto angles = on_cuda(in_dtype({torch::ones({1, 1, 5, 8}), torch::zeros({1, 1, 5, 8}),
                                        RotaryAngles::Pairing::kSplitHalves, 2},
                                       torch::kFloat32));
  const auto x = torch::randn({2, 3, 5, 8}, torch::kCUDA);
  EXPECT_TRUE(rotary_uses_runtime_kernels(x, angles));
  const auto strided = torch::randn({2, 3, 8, 5}, torch::kCUDA).transpose(-1, -2);  // right shape
  EXPECT_FALSE(rotary_uses_runtime_kernels(strided, angles));                     // channels apart
  EXPECT_FALSE(rotary_uses_runtime_kernels(x.to(torch::kHalf), angles));          // float16
  EXPECT_FALSE(rotary_uses_runtime_kernels(x.view({6, 5, 8}), angles));           // 3 dimensions
  EXPECT_FALSE(rotary_uses_runtime_kernels(torch::randn({2, 3, 5, 8}), angles));  // on the CPU
  auto grad_table = angles;
  grad_table.cos = grad_table.cos.clone().requires_grad_(true);
  EXPECT_FALSE(rotary_uses_runtime_kernels(x, grad_table));  // a differentiated table
}

TEST(RotaryCuda, ASecondDerivativeIsRefused) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto angles =
      on_cuda(in_dtype(rope_2d(grid_positions(2, 2, torch::kCPU), 8, 100), torch::kFloat32));
  const auto x = torch::randn({1, 2, 4, 8}, torch::kCUDA).requires_grad_(true);
  test_support::expect_second_derivative_refused(apply_rotary(x, angles).square().sum(), x);
}

}  // namespace
}  // namespace vidprobe::nn
