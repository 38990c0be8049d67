// `vidprobe train`: train a shallow transformer probe on a feature cache.
#include <iostream>

#include "commands.h"
#include "job.h"
#include "probe_options.h"
#include "typed_options.h"
#include "vidprobe/core/progress.h"
#include "vidprobe/probe/workflow.h"

namespace vidprobe::cli {

void register_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a shallow transformer probe on cached features");
  auto request = std::make_shared<probe::TrainRequest>();
  auto preset = std::make_shared<std::string>();
  auto seed = std::make_shared<std::int64_t>(-1);
  auto holdout = std::make_shared<double>(-1);
  auto train_fraction = std::make_shared<double>(-1);
  auto vggt_depth = std::make_shared<int>(0);
  cmd->add_option("--features", request->features_dir, "Feature cache of the training clips")
      ->required();
  cmd->add_option("--val-features", request->val_features_dir, "Feature cache of validation clips");
  cmd->add_option("--holdout", *holdout, "Fraction of the training clips held out for validation")
      ->check(in_range(0.0, 1.0));
  cmd->add_option("--train-fraction", *train_fraction,
                  "Train on this fraction of the training clips (seeded, nested across fractions)")
      ->check(fraction());
  cmd->add_option("--preset", *preset,
                  "Protocol the configuration starts from: vidfm3d (default: the paper's probe, "
                  "losses, views and optimisation, as the authors' code) | vidprobe (vidprobe's "
                  "earlier small probe on the stored frames); see docs/protocol.md")
      ->check(CLI::IsMember(probe::probe_preset_names()));
  cmd->add_option("--model", request->overrides.model,
                  "probe | vggt-from-features (VGGT's architecture on the cached features; the "
                  "config file and flags override its preset)")
      ->capture_default_str();
  cmd->add_option("--vggt-depth", *vggt_depth,
                  "--model vggt-from-features: alternating blocks (default 4; VGGT-1B has 24)")
      ->check(positive());
  cmd->add_option("--out", request->run_dir, "Run directory")->required();
  cmd->add_option("--config", request->config_file,
                  "Probe configuration (JSON; keys as in src/vidprobe/probe/probe_config.h)");
  add_training_overrides(*cmd, request->overrides);
  cmd->add_option("--seed", *seed, "Seed of initialisation and batch order (overrides the config)")
      ->check(non_negative());
  cmd->add_option(
         "--val-views", request->overrides.val_views,
         "Validation views: fixed per clip (default) | drift (re-drawn every validation, as "
         "the authors' runs)")
      ->check(CLI::IsMember({"fixed", "drift"}));
  cmd->add_flag("--no-global-attention", request->overrides.no_global_attention,
                "Ablation: frame attention only, no information exchange between frames");
  add_device_option(*cmd, request->device);
  cmd->add_option("--threads", request->threads, "CPU threads (0 = all; 1 = bit-reproducible)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_flag("--resume", request->resume, "Continue the run from its newest checkpoint");
  cmd->add_flag("--allow-partial", request->allow_partial,
                "Train on a feature cache whose extraction did not finish (with a warning)");
  cmd->callback([=] {
    if (!preset->empty()) request->overrides.preset = *preset;
    if (*seed >= 0) request->overrides.seed = static_cast<std::uint64_t>(*seed);
    if (*holdout >= 0) request->overrides.holdout = *holdout;
    if (*train_fraction >= 0) request->overrides.train_fraction = *train_fraction;
    if (*vggt_depth > 0) request->overrides.vggt_blocks = *vggt_depth;
    request->group = join_job(request->device);
    const auto summary = probe::train_from_cache(*request);
    if (!request->group.is_main()) return;
    std::cerr << "train: steps " << summary.first_step << ".." << summary.last_step << " of "
              << summary.total_steps << " in " << format_duration(summary.seconds) << " ("
              << summary.steps_per_second << " steps/s), final loss " << summary.final_loss;
    if (summary.val_loss) std::cerr << ", val loss " << *summary.val_loss;
    std::cerr << ", " << summary.parameters << " parameters; run in " << request->run_dir.string()
              << "\n";
  });
}

}  // namespace vidprobe::cli
