// The Hunyuan causal VAE encoder of Open-Sora 2.0 against the official
// opensora/models/hunyuan_vae code (fixtures written by tools/make_opensora_fixtures.py).
#include "vidprobe/backbones/opensora/vae.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::opensora {
namespace {

using test_support::error_message;

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "opensora" / name;
}

torch::Tensor golden(const std::string& name) {
  static const TensorMap reference = load_safetensors(fixture("vae_reference.safetensors"));
  const auto it = reference.find(name);
  if (it == reference.end()) throw Error("vae_reference.safetensors has no '" + name + "'");
  return it->second.to(torch::kFloat32);
}

double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kFloat64), e = expected.to(torch::kFloat64);
  EXPECT_EQ(a.sizes(), e.sizes());
  if (a.sizes() != e.sizes()) return 1e9;
  return (a - e).abs().max().item<double>() / std::max(e.abs().max().item<double>(), 1e-30);
}

VaeConfig small_config() {
  return vae_config_from_json(nlohmann::json::parse(read_file(fixture("vae_config.json"))),
                              "vae_config.json");
}

Vae small_vae() {
  Vae vae(small_config());
  load_vae(vae, load_safetensors(fixture("hunyuan_vae.safetensors")), "hunyuan_vae.safetensors");
  vae->eval();
  return vae;
}

// One tile, the official spatial tiling (3 x 4 overlapping tiles with blends) and a single frame.
TEST(OpenSoraVae, MomentsMatchTheOfficialEncoderWithAndWithoutTiling) {
  auto vae = small_vae();
  torch::NoGradGuard no_grad;
  const auto small = golden("small_video"), large = golden("large_video");
  EXPECT_LT(relative_error(vae->moments(small), golden("small_moments")), 1e-5);
  EXPECT_LT(relative_error(vae->moments(large), golden("large_moments")), 1e-5);
  const auto first = large.slice(2, 0, 1);
  EXPECT_LT(relative_error(vae->moments(first), golden("first_moments")), 1e-5);
  EXPECT_LT(relative_error(vae->encode_mean(large), golden("large_latents")), 1e-5);
  EXPECT_EQ(vae->latent_size(5, 48, 64), (std::vector<int64_t>{2, 6, 8}));
  // Without tiling the large clip encodes differently: the tiling is part of the maths.
  vae->config.use_spatial_tiling = false;
  EXPECT_GT(relative_error(vae->moments(large), golden("large_moments")), 1e-3);
}

// The decoder half of a published file is dropped; a missing encoder key is refused by name.
TEST(OpenSoraVae, LoadsStrictlyAndDropsTheDecoder) {
  auto tensors = load_safetensors(fixture("hunyuan_vae.safetensors"));
  tensors["decoder.conv_in.conv.weight"] = torch::zeros({1});
  tensors["post_quant_conv.weight"] = torch::zeros({1});
  Vae vae(small_config());
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
  Vae vae(small_config());
  EXPECT_EQ(module_shapes(*vae), vae_encoder_layout(small_config()));
}

}  // namespace
}  // namespace vidprobe::backbones::opensora
