// The CogVideoX VAE encoder against diffusers' AutoencoderKLCogVideoX (fixtures written by
// tools/make_cogvideox_vae_fixtures.py in a small seeded configuration).
#include "vidprobe/backbones/cogvideox/vae.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::cogvideox {
namespace {
using test_support::relative_error;

using test_support::error_message;

std::filesystem::path vae_fixture(const std::string& name) {
  return std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "cogvideox" / name;
}

VaeConfig small_vae_config() {
  return vae_config_from_json(nlohmann::json::parse(read_file(vae_fixture("vae_config.json"))),
                              "vae_config.json");
}

torch::Tensor vae_golden(const std::string& name) {
  static const TensorMap reference = load_safetensors(vae_fixture("vae_reference.safetensors"));
  return reference.at(name);
}

Vae small_vae() {
  Vae vae(small_vae_config());
  load_vae_encoder(vae, load_checkpoint(vae_fixture("vae_encoder.safetensors")),
                   "vae_encoder.safetensors");
  vae->eval();
  return vae;
}

TEST(CogVideoXVae, SmallConfigIsReadFromDiffusersJson) {
  const auto config = small_vae_config();
  EXPECT_EQ(config.block_out_channels, (std::vector<int>{4, 8, 8, 8}));
  EXPECT_EQ(config.latent_channels, 4);
  EXPECT_EQ(config.layers_per_block, 1);
  EXPECT_EQ(config.norm_groups, 2);
  EXPECT_EQ(config.temporal_compression, 4);
}

// 17 frames go through as two frame batches (9 + 8) with the causal context carried over; 9
// frames as one batch; 1 frame (an image) alone.
TEST(CogVideoXVae, EncoderMatchesDiffusersForOneAndTwoFrameBatches) {
  auto vae = small_vae();
  torch::NoGradGuard no_grad;
  const auto clip = vae_golden("clip17");
  for (int frames : {17, 9, 1}) {
    const auto moments = vae->encode_moments(clip.slice(2, 0, frames));
    EXPECT_LT(relative_error(moments, vae_golden("moments" + std::to_string(frames))), 1e-5)
        << frames << " frames";
  }
  EXPECT_LT(relative_error(vae->encode_mean(clip), vae_golden("mean17")), 1e-5);
}

TEST(CogVideoXVae, DecoderKeysAreSkippedOthersAreNamed) {
  auto vae = Vae(small_vae_config());
  auto with_decoder = load_checkpoint(vae_fixture("vae_encoder.safetensors"));
  with_decoder["decoder.conv_in.conv.weight"] = torch::zeros({2});
  EXPECT_NO_THROW(load_vae_encoder(vae, std::move(with_decoder), "vae.st"));

  auto missing = load_checkpoint(vae_fixture("vae_encoder.safetensors"));
  missing.erase("encoder.down_blocks.1.resnets.0.conv_shortcut.weight");
  auto message = error_message([&] { load_vae_encoder(vae, std::move(missing), "vae.st"); });
  EXPECT_NE(message.find("encoder.down_blocks.1.resnets.0.conv_shortcut.weight"), std::string::npos)
      << message;

  auto extra = load_checkpoint(vae_fixture("vae_encoder.safetensors"));
  extra["quant_conv.weight"] = torch::zeros({8, 8, 1, 1, 1});
  message = error_message([&] { load_vae_encoder(vae, std::move(extra), "vae.st"); });
  EXPECT_NE(message.find("quant_conv.weight"), std::string::npos) << message;

  auto wrong = load_checkpoint(vae_fixture("vae_encoder.safetensors"));
  wrong["encoder.norm_out.weight"] = torch::ones({9});
  message = error_message([&] { load_vae_encoder(vae, std::move(wrong), "vae.st"); });
  EXPECT_NE(message.find("encoder.norm_out.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("[9]"), std::string::npos) << message;
}

TEST(CogVideoXVae, RefusesGroupsThatDoNotDivideAWidth) {
  auto json = nlohmann::json::parse(read_file(vae_fixture("vae_config.json")));
  json["norm_num_groups"] = 3;
  const auto message = error_message([&] { vae_config_from_json(json, "vae/config.json"); });
  EXPECT_NE(message.find("norm_num_groups 3"), std::string::npos) << message;
}

}  // namespace
}  // namespace vidprobe::backbones::cogvideox
