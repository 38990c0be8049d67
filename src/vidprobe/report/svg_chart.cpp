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
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string svg_bar_chart(const std::string& title, const std::vector<Bar>& bars,
                          bool higher_is_better, const std::vector<ReferenceLine>& lines,
                          int width) {
  const int row = 22, top = 28, label_width = 170, value_width = 60;
  const int legend = lines.empty() ? 0 : 16;
  const int bars_bottom = top + row * static_cast<int>(bars.size());
  const int height = bars_bottom + 8 + legend;
  double max_value = 0;
  for (const auto& bar : bars)
    if (std::isfinite(bar.value)) max_value = std::max(max_value, bar.value);
  for (const auto& line : lines)
    if (std::isfinite(line.value)) max_value = std::max(max_value, line.value);
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
    svg << "<rect x='" << label_width << "' y='" << y + 3 << "' width='" << length << "' height='"
        << row - 6 << "' fill='" << (bar.highlight ? "#b0b0b0" : "#3b7dd8") << "'/>";
    char value[32];
    if (std::isfinite(bar.value))
      std::snprintf(value, sizeof value, "%.3f", bar.value);
    else
      std::snprintf(value, sizeof value, "n/a");
    svg << "<text x='" << label_width + length + 4 << "' y='" << y + 14 << "'>" << value
        << "</text>";
  }
  int legend_x = 4;
  for (const auto& line : lines) {
    if (!std::isfinite(line.value)) continue;
    const double x = label_width + std::max(0.0, line.value) * scale;
    svg << "<line x1='" << x << "' y1='" << top << "' x2='" << x << "' y2='" << bars_bottom
        << "' stroke='" << line.colour << "' stroke-width='2' stroke-dasharray='5,3'/>";
    char value[64];
    std::snprintf(value, sizeof value, " %.3f", line.value);
    const std::string text = "- - " + line.label + value;
    svg << "<text x='" << legend_x << "' y='" << bars_bottom + 18 << "' fill='" << line.colour
        << "'>" << html_escape(text) << "</text>";
    legend_x += 7 * static_cast<int>(text.size()) + 12;
  }
  svg << "</svg>";
  return svg.str();
}

}  // namespace vidprobe::report
