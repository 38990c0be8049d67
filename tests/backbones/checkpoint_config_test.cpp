// The config.json beside a checkpoint (checkpoint_config.h) against the registered size.
#include "vidprobe/backbones/checkpoint_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backbones/checkpoint_test_support.h"
#include "vidprobe/backbones/dinov2/dinov2.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/backbones/videomae/videomae.h"
#include "vidprobe/backbones/vjepa/vjepa2.h"
#include "vidprobe/core/atomic_file.h"

namespace vidprobe::backbones {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::AllOf;
using testing::error_message;
using ::testing::HasSubstr;

// A fresh directory holding a copy of `weights` and `config` as config.json.
fs::path checkpoint_dir(const std::string& name, const fs::path& weights, const json& config) {
  const fs::path dir = testing::temporary_path(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(weights, dir / weights.filename());
  write_file_atomically(dir / "config.json", config.dump(2));
  return dir;
}

// facebook/dinov2-small's and facebook/dinov2-base's config.json, the keys vidprobe checks.
json dinov2_hub_config_json(int hidden, int heads) {
  return {{"model_type", "dinov2"},  {"hidden_size", hidden},
          {"num_hidden_layers", 12}, {"num_attention_heads", heads},
          {"mlp_ratio", 4},          {"patch_size", 14},
          {"image_size", 518},       {"layer_norm_eps", 1e-06},
          {"use_swiglu_ffn", false}};
}

TEST(CheckpointConfig, ViTSWeightsWithAViTBConfigFailNamingFieldFileAndValues) {
  // Real ViT-S/14 weights (zeros, bf16 to stay small) in a directory with a ViT-B config.json.
  const fs::path dir = testing::temporary_path("dinov2_s_with_b_config");
  fs::remove_all(dir);
  fs::create_directories(dir);
  TensorMap weights;
  for (const auto& [key, shape] : dinov2_hub_layout(dinov2_config("dinov2-vits14")))
    weights[key] = torch::zeros(shape, torch::kBFloat16);
  save_safetensors(dir / "model.safetensors", weights);
  write_file_atomically(dir / "config.json", dinov2_hub_config_json(768, 12).dump());
  BackboneOptions options;
  options.weights = dir.string();
  const auto message = error_message([&] { create_backbone("dinov2-vits14", options); });
  EXPECT_THAT(message, AllOf(HasSubstr((dir / "config.json").string()),
                             HasSubstr("hidden_size is 768"), HasSubstr("dinov2-vits14 has 384")));
  // The same weights with their own config load.
  write_file_atomically(dir / "config.json", dinov2_hub_config_json(384, 6).dump());
  EXPECT_NO_THROW(create_backbone("dinov2-vits14", options));
  // A register model's config under a plain registration names the model_type.
  json registers = dinov2_hub_config_json(384, 6);
  registers["model_type"] = "dinov2_with_registers";
  write_file_atomically(dir / "config.json", registers.dump());
  EXPECT_THAT(error_message([&] { create_backbone("dinov2-vits14", options); }),
              AllOf(HasSubstr("model_type is 'dinov2_with_registers'"), HasSubstr("'dinov2'")));
  fs::remove_all(dir);
}

TEST(CheckpointConfig, VideoFamiliesCheckTheirConfigBesideAFileOrInADirectory) {
  const auto videomae = testing::tiny_videomae_config();
  json videomae_json = {{"model_type", "videomae"}, {"hidden_size", 24},
                        {"num_hidden_layers", 3},   {"num_attention_heads", 2},
                        {"intermediate_size", 48},  {"patch_size", 8},
                        {"tubelet_size", 2},        {"image_size", 24},
                        {"layer_norm_eps", 1e-12},  {"num_frames", 4}};
  auto dir = checkpoint_dir("videomae_config", testing::fixture("videomae", "tiny.safetensors"),
                            videomae_json);
  EXPECT_NO_THROW(make_videomae_backbone("tiny", videomae, testing::with_weights(dir)));
  videomae_json["tubelet_size"] = 4;
  write_file_atomically(dir / "config.json", videomae_json.dump());
  // Beside a single file as well as in the directory.
  EXPECT_THAT(
      error_message([&] {
        make_videomae_backbone("tiny", videomae, testing::with_weights(dir / "tiny.safetensors"));
      }),
      AllOf(HasSubstr("config.json"), HasSubstr("tubelet_size is 4"), HasSubstr("tiny has 2")));
  fs::remove_all(dir);

  const auto vjepa2 = testing::tiny_vjepa2_config();
  json vjepa2_json = {{"model_type", "vjepa2"},   {"hidden_size", 32}, {"num_hidden_layers", 3},
                      {"num_attention_heads", 2}, {"mlp_ratio", 2.0},  {"patch_size", 8},
                      {"tubelet_size", 2},        {"crop_size", 24},   {"layer_norm_eps", 1e-6}};
  dir =
      checkpoint_dir("vjepa2_config", testing::fixture("vjepa2", "tiny.safetensors"), vjepa2_json);
  EXPECT_NO_THROW(make_vjepa2_backbone("tiny", vjepa2, testing::with_weights(dir)));
  // The crop size does not show in V-JEPA 2's weights (3D RoPE): only the config tells.
  vjepa2_json["crop_size"] = 384;
  write_file_atomically(dir / "config.json", vjepa2_json.dump());
  EXPECT_THAT(
      error_message([&] { make_vjepa2_backbone("tiny", vjepa2, testing::with_weights(dir)); }),
      AllOf(HasSubstr("crop_size is 384"), HasSubstr("tiny has 24")));
  vjepa2_json["crop_size"] = 24;
  vjepa2_json["layer_norm_eps"] = 1e-12;
  write_file_atomically(dir / "config.json", vjepa2_json.dump());
  EXPECT_THAT(
      error_message([&] { make_vjepa2_backbone("tiny", vjepa2, testing::with_weights(dir)); }),
      HasSubstr("layer_norm_eps is 1e-12"));
  vjepa2_json["layer_norm_eps"] = 1e-6;
  vjepa2_json["model_type"] = "videomae";
  write_file_atomically(dir / "config.json", vjepa2_json.dump());
  EXPECT_THAT(
      error_message([&] { make_vjepa2_backbone("tiny", vjepa2, testing::with_weights(dir)); }),
      HasSubstr("model_type is 'videomae'"));
  fs::remove_all(dir);
}

TEST(CheckpointConfig, ValuesCompareByTypeAndAbsentKeysAreNotChecked) {
  const HubConfigExpectation expected{
      .model_types = {"vjepa2"},
      .fields = {{"hidden_size", 1408}, {"mlp_ratio", 48.0 / 11.0}, {"use_swiglu_ffn", false}}};
  // The hub writes 48 / 11 with 16 digits and some writers emit integral floats.
  EXPECT_NO_THROW(require_config_matches(
      {{"hidden_size", 1408.0}, {"mlp_ratio", 4.363636363636363}}, expected, "c.json", "b"));
  EXPECT_NO_THROW(require_config_matches(json::object(), expected, "c.json", "b"));
  EXPECT_THAT(error_message([&] {
                require_config_matches({{"mlp_ratio", 4.0}}, expected, "c.json", "b");
              }),
              AllOf(HasSubstr("c.json"), HasSubstr("mlp_ratio is 4.0")));
  EXPECT_THAT(error_message([&] {
                require_config_matches({{"use_swiglu_ffn", true}}, expected, "c.json", "b");
              }),
              HasSubstr("use_swiglu_ffn is true but b has false"));
  EXPECT_THAT(error_message([&] {
                require_config_matches({{"hidden_size", "1408"}}, expected, "c.json", "b");
              }),
              AllOf(HasSubstr("c.json"), HasSubstr("'hidden_size'"), HasSubstr("integer")));
  EXPECT_THAT(
      error_message([&] { require_config_matches(json::array(), expected, "c.json", "b"); }),
      HasSubstr("expected a JSON object"));
  // No config.json beside the weights: nothing to check.
  const fs::path dir = testing::temporary_path("no_config");
  fs::create_directories(dir);
  EXPECT_FALSE(checkpoint_config_path(dir).has_value());
  EXPECT_FALSE(checkpoint_config_path(dir / "model.safetensors").has_value());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::backbones
