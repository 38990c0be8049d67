// CLIP's text transformer against transformers' CLIPTextModel (fixtures of
// tools/make_opensora_text_fixtures.py: a small CLIPModel with the real vocabulary size, saved as
// published): hidden states, both pooling rules, the empty prompt, strict loading.
#include "vidprobe/backbones/text/clip_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "test_support.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::text {
namespace {
namespace fs = std::filesystem;
using test_support::error_message;
using ::testing::HasSubstr;

fs::path folder() {
  return fs::path(VIDPROBE_TEST_DATA_DIR) / "opensora" / "text" / "clip";
}

const TensorMap& reference() {
  static const TensorMap tensors = load_safetensors(fs::path(VIDPROBE_TEST_DATA_DIR) / "opensora" /
                                                    "text" / "reference.safetensors");
  return tensors;
}

ClipTextConfig fixture_config() {
  return clip_text_config_from_json(read_json_file(folder() / "config.json"), "config.json");
}

ClipTextModel loaded(ClipTextConfig config = fixture_config()) {
  ClipTextModel model(config);
  load_clip_text(model, load_checkpoint(folder() / "model.safetensors"), folder().string());
  model->eval();
  return model;
}

TEST(ClipText, ReadsTheTextConfigOfACLIPConfig) {
  const auto c = fixture_config();
  EXPECT_EQ(c.vocab_size, 49408);
  EXPECT_EQ(c.hidden_size, 4);
  EXPECT_EQ(c.intermediate_size, 8);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.num_attention_heads, 2);
  EXPECT_EQ(c.max_position_embeddings, 77);
  EXPECT_EQ(c.eos_token_id, 2);  // the legacy value of openai's config.json
  EXPECT_EQ(c.hidden_act, nn::Gelu::kQuick);
  // A plain CLIPTextConfig has transformers' defaults for what it leaves out.
  const auto plain = clip_text_config_from_json(nlohmann::json{{"hidden_size", 768}}, "x");
  EXPECT_EQ(plain.hidden_size, 768);
  EXPECT_EQ(plain.num_attention_heads, 8);
  EXPECT_EQ(plain.eos_token_id, kClipEosId);
  EXPECT_THAT(error_message([] {
                clip_text_config_from_json(nlohmann::json{{"hidden_act", "relu"}}, "cfg.json");
              }),
              AllOf(HasSubstr("cfg.json"), HasSubstr("relu")));
}

TEST(ClipText, MatchesTransformersHiddenStatesAndPooledOutput) {
  auto model = loaded();
  torch::NoGradGuard no_grad;
  const auto out = model->forward(reference().at("clip_ids"));
  EXPECT_TRUE(torch::allclose(out.last_hidden_state, reference().at("clip_hidden"), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(out.pooler_output, reference().at("clip_pooled"), 1e-5, 1e-5));
  // With a current config (eos_token_id = the EOS id itself) the first such id is pooled.
  auto config = fixture_config();
  config.eos_token_id = 9;
  const auto first_nine = loaded(config)->forward(reference().at("clip_ids")).pooler_output;
  EXPECT_TRUE(torch::allclose(first_nine, reference().at("clip_pooled_eos9"), 1e-5, 1e-5));
}

TEST(ClipText, EmptyPromptIsBosEosThenPads) {
  const auto ids = clip_empty_prompt_ids(77);
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(ids[0], 49406);
  EXPECT_EQ(ids[1], 49407);
  EXPECT_EQ(ids[76], 49407);
  auto model = loaded();
  torch::NoGradGuard no_grad;
  const auto pooled = model->forward(torch::tensor(ids, torch::kLong).unsqueeze(0)).pooler_output;
  EXPECT_TRUE(torch::allclose(pooled, reference().at("clip_empty"), 1e-5, 1e-5));
}

TEST(ClipText, LoadingIsStrictAndDropsOnlyTheOtherTowers) {
  auto checkpoint = load_checkpoint(folder() / "model.safetensors");
  checkpoint.erase("text_model.encoder.layers.1.self_attn.k_proj.bias");
  ClipTextModel model(fixture_config());
  EXPECT_THAT(error_message([&] { load_clip_text(model, checkpoint, "clip.safetensors"); }),
              AllOf(HasSubstr("clip.safetensors"), HasSubstr("layers.1.self_attn.k_proj.bias")));
  checkpoint = load_checkpoint(folder() / "model.safetensors");
  checkpoint.emplace("text_model.extra.weight", torch::zeros({2}));
  EXPECT_THAT(error_message([&] { load_clip_text(model, checkpoint, "clip.safetensors"); }),
              HasSubstr("extra.weight"));
  auto wider = fixture_config();
  wider.intermediate_size = 12;
  ClipTextModel other(wider);
  EXPECT_THAT(error_message([&] {
                load_clip_text(other, load_checkpoint(folder() / "model.safetensors"), "x");
              }),
              HasSubstr("mlp.fc1.weight"));
  EXPECT_THAT(error_message([&] {
                model->forward(torch::full({1, 3}, 49408, torch::kLong));
              }),
              HasSubstr("token ids"));
}

}  // namespace
}  // namespace vidprobe::backbones::text
