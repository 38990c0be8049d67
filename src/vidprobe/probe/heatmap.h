#pragma once
// A labelled heat map for sweeps (rows = layers, columns = timesteps), drawn with a tiny built-in
// 3 x 5 pixel font so that it needs no font library: row and column labels on the left and top,
// every cell's value printed in it, and a colour bar with its minimum and maximum on the right.
#include <string>
#include <vector>

#include "vidprobe/io/image.h"

namespace vidprobe::probe {

// Renders `text` (digits, '.', '-', '+', 'e', and spaces; other characters draw as blanks) at
// (x, y) with each font pixel `scale` image pixels wide.
void draw_text(ImageU8& image, int x, int y, const std::string& text, int scale,
               std::array<std::uint8_t, 3> color);
int text_width(const std::string& text, int scale);

// values[row][column]; NaN cells are drawn grey. Colours: viridis from the minimum (dark) to the
// maximum (bright).
ImageU8 render_heatmap(const std::vector<std::vector<double>>& values,
                       const std::vector<std::string>& row_labels,
                       const std::vector<std::string>& column_labels);

// Compact formatting for cell labels: 3 significant digits.
std::string format_cell(double value);

}  // namespace vidprobe::probe
