#include "vidprobe/core/text_parse.h"

#include <cmath>
#include <stdexcept>

#include "vidprobe/core/error.h"

namespace vidprobe {

int parse_int(const std::string& text, const std::string& what) {
  try {
    std::size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size()) return value;
  } catch (const std::logic_error&) {
  }
  throw Error(what + " must be an integer, got '" + text + "'");
}

double parse_double(const std::string& text, const std::string& what) {
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size() && std::isfinite(value)) return value;
  } catch (const std::logic_error&) {
  }
  throw Error(what + " must be a number, got '" + text + "'");
}

std::pair<int, int> parse_height_width(const std::string& text, const std::string& what) {
  const auto x = text.find('x');
  require(x != std::string::npos, what + " must be HxW, e.g. 480x832; got '" + text + "'");
  const int height = parse_int(text.substr(0, x), what + " (height)");
  const int width = parse_int(text.substr(x + 1), what + " (width)");
  require(height > 0 && width > 0, what + " must be positive, got '" + text + "'");
  return {height, width};
}

}  // namespace vidprobe
