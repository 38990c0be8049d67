#pragma once
// Minimal SVG bar charts for the HTML report (vector output: sharp at any zoom, no image codec).
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

std::string html_escape(const std::string& text);

}  // namespace vidprobe::report
