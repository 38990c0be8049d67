#pragma once
// The Open-Sora 2.0 fixtures (tools/make_opensora_fixtures.py, from the official code): small
// configs, weights and the reference tensors the MMDiT, VAE and text-encoder tests compare with.
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
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

// A weights directory as published (Open_Sora_v2.safetensors; hunyuan_vae.safetensors copied from
// the VAE fixture `vae_file`, encoder only or with the decoder; config.json naming the small
// sizes; the empty prompt's vectors), made once per VAE fixture.
inline std::filesystem::path published_weights_dir(const std::string& vae_file) {
  namespace fs = std::filesystem;
  static std::map<std::string, fs::path> made;
  if (const auto found = made.find(vae_file); found != made.end()) return found->second;
  const auto dir =
      test_support::fresh_temp_dir("opensora_weights_" + fs::path(vae_file).stem().string());
  fs::copy_file(fixture("mmdit.safetensors"), dir / "Open_Sora_v2.safetensors");
  fs::copy_file(fixture(vae_file), dir / "hunyuan_vae.safetensors");
  const nlohmann::json config{{"model", fixture_json("config.json")},
                              {"ae", fixture_json("vae_config.json")}};
  std::ofstream(dir / "config.json") << config.dump();
  const auto reference = load_safetensors(fixture("reference.safetensors"));
  save_safetensors(dir / "empty_prompt.safetensors",
                   {{"t5", reference.at("txt")[0].contiguous()},
                    {"clip", reference.at("y_vec")[0].contiguous()}});
  return made.emplace(vae_file, dir).first->second;
}

}  // namespace vidprobe::backbones::opensora::fixtures
