// The CogVideoX VAE decoder against diffusers' AutoencoderKLCogVideoX.decode (fixtures written by
// tools/make_cogvideox_decoder_fixtures.py: the decoders of the small encoder fixtures' VAEs).
#include "vidprobe/backbones/cogvideox/vae_decoder.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/cogvideox/vae.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::cogvideox {
namespace {
using test_support::relative_error;

using test_support::error_message;
namespace fs = std::filesystem;

fs::path decoder_fixture_path(const std::string& dir, const std::string& name) {
  return fs::path(VIDPROBE_TEST_DATA_DIR) / dir / name;
}

torch::Tensor decoder_golden(const std::string& name) {
  static const TensorMap reference =
      load_safetensors(decoder_fixture_path("cogvideox", "decoder_reference.safetensors"));
  return reference.at(name);
}

VaeConfig decoder_config_of(const fs::path& file) {
  return vae_config_from_json(nlohmann::json::parse(read_file(file)), file.string());
}

// The whole VAE (encoder and decoder files decoder_merged, as a published vae/ folder holds them).
TensorMap decoder_merged(const std::vector<fs::path>& files) {
  TensorMap all;
  for (const auto& file : files) all.merge(load_checkpoint(file));
  return all;
}

Vae decoder_loaded_vae(const VaeConfig& config, TensorMap tensors) {
  Vae vae(config, /*with_decoder=*/true);
  load_vae(vae, std::move(tensors), "fixture");
  vae->eval();
  return vae;
}

Vae decoder_small_vae() {
  return decoder_loaded_vae(
      decoder_config_of(decoder_fixture_path("cogvideox", "vae_config.json")),
      decoder_merged({decoder_fixture_path("cogvideox", "vae_encoder.safetensors"),
                      decoder_fixture_path("cogvideox", "decoder.safetensors")}));
}

// 5 latent frames: batches of 3 + 2 with the causal context carried (the odd batch takes the
// spatial norm's and the upsampler's first-frame path); 4 frames: 2 + 2; 1 frame: an image.
TEST(CogVideoXVaeDecoder, MatchesDiffusersOverFrameBatches) {
  auto vae = decoder_small_vae();
  torch::NoGradGuard no_grad;
  for (const auto& [latents, video] : std::vector<std::pair<std::string, std::string>>{
           {"z5", "dec5"}, {"z4", "dec4"}, {"z1", "dec1"}}) {
    const auto decoded = vae->decode(decoder_golden(latents));
    EXPECT_LT(relative_error(decoded, decoder_golden(video)), 1e-5) << latents;
  }
}

// A decoder that batched differently (all 5 latent frames at once) would not match: the batching
// is part of the maths, so the test above can see it.
TEST(CogVideoXVaeDecoder, OneBatchDiffersFromDiffusersBatches) {
  auto vae = decoder_small_vae();
  torch::NoGradGuard no_grad;
  CausalCache cache;
  const auto decoder = std::dynamic_pointer_cast<VaeDecoderImpl>(vae->named_children()["decoder"]);
  ASSERT_NE(decoder, nullptr);
  const auto whole = decoder->forward(decoder_golden("z5"), cache);
  EXPECT_GT(relative_error(whole, decoder_golden("dec5")), 1e-3);
}

TEST(CogVideoXVaeDecoder, AetherVaeAndPostQuantConvMatchDiffusers) {
  torch::NoGradGuard no_grad;
  auto aether = decoder_loaded_vae(
      decoder_config_of(decoder_fixture_path("aether", "backbone_vae_config.json")),
      decoder_merged({decoder_fixture_path("aether", "backbone_vae_encoder.safetensors"),
                      decoder_fixture_path("cogvideox", "decoder_aether.safetensors")}));
  EXPECT_LT(
      relative_error(aether->decode(decoder_golden("aether_z3")), decoder_golden("aether_dec3")),
      1e-5);
  // No encoder file for this one: the decoder half is loaded and checked on its own.
  const auto config =
      decoder_config_of(decoder_fixture_path("cogvideox", "decoder_pqc_config.json"));
  EXPECT_TRUE(config.post_quant_conv);
  auto tensors = load_checkpoint(decoder_fixture_path("cogvideox", "decoder_pqc.safetensors"));
  Vae reference(config, /*with_decoder=*/true);
  for (const auto& item : reference->named_parameters())
    if (item.key().rfind("encoder.", 0) == 0) tensors[item.key()] = item.value().detach().clone();
  auto vae = decoder_loaded_vae(config, std::move(tensors));
  EXPECT_LT(relative_error(vae->decode(decoder_golden("pqc_z5")), decoder_golden("pqc_dec5")),
            1e-5);
}

// With the decoder built every tensor of the file must be consumed; errors name the key.
TEST(CogVideoXVaeDecoder, LoadsStrictlyAndNamesTheKey) {
  const auto config = decoder_config_of(decoder_fixture_path("cogvideox", "vae_config.json"));
  const auto full = [] {
    return decoder_merged({decoder_fixture_path("cogvideox", "vae_encoder.safetensors"),
                           decoder_fixture_path("cogvideox", "decoder.safetensors")});
  };
  auto missing = full();
  missing.erase("decoder.up_blocks.0.resnets.1.norm2.conv_b.conv.weight");
  Vae vae(config, true);
  auto message = error_message([&] { load_vae(vae, std::move(missing), "vae.st"); });
  EXPECT_NE(message.find("decoder.up_blocks.0.resnets.1.norm2.conv_b.conv.weight"),
            std::string::npos)
      << message;
  auto unexpected = full();
  unexpected["post_quant_conv.weight"] = torch::zeros({3, 3, 1, 1, 1});
  message = error_message([&] { load_vae(vae, std::move(unexpected), "vae.st"); });
  EXPECT_NE(message.find("post_quant_conv.weight"), std::string::npos) << message;
  // The encoder-only load (extraction) still skips the decoder half.
  Vae encoder_only(config);
  EXPECT_NO_THROW(load_vae(encoder_only, full(), "vae.st"));
  EXPECT_THROW(Vae(config)->decode(decoder_golden("z5")), Error);
}

TEST(CogVideoXVaeDecoder, RefusesAPostQuantConvDiffusersCouldNotRun) {
  auto json =
      nlohmann::json::parse(read_file(decoder_fixture_path("cogvideox", "vae_config.json")));
  json["use_post_quant_conv"] = true;  // 4 latent channels, 3 out: diffusers' conv cannot run
  const auto message = error_message([&] { vae_config_from_json(json, "vae/config.json"); });
  EXPECT_NE(message.find("use_post_quant_conv"), std::string::npos) << message;
}

}  // namespace
}  // namespace vidprobe::backbones::cogvideox
