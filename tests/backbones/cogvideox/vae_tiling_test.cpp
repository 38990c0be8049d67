// The CogVideoX VAE's spatial tiling against diffusers' own AutoencoderKLCogVideoX.tiled_encode /
// tiled_decode (fixtures written by tools/make_cogvideox_tiling_fixtures.py on the small VAE of
// the encoder and decoder fixtures), and the `vae_tiling` option that switches it on.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tensor_test_support.h"
#include "test_fixtures.h"
#include "test_support.h"
#include "vidprobe/backbones/cogvideox/backbone.h"
#include "vidprobe/backbones/cogvideox/vae.h"
#include "vidprobe/backbones/cogvideox/vae_decoder.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::cogvideox {
namespace {
using test_support::relative_error;

using test_support::error_message;
using testing::fixture;
using testing::fixture_json;

torch::Tensor tiling_golden(const std::string& name) {
  static const TensorMap reference = load_safetensors(fixture("tiling_reference.safetensors"));
  return reference.at(name);
}

VaeConfig tiling_vae_config() {
  return vae_config_from_json(fixture_json("vae_config.json"), "vae_config.json");
}

// diffusers' tiling attributes (tiling.json's "defaults" or "test") as the C++ option.
VaeTiling tiling_of(const std::string& which) {
  const auto& t = fixture_json("tiling.json").at(which);
  return {.tile_height = t.at("tile_sample_min_height").get<int64_t>(),
          .tile_width = t.at("tile_sample_min_width").get<int64_t>(),
          .overlap_height = t.at("tile_overlap_factor_height").get<double>(),
          .overlap_width = t.at("tile_overlap_factor_width").get<double>()};
}

// The whole small VAE (encoder and decoder, as a published vae/ folder holds them).
Vae tiling_vae(std::optional<VaeTiling> tiling) {
  Vae vae(tiling_vae_config(), /*with_decoder=*/true, std::move(tiling));
  TensorMap tensors = load_checkpoint(fixture("vae_encoder.safetensors"));
  tensors.merge(load_checkpoint(fixture("decoder.safetensors")));
  load_vae(vae, std::move(tensors), "fixture");
  vae->eval();
  return vae;
}

// enable_tiling() without arguments: half the config's 480 x 720 sample size, overlaps 1/6 and
// 1/5, and diffusers' latent tiles (the pixel tile over 2^(blocks - 1)).
TEST(CogVideoXVaeTiling, DefaultsAreDiffusersEnableTiling) {
  const auto config = tiling_vae_config();
  const auto tiling = diffusers_vae_tiling(config);
  const auto expected = tiling_of("defaults");
  EXPECT_EQ(tiling.tile_height, expected.tile_height);
  EXPECT_EQ(tiling.tile_width, expected.tile_width);
  EXPECT_EQ(tiling.overlap_height, expected.overlap_height);  // the same double, 1 / 6
  EXPECT_EQ(tiling.overlap_width, expected.overlap_width);
  const auto& defaults = fixture_json("tiling.json").at("defaults");
  const int64_t compression = int64_t{1} << (config.block_out_channels.size() - 1);
  EXPECT_EQ(tiling.tile_height / compression, defaults.at("tile_latent_min_height").get<int64_t>());
  EXPECT_EQ(tiling.tile_width / compression, defaults.at("tile_latent_min_width").get<int64_t>());
}

// 2 x 2 tiles of a 17-frame 64 x 96 clip (each tile in frame batches 9 + 8 with its own causal
// context) and of its first frame alone, blended and stitched as diffusers does; without tiling
// the same VAE misses the tiled reference by far, so the comparison can fail.
TEST(CogVideoXVaeTiling, TiledEncodeMatchesDiffusers) {
  auto tiled = tiling_vae(tiling_of("test"));
  auto whole = tiling_vae(std::nullopt);
  torch::NoGradGuard no_grad;
  const auto clip = tiling_golden("clip17");
  const double error17 = relative_error(tiled->encode_moments(clip), tiling_golden("moments17"));
  const double error1 =
      relative_error(tiled->encode_moments(clip.slice(2, 0, 1)), tiling_golden("moments1"));
  EXPECT_LT(error17, 1e-5);
  EXPECT_LT(error1, 1e-5);
  EXPECT_GT(relative_error(whole->encode_moments(clip), tiling_golden("moments17")), 1e-2);
  std::cout << "tiled encode vs diffusers: 17 frames " << error17 << ", 1 frame " << error1 << "\n";
}

// 4 latent frames of 8 x 12 as 2 x 2 latent tiles, each decoded in batches 2 + 2.
TEST(CogVideoXVaeTiling, TiledDecodeMatchesDiffusers) {
  auto tiled = tiling_vae(tiling_of("test"));
  auto whole = tiling_vae(std::nullopt);
  torch::NoGradGuard no_grad;
  const auto z = tiling_golden("z4");
  const double error = relative_error(tiled->decode(z), tiling_golden("dec4"));
  EXPECT_LT(error, 1e-5);
  EXPECT_GT(relative_error(whole->decode(z), tiling_golden("dec4")), 1e-2);
  std::cout << "tiled decode vs diffusers: " << error << "\n";
}

// A frame no larger than a tile is encoded and decoded whole, as diffusers' _encode / _decode
// check before tiling.
TEST(CogVideoXVaeTiling, FramesWithinATileAreNotTiled) {
  auto tiled = tiling_vae(diffusers_vae_tiling(tiling_vae_config()));
  auto whole = tiling_vae(std::nullopt);
  torch::NoGradGuard no_grad;
  const auto clip = tiling_golden("clip17");
  EXPECT_TRUE(torch::equal(tiled->encode_moments(clip), whole->encode_moments(clip)));
  const auto z = tiling_golden("z4");
  EXPECT_TRUE(torch::equal(tiled->decode(z), whole->decode(z)));
}

TEST(CogVideoXVaeTiling, RefusesTilesThatCannotTile) {
  EXPECT_NE(error_message([] {
              Vae(tiling_vae_config(), false, VaeTiling{.overlap_height = 1.0});
            }).find("overlaps must be in [0, 1)"),
            std::string::npos);
  EXPECT_NE(error_message([] {
              Vae(tiling_vae_config(), false, VaeTiling{.tile_height = 4});
            }).find("smaller than one latent"),
            std::string::npos);
  const auto message = error_message([] {
    feature_options_from("cogvideox", {{"vae_tiling", "maybe"}});
  });
  EXPECT_NE(message.find("vae_tiling must be on or off, got 'maybe'"), std::string::npos)
      << message;
  EXPECT_TRUE(feature_options_from("cogvideox", {{"vae_tiling", "on"}}).vae_tiling);
  EXPECT_FALSE(feature_options_from("cogvideox", {{"vae_tiling", "off"}}).vae_tiling);
  EXPECT_FALSE(feature_options_from("cogvideox", {}).vae_tiling);
}

// `vae_tiling=on` through the loader gives the backbone diffusers' enable_tiling() tiles of its
// vae/config.json: a directory whose VAE says sample 96 x 128 tiles a 64 x 96 clip in 48 x 64
// tiles, exactly as a Vae built with diffusers_vae_tiling, and unlike the untiled default.
TEST(CogVideoXVaeTiling, BackboneOptionTilesWithTheConfigsDefaults) {
  const testing::ModelDirectory dir("2b");
  auto vae_json = fixture_json("vae_config.json");
  vae_json["sample_height"] = 96;
  vae_json["sample_width"] = 128;
  write_file_atomically(dir.path() / "vae" / "config.json", vae_json.dump());
  BackboneOptions options;
  options.weights = dir.path().string();
  FeatureOptions features;
  features.text_context = dir.context();
  features.height = 64;
  features.width = 96;
  const auto untiled = load_cogvideox_backbone("cogvideox-2b", options, features);
  features.vae_tiling = true;
  const auto tiled = load_cogvideox_backbone("cogvideox-2b", options, features);
  const auto clip = (tiling_golden("clip17").squeeze(0).permute({1, 0, 2, 3}) + 1) / 2;
  const auto latents = tiled->encode(clip).latents;

  const auto config = vae_config_from_json(vae_json, "config.json");
  Vae reference(config, false, diffusers_vae_tiling(config));
  load_vae_encoder(reference, load_checkpoint(fixture("vae_encoder.safetensors")), "fixture");
  torch::NoGradGuard no_grad;
  const auto expected = reference->encode_mean(clip.permute({1, 0, 2, 3}).unsqueeze(0) * 2 - 1)
                            .permute({0, 2, 1, 3, 4}) *
                        config.scaling_factor;
  EXPECT_LT(relative_error(latents, expected), 1e-6);
  EXPECT_GT(relative_error(untiled->encode(clip).latents, expected), 1e-3);
}

}  // namespace
}  // namespace vidprobe::backbones::cogvideox
