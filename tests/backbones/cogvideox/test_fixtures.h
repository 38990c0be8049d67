#pragma once
// Shared access to tests/fixtures/cogvideox (tools/make_cogvideox_*_fixtures.py): the small
// transformer, VAE and scheduler fixtures assembled as a diffusers model directory.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::cogvideox::testing {

inline std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "cogvideox" / name;
}

inline const nlohmann::json& fixture_json(const std::string& name) {
  static std::map<std::string, nlohmann::json> cache;
  auto& json = cache[name];
  if (json.is_null()) json = nlohmann::json::parse(read_file(fixture(name)));
  return json;
}

inline torch::Tensor golden(const std::string& key) {
  static const TensorMap reference = load_safetensors(fixture("backbone_reference.safetensors"));
  return reference.at(key);
}

// A diffusers model directory (transformer/, vae/, scheduler/) built from the small fixtures,
// plus the variant's precomputed text context; removed with the object.
class ModelDirectory {
 public:
  explicit ModelDirectory(const std::string& variant)
      : dir_(std::filesystem::temp_directory_path() /
             ("vidprobe_cogvideox_" + variant + "_" + std::to_string(::getpid()))) {
    namespace fs = std::filesystem;
    fs::remove_all(dir_);
    for (const char* sub : {"transformer", "vae", "scheduler"}) fs::create_directories(dir_ / sub);
    write_file_atomically(dir_ / "transformer" / "config.json",
                          fixture_json("configs.json").at(variant).dump());
    fs::copy_file(fixture(variant + ".safetensors"),
                  dir_ / "transformer" / "diffusion_pytorch_model.safetensors");
    fs::copy_file(fixture("vae_config.json"), dir_ / "vae" / "config.json");
    fs::copy_file(fixture("vae_encoder.safetensors"),
                  dir_ / "vae" / "diffusion_pytorch_model.safetensors");
    write_file_atomically(
        dir_ / "scheduler" / "scheduler_config.json",
        fixture_json("backbone_schedulers.json").at(variant).at("scheduler").dump());
    save_safetensors(context(), {{"context", golden(variant + "/context")}});
  }
  ~ModelDirectory() { std::filesystem::remove_all(dir_); }
  // text_encoder/: the small T5 v1.1 of tools/make_cogvideox_t5_fixtures.py.
  void add_text_encoder() const {
    namespace fs = std::filesystem;
    fs::create_directories(dir_ / "text_encoder");
    fs::copy_file(fixture("t5_config.json"), dir_ / "text_encoder" / "config.json");
    fs::copy_file(fixture("t5_encoder.safetensors"), dir_ / "text_encoder" / "model.safetensors");
  }
  ModelDirectory(const ModelDirectory&) = delete;
  ModelDirectory& operator=(const ModelDirectory&) = delete;
  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path context() const { return dir_ / "context.safetensors"; }

 private:
  std::filesystem::path dir_;
};

// tests/fixtures/aether/backbone_* (tools/make_aether_backbone_fixtures.py).
inline std::filesystem::path aether_fixture(const std::string& name) {
  return std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "aether" / name;
}

inline torch::Tensor aether_golden(const std::string& key) {
  static const TensorMap reference =
      load_safetensors(aether_fixture("backbone_reference.safetensors"));
  return reference.at(key);
}

// The --weights layout of `aether`: a CogVideoX-5B-I2V-like directory (vae/, scheduler/,
// text_encoder/) with AetherV1's transformer/ in it, or (separate_transformer) beside it in
// aether_transformer/ for --backbone-opt transformer=DIR; removed with the object.
class AetherModelDirectory {
 public:
  explicit AetherModelDirectory(bool separate_transformer = false)
      : root_(std::filesystem::temp_directory_path() /
              ("vidprobe_aether_" + std::to_string(::getpid()) +
               (separate_transformer ? "_split" : ""))) {
    namespace fs = std::filesystem;
    fs::remove_all(root_);
    const auto transformer = separate_transformer ? transformer_dir() : dir() / "transformer";
    for (const auto& sub :
         {transformer, dir() / "vae", dir() / "scheduler", dir() / "text_encoder"})
      fs::create_directories(sub);
    fs::copy_file(aether_fixture("backbone_transformer_config.json"), transformer / "config.json");
    fs::copy_file(aether_fixture("backbone_transformer.safetensors"),
                  transformer / "diffusion_pytorch_model.safetensors");
    fs::copy_file(aether_fixture("backbone_vae_config.json"), dir() / "vae" / "config.json");
    fs::copy_file(aether_fixture("backbone_vae_encoder.safetensors"),
                  dir() / "vae" / "diffusion_pytorch_model.safetensors");
    fs::copy_file(aether_fixture("backbone_scheduler_config.json"),
                  dir() / "scheduler" / "scheduler_config.json");
    fs::copy_file(fixture("t5_config.json"), dir() / "text_encoder" / "config.json");
    fs::copy_file(fixture("t5_encoder.safetensors"), dir() / "text_encoder" / "model.safetensors");
  }
  ~AetherModelDirectory() { std::filesystem::remove_all(root_); }
  AetherModelDirectory(const AetherModelDirectory&) = delete;
  AetherModelDirectory& operator=(const AetherModelDirectory&) = delete;
  std::filesystem::path dir() const { return root_ / "model"; }
  std::filesystem::path transformer_dir() const { return root_ / "aether_transformer"; }

 private:
  std::filesystem::path root_;
};

}  // namespace vidprobe::backbones::cogvideox::testing
