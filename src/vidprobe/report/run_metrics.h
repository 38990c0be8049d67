#pragma once
// One evaluated probe as `vidprobe eval` records it in metrics.json, read without libtorch (the
// fuzz target links no tensor code).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace vidprobe::report {

// One evaluated probe: the directory `vidprobe eval` wrote (metrics.json and pictures).
struct RunResult {
  std::string label;    // e.g. "random-vit L3"
  std::string dataset;  // e.g. "objects"
  std::filesystem::path eval_dir;
  nlohmann::json metrics;   // flattened: {"camera.auc30": 0.41, ...}
  nlohmann::json baseline;  // flattened metrics of the constant predictor, if the eval wrote it
  // From the eval's metrics.json: the run followed the paper's protocol (vidfm3d preset), and the
  // backbone and dataset kind of its features (to find the paper's row for the same pair).
  bool paper_comparable = false;
  std::string backbone, dataset_kind;
  std::string temporal = "video";  // the features' temporal mode: "video" saw whole clips
  // Features of a calibration backbone (an oracle fed the exact geometry), never a competitor: not
  // bolded as the best probe. Seeing whole clips, it is a candidate for the benchmark's ceiling.
  bool calibration = false;
  bool ceiling = false;
};

// {"a": {"b": 1}} -> {"a.b": 1}; numbers only.
nlohmann::json flatten_metrics(const nlohmann::json& nested);

// The run recorded in a parsed metrics.json (`where` names the file in errors): an object with a
// positive clip count and numbers (null for NaN) under every metric key; label and dataset from
// its "run" block when present, else the directory's name and "data". Everything but the
// calibration flags, which need the backbone registry (load_run). Anything else is refused with
// vidprobe::Error naming the file and the key.
RunResult run_from_metrics_json(const nlohmann::json& json, const std::string& where,
                                const std::filesystem::path& eval_dir);

}  // namespace vidprobe::report
