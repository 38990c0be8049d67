#pragma once
// Checked access to JSON fields for the dataset readers: every failure names the file, the
// record and the key, so a malformed annotation is found without a debugger.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "vidprobe/core/error.h"

namespace vidprobe {

// context describes where obj lives, e.g. "co3d/apple/frame_annotations.jgz[12]".
inline const nlohmann::json& json_field(const nlohmann::json& obj, std::string_view key,
                                        const std::string& context) {
  require(obj.is_object(), context + ": expected a JSON object");
  const auto it = obj.find(key);
  require(it != obj.end() && !it->is_null(), context + ": missing key '" + std::string(key) + "'");
  return *it;
}

template <typename T>
T json_get(const nlohmann::json& obj, std::string_view key, const std::string& context) {
  const auto& value = json_field(obj, key, context);
  try {
    return value.get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(context + ": key '" + std::string(key) + "' has the wrong type (" +
                value.type_name() + "): " + value.dump());
  }
}

template <typename T>
T json_get_or(const nlohmann::json& obj, std::string_view key, T fallback,
              const std::string& context) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  return json_get<T>(obj, key, context);
}

}  // namespace vidprobe
