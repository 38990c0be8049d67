#include "vidprobe/backbones/wan/vae.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "backbones/wan/test_fixtures.h"
#include "vidprobe/backbones/wan/layers.h"
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

// The channels-last encoder (the default on CUDA) is the same encoder: every buffer follows the
// input's layout, the downsamplers' per-frame convolutions included, and the result is handed
// back contiguous.
void expect_channels_last_encodes_as_diffusers(torch::Device device, double tolerance) {
  auto encoder = small_encoder("vae_diffusers.safetensors");
  encoder.parameters().to(device, torch::kFloat32);
  torch::NoGradGuard no_grad;
  const auto video = video_from_clip(golden("clip")).to(device);
  const auto contiguous = encoder.encode_mean(video);
  encoder.set_channels_last(true);
  const auto channels_last = encoder.encode_mean(video);
  EXPECT_TRUE(channels_last.is_contiguous());
  EXPECT_LT(relative_error(channels_last.cpu(), contiguous.cpu()), tolerance);
  EXPECT_LT(relative_error(channels_last.cpu(), golden("latent_mean")), 1e-4 + tolerance);
}

TEST(WanVae, ChannelsLastEncodesAsTheContiguousLayout) {
  expect_channels_last_encodes_as_diffusers(torch::kCPU, 1e-5);
}

// The CPU's 3D convolutions hand back contiguous tensors whatever their input, so the encoder test
// above leaves channels-last after the first convolution there. The blocks themselves, fed
// channels-last activations as cuDNN's convolutions produce them, write their time-padded inputs
// and caches in that layout and compute the same, over two chunks (the second reads the slots):
// residual, temporal downsampler and attention.
TEST(WanVae, BlocksTakeChannelsLastActivations) {
  const auto encoder = small_encoder("vae_diffusers.safetensors");
  const auto& params = encoder.parameters();
  const auto config = testing::small_vae_config();
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  const auto dim = config.base_dim, top = config.base_dim * config.dim_mult.back();
  const auto as_channels_last = [](const torch::Tensor& x) {
    return x.contiguous(at::MemoryFormat::ChannelsLast3d);
  };
  CausalCache plain, channels_last;
  for (const int64_t frames : {1, 4}) {
    plain.rewind();
    channels_last.rewind();
    const auto x = torch::randn({1, dim, frames, 8, 12});
    const auto expected = vae_residual(params, "encoder.down_blocks.0", x, plain);
    const auto y =
        vae_residual(params, "encoder.down_blocks.0", as_channels_last(x), channels_last);
    EXPECT_LT(relative_error(y, expected), 1e-6) << frames << " frames";
  }
  // conv1's slot holds frames of the channels-last input (conv2's reads the CPU's contiguous
  // conv1 output).
  EXPECT_TRUE(channels_last.slots.at(0).is_contiguous(at::MemoryFormat::ChannelsLast3d));
  EXPECT_FALSE(plain.slots.at(0).is_contiguous(at::MemoryFormat::ChannelsLast3d));
  // The temporal downsampler: its padded per-frame copy and its time convolution's cache.
  const std::string down = "encoder.down_blocks.5";  // stage 1 halves time
  ASSERT_TRUE(params.contains(down + ".time_conv.weight"));
  const auto channels = params[down + ".resample.1.weight"].size(1);
  CausalCache plain_down, channels_last_down;
  for (const int64_t frames : {1, 4}) {
    plain_down.rewind();
    channels_last_down.rewind();
    const auto x = torch::randn({1, channels, frames, 8, 12});
    const auto expected = vae_downsample(params, down, x, /*temporal=*/true, plain_down);
    const auto y = vae_downsample(params, down, as_channels_last(x), true, channels_last_down);
    EXPECT_EQ(y.sizes(), expected.sizes());
    // The first chunk is the per-frame convolution's output (the CPU's 3D time convolution of
    // the next one returns a contiguous tensor).
    if (frames == 1) {
      EXPECT_TRUE(y.is_contiguous(at::MemoryFormat::ChannelsLast3d));
    }
    EXPECT_LT(relative_error(y, expected), 1e-6) << frames << " frames";
  }
  const auto x = torch::randn({1, top, 2, 4, 6});
  EXPECT_LT(
      relative_error(vae_attention(params, "encoder.mid_block.attentions.0", as_channels_last(x)),
                     vae_attention(params, "encoder.mid_block.attentions.0", x)),
      1e-6);
}

TEST(WanVaeCuda, ChannelsLastEncodesAsTheContiguousLayout) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  // cuDNN's TF32 convolutions pick other algorithms per layout.
  expect_channels_last_encodes_as_diffusers(torch::kCUDA, 3e-3);
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
