#pragma once
// Evaluating a trained probe on a set of clips, each read through the run's evaluation views
// (views.h), with two sets of metrics:
//   "vidfm3d" block: the paper's numbers exactly as the authors' code computes them
//           (paper_metrics.h: Auc_30/10/5/3, Rac/Tac, pmap_mse_aligned = the paper's point error,
//           loss_depth = its depth error), comparable with the paper when the run used the
//           vidfm3d preset ("paper_comparable");
//   vidprobe's metrics, VGGT's evaluation conventions:
//   camera  pair-wise relative pose errors of the predicted extrinsics (decoded from the pose
//           encoding) pooled over all clips: auc5/auc15/auc30 (unit bins), rra/rta at 5/15/30;
//   depth   AbsRel and delta1 after per-frame median scaling, per clip, averaged over clips;
//   points  mean distance after a Sim(3) alignment to the normalised GT (err) and chamfer
//           distance, per clip, averaged over clips.
// The same numbers for the run's constant mean predictor form the "baseline" block (absent when
// evaluating bare weights without a run).
// Outputs in out_dir: metrics.json, per_clip.csv and, for the first `visualize` clips,
// <clip>_depth.png (input | GT depth | predicted depth | error | confidence per frame, colour
// bars below) with <clip>_depth.json (its columns and colour scales), <clip>_points.ply (GT
// points blue, aligned prediction orange) and <clip>_geometry.safetensors (for the 3D viewer).
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "vidprobe/dist/group.h"
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
  std::optional<MeanPredictor> baseline;
};

// Loads config.json, run.json, baseline.safetensors and the weights (model.safetensors, or the
// newest checkpoint of an unfinished run). Throws vidprobe::Error naming the missing file.
LoadedRun load_run(const std::filesystem::path& run_dir, torch::Device device);
// Bare weights (ours or the authors' ProbeModelPA names, e.g. converted from their checkpoint with
// tools/convert_vidfm3d_checkpoint.py) under `config`, for features of feature_dim channels.
LoadedRun load_weights_as_run(const std::filesystem::path& weights, const ProbeConfig& config,
                              int64_t feature_dim, torch::Device device);

struct EvalOptions {
  std::filesystem::path run_dir;
  // Without a run: these weights under `config` (out_dir is then required).
  std::filesystem::path weights;
  ProbeConfig config;
  std::filesystem::path out_dir;  // empty = <run_dir>/eval
  torch::Device device = torch::kCPU;
  int batch_size = 4;
  int visualize = 3;  // clips that get a PNG and a PLY
  // Points per cloud for accuracy / completeness / Chamfer (a seeded subset of the same pixels in
  // both clouds; the aligned point error always uses every valid pixel).
  std::int64_t chamfer_points = 20000;
  bool progress = true;
  // A job's ranks share the batches (rank k mod N evaluates batch k); rank 0 gathers every clip's
  // values, accumulates them in clip order and writes the outputs, exactly what one process
  // writes. Other ranks return an empty object.
  dist::Group group;
};

// Per-clip metrics of one prediction (batch element `index`): keys "camera.auc30", ...
std::map<std::string, double> clip_metrics(const nn::GeometryPrediction& prediction,
                                           const ProbeBatch& batch, int64_t index,
                                           std::int64_t chamfer_points = 20000);

// Runs the probe and the baseline over every clip; writes the outputs; returns metrics.json.
nlohmann::json evaluate_run(const ClipSource& clips, const EvalOptions& options);

}  // namespace vidprobe::probe
