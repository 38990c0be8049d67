#pragma once
// Evaluating a trained probe on a set of clips, with the paper's metrics:
//   camera  pair-wise relative pose errors of the predicted extrinsics (decoded from the pose
//           encoding) pooled over all clips: auc5/auc15/auc30, rra/rta at 5/15/30 degrees;
//   depth   AbsRel and delta1 after per-frame median scaling, per clip, averaged over clips;
//   points  mean distance after a Sim(3) alignment to the normalised GT (err) and chamfer
//           distance, per clip, averaged over clips.
// The same numbers for the run's constant mean predictor form the "baseline" block.
// Outputs in out_dir: metrics.json, per_clip.csv and, for the first `visualize` clips,
// <clip>_depth.png (RGB | GT depth | predicted depth per frame) and <clip>_points.ply
// (GT points blue, aligned prediction orange).
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "vidprobe/probe/batch.h"
#include "vidprobe/probe/clip_source.h"
#include "vidprobe/probe/mean_predictor.h"
#include "vidprobe/probe/probe_config.h"
#include "vidprobe/probe/probe_model.h"

namespace vidprobe::probe {

struct LoadedRun {
  ProbeConfig config;
  nlohmann::json info;  // run.json
  ClipGeometry geometry;
  ProbeModel model{nullptr};
  MeanPredictor baseline;
};

// Loads config.json, run.json, baseline.safetensors and the weights (model.safetensors, or the
// newest checkpoint of an unfinished run). Throws vidprobe::Error naming the missing file.
LoadedRun load_run(const std::filesystem::path& run_dir, torch::Device device);

struct EvalOptions {
  std::filesystem::path run_dir;
  std::filesystem::path out_dir;  // empty = <run_dir>/eval
  std::string device = "cpu";
  int batch_size = 4;
  int visualize = 3;  // clips that get a PNG and a PLY
  // Points per cloud for accuracy / completeness / Chamfer (a seeded subset of the same pixels in
  // both clouds; the aligned point error always uses every valid pixel).
  std::int64_t chamfer_points = 20000;
  bool progress = true;
};

// Per-clip metrics of one prediction (batch element `index`): keys "camera.auc30", ...
std::map<std::string, double> clip_metrics(const ProbePrediction& prediction,
                                           const ProbeBatch& batch, int64_t index,
                                           std::int64_t chamfer_points = 20000);

// Runs the probe and the baseline over every clip; writes the outputs; returns metrics.json.
nlohmann::json evaluate_run(const ClipSource& clips, const EvalOptions& options);

}  // namespace vidprobe::probe
