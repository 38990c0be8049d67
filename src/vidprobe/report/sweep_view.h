#pragma once
// The report's view of a `vidprobe sweep`: one layer x timestep heat map per metric with the best
// cell outlined, and the metric along the layers (one line per timestep), from sweep.json.
#include <filesystem>
#include <string>

namespace vidprobe::report {

// Throws vidprobe::Error naming the file (and the key) when sweep.json is missing or malformed.
std::string html_sweep_section(const std::filesystem::path& sweep_dir);

}  // namespace vidprobe::report
