#include "vidprobe/probe/workflow.h"

#include <torch/torch.h>

#include <algorithm>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/probe/clip_source.h"
#include "vidprobe/probe/evaluator.h"

namespace vidprobe::probe {
namespace fs = std::filesystem;

namespace {

std::optional<std::string> preset_of_file(const fs::path& config_file) {
  if (config_file.empty()) return std::nullopt;
  nlohmann::json json;
  try {
    json = read_json_file(config_file);
  } catch (const nlohmann::json::exception& e) {
    throw Error("config file '" + config_file.string() + "' is not valid JSON: " + e.what());
  }
  if (!json.is_object() || !json.contains("preset")) return std::nullopt;
  const auto preset = json_get<std::string>(json, "preset", config_file.string());
  const auto& names = probe_preset_names();
  require(
      std::find(names.begin(), names.end(), preset) != names.end(),
      config_file.string() + ": key 'preset' must be vidfm3d or vidprobe, got '" + preset + "'");
  return preset;
}

void apply_overrides(ProbeConfig& config, const ConfigOverrides& o) {
  if (o.epochs) {
    config.train.epochs = *o.epochs;
    config.train.steps = 0;
  }
  if (o.steps) {
    config.train.steps = *o.steps;
    config.train.epochs = 0;
  }
  if (o.batch_size) config.train.batch_size = *o.batch_size;
  if (o.grad_accumulation) config.train.grad_accumulation = *o.grad_accumulation;
  if (o.lr) config.train.lr = *o.lr;
  if (o.seed) config.train.seed = *o.seed;
  if (o.holdout) config.train.holdout = *o.holdout;
  if (o.train_fraction) config.train.train_fraction = *o.train_fraction;
  if (o.no_global_attention) config.model.global_attention = false;
  if (o.gradient_checkpointing) config.model.gradient_checkpointing = *o.gradient_checkpointing;
  if (o.val_views) config.views.val = *o.val_views;
}

}  // namespace

ProbeConfig resolve_config(const fs::path& config_file, const ConfigOverrides& o) {
  const auto file_preset = preset_of_file(config_file);
  require(!o.preset || !file_preset || *o.preset == *file_preset,
          "--preset " + o.preset.value_or("") + " contradicts the config file " +
              config_file.string() + ", which says preset '" + file_preset.value_or("") + "'");
  auto config = probe_preset(o.preset.value_or(file_preset.value_or("vidfm3d")));
  if (o.model == "vggt-from-features") {
    config = vggt_from_features_config(config, o.vggt_blocks.value_or(4));
  } else {
    require(o.model == "probe",
            "--model must be probe or vggt-from-features, got '" + o.model + "'");
    require(!o.vggt_blocks, "--vggt-depth needs --model vggt-from-features");
  }
  if (!config_file.empty()) config = load_probe_config(config_file.string(), config);
  apply_overrides(config, o);
  try {
    validate(config);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (after command-line overrides)");
  }
  return config;
}

TrainSummary train_from_cache(const TrainRequest& request) {
  if (request.threads > 0) torch::set_num_threads(request.threads);
  ProbeConfig config;
  const auto stored = request.run_dir / "config.json";
  if (request.resume && request.config_file.empty() && fs::exists(stored)) {
    config = resolve_config(stored, request.overrides);
  } else {
    config = resolve_config(request.config_file, request.overrides);
  }

  constexpr std::int64_t kMemoryBudget = std::int64_t{4} << 30;
  const auto all = ClipSource::from_cache(request.features_dir, std::nullopt, kMemoryBudget,
                                          request.allow_partial);
  require(!all.empty(), "feature cache " + request.features_dir.string() + " holds no clips");
  ClipSource train = all, val = ClipSource::from_shards({});
  if (!request.val_features_dir.empty()) {
    val = ClipSource::from_cache(request.val_features_dir, std::nullopt, kMemoryBudget,
                                 request.allow_partial);
  } else if (config.train.holdout > 0) {
    const auto [train_idx, val_idx] =
        holdout_split(all.size(), config.train.holdout, config.train.seed);
    train = all.subset(train_idx);
    val = all.subset(val_idx);
  }
  if (config.train.train_fraction < 1)
    train = train.subset(
        train_fraction_subset(train.size(), config.train.train_fraction, config.train.seed));
  TrainOptions options;
  options.config = config;
  options.run_dir = request.run_dir;
  options.device = request.device;
  options.resume = request.resume;
  options.progress = request.progress;
  options.group = request.group;
  return train_probe(train, val, options);
}

nlohmann::json evaluate_from_cache(const EvalRequest& request) {
  if (request.threads > 0) torch::set_num_threads(request.threads);
  std::optional<std::vector<std::string>> ids;
  if (request.only_holdout) {
    const auto info = read_json_file(request.run_dir / "run.json");
    ids = info.at("val_clips").get<std::vector<std::string>>();
    require(!ids->empty(),
            "--only-holdout: run " + request.run_dir.string() + " held out no clips");
  }
  const auto clips = ClipSource::from_cache(request.features_dir, ids, std::int64_t{4} << 30,
                                            request.allow_partial);
  EvalOptions options;
  options.run_dir = request.run_dir;
  options.weights = request.weights;
  if (!request.weights.empty()) {
    require(request.run_dir.empty(), "give --run or --weights, not both");
    options.config = resolve_config(request.config_file, request.overrides);
  }
  options.out_dir = request.out_dir;
  options.device = request.device;
  options.batch_size = request.batch_size;
  options.visualize = request.visualize;
  options.chamfer_points = request.chamfer_points;
  options.progress = request.progress;
  options.group = request.group;
  auto metrics = evaluate_run(clips, options);
  if (!request.group.distributed()) return metrics;
  // Every rank returns the job's metrics: rank 0's, once written.
  request.group.barrier();
  if (request.group.is_main()) return metrics;
  const auto out_dir = request.out_dir.empty() ? request.run_dir / "eval" : request.out_dir;
  return read_json_file(out_dir / "metrics.json");
}

}  // namespace vidprobe::probe
