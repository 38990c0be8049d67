#pragma once
// The one way vidprobe reads fields out of JSON (dataset annotations, model configs, probe
// configs): strict conversion, where a value that would lose information (1.5 or 3e9 into an int,
// -1 into an unsigned, 1 into a bool) is an error, and every error names the file or record, the
// key and the value. An integral float (960.0, as some writers emit image sizes) is an integer.
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "vidprobe/core/error.h"

namespace vidprobe {

// Nesting deeper than this is refused before parsing: every JSON vidprobe reads is a few levels
// deep, and hostile nesting (a file of 100,000 '[') would overflow the stack in the recursive
// copies and comparisons of nlohmann::json.
inline constexpr int kMaxJsonDepth = 256;

// The one JSON parser: text -> json. A syntax error or nesting deeper than kMaxJsonDepth throws
// vidprobe::Error naming `source` (a file name) and the position. io/gzip.h's read_json_file reads
// a (possibly gzipped) file through it.
nlohmann::json parse_json(std::string_view text, const std::string& source);

template <typename T>
struct is_json_vector : std::false_type {};
template <typename E>
struct is_json_vector<std::vector<E>> : std::true_type {};

// Why `value` cannot become a T exactly ("expected an integer", ...); empty when it can. A
// std::vector's elements are checked as its element type, recursively (nlohmann's own conversion
// would wrap 4294967312 into an int), and the first bad one is named by its index.
template <typename T>
std::string json_mismatch(const nlohmann::json& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value.is_boolean() ? "" : "expected true or false";
  } else if constexpr (std::is_integral_v<T>) {
    if (value.is_number_float()) {
      const double d = value.get<double>();
      if (d != std::trunc(d)) return "expected an integer";
      return d >= static_cast<double>(std::numeric_limits<T>::min()) &&
                     d <= static_cast<double>(std::numeric_limits<T>::max())
                 ? ""
                 : "the integer is out of range";
    }
    if (!value.is_number_integer()) return "expected an integer";
    if constexpr (std::is_unsigned_v<T>) {
      if (!value.is_number_unsigned()) return "expected a non-negative integer";
      return value.get<std::uint64_t>() <= std::numeric_limits<T>::max()
                 ? ""
                 : "the integer is too large";
    } else {
      const bool fits = value.is_number_unsigned()
                            ? value.get<std::uint64_t>() <=
                                  static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                            : value.get<std::int64_t>() >= std::numeric_limits<T>::min() &&
                                  value.get<std::int64_t>() <= std::numeric_limits<T>::max();
      return fits ? "" : "the integer is out of range";
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    return value.is_number() ? "" : "expected a number";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return value.is_string() ? "" : "expected a string";
  } else if constexpr (is_json_vector<T>::value) {
    if (!value.is_array()) return "expected an array";
    for (std::size_t i = 0; i < value.size(); ++i) {
      const auto why = json_mismatch<typename T::value_type>(value[i]);
      if (!why.empty()) return "element [" + std::to_string(i) + "]: " + why;
    }
    return "";
  } else {
    return value.is_array() ? "" : "expected an array";
  }
}

// value as a T; `what` names it in the error ("config: bad value for 'model.width'").
template <typename T>
T json_as(const nlohmann::json& value, const std::string& what) {
  const auto why = json_mismatch<T>(value);
  require(why.empty(), [&] { return what + ": " + why + ", got " + value.dump(); });
  try {
    return value.get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + ": " + e.what());
  }
}

// context describes where obj lives, e.g. "co3d/apple/frame_annotations.jgz[12]".
inline const nlohmann::json& json_field(const nlohmann::json& obj, std::string_view key,
                                        const std::string& context) {
  require(obj.is_object(), [&] { return context + ": expected a JSON object"; });
  const auto it = obj.find(key);
  require(it != obj.end() && !it->is_null(),
          [&] { return context + ": missing key '" + std::string(key) + "'"; });
  return *it;
}

template <typename T>
T json_get(const nlohmann::json& obj, std::string_view key, const std::string& context) {
  return json_as<T>(json_field(obj, key, context), context + ": key '" + std::string(key) + "'");
}

// As json_get, with `fallback` for an absent or null key.
template <typename T>
T json_get_or(const nlohmann::json& obj, std::string_view key, T fallback,
              const std::string& context) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  return json_get<T>(obj, key, context);
}

}  // namespace vidprobe
