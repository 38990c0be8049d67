#pragma once
// A checkpoint layout as plain values (key -> shape), without libtorch: the config files of the
// families compute their expected layouts with it, and the fuzz build compiles them.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vidprobe::backbones {

using Shape = std::vector<int64_t>;
using ShapeMap = std::map<std::string, Shape>;

}  // namespace vidprobe::backbones
