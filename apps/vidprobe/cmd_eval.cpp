// `vidprobe eval`: evaluate a trained probe on a feature cache.
#include <iostream>

#include "commands.h"
#include "vidprobe/probe/workflow.h"

namespace vidprobe::cli {

void register_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval", "Evaluate a trained probe and write metrics.json, per-clip CSV and pictures");
  auto request = std::make_shared<probe::EvalRequest>();
  cmd->add_option("--run", request->run_dir, "Run directory written by 'vidprobe train'")
      ->required();
  cmd->add_option("--features", request->features_dir, "Feature cache of the evaluation clips")
      ->required();
  cmd->add_option("--out", request->out_dir, "Output directory (default: <run>/eval)");
  cmd->add_option("--device", request->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--batch", request->batch_size, "Clips per forward pass")->capture_default_str();
  cmd->add_option("--visualize", request->visualize, "Clips that get a depth PNG and a PLY")
      ->capture_default_str();
  cmd->add_option("--chamfer-points", request->chamfer_points,
                  "Points per cloud (a seeded subset) for accuracy, completeness and Chamfer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", request->threads, "CPU threads (0 = all)")->capture_default_str();
  cmd->add_flag("--only-holdout", request->only_holdout,
                "Evaluate only the clips the run held out (train --holdout) of this cache");
  cmd->callback([request] {
    const auto metrics = probe::evaluate_from_cache(*request);
    const auto& base = metrics.at("baseline");
    auto show = [&](const char* key) {
      std::cout << "  " << key << ": " << metrics.value(key, 0.0) << " (mean predictor "
                << base.value(key, 0.0) << ")\n";
    };
    std::cout << "eval: " << metrics.at("num_clips") << " clips\n";
    for (const char* key : {"camera.auc5", "camera.auc30", "camera.rra30", "camera.rta30",
                            "depth.abs_rel", "depth.delta1", "points.err", "points.chamfer"})
      show(key);
  });
}

}  // namespace vidprobe::cli
