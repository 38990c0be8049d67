#pragma once
// The human- and machine-readable results of a set of probe runs: a comparison table (Markdown,
// CSV, JSON) and an HTML page with bar charts and the evaluator's pictures.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/report/run_metrics.h"

namespace vidprobe::report {

// Where a metric's floor (the constant predictor) and ceiling (the best ceiling run) lie for one
// dataset; NaN where the runs give none.
struct FloorCeiling {
  double floor = NAN, ceiling = NAN;
  std::string ceiling_label;
};
FloorCeiling floor_and_ceiling(const std::vector<RunResult>& runs, const std::string& dataset,
                               const std::string& metric_key, bool higher_is_better);
// (value - floor) / (ceiling - floor): 0 at the constant predictor, 1 at the ceiling; NaN when
// either is missing or they coincide.
double awareness_score(double value, const FloorCeiling& scale);

struct MetricColumn {
  std::string key;  // flattened metrics.json key
  std::string title;
  bool higher_is_better;
};

// vidprobe's metrics (VGGT's evaluation conventions).
const std::vector<MetricColumn>& default_columns();
// The paper's four numbers as the authors compute them (the "vidfm3d" block of metrics.json).
const std::vector<MetricColumn>& paper_columns();

// Reads <eval_dir>/metrics.json; label/dataset from its "run" block when present, else from the
// directory name. Throws vidprobe::Error naming the file when it is missing or malformed.
RunResult load_run(const std::filesystem::path& eval_dir);

struct ReportOptions {
  std::string title = "vidprobe report";
  std::string notes_markdown;  // free text placed under the title
  int pictures_per_run = 2;
  int viewer_clips = 2;                       // clips per run with a 3D view and PLY exports
  std::int64_t viewer_point_budget = 20000;   // points per cloud in a 3D view
  std::vector<std::filesystem::path> sweeps;  // `vidprobe sweep` directories (sweep.json)
};

// Writes index.html, metrics.md, metrics.csv, metrics.json and assets/ into out_dir atomically
// (each file via a temporary name). Either runs or options.sweeps may be empty, not both.
void write_report(const std::vector<RunResult>& runs, const std::filesystem::path& out_dir,
                  const ReportOptions& options);

std::string markdown_table(const std::vector<RunResult>& runs, bool include_baselines);
// The paper's metrics of every run that has them, each paper-comparable run followed by the
// paper's published row for the same backbone and dataset (when the paper reports it). Empty
// when no run has the block.
std::string paper_markdown_table(const std::vector<RunResult>& runs);

}  // namespace vidprobe::report
