#include "vidprobe/backbones/checkpoint_config.h"

#include <algorithm>
#include <cmath>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/io/gzip.h"

namespace vidprobe::backbones {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kRealTolerance = 1e-9;

bool same_value(const json& found, const json& expected, const std::string& what) {
  if (expected.is_boolean()) return json_as<bool>(found, what) == expected.get<bool>();
  if (expected.is_number_integer())
    return json_as<std::int64_t>(found, what) == expected.get<std::int64_t>();
  const double value = json_as<double>(found, what), want = expected.get<double>();
  return std::abs(value - want) <= kRealTolerance * std::max(std::abs(value), std::abs(want));
}

void require_model_type(const json& config, const HubConfigExpectation& expected,
                        const std::string& source, const std::string& backbone) {
  if (expected.model_types.empty() || !config.contains("model_type")) return;
  const auto model_type = json_get<std::string>(config, "model_type", source);
  std::string accepted;
  for (const auto& name : expected.model_types)
    accepted += (accepted.empty() ? "'" : " or '") + name + "'";
  require(std::find(expected.model_types.begin(), expected.model_types.end(), model_type) !=
              expected.model_types.end(),
          source + ": model_type is '" + model_type + "' but " + backbone + " needs " + accepted);
}

}  // namespace

std::optional<fs::path> checkpoint_config_path(const fs::path& weights) {
  const fs::path candidate =
      fs::is_directory(weights) ? weights / "config.json" : weights.parent_path() / "config.json";
  if (fs::is_regular_file(candidate)) return candidate;
  return std::nullopt;
}

void require_config_matches(const json& config, const HubConfigExpectation& expected,
                            const std::string& source, const std::string& backbone) {
  require(config.is_object(), source + ": expected a JSON object");
  require_model_type(config, expected, source, backbone);
  for (const auto& field : expected.fields) {
    const auto found = config.find(field.key);
    if (found == config.end() || found->is_null()) continue;
    require(same_value(*found, field.value, source + ": key '" + field.key + "'"), [&] {
      return source + ": " + field.key + " is " + found->dump() + " but " + backbone + " has " +
             field.value.dump() + " (are the weights and config.json of different sizes?)";
    });
  }
}

void require_checkpoint_config_matches(const std::string& weights,
                                       const HubConfigExpectation& expected,
                                       const std::string& backbone) {
  if (weights.empty()) return;
  const auto path = checkpoint_config_path(weights);
  if (!path) return;
  require_config_matches(read_json_file(*path), expected, path->string(), backbone);
}

}  // namespace vidprobe::backbones
