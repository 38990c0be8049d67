// `vidprobe eval`: evaluate a trained probe on a feature cache.
#include <iostream>

#include "commands.h"
#include "job.h"
#include "typed_options.h"
#include "vidprobe/probe/workflow.h"

namespace vidprobe::cli {
namespace {

void print_eval_summary(const nlohmann::json& metrics, std::ostream& out) {
  const auto empty = nlohmann::json::object();
  const auto& base = metrics.contains("baseline") ? metrics.at("baseline") : empty;
  auto show = [&](const std::string& label, const nlohmann::json& block,
                  const nlohmann::json& base_block, const char* key) {
    out << "  " << label << key << ": " << block.value(key, 0.0);
    if (base_block.contains(key)) out << " (mean predictor " << base_block.value(key, 0.0) << ")";
    out << "\n";
  };
  out << "eval: " << metrics.at("num_clips") << " clips, preset " << metrics.value("preset", "")
      << "\n";
  const auto& paper = metrics.at("vidfm3d");
  const auto& paper_base = base.contains("vidfm3d") ? base.at("vidfm3d") : empty;
  for (const char* key : {"pmap_mse_aligned", "loss_depth", "Auc_5", "Auc_30"})
    show("paper ", paper, paper_base, key);
  for (const char* key : {"camera.auc5", "camera.auc30", "camera.rra30", "camera.rta30",
                          "depth.abs_rel", "depth.delta1", "points.err", "points.chamfer"})
    show("", metrics, base, key);
}

}  // namespace

void register_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval", "Evaluate a trained probe and write metrics.json, per-clip CSV and pictures");
  auto request = std::make_shared<probe::EvalRequest>();
  auto preset = std::make_shared<std::string>();
  // --run-dir for torchrun, whose own argument parser takes --run for an abbreviation of its
  // --run-path even after the program's name and stops.
  auto* run =
      cmd->add_option("--run,--run-dir", request->run_dir,
                      "Run directory written by 'vidprobe train' (--run-dir under torchrun)");
  auto* weights = cmd->add_option(
      "--weights", request->weights,
      "Instead of --run: probe weights (vidprobe's or the authors' ProbeModelPA names, e.g. from "
      "tools/convert_vidfm3d_checkpoint.py) evaluated under --preset / --config");
  run->excludes(weights);
  cmd->add_option("--preset", *preset, "With --weights: the protocol (default vidfm3d)")
      ->check(CLI::IsMember(probe::probe_preset_names()))
      ->needs(weights);
  cmd->add_option("--config", request->config_file, "With --weights: probe configuration (JSON)")
      ->needs(weights);
  cmd->add_option("--features", request->features_dir, "Feature cache of the evaluation clips")
      ->required();
  cmd->add_option("--out", request->out_dir, "Output directory (default: <run>/eval)");
  add_device_option(*cmd, request->device);
  cmd->add_option("--batch", request->batch_size, "Clips per forward pass")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--visualize", request->visualize, "Clips that get a depth PNG and a PLY")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--chamfer-points", request->chamfer_points,
                  "Points per cloud (a seeded subset) for accuracy, completeness and Chamfer")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--threads", request->threads, "CPU threads (0 = all)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_flag("--allow-partial", request->allow_partial,
                "Evaluate on a feature cache whose extraction did not finish (with a warning)");
  cmd->add_flag("--only-holdout", request->only_holdout,
                "Evaluate only the clips the run held out (train --holdout) of this cache");
  cmd->callback([=] {
    if (request->run_dir.empty() && request->weights.empty())
      throw CLI::RequiredError("--run or --weights");
    if (!preset->empty()) request->overrides.preset = *preset;
    request->group = join_job(request->device);
    const auto metrics = probe::evaluate_from_cache(*request);
    if (request->group.is_main()) print_eval_summary(metrics, std::cout);
  });
}

}  // namespace vidprobe::cli
