#include "vidprobe/backbones/wan/vae.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "backbones/wan/test_fixtures.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {
namespace {

using testing::fixture;
using testing::golden;
using testing::relative_error;

VaeEncoder small_encoder(const std::string& file) {
  VaeEncoder encoder(testing::small_vae_config(), torch::kCPU);
  encoder.load(load_checkpoint(fixture(file)), file);
  return encoder;
}

torch::Tensor video_from_clip(
    const torch::Tensor& clip) {  // (T, 3, H, W) [0, 1] -> (1, 3, T, H, W) [-1, 1]
  return (clip * 2 - 1).permute({1, 0, 2, 3}).unsqueeze(0);
}

// The chunked, cached encoding (first frame, then 4 at a time) reproduces diffusers'
// AutoencoderKLWan.encode(...).latent_dist.mean, and the published normalisation.
TEST(WanVae, MatchesDiffusersEncoder) {
  const auto encoder = small_encoder("vae_diffusers.safetensors");
  torch::NoGradGuard no_grad;
  const auto mean = encoder.encode_mean(video_from_clip(golden("clip")));
  EXPECT_LT(relative_error(mean, golden("latent_mean")), 1e-4);
  EXPECT_LT(relative_error(encoder.normalize(mean), golden("latents")), 1e-4);
}

TEST(WanVae, OriginalLayoutGivesTheSameEncoder) {
  const auto diffusers = small_encoder("vae_diffusers.safetensors");
  const auto original = small_encoder("vae_original.safetensors");
  for (const auto& name : diffusers.parameters().names())
    EXPECT_TRUE(torch::equal(diffusers.parameters()[name], original.parameters()[name])) << name;
  EXPECT_EQ(vae_key_from_original("encoder.downsamples.4.residual.2.weight"),
            "encoder.down_blocks.4.conv1.weight");
  EXPECT_EQ(vae_key_from_original("encoder.downsamples.3.shortcut.bias"),
            "encoder.down_blocks.3.conv_shortcut.bias");
  EXPECT_EQ(vae_key_from_original("encoder.downsamples.2.time_conv.weight"),
            "encoder.down_blocks.2.time_conv.weight");
  EXPECT_EQ(vae_key_from_original("encoder.middle.2.residual.3.gamma"),
            "encoder.mid_block.resnets.1.norm2.gamma");
  EXPECT_EQ(vae_key_from_original("encoder.middle.1.to_qkv.weight"),
            "encoder.mid_block.attentions.0.to_qkv.weight");
  EXPECT_EQ(vae_key_from_original("encoder.head.2.bias"), "encoder.conv_out.bias");
  EXPECT_EQ(vae_key_from_original("conv1.weight"), "quant_conv.weight");
}

// Causality: the latents of the first 5 frames do not depend on the frames after them, and match
// diffusers' encoding of the 5-frame clip.
TEST(WanVae, IsCausalInTime) {
  const auto encoder = small_encoder("vae_diffusers.safetensors");
  torch::NoGradGuard no_grad;
  const auto video = video_from_clip(golden("clip"));
  const auto first5 = encoder.encode(video.slice(2, 0, 5));
  EXPECT_LT(relative_error(first5, golden("latents_first5")), 1e-4);
  EXPECT_LT(relative_error(first5, golden("latents").slice(2, 0, 2)), 1e-4);
  auto changed = video.clone();
  changed.slice(2, 5).uniform_(-1, 1);
  const auto latents = encoder.encode(changed);
  EXPECT_LT(relative_error(latents.slice(2, 0, 2), golden("latents").slice(2, 0, 2)), 1e-5);
  EXPECT_GT(relative_error(latents.slice(2, 2), golden("latents").slice(2, 2)), 1e-3);
}

TEST(WanVae, RejectsClipsItCannotEncode) {
  const auto encoder = small_encoder("vae_diffusers.safetensors");
  torch::NoGradGuard no_grad;
  try {
    encoder.encode(torch::zeros({1, 3, 8, 32, 32}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4k + 1 frames, got 8"), std::string::npos) << e.what();
  }
  EXPECT_THROW(encoder.encode(torch::zeros({1, 3, 5, 36, 32})), Error);
  EXPECT_THROW(encoder.encode(torch::zeros({1, 4, 5, 32, 32})), Error);
}

TEST(WanVae, DecoderKeysAreIgnoredButEncoderKeysAreRequired) {
  auto checkpoint = load_checkpoint(fixture("vae_diffusers.safetensors"));
  EXPECT_TRUE(checkpoint.count("decoder.conv_in.weight"));
  checkpoint.erase("encoder.mid_block.attentions.0.proj.bias");
  VaeEncoder encoder(testing::small_vae_config(), torch::kCPU);
  try {
    encoder.load(std::move(checkpoint), "vae.safetensors");
    FAIL();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("encoder.mid_block.attentions.0.proj.bias"), std::string::npos)
        << message;
    EXPECT_EQ(message.find("decoder."), std::string::npos) << message;
  }
}

TEST(WanVae, RealSizeMatchesTheReferenceParameterCount) {
  const auto counts = nlohmann::json::parse(read_file(fixture("param_counts.json")));
  const VaeEncoder encoder(VaeConfig{}, torch::Device(torch::kMeta));
  EXPECT_EQ(encoder.parameters().count(), counts["vae/encoder+quant_conv"].get<int64_t>());
}

}  // namespace
}  // namespace vidprobe::backbones::wan
