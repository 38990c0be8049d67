#pragma once
// The Open-Sora 2.0 fixtures (tools/make_opensora_fixtures.py, from the official code): small
// configs, weights and the reference tensors the MMDiT, VAE and text-encoder tests compare with.
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "test_support.h"
#include "vidprobe/backbones/opensora/mmdit.h"
#include "vidprobe/backbones/opensora/vae.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::opensora::fixtures {

inline std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "opensora" / name;
}

inline nlohmann::json fixture_json(const std::string& name) {
  return nlohmann::json::parse(read_file(fixture(name)));
}

// One reference tensor of a fixture file, loaded once; a missing name fails naming the file.
inline torch::Tensor reference_tensor(const std::string& file, const std::string& name) {
  static std::map<std::string, TensorMap> loaded;
  auto found = loaded.find(file);
  if (found == loaded.end()) found = loaded.emplace(file, load_safetensors(fixture(file))).first;
  const auto it = found->second.find(name);
  if (it == found->second.end()) throw Error(file + " has no '" + name + "'");
  return it->second;
}

// The MMDiT's inputs and per-block outputs.
inline torch::Tensor mmdit_golden(const std::string& name) {
  return reference_tensor("reference.safetensors", name);
}

// The VAE's moments and decodings, compared in float32.
inline torch::Tensor vae_golden(const std::string& name) {
  return reference_tensor("vae_reference.safetensors", name).to(torch::kFloat32);
}

inline MmditConfig small_mmdit_config() {
  return mmdit_config_from_json(fixture_json("config.json"), "config.json");
}

inline VaeConfig small_vae_config() {
  return vae_config_from_json(fixture_json("vae_config.json"), "vae_config.json");
}

}  // namespace vidprobe::backbones::opensora::fixtures
