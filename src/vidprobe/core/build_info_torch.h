#pragma once
// What this build runs on: recorded in every run's metadata so numbers stay reproducible.
#include <nlohmann/json.hpp>

namespace vidprobe {

nlohmann::json build_info();  // vidprobe and libtorch versions, CUDA devices, threads

}  // namespace vidprobe
