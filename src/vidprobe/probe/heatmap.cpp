#include "vidprobe/probe/heatmap.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

#include "vidprobe/probe/visualize.h"

namespace vidprobe::probe {
namespace {

// 3 x 5 glyphs, one row of 3 bits per entry, most significant bit on the left.
std::array<std::uint8_t, 5> glyph(char c) {
  switch (c) {
    case '0':
      return {7, 5, 5, 5, 7};
    case '1':
      return {2, 6, 2, 2, 7};
    case '2':
      return {7, 1, 7, 4, 7};
    case '3':
      return {7, 1, 3, 1, 7};
    case '4':
      return {5, 5, 7, 1, 1};
    case '5':
      return {7, 4, 7, 1, 7};
    case '6':
      return {7, 4, 7, 5, 7};
    case '7':
      return {7, 1, 1, 2, 2};
    case '8':
      return {7, 5, 7, 5, 7};
    case '9':
      return {7, 5, 7, 1, 7};
    case '.':
      return {0, 0, 0, 0, 2};
    case '-':
      return {0, 0, 7, 0, 0};
    case '+':
      return {0, 2, 7, 2, 0};
    case 'e':
      return {0, 7, 7, 4, 7};
    default:
      return {0, 0, 0, 0, 0};
  }
}

void fill_rect(ImageU8& image, int x0, int y0, int w, int h, std::array<std::uint8_t, 3> color) {
  for (int y = std::max(0, y0); y < std::min(image.height, y0 + h); ++y)
    for (int x = std::max(0, x0); x < std::min(image.width, x0 + w); ++x)
      for (int c = 0; c < 3; ++c) image.at(x, y, c) = color[static_cast<std::size_t>(c)];
}

}  // namespace

int text_width(const std::string& text, int scale) {
  return text.empty() ? 0 : static_cast<int>(text.size()) * 4 * scale - scale;
}

void draw_text(ImageU8& image, int x, int y, const std::string& text, int scale,
               std::array<std::uint8_t, 3> color) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto rows = glyph(text[i]);
    const int gx = x + static_cast<int>(i) * 4 * scale;
    for (int r = 0; r < 5; ++r)
      for (int b = 0; b < 3; ++b)
        if (rows[static_cast<std::size_t>(r)] & (4 >> b))
          fill_rect(image, gx + b * scale, y + r * scale, scale, scale, color);
  }
}

std::string format_cell(double value) {
  if (!std::isfinite(value)) return "-";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

ImageU8 render_heatmap(const std::vector<std::vector<double>>& values,
                       const std::vector<std::string>& row_labels,
                       const std::vector<std::string>& column_labels) {
  const int scale = 2, cell_w = 64, cell_h = 32, margin = 8;
  const int rows = static_cast<int>(values.size());
  const int cols = rows > 0 ? static_cast<int>(values.front().size()) : 0;
  int label_w = 0;
  for (const auto& label : row_labels) label_w = std::max(label_w, text_width(label, scale));
  const int left = margin + label_w + margin, top = margin + 5 * scale + margin;
  const int bar_x = left + cols * cell_w + 2 * margin, bar_w = 16;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& row : values)
    for (double v : row)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  const std::string lo_text = format_cell(lo), hi_text = format_cell(hi);
  const int width = bar_x + bar_w + margin +
                    std::max(text_width(lo_text, scale), text_width(hi_text, scale)) + margin;
  const int height = top + std::max(rows * cell_h, 5 * scale * 3) + margin;
  ImageU8 image(width, height, 3, 255);
  const std::array<std::uint8_t, 3> black{0, 0, 0}, white{255, 255, 255}, grey{200, 200, 200};
  const double span = hi > lo ? hi - lo : 1.0;

  for (int c = 0; c < cols && c < static_cast<int>(column_labels.size()); ++c) {
    const auto& label = column_labels[static_cast<std::size_t>(c)];
    draw_text(image, left + c * cell_w + (cell_w - text_width(label, scale)) / 2, margin, label,
              scale, black);
  }
  for (int r = 0; r < rows; ++r) {
    if (r < static_cast<int>(row_labels.size())) {
      const auto& label = row_labels[static_cast<std::size_t>(r)];
      draw_text(image, margin + label_w - text_width(label, scale),
                top + r * cell_h + (cell_h - 5 * scale) / 2, label, scale, black);
    }
    for (int c = 0; c < cols; ++c) {
      const double v = values[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
      const double t = (v - lo) / span;
      const auto color = std::isfinite(v) ? viridis(t) : grey;
      fill_rect(image, left + c * cell_w, top + r * cell_h, cell_w - 1, cell_h - 1, color);
      const auto text = format_cell(v);
      // Dark text on the bright end of the map, white on the dark end.
      draw_text(image, left + c * cell_w + (cell_w - text_width(text, scale)) / 2,
                top + r * cell_h + (cell_h - 5 * scale) / 2, text, scale,
                std::isfinite(v) && t > 0.6 ? black : white);
    }
  }
  // Colour bar: maximum at the top.
  const int bar_h = std::max(rows * cell_h, 5 * scale * 3);
  for (int y = 0; y < bar_h; ++y)
    fill_rect(image, bar_x, top + y, bar_w, 1,
              viridis(1.0 - static_cast<double>(y) / std::max(1, bar_h - 1)));
  draw_text(image, bar_x + bar_w + margin / 2, top, hi_text, scale, black);
  draw_text(image, bar_x + bar_w + margin / 2, top + bar_h - 5 * scale, lo_text, scale, black);
  return image;
}

}  // namespace vidprobe::probe
