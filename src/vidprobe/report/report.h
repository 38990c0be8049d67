#pragma once
// The human- and machine-readable results of a set of probe runs: a comparison table (Markdown,
// CSV, JSON) and an HTML page with bar charts and the evaluator's pictures.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vidprobe::report {

// One evaluated probe: the directory `vidprobe eval` wrote (metrics.json and pictures).
struct RunResult {
  std::string label;     // e.g. "random-vit L3"
  std::string dataset;   // e.g. "objects"
  std::filesystem::path eval_dir;
  nlohmann::json metrics;  // flattened: {"camera.auc30": 0.41, ...}
  nlohmann::json baseline; // flattened metrics of the constant predictor, if the eval wrote it
};

struct MetricColumn {
  std::string key;         // flattened metrics.json key
  std::string title;
  bool higher_is_better;
};

// The columns of the paper's tables plus the extra ones vidprobe computes.
const std::vector<MetricColumn>& default_columns();

// {"a": {"b": 1}} -> {"a.b": 1}; numbers only.
nlohmann::json flatten_metrics(const nlohmann::json& nested);

// Reads <eval_dir>/metrics.json; label/dataset from its "run" block when present, else from the
// directory name. Throws vidprobe::Error naming the file when it is missing or malformed.
RunResult load_run(const std::filesystem::path& eval_dir);

struct ReportOptions {
  std::string title = "vidprobe report";
  std::string notes_markdown;   // free text placed under the title
  int pictures_per_run = 2;
};

// Writes index.html, metrics.md, metrics.csv, metrics.json and assets/ into out_dir atomically
// (each file via a temporary name).
void write_report(const std::vector<RunResult>& runs, const std::filesystem::path& out_dir,
                  const ReportOptions& options);

std::string markdown_table(const std::vector<RunResult>& runs, bool include_baselines);

}  // namespace vidprobe::report
