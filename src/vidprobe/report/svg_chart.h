#pragma once
// Minimal SVG bar charts for the HTML report (vector output: sharp at any zoom, no image codec).
#include <cstddef>
#include <string>
#include <vector>

namespace vidprobe::report {

struct Bar {
  std::string label;
  double value;
  bool highlight = false;  // e.g. the constant baseline, drawn in grey
};

// A value marked across every bar as a dashed vertical line, e.g. a benchmark's floor (the
// constant predictor) and ceiling (the best oracle).
struct ReferenceLine {
  std::string label;
  double value;
  std::string colour;
};

// A horizontal bar chart with value labels; the title says which direction is better.
std::string svg_bar_chart(const std::string& title, const std::vector<Bar>& bars,
                          bool higher_is_better, const std::vector<ReferenceLine>& lines = {},
                          int width = 460);

// One polygon of a radar chart: a value in [0, 1] per axis (1 = the best on that axis), NaN where
// the series has no value (the polygon then goes through the centre there and the vertex is not
// drawn). Dashed series are references (the paper's published numbers).
struct RadarSeries {
  std::string label;
  std::vector<double> values;
  std::string colour;
  bool dashed = false;
};

// The paper's overview figure: one axis per metric, every series a polygon, with a legend.
// Throws vidprobe::Error when a series has another number of values than there are axes.
std::string svg_radar_chart(const std::string& title, const std::vector<std::string>& axes,
                            const std::vector<RadarSeries>& series, int size = 420);

struct LineSeries {
  std::string label;
  std::vector<double> x, y;  // same length; non-finite points are skipped
  std::string colour;
};

// Curves over a shared x axis (e.g. training step), y on a log scale when asked and every value is
// positive (loss curves span decades). Empty string when no series has a finite point.
std::string svg_line_chart(const std::string& title, const std::string& x_label,
                           const std::vector<LineSeries>& series, bool log_y = false,
                           int width = 460, int height = 260);

// A palette of distinguishable colours, cycled by index.
std::string series_colour(std::size_t index);

std::string html_escape(const std::string& text);

}  // namespace vidprobe::report
