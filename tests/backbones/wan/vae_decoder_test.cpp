// The WAN2.1 VAE decoder against diffusers' AutoencoderKLWan.decode (fixtures from
// tools/make_wan_decoder_fixtures.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "backbones/wan/test_fixtures.h"
#include "vidprobe/backbones/wan/checkpoint.h"
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
  // Clamped, the references' largest magnitude is 1, so these two measure the absolute difference
  // of float32 convolutions whose summation order follows the CPU's vector unit (oneDNN's
  // dispatch): 1.14e-5 on one development machine (2026-12-04), under 1e-5 on earlier ones. The
  // bound is the brief's float32 parity measure, 1e-4; the wrong-statistics control below misses
  // by far more.
  EXPECT_LT(
      relative_error(decoder.decode_normalized(latents), decoder_fixture("video_raw").clamp(-1, 1)),
      1e-4);
  EXPECT_LT(relative_error(decoder.decode_normalized(decoder_fixture("random_latents")),
                           decoder_fixture("random_video")),
            1e-4);
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

// The original release (Wan2.1_VAE.pth) keeps the decoder's up blocks as one flat
// decoder.upsamples.N list; the fixture holds the same tensors under those names, checked by
// diffusers' own convert_wan_vae_to_diffusers (tools/make_wan_decoder_fixtures.py). Loaded with
// the original encoder file as one checkpoint, every key is consumed and the decoder decodes as
// diffusers does.
TEST(WanVaeDecoder, OriginalLayoutGivesTheSameDecoder) {
  auto original = load_checkpoint(fixture("vae_original.safetensors"));
  for (auto& [name, tensor] : load_checkpoint(fixture("vae_decoder_original.safetensors")))
    original.emplace(name, tensor);
  ASSERT_TRUE(original.count("decoder.upsamples.4.shortcut.weight"));
  VaeEncoder encoder(testing::small_vae_config(), torch::kCPU);
  VaeDecoder decoder(testing::small_vae_config(), torch::kCPU);
  load_vae(std::move(original), "Wan2.1_VAE.safetensors", encoder, decoder);
  const auto reference = small_decoder();
  for (const auto& name : reference.parameters().names())
    EXPECT_TRUE(torch::equal(decoder.parameters()[name], reference.parameters()[name])) << name;
  torch::NoGradGuard no_grad;
  EXPECT_LT(relative_error(decoder.decode_normalized(decoder_fixture("random_latents")),
                           decoder_fixture("random_video")),
            1e-5);
}

TEST(WanVaeDecoder, OriginalUpsampleIndicesMapToUpBlocks) {
  // Per up block: resnets 0..2 then the upsampler (num_res_blocks 2); the last block has none.
  EXPECT_EQ(vae_key_from_original("decoder.upsamples.0.residual.0.gamma"),
            "decoder.up_blocks.0.resnets.0.norm1.gamma");
  EXPECT_EQ(vae_key_from_original("decoder.upsamples.3.resample.1.weight"),
            "decoder.up_blocks.0.upsamplers.0.resample.1.weight");
  EXPECT_EQ(vae_key_from_original("decoder.upsamples.7.time_conv.bias"),
            "decoder.up_blocks.1.upsamplers.0.time_conv.bias");
  EXPECT_EQ(vae_key_from_original("decoder.upsamples.4.shortcut.weight"),
            "decoder.up_blocks.1.resnets.0.conv_shortcut.weight");
  EXPECT_EQ(vae_key_from_original("decoder.upsamples.14.residual.6.bias"),
            "decoder.up_blocks.3.resnets.2.conv2.bias");
  EXPECT_EQ(vae_key_from_original("decoder.upsamples.5.residual.3.gamma", 3),
            "decoder.up_blocks.1.resnets.0.norm2.gamma");
  EXPECT_EQ(vae_key_from_original("decoder.middle.1.to_qkv.weight"),
            "decoder.mid_block.attentions.0.to_qkv.weight");
  EXPECT_EQ(vae_key_from_original("decoder.head.2.weight"), "decoder.conv_out.weight");
  EXPECT_EQ(vae_key_from_original("conv2.bias"), "post_quant_conv.bias");
}

TEST(WanVaeDecoder, RefusesBadLatents) {
  VaeDecoder decoder(testing::small_vae_config(), torch::kCPU);
  torch::NoGradGuard no_grad;
  EXPECT_THROW(decoder.decode(torch::zeros({1, 8, 2, 4, 4})), Error);
}

TEST(WanVaeDecoder, RealSizeMatchesTheReferenceParameterCount) {
  const VaeDecoder decoder(VaeConfig{}, torch::Device(torch::kMeta));
  EXPECT_EQ(decoder.parameters().count(), decoder_fixture("real_decoder_params").item<int64_t>());
}

}  // namespace
}  // namespace vidprobe::backbones::wan
