// The Hunyuan causal VAE encoder of Open-Sora 2.0 against the official
// opensora/models/hunyuan_vae code (fixtures written by tools/make_opensora_fixtures.py).
#include "vidprobe/backbones/opensora/vae.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "backbones/opensora/test_fixtures.h"
#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::opensora {
namespace {
using fixtures::fixture;
using fixtures::small_vae_config;
using fixtures::vae_golden;

using test_support::error_message;

using test_support::relative_error;

Vae small_vae() {
  Vae vae(small_vae_config());
  load_vae(vae, load_safetensors(fixture("hunyuan_vae.safetensors")), "hunyuan_vae.safetensors");
  vae->eval();
  return vae;
}

// One tile, the official spatial tiling (3 x 4 overlapping tiles with blends) and a single frame.
TEST(OpenSoraVae, MomentsMatchTheOfficialEncoderWithAndWithoutTiling) {
  auto vae = small_vae();
  torch::NoGradGuard no_grad;
  const auto small = vae_golden("small_video"), large = vae_golden("large_video");
  EXPECT_LT(relative_error(vae->moments(small), vae_golden("small_moments")), 1e-5);
  EXPECT_LT(relative_error(vae->moments(large), vae_golden("large_moments")), 1e-5);
  const auto first = large.slice(2, 0, 1);
  EXPECT_LT(relative_error(vae->moments(first), vae_golden("first_moments")), 1e-5);
  EXPECT_LT(relative_error(vae->encode_mean(large), vae_golden("large_latents")), 1e-5);
  EXPECT_EQ(vae->latent_size(5, 48, 64), (std::vector<int64_t>{2, 6, 8}));
  // Without tiling the large clip encodes differently: the tiling is part of the maths.
  vae->config.use_spatial_tiling = false;
  EXPECT_GT(relative_error(vae->moments(large), vae_golden("large_moments")), 1e-3);
}

// The decoder half of a published file is dropped; a missing encoder key is refused by name.
TEST(OpenSoraVae, LoadsStrictlyAndDropsTheDecoder) {
  auto tensors = load_safetensors(fixture("hunyuan_vae.safetensors"));
  tensors["decoder.conv_in.conv.weight"] = torch::zeros({1});
  tensors["post_quant_conv.weight"] = torch::zeros({1});
  Vae vae(small_vae_config());
  load_vae(vae, tensors, "with_decoder.safetensors");
  tensors.erase("encoder.mid_block.attentions.0.to_k.bias");
  const auto message = error_message([&] { load_vae(vae, tensors, "broken.safetensors"); });
  EXPECT_NE(message.find("encoder.mid_block.attentions.0.to_k.bias"), std::string::npos) << message;
}

// The real encoder layout has the official constructor's key and parameter counts, and the
// module's own parameters are exactly the layout.
TEST(OpenSoraVae, RealLayoutMatchesTheOfficialConstructor) {
  const auto counts =
      nlohmann::json::parse(read_file(fixture("param_counts.json"))).at("hunyuan-vae");
  const auto layout = vae_encoder_layout(VaeConfig{});
  EXPECT_EQ(element_count(layout), counts.at("encoder_parameters").get<int64_t>());
  EXPECT_EQ(static_cast<int64_t>(layout.size()), counts.at("encoder_keys").get<int64_t>());
  Vae vae(small_vae_config());
  EXPECT_EQ(module_shapes(*vae), vae_encoder_layout(small_vae_config()));
}

}  // namespace
}  // namespace vidprobe::backbones::opensora
