#pragma once
// The transformers config.json published beside a checkpoint (DINOv2, VideoMAE, V-JEPA 2),
// checked against the registered size before any weight is read. The strict layout check
// (checkpoint_mapping.h) catches weights of another size; this catches a directory whose weights
// and config disagree (ViT-S weights with a ViT-B config.json: someone mixed two downloads), and
// sizes that differ only where shapes do not show it (layer_norm_eps, crop_size, model_type).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vidprobe::backbones {

// One hyper-parameter a registered size fixes, under its transformers config.json key. value is
// an integer (compared exactly), a real (compared to 1e-9 relative: configs write 48 / 11 as
// 4.363636363636363) or a bool.
struct HubConfigField {
  std::string key;
  nlohmann::json value;
};

struct HubConfigExpectation {
  std::vector<std::string> model_types;  // accepted values of "model_type"
  std::vector<HubConfigField> fields;
};

// The config.json describing the checkpoint `weights`: <weights>/config.json for a directory,
// the config.json in the same directory for a file; nullopt when there is none.
std::optional<std::filesystem::path> checkpoint_config_path(const std::filesystem::path& weights);

// Throws vidprobe::Error naming the field, the file and both values when `config` (read from
// `source`) disagrees with `expected`. Keys absent from the file are not checked: transformers
// fills them with its own defaults, which a file need not repeat.
void require_config_matches(const nlohmann::json& config, const HubConfigExpectation& expected,
                            const std::string& source, const std::string& backbone);

// Reads the config.json beside `weights` when there is one and checks it as above.
void require_checkpoint_config_matches(const std::string& weights,
                                       const HubConfigExpectation& expected,
                                       const std::string& backbone);

}  // namespace vidprobe::backbones
