// The CogVideoX transformer against diffusers' CogVideoXTransformer3DModel (fixtures written by
// tools/make_cogvideox_fixtures.py in small seeded configurations of the three variants).
#include "vidprobe/backbones/cogvideox/transformer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tensor_test_support.h"
#include "test_fixtures.h"
#include "test_support.h"
#include "vidprobe/backbones/cogvideox/checkpoint.h"
#include "vidprobe/backbones/cogvideox/positions.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::cogvideox {
namespace {

using test_support::error_message;
using testing::fixture;
using testing::fixture_json;

TransformerConfig small_config(const std::string& variant) {
  return transformer_config_from_json(fixture_json("configs.json").at(variant), "configs.json");
}

torch::Tensor golden(const std::string& name) {
  static const TensorMap reference = load_safetensors(fixture("reference.safetensors"));
  const auto it = reference.find(name);
  if (it == reference.end()) throw Error("reference.safetensors has no '" + name + "'");
  return it->second;
}

// max |actual - expected| relative to max |expected|.
using test_support::relative_error;

Transformer small_transformer(const std::string& variant) {
  Transformer model(small_config(variant));
  load_transformer(model, load_checkpoint(fixture(variant + ".safetensors")),
                   variant + ".safetensors");
  model->eval();
  return model;
}

class CogVideoXVariant : public ::testing::TestWithParam<std::string> {};

// Video and text hidden states after every block, and the prediction, match diffusers.
TEST_P(CogVideoXVariant, MatchesDiffusersAtEveryBlock) {
  const std::string v = GetParam();
  auto model = small_transformer(v);
  torch::NoGradGuard no_grad;
  const auto out = model->run(golden(v + "/latents"), golden(v + "/timesteps"), golden(v + "/text"),
                              {0, 1}, /*with_prediction=*/true);
  ASSERT_EQ(out.video.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const auto block = std::to_string(i);
    EXPECT_LT(relative_error(out.video[i], golden(v + "/block" + block)), 1e-5) << v << " " << i;
    EXPECT_LT(relative_error(out.text[i], golden(v + "/text_block" + block)), 1e-5)
        << v << " " << i;
  }
  EXPECT_LT(relative_error(out.prediction, golden(v + "/output")), 1e-5) << v;
  const auto latents = golden(v + "/latents");
  EXPECT_EQ(out.grid,
            (std::vector<int64_t>{latents.size(1), latents.size(3) / 2, latents.size(4) / 2}));
}

// Requesting only block 0 stops there and gives the same states; a block past the end is an
// error naming the range.
TEST_P(CogVideoXVariant, StopsAtTheDeepestRequestedBlock) {
  const std::string v = GetParam();
  auto model = small_transformer(v);
  torch::NoGradGuard no_grad;
  const auto out =
      model->run(golden(v + "/latents"), golden(v + "/timesteps"), golden(v + "/text"), {0});
  ASSERT_EQ(out.video.size(), 1u);
  EXPECT_LT(relative_error(out.video[0], golden(v + "/block0")), 1e-5);
  EXPECT_FALSE(out.prediction.defined());
  const auto message = error_message([&] {
    model->run(golden(v + "/latents"), golden(v + "/timesteps"), golden(v + "/text"), {2});
  });
  EXPECT_NE(message.find("blocks 0..1"), std::string::npos) << message;
}

// A kept layer's streams are formed beside the feed-forward update that the next block's first
// norm adds: the other layers and the prediction are the same bits whichever layers are kept.
TEST_P(CogVideoXVariant, KeptLayersLeaveTheOthersBitForBit) {
  const std::string v = GetParam();
  auto model = small_transformer(v);
  torch::NoGradGuard no_grad;
  const auto run = [&](const std::vector<int>& layers) {
    return model->run(golden(v + "/latents"), golden(v + "/timesteps"), golden(v + "/text"), layers,
                      /*with_prediction=*/true);
  };
  const auto both = run({0, 1}), deeper = run({1});
  EXPECT_TRUE(torch::equal(both.video[1], deeper.video[0])) << v;
  EXPECT_TRUE(torch::equal(both.text[1], deeper.text[0])) << v;
  EXPECT_TRUE(torch::equal(both.prediction, deeper.prediction)) << v;
}

INSTANTIATE_TEST_SUITE_P(Variants, CogVideoXVariant, ::testing::Values("2b", "5b", "5b-i2v"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

class CogVideoXVariantCuda : public ::testing::TestWithParam<std::string> {};

// On a GPU in bf16, where qk-norm, RoPE and the residual norms take the runtime kernels and the
// feed-forward's first projection and tanh GELU the GEMM's epilogue: every block within bf16's
// error of diffusers' float32 model.
TEST_P(CogVideoXVariantCuda, MatchesDiffusersInBf16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string v = GetParam();
  auto model = small_transformer(v);
  model->to(torch::kCUDA, torch::kBFloat16);
  torch::NoGradGuard no_grad;
  const auto out = model->run(golden(v + "/latents"), golden(v + "/timesteps"), golden(v + "/text"),
                              {0, 1}, /*with_prediction=*/true);
  const auto cpu = [](const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat32); };
  for (int i = 0; i < 2; ++i) {
    const auto block = std::to_string(i);
    const double error = relative_error(cpu(out.video[i]), golden(v + "/block" + block));
    EXPECT_LT(error, 5e-2) << v << " " << i;
    EXPECT_GT(error, 0) << v << " " << i;  // really computed in bf16
    EXPECT_LT(relative_error(cpu(out.text[i]), golden(v + "/text_block" + block)), 5e-2)
        << v << " " << i;
  }
  EXPECT_LT(relative_error(cpu(out.prediction), golden(v + "/output")), 5e-2) << v;
}

INSTANTIATE_TEST_SUITE_P(Variants, CogVideoXVariantCuda, ::testing::Values("2b", "5b", "5b-i2v"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// AetherV1's transformer (a CogVideoX transformer with Aether's channels: [RGB | disparity |
// raymap latents | image latents | camera] in, the latents out) against the official Aether
// pipeline's RoPE (fps 8: time positions x 1.5) on diffusers (tools/make_aether_fixtures.py).
TEST(AetherTransformer, MatchesTheOfficialPipelineWithItsRopeTimeScale) {
  const auto dir = std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "aether";
  const auto meta = nlohmann::json::parse(read_file(dir / "meta.json"));
  EXPECT_DOUBLE_EQ(kAetherRopeTimeScale,
                   meta.at("base_fps").get<double>() / meta.at("fps").get<double>());
  const TensorMap reference = load_safetensors(dir / "reference.safetensors");
  auto config = transformer_config_from_json(nlohmann::json::parse(read_file(dir / "config.json")),
                                             "aether/config.json");
  const auto run = [&](double time_scale) {
    config.rope_time_scale = time_scale;
    Transformer model(config);
    load_transformer(model, load_checkpoint(dir / "transformer.safetensors"),
                     "transformer.safetensors");
    model->eval();
    torch::NoGradGuard no_grad;
    return model->run(reference.at("latents"), reference.at("timesteps"), reference.at("text"),
                      {0, 1}, /*with_prediction=*/true);
  };
  const auto out = run(kAetherRopeTimeScale);
  for (int i = 0; i < 2; ++i) {
    const auto block = std::to_string(i);
    EXPECT_LT(relative_error(out.video[i], reference.at("block" + block)), 1e-5) << i;
    EXPECT_LT(relative_error(out.text[i], reference.at("text_block" + block)), 1e-5) << i;
  }
  EXPECT_LT(relative_error(out.prediction, reference.at("output")), 1e-5);
  EXPECT_EQ(out.prediction.size(2),
            2 * meta.at("latent_channels").get<int>() + meta.at("camera_channels").get<int>());
  // CogVideoX's unscaled time positions give other states: the scale is what makes it Aether.
  EXPECT_GT(relative_error(run(1.0).video[0], reference.at("block0")), 1e-4);
  config.rope_time_scale = 0;
  EXPECT_NE(error_message([&] { config.validate("cfg"); }).find("RoPE time scale"),
            std::string::npos);
}

TEST(CogVideoXConfig, SmallConfigsAreReadFromDiffusersJson) {
  const auto sincos = small_config("2b"), rope = small_config("5b"), i2v = small_config("5b-i2v");
  EXPECT_FALSE(sincos.rotary);
  EXPECT_TRUE(rope.rotary);
  EXPECT_FALSE(rope.learned_positions);
  EXPECT_TRUE(i2v.rotary && i2v.learned_positions);
  EXPECT_EQ(i2v.in_channels, 8);
  EXPECT_EQ(sincos.dim(), 32);
  EXPECT_EQ(sincos.max_text_tokens, 5);
  EXPECT_EQ(sincos.sample_latent_frames(), 3);
}

TEST(CogVideoXConfig, RefusesCogVideoX15AndUnknownVariants) {
  auto json = fixture_json("configs.json").at("5b");
  json["patch_size_t"] = 2;
  EXPECT_NE(
      error_message([&] { transformer_config_from_json(json, "cfg.json"); }).find("patch_size_t"),
      std::string::npos);
  EXPECT_NE(error_message([] { transformer_config("cogvideox-9b"); }).find("cogvideox-5b-i2v"),
            std::string::npos);
}

// The size table against the published checkpoints: diffusers' models of the hub configs, built on
// the meta device, have exactly these state_dict sizes (param_counts.json).
TEST(CogVideoXConfig, SizeTableMatchesTheRealModels) {
  const auto& counts = fixture_json("param_counts.json");
  ASSERT_EQ(counts.size(), transformer_sizes().size());
  for (const auto& size : transformer_sizes()) {
    const auto layout = transformer_hub_layout(size.config);
    const auto& expected = counts.at(size.name);
    EXPECT_EQ(element_count(layout), expected.at("state_dict_elements").get<int64_t>())
        << size.name;
    EXPECT_EQ(static_cast<int64_t>(layout.size()), expected.at("state_dict_keys").get<int64_t>())
        << size.name;
  }
  const auto& i2v = transformer_config("cogvideox-5b-i2v");
  EXPECT_EQ(i2v.layers, 42);
  EXPECT_EQ(i2v.dim(), 3072);
  EXPECT_EQ(i2v.rope_axis_widths(), (std::vector<int64_t>{16, 24, 24}));
}

// The module's parameters are exactly the diffusers layout after the key mapping (so that
// strict loading can neither miss nor ignore a tensor).
TEST(CogVideoXCheckpoint, ModuleMatchesTheMappedDiffusersLayout) {
  for (const std::string v : {"2b", "5b", "5b-i2v"}) {
    const auto config = small_config(v);
    Transformer model(config);
    const auto mapped =
        transformer_module_tensors(meta_tensors(transformer_hub_layout(config)), config, v);
    EXPECT_EQ(shapes_of(mapped), module_shapes(*model)) << v;
  }
}

TEST(CogVideoXCheckpoint, MissingAndUnexpectedKeysAreNamed) {
  auto model = Transformer(small_config("5b"));
  auto missing = load_checkpoint(fixture("5b.safetensors"));
  missing.erase("transformer_blocks.1.attn1.to_k.weight");
  auto message = error_message([&] { load_transformer(model, std::move(missing), "5b.st"); });
  EXPECT_NE(message.find("transformer_blocks.1.attn1.to_k.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("missing"), std::string::npos) << message;

  auto extra = load_checkpoint(fixture("5b.safetensors"));
  extra["transformer_blocks.1.attn1.to_k.scale"] = torch::ones({16});
  message = error_message([&] { load_transformer(model, std::move(extra), "5b.st"); });
  EXPECT_NE(message.find("transformer_blocks.1.attn1.to_k.scale"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected"), std::string::npos) << message;

  // The 2B checkpoint has no learned position table: it is missing for 5B-I2V (with the 2b
  // weights' 4 input channels also refused).
  message = error_message([] {
    auto i2v = Transformer(small_config("5b-i2v"));
    load_transformer(i2v, load_checkpoint(fixture("2b.safetensors")), "2b.st");
  });
  EXPECT_NE(message.find("patch_embed.pos_embedding"), std::string::npos) << message;
  EXPECT_NE(message.find("patch_embed.proj.weight"), std::string::npos) << message;
}

TEST(CogVideoXCheckpoint, WrongShapeIsNamed) {
  auto model = Transformer(small_config("2b"));
  auto tensors = load_checkpoint(fixture("2b.safetensors"));
  tensors["transformer_blocks.0.attn1.norm_q.weight"] = torch::ones({17});
  const auto message = error_message([&] { load_transformer(model, std::move(tensors), "2b.st"); });
  EXPECT_NE(message.find("transformer_blocks.0.attn1.norm_q.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("[17]"), std::string::npos) << message;
  EXPECT_NE(message.find("2b.st"), std::string::npos) << message;
}

// The loaded weights are the checkpoint's: q, k and v land in their thirds of the fused matrix.
TEST(CogVideoXCheckpoint, FusedProjectionHoldsQueryKeyValueInOrder) {
  auto model = small_transformer("5b");
  const auto tensors = load_checkpoint(fixture("5b.safetensors"));
  const auto& qkv = model->transformer_blocks[1]->as<BlockImpl>()->attn1->qkv->weight;
  const auto thirds = qkv.chunk(3, 0);
  EXPECT_TRUE(torch::equal(thirds[0], tensors.at("transformer_blocks.1.attn1.to_q.weight")));
  EXPECT_TRUE(torch::equal(thirds[1], tensors.at("transformer_blocks.1.attn1.to_k.weight")));
  EXPECT_TRUE(torch::equal(thirds[2], tensors.at("transformer_blocks.1.attn1.to_v.weight")));
}

// The RoPE tables equal the pipeline's (5b: a 4 x 4 grid on a 4 x 6 base grid, so the column
// positions are a fractional crop region), and the text tokens are not rotated.
TEST(CogVideoXPositions, RopeTablesMatchThePipeline) {
  for (const std::string v : {"5b", "5b-i2v"}) {
    auto model = small_transformer(v);
    const auto latents = golden(v + "/latents");
    const auto angles = model->rotary_angles(3, latents.size(1), latents.size(3) / 2,
                                             latents.size(4) / 2, torch::kCPU);
    const auto cos = angles.cos.squeeze(0).squeeze(0), sin = angles.sin.squeeze(0).squeeze(0);
    EXPECT_LT((cos.slice(0, 3) - golden(v + "/rope_cos")).abs().max().item<double>(), 2e-6) << v;
    EXPECT_LT((sin.slice(0, 3) - golden(v + "/rope_sin")).abs().max().item<double>(), 2e-6) << v;
    EXPECT_TRUE(torch::equal(cos.slice(0, 0, 3), torch::ones({3, 16})));
    EXPECT_TRUE(torch::equal(sin.slice(0, 0, 3), torch::zeros({3, 16})));
  }
  const auto region = rope_crop_region(small_config("5b"), 4, 4);
  EXPECT_EQ(region.left, 1.0);
  EXPECT_EQ(region.right, 5.0);
}

TEST(CogVideoXPositions, AbsolutePositionsNeedTheirTextSlotsAndSize) {
  auto sincos = small_transformer("2b");
  torch::NoGradGuard no_grad;
  const auto short_text = golden("2b/text").slice(1, 0, 3);
  auto message = error_message(
      [&] { sincos->run(golden("2b/latents"), golden("2b/timesteps"), short_text, {0}); });
  EXPECT_NE(message.find("exactly 5 text tokens"), std::string::npos) << message;

  auto i2v = small_transformer("5b-i2v");
  const auto cropped = golden("5b-i2v/latents").slice(4, 0, 8);
  message = error_message(
      [&] { i2v->run(cropped, golden("5b-i2v/timesteps"), golden("5b-i2v/text"), {0}); });
  EXPECT_NE(message.find("trained latent size 8x12"), std::string::npos) << message;
}

// Batch items do not interact: the second item of the batch alone gives its own states.
TEST(CogVideoXTransformer, BatchItemsAreIndependent) {
  auto model = small_transformer("5b");
  torch::NoGradGuard no_grad;
  const auto batch =
      model->run(golden("5b/latents"), golden("5b/timesteps"), golden("5b/text"), {1});
  const auto single =
      model->run(golden("5b/latents").slice(0, 1), golden("5b/timesteps").slice(0, 1),
                 golden("5b/text").slice(0, 1), {1});
  EXPECT_LT(relative_error(single.video[0], batch.video[0].slice(0, 1)), 1e-5);
}

// The position tables kept for the last grid (RoPE for 5b, sin-cos for 2b; for 5b-i2v the learned
// table at its trained length, the sin-cos one at fewer frames) follow the grid: a run on another
// grid (fewer frames; for 5b fewer text tokens too) gets its own tables, and coming back to the
// first grid gives the first states.
TEST(CogVideoXTransformer, KeptPositionTablesFollowTheGrid) {
  for (const std::string v : {"2b", "5b", "5b-i2v"}) {
    auto model = small_transformer(v);
    torch::NoGradGuard no_grad;
    const auto latents = golden(v + "/latents"), timesteps = golden(v + "/timesteps");
    const auto text = golden(v + "/text");
    const auto first = model->run(latents, timesteps, text, {1}).video[0];
    const auto fewer_frames = latents.slice(1, 0, latents.size(1) - 1);
    const auto other_text = v == "5b" ? text.slice(1, 0, text.size(1) - 1) : text;
    const auto other = model->run(fewer_frames, timesteps, other_text, {1}).video[0];
    const auto fresh = small_transformer(v)->run(fewer_frames, timesteps, other_text, {1});
    EXPECT_TRUE(torch::equal(other, fresh.video[0])) << v;
    EXPECT_TRUE(torch::equal(model->run(latents, timesteps, text, {1}).video[0], first)) << v;
    EXPECT_LT(relative_error(first, golden(v + "/block1")), 1e-5) << v;
  }
}

// A model moved to another dtype makes its kept tables again in that dtype.
TEST(CogVideoXTransformer, KeptPositionTablesFollowTheDtype) {
  for (const std::string v : {"2b", "5b"}) {
    auto model = small_transformer(v);
    torch::NoGradGuard no_grad;
    const auto latents = golden(v + "/latents"), timesteps = golden(v + "/timesteps");
    const auto text = golden(v + "/text");
    model->run(latents, timesteps, text, {1});
    model->to(torch::kFloat64);
    auto fresh = small_transformer(v);
    fresh->to(torch::kFloat64);
    const auto moved = model->run(latents, timesteps, text, {1}).video[0];
    EXPECT_EQ(moved.scalar_type(), torch::kFloat64) << v;
    EXPECT_TRUE(torch::equal(moved, fresh->run(latents, timesteps, text, {1}).video[0])) << v;
  }
}

}  // namespace
}  // namespace vidprobe::backbones::cogvideox
