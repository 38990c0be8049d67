#include "vidprobe/report/depth_panel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/report/svg_chart.h"

namespace vidprobe::report {
namespace fs = std::filesystem;
namespace {

// 1, 2 or 5 times a power of ten, the smallest at least `raw`.
double nice_step(double raw) {
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double factor : {1.0, 2.0, 5.0})
    if (factor * power >= raw * (1 - 1e-9)) return factor * power;
  return 10 * power;
}

std::vector<double> linear_ticks(double lo, double hi, int max_ticks) {
  const double step = nice_step((hi - lo) / std::max(1, max_ticks - 1));
  std::vector<double> ticks;
  // Multiples of the step, each computed afresh so that no rounding error accumulates.
  for (auto k = static_cast<long long>(std::ceil(lo / step - 1e-9)); k * step <= hi + 1e-9 * step;
       ++k)
    ticks.push_back(static_cast<double>(k) * step);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi, int max_ticks) {
  std::vector<double> ticks;
  for (const auto& factors : {std::vector<double>{1, 2, 5}, std::vector<double>{1}}) {
    ticks.clear();
    for (int e = static_cast<int>(std::floor(std::log10(lo))); e <= std::ceil(std::log10(hi)); ++e)
      for (const double f : factors) {
        const double t = f * std::pow(10.0, e);
        if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push_back(t);
      }
    if (static_cast<int>(ticks.size()) <= max_ticks) break;
  }
  return ticks;
}

std::string format_tick(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

// Panel-pixel geometry shared by the title row and the colour-bar row.
struct Layout {
  int width = 0, tile = 0, gap = 0;
  double scale = 1;  // screen pixels per panel pixel
  double x(int column) const { return column * (tile + gap); }
  double px(double screen_pixels) const { return screen_pixels / scale; }  // in panel pixels
};

std::string svg_open(const Layout& layout, double height, const char* css_class) {
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' class='" << css_class << "' viewBox='0 0 "
      << layout.width << " " << height << "' width='100%' font-family='sans-serif' font-size='"
      << layout.px(12) << "'>";
  return svg.str();
}

std::string column_titles(const Layout& layout, const std::vector<std::string>& titles) {
  const double height = layout.px(18);
  std::ostringstream svg;
  svg << svg_open(layout, height, "panel-titles");
  for (std::size_t c = 0; c < titles.size(); ++c)
    svg << "<text x='" << layout.x(static_cast<int>(c)) + layout.tile / 2.0 << "' y='"
        << layout.px(13) << "' text-anchor='middle' font-weight='bold'>" << html_escape(titles[c])
        << "</text>";
  svg << "</svg>";
  return svg.str();
}

// Tick marks and numbers under each bar of the PNG, and the bar's unit under them.
std::string colour_bar_numbers(const Layout& layout, const nlohmann::json& bars,
                               const std::string& source) {
  require(bars.is_array(), "'" + source + "': key 'bars' is not an array");
  const double height = layout.px(38);
  std::ostringstream svg;
  svg << svg_open(layout, height, "colour-bars");
  for (const auto& bar : bars) {
    const auto first = json_get<int>(bar, "first_column", source);
    const auto last = json_get<int>(bar, "last_column", source);
    const auto lo = json_get<double>(bar, "lo", source), hi = json_get<double>(bar, "hi", source);
    const bool log = json_get_or<bool>(bar, "log", false, source) && lo > 0 && hi > 0;
    const double x0 = layout.x(first), x1 = layout.x(last) + layout.tile;
    const auto at = [&](double v) {
      if (hi <= lo) return x0;
      const double t = log ? std::log(v / lo) / std::log(hi / lo) : (v - lo) / (hi - lo);
      return x0 + t * (x1 - x0);
    };
    const int room = static_cast<int>((x1 - x0) * layout.scale / 32);  // screen px per tick
    const auto label = json_get_or<std::string>(bar, "label", "", source);
    const auto unit = json_get_or<std::string>(bar, "unit", "", source);
    svg << "<g class='colour-bar'><title>" << html_escape(label) << "</title>";
    for (const double tick : colour_bar_ticks(lo, hi, log, std::max(2, room))) {
      const double x = at(tick);
      const char* anchor = x - x0 < layout.px(12)   ? "start"
                           : x1 - x < layout.px(12) ? "end"
                                                    : "middle";
      svg << "<line x1='" << x << "' y1='0' x2='" << x << "' y2='" << layout.px(5)
          << "' stroke='#000' stroke-width='" << layout.px(1) << "'/><text class='tick' x='" << x
          << "' y='" << layout.px(17) << "' text-anchor='" << anchor << "'>" << format_tick(tick)
          << "</text>";
    }
    svg << "<text class='unit' x='" << (x0 + x1) / 2 << "' y='" << layout.px(32)
        << "' text-anchor='middle' fill='#555'>" << html_escape(unit.empty() ? label : unit)
        << "</text></g>";
  }
  svg << "</svg>";
  return svg.str();
}

}  // namespace

std::vector<double> colour_bar_ticks(double lo, double hi, bool log, int max_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi <= lo) return {lo};
  auto ticks = log && lo > 0 ? log_ticks(lo, hi, max_ticks) : linear_ticks(lo, hi, max_ticks);
  if (ticks.size() < 2) ticks = {lo, hi};
  return ticks;
}

std::string html_depth_panel(const fs::path& png, const std::string& image_src) {
  const auto layout_file = fs::path(png).replace_extension(".json");
  const std::string caption =
      "<figcaption>" + html_escape(png.filename().string()) + "</figcaption>";
  if (!fs::exists(layout_file))
    return "<figure><img src='" + html_escape(image_src) + "'>" + caption + "</figure>";
  const auto source = layout_file.string();
  const auto json = read_json_file(layout_file);
  Layout layout;
  layout.width = json_get<int>(json, "width", source);
  layout.tile = json_get<int>(json, "tile_width", source);
  layout.gap = json_get<int>(json, "gap", source);
  require(layout.width > 0 && layout.tile > 0, "'" + source + "': the panel has no size");
  // Shown at twice its size (tiles are small), at most the page's width.
  const int shown = std::min(1100, 2 * layout.width);
  layout.scale = static_cast<double>(shown) / layout.width;
  std::ostringstream html;
  html << "<figure class='depth-panel' style='width:" << shown << "px'>"
       << column_titles(layout, json_get<std::vector<std::string>>(json, "columns", source))
       << "<img src='" << html_escape(image_src) << "' width='" << shown << "'>"
       << colour_bar_numbers(layout, json_field(json, "bars", source), source) << caption
       << "</figure>";
  return html.str();
}

}  // namespace vidprobe::report
