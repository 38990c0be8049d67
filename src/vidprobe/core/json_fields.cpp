#include "vidprobe/core/json_fields.h"

namespace vidprobe {
namespace {

// Byte offset at which the nesting of arrays and objects (strings skipped) exceeds max_depth,
// or npos.
std::size_t too_deep_at(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& source) {
  const auto deep = too_deep_at(text, kMaxJsonDepth);
  require(deep == std::string_view::npos, [&] {
    return source + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
           " levels at byte " + std::to_string(deep);
  });
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(source + ": malformed JSON (" + e.what() + ")");
  }
}

}  // namespace vidprobe
