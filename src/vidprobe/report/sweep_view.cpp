#include "vidprobe/report/sweep_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/report/report.h"
#include "vidprobe/report/svg_chart.h"

namespace vidprobe::report {
namespace fs = std::filesystem;
namespace {

struct SweepGrid {
  std::vector<int> layers, timesteps;  // timesteps empty: one column ("-")
  // value[metric][row][column], NaN where the sweep has no point
  std::map<std::string, std::vector<std::vector<double>>> values;
};

SweepGrid read_grid(const nlohmann::json& sweep, const std::string& source) {
  SweepGrid grid;
  grid.layers = json_get<std::vector<int>>(sweep, "layers", source);
  grid.timesteps = json_get<std::vector<int>>(sweep, "timesteps", source);
  const std::size_t columns = std::max<std::size_t>(1, grid.timesteps.size());
  for (const auto& column : default_columns())
    grid.values[column.key] =
        std::vector<std::vector<double>>(grid.layers.size(), std::vector<double>(columns, NAN));
  const auto& points = json_field(sweep, "points", source);
  require(points.is_array(), "'" + source + "': key 'points' is not an array");
  for (const auto& point : points) {
    const auto layer = json_get<int>(point, "layer", source);
    const auto row = std::find(grid.layers.begin(), grid.layers.end(), layer);
    require(row != grid.layers.end(), "'" + source + "': a point has layer " +
                                          std::to_string(layer) + ", which is not in 'layers'");
    std::size_t column = 0;
    if (point.contains("timestep") && !point["timestep"].is_null()) {
      const auto t = json_get<int>(point, "timestep", source);
      const auto at = std::find(grid.timesteps.begin(), grid.timesteps.end(), t);
      require(at != grid.timesteps.end(), "'" + source + "': a point has timestep " +
                                              std::to_string(t) + ", not in 'timesteps'");
      column = static_cast<std::size_t>(at - grid.timesteps.begin());
    }
    const auto& metrics = json_field(point, "metrics", source);
    for (auto& [key, cells] : grid.values)
      if (metrics.contains(key) && metrics[key].is_number())
        cells[static_cast<std::size_t>(row - grid.layers.begin())][column] =
            metrics[key].get<double>();
  }
  return grid;
}

// Blue (worse) to yellow (better) in [0, 1].
std::string cell_colour(double t) {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", static_cast<int>(40 + 213 * t),
                static_cast<int>(70 + 161 * t), static_cast<int>(160 - 123 * t));
  return text;
}

std::string heat_map(const SweepGrid& grid, const MetricColumn& column) {
  const auto& cells = grid.values.at(column.key);
  double lo = INFINITY, hi = -INFINITY;
  std::pair<std::size_t, std::size_t> best{SIZE_MAX, SIZE_MAX};
  for (std::size_t r = 0; r < cells.size(); ++r)
    for (std::size_t c = 0; c < cells[r].size(); ++c) {
      const double v = cells[r][c];
      if (!std::isfinite(v)) continue;
      const bool better =
          best.first == SIZE_MAX || (column.higher_is_better ? v > cells[best.first][best.second]
                                                             : v < cells[best.first][best.second]);
      if (better) best = {r, c};
      lo = std::min(lo, v), hi = std::max(hi, v);
    }
  if (best.first == SIZE_MAX) return "";
  const int cw = 58, ch = 24, left = 52, top = 40;
  const auto columns = cells.front().size();
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' class='heatmap' width='"
      << left + cw * columns + 10 << "' height='" << top + ch * cells.size() + 10
      << "' font-family='sans-serif' font-size='11'><text x='4' y='14' font-weight='bold'>"
      << html_escape(column.title) << (column.higher_is_better ? " ↑" : " ↓")
      << "</text><text x='4' y='" << top - 6 << "'>layer \\ t</text>";
  for (std::size_t c = 0; c < columns; ++c)
    svg << "<text x='" << left + cw * c + cw / 2 << "' y='" << top - 6 << "' text-anchor='middle'>"
        << (grid.timesteps.empty() ? "-" : std::to_string(grid.timesteps[c])) << "</text>";
  for (std::size_t r = 0; r < cells.size(); ++r) {
    svg << "<text x='" << left - 6 << "' y='" << top + ch * r + 16 << "' text-anchor='end'>"
        << grid.layers[r] << "</text>";
    for (std::size_t c = 0; c < columns; ++c) {
      const double v = cells[r][c];
      const double t = !std::isfinite(v) ? 0 : hi > lo ? (v - lo) / (hi - lo) : 1;
      const bool is_best = best == std::pair{r, c};
      char value[16];
      std::snprintf(value, sizeof value, std::isfinite(v) ? "%.3f" : "n/a", v);
      svg << "<rect class='" << (is_best ? "cell best" : "cell") << "' x='" << left + cw * c
          << "' y='" << top + ch * r << "' width='" << cw << "' height='" << ch << "' fill='"
          << (std::isfinite(v) ? cell_colour(column.higher_is_better ? t : 1 - t) : "#eee") << "'"
          << (is_best ? " stroke='#000' stroke-width='3'" : "") << "/><text x='"
          << left + cw * c + cw / 2 << "' y='" << top + ch * r + 16 << "' text-anchor='middle'"
          << (is_best ? " font-weight='bold'" : "") << ">" << value << "</text>";
    }
  }
  svg << "</svg>";
  return svg.str();
}

std::string layer_curves(const SweepGrid& grid, const MetricColumn& column) {
  const auto& cells = grid.values.at(column.key);
  std::vector<LineSeries> series;
  const auto columns = cells.front().size();
  for (std::size_t c = 0; c < columns; ++c) {
    LineSeries line{
        grid.timesteps.empty() ? column.title : "t " + std::to_string(grid.timesteps[c]),
        {},
        {},
        series_colour(c)};
    for (std::size_t r = 0; r < cells.size(); ++r) {
      line.x.push_back(grid.layers[r]);
      line.y.push_back(cells[r][c]);
    }
    series.push_back(std::move(line));
  }
  return svg_line_chart(column.title + " by layer", "layer", series);
}

}  // namespace

std::string html_sweep_section(const fs::path& sweep_dir) {
  const auto path = sweep_dir / "sweep.json";
  const auto sweep = read_json_file(path);
  const auto grid = read_grid(sweep, path.string());
  std::ostringstream html;
  html << "<h2>Sweep: " << html_escape(sweep.value("backbone", sweep_dir.filename().string()))
       << "</h2><div class='charts sweep'>";
  for (const auto& column : default_columns()) {
    const auto map = heat_map(grid, column);
    if (map.empty()) continue;
    html << "<div>" << map << layer_curves(grid, column) << "</div>";
  }
  html << "</div><p>Heat maps: layers as rows, timesteps as columns, yellow = better, the best "
          "cell outlined; curves: each metric along the layers, one line per timestep.</p>";
  return html.str();
}

}  // namespace vidprobe::report
