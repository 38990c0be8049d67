// The Hunyuan causal VAE decoder of Open-Sora 2.0 against the official
// AutoencoderKLCausal3D.decode (fixtures written by tools/make_opensora_decoder_fixtures.py).
#include "vidprobe/backbones/opensora/vae_decoder.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "backbones/opensora/test_fixtures.h"
#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::opensora {
namespace {
using fixtures::fixture;
using fixtures::small_vae_config;

torch::Tensor decoder_golden(const std::string& name) {
  return fixtures::reference_tensor("decoder_reference.safetensors", name).to(torch::kFloat32);
}

VaeDecoding small_vae_decoding() {
  VaeDecoding decoding(small_vae_config());
  load_vae_decoder(decoding, load_safetensors(fixture("decoder_vae.safetensors")),
                   "decoder_vae.safetensors");
  decoding->eval();
  return decoding;
}

// One tile with time upsampling (2 latent frames -> 5), the first frame alone, and latents
// larger than a tile through the official spatial_tiled_decode.
TEST(OpenSoraVaeDecoder, MatchesTheOfficialDecodeWithAndWithoutTiling) {
  auto decoding = small_vae_decoding();
  torch::NoGradGuard no_grad;
  for (const std::string name : {"video", "first", "tiled"}) {
    SCOPED_TRACE(name);
    const auto decoded = decoding->decode(decoder_golden(name + "_latents"));
    EXPECT_LT(test_support::relative_error(decoded, decoder_golden(name + "_decoded")), 1e-5);
  }
  EXPECT_EQ(decoder_golden("tiled_decoded").sizes(), (c10::IntArrayRef{1, 3, 5, 40, 48}));
  // Untiled, the large latents decode differently: the tiling is part of the maths.
  decoding->config.use_spatial_tiling = false;
  const auto untiled = decoding->decode(decoder_golden("tiled_latents"));
  EXPECT_GT(test_support::relative_error(untiled, decoder_golden("tiled_decoded")), 1e-3);
}

// The whole published file: the encoder half is skipped, every decoder key must be there with
// its shape, and nothing else under decoder.*.
TEST(OpenSoraVaeDecoder, LoadsStrictlyNamingTheKey) {
  const auto tensors = load_safetensors(fixture("decoder_vae.safetensors"));
  EXPECT_EQ(
      vae_decoder_layout(small_vae_config()).size() + vae_encoder_layout(small_vae_config()).size(),
      tensors.size());
  Vae encoder(small_vae_config());
  load_vae(encoder, tensors, "decoder_vae.safetensors");  // its encoder half, still strict

  auto missing = tensors;
  missing.erase("decoder.up_blocks.1.upsamplers.0.conv.conv.weight");
  VaeDecoding decoding(small_vae_config());
  auto message = test_support::error_message(
      [&] { load_vae_decoder(decoding, missing, "missing.safetensors"); });
  EXPECT_NE(message.find("decoder.up_blocks.1.upsamplers.0.conv.conv.weight"), std::string::npos)
      << message;
  EXPECT_NE(message.find("missing.safetensors"), std::string::npos) << message;

  auto extra = tensors;
  extra["decoder.up_blocks.3.upsamplers.0.conv.conv.weight"] = torch::zeros({8, 8, 3, 3, 3});
  message =
      test_support::error_message([&] { load_vae_decoder(decoding, extra, "extra.safetensors"); });
  EXPECT_NE(message.find("decoder.up_blocks.3.upsamplers.0.conv.conv.weight"), std::string::npos)
      << message;

  auto reshaped = tensors;
  reshaped["post_quant_conv.weight"] = torch::zeros({4, 4, 3, 3, 3});
  message = test_support::error_message(
      [&] { load_vae_decoder(decoding, reshaped, "reshaped.safetensors"); });
  EXPECT_NE(message.find("post_quant_conv.weight"), std::string::npos) << message;
}

}  // namespace
}  // namespace vidprobe::backbones::opensora
