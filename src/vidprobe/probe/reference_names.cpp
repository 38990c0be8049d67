#include "vidprobe/probe/reference_names.h"

#include <regex>
#include <utility>
#include <vector>

#include "vidprobe/core/error.h"
#include "vidprobe/core/rename_rules.h"
#include "vidprobe/nn/head_names.h"

namespace vidprobe::probe {
namespace {

const std::string kLightningPrefix = "probe.";

}  // namespace

std::string authors_probe_module_name(const std::string& key) {
  static const RenameRules rules = {
      {std::regex(R"(^backbone\.input_proj\.0\.)"), "aggregator.input_norm."},
      {std::regex(R"(^backbone\.input_proj\.1\.)"), "aggregator.input_proj."},
      {std::regex(R"(^backbone\.)"), "aggregator."},
  };
  const auto unprefixed =
      key.starts_with(kLightningPrefix) ? key.substr(kLightningPrefix.size()) : key;
  return nn::vggt_head_module_name(rename_by_rules(rules, unprefixed));
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
