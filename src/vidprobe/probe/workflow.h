#pragma once
// The probe's command-line workflows as library calls (the CLI and `vidprobe sweep` use these):
// resolve the configuration (defaults < --config file < command-line overrides, or the run's own
// config.json when resuming), pick the training and validation clips, train, evaluate.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "vidprobe/probe/probe_config.h"
#include "vidprobe/probe/trainer.h"

namespace vidprobe::probe {

struct ConfigOverrides {
  // The preset the configuration starts from: this, else the config file's "preset", else vidfm3d.
  std::optional<std::string> preset;
  std::optional<int> epochs;          // sets train.epochs and clears train.steps
  std::optional<std::int64_t> steps;  // sets train.steps and clears train.epochs
  std::optional<int> batch_size;
  std::optional<int> grad_accumulation;
  std::optional<double> lr;
  std::optional<std::uint64_t> seed;
  std::optional<double> holdout;
  std::optional<double> train_fraction;
  bool no_global_attention = false;            // the frame-attention-only ablation
  std::optional<bool> gradient_checkpointing;  // model.gradient_checkpointing
  std::optional<std::string> val_views;        // views.val: fixed | drift
  // "probe" (default) | "vggt-from-features": the architecture preset the config file starts from
  // (vggt_from_features_config with vggt_blocks alternating blocks, default 4).
  std::string model = "probe";
  std::optional<int> vggt_blocks;
};

// The preset, then the --model architecture, then the JSON file (if any), then the overrides;
// validated.
ProbeConfig resolve_config(const std::filesystem::path& config_file,
                           const ConfigOverrides& overrides);

struct TrainRequest {
  std::filesystem::path features_dir;
  std::filesystem::path val_features_dir;  // optional: validation clips from another cache
  std::filesystem::path run_dir;
  std::filesystem::path config_file;  // optional
  ConfigOverrides overrides;
  torch::Device device = torch::kCPU;
  bool resume = false;
  bool allow_partial = false;  // use a feature cache whose extraction did not finish
  int threads = 0;             // CPU intra-op threads; 0 = libtorch's default
  bool progress = true;
  dist::Group group;  // data-parallel over the job's processes (default: one process)
};

// Validation clips: --val-features, else the run's --holdout fraction of the training cache.
TrainSummary train_from_cache(const TrainRequest& request);

struct EvalRequest {
  std::filesystem::path run_dir;
  // Without a run: bare weights (ours or the authors' names) under the resolved configuration.
  std::filesystem::path weights;
  std::filesystem::path config_file;
  ConfigOverrides overrides;
  std::filesystem::path features_dir;
  std::filesystem::path out_dir;  // empty = <run>/eval
  torch::Device device = torch::kCPU;
  bool only_holdout = false;  // evaluate only the clips the run held out for validation
  int visualize = 3;
  int batch_size = 4;
  std::int64_t chamfer_points = 20000;  // per cloud, for accuracy / completeness / Chamfer
  bool allow_partial = false;           // use a feature cache whose extraction did not finish
  int threads = 0;
  bool progress = true;
  // In a job the ranks share the batches and rank 0 writes (EvalOptions::group); every rank
  // returns the job's metrics.
  dist::Group group;
};

nlohmann::json evaluate_from_cache(const EvalRequest& request);

}  // namespace vidprobe::probe
