#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "backbones/wan/test_fixtures.h"
#include "test_support.h"
#include "vidprobe/backbones/wan/text_encoder.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {
namespace {

using testing::fixture;
using testing::golden;
using testing::relative_error;

TextEncoder small_encoder() {
  const auto config = umt5_config_from_json(testing::fixture_configs()["umt5"], "configs.json");
  TextEncoder encoder(config, torch::kCPU, torch::kFloat32);
  encoder.load(load_checkpoint(fixture("umt5.safetensors")), "umt5.safetensors");
  return encoder;
}

// transformers' UMT5EncoderModel ran the ids padded to 24 with an attention mask; the unpadded
// sequence gives the same states for the prompt's tokens.
TEST(WanText, MatchesTransformersUMT5Encoder) {
  const auto encoder = small_encoder();
  torch::NoGradGuard no_grad;
  const auto hidden = encoder.encode(golden("token_ids"));
  EXPECT_LT(relative_error(hidden, golden("umt5_hidden")), 1e-4);
  EXPECT_LT(relative_error(pad_context(hidden), golden("context")), 1e-4);
}

TEST(WanText, RelativeBucketsFollowT5) {
  // 32 buckets, max distance 128: 16 per direction, 8 exact, then log-spaced up to 15.
  const auto rel = torch::tensor({0, -1, -7, -8, -12, -127, -500, 1, 7, 8, 200}, torch::kLong);
  const auto buckets = relative_position_buckets(rel, 32, 128);
  // key after query (positive) adds 16. Large: 8 + floor(log(d / 8) / log(16) * 8).
  const std::vector<int64_t> expected{0, 1, 7, 8, 9, 15, 15, 17, 23, 24, 31};
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(buckets[i].item<int64_t>(), expected[i])
        << "relative position " << rel[i].item<int64_t>();
}

TEST(WanText, ContextIsPaddedWithZerosTo512) {
  const auto hidden = torch::randn({3, 8});
  const auto context = pad_context(hidden);
  ASSERT_EQ(context.sizes(), (std::vector<int64_t>{1, 512, 8}));
  EXPECT_TRUE(torch::equal(context[0].slice(0, 0, 3), hidden));
  EXPECT_EQ(context[0].slice(0, 3).abs().sum().item<float>(), 0.0f);
  EXPECT_THROW(pad_context(torch::zeros({513, 8})), Error);
  EXPECT_EQ(empty_prompt_ids(), std::vector<int64_t>{1});
}

// diffusers' WanPipeline.encode_prompt("") (the authors' context): the empty prompt's single
// encoder row, then zero rows up to 226 (tests/fixtures/wan/schedule.json, from diffusers' code).
TEST(WanText, EmptyPromptContextAtDiffusersLength) {
  std::ifstream in(std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "wan" / "schedule.json");
  const auto layout = nlohmann::json::parse(in).at("text_context");
  const int length = layout.at("encode_prompt_default_max_sequence_length");
  const auto encoder = small_encoder();
  torch::NoGradGuard no_grad;
  const auto hidden = encoder.encode(torch::tensor(empty_prompt_ids(), torch::kLong));
  const auto context = pad_context(hidden, length);
  ASSERT_EQ(context.size(1), 226);
  const auto nonzero = context[0].abs().sum(-1).gt(0).nonzero().flatten();
  EXPECT_EQ(nonzero.numel(), layout.at("rows_with_encoder_output").get<int64_t>());
  EXPECT_EQ(nonzero[0].item<int64_t>(), layout.at("nonzero_row_indices")[0].get<int64_t>());
  EXPECT_EQ(length - nonzero.numel(), layout.at("zero_rows").get<int64_t>());
}

TEST(WanText, PrecomputedContextFile) {
  const auto dir = test_support::fresh_temp_dir("wan_text");
  const auto hidden = torch::randn({2, 32});
  save_safetensors(dir / "ctx.safetensors", {{"context", hidden}});
  const auto context = load_text_context(dir / "ctx.safetensors", 32);
  EXPECT_EQ(context.sizes(), (std::vector<int64_t>{1, 512, 32}));
  EXPECT_TRUE(torch::equal(context[0].slice(0, 0, 2), hidden));
  try {
    load_text_context(dir / "ctx.safetensors", 4096);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ctx.safetensors"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("4096"), std::string::npos);
  }
  save_safetensors(dir / "two.safetensors", {{"a", hidden}, {"b", hidden}});
  EXPECT_THROW(load_text_context(dir / "two.safetensors", 32), Error);
  std::filesystem::remove_all(dir);
}

TEST(WanText, RealSizeMatchesTheReferenceParameterCount) {
  const auto counts = nlohmann::json::parse(read_file(fixture("param_counts.json")));
  const TextEncoder encoder(UMT5Config{}, torch::Device(torch::kMeta), torch::kBFloat16);
  EXPECT_EQ(encoder.parameters().count(), counts["umt5-xxl/encoder"].get<int64_t>());
}

}  // namespace
}  // namespace vidprobe::backbones::wan
