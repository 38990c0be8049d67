// The WAN2.1 VAE decoder against diffusers' AutoencoderKLWan.decode (fixtures from
// tools/make_wan_decoder_fixtures.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "backbones/wan/test_fixtures.h"
#include "vidprobe/backbones/wan/vae.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {
namespace {

using testing::fixture;
using testing::relative_error;

const TensorMap& decoder_golden() {
  static const TensorMap tensors = load_safetensors(fixture("decoder.safetensors"));
  return tensors;
}
torch::Tensor decoder_fixture(const std::string& name) {
  return decoder_golden().at(name);
}

VaeDecoder small_decoder() {
  VaeDecoder decoder(testing::small_vae_config(), torch::kCPU);
  decoder.load(load_checkpoint(fixture("vae_diffusers.safetensors")), "vae_diffusers.safetensors");
  return decoder;
}

// The end of WanPipeline's generation: the guided 4-step sample of
// tools/make_wan_sampler_fixtures.py (final latents, as wan::sample_latents matches them) decoded
// as the pipeline decodes it, so sampling then decoding (`vidprobe check --sample-steps`) is the
// pipeline's video.
TEST(WanVaeDecoder, DecodesWanPipelinesSampleAsThePipeline) {
  const auto decoder = small_decoder();
  torch::NoGradGuard no_grad;
  const auto sampler = load_safetensors(fixture("sampler.safetensors"));
  const auto video = decoder.decode_normalized(sampler.at("pipeline/cfg5/final"));
  EXPECT_LT(relative_error(video, sampler.at("pipeline/cfg5/decoded")), 1e-5);
}

// Latent frame by latent frame with the feature cache, the time upsamplers' first-chunk pass
// through and interleaving, and WanPipeline's de-normalisation: diffusers' numbers before the
// clamp.
TEST(WanVaeDecoder, MatchesDiffusersDecode) {
  const auto decoder = small_decoder();
  torch::NoGradGuard no_grad;
  const auto latents = decoder_fixture("latents");
  const auto raw = decoder.decode_unclamped(denormalize_latents(decoder.config(), latents));
  EXPECT_EQ(raw.sizes(), (std::vector<int64_t>{1, 3, 9, 32, 48}));
  EXPECT_LT(relative_error(raw, decoder_fixture("video_raw")), 1e-5);
  EXPECT_LT(
      relative_error(decoder.decode_normalized(latents), decoder_fixture("video_raw").clamp(-1, 1)),
      1e-5);
  EXPECT_LT(relative_error(decoder.decode_normalized(decoder_fixture("random_latents")),
                           decoder_fixture("random_video")),
            1e-5);
}

TEST(WanVaeDecoder, FirstLatentFrameDecodesToOneFrame) {
  const auto decoder = small_decoder();
  torch::NoGradGuard no_grad;
  const auto video = decoder.decode_normalized(decoder_fixture("single_latents"));
  EXPECT_EQ(video.sizes(), (std::vector<int64_t>{1, 3, 1, 32, 48}));
  EXPECT_LT(relative_error(video, decoder_fixture("single_video")), 1e-5);
  // Causal: the first frame of the 3-latent decode is the 1-latent decode.
  const auto full = decoder.decode_normalized(decoder_fixture("latents"));
  EXPECT_LT(relative_error(full.slice(2, 0, 1), video), 1e-5);
}

// A wrong scaling (the statistics off by 2x) gives a visibly different video: the check command's
// PSNR rests on this.
TEST(WanVaeDecoder, DenormalizationUsesTheConfigStatistics) {
  const auto decoder = small_decoder();
  auto wrong_config = decoder.config();
  for (auto& s : wrong_config.latents_std) s *= 2;
  VaeDecoder wrong(wrong_config, torch::kCPU);
  wrong.load(load_checkpoint(fixture("vae_diffusers.safetensors")), "vae_diffusers.safetensors");
  torch::NoGradGuard no_grad;
  const auto latents = decoder_fixture("latents");
  EXPECT_GT(
      relative_error(wrong.decode_normalized(latents), decoder_fixture("video_raw").clamp(-1, 1)),
      1e-2);
  const auto z = denormalize_latents(decoder.config(), latents);
  EXPECT_LT(relative_error(normalize_latents(decoder.config(), z), latents), 1e-6);
}

TEST(WanVaeDecoder, LoadingBothHalvesConsumesEveryKey) {
  VaeEncoder encoder(testing::small_vae_config(), torch::kCPU);
  VaeDecoder decoder(testing::small_vae_config(), torch::kCPU);
  load_vae(load_checkpoint(fixture("vae_diffusers.safetensors")), "vae", encoder, decoder);
  const auto checkpoint = load_checkpoint(fixture("vae_diffusers.safetensors"));
  EXPECT_EQ(encoder.parameters().names().size() + decoder.parameters().names().size(),
            checkpoint.size());
  // An extra decoder tensor is an error naming it; a missing one too.
  auto extra = load_checkpoint(fixture("vae_diffusers.safetensors"));
  extra.emplace("decoder.up_blocks.9.resnets.0.conv1.weight", torch::zeros({1}));
  extra.erase("decoder.norm_out.gamma");
  try {
    load_vae(std::move(extra), "vae.safetensors", encoder, decoder);
    FAIL();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("decoder.up_blocks.9.resnets.0.conv1.weight"), std::string::npos)
        << message;
    EXPECT_NE(message.find("decoder.norm_out.gamma"), std::string::npos) << message;
  }
}

TEST(WanVaeDecoder, RefusesTheOriginalDecoderLayoutAndBadLatents) {
  VaeDecoder decoder(testing::small_vae_config(), torch::kCPU);
  TensorMap original;
  original.emplace("decoder.upsamples.0.residual.0.gamma", torch::ones({16, 1, 1, 1}));
  EXPECT_THROW(decoder.load(std::move(original), "Wan2.1_VAE.safetensors"), Error);
  torch::NoGradGuard no_grad;
  EXPECT_THROW(decoder.decode(torch::zeros({1, 8, 2, 4, 4})), Error);
}

TEST(WanVaeDecoder, RealSizeMatchesTheReferenceParameterCount) {
  const VaeDecoder decoder(VaeConfig{}, torch::Device(torch::kMeta));
  EXPECT_EQ(decoder.parameters().count(), decoder_fixture("real_decoder_params").item<int64_t>());
}

}  // namespace
}  // namespace vidprobe::backbones::wan
