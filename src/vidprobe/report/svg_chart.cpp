#include "vidprobe/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <sstream>

#include "vidprobe/core/error.h"

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
  svg << "<svg xmlns='http://www.w3.org/2000/svg' class='bar-chart' width='" << width
      << "' height='" << height << "' font-family='sans-serif' font-size='12'>";
  svg << "<text x='4' y='16' font-weight='bold'>" << html_escape(title) << " "
      << (higher_is_better ? "(higher is better)" : "(lower is better)") << "</text>";
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& bar = bars[i];
    const int y = top + static_cast<int>(i) * row;
    const double length = std::isfinite(bar.value) ? std::max(0.0, bar.value) * scale : 0;
    svg << "<text x='" << label_width - 6 << "' y='" << y + 14 << "' text-anchor='end'>"
        << html_escape(bar.label) << "</text>";
    svg << "<rect class='" << (bar.highlight ? "bar constant" : "bar") << "' x='" << label_width
        << "' y='" << y + 3 << "' width='" << length << "' height='" << row - 6 << "' fill='"
        << (bar.highlight ? "#b0b0b0" : "#3b7dd8") << "'/>";
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
    svg << "<line class='reference' x1='" << x << "' y1='" << top << "' x2='" << x << "' y2='"
        << bars_bottom << "' stroke='" << line.colour
        << "' stroke-width='2' stroke-dasharray='5,3'/>";
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

namespace {

std::string number(double value, const char* format = "%.1f") {
  char text[32];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

std::string svg_open(int width, int height, const std::string& title, const char* css_class) {
  return "<svg xmlns='http://www.w3.org/2000/svg' class='" + std::string(css_class) + "' width='" +
         std::to_string(width) + "' height='" + std::to_string(height) +
         "' font-family='sans-serif' font-size='12'><text x='4' y='16' font-weight='bold'>" +
         html_escape(title) + "</text>";
}

// Legend entries in rows below y0, wrapping at width.
std::string legend(const std::vector<std::pair<std::string, std::string>>& entries, int y0,
                   int width, const std::vector<bool>& dashed = {}) {
  std::ostringstream svg;
  int x = 4, y = y0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& [label, colour] = entries[i];
    const int entry_width = 28 + 7 * static_cast<int>(label.size());
    if (x + entry_width > width && x > 4) {
      x = 4;
      y += 16;
    }
    svg << "<line x1='" << x << "' y1='" << y - 4 << "' x2='" << x + 18 << "' y2='" << y - 4
        << "' stroke='" << colour << "' stroke-width='2'"
        << (i < dashed.size() && dashed[i] ? " stroke-dasharray='5,3'" : "") << "/><text x='"
        << x + 22 << "' y='" << y << "'>" << html_escape(label) << "</text>";
    x += entry_width;
  }
  return svg.str();
}

int legend_rows(const std::vector<std::string>& labels, int width) {
  int rows = labels.empty() ? 0 : 1, x = 4;
  for (const auto& label : labels) {
    const int entry_width = 28 + 7 * static_cast<int>(label.size());
    if (x + entry_width > width && x > 4) {
      x = 4;
      ++rows;
    }
    x += entry_width;
  }
  return rows;
}

}  // namespace

std::string series_colour(std::size_t index) {
  static const char* palette[] = {"#3b7dd8", "#e8702a", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return palette[index % (sizeof palette / sizeof palette[0])];
}

std::string svg_radar_chart(const std::string& title, const std::vector<std::string>& axes,
                            const std::vector<RadarSeries>& series, int size) {
  std::vector<std::string> labels;
  for (const auto& s : series) {
    require(s.values.size() == axes.size(), "radar chart '" + title + "': series '" + s.label +
                                                "' has " + std::to_string(s.values.size()) +
                                                " values for " + std::to_string(axes.size()) +
                                                " axes");
    labels.push_back(s.label);
  }
  const int rows = legend_rows(labels, size);
  const double cx = size / 2.0, cy = 28 + size / 2.0 - 20, radius = size / 2.0 - 70;
  const auto at = [&](std::size_t axis, double r) {
    const double angle = -std::numbers::pi / 2 + 2 * std::numbers::pi * static_cast<double>(axis) /
                                                     static_cast<double>(axes.size());
    return std::pair{cx + r * radius * std::cos(angle), cy + r * radius * std::sin(angle)};
  };
  std::ostringstream svg;
  svg << svg_open(size, static_cast<int>(cy + radius) + 40 + 16 * rows, title, "radar");
  for (const double ring : {0.25, 0.5, 0.75, 1.0}) {
    svg << "<polygon fill='none' stroke='#ddd' points='";
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const auto [x, y] = at(a, ring);
      svg << number(x) << "," << number(y) << " ";
    }
    svg << "'/>";
  }
  for (std::size_t a = 0; a < axes.size(); ++a) {
    const auto [x, y] = at(a, 1.0);
    const auto [lx, ly] = at(a, 1.12);
    svg << "<line x1='" << cx << "' y1='" << cy << "' x2='" << number(x) << "' y2='" << number(y)
        << "' stroke='#bbb'/><text x='" << number(lx) << "' y='" << number(ly + 4)
        << "' text-anchor='middle'>" << html_escape(axes[a]) << "</text>";
  }
  std::vector<std::pair<std::string, std::string>> entries;
  std::vector<bool> dashed;
  for (const auto& s : series) {
    svg << "<polygon class='radar-series' fill='" << s.colour << "' fill-opacity='"
        << (s.dashed ? "0" : "0.12") << "' stroke='" << s.colour << "' stroke-width='2'"
        << (s.dashed ? " stroke-dasharray='6,4'" : "") << " points='";
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const double v = std::isfinite(s.values[a]) ? std::clamp(s.values[a], 0.0, 1.0) : 0.0;
      const auto [x, y] = at(a, v);
      svg << number(x) << "," << number(y) << " ";
    }
    svg << "'><title>" << html_escape(s.label) << "</title></polygon>";
    entries.emplace_back(s.label, s.colour);
    dashed.push_back(s.dashed);
  }
  svg << legend(entries, static_cast<int>(cy + radius) + 40, size, dashed) << "</svg>";
  return svg.str();
}

std::string svg_line_chart(const std::string& title, const std::string& x_label,
                           const std::vector<LineSeries>& series, bool log_y, int width,
                           int height) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  bool positive = true;
  for (const auto& s : series)
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
      positive = positive && s.y[i] > 0;
    }
  if (!std::isfinite(x0)) return "";
  const bool log_scale = log_y && positive;
  const auto ty = [&](double y) { return log_scale ? std::log10(y) : y; };
  const double lo = ty(y0), hi = ty(y1) > ty(y0) ? ty(y1) : ty(y0) + 1;
  const double xs = x1 > x0 ? x1 - x0 : 1;
  std::vector<std::string> labels;
  for (const auto& s : series) labels.push_back(s.label);
  const int left = 56, right = 10, top = 26, plot_h = height - top - 40;
  const int total_h = height + 16 * legend_rows(labels, width);
  const auto px = [&](double x) { return left + (x - x0) / xs * (width - left - right); };
  const auto py = [&](double y) { return top + (hi - ty(y)) / (hi - lo) * plot_h; };
  std::ostringstream svg;
  svg << svg_open(width, total_h, title + (log_scale ? " (log scale)" : ""), "line-chart");
  svg << "<rect x='" << left << "' y='" << top << "' width='" << width - left - right
      << "' height='" << plot_h << "' fill='none' stroke='#ccc'/>";
  const auto y_tick = [&](double t) { return log_scale ? std::pow(10.0, t) : t; };
  for (const double t : {lo, (lo + hi) / 2, hi})
    svg << "<text x='" << left - 4 << "' y='" << number(py(y_tick(t)) + 4) << "' text-anchor='end'>"
        << number(y_tick(t), "%.3g") << "</text>";
  svg << "<text x='" << left << "' y='" << top + plot_h + 14 << "'>" << number(x0, "%.6g")
      << "</text><text x='" << width - right << "' y='" << top + plot_h + 14
      << "' text-anchor='end'>" << number(x1, "%.6g") << "</text><text x='"
      << (left + width - right) / 2 << "' y='" << top + plot_h + 14 << "' text-anchor='middle'>"
      << html_escape(x_label) << "</text>";
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& s : series) {
    svg << "<polyline class='line-series' fill='none' stroke='" << s.colour
        << "' stroke-width='1.5' points='";
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && (!log_scale || s.y[i] > 0))
        svg << number(px(s.x[i])) << "," << number(py(s.y[i])) << " ";
    svg << "'/>";
    entries.emplace_back(s.label, s.colour);
  }
  svg << legend(entries, height - 4, width) << "</svg>";
  return svg.str();
}

}  // namespace vidprobe::report
