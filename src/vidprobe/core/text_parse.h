#pragma once
// Numbers and sizes typed by users, parsed strictly: the whole text must be the value (no
// trailing characters, no overflow), and the vidprobe::Error names `what` (an option) and the text.
#include <string>
#include <utility>

namespace vidprobe {

int parse_int(const std::string& text, const std::string& what);
double parse_double(const std::string& text, const std::string& what);  // finite values only
// "HxW" with positive integers -> (H, W).
std::pair<int, int> parse_height_width(const std::string& text, const std::string& what);

}  // namespace vidprobe
