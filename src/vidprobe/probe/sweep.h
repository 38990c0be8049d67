#pragma once
// `vidprobe sweep`: the paper's layer x timestep study. For every (layer, timestep) point the
// dataset's train and test splits are extracted into feature caches, a probe is trained on the
// train cache and evaluated on the test cache. Every step is resumable: finished caches, runs
// and evaluations are reused, an interrupted run is resumed. Outputs in out_dir:
//   features/L<layer>_t<timestep>/{train,test}/   runs/L<layer>_t<timestep>/ (with eval/)
//   sweep.json, sweep.csv, sweep.md (one row per point; the best point per metric marked)
//   sweep_<metric>.png   heat map of `heatmap_metric` (rows = layers, columns = timesteps)
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/features/extractor.h"
#include "vidprobe/probe/workflow.h"

namespace vidprobe::probe {

struct SweepRequest {
  features::ExtractOptions
      extract;  // backbone, data, frames, gt size, ... (point, split, out set per run)
  std::vector<int> layers;
  std::vector<int> timesteps;  // empty: no timestep (non-diffusion backbones)
  std::filesystem::path out_dir;
  std::filesystem::path config_file;
  ConfigOverrides overrides;
  torch::Device device = torch::kCPU;
  int threads = 0;
  bool progress = true;
  std::string heatmap_metric = "points.err";
  std::int64_t chamfer_points = 20000;  // per cloud, as `vidprobe eval --chamfer-points`
  // Only the feature caches (all points in one pass per split) and extraction.json, no probes:
  // for training elsewhere, and for timing the one-pass extraction.
  bool extract_only = false;
};

// Throws vidprobe::Error unless metric is one the evaluator writes (e.g. "points.err").
void check_heatmap_metric(const std::string& metric);

// Writes OUT/extraction.json (this run's extraction summary of each split: clips written and
// skipped, clips/s, backbone busy fraction) and, unless extract_only, trains and evaluates every
// point. Returns sweep.json's content (extract_only: extraction.json's).
nlohmann::json run_sweep(const SweepRequest& request);

// The three tables of a finished sweep (exposed for tests and `vidprobe report`).
void write_sweep_outputs(const std::filesystem::path& out_dir, const nlohmann::json& sweep,
                         const std::string& heatmap_metric);

// "3,6,9" -> {3, 6, 9}; throws vidprobe::Error naming `what` on a malformed list.
std::vector<int> parse_int_list(const std::string& text, const std::string& what);

}  // namespace vidprobe::probe
