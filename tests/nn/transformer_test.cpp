#include "vidprobe/nn/transformer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/alternating_attention.h"
#include "vidprobe/nn/head_norm.h"
#include "vidprobe/nn/kernel_profile.h"
#include "vidprobe/nn/residual_norm.h"
#include "vidprobe/nn/rotary.h"
#include "vidprobe/nn/vit.h"

namespace vidprobe::nn {
namespace {

using ::testing::HasSubstr;

std::set<std::string> parameter_names(torch::nn::Module& module) {
  std::set<std::string> names;
  for (const auto& item : module.named_parameters()) names.insert(item.key());
  return names;
}

TEST(Rotary, RoPE2dPreservesNormsAndDependsOnlyOnRelativePosition) {
  torch::manual_seed(0);
  const auto q = torch::randn({1, 1, 1, 8}), k = torch::randn({1, 1, 1, 8});
  auto rotated = [](const torch::Tensor& x, int64_t y, int64_t col) {
    return apply_rotary(x, rope_2d(torch::tensor({y, col}).view({1, 1, 2}), 8, 100));
  };
  EXPECT_NEAR(rotated(q, 2, 3).norm().item<double>(), q.norm().item<double>(), 1e-5);
  const double dot1 = (rotated(q, 2, 3) * rotated(k, 5, 1)).sum().item<double>();
  const double dot2 = (rotated(q, 7, 4) * rotated(k, 10, 2)).sum().item<double>();
  EXPECT_NEAR(dot1, dot2, 1e-4);
  const double dot3 = (rotated(q, 7, 4) * rotated(k, 10, 3)).sum().item<double>();
  EXPECT_GT(std::abs(dot1 - dot3), 1e-4);
}

TEST(Rotary, RoPE2dRotatesRowChannelsByRowAndColumnChannelsByColumn) {
  // Head width 8: channels 0..3 belong to the row, pairs (0, 2) and (1, 3); 4..7 to the column.
  const auto x = torch::zeros({1, 1, 1, 8});
  x[0][0][0][0] = 1.0;  // row pair (0, 2) at frequency 1
  x[0][0][0][5] = 1.0;  // column pair (5, 7) at frequency base^(-2/4) = 0.1
  const auto out = apply_rotary(x, rope_2d(torch::tensor({2, 3}).view({1, 1, 2}), 8, 100))[0][0][0];
  EXPECT_NEAR(out[0].item<double>(), std::cos(2.0), 1e-6);
  EXPECT_NEAR(out[2].item<double>(), std::sin(2.0), 1e-6);
  EXPECT_NEAR(out[5].item<double>(), std::cos(0.3), 1e-6);
  EXPECT_NEAR(out[7].item<double>(), std::sin(0.3), 1e-6);
  EXPECT_NEAR(
      out[1].item<double>() + out[3].item<double>() + out[4].item<double>() + out[6].item<double>(),
      0.0, 1e-7);
}

TEST(Rotary, InterleavedPairsRotateNeighbours) {
  const auto x = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f}).view({1, 1, 1, 4});
  const auto angle = torch::tensor({0.5f, 0.5f, 1.5f, 1.5f}).view({1, 1, 1, 4});
  const RotaryAngles angles{angle.cos(), angle.sin(), RotaryAngles::Pairing::kInterleaved};
  const auto out = apply_rotary(x, angles).flatten();
  EXPECT_NEAR(out[0].item<double>(), std::cos(0.5), 1e-6);
  EXPECT_NEAR(out[1].item<double>(), std::sin(0.5), 1e-6);
  EXPECT_NEAR(out[2].item<double>(), -std::sin(1.5), 1e-6);
  EXPECT_NEAR(out[3].item<double>(), std::cos(1.5), 1e-6);
}

TEST(Rotary, AxesInterleavedGivesEachAxisItsOwnChannelsAndFrequencies) {
  // Axes of widths 2 | 4: channels (0, 1) turn with axis 0 at frequency 1; (2, 3) with axis 1 at
  // frequency 1 and (4, 5) at theta^(-1/2).
  const auto angles = rope_axes_interleaved(torch::tensor({{3.0f, 2.0f}}), {2, 4}, 100.0);
  ASSERT_EQ(angles.cos.sizes(), (std::vector<int64_t>{1, 1, 1, 6}));
  const auto expected = torch::tensor({3.0, 3.0, 2.0, 2.0, 0.2, 0.2}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(angles.cos.flatten().to(torch::kFloat64), expected.cos(), 1e-6));
  EXPECT_TRUE(torch::allclose(angles.sin.flatten().to(torch::kFloat64), expected.sin(), 1e-6));
  EXPECT_EQ(angles.pairing, RotaryAngles::Pairing::kInterleaved);
  EXPECT_THROW(rope_axes_interleaved(torch::zeros({1, 2}), {3, 4}, 100.0), Error);
}

TEST(Rotary, UnrotatedPrefixLeavesLeadingTokensExactlyUnchanged) {
  torch::manual_seed(0);
  const auto rotary = with_unrotated_prefix(
      rope_axes_interleaved(torch::tensor({{1.0f}, {2.0f}}), {8}, 10000.0), 3);
  const auto x = torch::randn({2, 1, 5, 8});
  const auto out = apply_rotary(x, rotary);
  EXPECT_TRUE(torch::equal(out.slice(2, 0, 3), x.slice(2, 0, 3)));
  EXPECT_FALSE(torch::allclose(out.slice(2, 3), x.slice(2, 3)));
}

// The textbook form, x * cos + pair_rotated(x) * sin with pair_rotated((a, b)) = (-b, a), written
// out pair by pair: what apply_rotary's swapped-pairs form must equal bit for bit.
torch::Tensor rotary_textbook(const torch::Tensor& x, const RotaryAngles& angles) {
  const auto cos = angles.cos.to(x.scalar_type()), sin = angles.sin.to(x.scalar_type());
  std::vector<torch::Tensor> rotated;
  if (angles.pairing == RotaryAngles::Pairing::kInterleaved) {
    const auto pairs = x.unflatten(-1, {-1, 2});
    return x * cos +
           torch::stack({-pairs.select(-1, 1), pairs.select(-1, 0)}, -1).flatten(-2) * sin;
  }
  for (const auto& block : x.chunk(angles.axes, -1)) {
    const auto halves = block.chunk(2, -1);
    rotated.push_back(-halves[1]);
    rotated.push_back(halves[0]);
  }
  return x * cos + torch::cat(rotated, -1) * sin;
}

TEST(Rotary, SwappedPairsFormIsBitIdenticalToTheTextbookFormInEveryDtype) {
  torch::manual_seed(0);
  const auto positions = torch::randint(0, 40, {2, 24, 3}).to(torch::kFloat32);
  const std::vector<RotaryAngles> tables = {
      rope_axes_interleaved(positions[0], {4, 6, 6}, 10000.0),
      rope_axes_split_halves(positions, {4, 6, 6}, 10000.0),
      rope_2d(positions.slice(2, 0, 2).to(torch::kLong), 16, 100.0)};
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16}) {
    for (const auto& angles : tables) {
      const auto x = (10 * torch::randn({2, 3, 24, 16})).to(dtype);
      const auto expected = rotary_textbook(x, angles);
      EXPECT_TRUE(torch::equal(apply_rotary(x, angles), expected)) << dtype;
      EXPECT_TRUE(torch::equal(apply_rotary(x, in_dtype(angles, dtype)), expected)) << dtype;
      // q and k rotated together as one (2, B, heads, N, head_dim) tensor, from a strided view.
      const auto packed = (10 * torch::randn({2, 24, 3, 3, 16})).to(dtype).permute({2, 0, 3, 1, 4});
      const auto both = apply_rotary(packed.narrow(0, 0, 2), in_dtype(angles, dtype));
      EXPECT_TRUE(torch::equal(both[0], rotary_textbook(packed[0], angles))) << dtype;
      EXPECT_TRUE(torch::equal(both[1], rotary_textbook(packed[1], angles))) << dtype;
    }
  }
  // A wrongly signed table is caught: the swapped pairs with the plain sin.
  const auto x = torch::randn({1, 1, 24, 16});
  auto unsigned_angles = in_dtype(tables[0], torch::kFloat32);
  unsigned_angles.signed_sin = unsigned_angles.sin;
  EXPECT_FALSE(torch::allclose(apply_rotary(x, unsigned_angles), rotary_textbook(x, tables[0])));
}

TEST(Rotary, UnrotatedPrefixKeepsTheTablesPrepared) {
  const auto angles = rope_axes_interleaved(torch::tensor({{1.0f}, {2.0f}}), {8}, 10000.0);
  const auto prepared = with_unrotated_prefix(in_dtype(angles, torch::kBFloat16), 3);
  ASSERT_TRUE(prepared.signed_sin.defined());
  EXPECT_EQ(prepared.cos.scalar_type(), torch::kBFloat16);
  const auto expected = in_dtype(with_unrotated_prefix(angles, 3), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(prepared.cos, expected.cos));
  EXPECT_TRUE(torch::equal(prepared.signed_sin, expected.signed_sin));
}

TEST(Rotary, RegroupCarriesThePreparedTables) {
  const auto angles = in_dtype(rope_2d(grid_positions(2, 3, torch::kCPU).expand({2, 6, 2}), 8, 100),
                               torch::kBFloat16);
  const auto whole = regroup(angles, {1, 1, 12, 8});
  ASSERT_TRUE(whole.signed_sin.defined());
  EXPECT_TRUE(torch::equal(whole.signed_sin, angles.signed_sin.reshape({1, 1, 12, 8})));
}

TEST(Block, LayerScaleResidualMatchesTheUnfusedFormToRounding) {
  torch::manual_seed(0);
  BlockOptions options;
  options.attention.dim = 16;
  options.attention.num_heads = 2;
  options.layer_scale_init = 0.5;
  Block block(options);
  {
    torch::NoGradGuard no_grad;
    block->ls1->gamma.uniform_(0.1, 2.0);
    block->ls2->gamma.uniform_(0.1, 2.0);
  }
  const auto x = torch::randn({2, 5, 16});
  const auto h = x + block->ls1(block->attn(block->norm1(x)));
  const auto expected = h + block->ls2(block->mlp(block->norm2(h)));
  EXPECT_TRUE(torch::allclose(block(x), expected, 1e-6, 1e-6));
  // LayerScale is applied: the block without it differs.
  const auto h_unscaled = x + block->attn(block->norm1(x));
  EXPECT_FALSE(
      torch::allclose(block(x), h_unscaled + block->mlp(block->norm2(h_unscaled)), 1e-3, 1e-3));
}

// Two blocks with the same weights, one folding its LayerScales while gradients are off.
std::pair<Block, Block> folding_and_plain_blocks(FeedForward feed_forward) {
  torch::manual_seed(0);
  BlockOptions options;
  options.attention.dim = 16;
  options.attention.num_heads = 2;
  options.layer_scale_init = 0.5;
  options.feed_forward = feed_forward;
  Block plain(options);
  options.fold_layer_scale = true;
  Block folding(options);
  torch::NoGradGuard no_grad;
  plain->ls1->gamma.uniform_(0.1, 2.0);
  plain->ls2->gamma.uniform_(0.1, 2.0);
  for (const auto& item : plain->named_parameters())
    folding->named_parameters()[item.key()].copy_(item.value());
  return {folding, plain};
}

// Frozen blocks fold gamma into proj and the feed-forward's output layer: the same block to
// float32 rounding, for both feed-forwards; the fold follows every change of the weights (in
// place: new version; moved: new storage), and with gradients on the block is the plain one,
// gamma's gradient included.
TEST(Block, FoldedLayerScaleComputesTheSameBlockAndFollowsItsWeights) {
  for (const auto feed_forward : {FeedForward::kGeluMlp, FeedForward::kSwiGlu}) {
    auto [folding, plain] = folding_and_plain_blocks(feed_forward);
    const auto x = torch::randn({2, 5, 16});
    {
      torch::NoGradGuard no_grad;
      const auto expected = plain(x);
      EXPECT_TRUE(torch::allclose(folding(x), expected, 1e-5, 1e-6));
      const auto folded = folding->folded_attention_output().weight;
      ASSERT_TRUE(folded.defined());
      EXPECT_FALSE(plain->folded_attention_output().weight.defined());
      folding(x);
      EXPECT_TRUE(folding->folded_attention_output().weight.is_same(folded));  // the cache, reused
      for (auto* block : {&folding, &plain}) {
        (*block)->ls2->gamma.mul_(3.0);
        (*block)->attn->proj->bias.add_(0.5);
      }
      const auto changed = plain(x);
      EXPECT_FALSE(torch::allclose(changed, expected, 1e-3, 1e-3));
      EXPECT_TRUE(torch::allclose(folding(x), changed, 1e-5, 1e-6));
      EXPECT_FALSE(folding->folded_attention_output().weight.is_same(folded));  // remade
      folding->to(torch::kFloat64);
      plain->to(torch::kFloat64);
      const auto x64 = x.to(torch::kFloat64);
      EXPECT_TRUE(torch::allclose(folding(x64), plain(x64), 1e-12, 1e-12));
      folding->to(torch::kFloat32);
    }
    const auto out = folding(x);
    EXPECT_TRUE(out.requires_grad());
    out.sum().backward();
    EXPECT_TRUE(folding->ls1->gamma.grad().defined());
    EXPECT_TRUE(folding->ls2->gamma.grad().defined());
  }
}

// With gradients on the block never folds (the probe's trained blocks, and a frozen one that is
// being differentiated); in float16 it does not fold either.
TEST(Block, LayerScaleIsNotFoldedWithGradientsOrInFloat16) {
  auto [folding, plain] = folding_and_plain_blocks(FeedForward::kGeluMlp);
  folding(torch::randn({2, 5, 16}));
  EXPECT_FALSE(folding->folded_attention_output().weight.defined());
  folding->to(torch::kHalf);
  torch::NoGradGuard no_grad;
  folding(torch::randn({2, 5, 16}).to(torch::kHalf));
  EXPECT_FALSE(folding->folded_attention_output().weight.defined());
}

TEST(Block, FoldedLayerScaleInBf16StaysWithinItsRounding) {
  auto [folding, plain] = folding_and_plain_blocks(FeedForward::kGeluMlp);
  folding->to(torch::kBFloat16);
  plain->to(torch::kBFloat16);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 5, 16}).to(torch::kBFloat16);
  const auto expected = plain(x).to(torch::kFloat32);
  const auto error = (folding(x).to(torch::kFloat32) - expected).norm() / expected.norm();
  EXPECT_LT(error.item<double>(), 1e-2);
}

TEST(Mlp, TanhOptionUsesTheTanhApproximationOfGelu) {
  torch::manual_seed(0);
  Mlp exact(4, 8, 4), approximate(4, 8, 4, Gelu::kTanh);
  {
    torch::NoGradGuard no_grad;
    auto source = exact->named_parameters();
    for (auto& item : approximate->named_parameters()) item.value().copy_(source[item.key()]);
  }
  const auto x = 3 * torch::randn({5, 4});
  const auto expected = approximate->fc2(torch::gelu(approximate->fc1(x), "tanh"));
  EXPECT_TRUE(torch::allclose(approximate(x), expected));
  EXPECT_FALSE(torch::allclose(exact(x), expected, 1e-6, 1e-6));
}

TEST(Mlp, QuickOptionIsClipsQuickGelu) {
  torch::manual_seed(0);
  Mlp quick(4, 8, 4, Gelu::kQuick);
  const auto x = 3 * torch::randn({5, 4});
  const auto h = quick->fc1(x);
  EXPECT_TRUE(torch::allclose(quick(x), quick->fc2(h * torch::sigmoid(1.702 * h))));
  EXPECT_FALSE(torch::allclose(quick(x), quick->fc2(torch::gelu(h)), 1e-6, 1e-6));
  BlockOptions options;
  options.attention.dim = 4;
  options.attention.num_heads = 2;
  options.gelu = Gelu::kQuick;
  EXPECT_EQ(Block(options)->mlp->gelu, Gelu::kQuick);
}

// Causal attention: a token's output depends on itself and earlier tokens only, and equals the
// softmax over them.
TEST(Attention, CausalTokensSeeOnlyThemselvesAndEarlierTokens) {
  torch::manual_seed(0);
  AttentionOptions options;
  options.dim = 8;
  options.num_heads = 2;
  options.causal = true;
  Attention causal(options);
  const auto x = torch::randn({1, 5, 8});
  auto changed = x.clone();
  changed.slice(1, 3) += 1.0;
  const auto out = causal(x), out_changed = causal(changed);
  EXPECT_TRUE(torch::allclose(out.slice(1, 0, 3), out_changed.slice(1, 0, 3), 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(out.slice(1, 3), out_changed.slice(1, 3), 1e-3, 1e-3));
  const auto heads = causal->qkv(x).view({1, 5, 3, 2, 4}).permute({2, 0, 3, 1, 4});
  auto scores = torch::matmul(heads[0], heads[1].transpose(-1, -2)) / 2.0;
  scores.masked_fill_(torch::ones({5, 5}).triu(1).to(torch::kBool), -INFINITY);
  const auto manual = torch::matmul(torch::softmax(scores, -1), heads[2]);
  EXPECT_TRUE(
      torch::allclose(out, causal->proj(manual.transpose(1, 2).reshape({1, 5, 8})), 1e-5, 1e-6));
}

TEST(Attention, QkNormEpsilonIsAnOption) {
  AttentionOptions options;
  options.dim = 8;
  options.num_heads = 2;
  options.qk_norm = true;
  options.qk_norm_eps = 1e-6;
  Attention attention(options);
  EXPECT_EQ(attention->q_norm->options.eps(), 1e-6);
  EXPECT_EQ(attention->k_norm->options.eps(), 1e-6);
  EXPECT_EQ(attention->q_norm->options.normalized_shape(), (std::vector<int64_t>{4}));
}

// The attention of VGGT's aggregator (qk-norm, then RoPE2D) and of V-JEPA 2 (RoPE on the packed
// projection's view) on a GPU, where qk-norm and the rotation take the runtime kernels that read
// q and k in place, against the same module on the CPU (libtorch's LayerNorm and composition):
// float32 to rounding, bf16 to its precision.
TEST(AttentionCuda, RuntimeKernelPathMatchesTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  torch::NoGradGuard no_grad;
  const int64_t batch = 2, rows = 6, columns = 7, dim = 256, heads = 4;
  for (const bool qk_norm : {true, false}) {
    SCOPED_TRACE(qk_norm ? "qk-norm and RoPE2D" : "RoPE alone");
    AttentionOptions options{.dim = dim, .num_heads = heads, .qk_norm = qk_norm};
    Attention attention(options);
    if (qk_norm) {
      for (auto* norm : {&attention->q_norm, &attention->k_norm}) {
        (*norm)->weight.normal_(1.0, 0.3);
        (*norm)->bias.normal_(0.0, 0.3);
      }
    }
    const auto x = torch::randn({batch, rows * columns, dim});
    const auto angles = rope_2d(grid_positions(rows, columns, torch::kCPU), dim / heads, 100.0);
    const auto expected = attention(x, &angles);
    attention->to(torch::kCUDA);
    const RotaryAngles on_gpu{angles.cos.cuda(), angles.sin.cuda(), angles.pairing, angles.axes};
    const auto q_view = attention->qkv(x.cuda())
                            .reshape({batch, rows * columns, 3, heads, dim / heads})
                            .permute({2, 0, 3, 1, 4})[0];
    if (qk_norm)
      ASSERT_TRUE(head_layer_norm_uses_runtime_kernel(q_view, attention->q_norm->weight,
                                                      attention->q_norm->bias));
    ASSERT_TRUE(
        rotary_uses_runtime_kernels(q_view.contiguous(), in_dtype(on_gpu, torch::kFloat32)));
    const auto float32 = attention(x.cuda(), &on_gpu).cpu();
    EXPECT_TRUE(torch::allclose(float32, expected, 1e-4, 1e-5))
        << (float32 - expected).abs().max().item<float>();
    attention->to(torch::kBFloat16);
    const auto bf16 = attention(x.cuda().to(torch::kBFloat16), &on_gpu).cpu().to(torch::kFloat32);
    EXPECT_LT((bf16 - expected).norm().item<double>() / expected.norm().item<double>(), 2e-2);
  }
}

// Whether `work` ran nn/residual_norm.h's runtime kernel on the GPU (the profiler's kernel names).
bool runs_residual_norm_kernel(const std::function<void()>& work) {
  const auto profile = profile_kernels(
      [&] {
        work();
        torch::cuda::synchronize();
      },
      /*cuda=*/true);
  return std::any_of(profile.all.kernels.begin(), profile.all.kernels.end(),
                     [](const KernelTime& kernel) { return is_residual_norm_kernel(kernel.name); });
}

// On a GPU without gradients BlockOptions::fuse_residual_norm takes a bf16 stream's attention
// branch add and norm2 in one pass of nn/residual_norm.h's kernel: within bf16's rounding of the
// libtorch steps, with LayerScale unfolded, folded and absent. On the CPU, in float32 on the GPU,
// and where the forward records gradients, the libtorch steps bit for bit.
TEST(BlockCuda, FusedResidualNormMatchesTheLibtorchSteps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const double layer_scale : {0.0, 0.5})
    for (const bool fold : {false, true}) {
      SCOPED_TRACE("LayerScale " + std::to_string(layer_scale) + (fold ? ", folded" : ""));
      torch::manual_seed(1);
      BlockOptions options;
      options.attention.dim = 256;
      options.attention.num_heads = 4;
      options.layer_scale_init = layer_scale;
      options.fold_layer_scale = fold;
      Block plain(options);
      options.fuse_residual_norm = true;
      Block fused(options);
      const auto x = torch::randn({2, 37, 256});
      {
        torch::NoGradGuard no_grad;
        plain->norm2->weight.normal_(1.0, 0.3);
        plain->norm2->bias.normal_(0.0, 0.3);
        for (const auto& item : plain->named_parameters())
          fused->named_parameters()[item.key()].copy_(item.value());
        EXPECT_TRUE(torch::equal(fused(x), plain(x)));
        plain->to(torch::kCUDA);
        fused->to(torch::kCUDA);
        const auto on_gpu = x.cuda();
        // float32 keeps libtorch's steps on the GPU too.
        EXPECT_TRUE(torch::equal(fused(on_gpu), plain(on_gpu)));
        EXPECT_FALSE(runs_residual_norm_kernel([&] { fused(on_gpu); }));
        plain->to(torch::kBFloat16);
        fused->to(torch::kBFloat16);
        const auto bf16 = on_gpu.to(torch::kBFloat16);
        // The kernel takes such inputs in the modulation form the block uses (float32 copies; a
        // folded LayerScale hands no gate), and the block runs it.
        const auto gate = fused->ls1 ? fused->ls1->gamma.to(torch::kFloat32) : torch::Tensor{};
        ASSERT_TRUE(residual_norm_uses_runtime_kernel(
            {bf16, bf16, gate}, NormScale::kModulation, fused->norm2->weight.to(torch::kFloat32),
            fused->norm2->bias.to(torch::kFloat32), torch::kBFloat16));
        EXPECT_TRUE(runs_residual_norm_kernel([&] { fused(bf16); }));
        const auto reference = plain(bf16).to(torch::kFloat32);
        const auto error = (fused(bf16).to(torch::kFloat32) - reference).norm() / reference.norm();
        EXPECT_LT(error.item<double>(), 1e-2);
      }
      const auto recorded = x.cuda().to(torch::kBFloat16).requires_grad_();
      EXPECT_TRUE(torch::equal(fused(recorded), plain(recorded)));
    }
}

// Three blocks chained with each feed-forward update pending, settled at the end: forward's
// values, with and without LayerScale (folded or not); bit for bit off the kernel (each pending
// update is added as forward adds it: the CPU, float32), in bf16 on the GPU within its rounding.
std::vector<Block> chained_blocks(double layer_scale, bool fold) {
  BlockOptions options;
  options.attention.dim = 256;
  options.attention.num_heads = 4;
  options.layer_scale_init = layer_scale;
  options.fold_layer_scale = fold;
  options.fuse_residual_norm = true;
  std::vector<Block> blocks;
  for (int i = 0; i < 3; ++i) {
    blocks.emplace_back(options);
    torch::NoGradGuard no_grad;
    blocks.back()->norm1->weight.normal_(1.0, 0.3);
    blocks.back()->norm1->bias.normal_(0.0, 0.3);
    // Gammas unlike each other, so that an update paired with the wrong one shows.
    if (blocks.back()->ls1) blocks.back()->ls1->gamma.normal_(0.5, 0.2);
    if (blocks.back()->ls2) blocks.back()->ls2->gamma.normal_(0.5, 0.2);
  }
  return blocks;
}

torch::Tensor through_pending(std::vector<Block>& blocks, const torch::Tensor& x) {
  ResidualUpdate stream{x};
  for (auto& block : blocks) stream = block->forward_pending(stream);
  return BlockImpl::settled(stream);
}

torch::Tensor through_forward(std::vector<Block>& blocks, torch::Tensor x) {
  for (auto& block : blocks) x = block(x);
  return x;
}

// Runs `check(layer_scale, fold)` for each LayerScale form: none, unfolded and folded.
template <typename Check>
void for_each_layer_scale_form(Check check) {
  for (const double layer_scale : {0.0, 0.5})
    for (const bool fold : {false, true}) {
      SCOPED_TRACE("LayerScale " + std::to_string(layer_scale) + (fold ? ", folded" : ""));
      check(layer_scale, fold);
    }
}

TEST(Block, PendingFeedForwardUpdatesGiveForwardsValues) {
  torch::NoGradGuard no_grad;
  for_each_layer_scale_form([](double layer_scale, bool fold) {
    torch::manual_seed(2);
    auto blocks = chained_blocks(layer_scale, fold);
    const auto x = torch::randn({2, 37, 256});
    EXPECT_TRUE(torch::equal(through_pending(blocks, x), through_forward(blocks, x)));
  });
}

TEST(BlockCuda, PendingFeedForwardUpdatesMatchForwardOnTheKernel) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  // An ASSERT ends only the form it fails in.
  for_each_layer_scale_form([](double layer_scale, bool fold) {
    torch::manual_seed(3);
    auto blocks = chained_blocks(layer_scale, fold);
    for (auto& block : blocks) block->to(torch::kCUDA);
    const auto x = torch::randn({2, 37, 256}, torch::kCUDA);
    // float32 keeps libtorch's steps on the GPU too: forward's values exactly.
    EXPECT_TRUE(torch::equal(through_pending(blocks, x), through_forward(blocks, x)));
    EXPECT_FALSE(runs_residual_norm_kernel([&] { through_pending(blocks, x); }));
    for (auto& block : blocks) block->to(torch::kBFloat16);
    const auto bf16 = x.to(torch::kBFloat16);
    const auto& second = blocks[1];
    ASSERT_TRUE(residual_norm_uses_runtime_kernel(
        {bf16, bf16, second->ls2 ? second->ls2->gamma.to(torch::kFloat32) : torch::Tensor{}},
        NormScale::kModulation, second->norm1->weight.to(torch::kFloat32),
        second->norm1->bias.to(torch::kFloat32), torch::kBFloat16));
    EXPECT_TRUE(runs_residual_norm_kernel([&] { through_pending(blocks, bf16); }));
    const auto reference = through_forward(blocks, bf16).to(torch::kFloat32);
    const auto error =
        (through_pending(blocks, bf16).to(torch::kFloat32) - reference).norm() / reference.norm();
    EXPECT_LT(error.item<double>(), 1e-2);
    // Weights changed in place after a pass: the float32 copies the kernel read are made again.
    blocks[1]->norm1->weight.mul_(-1.5);
    if (blocks[1]->ls1) blocks[1]->ls1->gamma.mul_(3.0);
    const auto changed = through_forward(blocks, bf16).to(torch::kFloat32);
    EXPECT_GT((changed - reference).norm().item<double>(), 0.1 * reference.norm().item<double>());
    const auto after =
        (through_pending(blocks, bf16).to(torch::kFloat32) - changed).norm() / changed.norm();
    EXPECT_LT(after.item<double>(), 1e-2);
  });
}

// The encoders' loop: each kept layer's stream is forward's after that block, in the order the
// layers were asked for (a repeated one too), blocks past the deepest are not run, and a layer
// outside the list is refused by number.
TEST(Block, KeptLayerStreamsAreForwardsStreamsAtThoseLayers) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(4);
  auto chained = chained_blocks(0.5, true);
  torch::nn::ModuleList blocks;
  for (auto& block : chained) blocks->push_back(block);
  const auto x = torch::randn({2, 37, 256});
  std::vector<torch::Tensor> expected;
  auto stream = x;
  for (auto& block : chained) expected.push_back(stream = block(stream));
  const auto kept = kept_layer_streams(blocks, x, {2, 0, 2});
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_TRUE(torch::equal(kept[0], expected[2]));
  EXPECT_TRUE(torch::equal(kept[1], expected[0]));
  EXPECT_TRUE(torch::equal(kept[2], expected[2]));
  // A block past the deepest kept layer would fail on this input; it must not run.
  blocks->push_back(Block(BlockOptions{.attention = {.dim = 8, .num_heads = 2}}));
  EXPECT_TRUE(torch::equal(kept_layer_streams(blocks, x, {1})[0], expected[1]));
  EXPECT_THAT(test_support::error_message([&] {
                kept_layer_streams(blocks, x, {0, 4});
              }),
              HasSubstr("layer 4 is outside 0..3"));
  EXPECT_THAT(test_support::error_message([&] { kept_layer_streams(blocks, x, {-1}); }),
              HasSubstr("layer -1 is outside 0..3"));
}

TEST(Block, OptionsDecideTheModuleTreeNotTheModelName) {
  BlockOptions dinov2{.attention = {.dim = 16, .num_heads = 2}, .layer_scale_init = 1.0};
  Block with_scale(dinov2);
  EXPECT_EQ(parameter_names(*with_scale),
            (std::set<std::string>{"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias",
                                   "attn.proj.weight", "attn.proj.bias", "ls1.gamma",
                                   "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                                   "mlp.fc2.weight", "mlp.fc2.bias", "ls2.gamma"}));
  BlockOptions plain{.attention = {.dim = 16, .num_heads = 2, .qk_norm = true},
                     .feed_forward = FeedForward::kSwiGlu};
  Block swiglu(plain);
  const auto names = parameter_names(*swiglu);
  EXPECT_FALSE(names.contains("ls1.gamma"));
  EXPECT_TRUE(names.contains("attn.q_norm.weight"));
  EXPECT_TRUE(names.contains("mlp.w12.weight"));
  // 2/3 of 4 * 16 = 42, rounded up to 48 per branch.
  EXPECT_EQ(feed_forward_width(plain), 48);
  EXPECT_EQ(swiglu->swiglu->w12->weight.size(0), 96);
}

TEST(Block, ZeroLayerScaleAndResidualsMakeAnIdentityFreeOfAttentionAndMlp) {
  torch::manual_seed(1);
  Block block(BlockOptions{.attention = {.dim = 8, .num_heads = 2}, .layer_scale_init = 1.0});
  torch::NoGradGuard no_grad;
  block->ls1->gamma.zero_();
  block->ls2->gamma.zero_();
  const auto x = torch::randn({2, 5, 8});
  EXPECT_TRUE(torch::equal(block(x), x));
}

TEST(AlternatingAttention, FirstFrameTokensComeFromEntryZero) {
  const auto pair = torch::stack({torch::full({1, 3}, 1.0), torch::full({1, 3}, 2.0)}).unsqueeze(0);
  const auto expanded = expand_first_and_rest(pair, /*batch=*/2, /*frames=*/3);  // (6, 1, 3)
  ASSERT_EQ(expanded.sizes(), (std::vector<int64_t>{6, 1, 3}));
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_EQ(expanded[i][0][0].item<double>(), i % 3 == 0 ? 1.0 : 2.0) << i;
  const auto positions = token_positions(1, 2, 2, 3, torch::kCPU);
  EXPECT_EQ(positions[0][1][0].item<int64_t>(), 0);
  EXPECT_EQ(positions[0][2][0].item<int64_t>(), 1);  // patch (0, 0) at (1, 1)
  EXPECT_EQ(positions[0][7][1].item<int64_t>(), 3);  // patch (1, 2) at (2, 3)
}

TEST(ViT, BlockOptionsFollowTheConfig) {
  ViTConfig config{.width = 32, .heads = 4, .swiglu = true, .layer_scale = false};
  const auto block = block_options(config);
  EXPECT_EQ(block.attention.num_heads, 4);
  EXPECT_EQ(block.feed_forward, FeedForward::kSwiGlu);
  EXPECT_EQ(block.layer_scale_init, 0.0);
  EXPECT_TRUE(block.fold_layer_scale);        // the ViTs are frozen backbones
  EXPECT_EQ(feed_forward_width(config), 88);  // 2/3 of 128 = 85, rounded up to 88
}

TEST(ViT, ResampledPositionTableIsReusedOnlyWhileItsSourceIsUnchanged) {
  torch::manual_seed(0);
  ViT vit(ViTConfig{.image_size = 28, .patch_size = 7, .width = 16, .depth = 1, .heads = 2});
  const auto images = torch::randn({1, 3, 21, 35});  // a 3 x 5 grid, not the trained 4 x 4
  const auto with_grad = vit->patch_features(images, {0})[0].detach();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(vit->patch_features(images, {0})[0], with_grad));
  EXPECT_TRUE(torch::equal(vit->patch_features(images, {0})[0], with_grad));  // from the cache
  vit->pos_embed.mul_(2.0);  // in place: same storage, new version
  const auto changed = vit->patch_features(images, {0})[0];
  EXPECT_FALSE(torch::allclose(changed, with_grad));
  vit->to(torch::kFloat64);  // new storage
  const auto moved = vit->patch_features(images.to(torch::kFloat64), {0})[0];
  EXPECT_TRUE(torch::allclose(moved.to(torch::kFloat32), changed, 1e-5, 1e-6));
}

}  // namespace
}  // namespace vidprobe::nn
