#include "vidprobe/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace vidprobe::report {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string svg_bar_chart(const std::string& title, const std::vector<Bar>& bars,
                          bool higher_is_better, int width) {
  const int row = 22, top = 28, label_width = 170, value_width = 60;
  const int height = top + row * static_cast<int>(bars.size()) + 8;
  double max_value = 0;
  for (const auto& bar : bars)
    if (std::isfinite(bar.value)) max_value = std::max(max_value, bar.value);
  if (max_value <= 0) max_value = 1;
  const double scale = (width - label_width - value_width) / max_value;

  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' font-family='sans-serif' font-size='12'>";
  svg << "<text x='4' y='16' font-weight='bold'>" << html_escape(title) << " "
      << (higher_is_better ? "(higher is better)" : "(lower is better)") << "</text>";
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& bar = bars[i];
    const int y = top + static_cast<int>(i) * row;
    const double length = std::isfinite(bar.value) ? std::max(0.0, bar.value) * scale : 0;
    svg << "<text x='" << label_width - 6 << "' y='" << y + 14 << "' text-anchor='end'>"
        << html_escape(bar.label) << "</text>";
    svg << "<rect x='" << label_width << "' y='" << y + 3 << "' width='" << length
        << "' height='" << row - 6 << "' fill='" << (bar.highlight ? "#b0b0b0" : "#3b7dd8") << "'/>";
    char value[32];
    if (std::isfinite(bar.value))
      std::snprintf(value, sizeof value, "%.3f", bar.value);
    else
      std::snprintf(value, sizeof value, "n/a");
    svg << "<text x='" << label_width + length + 4 << "' y='" << y + 14 << "'>" << value << "</text>";
  }
  svg << "</svg>";
  return svg.str();
}

}  // namespace vidprobe::report
