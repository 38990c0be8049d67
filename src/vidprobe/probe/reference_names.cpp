#include "vidprobe/probe/reference_names.h"

#include <regex>
#include <utility>
#include <vector>

#include "vidprobe/core/error.h"

namespace vidprobe::probe {
namespace {

using Rules = std::vector<std::pair<std::regex, std::string>>;

std::string apply(const Rules& rules, const std::string& key) {
  std::string name = key;
  for (const auto& [pattern, replacement] : rules)
    name = std::regex_replace(name, pattern, replacement);
  return name;
}

const std::string kLightningPrefix = "probe.";

}  // namespace

std::string vggt_head_module_name(const std::string& key) {
  // The reference numbers the DPT levels 1..4 (layer1_rn, refinenet1); the probe's lists from 0.
  static const Rules rules = {
      {std::regex(R"(^camera_head\.empty_pose_tokens$)"), "camera_head.empty_pose"},
      {std::regex(R"(^camera_head\.poseLN_modulation\.1\.)"), "camera_head.modulation."},
      {std::regex(R"(^(\w+_head)\.scratch\.layer1_rn\.)"), "$1.level_convs.0."},
      {std::regex(R"(^(\w+_head)\.scratch\.layer2_rn\.)"), "$1.level_convs.1."},
      {std::regex(R"(^(\w+_head)\.scratch\.layer3_rn\.)"), "$1.level_convs.2."},
      {std::regex(R"(^(\w+_head)\.scratch\.layer4_rn\.)"), "$1.level_convs.3."},
      {std::regex(R"(^(\w+_head)\.scratch\.refinenet1\.)"), "$1.refine.0."},
      {std::regex(R"(^(\w+_head)\.scratch\.refinenet2\.)"), "$1.refine.1."},
      {std::regex(R"(^(\w+_head)\.scratch\.refinenet3\.)"), "$1.refine.2."},
      {std::regex(R"(^(\w+_head)\.scratch\.refinenet4\.)"), "$1.refine.3."},
      {std::regex(R"(\.resConfUnit1\.)"), ".unit1."},
      {std::regex(R"(\.resConfUnit2\.)"), ".unit2."},
      {std::regex(R"(^(\w+_head)\.scratch\.output_conv)"), "$1.output_conv"},
  };
  return apply(rules, key);
}

std::string authors_probe_module_name(const std::string& key) {
  static const Rules rules = {
      {std::regex(R"(^backbone\.input_proj\.0\.)"), "aggregator.input_norm."},
      {std::regex(R"(^backbone\.input_proj\.1\.)"), "aggregator.input_proj."},
      {std::regex(R"(^backbone\.)"), "aggregator."},
  };
  const auto unprefixed =
      key.starts_with(kLightningPrefix) ? key.substr(kLightningPrefix.size()) : key;
  return vggt_head_module_name(apply(rules, unprefixed));
}

bool has_authors_probe_names(const TensorMap& tensors) {
  for (const auto& [key, tensor] : tensors)
    if (key.starts_with("backbone.") || key.starts_with(kLightningPrefix + "backbone."))
      return true;
  return false;
}

TensorMap from_authors_probe_names(TensorMap tensors, const std::string& source) {
  TensorMap out;
  for (auto& [key, tensor] : tensors) {
    const auto name = authors_probe_module_name(key);
    require(
        out.emplace(name, std::move(tensor)).second,
        source + ": key '" + key + "' maps onto '" + name + "', which another key already took");
  }
  return out;
}

}  // namespace vidprobe::probe
