#include "vidprobe/backbones/wan/dit.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "backbones/wan/test_fixtures.h"
#include "vidprobe/backbones/wan/schedule.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/rms_norm_rotary.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones::wan {
namespace {

using testing::fixture;
using testing::golden;
using testing::relative_error;

DiTConfig small_config() {
  return dit_config_from_json(testing::fixture_configs()["dit"], "configs.json");
}

Transformer small_transformer(const std::string& file) {
  Transformer model(small_config(), torch::kCPU, torch::kFloat32);
  model.load(load_checkpoint(fixture(file)), file);
  return model;
}

TEST(WanDiT, SmallConfigIsReadFromDiffusersJson) {
  const auto config = small_config();
  EXPECT_EQ(config.dim, 40);
  EXPECT_EQ(config.heads, 2);
  EXPECT_EQ(config.layers, 3);
  EXPECT_EQ(config.text_dim, 32);
  EXPECT_EQ(config.freq_dim, 32);
  EXPECT_EQ(config.ffn_dim, 64);
}

// Hidden states of every block and the final prediction at two timesteps match diffusers'
// WanTransformer3DModel on the same weights, noisy latents and context.
TEST(WanDiT, MatchesDiffusersAtEveryBlockAndTimestep) {
  const auto model = small_transformer("dit_diffusers.safetensors");
  torch::NoGradGuard no_grad;
  const auto context = model.embed_context(golden("context"));
  for (int t : {250, 700}) {
    const auto prefix = "t" + std::to_string(t) + "_";
    const auto noisy = add_flow_noise(golden("latents"), golden("noise"), sigma_of_timestep(t));
    EXPECT_LT(relative_error(noisy, golden(prefix + "noisy")), 1e-6);
    const auto out =
        model.run(noisy, torch::tensor({static_cast<float>(t)}), context, {0, 1, 2}, true);
    ASSERT_EQ(out.blocks.size(), 3u);
    for (int i = 0; i < 3; ++i)
      EXPECT_LT(relative_error(out.blocks[i], golden(prefix + "block" + std::to_string(i))), 1e-4)
          << "t=" << t << " block " << i;
    EXPECT_LT(relative_error(out.prediction, golden(prefix + "output")), 1e-4) << "t=" << t;
    EXPECT_EQ(out.grid, (std::vector<int64_t>{3, 2, 3}));
  }
}

TEST(WanDiT, OriginalLayoutGivesTheSameModel) {
  const auto diffusers = small_transformer("dit_diffusers.safetensors");
  const auto original = small_transformer("dit_original.safetensors");
  for (const auto& name : diffusers.parameters().names())
    EXPECT_TRUE(torch::equal(diffusers.parameters()[name], original.parameters()[name])) << name;
}

TEST(WanDiT, StopsAtTheDeepestRequestedBlock) {
  const auto model = small_transformer("dit_diffusers.safetensors");
  torch::NoGradGuard no_grad;
  const auto out = model.run(golden("t250_noisy"), torch::tensor({250.0f}),
                             model.embed_context(golden("context")), {1, 0});
  ASSERT_EQ(out.blocks.size(), 2u);
  EXPECT_LT(relative_error(out.blocks[0], golden("t250_block1")), 1e-4);
  EXPECT_LT(relative_error(out.blocks[1], golden("t250_block0")), 1e-4);
  EXPECT_FALSE(out.prediction.defined());
  EXPECT_THROW(model.run(golden("t250_noisy"), torch::tensor({250.0f}),
                         model.embed_context(golden("context")), {3}),
               Error);
}

// The rotary tables are kept for the last grid: a grid of the same token count but another shape
// (3 x 2 x 3 -> 3 x 3 x 2) must get its own, and going back must give the first run's values.
TEST(WanDiT, KeptRotaryTablesFollowTheTokenGrid) {
  const auto model = small_transformer("dit_diffusers.safetensors");
  const auto fresh = small_transformer("dit_diffusers.safetensors");
  torch::NoGradGuard no_grad;
  const auto context = model.embed_context(golden("context"));
  const auto latents = golden("t250_noisy");
  const auto transposed = latents.transpose(3, 4).contiguous();
  const auto t = torch::tensor({250.0f});
  const auto first = model.run(latents, t, context, {2}).blocks[0];
  const auto other = model.run(transposed, t, context, {2});
  EXPECT_EQ(other.grid, (std::vector<int64_t>{3, 3, 2}));
  EXPECT_TRUE(torch::equal(other.blocks[0], fresh.run(transposed, t, context, {2}).blocks[0]));
  EXPECT_TRUE(torch::equal(model.run(latents, t, context, {2}).blocks[0], first));
  EXPECT_LT(relative_error(first, golden("t250_block2")), 1e-4);
}

TEST(WanDiT, BatchItemsAreIndependent) {
  const auto model = small_transformer("dit_diffusers.safetensors");
  torch::NoGradGuard no_grad;
  const auto latents = torch::cat({golden("t250_noisy"), golden("t700_noisy")});
  const auto context = model.embed_context(golden("context")).expand({2, -1, -1});
  const auto out = model.run(latents, torch::tensor({250.0f, 700.0f}), context, {2});
  EXPECT_LT(relative_error(out.blocks[0][0], golden("t250_block2")[0]), 1e-4);
  EXPECT_LT(relative_error(out.blocks[0][1], golden("t700_block2")[0]), 1e-4);
}

TEST(WanDiT, TokensBecomeFrameMapsInRowMajorOrder) {
  const std::vector<int64_t> grid{2, 3, 4};
  const auto tokens = torch::arange(2 * 24 * 5, torch::kFloat32).view({2, 24, 5});
  const auto maps = tokens_to_maps(tokens, grid);
  ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{2, 2, 5, 3, 4}));
  const int64_t b = 1, f = 1, c = 3, y = 2, x = 1;
  EXPECT_EQ(maps[b][f][c][y][x].item<float>(), tokens[b][f * 12 + y * 4 + x][c].item<float>());
  EXPECT_THROW(tokens_to_maps(tokens, {2, 3, 3}), Error);
}

TEST(WanDiT, MismatchedCheckpointNamesEveryKeyAndShape) {
  auto checkpoint = load_checkpoint(fixture("dit_diffusers.safetensors"));
  checkpoint.erase("blocks.1.attn2.norm_k.weight");
  checkpoint["blocks.0.ffn.net.2.weight"] = torch::zeros({40, 65});
  checkpoint["blocks.0.extra.weight"] = torch::zeros({3});
  Transformer model(small_config(), torch::kCPU, torch::kFloat32);
  try {
    model.load(std::move(checkpoint), "my-dit.safetensors");
    FAIL() << "a mismatched checkpoint loaded";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("my-dit.safetensors"), std::string::npos) << message;
    EXPECT_NE(message.find("blocks.1.attn2.norm_k.weight [40]"), std::string::npos) << message;
    EXPECT_NE(message.find("blocks.0.ffn.net.2.weight: checkpoint [40, 65] vs model [40, 64]"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("blocks.0.extra.weight"), std::string::npos) << message;
  }
}

TEST(WanDiT, OriginalKeysMapToDiffusersKeys) {
  EXPECT_EQ(dit_key_from_original("blocks.7.self_attn.q.weight"), "blocks.7.attn1.to_q.weight");
  EXPECT_EQ(dit_key_from_original("blocks.7.cross_attn.o.bias"), "blocks.7.attn2.to_out.0.bias");
  EXPECT_EQ(dit_key_from_original("blocks.7.cross_attn.norm_k.weight"),
            "blocks.7.attn2.norm_k.weight");
  EXPECT_EQ(dit_key_from_original("blocks.12.norm3.weight"), "blocks.12.norm2.weight");
  EXPECT_EQ(dit_key_from_original("blocks.12.ffn.0.weight"), "blocks.12.ffn.net.0.proj.weight");
  EXPECT_EQ(dit_key_from_original("blocks.12.ffn.2.bias"), "blocks.12.ffn.net.2.bias");
  EXPECT_EQ(dit_key_from_original("blocks.3.modulation"), "blocks.3.scale_shift_table");
  EXPECT_EQ(dit_key_from_original("head.modulation"), "scale_shift_table");
  EXPECT_EQ(dit_key_from_original("head.head.weight"), "proj_out.weight");
  EXPECT_EQ(dit_key_from_original("time_embedding.2.bias"),
            "condition_embedder.time_embedder.linear_2.bias");
  EXPECT_EQ(dit_key_from_original("time_projection.1.weight"),
            "condition_embedder.time_proj.weight");
  EXPECT_EQ(dit_key_from_original("text_embedding.0.weight"),
            "condition_embedder.text_embedder.linear_1.weight");
  EXPECT_EQ(dit_key_from_original("patch_embedding.weight"), "patch_embedding.weight");
  TensorMap prefixed;
  prefixed["model.diffusion_model.blocks.0.self_attn.k.weight"] = torch::zeros({1});
  const auto mapped = to_diffusers_dit_layout(std::move(prefixed));
  EXPECT_EQ(mapped.count("blocks.0.attn1.to_k.weight"), 1u);
}

TEST(WanDiT, RealSizesMatchTheReferenceParameterCounts) {
  const auto counts = nlohmann::json::parse(read_file(fixture("param_counts.json")));
  const Transformer small(t2v_1_3b_dit(), torch::Device(torch::kMeta), torch::kBFloat16);
  const Transformer large(t2v_14b_dit(), torch::Device(torch::kMeta), torch::kBFloat16);
  EXPECT_EQ(small.parameters().count(), counts["wan2.1-t2v-1.3b/transformer"].get<int64_t>());
  EXPECT_EQ(large.parameters().count(), counts["wan2.1-t2v-14b/transformer"].get<int64_t>());
  EXPECT_EQ(t2v_14b_dit().head_dim(), 128);
  const auto split = rope_split(128);
  EXPECT_EQ(split.frames, 44);
  EXPECT_EQ(split.height, 42);
  EXPECT_EQ(split.width, 42);
}

// Multiply-adds of every matmul: q, k, v, o (N x D x D), scores and weighted sum (N x N x D),
// cross q, o (N x D x D) and k, v (512 x D x D), cross scores and sum (N x 512 x D), FFN 2 x N x D
// x F.
TEST(WanDiT, FlopCountOfTheBlocks) {
  EXPECT_DOUBLE_EQ(transformer_flops(small_config(), 18, 512, 3), 15999360.0);
  // 14B, 17 frames at 480x832 (5 x 30 x 52 tokens): 6.04 TFLOP per block.
  EXPECT_DOUBLE_EQ(transformer_flops(t2v_14b_dit(), 7800, 512, 1), 6043448115200.0);
}

// The benchmarks' MFU counts the DiT's FLOPs at run time (nn::StageMeter); on the blocks it must
// agree with the closed form above, the time embedding's three linears (per sample) being the rest.
TEST(WanDiT, FlopsCountedAtRunTimeAreTheClosedForm) {
  const auto model = small_transformer("dit_diffusers.safetensors");
  const auto config = small_config();
  torch::NoGradGuard no_grad;
  const auto context = model.embed_context(golden("context"));
  vidprobe::nn::StageMeter meter(torch::kCPU);
  (void)model.run(golden("t250_noisy"), torch::tensor({250.0f}), context, {2});
  const double d = config.dim;
  const double time_embedding = 2 * (config.freq_dim * d + d * d + d * 6 * d);
  EXPECT_DOUBLE_EQ(meter.stage(vidprobe::nn::kTransformerStage).flops,
                   transformer_flops(config, 18, context.size(1), 3) + time_embedding);
}

TEST(WanDiT, ConfigJsonOfBothLayouts) {
  const auto original = dit_config_from_json(nlohmann::json{{"_class_name", "WanModel"},
                                                            {"dim", 5120},
                                                            {"eps", 1e-6},
                                                            {"ffn_dim", 13824},
                                                            {"freq_dim", 256},
                                                            {"in_dim", 16},
                                                            {"model_type", "t2v"},
                                                            {"num_heads", 40},
                                                            {"num_layers", 40},
                                                            {"out_dim", 16},
                                                            {"text_len", 512}},
                                             "config.json");
  EXPECT_EQ(original.dim, 5120);
  EXPECT_EQ(original.heads, 40);
  EXPECT_THROW(
      dit_config_from_json({{"dim", 5120}, {"num_heads", 40}, {"model_type", "i2v"}}, "c.json"),
      Error);
  EXPECT_THROW(
      dit_config_from_json({{"num_attention_heads", 3}, {"attention_head_dim", 5}}, "c.json"),
      Error);
}

TEST(WanRope, RotatesPairsByPositionTimesFrequency) {
  // head dim 6: one pair per axis, each with frequency 1 (10000^0).
  const auto tables = rope_tables(6, 2, 3, 4, 1024, torch::kCPU);
  ASSERT_EQ(tables.rotation.sizes(), (std::vector<int64_t>{24, 1, 3}));
  const auto cos = torch::real(tables.rotation).squeeze(1);
  const auto sin = torch::imag(tables.rotation).squeeze(1);
  const int64_t f = 1, y = 2, x = 3, token = f * 12 + y * 4 + x;
  EXPECT_NEAR(cos[token][0].item<float>(), std::cos(1.0), 1e-6);
  EXPECT_NEAR(sin[token][1].item<float>(), std::sin(2.0), 1e-6);
  EXPECT_NEAR(cos[token][2].item<float>(), std::cos(3.0), 1e-6);
  auto q = torch::zeros({1, 24, 1, 6});
  q[0][token][0][2] = 1.0;  // the height pair (2, 3) holds (1, 0)
  const auto rotated = nn::rotate_pairs(q, tables.rotation);
  EXPECT_NEAR(rotated[0][token][0][2].item<float>(), std::cos(2.0), 1e-6);
  EXPECT_NEAR(rotated[0][token][0][3].item<float>(), std::sin(2.0), 1e-6);
  EXPECT_THROW(rope_tables(6, 2, 3, 4, 3, torch::kCPU), Error);
}

}  // namespace
}  // namespace vidprobe::backbones::wan
