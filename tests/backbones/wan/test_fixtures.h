#pragma once
// Shared access to tests/fixtures/wan (written by tools/make_wan_fixtures.py from diffusers and
// transformers reference implementations).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "tensor_test_support.h"
#include "vidprobe/backbones/wan/vae.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::wan::testing {

inline std::filesystem::path fixture_dir() {
  return std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "wan";
}
inline std::filesystem::path fixture(const std::string& name) {
  return fixture_dir() / name;
}

inline const nlohmann::json& fixture_configs() {
  static const nlohmann::json configs = nlohmann::json::parse(read_file(fixture("configs.json")));
  return configs;
}

// The fixture's VAE config with the published latent normalisation statistics.
inline VaeConfig small_vae_config() {
  auto json = fixture_configs()["vae"];
  json["latents_mean"] = fixture_configs()["latents_mean"];
  json["latents_std"] = fixture_configs()["latents_std"];
  return vae_config_from_json(json, "configs.json");
}

inline const TensorMap& reference() {
  static const TensorMap tensors = load_safetensors(fixture("reference.safetensors"));
  return tensors;
}
inline torch::Tensor golden(const std::string& name) {
  return reference().at(name);
}

// The fixture's transformer and VAE as a diffusers-layout model directory; vae_config_edit may
// change the VAE's config.json (e.g. a wrong latents_std).
inline void write_model_directory(
    const std::filesystem::path& dir,
    const std::function<void(nlohmann::json&)>& vae_config_edit = {}) {
  const auto& configs = fixture_configs();
  std::filesystem::create_directories(dir / "transformer");
  std::filesystem::create_directories(dir / "vae");
  std::filesystem::copy_file(fixture("dit_diffusers.safetensors"),
                             dir / "transformer" / "diffusion_pytorch_model.safetensors");
  std::ofstream(dir / "transformer" / "config.json") << configs["dit"].dump();
  std::filesystem::copy_file(fixture("vae_diffusers.safetensors"),
                             dir / "vae" / "diffusion_pytorch_model.safetensors");
  auto vae = configs["vae"];
  vae["latents_mean"] = configs["latents_mean"];
  vae["latents_std"] = configs["latents_std"];
  if (vae_config_edit) vae_config_edit(vae);
  std::ofstream(dir / "vae" / "config.json") << vae.dump();
}

using test_support::relative_error;  // the parity measure of the brief (1e-4 in fp32)

}  // namespace vidprobe::backbones::wan::testing
