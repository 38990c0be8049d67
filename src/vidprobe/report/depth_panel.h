#pragma once
// The report's per-clip depth panels: the picture `vidprobe eval` draws (<clip>_depth.png) with
// its column titles above and numbers on its colour bars below, both drawn from the layout the
// evaluator writes next to it (<clip>_depth.json: tile size, columns, each bar's range and unit).
#include <filesystem>
#include <string>
#include <vector>

namespace vidprobe::report {

// Tick values on a colour bar spanning [lo, hi]: at most about `max_ticks` round numbers (1, 2 or
// 5 times a power of ten apart, or on a log bar the powers of ten and their 2x and 5x), never
// fewer than the two ends. A bar whose ends coincide gets one tick.
std::vector<double> colour_bar_ticks(double lo, double hi, bool log, int max_ticks);

// The <figure> for a panel copied into the report as `image_src` (relative to the page). With
// the layout file absent (an older evaluation) the picture comes with a caption only. Throws
// vidprobe::Error naming the layout file when it is malformed.
std::string html_depth_panel(const std::filesystem::path& png, const std::string& image_src);

}  // namespace vidprobe::report
