#include "vidprobe/report/figures.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/report/paper_results.h"
#include "vidprobe/report/svg_chart.h"

namespace vidprobe::report {
namespace fs = std::filesystem;
namespace {

double metric(const nlohmann::json& metrics, const std::string& key) {
  const auto it = metrics.find(key);
  return it != metrics.end() && it->is_number() ? it->get<double>() : NAN;
}

// Rows of raw values (one per series) over columns -> the same rows normalised per column.
std::vector<RadarSeries> normalized_series(std::vector<RadarSeries> series,
                                           const std::vector<MetricColumn>& columns) {
  for (std::size_t c = 0; c < columns.size(); ++c) {
    std::vector<double> column;
    for (const auto& s : series) column.push_back(s.values[c]);
    column = normalize_for_radar(column, columns[c].higher_is_better);
    for (std::size_t i = 0; i < series.size(); ++i) series[i].values[c] = column[i];
  }
  return series;
}

std::string radar(const std::string& title, const std::vector<MetricColumn>& columns,
                  const std::vector<RadarSeries>& raw) {
  if (raw.size() < 2) return "";  // one polygon says nothing about relative strength
  std::vector<std::string> axes;
  for (const auto& column : columns)
    axes.push_back(column.title + (column.higher_is_better ? " ↑" : " ↓"));
  return svg_radar_chart(title, axes, normalized_series(raw, columns));
}

RadarSeries raw_series(const std::string& label, const nlohmann::json& metrics,
                       const std::vector<MetricColumn>& columns, std::size_t colour) {
  RadarSeries series{label, {}, series_colour(colour)};
  for (const auto& column : columns) series.values.push_back(metric(metrics, column.key));
  return series;
}

std::vector<RadarSeries> vidprobe_metric_series(const std::vector<RunResult>& runs,
                                                const std::string& dataset) {
  std::vector<RadarSeries> series;
  const nlohmann::json* baseline = nullptr;
  for (const auto& run : runs) {
    if (run.dataset != dataset) continue;
    series.push_back(raw_series(run.label, run.metrics, default_columns(), series.size()));
    if (!baseline && !run.baseline.empty()) baseline = &run.baseline;
  }
  if (baseline) {
    series.push_back(raw_series("constant predictor", *baseline, default_columns(), 7));
    series.back().dashed = true;
  }
  return series;
}

std::vector<RadarSeries> paper_metric_series(const std::vector<RunResult>& runs,
                                             const std::string& dataset) {
  std::vector<RadarSeries> series;
  for (const auto& run : runs) {
    if (run.dataset != dataset || !run.metrics.contains(paper_columns().front().key)) continue;
    const auto colour = series.size();
    series.push_back(raw_series(run.label, run.metrics, paper_columns(), colour));
    if (!run.paper_comparable) continue;
    if (const auto paper = paper_result_for(run.backbone, run.dataset_kind)) {
      series.push_back({paper->model + ", published",
                        {paper->point_error, paper->depth_error, paper->auc5, paper->auc30},
                        series_colour(colour),
                        true});
    }
  }
  return series;
}

std::vector<nlohmann::json> read_json_lines(const fs::path& path) {
  std::ifstream in(path);
  require(in.good(), "cannot read '" + path.string() + "'");
  std::vector<nlohmann::json> rows;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number)
    if (!line.empty())
      rows.push_back(parse_json(line, path.string() + " line " + std::to_string(number)));
  return rows;
}

// (step, value) series of every numeric key that passes `wanted`, in key order.
std::vector<LineSeries> curves(const std::vector<nlohmann::json>& rows, auto wanted) {
  std::map<std::string, LineSeries> by_key;
  for (const auto& row : rows) {
    const double step = metric(row, "step");
    for (const auto& [key, value] : row.items()) {
      if (!value.is_number() || !wanted(key)) continue;
      auto& series = by_key[key];
      series.label = key;
      series.x.push_back(step);
      series.y.push_back(value.template get<double>());
    }
  }
  std::vector<LineSeries> out;
  for (auto& [key, series] : by_key) {
    series.colour = series_colour(out.size());
    out.push_back(std::move(series));
  }
  return out;
}

}  // namespace

std::vector<double> normalize_for_radar(const std::vector<double>& values, bool higher_is_better) {
  double lo = INFINITY, hi = -INFINITY;
  for (const double v : values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  std::vector<double> out;
  for (const double v : values) {
    if (!std::isfinite(v)) {
      out.push_back(NAN);
    } else if (hi == lo) {
      out.push_back(0.5);  // no ranking on this axis: every polygon at the middle ring
    } else {
      const double t = (v - lo) / (hi - lo);
      out.push_back(higher_is_better ? t : 1.0 - t);
    }
  }
  return out;
}

std::string html_radar_section(const std::vector<RunResult>& runs, const std::string& dataset) {
  const auto ours =
      radar(dataset + ": every metric", default_columns(), vidprobe_metric_series(runs, dataset));
  const auto paper =
      radar(dataset + ": the paper's metrics", paper_columns(), paper_metric_series(runs, dataset));
  if (ours.empty() && paper.empty()) return "";
  return "<div class='charts radar'>" + ours + paper +
         "</div><p>Radar: each axis spans the runs drawn on it, outward is better (lower-is-better "
         "metrics inverted); dashed: the constant predictor and the paper's published rows.</p>";
}

std::string html_training_curves(const fs::path& eval_dir) {
  const auto log = eval_dir.parent_path() / "train_log.jsonl";
  if (!fs::exists(log)) return "";
  const auto rows = read_json_lines(log);
  // The total and the three readouts' terms as the trainer logs them (probe/trainer.cpp); their
  // parts (depth_conf, camera_r, ...) stay in the log, too many lines for one chart.
  const auto losses = curves(rows, [](const std::string& key) {
    return key == "loss" || key == "point" || key == "depth" || key == "camera" ||
           key == "val_loss";
  });
  const auto validation =
      curves(rows, [](const std::string& key) { return key.starts_with("val."); });
  const auto lr = curves(rows, [](const std::string& key) { return key == "lr"; });
  return "<div class='charts curves'>" + svg_line_chart("losses", "step", losses, true) +
         svg_line_chart("validation (paper's metrics)", "step", validation) +
         svg_line_chart("learning rate", "step", lr) + "</div>";
}

}  // namespace vidprobe::report
